"""Batch size vs normalization: which normalizers survive small batches (Wu & He 2018).

BatchNorm normalizes with the statistics of the batch in training and with running averages
of them at test time; with a handful of images per batch the former are noisy and differ
systematically from the latter. GroupNorm, LayerNorm and InstanceNorm normalize each image
by itself; BatchRenorm corrects the batch statistics toward the running ones. Wu & He
(Table 2: ResNet-50 on ImageNet) found BN's error rising from 23.6% at 32 images per GPU
to 34.7% at 2, while GN stays at ~24%.

The protocol is theirs, shrunk to a small conv net (Conv-norm-ReLU-pool twice, then a
linear layer) on MNIST. In Wu & He the batch size is the number of images per GPU: BN's
statistics come from those images, while each SGD step averages the gradients of 8 GPUs.
Here likewise each SGD step takes --sgd-batch images (64) and the normalization layers see
them in groups of the studied batch size ("workers", normalized one after the other).
Every run then has the same data, updates and learning rate, and only the normalization
batch changes. The per-image normalizers run in the same groups at every batch size too:
what they compute does not depend on the grouping, and their runs show it (they differ
only by the rounding of summing their parameters' gradients group by group, which
training amplifies a little). --sgd-batch 0 instead makes each step one batch of the
studied size, with the learning rate scaled linearly with it: small batches then also
make more, noisier updates, and large ones need more epochs to converge (e.g. --epochs 12).

In both, every run trains for the same number of epochs of --epoch-images images, drawn
in turn from all 60000 so that every configuration sees the same images in the same order;
the learning rate is --lr x (images per SGD step) / 32 (Goyal et al.'s linear scaling, as
Wu & He), warmed up linearly over the first epoch, then cosine-annealed to zero. Test error
is measured in eval mode (running statistics) on the whole test set, over several seeds.
For the batch-statistics layers the script also reports the test error of the same network
in training mode, each group of test images normalized by itself as in training: the
network as it was trained, without the running averages.

    python examples/batch_size_study.py          # 6 norms x 6 batch sizes x 3 seeds, ~11 min
    python examples/batch_size_study.py --quick  # 3 batch sizes, 2 seeds, a smoke test
"""
import math

import numpy as np
from _common import (accuracy, batches, load_mnist, parser, progress, save, setup,
                     small_cnn, train_step)

import minigrad as mg
import minigrad.nn as nn

# name -> factory(channels, spatial size) of the layer after each convolution
NORMALIZERS = {
    "BatchNorm": lambda c, size: nn.BatchNorm2d(c),
    "BatchRenorm": lambda c, size: nn.BatchRenorm2d(c),   # rmax, dmax ramped up: see train
    "GroupNorm": lambda c, size: nn.GroupNorm(max(c // 4, 1), c),   # 4 channels per group
    "LayerNorm": lambda c, size: nn.LayerNorm([c, size, size]),
    "InstanceNorm": lambda c, size: nn.InstanceNorm2d(c, affine=True),
    "BatchLayerNorm": lambda c, size: nn.BatchLayerNorm2d(c),
}

# the layers that normalize with batch statistics in training (and running ones in eval);
# the others normalize each image by itself
BATCH_STATISTICS = {"BatchNorm", "BatchRenorm", "BatchLayerNorm"}

WIDTHS = (8, 16)          # channels of the two convolutions
REFERENCE_BATCH = 32      # the SGD batch at which the learning rate is --lr


class Workers(nn.Module):
    """``layer`` applied to consecutive groups of ``size`` images, one after the other, as
    on ``len(x) / size`` GPUs that each normalize their own images (Wu & He's setup). The
    running statistics move once per group. In eval mode the groups would all use the same
    running statistics, so the whole batch goes through at once."""

    def __init__(self, layer, size):
        super().__init__()
        self.layer, self.size = layer, size

    def forward(self, x):
        if not self.training or len(x) <= self.size:
            return self.layer(x)
        return mg.cat([self.layer(x[i:i + self.size]) for i in range(0, len(x), self.size)])


def build(norm, batch, sgd_batch, seen):
    """The net, its ``norm`` layers normalizing groups of ``batch`` images; ``seen`` collects
    how many images those layers receive at a time in training mode."""
    def make(c, size):
        layer = NORMALIZERS[norm](c, size)
        layer.register_forward_pre_hook(
            lambda module, args: seen.add(len(args[0])) if module.training else None)
        return Workers(layer, batch) if sgd_batch > batch else layer
    return small_cnn(make, WIDTHS)


def schedule(step, warmup, total):
    """Learning-rate factor: linear warmup over ``warmup`` steps, then cosine to zero."""
    if step < warmup:
        return (step + 1) / warmup
    return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(total - warmup, 1)))


