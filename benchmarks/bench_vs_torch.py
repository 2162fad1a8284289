"""minigrad against PyTorch, CPU or CUDA (NumPy for matmul): a process per library, paired bursts.

    python benchmarks/bench_vs_torch.py [--quick] [--cases bn2d,mlp,...] [--pairs R]
                                        [--threads N] [--burst SECONDS] [--json PATH]
                                        [--device cpu|cuda] [--load N]

--device (default cpu): ``cuda`` runs minigrad's CuPy backend against PyTorch CUDA on the
same GPU. Every tensor and model a case builds is then created on the GPU in both libraries
(``tensor(..., device=)``, ``model.to(device)``), and each timed call ends with the GPU's
synchronize (mg.cuda.synchronize / torch.cuda.synchronize), so every clock read waits for
the queued kernels. Host-only peers are left out on cuda: matmul's peer is NumPy, so
minigrad's matmul is timed alone (no peer, no ratio), and the memory rows (tracemalloc and
the CPU allocator's profiler and RSS see host memory only) are skipped; the table says so
in a note. If either library finds no usable GPU, the run stops at once with a one-line
message (mg.cuda.is_available() / torch.cuda.is_available()).

Method. The driver imports neither library. It starts long-lived worker processes, each
``python bench_vs_torch.py --worker KIND`` talking JSON lines over stdin/stdout: KIND
'minigrad' imports only minigrad, 'torch' only torch (each ships its own OpenMP runtime, so
they never share a process), 'numpy' only NumPy (the peer for matmul), and
'minigrad-after-torch' imports torch first and then minigrad (the same-process check).
For each case both workers build it once from the same NumPy-seeded inputs (weights: each
library's own default initialization) and warm it up. Then the driver asks for R pairs of
bursts, alternating who goes first: minigrad, peer, peer, minigrad, ... A burst repeats the
call for --burst seconds (at least once); its time is wall time / calls, so garbage
collection and allocator work are included, amortized. Only one worker computes at any
moment (the others wait on their pipes), with a 0.15 s idle gap after each burst.
Per pair, ratio = minigrad time / peer time; the table shows the median pair ratio with
the quartiles of the pair ratios in brackets, and each side's median per-call time. Lower
is better in every row, matmul and the same-process rows included.

The machine may be shared. Two OpenMP threads on two cores slow down many times over when
another process takes a core (each barrier waits out a descheduled thread), so a pair
during which other processes kept more than --max-foreign cores busy (machine-wide busy
CPU from /proc/stat, steal included, minus the worker's own CPU time) is retried after a
short wait for quiet, up to twice the pairs asked for and twice the case's undisturbed
time. The output says how many pairs were clean per case; load averages at start and end
are in the header.

A busy machine (--load N): the driver starts N processes that spin on the CPU (a Python
``while True: pass`` each) and keeps them stopped (SIGSTOP) except during the loaded
bursts. Each round is then an idle pair and a loaded pair of bursts, in alternating order,
so both libraries are timed idle and loaded at nearly the same moment. Before each timed
burst the worker runs the case untimed for --settle seconds (default 2) in the new state,
so the timing sees a steady idle or busy machine, not the moments after a change (minigrad
adapts its thread team to the load within a back-off of up to 6.4 s, see _threads.pyx). The table gives each
library's loaded and idle per-call times, its slowdown (loaded / idle, the median of the
rounds' ratios) and minigrad / peer under load (the median of the loaded pairs' ratios).
Pairs are not retried for foreign load then (the load is the point); a fair share of two
cores among N + 1 busy processes would be a slowdown of (N + 1) / 2 for a process that
uses both cores when idle.

Training steps (zero_grad, forward, cross-entropy, backward, SGD step) cycle through 8
pre-made random batches; no data loading is timed. minigrad runs its defaults throughout
(BatchNorm is always the composite F.batch_norm). Epoch rows are derived: BN-MLP step
x 60000/60 (bn_mnist.py, whose BN net only: the script also trains a plain net) and CNN
step x 60000/64 (cnn_mnist.py), with the same pair ratios.

Memory: the peak extra memory of one BatchNorm2d(64) forward + backward on 64x64x32x32 with
input, weights and upstream gradient already allocated (and earlier gradients cleared), each
library in a fresh process. minigrad: tracemalloc (NumPy reports its buffers to it). torch:
its profiler (profile_memory=True) lists every allocation and free of its CPU allocator;
the peak of their running sum is the number. Both: the peak-RSS (ru_maxrss) rise over the
current RSS before the call, after a tiny warm-up that loads the kernels without raising the
high-water mark; the same method for both libraries and blind to no allocator, but it counts
only pages actually written (a buffer allocated and freed untouched is missed) and memory
freed earlier and reused from the heap does not raise it, so it reads lower.
"""
import argparse
import ast
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLES = os.path.join(os.path.dirname(HERE), "examples")
MNIST_TRAIN = 60000
BUF_MB = 64 * 64 * 32 * 32 * 4 / 1e6   # one full-size float32 buffer of the BN2d case

