# cython: language_level=3
"""Batched GEMM through the BLAS that SciPy ships (``scipy.linalg.cython_blas``), and for
mid-sized float32 products on CPUs with AVX-512 through our own kernel (``_sgemm.h``;
``use_own_sgemm`` in ``_sgemm.pxd`` has the measured rule).

BLAS is column-major; our arrays are row-major. A row-major M x K matrix read as
column-major is its K x M transpose, so ``C = A @ B`` is computed as the column-major
product ``C^T = B^T @ A^T`` with A and B swapped. An operand stored column-major (a
transposed view, as matmul's backward produces) needs no copy: its ``trans`` flag flips.

Parallelism is ours, not BLAS's: BLAS is kept single-threaded (``minigrad.backend.cpu``)
and each OpenMP thread calls it on its own tiles -- whole batch entries when there are
enough of them, else row or column blocks of one product. One thread pool means no
hand-over between OpenMP and BLAS threads, and nothing to starve when either spins.
"""
from cython.parallel cimport prange
from minigrad._kernels._threads cimport team, threads_for
from scipy.linalg.cython_blas cimport sgemm, dgemm
from minigrad._kernels._sgemm cimport mg_sgemm, mg_sgemm_enabled, mg_sgemm_ready, use_own_sgemm

ctypedef fused real:
    float
    double


cdef int _matrix_layout(Py_ssize_t rows, Py_ssize_t cols, Py_ssize_t s_row, Py_ssize_t s_col,
                        int *ld) except -2:
    """0 for row-major, 1 for column-major, -1 when BLAS cannot read it; strides in elements.

    A stride along a dimension of extent 1 is never used, so it does not constrain the layout.
    """
    cdef Py_ssize_t lead
    if cols <= 1 or s_col == 1:
        lead = s_row if rows > 1 else max(cols, 1)
        if lead >= max(cols, 1) and lead < 2147483647:
            ld[0] = <int>lead
            return 0
    if rows <= 1 or s_row == 1:
        lead = s_col if cols > 1 else max(rows, 1)
        if lead >= max(rows, 1) and lead < 2147483647:
            ld[0] = <int>lead
            return 1
    return -1


def blas_readable(Py_ssize_t rows, Py_ssize_t cols, Py_ssize_t s_row, Py_ssize_t s_col):
    """Whether a matrix with these extents and element strides can go to BLAS without a copy."""
    cdef int ld
    return _matrix_layout(rows, cols, s_row, s_col, &ld) >= 0


def own_sgemm_state():
    """(whether this CPU and build can run our float32 GEMM, whether the kernels use it):
    the second is False when MINIGRAD_SGEMM=blas is set."""
    return bool(mg_sgemm_ready()), bool(mg_sgemm_enabled())


