"""DataLoader throughput with 0, 1 and 2 worker processes, on datasets whose
``__getitem__`` is costly.

    python benchmarks/bench_dataloader.py [--samples 512] [--batch-size 32] [--workers 0,1,2]

Two map-style datasets of 28x28 float32 images, each sample costing about 1 ms:

* ``io``: ``__getitem__`` sleeps 1 ms (a read from disk or the network): the process is
  idle meanwhile, so workers overlap the waits even on a busy machine;
* ``cpu``: ``__getitem__`` computes for about 1 ms (repeated NumPy smoothing of the
  image, no BLAS): workers help only as far as there are free cores.

For each number of workers, an epoch is timed with ``persistent_workers`` after a warm-up
epoch (steady state: the workers exist already), best of ``--repeat``; "startup" is the
time from ``iter(loader)`` to the first batch of a fresh, non-persistent loader (forking
the workers). Speedup = epoch time with the first worker count (0) / with this one.
Timings on a shared machine are noisy, and the ``cpu`` case cannot scale past the free
cores.
"""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _timing import print_table  # noqa: E402

from minigrad.utils.data import DataLoader, Dataset  # noqa: E402


class SleepyImages(Dataset):
    """I/O-like: each sample waits ``delay`` seconds."""

    def __init__(self, n, delay=1e-3):
        self.n, self.delay = n, delay

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        time.sleep(self.delay)
        return np.full((1, 28, 28), i % 255, np.float32) / 255, i % 10


class ComputedImages(Dataset):
    """CPU-bound: each sample is smoothed ``rounds`` times (elementwise NumPy work)."""

    def __init__(self, n, rounds):
        self.n, self.rounds = n, rounds

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        x = np.random.default_rng(i).random((28, 28), dtype=np.float32)
        for _ in range(self.rounds):
            x = 0.2 * (x + np.roll(x, 1, 0) + np.roll(x, -1, 0) + np.roll(x, 1, 1)
                       + np.roll(x, -1, 1))
        return x[None], i % 10


def calibrate_rounds(target=1e-3):
    """Smoothing rounds that take about ``target`` seconds here."""
    probe = ComputedImages(1, 20)
    start = time.perf_counter()
    for _ in range(20):
        probe[0]
    per_round = (time.perf_counter() - start) / (20 * 20)
    return max(1, round(target / per_round))


def epoch_time(dataset, workers, batch_size, repeat):
    kwargs = {"num_workers": workers, "persistent_workers": workers > 0}
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, seed=0, **kwargs)
    for _ in loader:                        # warm-up: forks the workers
        pass
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in loader:
            pass
        best = min(best, time.perf_counter() - start)
    del loader
    return best


def startup_time(dataset, workers, batch_size):
    loader = DataLoader(dataset, batch_size=batch_size, num_workers=workers)
    start = time.perf_counter()
    next(iter(loader))
    return time.perf_counter() - start


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--samples", type=int, default=512, help="samples per epoch")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--workers", default="0,1,2", help="comma-separated worker counts")
    p.add_argument("--repeat", type=int, default=3, help="timed epochs (best is kept)")
    args = p.parse_args()
    workers = [int(w) for w in args.workers.split(",")]
    rounds = calibrate_rounds()
    cases = [("io: sleeps 1 ms/sample", SleepyImages(args.samples)),
             (f"cpu: ~1 ms/sample ({rounds} smoothing rounds)",
              ComputedImages(args.samples, rounds))]
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"{args.samples} samples per epoch, batch {args.batch_size}, {cpus} CPUs; "
          f"epoch = best of {args.repeat} after a warm-up, persistent workers\n")
    rows = []
    for name, dataset in cases:
        base = None
        for w in workers:
            t = epoch_time(dataset, w, args.batch_size, args.repeat)
            base = t if base is None else base
            rows.append([name, w, f"{t * 1e3:.0f}", f"{args.samples / t:.0f}",
                         f"{base / t:.2f}x",
                         f"{startup_time(dataset, w, args.batch_size) * 1e3:.0f}"])
    print_table(["dataset", "workers", "epoch (ms)", "samples/s", "speedup",
                 "startup (ms)"], rows)


if __name__ == "__main__":
    main()
