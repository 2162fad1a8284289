"""The CUDA backend's kernels compiled for the host, under its real Python glue.

``build`` compiles ``tests/cuda/host_harness.cpp`` (the ``.cu`` sources' element
functions, g++) into a library; ``launcher`` makes the glue's ``run`` from it, reading
the arrays' buffers through ``buffer`` (a NumPy array as it is, or a fake-device array's
device buffer: what a kernel launch gets); ``backend`` binds ``KernelBackend`` with that
``run`` to an array namespace as a whole backend module, its device entries taken from
``device``.
"""
import ctypes
import shutil
import subprocess
import types
from pathlib import Path

import numpy as np

from minigrad.backend.contract import CONTRACT, DEVICE_ENTRIES

ROOT = Path(__file__).resolve().parent.parent
KERNELS = ROOT / "minigrad" / "backend" / "cuda" / "kernels"
# (the device's, not the glue's)
FROM_DEVICE = ("xp", "name", "erf", "erfinv", "lgamma") + DEVICE_ENTRIES


def build(directory):
    """The compiled harness, or None when there is no C++ compiler."""
    cxx = shutil.which("g++") or shutil.which("c++")
    if cxx is None:
        return None
    lib = Path(directory) / "harness.so"
    subprocess.run([cxx, "-std=c++17", "-O2", "-shared", "-fPIC", "-I", str(KERNELS),
                    "-o", str(lib), str(ROOT / "tests" / "cuda" / "host_harness.cpp")],
                   check=True, timeout=300)
    return ctypes.CDLL(str(lib))


def launcher(harness, buffer=lambda a: a, launches=None):
    def run(source, kernel, dtype, work, *args):
        suffix = {np.dtype(np.float32): "f32", np.dtype(np.float64): "f64"}[np.dtype(dtype)]
        converted = []
        for a in args:
            if isinstance(a, np.int64):
                converted.append(ctypes.c_longlong(int(a)))
            elif isinstance(a, np.int32):
                converted.append(ctypes.c_int(int(a)))
            else:
                a = buffer(a)
                if not isinstance(a, np.ndarray):
                    raise TypeError(f"{kernel}: untyped launch argument {a!r}")
                assert a.flags.c_contiguous, f"{kernel}: a non-contiguous array reached it"
                converted.append(ctypes.c_void_p(a.ctypes.data))
        if launches is not None:
            launches.append(kernel)
        getattr(harness, f"{kernel}_{suffix}")(*converted)
    return run


def backend(harness, name, device, buffer=lambda a: a):
    """The glue running ``harness``'s kernels on ``device``'s namespace, as a backend module
    (``device``: a module with the contract's device entries, such as ``numpy_ref`` for
    the host) whose ``launches`` lists the kernels it ran."""
    from minigrad.backend.cuda._glue import KernelBackend
    launches = []
    impl = KernelBackend(device.xp, launcher(harness, buffer, launches), name)
    module = types.SimpleNamespace(**{n: getattr(impl, n) for n in CONTRACT
                                      if n not in FROM_DEVICE})
    module.__dict__.update({n: getattr(device, n) for n in FROM_DEVICE})
    module.name, module.launches = name, launches
    return module
