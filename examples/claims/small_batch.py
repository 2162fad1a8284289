"""Small batches, where the statistics are few: BatchNorm1d after linear layers (b values per
statistic) and conv features on 3x3 maps, at normalization batches b = 2 to 64, against
GroupNorm, LayerNorm and BatchRenorm; BN evaluated with running (EMA), PreciseBN and batch
statistics; and Ghost BN at a large SGD batch.

**Protocol.** Wu & He's (2018) setup, as ``batch_size_study.py``: every SGD step takes 64
training images, and the batch-statistics layers normalize them in groups of b (b images
"per GPU"), so every b gets the same images, updates and learning rate, and only the batch
behind each statistic changes. BatchNorm does it with ``virtual_batch_size=b`` (Ghost BN,
strided groups; b = 64 is plain BN); BatchRenorm with ``batch_size_study.Workers``
(contiguous groups, normalized one after the other: its running statistics move once per
group, BN's once per step toward the groups' average). GroupNorm and LayerNorm normalize
each image by itself, so in this protocol b changes nothing they compute: each runs once
per seed and is drawn as a band across all b. Two nets:

- *MLP*: 784-100-100-100-10, norm then ReLU after each hidden Linear. BatchNorm1d sees b
  values per statistic. GroupNorm: 10 groups of 10 features; LayerNorm over the 100.
- *conv*: four Conv3x3-norm-ReLU blocks (8, 16, 32, 32 channels) on 28, 14, 7 and 3 pixel
  maps (2x2 max-pooling between them), global average pooling, Linear. Its BN layers see
  784b, 196b, 49b and 9b values per statistic. GroupNorm: 4 channels per group (as
  ``batch_size_study``); LayerNorm over (C, H, W).

SGD with momentum 0.9, weight decay 1e-4, peak lr 0.1 (0.05 x 64 / 32, as
``batch_size_study``), linear warmup over the first fifth of the steps, then cosine to
zero; 300 steps for the MLP and 150 for the conv net (19,200 and 9,600 images, drawn in
turn from all 60,000 in the same order for every configuration of a seed). BatchRenorm is
BatchNorm (rmax 1, dmax 0) during the warmup, then relaxed linearly to (3, 5) over the next
fifth (``batch_size_study.renorm_limits``). The same weights at initialization for every
normalizer and b of a seed. Test accuracy on the first 4,096 test images (divisible by
every b), mean and sample SD over the seeds (3; 2 in --quick), evaluated three ways:

1. *EMA*: eval mode, the running statistics (momentum 0.1) training left.
2. *PreciseBN* (BN only): ``minigrad.optim.swa_utils.update_bn`` (torch's semantics) on the
   final weights, over 32 batches of 64 training images, each normalized in groups of b as
   in training (Wu & Johnson's PreciseBN with the training batch size; 2,048 images, inside
   their 10^3 to 10^4), then eval mode.
3. *batch statistics*: the network as trained, in training mode: each group of b test
   images normalized by its own statistics (BatchRenorm with its r, d corrections).

*Ghost BN at a large batch* (Hoffer et al. 2017, §4.2), MLP only: 2 epochs of the 60,000
training images with (i) SGD batch 64, BN over 64; (ii) SGD batch 1024, BN over 1024;
(iii) SGD batch 1024, Ghost BN with ``virtual_batch_size=32`` (Hoffer's ratio, 128 of
4096). lr 0.05 x batch / 32 (Goyal et al.'s linear scaling, as above, not Hoffer's square
root), same warmup and cosine; eval-mode test accuracy.

**Predictions** (the literature's, written before the runs):

- Few values per statistic hurt BN (Wu & He 2018, Table 2: ResNet-50 error 23.6% at 32
  images per GPU, 34.7% at 2, GN ~24% at every size). The MLP's BN sees only b values:
  its accuracy should fall well below GN's and LN's at b = 2 and 4 and recover by 32-64.
  The conv net's BN sees 784b values in its first layer but 9b in its last; it should
  degrade too, less than the MLP.
- BatchRenorm (Ioffe 2017) should lose less than BN at small b.
- PreciseBN should be at least as good as EMA (Wu & Johnson 2021, §3: more accurate and
  more stable population statistics), here by little: the learning rate anneals to zero,
  so the EMA's last steps see almost the final weights.
- The train/test inconsistency (Wu & Johnson 2021, §4): at small b the network evaluated
  with batch statistics of b images should beat the same network with population
  statistics (EMA or PreciseBN), since it was trained on features normalized that way; at
  large b the population statistics should win or tie.
- Hoffer: at SGD batch 1024, Ghost BN (32) should test better than BN over 1024, closing
  part of the gap to SGD batch 64.

**Verdict rule** (MLP, where BN sees b values; a difference "counts" when it is at least
1 percentage point and twice the larger of the two seed SDs): (a) BN's EMA accuracy at
b = 2 is below its own at b = 64 and below both GN's and LN's; (b) at b = 2 the
batch-statistics accuracy is above the EMA one. Reproduced: (a) and (b); partly: one of
them; reversed: BN at b = 2 above BN at b = 64; otherwise not reproduced. The conv net,
BatchRenorm, PreciseBN and Ghost BN are reported beside it, outside the verdict.
"""
import math