# short name: (row label, minigrad worker kind, peer worker kind, target ratio); the targets
# of the rows issue 24 names are its targets, the others what held before it
CASES = {
    "bn2d": ("BatchNorm2d(64) fwd+bwd 64x64x32x32", "minigrad", "torch", 0.7),
    "bn1d": ("BatchNorm1d(100) fwd+bwd 60x100", "minigrad", "torch", 0.9),
    "gn": ("GroupNorm(32,64) fwd+bwd 64x64x32x32", "minigrad", "torch", 1.0),
    "ln": ("LayerNorm(100) fwd+bwd 60x100", "minigrad", "torch", 1.2),
    "conv": ("Conv2d(64,64,3,p=1) fwd+bwd N=32 32x32", "minigrad", "torch", 0.9),
    "mlp": ("MLP step (bn_mlp, BN1d+sigmoid, batch 60)", "minigrad", "torch", 0.9),
    "cnn": ("CNN step (conv_bn_net, batch 64)", "minigrad", "torch", 1.2),
    "vgg": ("VGG-style step (8 conv-BN-ReLU, CIFAR 3x32x32, batch 32)", "minigrad", "torch",
            1.0),
    "resnet": ("ResNet-20 step (CIFAR 3x32x32, batch 32)", "minigrad", "torch", 1.0),
    "tiny": ("400 tiny ops fwd+bwd, shape (16,)", "minigrad", "torch", 0.8),
    "lstm": ("LSTM(28,128) fwd+bwd, batch 64, 28 steps", "minigrad", "torch", 1.3),
    "transformer": ("TransformerEncoderLayer(64, 4 heads) step, 64x28 tokens",
                    "minigrad", "torch", 1.0),
    "mlp-grad": ("MLP loss fwd+bwd, all parameters (bn_mlp, batch 60)", "minigrad", "torch",
                 1.3),
    "mlp-hvp": ("MLP loss Hessian-vector product, all parameters", "minigrad", "torch", 1.3),
    "matmul": ("matmul 1024x1024 f32 [peer: NumPy]", "minigrad", "numpy", 1.05),
    "mlp-sameproc": ("MLP step, torch imported first [peer: plain minigrad]",
                     "minigrad-after-torch", "minigrad", 1.2),
    "cnn-sameproc": ("CNN step, torch imported first [peer: plain minigrad]",
                     "minigrad-after-torch", "minigrad", 1.2),
    "memory": ("BN2d fwd+bwd peak extra memory, MB", None, None, None),
}
# case whose step time gives an epoch row: (label, steps per epoch)
EPOCH_ROWS = {"mlp": ("bn_mnist.py epoch, s (BN-MLP step x 1000)", MNIST_TRAIN // 60),
              "cnn": ("cnn_mnist.py epoch, s (CNN step x 937)", MNIST_TRAIN // 64)}
SETTLE_S = 0.15   # idle gap after each burst (see timed_burst)


# ----------------------------------------------------------------------------- workers

def example_function(filename, name, nn_module):
    """One model-building function from examples/, loaded from its source with ``nn`` bound
    to ``nn_module``. Importing examples/_common.py would import minigrad (and tqdm) into
    the torch worker, so both workers load the same source this way instead."""
    path = os.path.join(EXAMPLES, filename)
    with open(path) as f:
        tree = ast.parse(f.read(), path)
    func = next(node for node in tree.body
                if isinstance(node, ast.FunctionDef) and node.name == name)
    namespace = {"nn": nn_module}
    exec(compile(ast.Module([func], type_ignores=[]), path, "exec"), namespace)
    return namespace[name]


class DeviceUnavailable(Exception):
    """The device asked for is not usable by a worker's library (its message is one line)."""


def no_sync():
    """The host's synchronize: nothing to wait for."""


class Minigrad:
    def __init__(self, threads, device="cpu"):
        import minigrad
        import minigrad.nn
        self._setup(minigrad, threads, device, "minigrad", "mg.cuda.is_available() is False: "
                    "no CuPy, or no GPU")

    def _setup(self, lib, threads, device, who, why):
        """Seed and thread ``lib`` (minigrad or torch: the same names), on ``device``."""
        if device == "cuda" and not lib.cuda.is_available():
            raise DeviceUnavailable(f"--device cuda, but {who} finds no usable GPU ({why}); "
                                    f"use --device cpu")
        lib.set_num_threads(threads)
        lib.manual_seed(0)
        self.lib, self.nn, self.F = lib, lib.nn, lib.nn.functional
        self.version = lib.__version__
        self.threads = lib.get_num_threads()
        self.device = device
        self.sync = lib.cuda.synchronize if device == "cuda" else no_sync

    def tensor(self, array, requires_grad=False):
        return self.lib.tensor(array, requires_grad=requires_grad, device=self.device)

    def to_device(self, module):
        """``module`` with its parameters and buffers on the device (on the host: as is)."""
        return module if self.device == "cpu" else module.to(self.device)

    def sgd(self, params, **kw):
        return self.lib.optim.SGD(params, **kw)

    def no_grad(self):
        return self.lib.no_grad()


class Torch(Minigrad):
    def __init__(self, threads, device="cpu"):
        import torch
        self._setup(torch, threads, device, "PyTorch", "torch.cuda.is_available() is False")


class NumPy:
    sync = staticmethod(no_sync)

    def __init__(self, threads, device="cpu"):
        import numpy
        if device != "cpu":
            raise DeviceUnavailable(f"NumPy runs on the host only, not on {device}")
        self.version = numpy.__version__
        try:
            from threadpoolctl import threadpool_limits
            self._limits = threadpool_limits(threads, user_api="blas")  # held for life
            self.threads = threads
        except ImportError:
            self.threads = "BLAS default"


def make_lib(kind, threads, device="cpu"):
    if kind == "minigrad-after-torch":
        import torch  # noqa: F401  (loaded first on purpose: its OpenMP runtime wins)
    return {"minigrad": Minigrad, "minigrad-after-torch": Minigrad, "torch": Torch,
            "numpy": NumPy}[kind](threads, device)


def _clear(tensors):
    for t in tensors:
        t.grad = None


def layer_case(lib, make_layer, shape, seed):
    """forward + backward of one layer with a random upstream gradient."""
    import numpy as np
    rng = np.random.default_rng(seed)
    layer = lib.to_device(make_layer(lib.nn))
    x = lib.tensor(rng.standard_normal(shape, dtype=np.float32), requires_grad=True)
    up = lib.tensor(rng.standard_normal(tuple(layer(x).shape), dtype=np.float32))
    tensors = [x, *layer.parameters()]

    def run():
        _clear(tensors)
        layer(x).backward(up)
    return run


def train_case(lib, make_model, batch, seed, image=(1, 28, 28), **sgd):
    """zero_grad, forward, cross-entropy, backward, SGD step on fixed pre-made batches of
    ``image``-shaped inputs (MNIST's by default)."""
    import numpy as np
    rng = np.random.default_rng(seed)
    model = lib.to_device(make_model(lib.nn))
    opt = lib.sgd(model.parameters(), **sgd)
    batches = [(lib.tensor(rng.standard_normal((batch, *image), dtype=np.float32)),
                lib.tensor(rng.integers(0, 10, batch)))
               for _ in range(8)]
    state = {"i": 0}

    def run():
        x, y = batches[state["i"] % len(batches)]
        state["i"] += 1
        opt.zero_grad()
        lib.F.cross_entropy(model(x), y).backward()
        opt.step()
    return run


def vgg_net(nn):
    """A CIFAR-sized VGG: 3x3 conv-BN-ReLU blocks of 64, 64 | 128, 128 | 256, 256 | 512, 512
    channels with 2x2 max pooling between the stages (32 -> 16 -> 8 -> 4 -> 2), then global
    average pooling and a linear classifier (VGG-11's pattern at CIFAR's resolution)."""
    layers, cin = [], 3
    for stage, width in enumerate((64, 128, 256, 512)):
        if stage:
            layers.append(nn.MaxPool2d(2))
        for _ in range(2):
            layers += [nn.Conv2d(cin, width, 3, padding=1, bias=False), nn.BatchNorm2d(width),
                       nn.ReLU()]
            cin = width
    layers += [nn.MaxPool2d(2), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, 10)]
    return nn.Sequential(*layers)


def resnet20(nn):
    """He et al. (2016)'s CIFAR ResNet-20: a 3x3 conv-BN-ReLU stem of 16 channels, three
    stages of three basic blocks (16, 32, 64 channels; the first block of stages 2 and 3
    halves the resolution, its shortcut a strided 1x1 conv + BN), global average pooling
    and a linear classifier."""
    class Block(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.body = nn.Sequential(
                nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout),
                nn.ReLU(), nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout))
            self.shortcut = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                           nn.BatchNorm2d(cout))
                             if stride != 1 or cin != cout else nn.Identity())
            self.relu = nn.ReLU()

        def forward(self, x):
            return self.relu(self.body(x) + self.shortcut(x))

    layers, cin = [nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU()], 16
    for stage, width in enumerate((16, 32, 64)):
        for block in range(3):
            layers.append(Block(cin, width, 2 if stage and not block else 1))
            cin = width
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, 10)]
    return nn.Sequential(*layers)


