# cython: language_level=3
"""The one thread pool: how many OpenMP threads a kernel may use.

Every kernel module asks ``threads_for(work)`` before a parallel loop, so the count is
process-wide (``omp_set_num_threads`` alone would only set the calling OS thread's
value, and kernels run from another Python thread would ignore it), and small work stays
serial: waking a team costs microseconds, more than a pass over a few thousand elements.
BLAS runs single-threaded inside these threads (see ``minigrad.backend.cpu``).
"""
import os

from minigrad._kernels._omp cimport MG_OPENMP, omp_get_max_threads, omp_set_num_threads

# Elements (or flop-equivalents) worth one thread: below 2 * GRAIN a loop runs serially.
# PyTorch's grain size for elementwise loops is of the same order (32768).
cdef enum:
    GRAIN = 32768

# More than this many threads is certainly a mistake: libgomp reserves a stack per thread
# and dies (SIGSEGV) somewhere above tens of thousands of them.
MAX_THREADS = 1024

cdef int _num_threads = max(1, omp_get_max_threads())
# GNU libgomp's thread pool does not survive fork(): a child that opens a parallel region
# with more than one thread waits forever for workers that exist only in the parent. So a
# forked child (multiprocessing workers, DataLoader-style) runs every kernel on one thread,
# as PyTorch's intra-op pool does after fork.
cdef bint _forked = False


cdef int threads_for(Py_ssize_t work) noexcept nogil:
    """Threads for a loop over ``work`` elements: 1 below 2 * GRAIN, then one per GRAIN,
    at most the process-wide count; always 1 in a forked child."""
    cdef Py_ssize_t n = work // GRAIN
    if n <= 1 or _forked:
        return 1
    return <int>min(n, <Py_ssize_t>_num_threads)


def _after_fork_in_child():
    global _forked
    _forked = True


os.register_at_fork(after_in_child=_after_fork_in_child)


def forked_child():
    """True in a process forked from one that had loaded the kernels (kernels run serially)."""
    return bool(_forked)


def openmp_enabled():
    """True when the kernels were compiled with OpenMP."""
    return bool(MG_OPENMP)


def get_num_threads():
    return 1 if _forked or not MG_OPENMP else _num_threads


def set_num_threads(n):
    global _num_threads
    if not isinstance(n, int) or isinstance(n, bool):
        raise TypeError(f"set_num_threads: expected an int, got {type(n).__name__}")
    if not 1 <= n <= MAX_THREADS:
        raise ValueError(f"set_num_threads: expected a thread count between 1 and "
                         f"{MAX_THREADS}, got {n}")
    _num_threads = n
    omp_set_num_threads(n)


def grain():
    return GRAIN
