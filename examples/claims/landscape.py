"""The loss landscape along training (Santurkar et al. 2018, Section 3.1 and Figure 4): how
much the loss and the gradient change when stepping along the gradient, with and without BN.

Protocol. The MNIST MLP 784-100-100-100-10 (`claims/_santurkar.py`), sigmoid (learning rate
0.5) and ReLU (0.1), with and without BN before each activation; within a seed both nets share
their initial Linear weights and batches. Each trains 2,000 steps of SGD with batch 60, 3
seeds. Every 10 steps, before the update and on that step's batch, in training mode (BN uses
the batch's statistics; its running statistics are put back afterwards), the probe of
Santurkar et al.'s Figure 4: take the gradient g = ∇L(θ) over all parameters, move to
θ_c = θ − c·η·g for c in (0.25, 0.5, 1, 2, 4) (η the training learning rate, so the steps run
from a quarter to four times the step SGD takes), and at each θ_c compute the loss L(θ_c) and
the gradient g_c on the same batch. Recorded per probe:

- *loss range*: max − min of L over {θ} ∪ {θ_c} (the paper's "variation in loss", panel a);
- *gradient change*: max over c of ‖g_c − g‖₂ (the paper's "gradient predictiveness": the ℓ2
  change of the gradient along the step, panel b; min over c is kept for the plot);
- *effective β*: max over c of ‖g_c − g‖₂ / ‖θ_c − θ‖₂ (the paper's "effective β-smoothness",
  panel c).

The paper probes VGG on CIFAR-10 (and a deep linear net); this is an MLP on MNIST, and the
range of step sizes is ours (their exact range could not be read for this study).

Prediction (Santurkar et al.): with BN all three are smaller along training: the loss varies
less along the gradient, the gradient is more predictive and the landscape effectively
smoother.

Verdict rule, fixed before the runs. For each activation and each of the three measures, each
seed's value is the mean of log10 of the measure over all probes of its run; the cell favors
the claim when BN's is below the plain net's by more than two standard errors of the paired
difference over seeds, opposes it when above by more than that, else is neutral. Over the six
cells: every cell favoring: reproduced; more favoring than opposing: partly; every cell
opposing: reversed; otherwise not reproduced.
"""
import numpy as np

from claims import _santurkar as S

NAME = "landscape"
TITLE = "Loss landscape: smoother with BN"
CLAIM = ("BN makes the optimization landscape smoother: stepping along the gradient, the loss "
         "varies less, the gradient changes less (is more predictive) and the effective "
         "β-smoothness is smaller (Santurkar et al. 2018, Section 3.1, Figure 4).")
PROTOCOL = ("MNIST MLP 784-100×3-10, sigmoid and ReLU, with and without BN; SGD batch 60, "
            "2,000 steps; every 10 steps move along the gradient by 0.25-4 learning rates: "
            "loss range, max ‖Δ gradient‖, effective β; 3 seeds.")
KINDS, LABELS, COLORS = S.PAIRED, S.LABELS, S.COLORS
STEP_SIZES = (0.25, 0.5, 1.0, 2.0, 4.0)
MEASURES = {"loss_range": "loss range along the gradient",
            "grad_change": "max ‖g(θ − cηg) − g(θ)‖₂",
            "beta": "effective β: max ‖Δg‖ / ‖Δθ‖"}


def add_arguments(p):
    p.add_argument("--landscape-steps", type=int, default=2000,
                   help="landscape: training steps per net")
    p.add_argument("--landscape-every", type=int, default=10,
                   help="landscape: steps between probes")


def probe(net, x, y, lr, sizes=STEP_SIZES):
    """Santurkar et al.'s Figure 4 probe at the net's current parameters on the batch x, y
    (see the module docstring); the net is left as it was."""
    params = list(net.parameters())
    with S.probing(net):
        loss0, g0 = S.gradient(net, x, y, params)
        theta = [p.detach().numpy().astype(np.float64) for p in params]
        gnorm = S.norm(g0)
        losses, changes, betas = [loss0], [], []
        for c in sizes:
            S.set_values(params, [t - c * lr * g for t, g in zip(theta, g0)])
            loss, g = S.gradient(net, x, y, params)
            change = S.norm([a - b for a, b in zip(g, g0)])
            losses.append(loss)
            changes.append(change)
            betas.append(change / (c * lr * gnorm) if gnorm > 0 else 0.0)
    return {"loss": loss0, "loss_min": min(losses), "loss_max": max(losses),
            "loss_range": max(losses) - min(losses), "grad_change": max(changes),
            "grad_change_min": min(changes), "beta": max(betas), "grad_norm": gnorm}


def run(args, mnist):
    steps = 40 if args.quick else args.landscape_steps
    every = 20 if args.quick else args.landscape_every

    def record(net, x, y, lr, rec):
        for key, value in probe(net, x, y, lr).items():
            rec.setdefault(key, []).append(value)

    runs = S.probed_training("landscape", args, mnist, steps, every, record, lambda rec: (
        "mean effective β " + ", ".join(f"{k} {np.mean(rec[k]['beta']):.3g}" for k in KINDS)))
    return {"steps": steps, "every": every, "step_sizes": list(STEP_SIZES), "lr": S.LR,
            "batch_size": S.BATCH_SIZE, "seeds": list(args.seed_list), "runs": runs}


