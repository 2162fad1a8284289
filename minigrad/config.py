"""Build and runtime configuration: versions, OpenMP, threads, BLAS."""
import os
import sys

import numpy as np

from minigrad import _malloc, cuda
from minigrad._version import __version__
from minigrad.backend import cpu


def get_num_threads():
    """Threads the kernels use (OpenMP's; ``OMP_NUM_THREADS`` sets the starting value)."""
    return cpu.get_num_threads()


def set_num_threads(n):
    """Threads for the OpenMP kernels and for BLAS."""
    cpu.set_num_threads(n)


def config_lines():
    import scipy

    omp = "yes" if cpu.openmp_enabled() else "no (serial build)"
    return [
        f"minigrad {__version__}",
        f"  python:        {sys.version.split()[0]}",
        f"  numpy:         {np.__version__}",
        f"  scipy:         {scipy.__version__}",
        f"  OpenMP:        {omp}",
        f"  threads:       {get_num_threads()} (OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')})",
        f"  thread team:   {cpu.threads_note()}",
        f"  BLAS:          {cpu.blas_info()}",
        f"  malloc tuning: {'on' if _malloc.tuned else 'off'} (MINIGRAD_MALLOC_TUNING)",
        f"  CUDA (CuPy):   {'available' if cuda.is_available() else 'not available'}",
    ]


def show_config():
    print("\n".join(config_lines()))


# ---------------------------------------------------------------- deterministic algorithms

_deterministic = {"mode": False, "warn_only": False}


def use_deterministic_algorithms(mode, *, warn_only=False):
    """PyTorch's switch for deterministic algorithms. minigrad's CPU kernels are
    deterministic already: every reduction runs in a fixed order (for a given number of
    threads), and nothing adds atomically. On CUDA, the scatter-adds (``index_add``,
    ``scatter_add``, the gradient of advanced indexing) add with atomics, whose order
    varies from run to run; with ``mode`` True they raise, as PyTorch's nondeterministic
    CUDA ops do (or warn, with ``warn_only``)."""
    _deterministic["mode"] = bool(mode)
    _deterministic["warn_only"] = bool(warn_only)


def are_deterministic_algorithms_enabled():
    return _deterministic["mode"]


def is_deterministic_algorithms_warn_only_enabled():
    return _deterministic["mode"] and _deterministic["warn_only"]


def check_deterministic(op):
    """Called by a device op that has no deterministic implementation."""
    if not _deterministic["mode"]:
        return
    msg = (f"{op} does not have a deterministic implementation on CUDA (its adds are "
           f"atomic), but you set 'use_deterministic_algorithms(True)'")
    if _deterministic["warn_only"]:
        import warnings
        warnings.warn(msg, UserWarning, stacklevel=3)
    else:
        raise RuntimeError(msg)
