"""minigrad's kernels against NumPy in one process (PyTorch comparisons, which need a
process per library, are in bench_vs_torch.py).

    python benchmarks/bench_ops.py [--quick] [--threads N] [--device cpu|cuda]

matmul GFLOP/s (float32) at several sizes, per-channel mean + variance of a 64x64x32x32
float32 array (the channel_moments kernel, and through the tensor API), and minigrad's
per-op overhead: a 200-step chain ``y = y * 1.0001 + 0.001`` on 16 floats, forward and
backward. NumPy's BLAS keeps its own threads; minigrad's GEMM tiles over OpenMP threads.

--device (default cpu): where minigrad's tensors live; ``cuda`` runs minigrad's CuPy
backend (the kernel row calls the CUDA backend's channel_moments) and synchronizes the GPU
before every clock read. NumPy runs on the host only, so with --device cuda its columns
and its row are skipped ("-" in the tables, with a note) and minigrad is compared with
nothing; bench_gpu.py and ``bench_vs_torch.py --device cuda`` compare with PyTorch CUDA.
Without a usable GPU, --device cuda stops at once with a one-line message.
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _timing import best_time, no_sync, print_table  # noqa: E402

import minigrad as mg  # noqa: E402
from minigrad import backend  # noqa: E402

NO_NUMPY = "-"   # a NumPy cell with --device cuda: NumPy runs on the host only


def on_device(a, device):
    """``a`` as a minigrad tensor on ``device`` (on the host: sharing ``a``'s memory)."""
    return mg.from_numpy(a) if device == "cpu" else mg.tensor(a, device=device)


def bench_matmul(sizes, repeat, device, sync):
    rows = []
    for n in sizes:
        rng = np.random.default_rng(n)
        a = rng.standard_normal((n, n), dtype=np.float32)
        b = rng.standard_normal((n, n), dtype=np.float32)
        ma, mb = on_device(a, device), on_device(b, device)
        flop = 2.0 * n ** 3
        number = max(1, int(2e9 // flop))
        g_mg = flop / best_time(lambda: ma @ mb, repeat, number, sync=sync) / 1e9
        if device == "cpu":
            g_np = flop / best_time(lambda: a @ b, repeat, number) / 1e9
            rows.append([f"matmul {n}x{n} f32", f"{g_mg:.1f}", f"{g_np:.1f}",
                         f"{g_mg / g_np:.2f}x"])
        else:
            rows.append([f"matmul {n}x{n} f32", f"{g_mg:.1f}", NO_NUMPY, NO_NUMPY])
    print_table(["GFLOP/s", "minigrad", "numpy", "mg/numpy"], rows)
    if device != "cpu":
        print(f"(minigrad on {device}; NumPy columns skipped: NumPy runs on the host)")


def bench_channel_moments(repeat, shape, device, sync):
    x = np.random.default_rng(0).standard_normal(shape, dtype=np.float32) + 3
    mx = on_device(x, device)
    kernel, data = backend.for_device(device).channel_moments, mx.array
    dims = (0, 2, 3)
    t_kernel = best_time(lambda: kernel(data), repeat, sync=sync)
    t_api = best_time(lambda: (mx.mean(dims), mx.var(dims, correction=0)), repeat, sync=sync)
    if device == "cpu":
        t_np = best_time(lambda: (x.mean(dims), x.var(dims)), repeat)
        rows = [["channel_moments kernel (one call)", f"{t_kernel * 1e3:.2f}",
                 f"{t_np / t_kernel:.2f}x"],
                ["x.mean(dims) + x.var(dims)", f"{t_api * 1e3:.2f}", f"{t_np / t_api:.2f}x"],
                ["numpy x.mean + x.var", f"{t_np * 1e3:.2f}", "1.00x"]]
        note = "(speedup = numpy's time / this)"
    else:
        rows = [["channel_moments kernel (one call)", f"{t_kernel * 1e3:.2f}", NO_NUMPY],
                ["x.mean(dims) + x.var(dims)", f"{t_api * 1e3:.2f}", NO_NUMPY]]
        note = f"on {device} (NumPy row and speedups skipped: NumPy runs on the host)"
    print(f"\nper-channel mean+var of {'x'.join(map(str, shape))} float32 {note}")
    print_table(["", "ms", "speedup vs numpy"], rows)


def bench_overhead(repeat, device, sync, steps=200):
    def run():
        x = mg.ones(16, requires_grad=True, device=device)
        y = x
        for _ in range(steps):
            y = y * 1.0001 + 0.001
        y.sum().backward()

    t = best_time(run, repeat, number=5, sync=sync)
    print(f"\nper-op overhead: {steps} x (y * 1.0001 + 0.001) on 16 floats, forward + backward")
    print_table(["", "ms per chain", "us per op (fwd+bwd)"],
                [["minigrad", f"{t * 1e3:.2f}", f"{t / (2 * steps) * 1e6:.2f}"]])


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="smaller sizes, fewer repeats")
    p.add_argument("--threads", type=int, default=None, help="threads for minigrad")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu",
                   help="where minigrad's tensors live (cuda: the CuPy backend; NumPy "
                        "columns are then skipped)")
    args = p.parse_args()
    if args.device == "cuda" and not mg.cuda.is_available():
        sys.exit("bench_ops.py: --device cuda, but minigrad finds no usable GPU "
                 "(mg.cuda.is_available() is False: no CuPy, or no GPU); use --device cpu")
    sync = mg.cuda.synchronize if args.device == "cuda" else no_sync
    if args.threads:
        mg.set_num_threads(args.threads)
    repeat = 3 if args.quick else 7
    mg.show_config()
    if args.device != "cpu":
        print(f"device: {args.device}")
    print()
    bench_matmul([256, 512] if args.quick else [256, 512, 1024, 2048], repeat, args.device,
                 sync)
    bench_channel_moments(repeat, (16, 64, 32, 32) if args.quick else (64, 64, 32, 32),
                          args.device, sync)
    bench_overhead(repeat, args.device, sync)


if __name__ == "__main__":
    main()
