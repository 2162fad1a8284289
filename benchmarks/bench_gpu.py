"""minigrad's CUDA backend against PyTorch CUDA on the same GPU, one process per library.

    python benchmarks/bench_gpu.py [--pairs R] [--burst SECONDS] [--cases matmul,conv,bn2d,epoch]
    python benchmarks/bench_gpu.py --device cpu --quick      # a smoke test of this script

Each library runs in its own long-lived worker process (``--worker minigrad|torch``),
talking JSON lines over stdin/stdout, so neither imports the other. Every case is built
once per worker from the same NumPy-seeded inputs and warmed up (the first minigrad call
compiles its CUDA kernels; CuPy caches them on disk). Then the driver asks for R pairs of
bursts, alternating which library goes first; a burst repeats the call for --burst seconds
and synchronizes the GPU before reading the clock. Per pair, ratio = minigrad time / torch
time; the table shows the median pair ratio and each side's median time per call.

Cases (the issue's targets in brackets):
  matmul  4096 x 4096 float32 GEMM, reported as TFLOP/s           [minigrad >= 0.9x torch]
  conv    Conv2d(128, 128, 3, padding=1) forward + backward, N=128, 56 x 56
  bn2d    BatchNorm2d(128) forward + backward (training), N=128, 56 x 56  [<= 1.5x]
  epoch   one epoch of examples/cnn_mnist.py's net (batch 64, SGD, 938 steps on random
          MNIST-shaped data; no data loading)                     [<= 1.5x]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "examples"))

SIZES = {"full": dict(mm=4096, n=128, c=128, hw=56, steps=938),
         "quick": dict(mm=256, n=4, c=8, hw=12, steps=5)}


# ---------------------------------------------------------------- workers

def _library(kind, device):
    if kind == "torch":
        import torch
        dev = torch.device(device)
        sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
        return torch, torch.nn, torch.nn.functional, dev, sync
    import minigrad as mg
    sync = mg.cuda.synchronize if device != "cpu" else (lambda: None)
    return mg, mg.nn, mg.nn.functional, device, sync


def _build(kind, case, device, size):
    """A no-argument function running one call of ``case``, and the work per call."""
    import numpy as np
    lib, nn, F, dev, _ = _library(kind, device)
    rng = np.random.default_rng(0)

    def t(a, grad=False):
        x = lib.tensor(a.astype(np.float32), device=dev)
        return x.requires_grad_() if grad else x

    if case == "matmul":
        m = size["mm"]
        a, b = t(rng.standard_normal((m, m))), t(rng.standard_normal((m, m)))
        return (lambda: a @ b), 2 * m ** 3
    n, c, hw = size["n"], size["c"], size["hw"]
    if case in ("conv", "bn2d"):
        layer = (nn.Conv2d(c, c, 3, padding=1) if case == "conv" else nn.BatchNorm2d(c)).to(dev)
        x = t(rng.standard_normal((n, c, hw, hw)), grad=True)
        g = t(rng.standard_normal((n, c, hw, hw)))

        def step():
            layer(x).backward(g)
        return step, None
    if case == "epoch":
        from cnn_mnist import conv_bn_net
        lib.manual_seed(0)
        net = conv_bn_net(nn).to(dev)
        opt = lib.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
        xs = [t(rng.standard_normal((64, 1, 28, 28))) for _ in range(4)]
        ys = [lib.tensor(rng.integers(0, 10, 64), device=dev) for _ in range(4)]

        def epoch():
            for i in range(size["steps"]):
                opt.zero_grad()
                F.cross_entropy(net(xs[i % 4]), ys[i % 4]).backward()
                opt.step()
        return epoch, None
    raise ValueError(f"unknown case {case!r}")


def worker(kind, device, quick):
    size = SIZES["quick" if quick else "full"]
    sync = _library(kind, device)[4]
    built = {}
    for line in sys.stdin:
        request = json.loads(line)
        case = request["case"]
        if case not in built:
            fn, work = _build(kind, case, device, size)
            fn()
            sync()               # warm: kernels compiled, memory pools filled
            built[case] = (fn, work)
        fn, work = built[case]
        calls, start = 0, time.perf_counter()
        while True:
            fn()
            calls += 1
            sync()
            elapsed = time.perf_counter() - start
            if elapsed >= request["burst"]:
                break
        print(json.dumps({"seconds": elapsed / calls, "work": work}), flush=True)


# ---------------------------------------------------------------- driver

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--device", default="cuda", help="cuda, or cpu for a smoke test")
    p.add_argument("--cases", default="matmul,conv,bn2d,epoch")
    p.add_argument("--pairs", type=int, default=7, help="paired bursts per case")
    p.add_argument("--burst", type=float, default=1.0, help="seconds per burst")
    p.add_argument("--quick", action="store_true", help="tiny sizes, 2 short pairs")
    p.add_argument("--worker", choices=["minigrad", "torch"], help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        return worker(args.worker, args.device, args.quick)
    if args.quick:
        args.pairs, args.burst = 2, 0.05
    flags = ["--device", args.device] + (["--quick"] if args.quick else [])
    workers = {k: subprocess.Popen([sys.executable, __file__, "--worker", k] + flags,
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
               for k in ("minigrad", "torch")}

    def burst(kind, case):
        w = workers[kind]
        w.stdin.write(json.dumps({"case": case, "burst": args.burst}) + "\n")
        w.stdin.flush()
        line = w.stdout.readline()
        if not line:
            sys.exit(f"the {kind} worker failed on {case} (its error is above)")
        return json.loads(line)

    rows = []
    for case in args.cases.split(","):
        times = {"minigrad": [], "torch": []}
        ratios = []
        work = None
        for i in range(args.pairs):
            order = ("minigrad", "torch") if i % 2 == 0 else ("torch", "minigrad")
            got = {k: burst(k, case) for k in order}
            work = got["minigrad"]["work"]
            for k in got:
                times[k].append(got[k]["seconds"])
            ratios.append(got["minigrad"]["seconds"] / got["torch"]["seconds"])
        m, t = statistics.median(times["minigrad"]), statistics.median(times["torch"])
        ratio = statistics.median(ratios)
        if work:   # matmul: throughput, higher is better
            rows.append((case, f"{work / m / 1e12:.2f} TFLOP/s", f"{work / t / 1e12:.2f} TFLOP/s",
                         f"{1 / ratio:.2f}x of torch"))
        else:
            rows.append((case, f"{m * 1e3:.2f} ms", f"{t * 1e3:.2f} ms",
                         f"{ratio:.2f}x torch's time"))
    for w in workers.values():
        w.stdin.close()
        w.wait()
    from _timing import print_table
    print(f"device: {args.device}; {args.pairs} pairs of {args.burst} s bursts per case; "
          f"median pair ratio")
    print_table(["case", "minigrad", "torch", "ratio"], rows)


if __name__ == "__main__":
    main()
