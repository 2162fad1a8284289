"""Real PyTorch programs, none written for minigrad, run unchanged on minigrad and on torch.

Each program is a package published on PyPI, fetched at test time with ``pip download``
(pinned version and SHA-256) and unpacked: its code is never copied into this repository
and never edited. Its ``import torch`` lines are the only thing swapped: ``TorchAsMinigrad``
answers every import of ``torch`` or ``torch.X`` with ``minigrad`` or ``minigrad.X``.

A driver below (this file's own code, written for the tests) builds the same model or
optimizer from a program in two processes, one on real torch and one on minigrad, from
the same weights (torch's initialization, saved as a NumPy archive and loaded into
minigrad's model), feeds both the same float64 data, and writes what came out; the tests
compare the two.

Only d2l needs more: its module imports plotting and downloading libraries at the top
(``torchvision``, ``PIL``, ``pandas``, ``requests``, ``IPython``, ``matplotlib_inline``)
that the parts run here never use; where one is not installed, an empty stand-in module
lets the import line run (``torchvision`` always gets one: it is not installed beside
torch here, and minigrad has no torchvision).
"""
import hashlib
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import subprocess
import sys
import tarfile
import types
import zipfile

import numpy as np

# name: (version, file pip downloads, its SHA-256, the directory to put on sys.path)
PROGRAMS = {
    "lion-pytorch": ("0.2.5", "lion_pytorch-0.2.5-py3-none-any.whl",
                     "77089f28bda82f1cee829cabab8a104fe8aabf66af1941b0fc6ce400aabb28cc", ""),
    "efficientnet_pytorch": ("0.7.1", "efficientnet_pytorch-0.7.1.tar.gz",
                             "00b9b261effce59d2d47aae2ad238c29a2a65175470f41ada7ecac439b7c1ee1",
                             "efficientnet_pytorch-0.7.1"),
    "d2l": ("1.0.3", "d2l-1.0.3-py3-none-any.whl",
            "c625a01e66eb5d793a7e0a6f8582b1e1e35dfad02b5e77f3d2ab299d07177ba6", ""),
}


class Unavailable(Exception):
    """The program could not be fetched (no network, no index): the test skips."""