import numpy as np
from _common import accuracy, batches, progress, train_step
from batch_size_study import Workers, renorm_limits, schedule

import minigrad as mg
import minigrad.nn as nn
from minigrad.optim.swa_utils import update_bn

NAME = "small_batch"
TITLE = "Small batches: few values per statistic"
CLAIM = ("BatchNorm degrades when each statistic comes from few values (Wu & He 2018: "
         "ResNet-50 error 23.6% → 34.7% from 32 to 2 images per GPU; GN flat), and at small "
         "batch the population statistics are inconsistent with training: evaluating with "
         "mini-batch statistics does better (Wu & Johnson 2021)")
PROTOCOL = ("MLP (BatchNorm1d: b values per statistic) and a conv net (last BN on 3×3 maps); "
            "64 images per SGD step normalized in groups of b = 2–64 (Ghost BN), vs GroupNorm, "
            "LayerNorm, BatchRenorm; evaluated with EMA, PreciseBN (update_bn) and batch "
            "statistics; Ghost BN at SGD batch 1024")

SGD_BATCH = 64
BASE_LR, REFERENCE_BATCH, WEIGHT_DECAY = 0.05, 32, 1e-4
NETS = ("mlp", "conv")
NORMS = ("BatchNorm", "BatchRenorm", "GroupNorm", "LayerNorm")
BATCH_STATISTICS = ("BatchNorm", "BatchRenorm")
CONV_WIDTHS, CONV_MAPS = (8, 16, 32, 32), (28, 14, 7, 3)

DEFAULT = dict(sizes=[2, 4, 8, 16, 32, 64], steps={"mlp": 300, "conv": 150}, test=4096,
               precise_batches=32, ghost_images=120_000, ghost_virtual=32, ghost_batch=1024)
QUICK = dict(sizes=[4, 64], steps={"mlp": 20, "conv": 4}, test=256, precise_batches=2,
             ghost_images=2048, ghost_virtual=32, ghost_batch=1024)


def norm_layer(norm, kind, channels, size, b):
    """The layer after a Linear (``kind`` 'mlp') or a convolution on ``size``-pixel maps."""
    two_d = kind == "conv"
    if norm == "BatchNorm":
        return (nn.BatchNorm2d if two_d else nn.BatchNorm1d)(channels, virtual_batch_size=b)
    if norm == "BatchRenorm":
        return Workers((nn.BatchRenorm2d if two_d else nn.BatchRenorm1d)(channels), b)
    if norm == "GroupNorm":
        return nn.GroupNorm(channels // 4 if two_d else 10, channels)
    return nn.LayerNorm([channels, size, size] if two_d else channels)


def build(kind, norm, b):
    if kind == "mlp":
        layers, fan_in = [nn.Flatten()], 784
        for width in (100, 100, 100):
            layers += [nn.Linear(fan_in, width), norm_layer(norm, kind, width, 0, b), nn.ReLU()]
            fan_in = width
        return nn.Sequential(*layers, nn.Linear(fan_in, 10))
    layers, c_in = [], 1
    for i, (c, size) in enumerate(zip(CONV_WIDTHS, CONV_MAPS)):
        layers += [nn.Conv2d(c_in, c, 3, padding=1, bias=False),
                   norm_layer(norm, kind, c, size, b), nn.ReLU()]
        if i < len(CONV_WIDTHS) - 1:
            layers.append(nn.MaxPool2d(2))
        c_in = c
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c_in, 10))


