"""Depth: plain MLPs of 2 to 100 layers on MNIST, with and without BN, at one budget of steps.

Protocol. Plain MLPs (no residual connections) with 2, 5, 10, 20, 50 and 100 Linear layers
(depth - 1 hidden layers of 64 units, then a Linear to the 10 classes), ReLU activations,
PyTorch's default init; the BN nets put a BatchNorm1d between each hidden Linear and its
ReLU, as Ioffe & Szegedy do. For each seed the two nets of a depth start from the same
Linear weights and see the same batches. Every net gets the same optimizer and budget: SGD
with momentum 0.9, learning rate 0.05, batch 60, 500 steps (half an epoch; the budget is
what 2 cores allow for 36 nets). Reported: test accuracy on the 10,000 test images after
training (eval mode, so the BN nets use their running statistics), the mean training loss
over the last 50 steps, whether the loss went non-finite, and, at initialization, the norm
of the loss's gradient with respect to each Linear weight on one fixed batch of 500
training images (train mode) -- the vanishing/exploding picture. 3 seeds (2 in --quick).

Why ReLU: the claim that BN makes very deep nets trainable is made about ReLU nets (the BN
paper's own MNIST net uses sigmoids, but at depth 4); a sigmoid net of depth 100 without BN
fails for reasons of its own (saturation) and the budget holds one activation, not two. Why
width 64: the step time of a 100-layer net is dominated by per-layer overhead, and 64 keeps
the whole study within its budget.

Prediction of the claim. Without BN, the gradient norms at init change by orders of
magnitude from the last layer to the first in the deep nets, and accuracy falls to chance
as depth grows; with BN, the 100-layer net trains to an accuracy close to the shallow
nets'. (Mean-field theory of BN, Yang et al. 2019, predicts the opposite at init for plain
BN nets: gradients that explode with depth. The figure shows which one happens here.)

Verdict, from the mean test accuracy over seeds at the deepest depth, b with BN and p
without: reproduced if b >= 0.9 and p < 0.5; reversed if p > b + 0.05; partly if b >= 0.9
but p >= 0.5 too (BN is not what makes the net trainable), or if 0.5 <= b < 0.9 and
b > p + 0.2 (BN gets much further, but not to 0.9 within the budget); otherwise not
reproduced.
"""
import numpy as np

import minigrad as mg

from ._mlp import evaluator, fmt, layer_grad_norms, mean_std, mlp, test_subset, train

NAME = "depth"
TITLE = "Depth"
CLAIM = ("BN makes plain (non-residual) networks of 100+ layers trainable (a common "
         "reading of Ioffe & Szegedy 2015).")
PROTOCOL = ("ReLU MLPs (width 64, no residuals) of depth 2-100, with/without BN, SGD+momentum "
            "lr 0.05, batch 60, 500 steps; test accuracy and gradient norms per layer at init")


def add_arguments(p):
    p.add_argument("--depth-depths", type=int, nargs="+", default=[2, 5, 10, 20, 50, 100],
                   help="depth study: numbers of Linear layers")
    p.add_argument("--depth-width", type=int, default=64, help="depth study: hidden units")
    p.add_argument("--depth-steps", type=int, default=500, help="depth study: SGD steps")
    p.add_argument("--depth-lr", type=float, default=0.05, help="depth study: learning rate")


def run(args, mnist):
    depths, steps, width, lr = args.depth_depths, args.depth_steps, args.depth_width, args.depth_lr
    batch_size, momentum, grad_batch, n_test = 60, 0.9, 500, None
    if args.quick:
        depths, steps, grad_batch, n_test = [2, 5, 20], 30, 100, 1000
    x_train, y_train = mnist[0], mnist[1]
    evaluate = evaluator(*test_subset(mnist, n_test))
    pick = np.random.default_rng(0).choice(len(x_train), grad_batch, replace=False)
    gx, gy = x_train[pick], y_train[pick]
    runs = {"bn": {}, "plain": {}}
    for depth in depths:
        for key in runs:
            runs[key][str(depth)] = []
        for seed in args.seed_list:
            for key in runs:
                mg.manual_seed(seed)  # BN layers draw nothing: same Linear weights for both
                net = mlp(depth, width, "relu", batch_norm=key == "bn")
                norms = layer_grad_norms(net, gx, gy)
                r = train(net, (x_train, y_train), steps, batch_size, lr, seed,
                          momentum=momentum)
                runs[key][str(depth)].append({
                    "seed": seed, "accuracy": evaluate(net), "final_loss": r["final_loss"],
                    "diverged": r["diverged"], "grad_norms": norms})
        line = "  ".join(
            f"{key} {fmt([x['accuracy'] for x in runs[key][str(depth)]])}" for key in runs)
        print(f"depth {depth:>3}: test accuracy  {line}")
    return {"depths": depths, "width": width, "activation": "relu", "steps": steps,
            "lr": lr, "momentum": momentum, "batch_size": batch_size,
            "grad_batch": grad_batch, "test_images": n_test or len(mnist[2]),
            "seeds": args.seed_list, "runs": runs}


