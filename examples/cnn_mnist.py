"""A Conv -> BatchNorm -> ReLU network to >= 99% MNIST test accuracy, then BN folding.

After training, each BatchNorm is folded into the convolution or linear layer before it
(eval mode: W' = W * gamma / sqrt(var + eps), b' = (b - mean) * gamma / sqrt(var + eps) +
beta). The folded network must predict exactly what the original predicts; the script
checks that on the whole test set and reports the eval-mode inference speedup at batch 1
and batch 256 (median of several timed passes after a warm-up) over two unfolded models:
the trained one as it is, whose BatchNorm layers run ``F.batch_norm`` (normalize, scale
and shift in one fused per-channel kernel pass), and the same model with BatchNorm written
out in elementwise tensor ops as in Algorithm 1 ((x - mean) / sqrt(var + eps) * gamma +
beta: a pass over the activations per operation).

    python examples/cnn_mnist.py                 # 2 epochs, a few minutes on 2 cores
"""
import copy

import numpy as np
from _common import (Timer, Training, accuracy, batches, load_mnist, parser, predict, save,
                     setup, train_step)

import minigrad as mg
import minigrad.nn as nn


def conv_bn_net(layers=nn):
    """``layers`` is the module namespace to build from (``torch.nn`` works too)."""
    L = layers
    return L.Sequential(
        L.Conv2d(1, 32, 3, padding=1, bias=False), L.BatchNorm2d(32), L.ReLU(),
        L.MaxPool2d(2),
        L.Conv2d(32, 64, 3, padding=1, bias=False), L.BatchNorm2d(64), L.ReLU(),
        L.MaxPool2d(2),
        L.Flatten(),
        L.Linear(64 * 7 * 7, 128, bias=False), L.BatchNorm1d(128), L.ReLU(),
        L.Linear(128, 10))


def fold_batchnorm(model):
    """A copy of ``model`` (in eval mode) with every Conv/Linear -> BatchNorm pair fused."""
    layers = list(model.eval())
    folded = []
    for layer in layers:
        if isinstance(layer, nn.modules.normalization._BatchNorm):
            prev = folded.pop()
            fuse = nn.utils.fuse_conv_bn_eval if isinstance(prev, nn.Conv2d) \
                else nn.utils.fuse_linear_bn_eval
            folded.append(fuse(prev, layer))
        else:
            folded.append(copy.deepcopy(layer))
    return nn.Sequential(*folded).eval()


class ElementwiseBatchNorm(nn.Module):
    """A trained BatchNorm's eval-mode map written out in broadcasting elementwise ops,
    without the fused per-channel kernel: what folding saves when BN is written by hand."""

    def __init__(self, bn):
        super().__init__()
        view = (1, -1) + (1,) * (2 if isinstance(bn, nn.BatchNorm2d) else 0)
        for name, t in (("mean", bn.running_mean), ("var", bn.running_var),
                        ("weight", bn.weight), ("bias", bn.bias)):
            self.register_buffer(name, mg.tensor(t.detach().cpu().numpy().reshape(view)))
        self.eps = bn.eps

    def forward(self, x):
        return (x - self.mean) / mg.sqrt(self.var + self.eps) * self.weight + self.bias


def elementwise_batchnorm(model):
    """A copy of ``model`` (in eval mode) with every BatchNorm as ElementwiseBatchNorm."""
    return nn.Sequential(*[ElementwiseBatchNorm(layer)
                           if isinstance(layer, nn.modules.normalization._BatchNorm)
                           else copy.deepcopy(layer) for layer in model.eval()]).eval()


