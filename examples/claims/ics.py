"""Internal covariate shift as Santurkar et al. (2018, Section 2.2, Definition 2.1, Figure 5)
measured it: how much a layer's gradient changes when the layers before it take their update.

Protocol. The MNIST MLP 784-100-100-100-10 (`claims/_santurkar.py`), sigmoid (learning rate
0.5; the net of `examples/bn_mnist.py`, whose Figure 1 (b, c) records the distribution of the
sigmoid inputs, the BN paper's own view of internal covariate shift) and ReLU (0.1), with and
without BN before each activation; within a seed both nets share their initial Linear weights
and batches. Each trains 2,000 steps of SGD with batch 60, 3 seeds. Every 10 steps, before
the update and on that step's batch (x, y), in training mode (BN's running statistics are put
back afterwards), for each Linear layer i = 2, 3, 4 (those with layers before them):

- G = ∇_{W_i} L(W_1, ..., W_k; x, y), the gradient of layer i's weight matrix;
- G' = ∇_{W_i} L(W'_1, ..., W'_{i−1}, W_i, ..., W_k; x, y), where W'_j = W_j − η∇_{W_j}L(W; x, y)
  is the SGD update of this step applied to every parameter before layer i (earlier Linear
  weights and biases and, with BN, the BN scales and shifts), and layer i and those after it
  are left as they were;
- recorded: ‖G − G'‖₂ (the paper's ℓ2 measure), ‖G − G'‖₂/‖G‖₂ and cos(G, G').

The paper measures VGG on CIFAR-10 and a 25-layer deep linear net; this is an MLP on MNIST.
Its ℓ2 measure scales with the size of the gradient, which BN changes; the verdict reads the
two scale-free measures (cosine and relative ℓ2), and the raw ℓ2 is reported and plotted.

Prediction (Santurkar et al.): BN does not reduce internal covariate shift in this sense: with
BN a layer's gradient changes as much as or more than without it when the earlier layers
update (ℓ2 as large or larger, cosine as far from 1 or farther).

Verdict rule, fixed before the runs. For each activation and layer i (six cells), each seed's
values are the means over all probes of cos(G, G') and of log10 ‖G − G'‖₂/‖G‖₂. A cell
opposes the claim when BN reduces the shift on both: its cosine above the plain net's and its
relative ℓ2 below, each by more than two standard errors of the paired difference over seeds;
otherwise the cell favors it (BN's shift is similar or larger). Every cell favoring:
reproduced; more favoring than opposing: partly; every cell opposing: reversed; otherwise not
reproduced.
"""
import numpy as np

import minigrad.nn as nn
from claims import _santurkar as S

NAME = "ics"
TITLE = "Internal covariate shift, gradient view"
CLAIM = ("BN does not reduce internal covariate shift measured on the optimization: the "
         "change of a layer's gradient when the layers before it are updated (ℓ2 distance, "
         "cosine) is as large or larger with BN (Santurkar et al. 2018, Section 2.2, "
         "Figure 5).")
PROTOCOL = ("MNIST MLP 784-100×3-10, sigmoid and ReLU, with and without BN; SGD batch 60, "
            "2,000 steps; every 10 steps, layer i's weight gradient before and after the "
            "earlier layers' SGD update (same batch): cosine, relative and raw ℓ2; 3 seeds.")
KINDS, LABELS = S.PAIRED, S.LABELS
COLORS = {"plain": ("#f4a582", "#d6604d", "#67001f"), "bn": ("#92c5de", "#4393c3", "#053061")}


def add_arguments(p):
    p.add_argument("--ics-steps", type=int, default=2000, help="ics: training steps per net")
    p.add_argument("--ics-every", type=int, default=10, help="ics: steps between probes")


def probe(net, x, y, lr):
    """Definition 2.1 of Santurkar et al. at the net's current parameters on the batch x, y:
    for each Linear layer after the first, (‖G − G'‖₂, ‖G‖₂, cos(G, G')) (see the module
    docstring). The net is left as it was."""
    mods = list(net.children())
    layers = [i for i, m in enumerate(mods) if isinstance(m, nn.Linear)]
    params = list(net.parameters())
    out = []
    with S.probing(net):
        _, grads = S.gradient(net, x, y, params)
        grad = {id(p): g for p, g in zip(params, grads)}
        theta = {id(p): p.detach().numpy().copy() for p in params}
        for i in layers[1:]:
            weight = mods[i].weight
            before = [p for m in mods[:i] for p in m.parameters()]
            S.set_values(before, [theta[id(p)] - lr * grad[id(p)] for p in before])
            _, (shifted,) = S.gradient(net, x, y, [weight])
            S.set_values(before, [theta[id(p)] for p in before])
            g = grad[id(weight)]
            gn, sn = S.norm([g]), S.norm([shifted])
            out.append((S.norm([g - shifted]), gn,
                        S.dot([g], [shifted]) / (gn * sn) if gn > 0 and sn > 0 else 0.0))
    return out