def own_sgemm(const float[:, :] a, const float[:, :] b, float[:, :] out,
              bint accumulate=False):
    """``out = a @ b`` (``+=`` when ``accumulate``) through ``mg_sgemm`` alone, whatever the
    size (for tests and measurements; ``gemm`` chooses by size). ``a`` and ``b`` may be
    row- or column-major views; ``out``'s rows must be contiguous. Returns False, computing
    nothing, where it cannot run."""
    cdef Py_ssize_t M = a.shape[0], K = a.shape[1], N = b.shape[1]
    cdef int rc
    if b.shape[0] != K or out.shape[0] != M or out.shape[1] != N:
        raise ValueError(f"own_sgemm: shapes {tuple(a.shape)[:2]} @ {tuple(b.shape)[:2]} -> "
                         f"{tuple(out.shape)[:2]} do not fit")
    if M == 0 or N == 0 or K == 0 or max(M, N, K) > 2147483647:
        raise ValueError("own_sgemm: every dimension must be between 1 and 2^31 - 1")
    if (a.strides[0] | a.strides[1] | b.strides[0] | b.strides[1] | out.strides[0]) % 4:
        raise ValueError("own_sgemm: strides must be whole float32 elements")
    if out.strides[1] != 4 and N > 1:
        raise ValueError("own_sgemm: out's rows must be contiguous")
    with nogil:
        rc = mg_sgemm(<int>M, <int>N, <int>K, &a[0, 0], a.strides[0] // 4, a.strides[1] // 4,
                      &b[0, 0], b.strides[0] // 4, b.strides[1] // 4, &out[0, 0],
                      out.strides[0] // 4, accumulate)
    return rc == 0


def gemm(const real[:, :, :] a, const real[:, :, :] b, real[:, :, ::1] out,
         const long long[::1] a_index, const long long[::1] b_index, bint accumulate=False):
    """``out[i] = a[a_index[i]] @ b[b_index[i]]`` for every batch entry ``i``
    (``out[i] += ...`` when ``accumulate``).

    ``a`` is (Ba, M, K), ``b`` is (Bb, K, N), ``out`` is (B, M, N) and C-contiguous. Each
    matrix of ``a`` and ``b`` must be row- or column-major (any batch stride, 0 included).
    """
    cdef Py_ssize_t M = a.shape[1], K = a.shape[2], N = b.shape[2], B = out.shape[0]
    cdef Py_ssize_t item = sizeof(real), i, t, tiles, step, down, extent, lo, hi
    cdef int lda, ldb, nt
    cdef int layout_a, layout_b
    cdef bint split_rows, own
    cdef long rsa, csa, rsb, csb
    cdef char ta, tb
    cdef real beta = 1 if accumulate else 0
    cdef const real *pa
    cdef const real *pb
    cdef real *pc
    cdef Py_ssize_t sa0, sb0

    if b.shape[1] != K:
        raise ValueError(f"gemm: inner dimensions differ ({K} != {b.shape[1]})")
    if out.shape[1] != M or out.shape[2] != N:
        raise ValueError(f"gemm: out has shape {tuple(out.shape)[:3]}, expected ({B}, {M}, {N})")
    if a_index.shape[0] != B or b_index.shape[0] != B:
        raise ValueError(f"gemm: index arrays must have {B} entries")
    if M == 0 or N == 0 or K == 0 or B == 0:
        raise ValueError("gemm: empty operands are handled by the caller, not the kernel")
    if M > 2147483647 or N > 2147483647 or K > 2147483647:
        raise ValueError("gemm: a matrix dimension exceeds BLAS's 32-bit limit")
    for i in range(B):
        if not (0 <= a_index[i] < a.shape[0] and 0 <= b_index[i] < b.shape[0]):
            raise IndexError(f"gemm: batch index out of range at entry {i}")
    layout_a = _matrix_layout(M, K, a.strides[1] // item, a.strides[2] // item, &lda)
    layout_b = _matrix_layout(K, N, b.strides[1] // item, b.strides[2] // item, &ldb)
    if layout_a < 0 or layout_b < 0:
        raise ValueError("gemm: each matrix must be row- or column-major; copy it first")

    ta = b'N' if layout_a == 0 else b'T'
    tb = b'N' if layout_b == 0 else b'T'
    sa0 = a.strides[0] // item
    sb0 = b.strides[0] // item
    # one tile per thread and batch entry unless the batch alone feeds every thread;
    # tiles split the longer of M and N, in multiples of 16 (BLAS's kernels like it), the
    # last tile taking the rest: of the step rounded up or down, the one whose largest
    # tile is smaller (N = 100 on 2 threads: 48 + 52 columns, not 64 + 36; measured
    # 62 us against 73 us for the larger tile of a 60 x 784 x 100 product)
    nt = threads_for(M * N * K // 16)
    tiles = 1 if B >= nt else nt
    split_rows = M >= N
    extent = M if split_rows else N
    step = ((extent + tiles - 1) // tiles + 15) // 16 * 16
    down = extent // tiles // 16 * 16
    if tiles > 1 and down > 0 and extent - down * (tiles - 1) < step:
        step = down
    # each operand's element strides (a column-major one is its transpose's storage): the
    # tiles' offsets, and what our AVX-512 kernel (``_sgemm.h``) reads; float32 products
    # above a size go to it
    own = real is float and use_own_sgemm(M, N, K)
    rsa = lda if layout_a == 0 else 1
    csa = 1 if layout_a == 0 else lda
    rsb = ldb if layout_b == 0 else 1
    csb = 1 if layout_b == 0 else ldb
    with nogil:
        for t in prange(B * tiles, schedule="static", num_threads=team(nt)):
            i = t // tiles
            lo = (t % tiles) * step
            hi = extent if t % tiles == tiles - 1 else min(extent, lo + step)
            pa = &a[0, 0, 0] + a_index[i] * sa0
            pb = &b[0, 0, 0] + b_index[i] * sb0
            pc = &out[i, 0, 0]
            if split_rows:
                pa = pa + lo * rsa
                pc = pc + lo * N
                if not (own and mg_sgemm(<int>(hi - lo), <int>N, <int>K, <float *>pa, rsa, csa,
                                         <float *>pb, rsb, csb, <float *>pc, N,
                                         accumulate) == 0):
                    _gemm1(tb, ta, <int>N, <int>(hi - lo), <int>K, pb, ldb, pa, lda, beta, pc,
                           <int>N)
            else:
                pb = pb + lo * csb
                pc = pc + lo
                if not (own and mg_sgemm(<int>M, <int>(hi - lo), <int>K, <float *>pa, rsa, csa,
                                         <float *>pb, rsb, csb, <float *>pc, N,
                                         accumulate) == 0):
                    _gemm1(tb, ta, <int>(hi - lo), <int>M, <int>K, pb, ldb, pa, lda, beta, pc,
                           <int>N)


cdef inline void _gemm1(char tb, char ta, int m, int n, int k, const real *pb, int ldb,
                        const real *pa, int lda, real beta, real *pc, int ldc) noexcept nogil:
    """One column-major BLAS call C = op(B) op(A) (+ beta C); empty tiles do nothing."""
    cdef real alpha = 1
    if m <= 0 or n <= 0:
        return
    if real is float:
        sgemm(&tb, &ta, &m, &n, &k, &alpha, <float *>pb, &ldb, <float *>pa, &lda, &beta,
              pc, &ldc)
    else:
        dgemm(&tb, &ta, &m, &n, &k, &alpha, <double *>pb, &ldb, <double *>pa, &lda, &beta,
              pc, &ldc)