def lstm_case(lib, seed):
    """One LSTM layer over a (64, 28, 28) batch-first sequence: forward, then backward of
    the whole output with a random upstream gradient (torch runs its fused native cell)."""
    import numpy as np
    rng = np.random.default_rng(seed)
    lstm = lib.to_device(lib.nn.LSTM(28, 128, batch_first=True))
    x = lib.tensor(rng.standard_normal((64, 28, 28), dtype=np.float32), requires_grad=True)
    up = lib.tensor(rng.standard_normal((64, 28, 128), dtype=np.float32))
    tensors = [x, *lstm.parameters()]

    def run():
        _clear(tensors)
        lstm(x)[0].backward(up)
    return run


def transformer_case(lib, seed):
    """A training step of one TransformerEncoderLayer (d_model 64, 4 heads, the default
    feed-forward width and dropout) on 64 sequences of 28 tokens, with a linear head on the
    mean token: zero_grad, forward, cross-entropy, backward, SGD step."""
    import numpy as np
    rng = np.random.default_rng(seed)
    nn = lib.nn
    layer = nn.TransformerEncoderLayer(64, 4, batch_first=True)
    head = nn.Linear(64, 10)
    model = lib.to_device(nn.ModuleList([layer, head]))
    opt = lib.sgd(model.parameters(), lr=0.01)
    x = lib.tensor(rng.standard_normal((64, 28, 64), dtype=np.float32))
    y = lib.tensor(rng.integers(0, 10, 64))

    def run():
        opt.zero_grad()
        lib.F.cross_entropy(head(layer(x).mean(1)), y).backward()
        opt.step()
    return run


def mlp_loss_case(lib, make_model, seed, hvp):
    """The cross-entropy of ``make_model``'s net on one batch of 60 as a function of all its
    parameters (``func.functional_call``, train mode: BN uses the batch's statistics), and
    either its gradient (forward + one backward: ``autograd.grad``) or a Hessian-vector
    product with a random v (``autograd.functional.hvp``: forward, a backward that records
    its graph, and a backward through that)."""
    import numpy as np
    rng = np.random.default_rng(seed)
    model = lib.to_device(make_model(lib.nn))
    names = [n for n, _ in model.named_parameters()]
    params = tuple(p.detach().requires_grad_() for p in model.parameters())
    v = tuple(lib.tensor(rng.standard_normal(tuple(p.shape), dtype=np.float32))
              for p in params)
    x = lib.tensor(rng.standard_normal((60, 1, 28, 28), dtype=np.float32))
    y = lib.tensor(rng.integers(0, 10, 60))

    def loss(*ps):
        return lib.F.cross_entropy(lib.lib.func.functional_call(model, dict(zip(names, ps)),
                                                                (x,)), y)

    if hvp:
        return lambda: lib.lib.autograd.functional.hvp(loss, params, v)
    return lambda: lib.lib.autograd.grad(loss(*params), params)