def run(args, mnist):
    steps = 40 if args.quick else args.ics_steps
    every = 10 if args.quick else args.ics_every

    def record(net, x, y, lr, rec):
        l2, gn, cos = zip(*probe(net, x, y, lr))
        for key, values in (("l2", l2), ("grad_norm", gn), ("cos", cos)):
            rec.setdefault(key, []).append(list(values))

    runs = S.probed_training("ics", args, mnist, steps, every, record, lambda rec: (
        "mean cos(G, G') by layer " + "; ".join(
            f"{k} " + ", ".join(f"{c:.3f}" for c in np.mean(rec[k]["cos"], axis=0))
            for k in KINDS)))
    return {"steps": steps, "every": every, "layers": [2, 3, 4], "lr": S.LR,
            "batch_size": S.BATCH_SIZE, "seeds": list(args.seed_list), "runs": runs}


def series(run, key):
    """(probes, layers) array of cos, rel (‖G − G'‖/‖G‖) or l2."""
    if key == "rel":
        return np.array(run["l2"]) / np.maximum(np.array(run["grad_norm"]), 1e-30)
    return np.array(run[key])


def per_seed(results, act, kind, key, start=0):
    """(seeds, layers): each seed's mean over the probes from step ``start`` on of cos, or of
    log10 of rel or l2."""
    out = []
    for r in results["runs"][act][kind]:
        v = series(r, key)[np.array(r["steps"]) >= start]
        out.append(v.mean(0) if key == "cos" else S.log10(v).mean(0))
    return np.array(out)


def _cells(results, start=0):
    """Per (activation, layer): whether BN reduces the shift on both scale-free measures
    (its cosine higher and its relative ℓ2 lower, each beyond two standard errors)."""
    out = []
    for act in S.ACTIVATIONS:
        cos = {k: per_seed(results, act, k, "cos", start) for k in KINDS}
        rel = {k: per_seed(results, act, k, "rel", start) for k in KINDS}
        for j in range(len(results["layers"])):
            higher_cos = S.outcome(cos["bn"][:, j], cos["plain"][:, j], lower_favors=False)
            lower_rel = S.outcome(rel["bn"][:, j], rel["plain"][:, j])
            out.append(higher_cos == "favor" and lower_rel == "favor")
    return out


def summarize(results):
    reduces = _cells(results)
    cells = ["oppose" if r else "favor" for r in reduces]
    rows, parts = [], []
    for a, act in enumerate(S.ACTIVATIONS):
        cos = {k: per_seed(results, act, k, "cos") for k in KINDS}
        rel = {k: per_seed(results, act, k, "rel") for k in KINDS}
        l2 = {k: per_seed(results, act, k, "l2") for k in KINDS}
        for j, layer in enumerate(results["layers"]):
            dc, sc = S.paired(cos["bn"][:, j], cos["plain"][:, j])
            dr, sr = S.paired(rel["bn"][:, j], rel["plain"][:, j])
            dl, sl = S.paired(l2["bn"][:, j], l2["plain"][:, j])
            rows.append(f"{act} layer {layer}: Δcos (BN − no BN) {dc:+.3f} ± {sc:.3f}, "
                        f"relative ℓ2 BN/no BN 10^({dr:+.2f} ± {sr:.2f}), raw ℓ2 BN/no BN "
                        f"10^({dl:+.2f} ± {sl:.2f}) → BN "
                        f"{'reduces the shift' if reduces[a * 3 + j] else 'does not reduce it'}")
            parts.append(f"{act} L{layer} cos BN {S.pm(cos['bn'][:, j], 3)} vs no BN "
                         f"{S.pm(cos['plain'][:, j], 3)}, ‖G−G'‖/‖G‖ BN "
                         f"{S.pm(10 ** rel['bn'][:, j], 3, 'g')} vs "
                         f"{S.pm(10 ** rel['plain'][:, j], 3, 'g')}")
    numbers = "mean over training (± std over seeds): " + "; ".join(parts)
    acc = "; ".join(f"{act}: " + ", ".join(
        f"{LABELS[k]} {S.pm([r['test_accuracy'] for r in results['runs'][act][k]], 4)}"
        for k in KINDS) for act in S.ACTIVATIONS)
    detail = "\n\n".join([
        "Per cell (paired over seeds, ± standard error; ℓ2 ratios of geometric means over "
        "the probes): " + "; ".join(rows) + ".",
        f"Test accuracy after {results['steps']} steps: {acc}.",
        _reading(results),
        DETAIL])
    return {"numbers": numbers, "verdict": S.tally(cells), "detail": detail}


