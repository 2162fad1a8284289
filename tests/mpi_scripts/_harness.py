"""What the rank scripts share: joining the job, collecting failed checks, and ending
every rank with the same verdict (exit 1 on all ranks if any rank saw a failure)."""
import sys

import numpy as np

import minigrad.distributed as dist
from minigrad.distributed.comm import allreduce_array_

dist.init()
rank, world = dist.get_rank(), dist.get_world_size()
failures = []


def check(name, got, want, tol, relative=False):
    """Record a failure when max |got - want| > tol (times max(1, max |want|) when
    ``relative``); ``want`` may be a number, compared with every entry."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    if want.ndim == 0:
        want = np.broadcast_to(want, got.shape)
    if got.shape != want.shape:   # (an array is never broadcast: that would hide this)
        failures.append(f"{name}: shape {got.shape} != {want.shape}")
        return
    if relative:
        tol = tol * max(1.0, float(np.abs(want).max(initial=0.0)))
    err = float(np.abs(got - want).max(initial=0.0))
    if not err <= tol:
        failures.append(f"{name}: max abs error {err:.3e} > {tol:g}")


def expect(name, ok):
    if not ok:
        failures.append(name)


def sum_over_ranks(a):
    return allreduce_array_(np.array(a, np.float64, order="C"))


def finish():
    for f in failures:
        print(f"[rank {rank}] FAIL {f}", flush=True)
    total = int(sum_over_ranks([len(failures)])[0])
    if rank == 0:
        print(f"{total} failed checks over {world} ranks", flush=True)
    sys.exit(1 if total else 0)
