"""Batch size vs normalization: BatchNorm, GroupNorm and LayerNorm in a small conv net.

BatchNorm estimates its statistics from the batch, so with a handful of samples they are
noisy in training and the running averages used at test time are poor; GroupNorm and
LayerNorm normalize each sample by itself and do not care (Wu & He 2018, Figure 1). Every
run sees the same number of training images, with the learning rate scaled linearly with
the batch size, and is evaluated on the test set in eval mode.

    python examples/batch_size_study.py          # batch 2..64, three norms, ~3 minutes
"""
from _common import (NORMS, accuracy, batches, load_mnist, parser, progress, save, setup,
                     small_cnn, train_step)

import minigrad as mg


def main():
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[2, 4, 8, 16, 32, 64],
                   help="batch sizes to train with, each norm")
    p.add_argument("--samples", type=int, default=12000,
                   help="training images seen by every run")
    p.add_argument("--lr", type=float, default=0.05, help="SGD lr at batch 32 (scaled)")
    args = p.parse_args()
    test_size = None
    if args.quick:
        args.batch_sizes, args.samples, test_size = [2, 8, 32], 512, 2000
    setup(args)
    x_train, y_train, x_test, y_test = load_mnist(args)
    x_test, y_test = x_test[:test_size], y_test[:test_size]
    runs = {norm: [] for norm in NORMS}
    configs = [(n, b) for n in NORMS for b in args.batch_sizes]
    study = progress(configs, "batch_size_study")
    for norm, batch in study:
        mg.manual_seed(args.seed)
        net = small_cnn(norm).to(args.device)
        lr = args.lr * batch / 32
        opt = mg.optim.SGD(net.parameters(), lr=lr, momentum=0.9)
        for idx in batches(len(x_train), batch, args.samples // batch, args.seed):
            train_step(net, opt, mg.tensor(x_train[idx]).to(args.device),
                       mg.tensor(y_train[idx]).to(args.device))
        acc = accuracy(net, x_test, y_test, args.device)
        runs[norm].append({"batch_size": batch, "lr": lr, "accuracy": acc})
        study.set_postfix(norm=norm, batch=batch, acc=f"{acc:.4f}")
    print(f"{'batch':>5} " + " ".join(f"{n + 'Norm':>10}" for n in runs))
    for i, b in enumerate(args.batch_sizes):
        print(f"{b:>5} " + " ".join(f"{runs[n][i]['accuracy']:>10.4f}" for n in runs))
    save(args, "batch_size_study", {"samples": args.samples, "base_lr": args.lr,
                                    "test_images": len(y_test), "runs": runs}, plot)


def plot(plt, r):
    fig, ax = plt.subplots(figsize=(7, 4.5))
    labels = {"batch": "BatchNorm", "group": "GroupNorm", "layer": "LayerNorm"}
    for i, (norm, runs) in enumerate(r["runs"].items()):
        sizes = [run["batch_size"] for run in runs]
        ax.plot(sizes, [1 - run["accuracy"] for run in runs], "os^"[i] + "-",
                label=labels[norm], color=f"C{i}")
    ax.set_xscale("log", base=2)
    ax.set_xticks(sizes, [str(s) for s in sizes])
    ax.set(xlabel="batch size (images per step)", ylabel="test error",
           title=f"Small conv net, {r['samples']} training images per run, lr ∝ batch size")
    ax.grid(alpha=0.3, which="both")
    ax.legend()


if __name__ == "__main__":
    main()