def tiny_ops_case(lib, seed):
    """200 x (mul, add) on a (16,) tensor, then backward: 400 ops each way."""
    import numpy as np
    rng = np.random.default_rng(seed)
    x = lib.tensor(rng.standard_normal(16, dtype=np.float32), requires_grad=True)
    up = lib.tensor(np.ones(16, dtype=np.float32))

    def run():
        x.grad = None
        y = x
        for _ in range(200):
            y = y * 1.0001 + 0.001
        y.backward(up)
    return run


def matmul_case(lib, seed):
    import numpy as np
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((1024, 1024), dtype=np.float32)
    b = rng.standard_normal((1024, 1024), dtype=np.float32)
    if isinstance(lib, NumPy):
        return lambda: a @ b
    ta, tb = lib.tensor(a), lib.tensor(b)

    def run():
        with lib.no_grad():
            ta @ tb
    return run


def build_case(name, lib):
    def mlp(nn):
        return example_function("_common.py", "bn_mlp", nn)(True, layers=nn)

    def cnn(nn):
        return example_function("cnn_mnist.py", "conv_bn_net", nn)(layers=nn)

    def layer(make, shape, seed):
        return lambda: layer_case(lib, make, shape, seed)

    mlp_step = lambda: train_case(lib, mlp, 60, 5, lr=0.5)  # noqa: E731
    cnn_step = lambda: train_case(lib, cnn, 64, 6, lr=0.05,  # noqa: E731
                                  momentum=0.9, nesterov=True)
    builders = {
        "bn2d": layer(lambda nn: nn.BatchNorm2d(64), (64, 64, 32, 32), 1),
        "bn1d": layer(lambda nn: nn.BatchNorm1d(100), (60, 100), 2),
        "gn": layer(lambda nn: nn.GroupNorm(32, 64), (64, 64, 32, 32), 3),
        "ln": layer(lambda nn: nn.LayerNorm(100), (60, 100), 4),
        "conv": layer(lambda nn: nn.Conv2d(64, 64, 3, padding=1), (32, 64, 32, 32), 7),
        "mlp": mlp_step, "mlp-sameproc": mlp_step,
        "cnn": cnn_step, "cnn-sameproc": cnn_step,
        "vgg": lambda: train_case(lib, vgg_net, 32, 13, image=(3, 32, 32), lr=0.05,
                                  momentum=0.9),
        "resnet": lambda: train_case(lib, resnet20, 32, 14, image=(3, 32, 32), lr=0.05,
                                     momentum=0.9),
        "tiny": lambda: tiny_ops_case(lib, 8),
        "lstm": lambda: lstm_case(lib, 10),
        "transformer": lambda: transformer_case(lib, 11),
        "matmul": lambda: matmul_case(lib, 9),
        "mlp-grad": lambda: mlp_loss_case(lib, mlp, 12, hvp=False),
        "mlp-hvp": lambda: mlp_loss_case(lib, mlp, 12, hvp=True),
    }
    return builders[name]()


def warm_up(run, seconds):
    """At least 3 calls and ``seconds`` of them; the median of the calls after the first."""
    times, start = [], time.perf_counter()
    while len(times) < 3 or time.perf_counter() - start < seconds:
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    return statistics.median(times[1:])


def burst(run, seconds):
    """Calls until ``seconds`` have passed (at least one): the wall time per call, the
    number of calls, and the CPU seconds this process (all its threads) used meanwhile."""
    cpu, start, calls = os.times(), time.perf_counter(), 0
    while calls == 0 or time.perf_counter() - start < seconds:
        run()
        calls += 1
    wall, cpu_end = time.perf_counter() - start, os.times()
    return {"per_call_s": wall / calls, "calls": calls,
            "cpu_s": cpu_end.user + cpu_end.system - cpu.user - cpu.system}


def current_rss():
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return None