def values_per_statistic(kind, b):
    return [b] * 3 if kind == "mlp" else [b * s * s for s in CONV_MAPS]


def fit(net, x_train, y_train, sgd_batch, steps, seed, device):
    """SGD as the docstring says; returns the last fifth's mean loss, or None if diverged."""
    opt = mg.optim.SGD(net.parameters(), lr=BASE_LR * sgd_batch / REFERENCE_BATCH,
                       momentum=0.9, weight_decay=WEIGHT_DECAY)
    warmup = max(steps // 5, 1)
    sched = mg.optim.lr_scheduler.LambdaLR(opt, lambda step: schedule(step, warmup, steps))
    renorms = [m for m in net.modules() if isinstance(m, (nn.BatchRenorm1d, nn.BatchRenorm2d))]
    losses = []
    for step, idx in enumerate(batches(len(x_train), sgd_batch, steps, seed)):
        for m in renorms:
            m.rmax, m.dmax = renorm_limits(step, warmup)
        loss = train_step(net, opt, mg.tensor(x_train[idx]).to(device),
                          mg.tensor(y_train[idx]).to(device)).item()
        if not math.isfinite(loss):
            return None
        losses.append(loss)
        sched.step()
    return float(np.mean(losses[-warmup:]))


@mg.no_grad()
def batch_statistics_accuracy(net, images, labels, device, chunk=1024):
    """Accuracy in training mode: the layers split each chunk into their groups of b, so
    each group of b test images is normalized by its own statistics (moves the running
    statistics: call it after the eval-mode measurements)."""
    net.train()
    right = 0
    for start in range(0, len(images), chunk):
        x = mg.tensor(images[start:start + chunk]).to(device)
        right += int((net(x).argmax(1).cpu().numpy() == labels[start:start + chunk]).sum())
    net.eval()
    return right / len(images)


def run_one(kind, norm, b, seed, cfg, mnist, device):
    x_train, y_train, x_test, y_test = mnist
    x_test, y_test = x_test[:cfg["test"]], y_test[:cfg["test"]]
    mg.manual_seed(seed)
    net = build(kind, norm, b).to(device)
    steps = cfg["steps"][kind]
    loss = fit(net, x_train, y_train, SGD_BATCH, steps, seed, device)
    run = {"net": kind, "norm": norm, "b": b, "seed": seed, "steps": steps,
           "final_train_loss": loss, "diverged": loss is None,
           "ema": accuracy(net, x_test, y_test, device)}
    if norm in BATCH_STATISTICS:
        run["values_per_statistic"] = values_per_statistic(kind, b)
        run["batch_stats"] = batch_statistics_accuracy(net, x_test, y_test, device)
    if norm == "BatchNorm":
        rng = np.random.default_rng(10_000 + seed)
        picks = rng.choice(len(x_train), cfg["precise_batches"] * SGD_BATCH, replace=False)
        loader = [mg.tensor(x_train[p]).to(device) for p in picks.reshape(-1, SGD_BATCH)]
        update_bn(loader, net)   # PreciseBN: the running statistics recomputed
        run["precise"] = accuracy(net, x_test, y_test, device)
    return run


def run_ghost(arm, seed, cfg, mnist, device):
    """Hoffer's comparison on the MLP: (SGD batch, virtual batch) of one arm."""
    x_train, y_train, x_test, y_test = mnist
    sgd_batch, virtual = arm
    mg.manual_seed(seed)
    net = build("mlp", "BatchNorm", virtual).to(device)
    steps = cfg["ghost_images"] // sgd_batch
    loss = fit(net, x_train, y_train, sgd_batch, steps, seed, device)
    return {"sgd_batch": sgd_batch, "virtual_batch_size": virtual, "seed": seed,
            "steps": steps, "lr": BASE_LR * sgd_batch / REFERENCE_BATCH,
            "final_train_loss": loss, "diverged": loss is None,
            "ema": accuracy(net, x_test[:cfg["test"]], y_test[:cfg["test"]], device)}


def ghost_arms(cfg):
    big = cfg["ghost_batch"]
    return [(SGD_BATCH, SGD_BATCH), (big, big), (big, cfg["ghost_virtual"])]


def _key(b):
    return "any" if b is None else str(b)   # (per-image normalizers: any b)


def mean_sd(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    return [float(np.mean(values)), float(np.std(values, ddof=1)) if len(values) > 1 else 0.0]


def run(args, mnist):
    cfg = QUICK if args.quick else DEFAULT
    configs = [(kind, norm, b, seed) for seed in args.seed_list for kind in NETS
               for norm in NORMS
               for b in (cfg["sizes"] if norm in BATCH_STATISTICS else [None])]
    runs = []
    bar = progress(configs, NAME)
    for kind, norm, b, seed in bar:
        runs.append(run_one(kind, norm, b, seed, cfg, mnist, args.device))
        bar.set_postfix(net=kind, norm=norm, b=b, acc=f"{runs[-1]['ema']:.4f}")
    ghost = [run_ghost(arm, seed, cfg, mnist, args.device)
             for seed in args.seed_list for arm in ghost_arms(cfg)]
    table = {}
    for kind in NETS:
        for norm in NORMS:
            mine = [r for r in runs if r["net"] == kind and r["norm"] == norm]
            sizes = cfg["sizes"] if norm in BATCH_STATISTICS else [None]
            table.setdefault(kind, {})[norm] = {
                how: {_key(b): mean_sd([r.get(how) for r in mine if r["b"] == b])
                      for b in sizes}
                for how in ("ema", "precise", "batch_stats") if any(how in r for r in mine)}
    ghost_table = {f"{s}/{v}": mean_sd([r["ema"] for r in ghost
                                         if (r["sgd_batch"], r["virtual_batch_size"]) == (s, v)])
                   for s, v in ghost_arms(cfg)}
    return {"config": {**cfg, "sgd_batch": SGD_BATCH, "base_lr": BASE_LR,
                       "reference_batch": REFERENCE_BATCH, "weight_decay": WEIGHT_DECAY,
                       "conv_widths": list(CONV_WIDTHS), "conv_maps": list(CONV_MAPS)},
            "seeds": args.seed_list, "runs": runs, "accuracy": table,
            "ghost_runs": ghost, "ghost_accuracy": ghost_table}


# ---------------------------------------------------------------- the verdict and the report

def _counts(a, b):
    """Whether mean a exceeds mean b by at least 1 point and twice the larger SD."""
    return a[0] - b[0] >= max(0.01, 2 * max(a[1], b[1]))


def _pct(v):
    return f"{100 * v[0]:.1f} ± {100 * v[1]:.1f}%"


def verdict(results):
    """(verdict, the comparisons it rests on), by the rule in the docstring."""
    mlp = results["accuracy"]["mlp"]
    small, large = str(min(results["config"]["sizes"])), str(max(results["config"]["sizes"]))
    bn2, bn64 = mlp["BatchNorm"]["ema"][small], mlp["BatchNorm"]["ema"][large]
    gn, ln = mlp["GroupNorm"]["ema"]["any"], mlp["LayerNorm"]["ema"]["any"]
    batch2 = mlp["BatchNorm"]["batch_stats"][small]
    if None in (bn2, bn64, gn, ln, batch2):
        return "not reproduced", {}
    a = _counts(bn64, bn2) and _counts(gn, bn2) and _counts(ln, bn2)
    b = _counts(batch2, bn2)
    checks = {"degrades": a, "inconsistency": b}
    if _counts(bn2, bn64):
        return "reversed", checks
    return ("reproduced" if a and b else "partly" if a or b else "not reproduced"), checks


def summarize(results):
    acc = results["accuracy"]
    small, large = str(min(results["config"]["sizes"])), str(max(results["config"]["sizes"]))

    def row(net, label):
        t = acc[net]["BatchNorm"]
        return (f"{label} BN at b={small}: EMA {_pct(t['ema'][small])}, PreciseBN "
                f"{_pct(t['precise'][small])}, batch statistics {_pct(t['batch_stats'][small])}"
                f" (b={large}: EMA {_pct(t['ema'][large])}); GN "
                f"{_pct(acc[net]['GroupNorm']['ema']['any'])}, LN "
                f"{_pct(acc[net]['LayerNorm']['ema']['any'])}; BatchRenorm at b={small}: "
                f"EMA {_pct(acc[net]['BatchRenorm']['ema'][small])}")
    g = results["ghost_accuracy"]
    numbers = (row("mlp", "MLP") + ". " + row("conv", "Conv") + ". Ghost BN, MLP: "
               + ", ".join(f"SGD {k.split('/')[0]} BN over {k.split('/')[1]} {_pct(g[k])}"
                           for k in g)
               + f" (test accuracy, mean ± SD over {len(results['seeds'])} seeds)")
    v, checks = verdict(results)
    return {"numbers": numbers, "verdict": v, "detail": detail(results, checks)}


def _span(results, net, norm):
    accs = [r["ema"] for r in results["runs"] if (r["net"], r["norm"]) == (net, norm)]
    return f"{100 * min(accs):.1f} to {100 * max(accs):.1f}%"


def _loss(results, net, norm, b):
    losses = [r["final_train_loss"] for r in results["runs"]
              if (r["net"], r["norm"], r["b"]) == (net, norm, b) and not r["diverged"]]
    return float(np.mean(losses)) if losses else float("nan")


def detail(results, checks):
    """What the data show, in words written after the default run, with every number
    read from ``results`` (so a rerun, or --quick, reports its own)."""
    acc, cfg = results["accuracy"], results["config"]
    sizes, steps = cfg["sizes"], cfg["steps"]
    s, l = min(sizes), max(sizes)
    mlp, conv = acc["mlp"], acc["conv"]
    bn, cbn = mlp["BatchNorm"], conv["BatchNorm"]
    gn, ln = mlp["GroupNorm"]["ema"]["any"], mlp["LayerNorm"]["ema"]["any"]
    cgn, cln = conv["GroupNorm"]["ema"]["any"], conv["LayerNorm"]["ema"]["any"]

    def at(table, how, b):
        return table[how][str(b)]

    def loss(net, norm, b):
        return f"{_loss(results, net, norm, b):.2f}"

    above = [b for b in sizes if at(bn, "ema", b)[0] > max(gn[0], ln[0])]
    since = f"from b = {min(above)} on" if above else "at no b"
    conv_drop = 100 * (at(cbn, "ema", l)[0] - at(cbn, "ema", s)[0])

    def shortfall(t, b):   # population minus batch statistics
        return at(t, "ema", b)[0] - at(t, "batch_stats", b)[0]
    worse = [sum(shortfall(t, b) > 0 for b in sizes) for t in (bn, cbn)]
    most = ", most at small b" if all(shortfall(t, s) > shortfall(t, l) for t in (bn, cbn)) \
        else ""
    in_training = _loss(results, "mlp", "BatchNorm", s) > _loss(results, "mlp", "BatchNorm", l)

    same = not any(_counts(at(t, x, b), at(t, y, b)) for t in (bn, cbn) for b in sizes
                   for x, y in (("precise", "ema"), ("ema", "precise")))
    gap = max(abs(at(t, "precise", b)[0] - at(t, "ema", b)[0]) for t in (bn, cbn)
              for b in sizes)

    ren, cren = mlp["BatchRenorm"], conv["BatchRenorm"]

    big, virtual = cfg["ghost_batch"], cfg["ghost_virtual"]
    ghost = {}
    for key, cell in results["ghost_accuracy"].items():
        losses = [r["final_train_loss"] for r in results["ghost_runs"]
                  if f"{r['sgd_batch']}/{r['virtual_batch_size']}" == key and not r["diverged"]]
        ghost[key] = (cell, float(np.mean(losses)) if losses else float("nan"))
    ref, plain, gbn = (ghost[k] for k in (f"{SGD_BATCH}/{SGD_BATCH}", f"{big}/{big}",
                                          f"{big}/{virtual}"))
    if _counts(gbn[0], plain[0]):
        hoffer = "Hoffer's improvement is reproduced"
    elif _counts(plain[0], gbn[0]):
        hoffer = "Ghost BN is worse, the opposite of Hoffer's improvement"
    else:
        hoffer = "Hoffer's improvement is not reproduced (the two are within the spread)"
    trains = ("the large-batch gap is a gap in training, which ghost batches do not close"
              if min(plain[1], gbn[1]) > ref[1] else "the large batch trains as far")

    return "\n\n".join([
        f"The verdict's two tests on the MLP: BN degrades below its large-batch self and "
        f"below GN and LN at b = {s}: {'yes' if checks.get('degrades') else 'no'}; batch "
        f"statistics beat population statistics at b = {s} (the train/test inconsistency): "
        f"{'yes' if checks.get('inconsistency') else 'no'}.",

        f"**Few values per statistic.** After a Linear layer BN sees b values. At b = {s} "
        f"the MLP reaches {_pct(at(bn, 'ema', s))} (final training loss "
        f"{loss('mlp', 'BatchNorm', s)}; chance is 2.30), against {_pct(at(bn, 'ema', l))} at "
        f"b = {l}. Two values normalize to ±1 (up to eps) whatever they are, so at b = 2 every BN "
        f"feature carries only the sign of a difference between two images, and the net can "
        f"hardly fit its training batches. BN's mean is above GN's ({_pct(gn)}) and LN's "
        f"({_pct(ln)}) {since}. The conv net, whose first BN sees 784b values and its last "
        f"9b, loses {conv_drop:.1f} points from b = {l} to b = {s} "
        f"({_pct(at(cbn, 'ema', l))} → {_pct(at(cbn, 'ema', s))}); GN reaches {_pct(cgn)} "
        f"and LN {_pct(cln)} (seeds from {_span(results, 'conv', 'LayerNorm')}), with final "
        f"training losses of {loss('conv', 'GroupNorm', None)} and "
        f"{loss('conv', 'LayerNorm', None)} against BN's {loss('conv', 'BatchNorm', l)} at "
        f"b = {l}: in {steps['conv']} steps the per-image normalizers train more slowly "
        f"here, so this short budget favours BN and says nothing about GN or LN at "
        f"convergence.",

        f"**Train/test inconsistency: "
        f"{'as predicted' if checks.get('inconsistency') else 'not as predicted'}.** "
        f"Evaluated with the statistics of b test images, as it was trained, the network is "
        f"worse than with population statistics at {worse[0]} of {len(sizes)} batch sizes "
        f"in the MLP and {worse[1]} of {len(sizes)} in the conv net{most}: "
        f"{_pct(at(bn, 'batch_stats', s))} against {_pct(at(bn, 'ema', s))} (MLP, b = {s}), "
        f"{_pct(at(cbn, 'batch_stats', s))} against {_pct(at(cbn, 'ema', s))} (conv). The "
        f"MLP's final training loss, with batch statistics, is {loss('mlp', 'BatchNorm', s)} "
        f"at b = {s} against {loss('mlp', 'BatchNorm', l)} at b = {l}"
        + (": the damage of small batches is done in training, and population statistics "
           "partly repair it at test time, likely by giving the features back the "
           "magnitudes that statistics of a few values take away." if in_training else ".")
        + " Wu & Johnson measured their inconsistency on ImageNet, where even 2 images give "
          "each statistic thousands of values.",

        f"**PreciseBN against EMA.** update_bn's population statistics and the running "
        f"averages give {'the same accuracy within' if same else 'accuracies outside'} the "
        f"seed spread (largest gap over b and nets {100 * gap:.2f} points), "
        f"{'as predicted' if same else 'not as predicted'}: the learning rate anneals to "
        f"zero, so the EMA's last steps see nearly the final weights, and Ghost BN's running "
        f"statistics average the {SGD_BATCH}/b groups of each step, so they are less noisy "
        f"than one GPU's would be. Wu & Johnson's EMA failures (large batches, few steps per "
        f"epoch) are not tested here.",

        f"**BatchRenorm** at b = {s}: {_pct(at(ren, 'ema', s))} in the MLP (BN: "
        f"{_pct(at(bn, 'ema', s))}), {_pct(at(cren, 'ema', s))} in the conv net (BN: "
        f"{_pct(at(cbn, 'ema', s))}); at b = {l} in the conv net {_pct(at(cren, 'ema', l))}, "
        f"with a final training loss of {loss('conv', 'BatchRenorm', l)} against "
        f"{loss('conv', 'BatchRenorm', s)} at b = {s}. Its b is confounded with the "
        f"simulation: its groups run one after the other and move the running statistics "
        f"once per group, {SGD_BATCH // s} times per step at b = {s} but once at b = {l}, "
        f"and BatchRenorm corrects the batch statistics toward the running ones, so at "
        f"large b it pulls toward older statistics. This study does not separate the two.",

        f"**Ghost BN at a large batch** (Hoffer et al.): at SGD batch {big}, BN over "
        f"{virtual} reaches {_pct(gbn[0])} and BN over {big} {_pct(plain[0])}, against "
        f"{_pct(ref[0])} at SGD batch {SGD_BATCH}: {hoffer}. After "
        f"{cfg['ghost_images'] // big} steps the final training losses are {plain[1]:.2f} "
        f"(BN over {big}) and {gbn[1]:.2f} (ghost) against {ref[1]:.2f} at SGD batch "
        f"{SGD_BATCH}: {trains}. Hoffer's gains came with square-root learning-rate scaling "
        f"(ours is linear, as in the rest of this study) and far longer training (here "
        f"{cfg['ghost_images'] / 60000:.2g} epochs).",

        f"Limits: MNIST and small nets trained for {steps['mlp']} (MLP) and {steps['conv']} "
        f"(conv) steps, one learning rate for every normalizer (not tuned per method), "
        f"{cfg['test']:,} test images (a binomial SD of about 0.3 points at 95%), "
        f"{len(results['seeds'])} seeds."])


def plot(plt, results):
    sizes = results["config"]["sizes"]
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.8),
                             gridspec_kw={"width_ratios": [1.15, 1.15, 0.7]})
    styles = {("BatchNorm", "ema"): ("C0", "o-", "BN, EMA"),
              ("BatchNorm", "precise"): ("C0", "s--", "BN, PreciseBN"),
              ("BatchNorm", "batch_stats"): ("C0", "^:", "BN, batch statistics"),
              ("BatchRenorm", "ema"): ("C1", "o-", "BatchRenorm, EMA"),
              ("BatchRenorm", "batch_stats"): ("C1", "^:", "BatchRenorm, batch statistics")}
    for ax, kind, title in zip(axes, NETS, ("MLP: BatchNorm1d sees b values",
                                            "Conv net: last BN sees 9b values (3×3 maps)")):
        t = results["accuracy"][kind]
        for (norm, how), (color, fmt, label) in styles.items():
            cells = [t[norm][how][str(b)] for b in sizes]
            ok = [(b, c) for b, c in zip(sizes, cells) if c is not None]
            ax.errorbar([b for b, _ in ok], [100 * c[0] for _, c in ok],
                        yerr=[100 * c[1] for _, c in ok], fmt=fmt, color=color, capsize=3,
                        label=label)
        for norm, color in (("GroupNorm", "C2"), ("LayerNorm", "C3")):
            m, s = t[norm]["ema"]["any"]
            ax.axhline(100 * m, color=color, lw=1.5, label=f"{norm} (any b)")
            ax.axhspan(100 * (m - s), 100 * (m + s), color=color, alpha=0.15)
        ax.set_xscale("log", base=2)
        ax.set_xticks(sizes, [str(s) for s in sizes])
        ax.set(xlabel="b: images per normalization (SGD batch 64)",
               ylabel="test accuracy %, mean ± SD", title=title)
        ax.grid(alpha=0.3, which="both")
    axes[0].legend(fontsize=8, loc="lower right")
    g = results["ghost_accuracy"]
    labels = []
    for key in g:
        sgd, over = key.split("/")
        labels.append(f"SGD {sgd}\n{'BN' if sgd == over else 'ghost'} {over}")
    ax = axes[2]
    ax.bar(range(len(g)), [100 * v[0] for v in g.values()],
           yerr=[100 * v[1] for v in g.values()], capsize=4, color=["C0", "C7", "C4"])
    low = min(100 * (v[0] - v[1]) for v in g.values())
    ax.set_ylim(max(low - 1.0, 0), 100)
    ax.set_xticks(range(len(g)), labels)
    ax.set(ylabel="test accuracy % (EMA), mean ± SD",
           title=f"Ghost BN at a large batch (MLP,\n{results['config']['ghost_images']:,} "
                 f"images)")
    ax.grid(alpha=0.3, axis="y")
    fig.suptitle(f"Small batches on MNIST, {len(results['seeds'])} seeds per point")
