# cython: language_level=3
"""OpenMP thread control shared by every kernel module (they all link the same runtime)."""
from minigrad._kernels._omp cimport MG_OPENMP, omp_get_max_threads, omp_set_num_threads


def openmp_enabled():
    """True when the kernels were compiled with OpenMP."""
    return bool(MG_OPENMP)


def get_num_threads():
    return omp_get_max_threads()


def set_num_threads(int n):
    if n < 1:
        raise ValueError(f"set_num_threads: expected a positive thread count, got {n}")
    omp_set_num_threads(n)