def rss_peak_extra(call):
    """Peak-RSS rise of ``call()`` over the RSS just before it, in MB (None when it set no
    new high-water mark, so the rise is unknown)."""
    import resource
    before, hwm_before = current_rss(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    call()
    hwm_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if before is None or hwm_after <= hwm_before:
        return None
    return (hwm_after * 1024 - before) / 1e6   # ru_maxrss is in KiB on Linux


def torch_profiled_peak(lib, call):
    """Peak of the running sum of the torch CPU allocator's allocations and frees, in MB."""
    from torch._C._profiler import _EventType
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        call()
    events, stack = [], list(prof.profiler.kineto_results.experimental_event_tree())
    while stack:
        node = stack.pop()
        if node.tag == _EventType.Allocation:
            events.append((node.start_time_ns, node.extra_fields.alloc_size))
        stack.extend(node.children)
    total = peak = 0
    for _, size in sorted(events):
        total += size
        peak = max(peak, total)
    return peak / 1e6


def measure_memory(lib, kind):
    """BatchNorm2d forward + backward peak extra memory; call first in a fresh worker."""
    import numpy as np
    rng = np.random.default_rng(1)
    bn = lib.nn.BatchNorm2d(64)
    x = lib.tensor(rng.standard_normal((64, 64, 32, 32), dtype=np.float32),
                   requires_grad=True)
    up = lib.tensor(rng.standard_normal((64, 64, 32, 32), dtype=np.float32))
    small = lib.tensor(rng.standard_normal((2, 64, 4, 4), dtype=np.float32),
                       requires_grad=True)
    bn(small).backward(lib.tensor(np.ones((2, 64, 4, 4), dtype=np.float32)))  # load kernels
    tensors = [x, small, *bn.parameters()]

    def call():
        bn(x).backward(up)

    _clear(tensors)
    out = {"rss_mb": rss_peak_extra(call)}
    _clear(tensors)
    if kind == "torch":
        try:
            out["profiler_mb"] = torch_profiled_peak(lib, call)
        except Exception as e:  # the profiler's event tree is an experimental API
            out["profiler_mb"], out["profiler_error"] = None, repr(e)
    else:
        import tracemalloc
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        call()
        out["tracemalloc_mb"] = (tracemalloc.get_traced_memory()[1] - base) / 1e6
        tracemalloc.stop()
    return out


def synced(run, sync):
    """``run`` followed by ``sync`` (a GPU's synchronize), so that timing it reads the clock
    after the queued work has finished; ``run`` itself on the host."""
    if sync is no_sync:
        return run

    def run_synced():
        run()
        sync()
    return run_synced


def handle(request, lib, kind, cases):
    cmd = request["cmd"]
    if cmd == "info":
        import numpy
        return {"version": lib.version, "threads": lib.threads, "numpy": numpy.__version__,
                "imported": [m for m in ("minigrad", "torch") if m in sys.modules]}
    if cmd == "build":
        cases[request["case"]] = synced(build_case(request["case"], lib), lib.sync)
        lib.sync()   # the inputs' copies to the device are done before the first timed call
        return {"call_s": warm_up(cases[request["case"]], request["warmup_s"])}
    if cmd == "burst":
        return burst(cases[request["case"]], request["seconds"])
    if cmd == "drop":
        cases.pop(request["case"], None)
        return {}
    if cmd == "memory":
        return measure_memory(lib, kind)
    raise ValueError(f"unknown command {cmd!r}")


def worker_main(kind, threads, device):
    # Replies go to a private copy of stdout; anything a library prints lands on stderr.
    replies = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    try:
        lib, unavailable = make_lib(kind, threads, device), None
    except DeviceUnavailable as e:   # told to the driver in the reply to its first request
        lib, unavailable = None, str(e)
    cases = {}
    for line in sys.stdin:
        request = json.loads(line)
        if request["cmd"] == "quit":
            break
        if unavailable:
            replies.write(json.dumps({"error": unavailable, "unavailable": True}) + "\n")
            break
        try:
            reply = handle(request, lib, kind, cases)
        except Exception as e:
            import traceback
            reply = {"error": f"{kind} worker: {e!r}\n{traceback.format_exc()}"}
        replies.write(json.dumps(reply) + "\n")


# ----------------------------------------------------------------------------- driver

class Worker:
    """A worker process and its pipe; ``ask`` sends one request and waits for the reply."""

    def __init__(self, kind, threads, device="cpu"):
        self.kind = kind
        self.proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--worker", kind,
             "--threads", str(threads), "--device", device],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        self.info = self.ask(cmd="info")

    def ask(self, **request):
        self.proc.stdin.write(json.dumps(request) + "\n")
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit(f"the {self.kind} worker died (exit code {self.proc.wait()})")
        reply = json.loads(line)
        if reply.get("unavailable"):
            self.proc.wait()
            raise SystemExit(f"bench_vs_torch.py ({self.kind} worker): {reply['error']}")
        if "error" in reply:
            raise SystemExit(reply["error"])
        return reply

    def close(self):
        self.proc.stdin.write(json.dumps({"cmd": "quit"}) + "\n")
        self.proc.stdin.close()
        self.proc.wait()


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def busy_cpu_seconds():
    """CPU seconds the whole machine has spent busy (steal included), from /proc/stat;
    None where there is no /proc/stat."""
    try:
        with open("/proc/stat") as f:
            user, nice, system, idle, iowait, irq, softirq, steal = \
                [int(v) for v in f.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def timed_burst(worker, name, seconds, settle_s):
    """(per-call seconds, calls, foreign load) of one burst. The load is the CPU cores that
    everything except this worker kept busy during the burst, on average (the driver itself
    waits on a pipe). Then ``settle_s`` of idleness, so that threads still spinning in the
    worker that just ran (OpenBLAS's spin for ~0.1 s after a call) don't run into the next
    worker's burst."""
    busy, start = busy_cpu_seconds(), time.perf_counter()
    reply = worker.ask(cmd="burst", case=name, seconds=seconds)
    wall, busy_end = time.perf_counter() - start, busy_cpu_seconds()
    foreign = None if busy is None else max(0.0, busy_end - busy - reply["cpu_s"]) / wall
    time.sleep(settle_s)
    return reply["per_call_s"], reply["calls"], foreign


class Load:
    """``n`` busy processes (a Python spin loop each), stopped unless ``on``."""

    def __init__(self, n):
        import signal
        self._stop, self._cont = signal.SIGSTOP, signal.SIGCONT
        self.procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
                      for _ in range(n)]
        self.off()

    def on(self):
        for p in self.procs:
            p.send_signal(self._cont)

    def off(self):
        for p in self.procs:
            p.send_signal(self._stop)

    def close(self):
        for p in self.procs:
            p.kill()
            p.wait()


