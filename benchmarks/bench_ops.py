"""minigrad against NumPy and PyTorch on the same machine, in the same run.

    python benchmarks/bench_ops.py [--quick] [--threads N]

matmul GFLOP/s (float32), per-channel mean+var of a 64x64x32x32 float32 array, and the
per-op overhead of a 200-step chain ``y = y * 1.0001 + 0.001`` on 16 floats, forward and
backward. Ratios > 1 mean minigrad is faster (GFLOP/s) or slower (time), as labelled.
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _timing import best_time, print_table, try_import_torch  # noqa: E402

import minigrad as mg  # noqa: E402


def bench_matmul(sizes, torch, repeat):
    rows = []
    for n in sizes:
        rng = np.random.default_rng(n)
        a = rng.standard_normal((n, n), dtype=np.float32)
        b = rng.standard_normal((n, n), dtype=np.float32)
        ma, mb = mg.from_numpy(a), mg.from_numpy(b)
        flop = 2.0 * n ** 3
        number = max(1, int(2e9 // flop))
        t_mg = best_time(lambda: ma @ mb, repeat, number)
        t_np = best_time(lambda: a @ b, repeat, number)
        g_mg, g_np = flop / t_mg / 1e9, flop / t_np / 1e9
        row = [f"matmul {n}x{n} f32", f"{g_mg:.1f}", f"{g_np:.1f}", f"{g_mg / g_np:.2f}x"]
        if torch is not None:
            ta, tb = torch.from_numpy(a), torch.from_numpy(b)
            g_t = flop / best_time(lambda: ta @ tb, repeat, number) / 1e9
            row += [f"{g_t:.1f}", f"{g_mg / g_t:.2f}x"]
        rows.append(row)
    headers = ["GFLOP/s", "minigrad", "numpy", "mg/numpy"] + (["torch", "mg/torch"] if torch else [])
    print_table(headers, rows)


def bench_channel_moments(torch, repeat, shape=(64, 64, 32, 32)):
    x = np.random.default_rng(0).standard_normal(shape, dtype=np.float32) + 3
    mx = mg.from_numpy(x)
    dims = (0, 2, 3)
    from minigrad.backend import cpu
    t_kernel = best_time(lambda: cpu.channel_moments(x), repeat)
    t_api = best_time(lambda: (mx.mean(dims), mx.var(dims, correction=0)), repeat)
    t_np = best_time(lambda: (x.mean(dims), x.var(dims)), repeat)
    rows = [["channel_moments kernel (one call)", f"{t_kernel * 1e3:.2f}", f"{t_np / t_kernel:.2f}x"],
            ["x.mean(dims) + x.var(dims)", f"{t_api * 1e3:.2f}", f"{t_np / t_api:.2f}x"],
            ["numpy x.mean + x.var", f"{t_np * 1e3:.2f}", "1.00x"]]
    if torch is not None:
        tx = torch.from_numpy(x)
        t_t = best_time(lambda: (tx.mean(dims), tx.var(dims, correction=0)), repeat)
        rows.append(["torch x.mean + x.var", f"{t_t * 1e3:.2f}", f"{t_np / t_t:.2f}x"])
        for r in rows[:2]:
            r.append(f"{t_t / float(r[1]) * 1e3:.2f}x")
        rows[2].append(f"{t_t / t_np:.2f}x")
        rows[3].append("1.00x")
    print(f"\nper-channel mean+var of {'x'.join(map(str, shape))} float32 (ms; speedup = other/this)")
    print_table(["", "ms", "speedup vs numpy"] + (["speedup vs torch"] if torch else []), rows)


def bench_overhead(torch, repeat, steps=200):
    def chain(lib):
        def run():
            x = lib.ones(16, requires_grad=True)
            y = x
            for _ in range(steps):
                y = y * 1.0001 + 0.001
            y.sum().backward()
        return run

    t_mg = best_time(chain(mg), repeat, number=5)
    rows = [["minigrad", f"{t_mg * 1e3:.2f}", f"{t_mg / (2 * steps) * 1e6:.2f}"]]
    if torch is not None:
        t_t = best_time(chain(torch), repeat, number=5)
        rows.append(["torch", f"{t_t * 1e3:.2f}", f"{t_t / (2 * steps) * 1e6:.2f}"])
        rows[0].append(f"{t_mg / t_t:.2f}x")
        rows[1].append("1.00x")
    print(f"\nper-op overhead: {steps} x (y * 1.0001 + 0.001) on 16 floats, forward + backward")
    print_table(["", "ms per chain", "us per op (fwd+bwd)"] + (["time vs torch"] if torch else []), rows)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="smaller sizes, fewer repeats")
    p.add_argument("--threads", type=int, default=None, help="threads for every library")
    args = p.parse_args()
    torch = try_import_torch()
    if args.threads:
        mg.set_num_threads(args.threads)
        if torch is not None:
            torch.set_num_threads(args.threads)
    repeat = 3 if args.quick else 7
    mg.show_config()
    if torch is not None:
        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    else:
        print("torch not installed: its columns are left out")
    print()
    bench_matmul([256, 512] if args.quick else [256, 512, 1024, 2048], torch, repeat)
    bench_channel_moments(torch, repeat, (16, 64, 32, 32) if args.quick else (64, 64, 32, 32))
    bench_overhead(torch, repeat)


if __name__ == "__main__":
    main()
