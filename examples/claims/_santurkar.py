"""What the noisy_bn, landscape, curvature and ics studies share (Santurkar, Tsipras, Ilyas &
Madry 2018; Ghorbani, Krishnan & Xiao 2019): the MNIST MLPs with and without BN, the noise
layer of "noisy BN", probes that move a net's parameters and put them back, gradients as
NumPy arrays, and the paired comparisons over seeds that decide the verdicts.

The nets: the BN paper's MNIST MLP, 784-100-100-100-10, each hidden layer Linear ->
[BatchNorm1d -> [noise]] -> activation, PyTorch's default init, plain SGD on batches of 60.
Two activations: sigmoid (the BN paper's net, trained at its learning rate 0.5, as
``examples/bn_mnist.py``) and ReLU (closer to the VGG and ResNet nets of Santurkar et al. and
Ghorbani et al.; learning rate 0.1). Within a seed the nets share their Linear weights and see
the same batches, so differences over seeds are paired.
"""
import contextlib
import math
import time

import numpy as np
from _common import accuracy, batches, copy_linear_weights, train_step

import minigrad as mg
import minigrad.nn as nn

ACTIVATIONS = ("sigmoid", "relu")
LR = {"sigmoid": 0.5, "relu": 0.1}
# the nets a study compares, and how its figures name and colour them
PAIRED = ("plain", "bn")
LABELS = {"plain": "no BN", "bn": "BN", "noisy": "noisy BN"}
COLORS = {"plain": "C3", "bn": "C0", "noisy": "C2"}
BATCH_SIZE = 60
WIDTHS = (100, 100, 100)


class ShiftScaleNoise(nn.Module):
    """The noise of Santurkar et al.'s "noisy BN" (Section 2.1), put after a BatchNorm1d:
    ``y[i, j] = scale[j] * x[i, j] + shift[j]`` with ``shift[j] ~ U(-n_mu, n_mu)`` and
    ``scale[j] ~ U(1, n_sigma)`` drawn for every feature ``j`` anew at each forward in
    training mode (one forward per training step), from the layer's own
    ``numpy.random.default_rng(seed)``. So at every step each activation's distribution over
    the batch gets a new non-zero mean and a new non-unit standard deviation.

    In eval mode nothing is drawn and the layer applies the noise's expected value,
    ``(1 + n_sigma) / 2 * x``, as dropout scales at inference: switching the noise off
    instead would feed the next layer inputs 1/1.5 the size it was trained on.
    ``last`` holds the (shift, scale) of the latest training forward."""

    def __init__(self, num_features, n_mu=1.0, n_sigma=2.0, seed=0):
        super().__init__()
        if n_mu < 0 or n_sigma < 1:
            raise ValueError(f"ShiftScaleNoise: need n_mu >= 0 and n_sigma >= 1, got "
                             f"n_mu={n_mu}, n_sigma={n_sigma}")
        self.num_features, self.n_mu, self.n_sigma = num_features, n_mu, n_sigma
        self.rng = np.random.default_rng(seed)
        self.last = None

    def forward(self, x):
        if self.training:
            shift = self.rng.uniform(-self.n_mu, self.n_mu, self.num_features)
            scale = self.rng.uniform(1.0, self.n_sigma, self.num_features)
            self.last = (shift, scale)
        else:
            shift = np.zeros(self.num_features)
            scale = np.full(self.num_features, (1.0 + self.n_sigma) / 2)
        dtype = x.array.dtype
        return (x * mg.tensor(scale.astype(dtype), device=x.device)
                + mg.tensor(shift.astype(dtype), device=x.device))

    def extra_repr(self):
        return f"{self.num_features}, n_mu={self.n_mu}, n_sigma={self.n_sigma}"


