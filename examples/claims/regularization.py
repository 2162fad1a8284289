"""Regularization: none, dropout, BN and BN + dropout on 2,000 training images.

Protocol. A fixed random subset of 2,000 MNIST training images (the same for every run).
A ReLU MLP 784-256-256-10 with PyTorch's default init in four variants: none; dropout
(p = 0.5 after each hidden ReLU, Srivastava et al.'s rate for hidden units); BN (a
BatchNorm1d between each hidden Linear and its ReLU); BN + dropout (Linear -> BN -> ReLU ->
Dropout). For each seed all four start from the same Linear weights and see the same
batches. SGD with momentum 0.9, learning rate 0.05, batch 50, 3,000 steps (75 epochs: the
variants without dropout fit the subset long before the end). Reported after training, in
eval mode: accuracy on the 2,000 training images, on the 10,000 test images, and the
generalization gap (train - test); every 150 steps, test accuracy on a fixed 2,000-image
test subset for the curves. 3 seeds (2 in --quick).

Prediction of the claim. BN regularizes: the BN net's test accuracy is above the plain
net's and its gap below, and "sometimes enough to drop dropout": BN alone about as good on
the test set as dropout alone.

Verdict, from mean test accuracy over seeds (10,000 images); "clearly above" means the
difference of the means exceeds the sum of the two standard deviations over seeds:
reversed if none is clearly above BN; reproduced if BN is clearly above none and dropout
is not clearly above BN; partly if BN is clearly above none but dropout is clearly above
BN; otherwise (BN not clearly different from none) not reproduced.
"""
import numpy as np

import minigrad as mg

from ._mlp import evaluator, fmt, mean_std, mlp, test_subset, train

NAME = "regularization"
TITLE = "Regularization"
CLAIM = ("BN acts as a regularizer, in some cases eliminating the need for Dropout "
         "(Ioffe & Szegedy 2015).")
PROTOCOL = ("ReLU MLP 784-256-256-10 on 2,000 training images, none / dropout 0.5 / BN / "
            "BN + dropout, SGD+momentum lr 0.05, batch 50, 3,000 steps (75 epochs); train "
            "and test accuracy, gap")

VARIANTS = {"none": (False, 0.0), "dropout": (False, 0.5), "bn": (True, 0.0),
            "bn+dropout": (True, 0.5)}


def add_arguments(p):
    p.add_argument("--regularization-train-size", type=int, default=2000,
                   help="regularization study: training images")
    p.add_argument("--regularization-steps", type=int, default=3000,
                   help="regularization study: SGD steps")


def run(args, mnist):
    n_train, steps = args.regularization_train_size, args.regularization_steps
    width, lr, momentum, batch_size, every, n_curve, n_test = 256, 0.05, 0.9, 50, 150, 2000, None
    if args.quick:
        n_train, steps, every, n_curve, n_test = 300, 40, 20, 300, 1000
    pick = np.sort(np.random.default_rng(0).choice(len(mnist[0]), n_train, replace=False))
    x_train, y_train = mnist[0][pick], mnist[1][pick]
    on_train = evaluator(x_train, y_train)
    on_test = evaluator(*test_subset(mnist, n_test))
    on_curve = evaluator(*test_subset(mnist, n_curve, seed=1))
    runs = {k: [] for k in VARIANTS}
    for seed in args.seed_list:
        for key, (batch_norm, dropout) in VARIANTS.items():
            mg.manual_seed(seed)  # BN and dropout layers draw nothing at construction
            net = mlp(3, width, "relu", batch_norm=batch_norm, dropout=dropout)
            r = train(net, (x_train, y_train), steps, batch_size, lr, seed,
                      momentum=momentum, evaluate=on_curve, every=every)
            train_acc, test_acc = on_train(net), on_test(net)
            runs[key].append({"seed": seed, "train_accuracy": train_acc,
                              "test_accuracy": test_acc, "gap": train_acc - test_acc,
                              "final_loss": r["final_loss"], "diverged": r["diverged"],
                              "curve": r["curve"]})
            print(f"seed {seed} {key:>10}: train {train_acc:.4f}  test {test_acc:.4f}")
    return {"train_size": n_train, "widths": [width, width], "activation": "relu",
            "dropout": 0.5, "steps": steps, "epochs": steps * batch_size / n_train,
            "lr": lr, "momentum": momentum, "batch_size": batch_size, "curve_every": every,
            "curve_test_images": n_curve, "test_images": n_test or len(mnist[2]),
            "seeds": args.seed_list, "runs": runs}


def _vals(results, key, what):
    return [x[what] for x in results["runs"][key]]


def clearly_above(results, a, b):
    ma, sa = mean_std(_vals(results, a, "test_accuracy"))
    mb, sb = mean_std(_vals(results, b, "test_accuracy"))
    return ma - mb > sa + sb


def verdict(results):
    if clearly_above(results, "none", "bn"):
        return "reversed"
    if clearly_above(results, "bn", "none"):
        return "partly" if clearly_above(results, "dropout", "bn") else "reproduced"
    return "not reproduced"


