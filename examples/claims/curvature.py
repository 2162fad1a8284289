"""The top of the Hessian's spectrum along training, with and without BN (Ghorbani, Krishnan &
Xiao 2019): do large outlier eigenvalues appear without BN, and does BN remove them?

Protocol. The MNIST MLP 784-100-100-100-10 (`claims/_santurkar.py`), sigmoid (learning rate
0.5) and ReLU (0.1), with and without BN before each activation; within a seed both nets share
their initial Linear weights and batches. Each trains 2,000 steps of SGD with batch 60, 3
seeds. At steps 0, 100, 300, 1,000 and 2,000: the Hessian, with respect to all parameters
(99,710 without BN, 100,310 with), of the training loss as SGD defines it on a fixed set of 960
training images, the same for every net and seed: the mean of the cross-entropy over its 16
batches of 60 (the training batch size), each batch normalized by its own statistics in every
BN layer ("ghost batches"; Ghorbani et al. find that normalizing with population statistics
brings the outliers back, so the batch statistics are part of the loss measured). Its top
eigenvalues come from Lanczos with full reorthogonalization: 50 Hessian-vector products from
a seeded random start, each one `minigrad.autograd.functional.hvp` through the engine's double
backward; the 10 largest Ritz values are kept with their residual bounds |β_m·s_mi| (the
eigen-solver is tested against the exact Hessian and `numpy.linalg.eigvalsh` in
`tests/test_claims_b.py`). Measures: λ1, the largest eigenvalue, and λ1/λ10, how far the top
stands out from the tenth (with 10 classes the literature finds about 10 outliers above the
bulk, so λ10 stands near the bulk's edge).

Ghorbani et al. computed the whole spectral density by stochastic Lanczos quadrature on
ResNet-32 (CIFAR-10) and ResNet-18 (ImageNet); this is the top of the spectrum of an MLP on
MNIST at five points of training.

Prediction (Ghorbani et al.): without BN, large isolated eigenvalues appear early in training
and stay; with BN they are absent or much smaller, so both λ1 and λ1/λ10 are smaller with BN.

Verdict rule, fixed before the runs. For each activation and each of the two measures, each
seed's value is the mean of log10 of the measure over the trained points (steps > 0); the cell
favors the claim when BN's is below the plain net's by more than two standard errors of the
paired difference over seeds, opposes it when above by more than that, else is neutral. Over
the four cells: every cell favoring: reproduced; more favoring than opposing: partly; every
cell opposing: reversed; otherwise not reproduced.
"""
import time

import numpy as np
from _common import train_step
from threadpoolctl import threadpool_limits

import minigrad as mg
import minigrad.nn as nn
from claims import _santurkar as S
from minigrad.autograd.functional import hvp

NAME = "curvature"
TITLE = "Curvature: BN removes outlier eigenvalues"
CLAIM = ("Without BN, large isolated eigenvalues (outliers) appear in the training loss's "
         "Hessian early in training; BN removes them (Ghorbani, Krishnan & Xiao 2019).")
PROTOCOL = ("MNIST MLP 784-100×3-10, sigmoid and ReLU, with and without BN; SGD batch 60, "
            "2,000 steps; at 5 points, top-10 Hessian eigenvalues of the loss on 960 training "
            "images in 16 batches of 60 by Lanczos (50 hvp); λ1 and λ1/λ10; 3 seeds.")
KINDS, LABELS, COLORS = S.PAIRED, S.LABELS, S.COLORS
TOP = 10


def add_arguments(p):
    p.add_argument("--curvature-steps", type=int, default=2000,
                   help="curvature: training steps per net")
    p.add_argument("--curvature-lanczos", type=int, default=50,
                   help="curvature: Lanczos iterations (Hessian-vector products) per point")
    p.add_argument("--curvature-batches", type=int, default=16,
                   help="curvature: batches of 60 training images in the Hessian's loss")


def points(steps):
    return sorted({0, *(round(s * steps / 2000) for s in (100, 300, 1000, 2000))})


