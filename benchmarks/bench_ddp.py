"""Data-parallel training throughput over MPI: 1 rank vs 2, one thread per rank.

    python benchmarks/bench_ddp.py [--steps N] [--ranks 1,2] [--json PATH]

For each rank count the driver launches ``mpiexec -n k python bench_ddp.py --worker`` with
OMP_NUM_THREADS=1 (and minigrad's own pool at 1 thread). Each worker trains, on random
data, the BN paper's MLP (bn_mlp, batch 60 per rank) and cnn_mnist.py's net (batch 64 per
rank), each with SyncBatchNorm and DistributedDataParallel, as examples/ddp_mnist.py does:
a full step (zero_grad, forward, cross-entropy, backward with gradient averaging, SGD).
The per-rank batch is fixed (weak scaling), so k ranks process k times the samples per
step; samples/s = k x batch x steps / wall time of the timed steps (after warm-up, between
barriers, best of 3 rounds). "Allreduce share" is the time inside MPI collectives (the
DDP buckets and SyncBatchNorm's statistics, waiting for the slower rank included) over
the step time, averaged over ranks. Speedup = samples/s at k ranks / at 1 rank.

Timings on a shared machine are noisy; a k-rank run needs k free cores.
"""
import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "examples"))
MODELS = {"mlp": ("BN-MLP (bn_mlp, SyncBN1d+sigmoid)", 60),
          "cnn": ("CNN (conv_bn_net, SyncBN)", 64)}


def worker(steps):
    import numpy as np

    import minigrad as mg
    import minigrad.distributed as dist
    import minigrad.nn as nn
    from minigrad.distributed.comm import _state
    from _common import bn_mlp
    from cnn_mnist import conv_bn_net

    mg.set_num_threads(1)
    dist.init()
    rank, world = dist.get_rank(), dist.get_world_size()
    comm = _state["comm"] or None
    results = {}
    for name, (_, batch) in MODELS.items():
        mg.manual_seed(0)
        net = bn_mlp(True) if name == "mlp" else conv_bn_net()
        model = dist.DistributedDataParallel(nn.SyncBatchNorm.convert_sync_batchnorm(net))
        opt = mg.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        rng = np.random.default_rng(rank)
        data = [(mg.tensor(rng.standard_normal((batch, 1, 28, 28)).astype(np.float32)),
                 mg.tensor(rng.integers(0, 10, batch))) for _ in range(8)]

        def step(i):
            x, y = data[i % len(data)]
            opt.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            opt.step()

        for i in range(3):
            step(i)
        best, share = float("inf"), 0.0
        for _ in range(3):
            if comm:
                comm.Barrier()
            dist.stats.reset()
            start = time.perf_counter()
            for i in range(steps):
                step(i)
            if comm:
                comm.Barrier()
            seconds = time.perf_counter() - start
            if seconds < best:
                best, share = seconds, dist.stats.seconds / seconds
        if comm:
            share = comm.allreduce(share) / world
            best = comm.allreduce(best, op=_state["MPI"].MAX)
        results[name] = {"samples_per_s": world * batch * steps / best,
                         "step_ms": 1000 * best / steps, "allreduce_share": share}
    if rank == 0:
        print("RESULT " + json.dumps({"world": world, "results": results}), flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=30, help="timed steps per round")
    p.add_argument("--ranks", default="1,2", help="rank counts to compare")
    p.add_argument("--json", default=None, help="also write the numbers here")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        return worker(args.steps)
    mpiexec = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    if not os.path.exists(mpiexec):
        mpiexec = "mpiexec"
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    runs = {}
    for k in (int(v) for v in args.ranks.split(",")):
        out = subprocess.run([mpiexec, "-n", str(k), sys.executable, __file__, "--worker",
                              "--steps", str(args.steps)], env=env, capture_output=True,
                             text=True, timeout=1800)
        line = [s for s in out.stdout.splitlines() if s.startswith("RESULT ")]
        if out.returncode or not line:
            sys.exit(f"mpiexec -n {k} failed:\n{out.stdout}\n{out.stderr}")
        runs[k] = json.loads(line[0][len("RESULT "):])["results"]
    base = min(runs)
    rows = []
    for name, (label, batch) in MODELS.items():
        for k, r in runs.items():
            m = r[name]
            rows.append([label, k, f"{batch} x {k}", f"{m['samples_per_s']:.0f}",
                         f"{m['step_ms']:.1f}", f"{100 * m['allreduce_share']:.1f}%",
                         f"{m['samples_per_s'] / runs[base][name]['samples_per_s']:.2f}x"])
    from _timing import print_table
    print_table(["model", "ranks", "batch (per rank x ranks)", "samples/s", "step ms",
                 "Allreduce share", "speedup"], rows)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(runs, f, indent=1)


if __name__ == "__main__":
    main()