def summarize(results):
    numbers = "test accuracy: " + ", ".join(
        f"{k} {fmt(_vals(results, k, 'test_accuracy'))}" for k in VARIANTS) + \
        "; gap: " + ", ".join(f"{k} {fmt(_vals(results, k, 'gap'))}" for k in VARIANTS)
    rows = ["| variant | train accuracy | test accuracy | gap (train − test) | final train "
            "loss |", "|---|---|---|---|---|"]
    for k in VARIANTS:
        rows.append(f"| {k} | {fmt(_vals(results, k, 'train_accuracy'))} | "
                    f"{fmt(_vals(results, k, 'test_accuracy'))} | "
                    f"{fmt(_vals(results, k, 'gap'))} | "
                    f"{fmt(_vals(results, k, 'final_loss'), 4)} |")
    pairs = [("bn", "none"), ("dropout", "none"), ("dropout", "bn"), ("bn+dropout", "bn"),
             ("bn+dropout", "dropout")]
    clear = [f"{a} over {b}: {'yes' if clearly_above(results, a, b) else 'no'}"
             for a, b in pairs]
    detail = "\n".join([
        f"After {results['steps']} steps ({results['epochs']:.0f} epochs of "
        f"{results['train_size']} images), mean ± std over seeds {results['seeds']}, eval "
        f"mode, test on {results['test_images']} images; the training loss is the mean "
        f"batch loss over the last {max(results['steps'] // 10, 1)} steps (in training "
        f"mode, so with dropout active):", "", *rows, "",
        "Clearly above (difference of means > sum of stds): " + "; ".join(clear) + ".", "",
        DISCUSSION.strip(), "",
        "Limits: one small MLP, one training-set size, one dropout rate and one learning "
        "rate for all four variants, and no weight decay or data augmentation. One fixed "
        "subset of training images, so the spread over seeds is that of init, batch order "
        "and dropout masks, not of the data. BN's noise depends on the batch size (50 "
        "here)."])
    return {"numbers": numbers, "verdict": verdict(results), "detail": detail}


# written after the default run (seeds 0-2) had been seen; the numbers above are computed
DISCUSSION = """
What the default run shows. The BN net fits the 2,000 images as completely as the plain
one (training accuracy 1 and a training loss near 0 for both) and still does better on the
test set, with a smaller gap: a regularizing effect, but a small one, of the order of a
point of accuracy. Dropout (p = 0.5) hurt here: within the budget the dropout net did not
fit its training set (training accuracy below 1 in eval mode, training loss far from 0)
and its test accuracy is the lowest of the four. So the verdict's second half -- BN alone
at least as good as dropout alone -- holds, but here that says more about dropout at this
rate, width and budget than about BN replacing it; with BN, adding dropout changed little.
The test curves show BN ahead of the plain net from the first evaluations on, while the
plain net's test accuracy stops improving once it has fit the subset.
"""

COLORS = {"none": "C3", "dropout": "C2", "bn": "C0", "bn+dropout": "C4"}


def plot(plt, r):
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(13, 4.6))
    x = np.arange(len(VARIANTS))
    for i, (what, label, shift) in enumerate((("train_accuracy", "train", -0.2),
                                              ("test_accuracy", "test", 0.2))):
        stats = [mean_std(_vals(r, k, what)) for k in VARIANTS]
        ax.bar(x + shift, [m for m, _ in stats], 0.38, yerr=[s for _, s in stats],
               capsize=3, label=label, color=["0.75", "C0"][i])
        for xi, (m, sd) in zip(x + shift, stats):
            ax.annotate(f"{m:.3f}", (xi, m + sd), ha="center", va="bottom", fontsize=8,
                        xytext=(0, 2), textcoords="offset points")
    lows = [mean_std(_vals(r, k, "test_accuracy"))[0] for k in VARIANTS]
    ax.set(xticks=x, xticklabels=list(VARIANTS), ylabel="accuracy (eval mode)",
           ylim=(max(min(lows) - 0.05, 0), 1.02),
           title=f"(a) after {r['steps']} steps on {r['train_size']} training images "
                 f"(mean ± std, {len(r['seeds'])} seeds)")
    ax.legend(loc="lower right")
    ax.grid(alpha=0.3, axis="y")
    for k in VARIANTS:
        curves = np.array([run["curve"]["values"] for run in r["runs"][k]])
        steps = r["runs"][k][0]["curve"]["steps"]
        m, s = curves.mean(0), curves.std(0, ddof=1) if len(curves) > 1 else 0 * curves[0]
        bx.plot(steps, m, color=COLORS[k], label=k)
        bx.fill_between(steps, m - s, m + s, color=COLORS[k], alpha=0.2)
    bx.set(xlabel="training step", ylabel="test accuracy",
           ylim=(max(min(lows) - 0.1, 0), 1.0),
           title=f"(b) test accuracy ({r['curve_test_images']} test images) during training")
    bx.grid(alpha=0.3)
    bx.legend(loc="lower right")
    fig.tight_layout()
