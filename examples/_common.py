"""What the example scripts share: command line, data, models, evaluation, output files.

Each example imports this module from its own directory (``python examples/NAME.py``).
"""
import argparse
import contextlib
import json
import os
import sys
import time

import numpy as np
from tqdm import tqdm

import minigrad as mg
import minigrad.nn as nn
from minigrad import backend


class _HelpWithDefaults(argparse.ArgumentDefaultsHelpFormatter):
    """Appends "(default: ...)" to every option's help, except where there is no default
    value to show (None, or an off flag)."""

    def _get_help_string(self, action):
        if action.default is None or action.default is False:
            return action.help
        return super()._get_help_string(action)


def parser(description, **defaults):
    p = argparse.ArgumentParser(description=description, formatter_class=_HelpWithDefaults)
    p.add_argument("--device", default="cpu", help="'cpu' or 'cuda' (needs CuPy and a GPU)")
    p.add_argument("--seed", type=int, default=0, help="seed for weights and batch order")
    p.add_argument("--out", default="results", help="directory for the PNG and JSON")
    p.add_argument("--data-root", default=None,
                   help="directory with the MNIST IDX files; if not given, $MINIGRAD_DATA, "
                        "else ~/.cache/minigrad (downloading there if needed)")
    p.add_argument("--quick", action="store_true",
                   help="a few seconds on a subset: a smoke test, not a result")
    p.set_defaults(**defaults)
    return p


def setup(args):
    """Seed, check the device, and make the output directory."""
    mg.manual_seed(args.seed)
    try:
        backend.for_device(args.device)
    except (RuntimeError, ValueError) as e:   # (no CuPy, no GPU, or no such device)
        sys.exit(f"--device {args.device}: {e}; use --device cpu")
    os.makedirs(args.out, exist_ok=True)


MNIST_MEAN, MNIST_STD = 0.1307, 0.3081   # of the training pixels scaled to [0, 1]


def load_mnist(args):
    """(train_images, train_labels, test_images, test_labels): float32 (N, 1, 28, 28) images
    standardized with the training set's pixel mean and std, and int64 labels."""
    try:
        train = mg.data.MNIST(args.data_root, train=True)
        test = mg.data.MNIST(args.data_root, train=False)
    except mg.data.DatasetError as e:
        sys.exit(f"error: {e}")
    out = []
    for split in (train, test):
        images, labels = (t.numpy() for t in split[:])
        images -= np.float32(MNIST_MEAN)
        images /= np.float32(MNIST_STD)
        out += [images, labels]
    return tuple(out)


def bn_mlp(batch_norm, widths=(100, 100, 100), layers=nn):
    """The BN paper's MNIST net: 784-100-100-100-10 with sigmoids, BN before each one.
    ``layers`` is the module namespace to build from (``torch.nn`` works too)."""
    L, net, fan_in = layers, [], 784
    for width in widths:
        net.append(L.Linear(fan_in, width))
        if batch_norm:
            net.append(L.BatchNorm1d(width))
        net.append(L.Sigmoid())
        fan_in = width
    net.append(L.Linear(fan_in, 10))
    return L.Sequential(L.Flatten(), *net)


def copy_linear_weights(source, target):
    """Give ``target`` the same Linear weights as ``source`` (nets differing only in BN)."""
    pairs = zip([m for m in source.modules() if isinstance(m, nn.Linear)],
                [m for m in target.modules() if isinstance(m, nn.Linear)])
    with mg.no_grad():
        for a, b in pairs:
            b.weight.copy_(a.weight.to(b.weight.device))
            b.bias.copy_(a.bias.to(b.bias.device))


def batches(n, batch_size, steps, seed):
    """``steps`` index arrays of ``batch_size``, reshuffling after each pass over ``n``."""
    rng = np.random.default_rng(seed)
    order, pos = rng.permutation(n), 0
    for _ in range(steps):
        if pos + batch_size > n:
            order, pos = rng.permutation(n), 0
        yield order[pos:pos + batch_size]
        pos += batch_size


def train_step(model, optimizer, x, y):
    optimizer.zero_grad()
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    optimizer.step()
    return loss


@mg.no_grad()
def predict(model, images, device="cpu", batch_size=1000):
    """Predicted classes for ``images`` (a NumPy array), in the model's current mode."""
    out = []
    for start in range(0, len(images), batch_size):
        x = mg.tensor(images[start:start + batch_size]).to(device)
        out.append(model(x).argmax(1).cpu().numpy())
    return np.concatenate(out)