def lanczos(matvec, n, iterations, seed=0):
    """Lanczos with full reorthogonalization on the symmetric operator ``matvec`` (a float64
    vector of length ``n`` in, one out), from a random start drawn with ``seed``. Returns the
    Ritz values (ascending) and each one's residual bound ``|β_m s_mi|`` (0 when the Krylov
    space became invariant). NumPy's BLAS runs on one thread meanwhile: its own threads
    would fight minigrad's OpenMP team (see ``_santurkar.dot``)."""
    with threadpool_limits(1, user_api="blas"):
        return _lanczos(matvec, n, iterations, seed)


def _lanczos(matvec, n, iterations, seed):
    m = min(iterations, n)
    basis = np.zeros((m, n))
    q = np.random.default_rng(seed).standard_normal(n)
    q /= np.linalg.norm(q)
    alphas, betas, beta, prev = [], [], 0.0, np.zeros(n)
    for j in range(m):
        basis[j] = q
        w = matvec(q)
        alphas.append(float(q @ w))
        w = w - alphas[-1] * q - beta * prev
        for _ in range(2):   # twice is enough (Parlett's "twice is enough")
            w -= basis[:j + 1].T @ (basis[:j + 1] @ w)
        beta = float(np.linalg.norm(w))
        if j == m - 1 or beta <= 1e-12 * max(abs(a) for a in alphas):
            break
        betas.append(beta)
        prev, q = q, w / beta
    k = len(alphas)
    t = np.diag(alphas) + np.diag(betas[:k - 1], 1) + np.diag(betas[:k - 1], -1)
    values, vectors = np.linalg.eigh(t)
    residuals = np.abs(beta * vectors[-1]) if k < n and j == m - 1 else np.zeros(k)
    return values, residuals


def ghost_batch_loss(net, values, x, y, size):
    """The mean cross-entropy of ``net`` (a Sequential of Flatten, Linear, BatchNorm1d and
    activations) on ``x, y`` split into consecutive batches of ``size``, each normalized by
    its own statistics in every BN layer: the mean of the losses of ``net(batch)`` in
    training mode, in one pass. ``values`` maps parameter names to the tensors to use (as
    ``functional_call`` takes them). BN's running statistics are not touched."""
    if x.shape[0] % size:
        raise ValueError(f"ghost_batch_loss: {x.shape[0]} images are not batches of {size}")
    groups = x.shape[0] // size
    h = x
    for name, m in net.named_children():
        if isinstance(m, nn.Linear):
            h = nn.functional.linear(h, values[f"{name}.weight"], values.get(f"{name}.bias"))
        elif isinstance(m, nn.BatchNorm1d):
            # (groups·size, C) -> (size, groups·C): one channel per (batch, unit), so BN's
            # statistics over the rows are each batch's own
            c = h.shape[1]
            h = h.reshape(groups, size, c).transpose(0, 1).reshape(size, groups * c)
            h = nn.functional.batch_norm(h, None, None, values[f"{name}.weight"].repeat(groups),
                                         values[f"{name}.bias"].repeat(groups), training=True,
                                         eps=m.eps)
            h = h.reshape(size, groups, c).transpose(0, 1).reshape(groups * size, c)
        elif any(True for _ in m.parameters()):
            raise TypeError(f"ghost_batch_loss: no rule for {type(m).__name__}")
        else:
            h = m(h)
    return nn.functional.cross_entropy(h, y)


def hessian_operator(net, x, y, size=S.BATCH_SIZE):
    """(matvec, n): the Hessian of ``ghost_batch_loss`` (batches of ``size``) with respect to
    all of the net's parameters, as a function of a flat float64 vector, by
    ``autograd.functional.hvp``."""
    names = [name for name, _ in net.named_parameters()]
    params = tuple(p.detach() for p in net.parameters())
    shapes = [p.shape for p in params]
    sizes = [int(np.prod(s)) for s in shapes]
    dtype = params[0].array.dtype

    def loss(*values):
        return ghost_batch_loss(net, dict(zip(names, values)), x, y, size)

    def matvec(v):
        parts, at = [], 0
        for shape, n, p in zip(shapes, sizes, params):
            parts.append(mg.tensor(v[at:at + n].reshape(shape).astype(dtype), device=p.device))
            at += n
        _, hv = hvp(loss, params, tuple(parts))
        return np.concatenate([h.cpu().numpy().ravel() for h in hv]).astype(np.float64)

    return matvec, sum(sizes)


