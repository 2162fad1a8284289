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
