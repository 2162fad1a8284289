"""A Conv -> BatchNorm -> ReLU network to >= 99% MNIST test accuracy, then BN folding.

After training, each BatchNorm is folded into the convolution or linear layer before it
(eval mode: W' = W * gamma / sqrt(var + eps), b' = (b - mean) * gamma / sqrt(var + eps) +
beta). The folded network must predict exactly what the original predicts; the script
checks that on the whole test set and reports the inference speedup over the BatchNorm
model (the composite ``F.batch_norm``: moments, then one per-channel affine pass).

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
    timings = {}
    for name, net in (("bn", model), ("folded", folded)):
        best = float("inf")
        for _ in range(3):
            with Timer() as t:
                predict(net, x_test, args.device, batch_size=200)
            best = min(best, t.seconds)
        timings[name] = best
    speedup = timings["bn"] / timings["folded"]
    print(f"BN folded: predictions identical on {len(x_test)} images: {identical} "
          f"(max |logit difference| {logit_diff:.2e})")
    print(f"inference: with BatchNorm {timings['bn']:.3f} s, folded {timings['folded']:.3f} s: "
          f"folding is {faster_or_slower(speedup)}")
    if not identical:
        raise SystemExit("folding changed a prediction")
    save(args, "cnn_mnist", {"steps": steps, "epochs": args.epochs,
                             "batch_size": args.batch_size, "max_lr": args.lr,
                             "train_seconds": train_seconds, "final_accuracy": final_acc,
                             "history": history,
                             "fold": {"identical_predictions": identical,
                                      "max_logit_difference": logit_diff,
                                      "inference_seconds": timings, "speedup": speedup,
                                      "test_images": len(x_test)}}, plot)


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
    t = r["fold"]["inference_seconds"]
    bars = b.bar(["with BatchNorm", "BN folded into conv"], [t["bn"], t["folded"]],
                 color=["C0", "C2"])
    b.bar_label(bars, [f"{v:.2f} s" for v in t.values()])
    b.set_ylim(0, 1.15 * max(t.values()))                   # room for the labels
    b.set(ylabel=f"seconds to classify {r['fold']['test_images']} test images",
          title=f"Folded: {faster_or_slower(r['fold']['speedup'])} than with BN, "
                f"predictions identical: {r['fold']['identical_predictions']}")
    fig.tight_layout()


if __name__ == "__main__":
    main()
