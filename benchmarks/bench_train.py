"""Training speed of the example networks against PyTorch CPU, same machine, same run.

    python benchmarks/bench_train.py [--quick] [--threads N]

Seconds per MNIST epoch (60,000 images) of the BN paper's MLP (784-100-100-100-10 sigmoid,
with and without BN, batch 60, SGD) and of ``examples/cnn_mnist.py``'s Conv-BN-ReLU net
(batch 64, SGD with Nesterov momentum). Each step includes slicing the batch out of the
training arrays, forward, backward and the optimizer update. An epoch's time is the median
step time of a stretch of steps times the steps per epoch; the ratio is minigrad / PyTorch
(lower is better; the target is <= 1.5).
"""
import argparse
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.join(os.path.dirname(HERE), "examples")]
from _common import bn_mlp  # noqa: E402
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


def step_seconds(step, x, y, batch, steps, warmup=5):
    rng = np.random.default_rng(0)
    times = []
    for i in range(warmup + steps):
        idx = rng.integers(0, len(x), batch)
        start = time.perf_counter()
        step(x[idx], y[idx])
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return float(np.median(times))


def minigrad_step(model, opt):
    def step(xb, yb):
        opt.zero_grad()
        nn.functional.cross_entropy(model(mg.tensor(xb)), mg.tensor(yb)).backward()
        opt.step()
    return step


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
        ("BN-paper MLP, no BN", lambda L: bn_mlp(False, layers=L), 60, 0.5, {}, 300),
        ("BN-paper MLP, with BN", lambda L: bn_mlp(True, layers=L), 60, 0.5, {}, 300),
        ("cnn_mnist net (Conv-BN-ReLU)", conv_bn_net, 64, 0.05,
         {"momentum": 0.9, "nesterov": True}, 40),
    ]
    rows = []
    for name, build, batch, lr, extra, steps in cases:
        steps = max(steps // 10, 5) if args.quick else steps
        epoch = len(x) // batch
        model = build(nn)
        ours = step_seconds(minigrad_step(model, mg.optim.SGD(model.parameters(), lr=lr,
                                                              **extra)), x, y, batch, steps)
        row = [name, batch, f"{ours * 1e3:.2f}", f"{ours * epoch:.1f}"]
        if torch is not None:
            tmodel = build(torch.nn)
            topt = torch.optim.SGD(tmodel.parameters(), lr=lr, **extra)
            theirs = step_seconds(torch_step(torch, tmodel, topt), x, y, batch, steps)
            row += [f"{theirs * 1e3:.2f}", f"{theirs * epoch:.1f}", f"{ours / theirs:.2f}"]
        else:
            row += ["-", "-", "-"]
        rows.append(row)
    print(f"# Training speed ({source}; threads: {mg.get_num_threads()}; torch "
          f"{torch.__version__ if torch else 'not installed'})")
    print_table(["model", "batch", "minigrad ms/step", "minigrad s/epoch", "torch ms/step",
                 "torch s/epoch", "ratio"], rows)


if __name__ == "__main__":
    main()
