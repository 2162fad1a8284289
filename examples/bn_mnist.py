"""Figure 1 of Ioffe & Szegedy (2015): an MNIST MLP with and without batch normalization.

784-100-100-100-10 with sigmoid activations, batch 60, plain SGD, inputs standardized. Both nets start from the
same weights and see the same batches; the BN net normalizes each hidden layer's input to
its sigmoid. The plot shows (a) test accuracy against training steps and (b-e) the 15th,
50th and 85th percentiles of the inputs to the last hidden layer's sigmoids, as that layer
sees them during training: a forward pre-hook on the last Sigmoid records the training
mini-batch (in training mode, so the BN net's values are the batch-normalized ones) at
log-spaced steps, for one unit (b, c) and pooled over all 100 units (d, e).

    python examples/bn_mnist.py                  # 10,000 steps, about a minute on 2 cores
    python examples/bn_mnist.py --steps 50000    # the paper's length
"""
import time

import numpy as np
from _common import (Training, accuracy, batches, bn_mlp, copy_linear_weights, load_mnist,
                     parser, save, setup, train_step)

import minigrad as mg
import minigrad.nn as nn

MILESTONES = (500, 1000, 5000, 10000, 20000, 50000)


class SigmoidInputs:
    """Forward pre-hook on a net's last Sigmoid: when ``step`` is set, records the 15th,
    50th and 85th percentiles of that forward's sigmoid inputs, for ``unit`` (over the
    mini-batch) and for all units pooled. ``seconds`` is the time spent recording."""

    def __init__(self, model, unit):
        last = [m for m in model.modules() if isinstance(m, nn.Sigmoid)][-1]
        self.handle = last.register_forward_pre_hook(self)
        self.unit, self.step, self.seconds = unit, None, 0.0
        self.steps, self.unit_pct, self.pooled_pct = [], [], []

    def __call__(self, module, args):
        if self.step is None:
            return
        start = time.perf_counter()
        a = args[0].detach().cpu().numpy()
        self.steps.append(self.step)
        self.unit_pct.append(np.percentile(a[:, self.unit], [15, 50, 85]).tolist())
        self.pooled_pct.append(np.percentile(a, [15, 50, 85]).tolist())
        self.step = None
        self.seconds += time.perf_counter() - start


def record_steps(steps, n=150):
    """0, then about ``n`` steps log-spaced up to ``steps`` (every step early on)."""
    return sorted({0, *np.unique(np.geomspace(1, steps, n).round().astype(int)).tolist()})


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
    losses = {k: [] for k in nets}
    recorders = {k: SigmoidInputs(net, args.unit) for k, net in nets.items()}
    to_record = set(record_steps(args.steps))

    def evaluate(step):
        curve["steps"].append(step)
        for k, net in nets.items():
            curve[f"acc_{k}"].append(accuracy(net, x_test, y_test, args.device))
            curve[f"loss_{k}"].append(float(np.mean(losses[k])) if losses[k] else None)
            losses[k].clear()

    evaluate(0)
    bar = Training(args.steps, "bn_mnist")
    order = batches(len(x_train), args.batch_size, args.steps, args.seed)
    loop_seconds, eval_seconds = time.perf_counter(), 0.0
    for step, idx in enumerate(order, start=1):
        x = mg.tensor(x_train[idx]).to(args.device)
        y = mg.tensor(y_train[idx]).to(args.device)
        for k, net in nets.items():
            if step - 1 in to_record:  # the weights after step - 1 updates
                recorders[k].step = step - 1
            losses[k].append(train_step(net, optims[k], x, y).item())
        bar.step(loss_bn=losses["bn"][-1], loss_plain=losses["plain"][-1])
        if step in eval_steps:
            start = time.perf_counter()
            with bar.paused():
                evaluate(step)
                bar.show(acc_bn=curve["acc_bn"][-1], acc_plain=curve["acc_plain"][-1])
            eval_seconds += time.perf_counter() - start
    bar.close()
    train_seconds = time.perf_counter() - loop_seconds - eval_seconds
    record_seconds = sum(r.seconds for r in recorders.values())
    print(f"recording the sigmoid inputs took {record_seconds:.3f} s of {train_seconds:.1f} s "
          f"of training ({100 * record_seconds / train_seconds:.2f} %)")
    pct = {k: {"steps": r.steps, "unit": r.unit_pct, "pooled": r.pooled_pct}
           for k, r in recorders.items()}

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
                            "accuracy_at": at, "curve": curve, "percentiles": pct,
                            "train_seconds": train_seconds, "record_seconds": record_seconds},
         plot)


def plot(plt, r):
    steps = r["curve"]["steps"]
    fig = plt.figure(figsize=(15, 8))
    grid = fig.add_gridspec(2, 3)
    ax = fig.add_subplot(grid[:, 0])
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
    panels = [(0, "plain", "unit", f"(b) without BN: unit {r['unit']}"),
              (0, "bn", "unit", f"(c) with BN: unit {r['unit']}"),
              (1, "plain", "pooled", "(d) without BN: all 100 units"),
              (1, "bn", "pooled", "(e) with BN: all 100 units")]
    axes = []
    for i, (row, key, what, title) in enumerate(panels):
        ax = fig.add_subplot(grid[row, 1 + i % 2])
        axes.append((ax, row))
        rec = r["percentiles"][key]
        x = np.maximum(rec["steps"], 0.5)  # (step 0 drawn at 0.5 on the log axis)
        q = np.array(rec[what])
        ax.fill_between(x, q[:, 0], q[:, 2], color="C3" if key == "plain" else "C0",
                        alpha=0.25, label="15th to 85th percentile")
        ax.plot(x, q[:, 1], color="k", lw=1, label="median")
        ax.set(xscale="log", xlabel="training step (log; 0 at 0.5)",
               ylabel="sigmoid input (training batch)", title=title)
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left", fontsize=8)
    for row, what in ((0, "unit"), (1, "pooled")):  # shared limits within a row
        vals = np.concatenate([np.ravel(r["percentiles"][k][what]) for k in ("plain", "bn")])
        lo, hi = vals.min(), vals.max()
        for ax, ax_row in axes:
            if ax_row == row:
                ax.set_ylim(lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo))
    fig.suptitle("Batch normalization on MNIST (Ioffe & Szegedy 2015, Figure 1): the last "
                 "hidden layer's sigmoid inputs as seen in training")
    fig.tight_layout()


if __name__ == "__main__":
    main()
