"""Training speed of the example networks against PyTorch CPU, same machine, same run.

    python benchmarks/bench_train.py [--quick] [--threads N]

Seconds per MNIST epoch (60,000 images) of the BN paper's MLP (784-100-100-100-10 sigmoid,
with and without BN, batch 60, SGD) and of ``examples/cnn_mnist.py``'s Conv-BN-ReLU net
(batch 64, SGD with Nesterov momentum), with the fused BatchNorm kernel it trains with
and with the composite F.batch_norm. Each step includes slicing the batch out of the
training arrays, forward, backward and the optimizer update. An epoch's time is the median
step time of a few hundred (MLP) or 60 (CNN) steps, taken in turns with PyTorch,
times the steps per epoch; the ratio is minigrad / PyTorch
(lower is better; the target is <= 1.5).
"""
import argparse
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.join(os.path.dirname(HERE), "examples")]
from _common import bn_mlp, train_step  # noqa: E402
from _timing import print_table, try_import_torch  # noqa: E402
from cnn_mnist import conv_bn_net  # noqa: E402

import minigrad as mg  # noqa: E402
import minigrad.nn as nn  # noqa: E402


def training_data():
    try:
        x, y = mg.data.MNIST(train=True, download=False)[:]
        return x.numpy(), y.numpy(), "MNIST"
    except mg.data.DatasetError:
        rng = np.random.default_rng(0)
        return (rng.random((60000, 1, 28, 28), dtype=np.float32),
                rng.integers(0, 10, 60000), "random images (MNIST not found)")


def step_seconds(steps_by_name, x, y, batch, steps, rounds=5, warmup=5):
    """Median step time of each library's step function. The libraries take turns in
    ``rounds`` stretches, so a machine that slows down for a while slows both alike."""
    rng = np.random.default_rng(0)
    times = {name: [] for name in steps_by_name}
    for step in steps_by_name.values():
        for _ in range(warmup):
            idx = rng.integers(0, len(x), batch)
            step(x[idx], y[idx])
    for _ in range(rounds):
        for name, step in steps_by_name.items():
            for _ in range(max(steps // rounds, 1)):
                idx = rng.integers(0, len(x), batch)
                start = time.perf_counter()
                step(x[idx], y[idx])
                times[name].append(time.perf_counter() - start)
    return {name: float(np.median(t)) for name, t in times.items()}


def minigrad_step(model, opt):
    return lambda xb, yb: train_step(model, opt, mg.tensor(xb), mg.tensor(yb))


def torch_step(torch, model, opt):
    def step(xb, yb):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(torch.from_numpy(xb)),
                                          torch.from_numpy(yb)).backward()
        opt.step()
    return step


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--threads", type=int, default=None)
    args = p.parse_args()
    if args.threads:
        mg.set_num_threads(args.threads)
    torch = try_import_torch()
    if torch is not None:
        torch.set_num_threads(mg.get_num_threads())
    x, y, source = training_data()
    cases = [
        ("BN-paper MLP, no BN", lambda L: bn_mlp(False, layers=L), 60, 0.5, {}, 500),
        ("BN-paper MLP, with BN (composite, bn_mnist.py)", lambda L: bn_mlp(True, layers=L),
         60, 0.5, {}, 500),
        ("BN-paper MLP, with BN (fused)", lambda L: bn_mlp(True, layers=L), 60, 0.5, {}, 500),
        ("cnn_mnist net, fused BN (its default)", conv_bn_net, 64, 0.05,
         {"momentum": 0.9, "nesterov": True}, 60),
        ("cnn_mnist net, composite BN", conv_bn_net, 64, 0.05,
         {"momentum": 0.9, "nesterov": True}, 60),
    ]
    rows = []
    for name, build, batch, lr, extra, steps in cases:
        steps = max(steps // 10, 5) if args.quick else steps
        epoch = len(x) // batch
        nn.use_fused_batch_norm("fused" in name)
        model = build(nn)
        step_fns = {"minigrad": minigrad_step(model, mg.optim.SGD(model.parameters(), lr=lr,
                                                                  **extra))}
        if torch is not None:
            tmodel = build(torch.nn)
            step_fns["torch"] = torch_step(torch, tmodel,
                                           torch.optim.SGD(tmodel.parameters(), lr=lr, **extra))
        t = step_seconds(step_fns, x, y, batch, steps)
        row = [name, batch, f"{t['minigrad'] * 1e3:.2f}", f"{t['minigrad'] * epoch:.1f}"]
        if torch is not None:
            row += [f"{t['torch'] * 1e3:.2f}", f"{t['torch'] * epoch:.1f}",
                    f"{t['minigrad'] / t['torch']:.2f}"]
        else:
            row += ["-", "-", "-"]
        rows.append(row)
    print(f"# Training speed ({source}; threads: {mg.get_num_threads()}; torch "
          f"{torch.__version__ if torch else 'not installed'})")
    print_table(["model", "batch", "minigrad ms/step", "minigrad s/epoch", "torch ms/step",
                 "torch s/epoch", "ratio"], rows)


if __name__ == "__main__":
    main()
