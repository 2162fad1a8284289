# cython: language_level=3
"""Random masks drawn in compiled code (``_dropout.h``): dropout's keep-and-scale mask in
one threaded pass, where NumPy draws float64 uniforms, compares them and converts the
booleans (three passes and two temporaries over an activation-sized array)."""
from libc.stdint cimport uint64_t
from cython.parallel cimport prange
from minigrad._kernels._threads cimport team, threads_for

cdef extern from "_dropout.h" nogil:
    uint64_t mg_splitmix(uint64_t seed, uint64_t k)
    void mg_dropout_pairs_f(float *out, uint64_t seed, uint64_t threshold, float scale,
                            Py_ssize_t k0, Py_ssize_t k1)
    void mg_dropout_pairs_d(double *out, uint64_t seed, uint64_t threshold, double scale,
                            Py_ssize_t k0, Py_ssize_t k1)

ctypedef fused real:
    float
    double

# flop-equivalents per element for threads_for: three 64-bit multiplies and the mixing
cdef enum:
    MASK_COST = 8


def dropout_mask(real[::1] out, uint64_t seed, uint64_t threshold, real scale):
    """out[i] = scale where draw i (see _dropout.h) is >= threshold (of 2**32), else 0."""
    cdef Py_ssize_t n = out.shape[0], pairs = n // 2, b, nb, k0, k1
    cdef int nt = threads_for(n * MASK_COST)
    cdef uint64_t z
    if n == 0:
        return
    nb = 4 * nt   # a few contiguous blocks per thread, each one vectorized loop
    with nogil:
        for b in prange(nb, schedule="static", num_threads=team(nt)):
            k0 = b * pairs // nb
            k1 = (b + 1) * pairs // nb
            if real is float:
                mg_dropout_pairs_f(&out[0], seed, threshold, scale, k0, k1)
            else:
                mg_dropout_pairs_d(&out[0], seed, threshold, scale, k0, k1)
        if n % 2:   # the last element of an odd count: the high half of its pair's draw
            z = mg_splitmix(seed, pairs)
            out[n - 1] = scale if (z >> 32) >= threshold else 0