def mlp(batch_norm, activation="sigmoid", noise=None, widths=WIDTHS):
    """784-widths-10 with ``activation`` after each hidden Linear, BatchNorm1d before it when
    ``batch_norm``, and a ShiftScaleNoise after each BN when ``noise`` is given as
    ``(n_mu, n_sigma, seed)`` (hidden layer ``k`` seeds its noise with ``seed + k``)."""
    if noise is not None and not batch_norm:
        raise ValueError("mlp: noise goes after BN layers, so it needs batch_norm=True")
    act = {"sigmoid": nn.Sigmoid, "relu": nn.ReLU}[activation]
    net, fan_in = [nn.Flatten()], 784
    for k, width in enumerate(widths):
        net.append(nn.Linear(fan_in, width))
        if batch_norm:
            net.append(nn.BatchNorm1d(width))
            if noise is not None:
                n_mu, n_sigma, seed = noise
                net.append(ShiftScaleNoise(width, n_mu, n_sigma, seed + k))
        net.append(act())
        fan_in = width
    net.append(nn.Linear(fan_in, 10))
    return nn.Sequential(*net)


def paired_nets(kinds, activation, seed, noise=(1.0, 2.0)):
    """{kind: net} for kinds among "plain", "bn", "noisy" (BN and noise), all with the
    Linear weights the plain net draws from ``mg.manual_seed(seed)``."""
    mg.manual_seed(seed)
    first = mlp(False, activation)
    nets = {}
    for kind in kinds:
        if kind == "plain":
            nets[kind] = first
            continue
        net = mlp(True, activation, noise=(*noise, 1000 * seed) if kind == "noisy" else None)
        copy_linear_weights(first, net)
        nets[kind] = net
    return nets


def paired_training(kinds, activation, seed, device):
    """``paired_nets`` on ``device``, and an SGD optimizer for each at the activation's
    learning rate: ({kind: net}, {kind: optimizer})."""
    nets = paired_nets(kinds, activation, seed)
    for net in nets.values():
        net.to(device)
    return nets, {k: mg.optim.SGD(n.parameters(), lr=LR[activation]) for k, n in nets.items()}


def training_batches(x_train, y_train, steps, seed, device, start=0):
    """(step, x, y) for ``steps`` SGD batches of BATCH_SIZE, the order ``_common.batches``
    draws from ``seed`` (every net of a seed sees the same ones), numbered from ``start``."""
    for step, idx in enumerate(batches(len(x_train), BATCH_SIZE, steps, seed), start=start):
        yield step, mg.tensor(x_train[idx], device=device), mg.tensor(y_train[idx], device=device)


def probed_training(name, args, mnist, steps, every, probe, report):
    """Train the PAIRED nets of each activation and seed on the same batches; on every
    ``every``-th step, before the update, ``probe(net, x, y, lr, record)`` adds to that net's
    record (its "steps" are kept here). After training each record gets the test accuracy,
    and ``name activation seed: report(records)`` is printed. Returns
    {activation: {kind: [record of each seed]}} (the landscape and ics studies)."""
    x_train, y_train, x_test, y_test = mnist
    n_test = 1000 if args.quick else len(x_test)
    runs = {act: {k: [] for k in PAIRED} for act in ACTIVATIONS}
    for act in ACTIVATIONS:
        for seed in args.seed_list:
            start = time.perf_counter()
            nets, optims = paired_training(PAIRED, act, seed, args.device)
            records = {k: {"steps": []} for k in PAIRED}
            for step, x, y in training_batches(x_train, y_train, steps, seed, args.device):
                for k, net in nets.items():
                    if step % every == 0:
                        records[k]["steps"].append(step)
                        probe(net, x, y, LR[act], records[k])
                    train_step(net, optims[k], x, y)
            for k, net in nets.items():
                records[k]["test_accuracy"] = accuracy(net, x_test[:n_test], y_test[:n_test],
                                                       args.device)
                runs[act][k].append(records[k])
            print(f"{name} {act} seed {seed}: {report(records)} "
                  f"({time.perf_counter() - start:.0f} s)")
    return runs


def linears(model):
    return [m for m in model.modules() if isinstance(m, nn.Linear)]


def loss_of(model, x, y):
    return nn.functional.cross_entropy(model(x), y)


def gradient(model, x, y, params=None):
    """(loss, [∂loss/∂p as float64 NumPy arrays]) on the batch in the model's current mode;
    ``params`` defaults to all of the model's parameters. Leaves no ``.grad`` behind."""
    params = list(model.parameters()) if params is None else params
    loss = loss_of(model, x, y)
    grads = mg.autograd.grad(loss, params)
    return float(loss.item()), [g.numpy().astype(np.float64) for g in grads]


