"""SyncBatchNorm on shards equals BatchNorm (minigrad's and PyTorch's) on the whole batch.

    mpiexec -n 3 python tests/mpi_scripts/syncbn_check.py OUT.npz

Every rank draws the same whole batches; rank r takes its shard. Loss = sum over ranks of
sum(y_r * G_r) with a random upstream G. Checked per step over 3 steps: output, input
gradient, the sum over ranks of the gamma/beta gradients, running statistics; then eval.
Rank 0 saves the outputs of one 2d case for the test's single-process comparison.
"""
import sys

import numpy as np
from _harness import check, expect, finish, rank, sum_over_ranks, world

import minigrad as mg
import minigrad.nn as nn
from minigrad.distributed import stats

try:
    import torch
except ImportError:
    torch = None

BN = {2: nn.BatchNorm1d, 3: nn.BatchNorm1d, 4: nn.BatchNorm2d, 5: nn.BatchNorm3d}


def run_case(tail, sizes, dtype=np.float64, loc=0.0, tol=1e-10, steps=3, save=None):
    name = f"{(sum(sizes),) + tail} shards {sizes} {np.dtype(dtype).name}"
    C, N = tail[0], sum(sizes)
    lo, hi = sum(sizes[:rank]), sum(sizes[:rank + 1])
    rng = np.random.default_rng(11)
    gamma, beta = rng.uniform(0.5, 1.5, C), rng.standard_normal(C)
    sync = nn.SyncBatchNorm(C, momentum=0.3).to(mg.float64 if dtype == np.float64
                                                else mg.float32)
    ref = BN[len(tail) + 1](C, momentum=0.3).double()        # float64 reference
    for m in (sync, ref):
        m.weight.array[...], m.bias.array[...] = gamma, beta
    if torch is not None:
        tref = getattr(torch.nn, type(ref).__name__)(C, momentum=0.3).double()
        with torch.no_grad():
            tref.weight[...], tref.bias[...] = torch.tensor(gamma), torch.tensor(beta)
    outs = []
    for step in range(steps):
        X = (rng.standard_normal((N,) + tail) * rng.uniform(0.5, 3, (1, C) + (1,) * (len(tail) - 1))
             + loc + rng.standard_normal((1, C) + (1,) * (len(tail) - 1))).astype(dtype)
        G = rng.standard_normal((N,) + tail)
        x = mg.tensor(X[lo:hi], requires_grad=True)
        y = sync(x)
        (y * mg.tensor(G[lo:hi].astype(dtype))).sum().backward()
        xr = mg.tensor(X.astype(np.float64), requires_grad=True)
        yr = ref(xr)
        (yr * mg.tensor(G)).sum().backward()
        at = f"{name} step {step}"
        check(f"{at} output", y.detach().numpy(), yr.detach().numpy()[lo:hi], tol)
        check(f"{at} input grad", x.grad.detach().numpy(), xr.grad.detach().numpy()[lo:hi], tol * 10)
        for p in ("weight", "bias"):
            got = sum_over_ranks(getattr(sync, p).grad.detach().numpy())
            check(f"{at} sum of {p} grads", got, getattr(ref, p).grad.detach().numpy(), tol * 10)
        check(f"{at} running_mean", sync.running_mean.detach().numpy(), ref.running_mean.detach().numpy(), tol)
        check(f"{at} running_var", sync.running_var.detach().numpy() / ref.running_var.detach().numpy(), 1.0,
              tol)
        expect(f"{at} running stats equal on every rank",
               np.array_equal(sum_over_ranks(sync.running_var.detach().numpy()),
                              world * sync.running_var.detach().numpy().astype(np.float64)))
        if torch is not None:
            xt = torch.tensor(X.astype(np.float64), requires_grad=True)
            yt = tref(xt)
            (yt * torch.tensor(G)).sum().backward()
            check(f"{at} output vs torch", y.detach().numpy(), yt.detach().numpy()[lo:hi], tol)
            check(f"{at} input grad vs torch", x.grad.detach().numpy(), xt.grad.detach().numpy()[lo:hi], tol * 10)
            check(f"{at} running_var vs torch", sync.running_var.detach().numpy(),
                  tref.running_var.detach().numpy(), tol * 1e4)
        outs.append(y.detach().numpy())
    sync.eval()
    ref.eval()
    calls = stats.calls
    X = rng.standard_normal((N,) + tail).astype(dtype) + loc
    check(f"{name} eval output", sync(mg.tensor(X[lo:hi])).detach().numpy(),
          ref(mg.tensor(X.astype(np.float64))).detach().numpy()[lo:hi], tol, relative=True)
    expect(f"{name}: eval communicates nothing", stats.calls == calls)
    if save is not None:
        gathered = np.zeros((sum(sizes),) + tail)
        gathered[lo:hi] = outs[0]
        sync_out, plain = sum_over_ranks(gathered), plain_bn_on_shards(tail, sizes)
        if rank == 0:
            np.savez(save, sync=sync_out, plain=plain)


def plain_bn_on_shards(tail, sizes):
    """What BatchNorm gives when each rank normalizes its shard alone (first step's batch)."""
    C, N = tail[0], sum(sizes)
    lo, hi = sum(sizes[:rank]), sum(sizes[:rank + 1])
    rng = np.random.default_rng(11)
    rng.uniform(0.5, 1.5, C), rng.standard_normal(C)
    X = (rng.standard_normal((N,) + tail) * rng.uniform(0.5, 3, (1, C) + (1,) * (len(tail) - 1))
         + rng.standard_normal((1, C) + (1,) * (len(tail) - 1)))
    bn = BN[len(tail) + 1](C).double()
    out = np.zeros((N,) + tail)
    out[lo:hi] = bn(mg.tensor(X[lo:hi])).detach().numpy()
    return sum_over_ranks(out)


assert world == 3, "run with mpiexec -n 3"
run_case((4, 3, 3), (2, 2, 2), save=sys.argv[1])
run_case((4, 3, 3), (3, 5, 2))
run_case((5,), (3, 1, 4))                 # 1d (N, C), a rank with one sample
run_case((5,), (4, 0, 3))                 # a rank with an empty shard
run_case((3, 7), (2, 3, 1))               # 1d (N, C, L)
run_case((2, 2, 3, 2), (1, 2, 2))         # 3d
run_case((3, 4, 4), (3, 5, 2), dtype=np.float32, loc=1e4, tol=2e-3, steps=2)
finish()