def spectrum(net, x, y, iterations, seed, size=S.BATCH_SIZE):
    """{"top": the TOP largest eigenvalues (descending), "residual": their bounds, "min":
    the smallest Ritz value} of the Hessian of the net's loss on x, y in batches of
    ``size``. The net is left as it was."""
    with S.probing(net):
        matvec, n = hessian_operator(net, x, y, size)
        values, residuals = lanczos(matvec, n, iterations, seed)
    order = np.argsort(values)[::-1][:TOP]
    return {"top": values[order].tolist(), "residual": residuals[order].tolist(),
            "min": float(values.min())}


def run(args, mnist):
    x_train, y_train = mnist[0], mnist[1]
    steps = 20 if args.quick else args.curvature_steps
    iterations = TOP + 2 if args.quick else args.curvature_lanczos
    n_images = S.BATCH_SIZE * (2 if args.quick else args.curvature_batches)
    xh, yh = S.subset(x_train, y_train, n_images)
    xh, yh = mg.tensor(xh, device=args.device), mg.tensor(yh, device=args.device)
    at = points(steps) if not args.quick else [0, steps]
    runs = {act: {k: [] for k in KINDS} for act in S.ACTIVATIONS}
    for act in S.ACTIVATIONS:
        for seed in args.seed_list:
            start = time.perf_counter()
            nets, optims = S.paired_training(KINDS, act, seed, args.device)
            rec = {k: {"steps": [], "top": [], "residual": [], "min": []} for k in KINDS}

            def measure(step):
                for k, net in nets.items():
                    s = spectrum(net, xh, yh, iterations, seed=seed)
                    rec[k]["steps"].append(step)
                    for key in ("top", "residual", "min"):
                        rec[k][key].append(s[key])

            if 0 in at:
                measure(0)
            for step, x, y in S.training_batches(x_train, y_train, steps, seed,
                                                 args.device, start=1):
                for k, net in nets.items():
                    train_step(net, optims[k], x, y)
                if step in at:
                    measure(step)
            for k in KINDS:
                runs[act][k].append(rec[k])
            print(f"curvature {act} seed {seed}: λ1 at step {steps} "
                  + ", ".join(f"{k} {rec[k]['top'][-1][0]:.3g}" for k in KINDS)
                  + f" ({time.perf_counter() - start:.0f} s)")
    return {"steps": steps, "points": at, "lanczos": iterations, "images": n_images,
            "top": TOP, "lr": S.LR, "batch_size": S.BATCH_SIZE,
            "seeds": list(args.seed_list), "runs": runs}


def measures(run):
    """{"lambda1": [...], "ratio": [...]} over the run's points."""
    top = np.array(run["top"])
    return {"lambda1": top[:, 0], "ratio": top[:, 0] / np.maximum(top[:, -1], 1e-30)}


def per_seed(results, act, kind, key):
    """Each seed's mean over the trained points (steps > 0) of log10 of the measure."""
    out = []
    for r in results["runs"][act][kind]:
        trained = np.array(r["steps"]) > 0
        out.append(S.log10(measures(r)[key][trained]).mean())
    return np.array(out)