def renorm_limits(step, steps_per_epoch):
    """BatchRenorm's (rmax, dmax): plain BatchNorm (1, 0) during the warmup epoch, then
    relaxed linearly to (3, 5) over the next epoch, as Ioffe (2017) relaxes them."""
    t = min(max(step / steps_per_epoch - 1, 0.0), 1.0)
    return 1 + 2 * t, 5 * t


def train(norm, batch, seed, args, data):
    """One run: ``norm`` layers normalizing groups of ``batch`` images. Returns its record."""
    x_train, y_train, x_test, y_test = data
    sgd_batch = args.sgd_batch or batch
    mg.manual_seed(seed)
    seen = set()
    net = build(norm, batch, sgd_batch, seen).to(args.device)
    lr = args.lr * sgd_batch / REFERENCE_BATCH
    opt = mg.optim.SGD(net.parameters(), lr=lr, momentum=0.9,
                       weight_decay=args.weight_decay)
    steps_per_epoch = args.epoch_images // sgd_batch
    steps = args.epochs * steps_per_epoch
    sched = mg.optim.lr_scheduler.LambdaLR(
        opt, lambda step: schedule(step, steps_per_epoch, steps))
    renorms = [m for m in net.modules() if isinstance(m, nn.BatchRenorm2d)]
    losses = []
    for step, idx in enumerate(batches(len(x_train), sgd_batch, steps, seed)):
        for m in renorms:
            m.rmax, m.dmax = renorm_limits(step, steps_per_epoch)
        loss = train_step(net, opt, mg.tensor(x_train[idx]).to(args.device),
                          mg.tensor(y_train[idx]).to(args.device)).item()
        if not math.isfinite(loss):
            break
        losses.append(loss)
        sched.step()
    run = {"batch_size": batch, "seed": seed, "sgd_batch": sgd_batch, "lr": lr,
           "steps": steps, "images": steps * sgd_batch, "diverged": len(losses) < steps,
           "normalized_batch": sorted(seen),   # what the layers really saw in training
           "final_train_loss": float(np.mean(losses[-steps_per_epoch:])) if losses else None,
           "test_error": 1 - accuracy(net, x_test, y_test, args.device)}
    if norm in BATCH_STATISTICS:
        run["train_mode_test_error"] = train_mode_error(net, x_test, y_test, batch,
                                                        args.device)
    return run


