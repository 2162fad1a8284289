# cython: language_level=3
"""Per-channel reductions of a contiguous (N, C, S) array, the shape BatchNorm reduces.

``S`` is the product of the spatial extents (1 for an (N, C) input). Every statistic is
accumulated in double. The variance is never E[x^2] - E[x]^2 (negative in float32 when the
mean is large): each piece of at most PIECE elements gets its own two-pass mean and sum of
squared deviations while it sits in cache, and pieces are combined with Chan's formula.

Work is split into blocks so that every thread gets some even when C is small: for S > 1
a block is one channel over a range of samples; for S == 1 a block is a range of rows
over all channels. Blocks write their partial results to separate slots; the slots are
combined serially afterwards, so the result does not depend on the thread count's timing.
"""
from cython.parallel cimport prange
from libc.stdlib cimport malloc, calloc, free
from minigrad._kernels._omp cimport omp_get_max_threads

ctypedef fused real:
    float
    double

cdef enum:
    PIECE = 4096


cdef inline void _chan_merge(double *cnt, double *mean, double *m2,
                             double n_b, double mean_b, double m2_b) noexcept nogil:
    """Fold a group (n_b, mean_b, m2_b) into the running (cnt, mean, m2)."""
    cdef double n_a = cnt[0], n = n_a + n_b, delta
    if n_b == 0:
        return
    delta = mean_b - mean[0]
    mean[0] += delta * (n_b / n)
    m2[0] += m2_b + delta * delta * (n_a * n_b / n)
    cnt[0] = n


cdef inline double _sum(const real *p, Py_ssize_t m) noexcept nogil:
    # four accumulators break the add-latency chain without reassociating across them
    cdef double s0 = 0, s1 = 0, s2 = 0, s3 = 0
    cdef Py_ssize_t i = 0
    while i + 4 <= m:
        s0 += p[i]; s1 += p[i + 1]; s2 += p[i + 2]; s3 += p[i + 3]
        i += 4
    while i < m:
        s0 += p[i]
        i += 1
    return (s0 + s1) + (s2 + s3)


cdef inline double _sqdev(const real *p, Py_ssize_t m, double mu) noexcept nogil:
    cdef double s0 = 0, s1 = 0, s2 = 0, s3 = 0, d0, d1, d2, d3
    cdef Py_ssize_t i = 0
    while i + 4 <= m:
        d0 = p[i] - mu; d1 = p[i + 1] - mu; d2 = p[i + 2] - mu; d3 = p[i + 3] - mu
        s0 += d0 * d0; s1 += d1 * d1; s2 += d2 * d2; s3 += d3 * d3
        i += 4
    while i < m:
        d0 = p[i] - mu
        s0 += d0 * d0
        i += 1
    return (s0 + s1) + (s2 + s3)


cdef inline double _dot_dev(const real *dy, const real *x, Py_ssize_t m, double mu) noexcept nogil:
    cdef double s0 = 0, s1 = 0
    cdef Py_ssize_t i = 0
    while i + 2 <= m:
        s0 += dy[i] * (x[i] - mu)
        s1 += dy[i + 1] * (x[i + 1] - mu)
        i += 2
    if i < m:
        s0 += dy[i] * (x[i] - mu)
    return s0 + s1


cdef void _segment_stats(const real *p, Py_ssize_t m, double *cnt, double *mean,
                         double *m2) noexcept nogil:
    cdef Py_ssize_t start = 0, k
    cdef double mu
    while start < m:
        k = min(<Py_ssize_t>PIECE, m - start)
        mu = _sum(p + start, k) / k
        _chan_merge(cnt, mean, m2, <double>k, mu, _sqdev(p + start, k, mu))
        start += k


cdef inline Py_ssize_t _chunks_per_channel(Py_ssize_t N, Py_ssize_t C) noexcept nogil:
    """Enough blocks for about four per thread, never more than one per sample."""
    cdef Py_ssize_t want = (4 * omp_get_max_threads() + C - 1) // C
    return max(<Py_ssize_t>1, min(N, want))


