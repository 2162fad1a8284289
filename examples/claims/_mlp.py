"""What the depth, init_scale, regularization and steps_to_accuracy studies share: plain MLPs
with or without BN and dropout, a training loop that notices divergence, gradient norms per
layer, steps to a target accuracy, and mean ± std over seeds."""
import math

import numpy as np
from _common import accuracy, batches, train_step

import minigrad as mg
import minigrad.nn as nn

ACTIVATIONS = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid}


def mlp(depth, width, activation="relu", batch_norm=False, dropout=0.0, layers=nn):
    """A plain (no residual) MNIST MLP of ``depth`` Linear layers: ``depth - 1`` hidden layers
    of ``width`` units, each Linear -> [BatchNorm1d] -> activation -> [Dropout], then a
    Linear to the 10 classes. PyTorch's default init. ``layers`` may be ``torch.nn``."""
    if depth < 1:
        raise ValueError(f"depth must be at least 1, not {depth}")
    L = layers
    act = {"relu": L.ReLU, "sigmoid": L.Sigmoid}[activation]
    net, fan_in = [L.Flatten()], 784
    for _ in range(depth - 1):
        net.append(L.Linear(fan_in, width))
        if batch_norm:
            net.append(L.BatchNorm1d(width))
        net.append(act())
        if dropout:
            net.append(L.Dropout(dropout))
        fan_in = width
    net.append(L.Linear(fan_in, 10))
    return L.Sequential(*net)


def linears(model):
    return [m for m in model.modules() if isinstance(m, nn.Linear)]


def scale_weights(model, scale):
    """Multiply every Linear weight (not the biases) by ``scale``, in place."""
    with mg.no_grad():
        for m in linears(model):
            m.weight.mul_(scale)
    return model


def layer_grad_norms(model, x, y):
    """Frobenius norm of the cross-entropy loss's gradient for each Linear weight, input
    layer first, on the batch ``x, y`` (NumPy arrays) in the model's current mode. The
    model's gradients are cleared before and after."""
    model.zero_grad()
    nn.functional.cross_entropy(model(mg.tensor(x)), mg.tensor(y)).backward()
    norms = [float(np.linalg.norm(m.weight.grad.numpy())) for m in linears(model)]
    model.zero_grad()
    return norms


def steps_to_target(steps, accuracies, target):
    """The first step in ``steps`` whose accuracy is at least ``target``; None if never."""
    for step, acc in zip(steps, accuracies):
        if acc is not None and acc >= target:
            return step
    return None


def train(model, data, steps, batch_size, lr, seed, momentum=0.0, evaluate=None, every=None):
    """SGD on ``data`` (x_train, y_train) for ``steps`` batches drawn with ``seed``.
    ``evaluate(model)`` is called at step 0, every ``every`` steps and at the end. A
    non-finite loss stops training: the run is marked diverged, and the evaluations still
    due all get the value of one evaluation of the diverged model. Returns {"diverged",
    "final_loss" (mean of the last tenth of the steps' batch losses), "curve": {"steps",
    "values"}}."""
    x_train, y_train = data
    opt = mg.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    due = sorted({0, steps, *(range(every, steps, every) if every else ())})
    due_set = set(due)
    curve = {"steps": [], "values": []}
    if evaluate is not None:
        curve["steps"].append(0)
        curve["values"].append(evaluate(model))
    losses, diverged = [], False
    for step, idx in enumerate(batches(len(x_train), batch_size, steps, seed), start=1):
        loss = train_step(model, opt, mg.tensor(x_train[idx]), mg.tensor(y_train[idx])).item()
        if not math.isfinite(loss):
            diverged = True
            if evaluate is not None:
                value = evaluate(model)
                rest = [s for s in due if s >= step]
                curve["steps"] += rest
                curve["values"] += [value] * len(rest)
            break
        losses.append(loss)
        if evaluate is not None and step in due_set:
            curve["steps"].append(step)
            curve["values"].append(evaluate(model))
    tail = losses[-max(len(losses) // 10, 1):] if losses else []
    return {"diverged": diverged, "final_loss": float(np.mean(tail)) if tail else None,
            "curve": curve}


def test_subset(mnist, n, seed=0):
    """A fixed random subset of ``n`` test images (all of them if ``n`` is None)."""
    x_test, y_test = mnist[2], mnist[3]
    if n is None or n >= len(x_test):
        return x_test, y_test
    idx = np.sort(np.random.default_rng(seed).choice(len(x_test), n, replace=False))
    return x_test[idx], y_test[idx]


def evaluator(images, labels):
    """``evaluate(model)``: accuracy on ``images`` (NumPy arrays) in eval mode."""
    return lambda model: accuracy(model, images, labels)


def mean_std(values):
    """Mean and sample std (ddof=1; 0 for one value) of the finite ``values``; NaNs if none."""
    v = np.asarray([x for x in values if x is not None and math.isfinite(x)], dtype=float)
    if len(v) == 0:
        return float("nan"), float("nan")
    return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0


def fmt(values, digits=3):
    m, s = mean_std(values)
    return f"{m:.{digits}f} ± {s:.{digits}f}"