@mg.no_grad()
def train_mode_error(net, images, labels, batch, device, chunk=1024):
    """Test error with every group of ``batch`` test images normalized by its own
    statistics, as in training (this moves the running statistics: call it last)."""
    net.train()
    # Workers layers split a forward into groups of ``batch`` themselves
    grouped = any(isinstance(m, Workers) for m in net.modules())
    step = chunk // batch * batch if grouped else batch
    wrong = total = 0
    for start in range(0, len(images) // batch * batch, step):
        x = mg.tensor(images[start:start + step]).to(device)
        wrong += int((net(x).argmax(1).cpu().numpy() != labels[start:start + step]).sum())
        total += len(x)
    return wrong / total


def summary(runs, key="test_error"):
    """{batch size: (mean, std over seeds)} of ``key`` for one normalizer's runs."""
    by_batch = {}
    for run in runs:
        if run.get(key) is not None:
            by_batch.setdefault(run["batch_size"], []).append(run[key])
    return {b: (float(np.mean(v)), float(np.std(v, ddof=1)) if len(v) > 1 else 0.0)
            for b, v in by_batch.items()}


def print_table(title, table, sizes):
    print(title)
    print(f"{'':>14}" + "".join(f"{'batch ' + str(b):>14}" for b in sizes))
    for norm, row in table.items():
        print(f"{norm:>14}" + "".join(f"{100 * row[b][0]:>8.2f} ±{100 * row[b][1]:>4.2f}"
                                      for b in sizes))


def main():
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[2, 4, 8, 16, 32, 64],
                   help="images per normalization (per worker)")
    p.add_argument("--sgd-batch", type=int, default=64,
                   help="images per SGD step, split into workers of each batch size; "
                        "0: one batch of the studied size per step")
    p.add_argument("--norms", nargs="+", default=list(NORMALIZERS), choices=list(NORMALIZERS),
                   help="normalizers to compare")
    p.add_argument("--seeds", type=int, default=3,
                   help="runs per configuration (seeds --seed, --seed + 1, ...)")
    p.add_argument("--epochs", type=int, default=5,
                   help="epochs per run (5: the default run takes ~11 minutes on 2 cores)")
    p.add_argument("--epoch-images", type=int, default=3200,
                   help="training images per epoch (drawn in turn from all 60000)")
    p.add_argument("--lr", type=float, default=0.05,
                   help=f"peak SGD lr at {REFERENCE_BATCH} images per step, scaled linearly")
    p.add_argument("--weight-decay", type=float, default=1e-4, help="SGD weight decay")
    args = p.parse_args()
    test_size = None
    if args.quick:
        args.batch_sizes, args.seeds, args.epochs, args.epoch_images = [2, 8, 32], 2, 3, 512
        test_size = 2000
    if args.sgd_batch and any(args.sgd_batch % b for b in args.batch_sizes):
        p.error(f"--sgd-batch {args.sgd_batch} must be a multiple of every batch size")
    setup(args)
    x_train, y_train, x_test, y_test = load_mnist(args)
    data = x_train, y_train, x_test[:test_size], y_test[:test_size]
    seeds = [args.seed + i for i in range(args.seeds)]
    runs = {norm: [] for norm in args.norms}
    configs = [(n, b, s) for s in seeds for n in args.norms for b in args.batch_sizes]
    study = progress(configs, "batch_size_study")
    for norm, batch, seed in study:
        runs[norm].append(train(norm, batch, seed, args, data))
        study.set_postfix(norm=norm, batch=batch, seed=seed,
                          err=f"{runs[norm][-1]['test_error']:.4f}")
    table = {norm: summary(r) for norm, r in runs.items()}
    protocol = (f"{args.sgd_batch} images per SGD step, normalized in groups of the batch "
                f"size" if args.sgd_batch else "one batch per SGD step, lr ∝ batch size")
    print(f"{protocol}; {args.epochs} epochs of {args.epoch_images} images")
    print_table(f"test error % (eval mode, running statistics), mean ± std over {len(seeds)} "
                f"seeds, {len(data[3])} test images", table, args.batch_sizes)
    train_mode = {n: summary(r, "train_mode_test_error") for n, r in runs.items()
                  if n in BATCH_STATISTICS}
    if train_mode:
        print_table("test error % in training mode (each group of test images normalized "
                    "by itself)", train_mode, args.batch_sizes)
    save(args, "batch_size_study", {
        "sgd_batch": args.sgd_batch, "epochs": args.epochs, "epoch_images": args.epoch_images,
        "base_lr": args.lr, "reference_batch": REFERENCE_BATCH,
        "weight_decay": args.weight_decay, "widths": list(WIDTHS), "seeds": seeds,
        "batch_sizes": args.batch_sizes, "test_images": len(data[3]), "runs": runs,
        "test_error": {n: {str(b): v for b, v in t.items()} for n, t in table.items()},
        "train_mode_test_error": {n: {str(b): v for b, v in t.items()}
                                  for n, t in train_mode.items()}}, plot)


def plot(plt, r):
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    sizes = r["batch_sizes"]
    for i, (norm, row) in enumerate(r["test_error"].items()):
        mean = [100 * row[str(b)][0] for b in sizes]
        std = [100 * row[str(b)][1] for b in sizes]
        per_image = norm not in BATCH_STATISTICS
        ax.errorbar(sizes, mean, yerr=std, fmt="os^vDP"[i % 6] + ("--" if per_image else "-"),
                    capsize=3, color=f"C{i}", label=norm + (" (per image)" if per_image else ""))
    ax.set_xscale("log", base=2)
    ax.set_xticks(sizes, [str(s) for s in sizes])
    step = (f"{r['sgd_batch']} images per SGD step" if r["sgd_batch"]
            else "one batch per SGD step, lr ∝ batch")
    ax.set(xlabel="batch size (images per normalization)",
           ylabel="test error % (eval mode), mean ± std",
           title=f"Small conv net on MNIST, {step},\n{r['epochs']} epochs of "
                 f"{r['epoch_images']} images, {len(r['seeds'])} seeds per point")
    ax.grid(alpha=0.3, which="both")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1))


if __name__ == "__main__":
    main()