def dot(a, b):
    """Σ <a_i, b_i> over two lists of arrays. (Elementwise products and sums rather than
    NumPy's BLAS: NumPy's copy of OpenBLAS keeps threads of its own, which on a busy machine
    fight minigrad's OpenMP team and make a 90,000-element dot product take milliseconds.)"""
    return sum(float(np.sum(u * v)) for u, v in zip(a, b))


def norm(arrays):
    return math.sqrt(dot(arrays, arrays))


@contextlib.contextmanager
def probing(model):
    """Parameters and buffers (BN's running statistics) as they were on entry are put back
    on exit, so a probe's forwards and moves leave training untouched."""
    params = [p.detach().numpy().copy() for p in model.parameters()]
    buffers = [b.numpy().copy() for b in model.buffers()]
    try:
        yield
    finally:
        with mg.no_grad():
            for p, a in zip(model.parameters(), params):
                p.copy_(mg.tensor(a, device=p.device))
            for b, a in zip(model.buffers(), buffers):
                b.copy_(mg.tensor(a, device=b.device))


def set_values(params, values):
    """Give each parameter in ``params`` the NumPy array in ``values``."""
    with mg.no_grad():
        for p, v in zip(params, values):
            p.copy_(mg.tensor(np.asarray(v, dtype=p.array.dtype), device=p.device))


# ---- statistics over seeds --------------------------------------------------------------

def mean_std(values):
    """(mean, sample std) of a list; std 0 for one value."""
    a = np.asarray(values, dtype=np.float64)
    return float(a.mean()), float(a.std(ddof=1)) if a.size > 1 else 0.0


def paired(a, b):
    """(mean of a - b, its standard error) over seeds, ``a`` and ``b`` paired by seed."""
    d = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    se = float(d.std(ddof=1) / math.sqrt(d.size)) if d.size > 1 else 0.0
    return float(d.mean()), se


def outcome(bn, plain, lower_favors=True):
    """"favor" when ``bn`` is below ``plain`` (above, when not ``lower_favors``) by more than
    two standard errors of the paired difference over seeds, "oppose" when it is beyond that
    on the other side, else "neutral"."""
    d, se = paired(bn, plain)
    if abs(d) <= 2 * se or d == 0:
        return "neutral"
    return "favor" if (d < 0) == lower_favors else "oppose"


def tally(outcomes):
    """The verdict from cell outcomes: every cell favors the claim: reproduced; more favor
    than oppose: partly; every cell opposes: reversed; otherwise not reproduced."""
    favor, oppose = outcomes.count("favor"), outcomes.count("oppose")
    if favor == len(outcomes):
        return "reproduced"
    if oppose == len(outcomes):
        return "reversed"
    return "partly" if favor > oppose else "not reproduced"


def pm(values, digits=3, fmt="f"):
    """"mean ± std" over seeds."""
    m, s = mean_std(values)
    return f"{m:.{digits}{fmt}} ± {s:.{digits}{fmt}}"


def log10(values, floor=1e-30):
    return np.log10(np.maximum(np.asarray(values, dtype=np.float64), floor))


@mg.no_grad()
def loss_and_accuracy(model, images, labels, batch_size=2000):
    """Mean cross-entropy and accuracy on NumPy ``images, labels`` in eval mode (the model's
    mode is restored afterwards)."""
    was_training = model.training
    model.eval()
    try:
        total, correct = 0.0, 0
        device = next(model.parameters()).device
        for start in range(0, len(images), batch_size):
            x = mg.tensor(images[start:start + batch_size], device=device)
            y = mg.tensor(labels[start:start + batch_size], device=device)
            logits = model(x)
            total += float(nn.functional.cross_entropy(logits, y, reduction="sum").item())
            correct += int((logits.argmax(1).cpu().numpy() == labels[start:start + batch_size])
                           .sum())
        return total / len(images), correct / len(images)
    finally:
        model.train(was_training)


def subset(images, labels, n, seed=12345):
    """A fixed random subset of ``n`` images (the same for every study, net and seed)."""
    idx = np.random.default_rng(seed).choice(len(images), size=min(n, len(images)),
                                             replace=False)
    return images[np.sort(idx)], labels[np.sort(idx)]