cdef inline Py_ssize_t _blocks(Py_ssize_t N, Py_ssize_t C, Py_ssize_t S,
                               Py_ssize_t *chunks) noexcept nogil:
    """How the work is split; returns the block count and sets ``chunks``.

    S > 1: a block is one channel over ``chunks`` consecutive ranges of samples, about
    four blocks per thread. S == 1: a block is ``chunks`` rows (about PIECE elements)
    over all channels, and owns C partial-result slots.
    """
    if S > 1:
        chunks[0] = _chunks_per_channel(N, C)
        return C * chunks[0]
    chunks[0] = max(<Py_ssize_t>1, <Py_ssize_t>PIECE // C)
    return (N + chunks[0] - 1) // chunks[0]


def _check(str op, x, Py_ssize_t C, outs):
    if x.shape[0] == 0 or x.shape[2] == 0:
        raise ValueError(f"{op}: cannot reduce an empty array of shape {tuple(x.shape)[:3]}")
    for o in outs:
        if o.shape[0] != C:
            raise ValueError(f"{op}: output has {o.shape[0]} entries, expected C={C}")


def channel_stats(const real[:, :, ::1] x, real[::1] mean_out, real[::1] var_out):
    """Per-channel mean and biased variance of ``x`` (N, C, S) into the C-long outputs."""
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], S = x.shape[2]
    cdef Py_ssize_t nb, chunks, b, c, j, n, r, r0, r1, rows
    cdef double *cnt
    cdef double *mu
    cdef double *m2
    cdef double tc, tm, tq, d
    cdef const real *base
    cdef const real *row
    _check("channel_stats", x, C, (mean_out, var_out))
    base = &x[0, 0, 0]
    nb = _blocks(N, C, S, &chunks)
    # slot b holds one block's (count, mean, M2); for S == 1 a block has one slot per channel
    cnt = <double *>calloc(nb, sizeof(double))
    mu = <double *>calloc(nb * (C if S == 1 else 1), sizeof(double))
    m2 = <double *>calloc(nb * (C if S == 1 else 1), sizeof(double))
    if cnt == NULL or mu == NULL or m2 == NULL:
        free(cnt); free(mu); free(m2)
        raise MemoryError("channel_stats: cannot allocate scratch space")
    try:
        with nogil:
            if S > 1:
                for b in prange(nb, schedule="static"):
                    c = b // chunks
                    j = b % chunks
                    for n in range(j * N // chunks, (j + 1) * N // chunks):
                        _segment_stats(base + (n * C + c) * S, S, &cnt[b], &mu[b], &m2[b])
                for c in range(C):
                    tc = 0; tm = 0; tq = 0
                    for j in range(chunks):
                        _chan_merge(&tc, &tm, &tq, cnt[c * chunks + j], mu[c * chunks + j],
                                    m2[c * chunks + j])
                    mean_out[c] = <real>tm
                    var_out[c] = <real>(tq / tc)
            else:
                for b in prange(nb, schedule="static"):
                    r0 = b * chunks
                    r1 = min(N, r0 + chunks)
                    rows = r1 - r0
                    cnt[b] = rows
                    for r in range(r0, r1):
                        row = base + r * C
                        for c in range(C):
                            mu[b * C + c] += row[c]
                    for c in range(C):
                        mu[b * C + c] /= rows
                    for r in range(r0, r1):
                        row = base + r * C
                        for c in range(C):
                            d = row[c] - mu[b * C + c]
                            m2[b * C + c] += d * d
                for c in range(C):
                    tc = 0; tm = 0; tq = 0
                    for b in range(nb):
                        _chan_merge(&tc, &tm, &tq, cnt[b], mu[b * C + c], m2[b * C + c])
                    mean_out[c] = <real>tm
                    var_out[c] = <real>(tq / tc)
    finally:
        free(cnt); free(mu); free(m2)


cdef int _channel_sums(const real *dy, const real *x, const real *mean, Py_ssize_t N,
                       Py_ssize_t C, Py_ssize_t S, double *sum_dy, double *sum_dyx) except -1:
    """Per-channel sum of dy and, when x is given, of dy * (x - mean), into double outputs."""
    cdef Py_ssize_t nb, chunks, b, c, j, n, r, r0, r1, off
    cdef double *p1
    cdef double *p2
    nb = _blocks(N, C, S, &chunks)
    p1 = <double *>calloc(nb * (C if S == 1 else 1), sizeof(double))
    p2 = <double *>calloc(nb * (C if S == 1 else 1), sizeof(double))
    if p1 == NULL or p2 == NULL:
        free(p1); free(p2)
        raise MemoryError("channel sums: cannot allocate scratch space")
    with nogil:
        if S > 1:
            for b in prange(nb, schedule="static"):
                c = b // chunks
                j = b % chunks
                for n in range(j * N // chunks, (j + 1) * N // chunks):
                    off = (n * C + c) * S
                    p1[b] += _sum(dy + off, S)
                    if x != NULL:
                        p2[b] += _dot_dev(dy + off, x + off, S, mean[c])
            for c in range(C):
                sum_dy[c] = 0
                sum_dyx[c] = 0
                for j in range(chunks):
                    sum_dy[c] += p1[c * chunks + j]
                    sum_dyx[c] += p2[c * chunks + j]
        else:
            for b in prange(nb, schedule="static"):
                r0 = b * chunks
                r1 = min(N, r0 + chunks)
                for r in range(r0, r1):
                    for c in range(C):
                        p1[b * C + c] += dy[r * C + c]
                        if x != NULL:
                            p2[b * C + c] += dy[r * C + c] * (x[r * C + c] - mean[c])
            for c in range(C):
                sum_dy[c] = 0
                sum_dyx[c] = 0
                for b in range(nb):
                    sum_dy[c] += p1[b * C + c]
                    sum_dyx[c] += p2[b * C + c]
    free(p1); free(p2)
    return 0


def channel_sum(const real[:, :, ::1] x, real[::1] out):
    """Per-channel sum of ``x`` (N, C, S), accumulated in double."""
    cdef Py_ssize_t C = x.shape[1], c
    _check("channel_sum", x, C, (out,))
    cdef double[::1] s1 = memoryview(bytearray(C * sizeof(double))).cast("d")
    cdef double[::1] s2 = memoryview(bytearray(C * sizeof(double))).cast("d")
    _channel_sums(&x[0, 0, 0], NULL, NULL, x.shape[0], C, x.shape[2], &s1[0], &s2[0])
    for c in range(C):
        out[c] = <real>s1[c]


def channel_grad_sums(const real[:, :, ::1] dy, const real[:, :, ::1] x, const real[::1] mean,
                      real[::1] sum_dy, real[::1] sum_dy_xmu):
    """Per-channel sum(dy) and sum(dy * (x - mean)): the two reductions of BN's backward."""
    cdef Py_ssize_t C = x.shape[1], c
    if tuple(dy.shape)[:3] != tuple(x.shape)[:3]:
        raise ValueError(f"channel_grad_sums: dy has shape {tuple(dy.shape)[:3]}, "
                         f"x has shape {tuple(x.shape)[:3]}")
    _check("channel_grad_sums", x, C, (mean, sum_dy, sum_dy_xmu))
    cdef double[::1] s1 = memoryview(bytearray(C * sizeof(double))).cast("d")
    cdef double[::1] s2 = memoryview(bytearray(C * sizeof(double))).cast("d")
    _channel_sums(&dy[0, 0, 0], &x[0, 0, 0], &mean[0], x.shape[0], C, x.shape[2],
                  &s1[0], &s2[0])
    for c in range(C):
        sum_dy[c] = <real>s1[c]
        sum_dy_xmu[c] = <real>s2[c]
