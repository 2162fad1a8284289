"""minigrad's kernels against NumPy in one process (PyTorch comparisons, which need a
process per library, are in bench_vs_torch.py).

    python benchmarks/bench_ops.py [--quick] [--threads N]

matmul GFLOP/s (float32) at several sizes, per-channel mean + variance of a 64x64x32x32
float32 array (the channel_moments kernel, and through the tensor API), and minigrad's
per-op overhead: a 200-step chain ``y = y * 1.0001 + 0.001`` on 16 floats, forward and
backward. NumPy's BLAS keeps its own threads; minigrad's GEMM tiles over OpenMP threads.
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _timing import best_time, print_table  # noqa: E402

import minigrad as mg  # noqa: E402
from minigrad.backend import cpu  # noqa: E402


def bench_matmul(sizes, repeat):
    rows = []
    for n in sizes:
        rng = np.random.default_rng(n)
        a = rng.standard_normal((n, n), dtype=np.float32)
        b = rng.standard_normal((n, n), dtype=np.float32)
        ma, mb = mg.from_numpy(a), mg.from_numpy(b)
        flop = 2.0 * n ** 3
        number = max(1, int(2e9 // flop))
        g_mg = flop / best_time(lambda: ma @ mb, repeat, number) / 1e9
        g_np = flop / best_time(lambda: a @ b, repeat, number) / 1e9
        rows.append([f"matmul {n}x{n} f32", f"{g_mg:.1f}", f"{g_np:.1f}", f"{g_mg / g_np:.2f}x"])
    print_table(["GFLOP/s", "minigrad", "numpy", "mg/numpy"], rows)


def bench_channel_moments(repeat, shape):
    x = np.random.default_rng(0).standard_normal(shape, dtype=np.float32) + 3
    mx = mg.from_numpy(x)
    dims = (0, 2, 3)
    t_kernel = best_time(lambda: cpu.channel_moments(x), repeat)
    t_api = best_time(lambda: (mx.mean(dims), mx.var(dims, correction=0)), repeat)
    t_np = best_time(lambda: (x.mean(dims), x.var(dims)), repeat)
    rows = [["channel_moments kernel (one call)", f"{t_kernel * 1e3:.2f}", f"{t_np / t_kernel:.2f}x"],
            ["x.mean(dims) + x.var(dims)", f"{t_api * 1e3:.2f}", f"{t_np / t_api:.2f}x"],
            ["numpy x.mean + x.var", f"{t_np * 1e3:.2f}", "1.00x"]]
    print(f"\nper-channel mean+var of {'x'.join(map(str, shape))} float32 "
          f"(speedup = numpy's time / this)")
    print_table(["", "ms", "speedup vs numpy"], rows)


def bench_overhead(repeat, steps=200):
    def run():
        x = mg.ones(16, requires_grad=True)
        y = x
        for _ in range(steps):
            y = y * 1.0001 + 0.001
        y.sum().backward()

    t = best_time(run, repeat, number=5)
    print(f"\nper-op overhead: {steps} x (y * 1.0001 + 0.001) on 16 floats, forward + backward")
    print_table(["", "ms per chain", "us per op (fwd+bwd)"],
                [["minigrad", f"{t * 1e3:.2f}", f"{t / (2 * steps) * 1e6:.2f}"]])


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="smaller sizes, fewer repeats")
    p.add_argument("--threads", type=int, default=None, help="threads for minigrad")
    args = p.parse_args()
    if args.threads:
        mg.set_num_threads(args.threads)
    repeat = 3 if args.quick else 7
    mg.show_config()
    print()
    bench_matmul([256, 512] if args.quick else [256, 512, 1024, 2048], repeat)
    bench_channel_moments(repeat, (16, 64, 32, 32) if args.quick else (64, 64, 32, 32))
    bench_overhead(repeat)


if __name__ == "__main__":
    main()