def per_seed(results, act, kind, key):
    """Each seed's mean over probes of log10 of the measure."""
    return np.array([S.log10(r[key]).mean() for r in results["runs"][act][kind]])


def summarize(results):
    cells, parts, rows = [], [], []
    for act in S.ACTIVATIONS:
        for key in MEASURES:
            bn, plain = per_seed(results, act, "bn", key), per_seed(results, act, "plain", key)
            cells.append(S.outcome(bn, plain))
            d, se = S.paired(bn, plain)
            rows.append(f"{act}, {key}: BN/no BN = 10^({d:+.2f} ± {se:.2f}) → {cells[-1]}")
            parts.append(f"{act} {key} BN {S.pm(10 ** bn, 3, 'g')} vs no BN "
                         f"{S.pm(10 ** plain, 3, 'g')}")
    numbers = ("geometric mean over training (± std over seeds): " + "; ".join(parts))
    acc = "; ".join(f"{act}: " + ", ".join(
        f"{LABELS[k]} {S.pm([r['test_accuracy'] for r in results['runs'][act][k]], 4)}"
        for k in KINDS) for act in S.ACTIVATIONS)
    detail = "\n\n".join([
        "Ratios BN / no BN of each seed's geometric mean over the probes (mean ± standard "
        "error over seeds, log10 scale) and the cell's outcome: " + "; ".join(rows) + ".",
        f"Test accuracy after {results['steps']} steps: {acc}.",
        _reading(results),
        DETAIL])
    return {"numbers": numbers, "verdict": S.tally(cells), "detail": detail}


def _reading(results):
    """Whether the differences come from the gradients' size: the ratio of their norms."""
    ratios = []
    for act in S.ACTIVATIONS:
        d, se = S.paired(per_seed(results, act, "bn", "grad_norm"),
                         per_seed(results, act, "plain", "grad_norm"))
        ratios.append(f"{act} 10^({d:+.2f} ± {se:.2f}) = {10 ** d:.2f}")
    return ("The gradient norms at the probes, BN / no BN (geometric means, paired over "
            "seeds): " + "; ".join(ratios) + ". The steps along the gradient are η·c·‖g‖ "
            "long, so where these ratios are near 1 the two nets are probed over steps of "
            "about the same length, and smaller loss ranges and gradient changes with BN are "
            "not shorter steps. The effective β is the largest gradient change per unit of "
            "distance over the step sizes, the gradient change the largest change itself; "
            "the two can disagree when a net's gradient changes fast over the short steps "
            "and levels off over the long ones. The probes keep only the maxima, so which "
            "step size set each is not recorded.")


DETAIL = """Limits: an MNIST MLP, not VGG on CIFAR-10; one learning rate per activation, shared
by both nets (as in the paper's Figure 4), not each net's best; the probe moves
along the mini-batch gradient on that same batch, as the paper's; the measures are in the
parameters' own units, and BN changes what a unit of weight means (the weights before a BN
layer are scale-invariant), so an absolute comparison of β across the two nets is the
paper's, not a parametrization-free one."""


def plot(plt, results):
    fig, axes = plt.subplots(2, 3, figsize=(16, 8.5))
    seed0 = results["seeds"][0]
    for row, act in enumerate(S.ACTIVATIONS):
        for k in KINDS:
            r0 = results["runs"][act][k][0]
            steps = np.array(r0["steps"])
            ax = axes[row, 0]
            ax.fill_between(steps, r0["loss_min"], r0["loss_max"], color=COLORS[k], alpha=0.35,
                            label=f"{LABELS[k]}: loss range over the step sizes")
            ax.plot(steps, r0["loss"], color=COLORS[k], lw=0.6)
            ax = axes[row, 1]
            ax.fill_between(steps, r0["grad_change_min"], r0["grad_change"], color=COLORS[k],
                            alpha=0.35, label=f"{LABELS[k]}: min to max over the step sizes")
            ax = axes[row, 2]
            logs = np.array([S.log10(r["beta"]) for r in results["runs"][act][k]])
            m, s = logs.mean(0), logs.std(0)
            ax.plot(steps, 10 ** m, color=COLORS[k], lw=0.8, label=f"{LABELS[k]}")
            ax.fill_between(steps, 10 ** (m - s), 10 ** (m + s), color=COLORS[k], alpha=0.2)
        titles = [f"(a) {act}: loss along the gradient (seed {seed0})",
                  f"(b) {act}: gradient predictiveness (seed {seed0})",
                  f"(c) {act}: effective β-smoothness (mean ± std of log, "
                  f"{len(results['seeds'])} seeds)"]
        ylabels = ["training-batch loss", "‖g(θ − cηg) − g(θ)‖₂", "max ‖Δg‖ / ‖Δθ‖"]
        for col, ax in enumerate(axes[row]):
            ax.set(xlabel="training step", ylabel=ylabels[col], yscale="log",
                   title=titles[col].replace("(a)", "(a)" if row == 0 else "(d)")
                   .replace("(b)", "(b)" if row == 0 else "(e)")
                   .replace("(c)", "(c)" if row == 0 else "(f)"))
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
    sizes = ", ".join(f"{c:g}" for c in results["step_sizes"])
    fig.suptitle(f"Loss landscape along training (Santurkar et al. 2018, Figure 4): steps "
                 f"of c·η along the gradient, c in {sizes}")
    fig.tight_layout()
