# Our AVX-512 float32 GEMM (``_sgemm.h``) and the rule for when the kernels use it instead
# of BLAS's sgemm.

cdef extern from "_sgemm.h" nogil:
    int mg_sgemm_ready()
    int mg_sgemm_enabled()
    int mg_sgemm(int M, int N, int K, const float *A, long rsa, long csa,
                 const float *B, long rsb, long csb, float *C, long ldc, int accumulate)
    size_t mg_taps_packed_len(int M, int K, int T)
    void mg_taps_pack(int M, int K, int T, const float *A, long rsa, long csa, long tsa,
                      float *Ap)
    int mg_sgemm_taps(int M, int N, int K, int T, const float *Ap, const float *B, long rsb,
                      const long *off, float *C, long ldc, int accumulate)


cdef inline bint use_own_sgemm(Py_ssize_t M, Py_ssize_t N, Py_ssize_t K) noexcept nogil:
    """Whether a row-major float32 product C (M x N) = A (M x K) B (K x N) goes to
    ``mg_sgemm`` rather than BLAS. Decided for the whole product, never per thread's tile,
    so results do not depend on the thread count.

    Measured one thread per product, both layouts of each operand, M 8-4608, K 16-1024,
    N 16-4608 (time ours / BLAS's), ours wins in the middle: 0.6-0.9 from about half a
    million multiply-adds while C has at most 2^18 values (1 MB in float32). Below that
    size BLAS's small-matrix code (no packing) is as fast or up to 1.4x faster; with M or
    N under 32 our 12 x 32 tiles run part empty (1.2-1.4x at M = 8 or 16, 1.17x at
    N = 16); and a larger C, revisited once per 256 values of K, makes ours 1.03-1.2x
    (512 x 4608 x 512: 20.3 ms against BLAS's 16.5).
    """
    return M >= 32 and N >= 32 and M * N <= 262144 and M * N * K >= 524288 \
        and mg_sgemm_enabled()
