# cython: language_level=3
"""Per-channel kernels over a contiguous (N, C, S) array: BatchNorm's two primitives.

``S`` is the product of the spatial extents (1 for an (N, C) input). The two primitives:

* moments: per-channel mean and biased variance, in one read of memory;
* affine: y = (x - center[c]) * scale[c] + shift[c], and its backward in one pass:
  dx = g * scale[c], sum(g) and sum(g * (x - center[c])) per channel.

Reductions never use E[x^2] - E[x]^2 (negative in float32 when the mean is large): each
piece of at most PIECE elements gets a mean, then the sum of deviations d and of squared
deviations q around it while it sits in cache (the piece's exact M2 is q - d^2/k, so a
rounded piece mean costs nothing), and pieces are combined in double with Chan's formula.
Piece sums run in SIMD lanes of the data's own precision (``_simd.h``); everything across
pieces is double.

Work is split into blocks so that every thread gets some even when C is small: for S > 1
a block is one channel over a range of samples; for S == 1 a block is a range of rows over
all channels, at most one block per thread, read in pieces of about PIECE elements (a
single row when C is larger), so scratch is a few C-long vectors per block and never
grows with N. Blocks write partial results to their own slots, combined serially in a
fixed order afterwards: results depend on the thread count, never on timing (or on how
many threads the adaptive team lets run, see ``_threads``).
"""
from cpython.buffer cimport (PyBUF_C_CONTIGUOUS, PyBUF_FORMAT, PyBUF_WRITABLE,
                             PyBuffer_Release, PyObject_GetBuffer)
from cython.parallel cimport prange
from libc.stdlib cimport calloc, free
from minigrad._kernels._simd cimport (mg_dev_sums_d, mg_dev_sums_f, mg_grad_sums_d,
                                      mg_grad_sums_f, mg_rows_affine_d, mg_rows_affine_f,
                                      mg_rows_grad_d, mg_rows_grad_f, mg_rows_moments_d,
                                      mg_rows_moments_f, mg_sum_d, mg_sum_f)
from minigrad._kernels._threads cimport team, threads_for

ctypedef fused real:
    float
    double

cdef enum:
    PIECE = 2048


cdef inline void _chan_merge(double *cnt, double *mean, double *m2,
                             double n_b, double mean_b, double m2_b) noexcept nogil:
    """Fold a group (n_b, mean_b, m2_b) into the running (cnt, mean, m2). The mean is the
    weighted average of the two (not mean_a + delta * n_b / n), so an infinite mean stays
    infinite, as NumPy's and PyTorch's do, instead of turning into inf - inf = NaN."""
    cdef double n_a = cnt[0], n = n_a + n_b, delta
    if n_b == 0:
        return
    delta = mean_b - mean[0]
    mean[0] = mean[0] * (n_a / n) + mean_b * (n_b / n)
    m2[0] += m2_b + delta * delta * (n_a * n_b / n)
    cnt[0] = n


cdef inline void _piece_moments(const real *p, Py_ssize_t k, double *cnt, double *mean,
                                double *m2) noexcept nogil:
    cdef real mu, d, q
    if real is float:
        mu = mg_sum_f(p, k) / k
        mg_dev_sums_f(p, k, mu, &d, &q)
    else:
        mu = mg_sum_d(p, k) / k
        mg_dev_sums_d(p, k, mu, &d, &q)
    # mu + d / k refines the mean by the rounding error of the sum; an infinite mu makes d
    # NaN (inf - inf), and then mu itself is the answer
    _chan_merge(cnt, mean, m2, <double>k, mu + <double>d / k if d == d else mu,
                q - <double>d * d / k)


cdef inline void _piece_grad_sums(const real *g, const real *x, Py_ssize_t k, real c,
                                  double *sg, double *sgx) noexcept nogil:
    cdef real a, b
    if x == NULL:
        sg[0] += mg_sum_f(g, k) if real is float else mg_sum_d(g, k)
        return
    if real is float:
        mg_grad_sums_f(g, x, k, c, &a, &b)
    else:
        mg_grad_sums_d(g, x, k, c, &a, &b)
    sg[0] += a
    sgx[0] += b