def compare_loaded(name, a, b, args, load):
    """Rounds of an idle pair and a loaded pair of bursts of case ``name`` on workers ``a``
    (minigrad) and ``b`` (the peer, or None), the order alternating; no retries."""
    workers = [w for w in (a, b) if w is not None]
    warm_call_s = {w.kind: w.ask(cmd="build", case=name, warmup_s=args.warmup)["call_s"]
                   for w in workers}
    rounds = []
    for r in range(args.pairs):
        order = workers if r % 2 == 0 else workers[::-1]
        states = ("idle", "loaded") if r % 2 == 0 else ("loaded", "idle")
        result = {}
        for state in states:
            (load.on if state == "loaded" else load.off)()
            result[state] = {}
            for w in order:   # untimed calls first: timed bursts see the steady state
                w.ask(cmd="burst", case=name, seconds=args.settle)
                result[state][w.kind] = timed_burst(w, name, args.burst, SETTLE_S)[0]
        load.off()
        rounds.append(result)
    for w in workers:
        w.ask(cmd="drop", case=name)
    out = {"case": name, "a": a.kind, "b": b.kind if b else None, "load": args.load,
           "warm_call_s": warm_call_s, "rounds": rounds}
    for w in workers:
        idle = [r["idle"][w.kind] for r in rounds]
        loaded = [r["loaded"][w.kind] for r in rounds]
        out[w.kind] = {"idle_ms": 1e3 * statistics.median(idle),
                       "loaded_ms": 1e3 * statistics.median(loaded),
                       "slowdown": statistics.median(x / y for x, y in zip(loaded, idle))}
    if b is not None:
        out["loaded_ratio"] = statistics.median(
            r["loaded"][a.kind] / r["loaded"][b.kind] for r in rounds)
    return out


LOAD_TARGET = 2.5   # minigrad's slowdown under --load 2, and no worse than the peer's


def loaded_rows(results, load):
    rows = []
    for r in results:
        a, b = r[r["a"]], r.get(r["b"]) if r["b"] else None
        met = a["slowdown"] <= LOAD_TARGET and (b is None or a["slowdown"] <= b["slowdown"])
        rows.append([f"{CASES[r['case']][0]} [load {load}]",
                     f"{a['idle_ms']:.2f} / {a['loaded_ms']:.2f}", f"{a['slowdown']:.2f}",
                     f"{b['idle_ms']:.2f} / {b['loaded_ms']:.2f}" if b else "-",
                     f"{b['slowdown']:.2f}" if b else "-",
                     f"{r['loaded_ratio']:.2f}" if b else "-",
                     f"slowdown <= {LOAD_TARGET:g} and <= peer's "
                     f"({'met' if met else 'missed'})"])
    return rows


def wait_for_quiet(max_foreign, budget_s):
    """Sleep in 0.25 s steps until other processes keep at most ``max_foreign`` cores busy
    (all workers are idle meanwhile), or ``budget_s`` runs out."""
    deadline = time.perf_counter() + budget_s
    while time.perf_counter() < deadline:
        busy, t0 = busy_cpu_seconds(), time.perf_counter()
        time.sleep(0.25)
        if busy is None or (busy_cpu_seconds() - busy) / (time.perf_counter() - t0) \
                <= max_foreign:
            return


def compare(name, a, b, args):
    """Paired alternating bursts of case ``name`` on workers ``a`` (minigrad) and ``b`` (the
    peer, or None to time ``a`` alone). A pair during which other processes kept more than
    ``args.max_foreign`` cores busy is set aside and tried again after waiting (at most 3 s)
    for the machine to settle. Tries stop at ``args.pairs`` clean pairs, 2 * ``args.pairs``
    tries, or twice the case's undisturbed duration. The clean pairs are used if there are
    at least 3; otherwise every pair tried is used and the case is marked noisy."""
    workers = [w for w in (a, b) if w is not None]
    warm_call_s = {w.kind: w.ask(cmd="build", case=name, warmup_s=args.warmup)["call_s"]
                   for w in workers}
    deadline = time.perf_counter() + 2 * args.pairs * len(workers) * (args.burst + SETTLE_S)
    clean, tried = [], []
    while (len(clean) < args.pairs and len(tried) < 2 * args.pairs
           and time.perf_counter() < deadline):
        if len(tried) > len(clean):   # the last pair was disturbed: let the machine settle
            wait_for_quiet(args.max_foreign, min(3.0, deadline - time.perf_counter()))
        order = workers if len(tried) % 2 == 0 else workers[::-1]
        pair = {w.kind: timed_burst(w, name, args.burst, SETTLE_S) for w in order}
        tried.append(pair)
        if all(f is None or f <= args.max_foreign for _, _, f in pair.values()):
            clean.append(pair)
    for w in workers:
        w.ask(cmd="drop", case=name)
    used = clean if len(clean) >= 3 else tried
    times = {w.kind: [p[w.kind][0] for p in used] for w in workers}
    result = {"case": name, "a": a.kind, "b": b.kind if b else None,
              "warm_call_s": warm_call_s, "pairs_clean": len(clean),
              "pairs_tried": len(tried), "noisy": used is tried,
              "tried": [{kind: {"per_call_s": t, "calls": n, "foreign_cores": f}
                         for kind, (t, n, f) in p.items()} for p in tried],
              "times_s": times, "a_ms": 1e3 * statistics.median(times[a.kind])}
    if b is not None:
        ratios = sorted(x / y for x, y in zip(times[a.kind], times[b.kind]))
        quartiles = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else ratios * 3
        result.update(b_ms=1e3 * statistics.median(times[b.kind]), ratios=ratios,
                      ratio=statistics.median(ratios), ratio_q1=quartiles[0],
                      ratio_q3=quartiles[2])
    return result