def _acc(results, key, depth):
    return [x["accuracy"] for x in results["runs"][key][str(depth)]]


def _mean_norms(results, key, depth):
    """Per-layer gradient norms at init, geometric mean over seeds."""
    norms = np.array([x["grad_norms"] for x in results["runs"][key][str(depth)]])
    with np.errstate(divide="ignore"):
        return np.exp(np.log(norms).mean(0))


def _loss(results, key, depth):
    return [x["final_loss"] for x in results["runs"][key][str(depth)]]


def _ratio(norms):
    """First layer's gradient norm over the last one's, as text."""
    if norms[0] == 0:
        return "0 (float32 underflow)"
    return f"{norms[0] / norms[-1]:.2g}"


def _growth(norms):
    """The factor per layer by which the gradient norm grows toward the input at init:
    the geometric mean over the layers whose norm did not underflow."""
    norms = np.asarray(norms)
    nonzero = np.flatnonzero(norms > 0)
    if len(nonzero) < 2:
        return "n/a"
    first = nonzero[0]
    return f"{(norms[first] / norms[-1]) ** (1 / (len(norms) - 1 - first)):.3g}"


def verdict(b, p):
    if b >= 0.9 and p < 0.5:
        return "reproduced"
    if p > b + 0.05:
        return "reversed"
    if b >= 0.9 or (0.5 <= b < 0.9 and b > p + 0.2):
        return "partly"
    return "not reproduced"


def summarize(results):
    deepest = results["depths"][-1]
    b, _ = mean_std(_acc(results, "bn", deepest))
    p, _ = mean_std(_acc(results, "plain", deepest))
    ratio = {k: _ratio(_mean_norms(results, k, deepest)) for k in ("bn", "plain")}
    numbers = (f"test accuracy at depth {deepest}: with BN "
               f"{fmt(_acc(results, 'bn', deepest))}, without "
               f"{fmt(_acc(results, 'plain', deepest))}; first/last layer gradient norm at "
               f"init: with BN {ratio['bn']}, without {ratio['plain']}")
    rows = ["| depth | test acc. with BN | without BN | final train loss with BN | without "
            "BN | first/last grad with BN | without BN |", "|---|---|---|---|---|---|---|"]
    for d in results["depths"]:
        nb, npl = _mean_norms(results, "bn", d), _mean_norms(results, "plain", d)
        rows.append(f"| {d} | {fmt(_acc(results, 'bn', d))} | "
                    f"{fmt(_acc(results, 'plain', d))} | {fmt(_loss(results, 'bn', d), 2)} | "
                    f"{fmt(_loss(results, 'plain', d), 2)} | {_ratio(nb)} | {_ratio(npl)} |")
    good = {k: [d for d in results["depths"] if mean_std(_acc(results, k, d))[0] >= 0.9]
            for k in ("bn", "plain")}
    growth = {k: _growth(_mean_norms(results, k, deepest)) for k in ("bn", "plain")}
    diverged = sum(x["diverged"] for k in results["runs"].values() for v in k.values()
                   for x in v)
    detail = "\n".join([
        f"Test accuracy (mean ± std over seeds {results['seeds']}) after "
        f"{results['steps']} steps, the mean training loss over the last "
        f"{max(results['steps'] // 10, 1)} steps (ln 10 = "
        f"2.30 is chance), and the ratio of the first Linear layer's gradient norm to the "
        f"last one's at init (geometric mean over seeds; > 1 means gradients grow toward "
        f"the input, < 1 that they vanish):", "", *rows, "",
        f"Depths reaching 0.9 test accuracy: with BN {good['bn'] or 'none'}, without BN "
        f"{good['plain'] or 'none'}. Runs whose loss went non-finite: {diverged}. Growth "
        f"of the gradient norm per layer toward the input at init, at depth {deepest}: with "
        f"BN {growth['bn']}, without BN {growth['plain']}.", "",
        DISCUSSION.strip(), "",
        "Limits: one width (64), one activation (ReLU), one optimizer and learning rate for "
        "every depth, and a short budget (half an epoch); a deep net that is slow rather "
        "than unable to learn counts against it here. A plain MLP, not a convolutional "
        "net. PyTorch's default init (uniform, variance 1/(3 fan_in)) is not He init: "
        "without BN it shrinks ReLU activations by about 6x in variance per layer, so the "
        "no-BN deep nets start with vanishing signals that He init would avoid."])
    return {"numbers": numbers, "verdict": verdict(b, p), "detail": detail}