@mg.no_grad()
def seconds_per_batch(nets, images, batch, repeats, device):
    """{name: seconds per forward of ``batch`` images} for each net in ``nets``: the median
    over ``repeats`` timed passes over ``images`` (after one untimed warm-up pass), the nets
    taking turns within each repeat so that a change in the machine's load hits them all."""
    xs = [mg.tensor(images[i:i + batch]).to(device)
          for i in range(0, len(images) // batch * batch, batch)]
    times = {name: [] for name in nets}
    for repeat in range(repeats + 1):
        for name, net in nets.items():
            with Timer() as t:
                for x in xs:
                    net(x).cpu()         # .cpu(): wait for a GPU to finish
            if repeat:
                times[name].append(t.seconds / len(xs))
    return {name: float(np.median(ts)) for name, ts in times.items()}


def main():
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=2, help="passes over the training set")
    p.add_argument("--batch-size", type=int, default=64, help="images per step")
    p.add_argument("--lr", type=float, default=0.1, help="peak lr of the one-cycle schedule")
    p.add_argument("--weight-decay", type=float, default=5e-4, help="SGD weight decay")
    args = p.parse_args()
    setup(args)
    x_train, y_train, x_test, y_test = load_mnist(args)
    steps = args.epochs * (len(x_train) // args.batch_size)
    evals = 10
    if args.quick:
        steps, evals, x_test, y_test = 40, 2, x_test[:1000], y_test[:1000]

    model = conv_bn_net().to(args.device)
    opt = mg.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, nesterov=True,
                       weight_decay=args.weight_decay)
    sched = mg.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=steps)
    history = {"step": [], "loss": [], "test_accuracy": []}
    eval_every = max(steps // evals, 1)
    running = []
    bar = Training(steps, "cnn_mnist")
    order = batches(len(x_train), args.batch_size, steps, args.seed)
    for step, idx in enumerate(order, start=1):
        loss = train_step(model, opt, mg.tensor(x_train[idx]).to(args.device),
                          mg.tensor(y_train[idx]).to(args.device))
        sched.step()
        running.append(loss.item())
        bar.step(loss=running[-1])
        if step % eval_every == 0 or step == steps:
            with bar.paused():
                history["step"].append(step)
                history["loss"].append(float(np.mean(running)))
                history["test_accuracy"].append(accuracy(model, x_test, y_test, args.device))
                running.clear()
                bar.show(test_acc=history["test_accuracy"][-1])
    bar.close()
    train_seconds = bar.seconds                # evaluations left out
    final_acc = history["test_accuracy"][-1]
    print(f"trained {steps} steps in {train_seconds:.1f} s (evaluations not counted); "
          f"test accuracy {final_acc:.4f}")

    model.eval()
    folded = fold_batchnorm(model)
    with mg.no_grad():
        x = mg.tensor(x_test[:1000]).to(args.device)
        logit_diff = float(np.abs((model(x) - folded(x)).cpu().numpy()).max())
    original = predict(model, x_test, args.device)
    fused = predict(folded, x_test, args.device)
    identical = bool((original == fused).all())
    print(f"BN folded: predictions identical on {len(x_test)} images: {identical} "
          f"(max |logit difference| {logit_diff:.2e})")
    nets = {"bn": model, "elementwise_bn": elementwise_batchnorm(model).to(args.device),
            "folded": folded}
    with mg.no_grad():
        elementwise_diff = float(np.abs((model(x) - nets["elementwise_bn"](x))
                                        .cpu().numpy()).max())
    repeats = 3 if args.quick else 9
    timing, speedup = {}, {}
    print(f"eval-mode inference, ms per batch (median of {repeats} interleaved passes after "
          f"a warm-up):")
    print(f"{'batch':>6} {'BatchNorm2d':>12} {'elementwise BN':>15} {'folded':>8}   "
          f"folding vs BatchNorm2d / vs elementwise BN")
    for batch, count in ((1, 20 if args.quick else 200), (256, 512 if args.quick else 2048)):
        timing[str(batch)] = t = seconds_per_batch(nets, x_test[:count], batch, repeats,
                                                   args.device)
        speedup[str(batch)] = {"vs_bn": t["bn"] / t["folded"],
                               "vs_elementwise_bn": t["elementwise_bn"] / t["folded"]}
        print(f"{batch:>6} {1e3 * t['bn']:>12.3f} {1e3 * t['elementwise_bn']:>15.3f} "
              f"{1e3 * t['folded']:>8.3f}   {faster_or_slower(t['bn'] / t['folded'])} / "
              f"{faster_or_slower(t['elementwise_bn'] / t['folded'])}")
    if not identical:
        raise SystemExit("folding changed a prediction")
    save(args, "cnn_mnist", {"steps": steps, "epochs": args.epochs,
                             "batch_size": args.batch_size, "max_lr": args.lr,
                             "train_seconds": train_seconds, "final_accuracy": final_acc,
                             "history": history,
                             "fold": {"identical_predictions": identical,
                                      "max_logit_difference": logit_diff,
                                      "elementwise_max_logit_difference": elementwise_diff,
                                      "test_images": len(x_test), "timing_repeats": repeats,
                                      "seconds_per_batch": timing, "speedup": speedup}},
         plot)


def faster_or_slower(speedup):
    """'1.09x faster' or, for a speedup below 1, '1.79x slower'."""
    return f"{speedup:.2f}x faster" if speedup >= 1 else f"{1 / speedup:.2f}x slower"


def plot(plt, r):
    fig, (a, b) = plt.subplots(1, 2, figsize=(12, 4.2))
    h = r["history"]
    a.plot(h["step"], [1 - v for v in h["test_accuracy"]], "o-", color="C0")
    a.axhline(0.01, color="gray", ls=":", label="1% error (99% accuracy)")
    a.set_yscale("log")
    a.set(xlabel="training step", ylabel="test error",
          title=f"Conv-BN-ReLU net: {100 * r['final_accuracy']:.2f}% test accuracy")
    a.grid(alpha=0.3, which="both")
    a.legend()
    f = r["fold"]
    labels = {"vs_bn": "vs BatchNorm2d (fused kernel)", "vs_elementwise_bn": "vs elementwise BN"}
    sizes = list(f["speedup"])
    for i, (key, label) in enumerate(labels.items()):
        values = [f["speedup"][s][key] for s in sizes]
        bars = b.bar([j + 0.38 * (i - 0.5) for j in range(len(sizes))], values, width=0.38,
                     color=f"C{i + 1}", label=label)
        b.bar_label(bars, [f"{v:.2f}x" for v in values])
    b.axhline(1, color="gray", ls=":")
    b.set_xticks(range(len(sizes)), [f"batch {s}" for s in sizes])
    b.set_ylim(0, 1.2 * max(max(v.values()) for v in f["speedup"].values()))
    b.set(ylabel="eval inference speedup of the folded net",
          title=f"BN folded: predictions identical: {f['identical_predictions']}; "
                f"median of {f['timing_repeats']} passes")
    b.legend(loc="upper left")
    fig.tight_layout()


if __name__ == "__main__":
    main()