def measure_memory_fresh(threads, have_torch):
    """On the host only: tracemalloc, the CPU allocator's profiler and RSS see host memory."""
    out = {}
    for kind in ("minigrad", "torch") if have_torch else ("minigrad",):
        w = Worker(kind, threads)
        out[kind] = w.ask(cmd="memory")
        w.close()
    return out


def verdict(value, target):
    return f"<= {target:g} ({'met' if value <= target else 'missed'})"


def pairs_note(r, pairs):
    if r["noisy"]:
        return f" (all {r['pairs_tried']} tried) *"
    return f" (n={r['pairs_clean']})" if r["pairs_clean"] < pairs else ""


def ratio_cell(r, pairs):
    return f"{r['ratio']:.2f} [{r['ratio_q1']:.2f}-{r['ratio_q3']:.2f}]{pairs_note(r, pairs)}"


def table_rows(results, memory, pairs):
    rows = []
    for r in results:
        label, target = CASES[r["case"]][0], CASES[r["case"]][3]
        if "ratio" in r:
            rows.append([label, f"{r['a_ms']:.2f}", f"{r['b_ms']:.2f}", ratio_cell(r, pairs),
                         verdict(r["ratio"], target)])
        else:
            rows.append([label, f"{r['a_ms']:.2f}" + pairs_note(r, pairs), "-", "-",
                         f"<= {target:g}"])
        if r["case"] in EPOCH_ROWS:
            label, steps = EPOCH_ROWS[r["case"]]
            epoch_b = f"{r['b_ms'] * steps / 1e3:.1f}" if "ratio" in r else "-"
            rows.append([label, f"{r['a_ms'] * steps / 1e3:.1f}", epoch_b,
                         ratio_cell(r, pairs) if "ratio" in r else "-",
                         verdict(r["ratio"], target) if "ratio" in r
                         else f"<= {target:g}"])
    if memory:
        mg = memory["minigrad"]["tracemalloc_mb"]
        t = memory.get("torch", {}).get("profiler_mb")
        target = f"mg <= torch + {BUF_MB:.1f}"
        rows.append([CASES["memory"][0] + " (mg: tracemalloc, torch: profiler)", f"{mg:.1f}",
                     f"{t:.1f}" if t is not None else "-",
                     f"{mg / t:.2f}" if t else "-",
                     f"{target} ({'met' if mg <= t + BUF_MB else 'missed'})" if t is not None
                     else target])
        rss = [memory.get(kind, {}).get("rss_mb") for kind in ("minigrad", "torch")]
        rows.append([CASES["memory"][0] + " (both: peak-RSS rise)",
                     *(f"{v:.1f}" if v is not None else "-" for v in rss),
                     f"{rss[0] / rss[1]:.2f}" if None not in rss else "-",
                     f"{target} ({'met' if rss[0] <= rss[1] + BUF_MB else 'missed'})"
                     if None not in rss else target])
    return rows


def loadavg():
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "n/a"


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true",
                   help="3 pairs of short bursts: a smoke run, not a result")
    p.add_argument("--cases", default=",".join(CASES),
                   help="comma-separated subset of: " + ",".join(CASES))
    p.add_argument("--pairs", type=int, default=None,
                   help="burst pairs per case (default 13, --quick 3)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--burst", type=float, default=None,
                   help="seconds per burst, at least one call (default 0.3, --quick 0.1)")
    p.add_argument("--max-foreign", type=float, default=0.25,
                   help="retry a pair when other processes kept more than this many cores "
                        "busy during one of its bursts")
    p.add_argument("--json", default=None, help="save the results to this path")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu",
                   help="cuda: minigrad's CuPy backend against PyTorch CUDA on the same GPU "
                        "(matmul then has no peer and the memory rows are skipped)")
    p.add_argument("--load", type=int, default=0,
                   help="N busy processes: time every case idle and with N spinning "
                        "processes, in alternating rounds (see the docstring)")
    p.add_argument("--settle", type=float, default=2.0,
                   help="with --load: seconds of untimed calls before each timed burst, "
                        "once the load is switched on or off")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    args.pairs = args.pairs or (3 if args.quick else 13)
    args.burst = args.burst or (0.1 if args.quick else 0.3)
    args.warmup = 0.2 if args.quick else 0.5
    args.cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = [c for c in args.cases if c not in CASES]
    if unknown:
        p.error(f"unknown case(s) {unknown}; choose from {', '.join(CASES)}")
    return args