# written after the default run (seeds 0-2) had been seen; the numbers above are computed
DISCUSSION = """
What the default run shows. Without BN the picture is vanishing gradients: at init the
gradient norm falls by about a factor 0.4 per layer toward the input (PyTorch's default
init keeps 1/6 of a ReLU layer's signal variance, and sqrt(1/6) = 0.41), it underflows
float32 before the first layer at depth 100, and from depth 10 on the plain nets' training
loss never leaves ln 10: they do not train at all. With BN the picture is reversed, not
removed: the gradients grow toward the input, by a steady factor per layer (the growth
rate below), as the mean-field theory of BN nets (Yang et al. 2019) predicts; its rate for
ReLU in the wide, large-batch limit, pi/(pi - 1) per layer in squared norm, is 1.21 in
norm. BN moves the depth limit -- its nets train at 10
and 20 layers (less well at 20), where the plain ones are stuck at chance -- but at 50 and 100 layers
the BN nets' training loss also stays near ln 10 within the budget, so their test
accuracy at chance is a failure to fit, not a train/eval mismatch of the running
statistics. On this protocol BN alone, without residual connections, does not make a
100-layer plain MLP trainable.
"""


def plot(plt, r):
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.6))
    ax = axes[0]
    for key, label, style, color in (("bn", "with BN", "o-", "C0"),
                                     ("plain", "without BN", "s--", "C3")):
        stats = [mean_std(_acc(r, key, d)) for d in r["depths"]]
        ax.errorbar(r["depths"], [m for m, _ in stats], yerr=[s for _, s in stats],
                    fmt=style, color=color, capsize=3, label=label)
    ax.axhline(0.1, color="gray", lw=0.8, ls=":", label="chance")
    ax.set(xscale="log", xlabel="depth (Linear layers)", ylabel="test accuracy",
           ylim=(0, 1), title=f"(a) after {r['steps']} steps (mean ± std, "
                              f"{len(r['seeds'])} seeds)")
    ax.set_xticks(r["depths"], [str(d) for d in r["depths"]])
    ax.set_xticks([], minor=True)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left")
    cmap = plt.get_cmap("viridis")
    for ax, key, title in ((axes[1], "plain", "(b) without BN"), (axes[2], "bn", "(c) with BN")):
        for i, d in enumerate(r["depths"]):
            norms = _mean_norms(r, key, d)
            ax.plot(np.arange(1, d + 1), norms, "-", marker="." if d <= 20 else None,
                    color=cmap(i / max(len(r["depths"]) - 1, 1)), label=f"depth {d}")
        ax.set(yscale="log", xscale="log", xlabel="Linear layer (1 = input side)",
               ylabel="‖∂loss/∂W‖ at init",
               title=f"{title}: gradient norm per layer at init")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7, loc="best")
    lo = min(ax.get_ylim()[0] for ax in axes[1:])
    hi = max(ax.get_ylim()[1] for ax in axes[1:])
    for ax in axes[1:]:
        ax.set_ylim(lo, hi)
    fig.suptitle(f"Plain ReLU MLPs (width {r['width']}), SGD lr {r['lr']} momentum "
                 f"{r['momentum']}, batch {r['batch_size']}")
    fig.tight_layout()
