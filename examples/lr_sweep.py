"""Learning-rate sweep: the BN paper's MNIST MLP with and without batch normalization.

Batch normalization makes a layer's output invariant to the scale of its weights, so large
learning rates neither blow up activations nor push sigmoids into saturation. This trains the
784-100-100-100-10 sigmoid net at learning rates spanning three orders of magnitude, each
pair from the same initial weights and batches, and plots final test accuracy against lr.

    python examples/lr_sweep.py                        # 8 rates x 2000 steps, ~1 minute
    python examples/lr_sweep.py --lrs 0.1 1 10 --steps 5000
"""
import math

from _common import (accuracy, batches, bn_mlp, copy_linear_weights, load_mnist, parser,
                     progress, save, setup, train_step)

import minigrad as mg


def train(batch_norm, init, lr, args, data):
    x_train, y_train, x_test, y_test = data
    net = bn_mlp(batch_norm).to(args.device)
    copy_linear_weights(init, net)
    opt = mg.optim.SGD(net.parameters(), lr=lr)
    loss = float("nan")
    for idx in batches(len(x_train), args.batch_size, args.steps, args.seed):
        loss = train_step(net, opt, mg.tensor(x_train[idx]).to(args.device),
                          mg.tensor(y_train[idx]).to(args.device)).item()
        if not math.isfinite(loss):
            break
    return {"accuracy": accuracy(net, x_test, y_test, args.device),
            "final_loss": loss if math.isfinite(loss) else None,
            "diverged": not math.isfinite(loss)}


def main():
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--lrs", type=float, nargs="+", help="learning rates to try",
                   default=[0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0])
    p.add_argument("--steps", type=int, default=2000, help="training steps per run")
    p.add_argument("--batch-size", type=int, default=60, help="images per step")
    args = p.parse_args()
    if args.quick:
        args.lrs, args.steps = [0.05, 0.5, 5.0], 100
    setup(args)
    data = load_mnist(args)
    runs = {"plain": [], "bn": []}
    sweep = progress(args.lrs, "lr_sweep")
    for lr in sweep:
        mg.manual_seed(args.seed)
        init = bn_mlp(batch_norm=False)
        for key in runs:
            runs[key].append({"lr": lr, **train(key == "bn", init, lr, args, data)})
        sweep.set_postfix(lr=lr, acc_bn=f"{runs['bn'][-1]['accuracy']:.4f}",
                          acc_plain=f"{runs['plain'][-1]['accuracy']:.4f}")
    print(f"{'lr':>8} {'without BN':>11} {'with BN':>9}")
    for a, b in zip(runs["plain"], runs["bn"]):
        print(f"{a['lr']:>8g} {a['accuracy']:>11.4f} {b['accuracy']:>9.4f}")
    best = {k: max(r, key=lambda run: run["accuracy"]) for k, r in runs.items()}
    save(args, "lr_sweep", {"steps": args.steps, "batch_size": args.batch_size,
                            "lr_span": max(args.lrs) / min(args.lrs), "runs": runs,
                            "best": best}, plot)


def plot(plt, r):
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for key, label, style in (("bn", "with BN", "o-"), ("plain", "without BN", "s--")):
        lrs = [run["lr"] for run in r["runs"][key]]
        acc = [run["accuracy"] for run in r["runs"][key]]
        ax.plot(lrs, acc, style, label=label, color="C0" if key == "bn" else "C3")
        for run in r["runs"][key]:
            if run["diverged"]:
                ax.annotate("diverged", (run["lr"], run["accuracy"]), fontsize=8,
                            textcoords="offset points", xytext=(4, 6))
    ax.set_xscale("log")
    ax.set(xlabel="learning rate (SGD)", ylabel="test accuracy", ylim=(0, 1),
           title=f"MNIST MLP after {r['steps']} steps of batch {r['batch_size']}")
    ax.grid(alpha=0.3, which="both")
    ax.legend(loc="lower center")


if __name__ == "__main__":
    main()