def main():
    args = parse_args()
    if args.worker:
        return worker_main(args.worker, args.threads, args.device)
    import importlib.util
    have_torch = importlib.util.find_spec("torch") is not None
    on_host = args.device == "cpu"
    load_start, started = loadavg(), time.perf_counter()
    memory = None
    if "memory" in args.cases and args.load:
        log("memory: skipped under --load (it measures memory, not time)")
    elif "memory" in args.cases and on_host:
        log("memory: a fresh worker per library")
        memory = measure_memory_fresh(args.threads, have_torch)
    elif "memory" in args.cases:
        log(f"memory: skipped on {args.device} (host-memory measures only)")
    workers = {}

    def worker(kind):
        if kind not in workers:
            workers[kind] = Worker(kind, args.threads, args.device)
        return workers[kind]

    if not on_host:   # a missing GPU stops the run before any case, in either library
        worker("minigrad")
        if have_torch:
            worker("torch")
    results = []
    load = Load(args.load) if args.load else None
    for name in args.cases:
        if name == "memory":
            continue
        _, kind_a, kind_b, _ = CASES[name]
        if not have_torch and kind_a == "minigrad-after-torch":
            log(f"{name}: skipped, torch is not installed")
            continue
        if not have_torch and kind_b == "torch":
            kind_b = None
        if not on_host and kind_b == "numpy":
            log(f"{name}: no peer on {args.device} (NumPy runs on the host)")
            kind_b = None
        log(f"{name}: {kind_a} vs {kind_b}, {args.pairs} {'rounds' if load else 'pairs'}")
        if load:
            results.append(compare_loaded(name, worker(kind_a),
                                          worker(kind_b) if kind_b else None, args, load))
            continue
        result = compare(name, worker(kind_a), worker(kind_b) if kind_b else None, args)
        log(f"  {result['pairs_clean']} clean pairs of {result['pairs_tried']} tried")
        results.append(result)
    if load:
        load.close()
    infos = {kind: w.info for kind, w in workers.items()}
    for w in workers.values():
        w.close()
    elapsed, load_end = time.perf_counter() - started, loadavg()

    mg_info = infos.get("minigrad", {})
    torch_version = infos["torch"]["version"] if "torch" in infos else (
        "not installed" if not have_torch else "not run")
    numpy_version = mg_info.get("numpy") or infos.get("numpy", {}).get("version", "?")
    if load:
        print(f"# minigrad {mg_info.get('version', '?')} vs PyTorch {torch_version}, idle and "
              f"with {args.load} busy processes; threads {args.threads}; {args.pairs} rounds "
              f"per case, bursts ~{args.burst:g} s; load average (1/5/15 min) at start "
              f"{load_start}, at end {load_end}; {elapsed:.0f} s")
        print("# idle / loaded: median per-call ms; slowdown: loaded / idle, median of the "
              "rounds; ratio: minigrad / peer under load, median of the rounds")
        print()
        sys.path.insert(0, HERE)
        from _timing import print_table
        print_table(["case", "minigrad ms idle / loaded", "minigrad slowdown",
                     "torch ms idle / loaded", "torch slowdown", "ratio loaded", "target"],
                    loaded_rows(results, args.load))
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"args": {k: v for k, v in vars(args).items() if k != "worker"},
                           "load_average": {"start": load_start, "end": load_end},
                           "elapsed_s": elapsed, "workers": infos, "results": results}, f,
                          indent=1)
            print(f"wrote {args.json}")
        return
    print(f"# minigrad {mg_info.get('version', '?')} vs PyTorch {args.device.upper()} "
          f"{torch_version} "
          f"(NumPy {numpy_version}); threads {args.threads}; {args.pairs} pairs per case, "
          f"bursts ~{args.burst:g} s; load average (1/5/15 min) at start {load_start}, "
          f"at end {load_end}; {elapsed:.0f} s")
    print("# ratio = minigrad / peer per pair (lower is better): median [quartiles]; "
          "ms = median per-call time; each library in its own process; pairs during which "
          f"other processes kept > {args.max_foreign:g} cores busy were retried")
    print()
    sys.path.insert(0, HERE)
    from _timing import print_table
    print_table(["case", "minigrad ms", "torch ms", "ratio (median of pairs)", "target"],
                table_rows(results, memory, args.pairs))
    by_case = {r["case"]: r for r in results}
    if "mlp-grad" in by_case and "mlp-hvp" in by_case:
        grad, hvp = by_case["mlp-grad"], by_case["mlp-hvp"]
        peer = (f", torch {hvp['b_ms'] / grad['b_ms']:.2f}x" if "b_ms" in hvp and "b_ms" in grad
                else "")
        print(f"\nHessian-vector product / gradient (forward + backward), median times: "
              f"minigrad {hvp['a_ms'] / grad['a_ms']:.2f}x{peer}")
    print("\nclean pairs / pairs tried: " + ", ".join(
        f"{r['case']} {r['pairs_clean']}/{r['pairs_tried']}" for r in results))
    if not on_host:
        skipped = [c for c in ("matmul", "memory") if c in args.cases]
        if skipped:
            print(f"on {args.device}, host-only peers are left out: "
                  + "; ".join({"matmul": "matmul is minigrad alone (its peer, NumPy, runs "
                                         "on the host)",
                               "memory": "memory rows skipped (they measure host memory "
                                         "only)"}[c] for c in skipped))
    if any(r["noisy"] for r in results):
        print("* fewer than 3 clean pairs: the row uses every pair tried, disturbed ones "
              "included; (n=K): only K clean pairs")
    if memory:
        print(f"memory: one full-size buffer = 64*64*32*32*4 B = {BUF_MB:.1f} MB; peak extra "
              f"over input, weights and upstream gradient (the input gradient it leaves "
              f"behind is included). minigrad: tracemalloc; torch: profiler allocation "
              f"events; RSS rows: ru_maxrss rise in a fresh process.")
        if memory.get("torch", {}).get("profiler_error"):
            print(f"torch profiler failed: {memory['torch']['profiler_error']}")
    for kind, info in infos.items():
        bad = [m for m in info["imported"] if m not in kind]
        if bad:
            print(f"WARNING: the {kind} worker also imported {bad}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": {k: v for k, v in vars(args).items() if k != "worker"},
                       "load_average": {"start": load_start, "end": load_end},
                       "elapsed_s": elapsed, "workers": infos, "results": results,
                       "memory": memory, "buffer_mb": BUF_MB}, f, indent=1)
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
