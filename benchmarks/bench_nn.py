"""Layers against PyTorch CPU on the same machine, in the same run.

    python benchmarks/bench_nn.py [--quick] [--threads N]

Conv2d 3x3 64->64 (N=32, 32x32), BatchNorm2d on 64x64x32x32 (composite and fused),
MaxPool2d 2x2, and one training step of (conv-BN-ReLU-pool) x2 + linear on a 64x1x28x28
batch; each forward + backward. BatchNorm's effective bandwidth is set against an
np.copyto of the same array. Ratios are minigrad time / torch time (lower is better).
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _timing import best_time, print_table, try_import_torch  # noqa: E402

import minigrad as mg  # noqa: E402
import minigrad.nn as nn  # noqa: E402


def _fwd_bwd(model, x, up):
    def run():
        for p in model.parameters():
            p.grad = None
        if x.grad is not None:
            x.grad = None
        model(x).backward(up)
    return run


def _torch_fwd_bwd(torch, model, x, up):
    def run():
        model.zero_grad(set_to_none=True)
        x.grad = None
        model(x).backward(up)
    return run


def _pair(torch, build_mg, build_torch, shape, repeat, number=1):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape, dtype=np.float32)
    m = build_mg()
    xm = mg.tensor(x, requires_grad=True)
    up_shape = m(xm).shape
    up = rng.standard_normal(up_shape, dtype=np.float32)
    t_mg = best_time(_fwd_bwd(m, xm, mg.tensor(up)), repeat, number)
    t_t = None
    if torch is not None:
        mt = build_torch()
        xt = torch.tensor(x, requires_grad=True)
        t_t = best_time(_torch_fwd_bwd(torch, mt, xt, torch.tensor(up)), repeat, number)
    return t_mg, t_t


def _row(name, t_mg, t_t, extra=""):
    row = [name, f"{t_mg * 1e3:.2f}"]
    row += [f"{t_t * 1e3:.2f}", f"{t_mg / t_t:.2f}x"] if t_t else ["-", "-"]
    return row + [extra]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="smaller batches, fewer repeats")
    p.add_argument("--threads", type=int, default=None)
    args = p.parse_args()
    torch = try_import_torch()
    tnn = torch.nn if torch is not None else None
    if args.threads:
        mg.set_num_threads(args.threads)
        if torch is not None:
            torch.set_num_threads(args.threads)
    repeat = 3 if args.quick else 7
    q = 4 if args.quick else 1  # batch divisor for --quick
    mg.show_config()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads\n" if torch
          else "torch not installed: its columns are left out\n")
    rows = []

    # Conv2d 3x3 64->64, N=32, 32x32
    mg.manual_seed(0)
    conv = nn.Conv2d(64, 64, 3, padding=1)
    tconv = None
    if torch is not None:
        tconv = tnn.Conv2d(64, 64, 3, padding=1)
        tconv.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in conv.state_dict().items()})
    shape = (32 // q, 64, 32, 32)
    t_mg, t_t = _pair(torch, lambda: conv, lambda: tconv, shape, repeat)
    flop = 3 * 2 * shape[0] * 64 * 64 * 9 * 32 * 32  # forward, input grad, weight grad
    extra = f"minigrad {flop / t_mg / 1e9:.0f} GFLOP/s" + \
        (f", torch {flop / t_t / 1e9:.0f}" if t_t else "")
    rows.append(_row(f"Conv2d 3x3 64->64 N={shape[0]} 32x32", t_mg, t_t, extra))

    # BatchNorm2d on 64x64x32x32, composite and fused, and the copy bandwidth beside it
    bn_shape = (64 // q, 64, 32, 32)
    x = np.random.default_rng(1).standard_normal(bn_shape, dtype=np.float32)
    dst = np.empty_like(x)
    t_copy = best_time(lambda: np.copyto(dst, x), repeat, 5)
    copy_gbs = 2 * x.nbytes / t_copy / 1e9
    for fused in (False, True):
        t_mg, t_t = _pair(torch, lambda: nn.BatchNorm2d(64, fused=fused),
                          lambda: tnn.BatchNorm2d(64), bn_shape, repeat)
        # forward reads x twice (statistics, normalize) and writes y; backward reads dy and
        # x twice and writes dx: 7 array-sized transfers at least for the fused path
        gbs = 7 * x.nbytes / t_mg / 1e9
        rows.append(_row(f"BatchNorm2d {'fused' if fused else 'composite'} "
                         f"{'x'.join(map(str, bn_shape))}", t_mg, t_t,
                         f"{gbs:.1f} GB/s effective (copyto {copy_gbs:.1f} GB/s)"))

    # MaxPool2d 2x2
    t_mg, t_t = _pair(torch, lambda: nn.MaxPool2d(2), lambda: tnn.MaxPool2d(2), bn_shape, repeat)
    rows.append(_row(f"MaxPool2d 2x2 {'x'.join(map(str, bn_shape))}", t_mg, t_t))

    # one training step of a small conv net on a 64x1x28x28 batch (forward, backward, SGD)
    def build(lib):
        return lib.Sequential(lib.Conv2d(1, 32, 3, padding=1), lib.BatchNorm2d(32), lib.ReLU(),
                              lib.MaxPool2d(2), lib.Conv2d(32, 64, 3, padding=1),
                              lib.BatchNorm2d(64), lib.ReLU(), lib.MaxPool2d(2), lib.Flatten(),
                              lib.Linear(64 * 7 * 7, 10))
    mg.manual_seed(0)
    net = build(nn)
    xb = np.random.default_rng(2).standard_normal((64, 1, 28, 28), dtype=np.float32)
    yb = np.random.default_rng(3).integers(0, 10, 64)
    xm, ym = mg.tensor(xb), mg.tensor(yb)

    def step_mg():
        for p_ in net.parameters():
            p_.grad = None
        loss = nn.functional.cross_entropy(net(xm), ym)
        loss.backward()
        for p_ in net.parameters():
            p_.data -= 0.01 * p_.grad.data
    t_mg = best_time(step_mg, repeat)
    t_t = None
    if torch is not None:
        tnet = build(tnn)
        tnet.load_state_dict({k: torch.from_numpy(np.array(v.numpy())) for k, v in net.state_dict().items()})
        xt, yt = torch.tensor(xb), torch.tensor(yb)

        def step_t():
            tnet.zero_grad(set_to_none=True)
            loss = torch.nn.functional.cross_entropy(tnet(xt), yt)
            loss.backward()
            with torch.no_grad():
                for p_ in tnet.parameters():
                    p_ -= 0.01 * p_.grad
        t_t = best_time(step_t, repeat)
    rows.append(_row("train step: (conv-BN-ReLU-pool)x2 + linear, 64x1x28x28", t_mg, t_t))

    print_table(["forward + backward", "minigrad ms", "torch ms", "mg/torch", "notes"], rows)


if __name__ == "__main__":
    main()