def accuracy(model, images, labels, device="cpu", batch_size=1000):
    """Test accuracy in eval mode; the model's mode is restored afterwards."""
    was_training = model.training
    model.eval()
    try:
        return float((predict(model, images, device, batch_size) == labels).mean())
    finally:
        model.train(was_training)


def progress(iterable, desc, total=None):
    """A tqdm bar over ``iterable`` that stays on screen when done (shows nothing when the
    output is not a terminal); ``set_postfix`` adds the latest numbers to it."""
    return tqdm(iterable, desc=desc, total=total, leave=True, dynamic_ncols=True,
                mininterval=0.5, disable=None)


class Training:
    """A progress bar over training steps that shows the running loss and the latest test
    numbers. Evaluations run under ``paused()``: they count neither in the bar's rate and
    elapsed time nor in ``seconds``, the training time.

        bar = Training(steps, "name")
        for x, y in data:
            bar.step(loss=train_step(...).item())
            if time_to_evaluate:
                with bar.paused():
                    bar.show(acc=accuracy(...))
        bar.close()
    """

    def __init__(self, steps, desc, smoothing=0.95):
        self.bar = progress(None, desc, total=steps)
        self.smoothing = smoothing
        self.losses, self.latest = {}, {}
        self._start, self._paused = time.perf_counter(), 0.0

    def step(self, **losses):
        """One step done; ``losses`` (name=value) enter exponential running means."""
        for name, value in losses.items():
            old = self.losses.get(name, value)
            self.losses[name] = self.smoothing * old + (1 - self.smoothing) * value
        self.bar.set_postfix(self._postfix(), refresh=False)
        self.bar.update(1)

    def show(self, **values):
        """Numbers (test accuracy, ...) to show until the next ``show``."""
        self.latest = values
        self.bar.set_postfix(self._postfix(), refresh=False)  # shown from the next step

    def _postfix(self):
        return {**{k: f"{v:.3f}" for k, v in self.losses.items()},
                **{k: f"{v:.4f}" for k, v in self.latest.items()}}

    @contextlib.contextmanager
    def paused(self):
        start = time.perf_counter()
        try:
            yield
        finally:
            away = time.perf_counter() - start
            self._paused += away
            if not self.bar.disable:  # as tqdm's own unpause(), by the time measured here
                self.bar.start_t += away
                self.bar.last_print_t += away

    @property
    def seconds(self):
        """Seconds spent training so far, evaluations left out."""
        return time.perf_counter() - self._start - self._paused

    def close(self):
        self.bar.close()


def save(args, name, results, plot):
    """Write ``<out>/<name>.json`` and, when matplotlib is installed, ``<out>/<name>.png``
    drawn by ``plot(plt, results)``."""
    results = {"example": name, "quick": args.quick, "seed": args.seed,
               "device": args.device, **results}
    json_path = os.path.join(args.out, f"{name}.json")
    with open(json_path, "w") as f:
        json.dump(results, f, indent=1)
    print(f"wrote {json_path}")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed, so no plot was drawn; install it with "
              "`pip install matplotlib` (or `pip install -e \".[plot]\"` from the repository "
              "root) and run again")
        return
    plot(plt, results)
    png_path = os.path.join(args.out, f"{name}.png")
    plt.savefig(png_path, dpi=120, bbox_inches="tight")
    plt.close("all")
    print(f"wrote {png_path}")


class Timer:
    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start


NORMS = {
    "batch": lambda c, size: nn.BatchNorm2d(c),
    "group": lambda c, size: nn.GroupNorm(max(c // 4, 1), c),
    "layer": lambda c, size: nn.LayerNorm([c, size, size]),
}


def small_cnn(norm="batch", widths=(16, 32)):
    """Two Conv -> norm -> ReLU -> MaxPool blocks and a linear classifier, for 28x28 digits.
    ``norm`` is 'batch', 'group' (4 channels per group), 'layer' (over C, H, W) or a
    factory ``norm(channels, spatial_size)`` returning the layer."""
    make = norm if callable(norm) else NORMS[norm]
    c1, c2 = widths
    return nn.Sequential(
        nn.Conv2d(1, c1, 3, padding=1, bias=False), make(c1, 28), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(c1, c2, 3, padding=1, bias=False), make(c2, 14), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(c2 * 7 * 7, 10))