cdef inline Py_ssize_t _blocks(Py_ssize_t N, Py_ssize_t C, Py_ssize_t S, int nt,
                               Py_ssize_t *chunks) noexcept nogil:
    """How the work is split; returns the block count and sets ``chunks``.

    S > 1: a block is one channel over ``chunks`` consecutive ranges of samples, about
    four blocks per thread. S == 1: a block is a range of rows over all channels (at most
    ``nt`` blocks), read ``chunks`` rows (about PIECE elements) at a time; it owns C
    partial-result slots.
    """
    if S > 1:
        chunks[0] = max(<Py_ssize_t>1, min(N, (4 * nt + C - 1) // C)) if nt > 1 else 1
        return C * chunks[0]
    chunks[0] = max(<Py_ssize_t>1, <Py_ssize_t>PIECE // C)
    return min(<Py_ssize_t>nt, (N + chunks[0] - 1) // chunks[0])


cdef double *_slots(Py_ssize_t n) except NULL:
    cdef double *p = <double *>calloc(max(n, <Py_ssize_t>1), sizeof(double))
    if p == NULL:
        raise MemoryError("channel kernel: cannot allocate scratch space")
    return p


# ---------------------------------------------------------------- the Python entry points
# They take NumPy arrays through the buffer protocol, not typed memoryviews: acquiring five
# memoryviews of a fused type costs about 1.6 us a call, the raw buffers about 0.2 us, and
# at BatchNorm1d's sizes (a few thousand values) that set-up was most of the call. Every
# operand is checked here, before any nogil code runs: C-contiguous, the same float dtype
# ('f' or 'd'), and its shape.

cdef enum:
    MAX_OPERANDS = 8


cdef int _take(Py_buffer *views, int *n, object a, str op, str name,
               bint writable) except -1:
    """Acquire ``a``'s buffer into ``views[n]`` and count it (released by ``_release``)."""
    cdef int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (PyBUF_WRITABLE if writable else 0)
    try:
        PyObject_GetBuffer(a, &views[n[0]], flags)
    except (BufferError, TypeError) as e:
        raise ValueError(f"{op}: {name} must be a {'writable ' if writable else ''}"
                         f"C-contiguous float32 or float64 array ({e})") from None
    n[0] += 1
    return 0


cdef void _release(Py_buffer *views, int n) noexcept:
    cdef int k
    for k in range(n):
        PyBuffer_Release(&views[k])


cdef char _kind(Py_buffer *v, str op) except 0:
    """'f' or 'd': the dtype of the (N, C, S) operand ``v``, checked."""
    if v.ndim != 3:
        raise ValueError(f"{op}: expected an (N, C, S) array, got {v.ndim} dimensions")
    if (v.format[0] == c"f" or v.format[0] == c"d") and v.format[1] == 0:
        return v.format[0]
    raise ValueError(f"{op}: expected float32 or float64 arrays, got format "
                     f"{v.format.decode()!r}")


cdef int _like(Py_buffer *v, Py_buffer *x, char kind, str op, str name) except -1:
    """``v`` must have ``x``'s dtype and (N, C, S) shape."""
    if v.format[0] != kind or v.format[1] != 0 or v.ndim != 3 or v.shape[0] != x.shape[0] \
            or v.shape[1] != x.shape[1] or v.shape[2] != x.shape[2]:
        raise ValueError(f"{op}: {name} {_describe(v)} must match x {_describe(x)}")
    return 0


cdef int _vector(Py_buffer *v, char kind, Py_ssize_t C, str op, str name) except -1:
    """``v`` must be C values of the operands' dtype."""
    if v.format[0] != kind or v.format[1] != 0:
        raise ValueError(f"{op}: {name} is {v.format.decode()!r}, expected "
                         f"{chr(kind)!r} as x")
    if v.ndim != 1 or v.shape[0] != C:
        raise ValueError(f"{op}: {name} has {v.len // v.itemsize} entries, expected C={C}")
    return 0


cdef str _describe(Py_buffer *v):
    return f"{v.format.decode()!r} {tuple([v.shape[k] for k in range(v.ndim)])}"


cdef int _not_empty(Py_buffer *x, str op) except -1:
    if x.shape[0] == 0 or x.shape[1] == 0 or x.shape[2] == 0:
        raise ValueError(f"{op}: cannot reduce an empty array of shape "
                         f"{(x.shape[0], x.shape[1], x.shape[2])}")
    return 0


# Each entry point checks its operands, then runs the kernel of their dtype: ``_run_*`` with a
# typed NULL ``tag`` (float or double) picks the specialization and reads the buffers.

cdef int _run_moments(const real *tag, Py_buffer *v) except -1:
    return _moments(<const real *>v[0].buf, v[0].shape[0], v[0].shape[1], v[0].shape[2],
                    <real *>v[1].buf, <real *>v[2].buf)


cdef int _run_affine(const real *tag, Py_buffer *v, bint accumulate) except -1:
    _affine(<const real *>v[0].buf, <const real *>v[1].buf, <const real *>v[2].buf,
            <const real *>v[3].buf, <real *>v[4].buf, v[0].shape[0], v[0].shape[1],
            v[0].shape[2], accumulate)
    return 0


cdef inline void *_data(Py_buffer *b) noexcept:
    return NULL if b == NULL else b.buf


cdef int _run_affine_backward(const real *tag, Py_buffer *g, Py_buffer *x, Py_buffer *scale,
                              Py_buffer *center, Py_buffer *sum_g, Py_buffer *sum_gx,
                              Py_buffer *dx) except -1:
    """``_affine_backward`` on the buffers; x, scale, center, sum_gx and dx may be NULL."""
    return _affine_backward(<const real *>g.buf, <const real *>_data(x),
                            <const real *>_data(scale), <const real *>_data(center),
                            <real *>_data(dx), g.shape[0], g.shape[1], g.shape[2],
                            <real *>sum_g.buf, <real *>_data(sum_gx))


def channel_moments(x, mean_out, var_out):
    """Per-channel mean and biased variance of ``x`` (N, C, S) into the C-long outputs."""
    cdef Py_buffer v[MAX_OPERANDS]
    cdef int n = 0
    cdef str op = "channel_moments"
    cdef char kind
    try:
        _take(v, &n, x, op, "x", False)
        _take(v, &n, mean_out, op, "mean", True)
        _take(v, &n, var_out, op, "var", True)
        kind = _kind(&v[0], op)
        _not_empty(&v[0], op)
        _vector(&v[1], kind, v[0].shape[1], op, "mean")
        _vector(&v[2], kind, v[0].shape[1], op, "var")
        if kind == c"f":
            _run_moments(<const float *>NULL, v)
        else:
            _run_moments(<const double *>NULL, v)
    finally:
        _release(v, n)


def channel_affine(x, scale, shift, center, y, bint accumulate=False):
    """y[n, c, s] = (x[n, c, s] - center[c]) * scale[c] + shift[c]  (``+=`` when
    ``accumulate``). ``y`` may be ``x`` itself."""
    cdef Py_buffer v[MAX_OPERANDS]
    cdef int n = 0
    cdef str op = "channel_affine"
    cdef char kind
    cdef Py_ssize_t C
    try:
        _take(v, &n, x, op, "x", False)
        _take(v, &n, scale, op, "scale", False)
        _take(v, &n, shift, op, "shift", False)
        _take(v, &n, center, op, "center", False)
        _take(v, &n, y, op, "out", True)
        kind = _kind(&v[0], op)
        _not_empty(&v[0], op)
        C = v[0].shape[1]
        _vector(&v[1], kind, C, op, "scale")
        _vector(&v[2], kind, C, op, "shift")
        _vector(&v[3], kind, C, op, "center")
        _like(&v[4], &v[0], kind, op, "out")
        if kind == c"f":
            _run_affine(<const float *>NULL, v, accumulate)
        else:
            _run_affine(<const double *>NULL, v, accumulate)
    finally:
        _release(v, n)


def channel_sum(g, out):
    """Per-channel sum of ``g`` (N, C, S), accumulated in double."""
    cdef Py_buffer v[MAX_OPERANDS]
    cdef int n = 0
    cdef str op = "channel_sum"
    cdef char kind
    try:
        _take(v, &n, g, op, "g", False)
        _take(v, &n, out, op, "out", True)
        kind = _kind(&v[0], op)
        _not_empty(&v[0], op)
        _vector(&v[1], kind, v[0].shape[1], op, "out")
        if kind == c"f":
            _run_affine_backward(<const float *>NULL, &v[0], NULL, NULL, NULL, &v[1], NULL, NULL)
        else:
            _run_affine_backward(<const double *>NULL, &v[0], NULL, NULL, NULL, &v[1], NULL, NULL)
    finally:
        _release(v, n)


def channel_affine_backward(g, x, scale, center, sum_g, sum_gx, dx, bint want_dx):
    """The backward of ``channel_affine`` in one pass: ``dx = g * scale[c]`` (when
    ``want_dx``), ``sum_g = sum(g)``, ``sum_gx = sum(g * (x - center[c]))`` per channel."""
    cdef Py_buffer v[MAX_OPERANDS]
    cdef int n = 0
    cdef str op = "channel_affine_backward"
    cdef char kind
    cdef Py_ssize_t C
    cdef Py_buffer *d
    try:
        _take(v, &n, g, op, "g", False)
        _take(v, &n, x, op, "x", False)
        _take(v, &n, scale, op, "scale", False)
        _take(v, &n, center, op, "center", False)
        _take(v, &n, sum_g, op, "sum_g", True)
        _take(v, &n, sum_gx, op, "sum_gx", True)
        if want_dx:
            _take(v, &n, dx, op, "dx", True)
        kind = _kind(&v[1], op)
        _not_empty(&v[1], op)
        C = v[1].shape[1]
        _like(&v[0], &v[1], kind, op, "g")
        _vector(&v[2], kind, C, op, "scale")
        _vector(&v[3], kind, C, op, "center")
        _vector(&v[4], kind, C, op, "sum_g")
        _vector(&v[5], kind, C, op, "sum_gx")
        if want_dx:
            _like(&v[6], &v[1], kind, op, "dx")
        d = &v[6] if want_dx else NULL
        if kind == c"f":
            _run_affine_backward(<const float *>NULL, &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], d)
        else:
            _run_affine_backward(<const double *>NULL, &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], d)
    finally:
        _release(v, n)


# ---------------------------------------------------------------- the kernels

cdef int _moments(const real *base, Py_ssize_t N, Py_ssize_t C, Py_ssize_t S,
                  real *mean_out, real *var_out) except -1:
    """Per-channel mean and biased variance of the (N, C, S) array at ``base``."""
    cdef Py_ssize_t nb, chunks, b, c, j, n, s, q, r, r0, r1, p0, p1, rows, slots
    cdef double *cnt
    cdef double *mu
    cdef double *m2
    cdef double *scratch
    cdef double *pm
    cdef double *pq
    cdef double tc, tm, tq
    cdef int nt = threads_for(N * C * S)
    nb = _blocks(N, C, S, nt, &chunks)
    slots = nb * (C if S == 1 else 1)   # one (count, mean, M2) per block (and channel)
    cnt = _slots(nb)
    mu = m2 = scratch = NULL
    try:
        mu = _slots(slots)
        m2 = _slots(slots)
        scratch = _slots(2 * slots if S == 1 else 1)   # a piece's means and M2s, per block
        with nogil:
            if S > 1:
                for b in prange(nb, schedule="static", num_threads=team(nt)):
                    c = b // chunks
                    j = b % chunks
                    for n in range(j * N // chunks, (j + 1) * N // chunks):
                        for q in range((S + PIECE - 1) // PIECE):
                            s = q * PIECE
                            _piece_moments(base + (n * C + c) * S + s, min(<Py_ssize_t>PIECE, S - s),
                                           &cnt[b], &mu[b], &m2[b])
                for c in range(C):
                    tc = 0; tm = 0; tq = 0
                    for j in range(chunks):
                        _chan_merge(&tc, &tm, &tq, cnt[c * chunks + j], mu[c * chunks + j],
                                    m2[c * chunks + j])
                    mean_out[c] = <real>tm
                    var_out[c] = <real>(tq / tc)
            else:   # rows of C values: the inner loops run along contiguous channels
                for b in prange(nb, schedule="static", num_threads=team(nt)):
                    r0 = b * N // nb
                    r1 = (b + 1) * N // nb
                    pm = scratch + 2 * b * C
                    pq = pm + C
                    for q in range((r1 - r0 + chunks - 1) // chunks):
                        p0 = r0 + q * chunks
                        p1 = min(r1, p0 + chunks)
                        rows = p1 - p0
                        if real is float:
                            mg_rows_moments_f(base, p0, p1, C, pm, pq)
                        else:
                            mg_rows_moments_d(base, p0, p1, C, pm, pq)
                        for c in range(C):   # fold the piece into the block's slots
                            tc = cnt[b]
                            _chan_merge(&tc, &mu[b * C + c], &m2[b * C + c], <double>rows,
                                        pm[c], pq[c])
                        cnt[b] += rows
                for c in range(C):
                    tc = 0; tm = 0; tq = 0
                    for b in range(nb):
                        _chan_merge(&tc, &tm, &tq, cnt[b], mu[b * C + c], m2[b * C + c])
                    mean_out[c] = <real>tm
                    var_out[c] = <real>(tq / tc)
    finally:
        free(cnt); free(mu); free(m2); free(scratch)
    return 0


cdef void _affine(const real *x, const real *scale, const real *shift, const real *center,
                  real *y, Py_ssize_t N, Py_ssize_t C, Py_ssize_t S,
                  bint accumulate) noexcept:
    """y = (x - center[c]) * scale[c] + shift[c] over the (N, C, S) arrays (``+=`` when
    ``accumulate``); ``y`` may be ``x``."""
    cdef Py_ssize_t p, s, r, c
    cdef const real *src
    cdef real *dst
    cdef real a, b, m
    cdef int nt = threads_for(N * C * S)
    with nogil:
        if S > 1:
            for p in prange(N * C, schedule="static", num_threads=team(nt)):
                c = p % C
                a = scale[c]
                b = shift[c]
                m = center[c]
                src = x + p * S
                dst = y + p * S
                if accumulate:
                    for s in range(S):
                        dst[s] = dst[s] + ((src[s] - m) * a + b)
                else:
                    for s in range(S):
                        dst[s] = (src[s] - m) * a + b
        else:
            for r in prange(N, schedule="static", num_threads=team(nt)):
                if real is float:
                    mg_rows_affine_f(x, scale, shift, center, y, r, r + 1, C, accumulate)
                else:
                    mg_rows_affine_d(x, scale, shift, center, y, r, r + 1, C, accumulate)


cdef int _affine_backward(const real *g, const real *x, const real *scale, const real *center,
                          real *dx, Py_ssize_t N, Py_ssize_t C, Py_ssize_t S,
                          real *sum_g, real *sum_gx) except -1:
    """dx = g * scale[c] (when dx is given) and per-channel sum(g), plus sum(g * (x - center))
    when x is given, in one pass over g (and x)."""
    cdef Py_ssize_t nb, chunks, b, c, j, n, s, q, r, r0, r1, off, k
    cdef double *p1
    cdef double *p2
    cdef int nt = threads_for(N * C * S)
    cdef real a, m
    nb = _blocks(N, C, S, nt, &chunks)
    p1 = _slots(nb * (C if S == 1 else 1))
    p2 = NULL
    try:
        p2 = _slots(nb * (C if S == 1 else 1))
        with nogil:
            if S > 1:
                for b in prange(nb, schedule="static", num_threads=team(nt)):
                    c = b // chunks
                    j = b % chunks
                    a = scale[c] if dx != NULL else 0
                    m = center[c] if x != NULL else 0
                    for n in range(j * N // chunks, (j + 1) * N // chunks):
                        off = (n * C + c) * S
                        if dx != NULL:
                            for s in range(S):
                                dx[off + s] = g[off + s] * a
                        for q in range((S + PIECE - 1) // PIECE):
                            s = q * PIECE
                            k = min(<Py_ssize_t>PIECE, S - s)
                            _piece_grad_sums(g + off + s, (x + off + s) if x != NULL else NULL,
                                             k, m, &p1[b], &p2[b])
                for c in range(C):   # slots c * chunks + j
                    _finish(p1, p2, c, c * chunks, 1, chunks, sum_g, sum_gx, x != NULL)
            else:
                for b in prange(nb, schedule="static", num_threads=team(nt)):
                    r0 = b * N // nb
                    r1 = (b + 1) * N // nb
                    if real is float:
                        mg_rows_grad_f(g, x, scale, center, dx, r0, r1, C, p1 + b * C,
                                       p2 + b * C)
                    else:
                        mg_rows_grad_d(g, x, scale, center, dx, r0, r1, C, p1 + b * C,
                                       p2 + b * C)
                for c in range(C):   # slots b * C + c
                    _finish(p1, p2, c, c, C, nb, sum_g, sum_gx, x != NULL)
    finally:
        free(p1); free(p2)
    return 0


cdef inline void _finish(const double *p1, const double *p2, Py_ssize_t c, Py_ssize_t first,
                         Py_ssize_t step, Py_ssize_t count, real *sum_g, real *sum_gx,
                         bint with_x) noexcept nogil:
    """Channel c's totals: its ``count`` partial sums at slots first, first + step, ..."""
    cdef double t1 = 0, t2 = 0
    cdef Py_ssize_t k
    for k in range(count):
        t1 += p1[first + k * step]
        t2 += p2[first + k * step]
    sum_g[c] = <real>t1
    if with_x:
        sum_gx[c] = <real>t2