def summarize(results):
    cells, parts, rows = [], [], []
    names = {"lambda1": "λ1", "ratio": f"λ1/λ{results['top']}"}
    for act in S.ACTIVATIONS:
        for key in ("lambda1", "ratio"):
            bn, plain = per_seed(results, act, "bn", key), per_seed(results, act, "plain", key)
            cells.append(S.outcome(bn, plain))
            d, se = S.paired(bn, plain)
            rows.append(f"{act}, {names[key]}: BN/no BN = 10^({d:+.2f} ± {se:.2f}) → "
                        f"{cells[-1]}")
            parts.append(f"{act} {names[key]} BN {S.pm(10 ** bn, 3, 'g')} vs no BN "
                         f"{S.pm(10 ** plain, 3, 'g')}")
    numbers = "geometric mean over trained points (± std over seeds): " + "; ".join(parts)
    final = []
    for act in S.ACTIVATIONS:
        for k in KINDS:
            tops = np.array([r["top"][-1] for r in results["runs"][act][k]])
            final.append(f"{act} {LABELS[k]}: " + ", ".join(f"{v:.3g}" for v in tops.mean(0)))
    rel = np.array([np.array(r["residual"]) / np.maximum(np.abs(r["top"]), 1e-30)
                    for act in S.ACTIVATIONS for k in KINDS for r in results["runs"][act][k]])
    init = "; ".join(
        f"{act} {LABELS[k]}: λ1 " + S.pm([measures(r)["lambda1"][0]
                                          for r in results["runs"][act][k]], 3, "g")
        + ", λ1/λ10 " + S.pm([measures(r)["ratio"][0] for r in results["runs"][act][k]], 3, "g")
        for act in S.ACTIVATIONS for k in KINDS if results["runs"][act][k][0]["steps"][0] == 0)
    detail = "\n\n".join([
        "Ratios BN / no BN of each seed's geometric mean over the trained points (mean ± "
        "standard error over seeds, log10 scale) and the cell's outcome: " + "; ".join(rows)
        + ".",
        f"Top {results['top']} eigenvalues at step {results['steps']} (mean over seeds): "
        + "; ".join(final) + ".",
        f"At step 0, before training (not part of the rule): {init}.",
        f"Convergence: the residual bound of a Ritz value, relative to the value, is at most "
        f"{rel[..., 0].max():.1e} for λ1 and {rel[..., -1].max():.1e} for λ{results['top']} "
        f"(median {np.median(rel[..., -1]):.1e}); a bound of r means an eigenvalue lies "
        f"within r times the value of the Ritz value, while the Ritz values themselves are lower bounds of the "
        f"top eigenvalues.",
        DETAIL])
    return {"numbers": numbers, "verdict": S.tally(cells), "detail": detail}


DETAIL = """Limits: the top ten eigenvalues, not the whole density, so "outlier" is read as "far
above the tenth eigenvalue" rather than "far outside the bulk"; a 784-100-100-100-10 MLP on
MNIST instead of ResNets on CIFAR-10 and ImageNet; one fixed set of 960 training images, not
the full training set; the Hessian is taken in the parameters' own units, and BN makes the
weights before it scale-invariant, so eigenvalues of the two nets are compared as Ghorbani et
al. compare them, not in a parametrization-free way."""


def plot(plt, results):
    fig, axes = plt.subplots(2, 3, figsize=(16, 8.5))
    for row, act in enumerate(S.ACTIVATIONS):
        for k in KINDS:
            runs = results["runs"][act][k]
            steps = np.maximum(np.array(runs[0]["steps"]), 1)
            for col, key in enumerate(("lambda1", "ratio")):
                logs = np.array([S.log10(measures(r)[key]) for r in runs])
                m, s = logs.mean(0), logs.std(0)
                ax = axes[row, col]
                ax.plot(steps, 10 ** m, "o-", color=COLORS[k], label=LABELS[k])
                ax.fill_between(steps, 10 ** (m - s), 10 ** (m + s), color=COLORS[k], alpha=0.2)
            ax = axes[row, 2]
            for i, r in enumerate(runs):
                ax.plot(np.arange(1, results["top"] + 1), r["top"][-1], "o-",
                        color=COLORS[k], alpha=0.7, ms=3,
                        label=LABELS[k] if i == 0 else None)
        n = results["top"]
        titles = [f"{act}: largest eigenvalue λ1", f"{act}: λ1 / λ{n}",
                  f"{act}: top {n} eigenvalues at step {results['steps']} (each seed)"]
        for col, ax in enumerate(axes[row]):
            if col < 2:
                ax.set(xscale="log", xlabel="training step (log; 0 at 1)")
            else:
                ax.set(xlabel="rank")
            ax.set(yscale="log", title=f"({'abcdef'[3 * row + col]}) {titles[col]}")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
    fig.suptitle(f"Top of the Hessian spectrum (Ghorbani et al. 2019): Lanczos, "
                 f"{results['lanczos']} Hessian-vector products, loss on {results['images']:,} "
                 f"training images in batches of {results['batch_size']}; mean ± std of log "
                 f"over {len(results['seeds'])} seeds")
    fig.tight_layout()
