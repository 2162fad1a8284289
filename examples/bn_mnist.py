"""Figure 1 of Ioffe & Szegedy (2015): an MNIST MLP with and without batch normalization.

784-100-100-100-10 with sigmoid activations, batch 60, plain SGD, inputs standardized. Both nets start from the
same weights and see the same batches; the BN net normalizes each hidden layer's input to
its sigmoid. The plot shows (a) test accuracy against training steps and (b, c) the 15th,
50th and 85th percentiles of one last-hidden-layer sigmoid input over the test set, which
drift without BN and stay put with it.

    python examples/bn_mnist.py                  # 10,000 steps, about a minute on 2 cores
    python examples/bn_mnist.py --steps 50000    # the paper's length
"""
import numpy as np
from _common import (Training, accuracy, batches, bn_mlp, copy_linear_weights, load_mnist,
                     parser, save, setup, train_step)

import minigrad as mg
import minigrad.nn as nn

MILESTONES = (500, 1000, 5000, 10000, 20000, 50000)


@mg.no_grad()
def sigmoid_input(model, images, unit, device):
    """The input to the last hidden layer's sigmoid number ``unit``, for every image."""
    model.eval()
    sigmoids = [i for i, m in enumerate(model) if isinstance(m, nn.Sigmoid)]
    x = mg.tensor(images).to(device)
    for layer in list(model)[:sigmoids[-1]]:
        x = layer(x)
    model.train()
    return x[:, unit].cpu().numpy()


def main():
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=10000, help="training steps (the paper: 50000)")
    p.add_argument("--lr", type=float, default=0.5, help="SGD learning rate, both nets")
    p.add_argument("--batch-size", type=int, default=60, help="images per step")
    p.add_argument("--evals", type=int, default=100, help="test-set evaluations per run")
    p.add_argument("--unit", type=int, default=0, help="which last-layer sigmoid to track")
    args = p.parse_args()
    if args.quick:
        args.steps, args.evals = 300, 6
    setup(args)
    x_train, y_train, x_test, y_test = load_mnist(args)

    plain = bn_mlp(batch_norm=False).to(args.device)
    with_bn = bn_mlp(batch_norm=True).to(args.device)
    copy_linear_weights(plain, with_bn)
    nets = {"plain": plain, "bn": with_bn}
    optims = {k: mg.optim.SGD(m.parameters(), lr=args.lr) for k, m in nets.items()}

    every = max(args.steps // args.evals, 1)
    eval_steps = sorted({s for s in range(0, args.steps + 1, every)} | {args.steps} |
                        {m for m in MILESTONES if m <= args.steps})
    curve = {"steps": [], "acc_plain": [], "acc_bn": [], "loss_plain": [], "loss_bn": []}
    pct = {k: [] for k in nets}
    losses = {k: [] for k in nets}

    def evaluate(step):
        curve["steps"].append(step)
        for k, net in nets.items():
            curve[f"acc_{k}"].append(accuracy(net, x_test, y_test, args.device))
            curve[f"loss_{k}"].append(float(np.mean(losses[k])) if losses[k] else None)
            losses[k].clear()
            u = sigmoid_input(net, x_test, args.unit, args.device)
            pct[k].append(np.percentile(u, [15, 50, 85]).tolist())

    evaluate(0)
    bar = Training(args.steps, "bn_mnist")
    order = batches(len(x_train), args.batch_size, args.steps, args.seed)
    for step, idx in enumerate(order, start=1):
        x = mg.tensor(x_train[idx]).to(args.device)
        y = mg.tensor(y_train[idx]).to(args.device)
        for k, net in nets.items():
            losses[k].append(train_step(net, optims[k], x, y).item())
        bar.step(loss_bn=losses["bn"][-1], loss_plain=losses["plain"][-1])
        if step in eval_steps:
            with bar.paused():
                evaluate(step)
                bar.show(acc_bn=curve["acc_bn"][-1], acc_plain=curve["acc_plain"][-1])
    bar.close()

    at = {str(s): {"plain": curve["acc_plain"][curve["steps"].index(s)],
                   "bn": curve["acc_bn"][curve["steps"].index(s)]}
          for s in MILESTONES if s <= args.steps}
    final = {"plain": curve["acc_plain"][-1], "bn": curve["acc_bn"][-1]}
    print(f"test accuracy after {args.steps} steps: with BN {final['bn']:.4f}, "
          f"without {final['plain']:.4f}")
    for s, v in at.items():
        print(f"  step {s:>5}: with BN {v['bn']:.4f}, without {v['plain']:.4f}")
    save(args, "bn_mnist", {"lr": args.lr, "batch_size": args.batch_size,
                            "steps": args.steps, "unit": args.unit, "final_accuracy": final,
                            "accuracy_at": at, "curve": curve, "percentiles": pct}, plot)


def plot(plt, r):
    steps = r["curve"]["steps"]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    ax = axes[0]
    ax.plot(steps, r["curve"]["acc_bn"], color="C0", label="with BN")
    ax.plot(steps, r["curve"]["acc_plain"], color="C3", ls="--", label="without BN")
    # limits from the trained points of both curves (step 0 is chance level and would
    # squash them); a curve below them enters from the bottom edge
    trained = r["curve"]["acc_bn"][1:] + r["curve"]["acc_plain"][1:]
    lo, hi = min(trained), max(trained)
    pad = 0.08 * (hi - lo) + 0.005
    ax.set(xlabel="training step", ylabel="test accuracy",
           ylim=(max(lo - pad, 0.0), min(hi + pad, 1.0)),
           title=f"(a) test accuracy (lr {r['lr']}, batch {r['batch_size']})")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    for ax, key, title in ((axes[1], "plain", "(b) without BN"), (axes[2], "bn", "(c) with BN")):
        q = np.array(r["percentiles"][key])
        ax.fill_between(steps, q[:, 0], q[:, 2], color="C3" if key == "plain" else "C0",
                        alpha=0.25, label="15th to 85th percentile")
        ax.plot(steps, q[:, 1], color="k", lw=1, label="median")
        ax.plot(steps, q[:, 0], color="k", lw=0.5, alpha=0.5)
        ax.plot(steps, q[:, 2], color="k", lw=0.5, alpha=0.5)
        ax.set(xlabel="training step", ylabel=f"input to sigmoid unit {r['unit']}",
               title=f"{title}: last hidden layer")
        ax.grid(alpha=0.3)
        ax.legend(loc="best")
    lo = min(np.min(r["percentiles"][k]) for k in ("plain", "bn"))
    hi = max(np.max(r["percentiles"][k]) for k in ("plain", "bn"))
    for ax in axes[1:]:
        ax.set_ylim(lo - 0.1 * abs(lo), hi + 0.1 * abs(hi))
    fig.suptitle("Batch normalization on MNIST (Ioffe & Szegedy 2015, Figure 1)")
    fig.tight_layout()


if __name__ == "__main__":
    main()