def fetch(name, cache):
    """The directory holding program ``name``'s package, downloaded into ``cache`` (once)
    and checked against its pinned SHA-256."""
    version, filename, sha256, inner = PROGRAMS[name]
    target = os.path.join(cache, f"{name}-{version}")
    if not os.path.isdir(target):
        archive = os.path.join(cache, filename)
        if not os.path.exists(archive):
            run = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps",
                                  "--quiet", "-d", cache, f"{name}=={version}"],
                                 capture_output=True, text=True, timeout=300)
            if run.returncode != 0 or not os.path.exists(archive):
                raise Unavailable(f"pip download {name}=={version} failed: "
                                  f"{run.stderr.strip()[-300:]}")
        with open(archive, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        if digest != sha256:
            raise AssertionError(f"{filename}: SHA-256 {digest}, expected {sha256}")
        partial = target + ".partial"
        if filename.endswith(".whl"):
            with zipfile.ZipFile(archive) as z:
                z.extractall(partial)
        else:
            with tarfile.open(archive) as t:
                if hasattr(tarfile, "data_filter"):   # (Python >= 3.11.4, 3.12)
                    t.extractall(partial, filter="data")
                else:   # the archives are SHA-256 pinned above, so their paths are known
                    t.extractall(partial)
        os.replace(partial, target)
    return os.path.join(target, inner)


class TorchAsMinigrad(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """``import torch[.X]`` gives ``minigrad[.X]``: the program's imports, swapped."""

    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            return importlib.util.spec_from_loader(name, self)
        return None

    def create_module(self, spec):
        return importlib.import_module("minigrad" + spec.name[len("torch"):])

    def exec_module(self, module):
        pass                    # (minigrad's module, already executed)


STAND_INS = ("torchvision", "torchvision.transforms", "torchvision.datasets", "PIL",
             "PIL.Image", "pandas", "requests", "IPython", "IPython.display",
             "matplotlib_inline", "matplotlib_inline.backend_inline")


def install(lib, stand_ins=False):
    """Make ``import torch`` mean ``lib`` ("torch" or "minigrad") in this process; with
    ``stand_ins``, empty modules for d2l's unused top-level imports that are missing."""
    if lib == "minigrad":
        sys.meta_path.insert(0, TorchAsMinigrad())
    if stand_ins:
        missing = {name.split(".")[0] for name in STAND_INS
                   if name.startswith("torchvision")
                   or importlib.util.find_spec(name.split(".")[0]) is None}
        for name in STAND_INS:
            if name.split(".")[0] in missing:
                module = sys.modules[name] = types.ModuleType(name)
                module.__spec__ = importlib.machinery.ModuleSpec(name, None)
                parent, _, child = name.rpartition(".")
                if parent:
                    setattr(sys.modules[parent], child, module)


def state_arrays(module):
    return {k: v.detach().numpy().copy() for k, v in module.state_dict().items()}


def load_arrays(torch, module, path):
    with np.load(path) as arrays:
        module.load_state_dict({k: torch.tensor(arrays[k]) for k in arrays.files})


def grads(module):
    return {f"grad.{k}": p.grad.numpy().copy() for k, p in module.named_parameters()
            if p.grad is not None}


# ---------------------------------------------------------------- the drivers

def lion(out, init):
    """lion-pytorch's Lion optimizer (an Optimizer subclass updating through p.data, with
    @torch.no_grad() steps) trains a small MLP for 30 steps."""
    import torch
    from lion_pytorch import Lion
    torch.set_default_dtype(torch.float64)
    net = torch.nn.Sequential(torch.nn.Linear(5, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))
    if init:
        load_arrays(torch, net, init)
    start = state_arrays(net)
    opt = Lion(net.parameters(), lr=3e-3, weight_decay=0.1)
    rng = np.random.default_rng(0)
    target = rng.standard_normal((5, 1))
    losses = []
    for _ in range(30):
        x = rng.standard_normal((32, 5))
        x, y = torch.tensor(x), torch.tensor(np.tanh(x @ target))
        opt.zero_grad()
        loss = ((net(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    np.savez(out, **{f"start.{k}": v for k, v in start.items()}, **state_arrays(net),
             losses=np.array(losses), exp_avg=np.concatenate(
                 [opt.state[p]["exp_avg"].numpy().ravel() for p in net.parameters()]))


def efficientnet(out, init, swish_memory_efficient):
    """EfficientNet-PyTorch's EfficientNet-b0 (static same-padding convolutions, batch
    norm, squeeze-excitation, its own autograd Function for swish): a training-mode
    forward and backward, then three SGD steps."""
    import torch
    from efficientnet_pytorch import EfficientNet
    torch.set_default_dtype(torch.float64)
    # a fixed initialization: over random ones the eval logits' difference after training
    # ranged from 2e-10 to 2.8e-6 (BatchNorm over 4 images at 1x1 amplifies some draws far
    # more than others), so an unseeded test passed or failed by the draw
    torch.manual_seed(0)
    net = EfficientNet.from_name("efficientnet-b0", image_size=32, num_classes=10,
                                 dropout_rate=0.0, drop_connect_rate=0.0)
    net.set_swish(memory_efficient=swish_memory_efficient)
    if init:
        load_arrays(torch, net, init)
    start = state_arrays(net)
    rng = np.random.default_rng(1)
    x = torch.tensor(rng.standard_normal((4, 3, 32, 32)))
    y = torch.tensor(rng.integers(0, 10, 4))
    logits = net(x)
    torch.nn.functional.cross_entropy(logits, y).backward()
    first = {"logits": logits.detach().numpy().copy(), **grads(net)}
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    for _ in range(3):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(x), y).backward()
        opt.step()
    net.eval()
    with torch.no_grad():
        first["eval_logits"] = net(x).numpy().copy()
    np.savez(out, **{f"start.{k}": v for k, v in start.items()}, **first,
             **{f"end.{k}": v for k, v in state_arrays(net).items()})


def d2l_lenet(out, init):
    """d2l.ai's LeNet (lazy layers, d2l.Classifier's loss and accuracy) trained by
    d2l.Trainer, whose fit loop calls backward inside torch.no_grad(); 2 epochs."""
    import torch
    from d2l import torch as d2l
    torch.set_default_dtype(torch.float64)

    class Digits(d2l.DataModule):   # (the test's data: the same batches in both libraries)
        def __init__(self, batch_size=32):
            super().__init__()
            self.save_hyperparameters()
            rng = np.random.default_rng(2)
            self.X = torch.tensor(rng.standard_normal((192, 1, 28, 28)))
            self.y = torch.tensor(rng.integers(0, 10, 192))

        def get_dataloader(self, train):
            part = slice(0, 128) if train else slice(128, None)
            return self.get_tensorloader((self.X, self.y), False, part)

    data = Digits()
    model = d2l.LeNet(lr=0.1)
    model.apply_init([data.X[:2]], d2l.init_cnn)
    if init:
        load_arrays(torch, model, init)
    start = state_arrays(model)
    model.board.display = False
    trainer = d2l.Trainer(max_epochs=2)
    trainer.fit(model, data)
    board = {f"board.{k}": np.array([[p.x, p.y] for p in v])
             for k, v in model.board.data.items()}
    np.savez(out, **{f"start.{k}": v for k, v in start.items()}, **state_arrays(model),
             **board)


def d2l_resnet18(out, init):
    """d2l.ai's ResNet-18 (Residual blocks of LazyConv2d and LazyBatchNorm2d, an in-place
    Y += X): a dry run, a training-mode forward and backward, and an eval-mode forward."""
    import torch
    from d2l import torch as d2l
    torch.set_default_dtype(torch.float64)
    net = d2l.resnet18(10, in_channels=1)
    rng = np.random.default_rng(3)
    x = torch.tensor(rng.standard_normal((4, 1, 16, 16)))
    y = torch.tensor(rng.integers(0, 10, 4))
    net(x[:2])                                      # materialize the lazy layers
    if init:
        load_arrays(torch, net, init)
    start = state_arrays(net)
    logits = net(x)
    torch.nn.functional.cross_entropy(logits, y).backward()
    net.eval()
    with torch.no_grad():
        eval_logits = net(x).numpy().copy()
    np.savez(out, **{f"start.{k}": v for k, v in start.items()}, **grads(net),
             logits=logits.detach().numpy().copy(), eval_logits=eval_logits,
             **{f"buffers.{k}": v for k, v in state_arrays(net).items()
                if "running" in k})


DRIVERS = {"lion": (lion, "lion-pytorch", {}),
           "efficientnet": (efficientnet, "efficientnet_pytorch",
                            {"swish_memory_efficient": False}),
           "efficientnet-memory-efficient-swish": (efficientnet, "efficientnet_pytorch",
                                                   {"swish_memory_efficient": True}),
           "d2l-lenet": (d2l_lenet, "d2l", {}),
           "d2l-resnet18": (d2l_resnet18, "d2l", {})}


def main():
    """python real_programs.py DRIVER LIB PACKAGE_DIR OUT [INIT]"""
    driver, lib, package_dir, out = sys.argv[1:5]
    init = sys.argv[5] if len(sys.argv) > 5 else None
    fn, program, kwargs = DRIVERS[driver]
    install(lib, stand_ins=program == "d2l")
    sys.path.insert(0, package_dir)
    fn(out, init, **kwargs)


if __name__ == "__main__":
    main()