def _counts(results, start=0):
    """Per measure, in how many of the cells BN's value is beyond two standard errors on
    the side of less shift, and on the side of more."""
    out = []
    for key, name, lower_is_less in (("cos", "cosine", False), ("rel", "relative ℓ2", True),
                                     ("l2", "raw ℓ2 (the paper's)", True)):
        outcomes = []
        for act in S.ACTIVATIONS:
            bn = per_seed(results, act, "bn", key, start)
            plain = per_seed(results, act, "plain", key, start)
            outcomes += [S.outcome(bn[:, j], plain[:, j], lower_favors=lower_is_less)
                         for j in range(len(results["layers"]))]
        out.append(f"{name}: less shift with BN in {outcomes.count('favor')} of "
                   f"{len(outcomes)} cells, more in {outcomes.count('oppose')}")
    return "; ".join(out)


def _reading(results):
    late = round(results["steps"] / 4)
    return (f"Measure by measure, over all probes: {_counts(results)}. The rule counts a cell "
            f"against the claim only when both scale-free measures agree. Not part of the "
            f"rule: from step {late} on (after the plain sigmoid net's first plateau, where "
            f"its gradients barely move and its shift is tiny): {_counts(results, late)}; "
            f"BN reduces the shift on both in {sum(_cells(results, late))} of "
            f"{len(_cells(results, late))} cells.")


DETAIL = """Limits: an MNIST MLP, not VGG or a 25-layer linear net; the earlier layers take the
step SGD takes at the training learning rate, so the shift is the one training actually
causes, at one learning rate per activation; the claim is a negative one, so a cell where
three seeds cannot tell BN from no BN counts for it — the rule can only be failed by a clear
reduction."""


def smooth(v, width=10):
    """Running mean over ``width`` probes (shorter at the start)."""
    c = np.cumsum(np.insert(v, 0, 0.0, axis=0), axis=0)
    idx = np.arange(1, len(v) + 1)
    lo = np.maximum(idx - width, 0)
    return (c[idx] - c[lo]) / (idx - lo)[:, None]


def plot(plt, results):
    fig, axes = plt.subplots(2, 3, figsize=(16, 8.5))
    keys = (("cos", "cos(G, G')"), ("rel", "‖G − G'‖₂ / ‖G‖₂"), ("l2", "‖G − G'‖₂"))
    for row, act in enumerate(S.ACTIVATIONS):
        for col, (key, label) in enumerate(keys):
            ax = axes[row, col]
            for k in KINDS:
                runs = results["runs"][act][k]
                steps = np.array(runs[0]["steps"])
                vals = np.array([series(r, key) for r in runs])   # (seeds, probes, layers)
                m = vals.mean(0) if key == "cos" else 10 ** S.log10(vals).mean(0)
                m = smooth(m)
                for j, layer in enumerate(results["layers"]):
                    ax.plot(steps, m[:, j], color=COLORS[k][j], lw=1.1,
                            ls="-" if k == "bn" else "--",
                            label=f"{LABELS[k]}, layer {layer}")
            if key != "cos":
                ax.set_yscale("log")
            ax.set(xlabel="training step", ylabel=label,
                   title=f"({'abcdef'[3 * row + col]}) {act}: {label}")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7, ncol=2)
    fig.suptitle("Internal covariate shift as Santurkar et al. (2018, Definition 2.1) measure "
                 "it: layer i's weight gradient before (G) and after (G') the update of the "
                 f"layers before it; mean over {len(results['seeds'])} seeds, running mean "
                 "over 10 probes")
    fig.tight_layout()
