# cython: language_level=3
"""The LSTM cell's elementwise part as one pass forward and one backward (``_recurrent.h``).

NumPy spends about 15 passes with temporaries on it, each with its call overhead on a
(64, 128) array. Rows are split over the threads only when there are many: a step of a
typical layer (64 x 128) is worth less than waking a team (see ``_threads``).
"""
from cython.parallel cimport prange
from minigrad._kernels._sgemm cimport use_own_sgemm
from minigrad._kernels._threads cimport team, threads_for

cdef extern from "_recurrent.h" nogil:
    void mg_lstm_forward_f(const float *gates, const float *cp, Py_ssize_t H, Py_ssize_t r0,
                           Py_ssize_t r1, float *h, float *c, float *act, float *tc)
    void mg_lstm_forward_d(const double *gates, const double *cp, Py_ssize_t H, Py_ssize_t r0,
                           Py_ssize_t r1, double *h, double *c, double *act, double *tc)
    void mg_lstm_backward_f(const float *gh, const float *gc, const float *act, const float *tc,
                            const float *cp, Py_ssize_t H, Py_ssize_t r0, Py_ssize_t r1,
                            float *dgates, float *dcp)
    void mg_lstm_backward_d(const double *gh, const double *gc, const double *act,
                            const double *tc, const double *cp, Py_ssize_t H, Py_ssize_t r0,
                            Py_ssize_t r1, double *dgates, double *dcp)
    int mg_lstm_layer_forward_f(const float *gi, const float *h0, const float *c0,
                                const float *wt, Py_ssize_t T, Py_ssize_t B, Py_ssize_t H,
                                int reverse, Py_ssize_t r0, Py_ssize_t r1, float *pre,
                                float *hs, float *cs, float *acts, float *tcs)
    int mg_lstm_layer_backward_f(const float *g_hs, const float *g_h, const float *g_c,
                                 const float *acts, const float *tcs, const float *cs,
                                 const float *c0, const float *w, Py_ssize_t T, Py_ssize_t B,
                                 Py_ssize_t H, int reverse, Py_ssize_t r0, Py_ssize_t r1,
                                 float *dgates, float *dh, float *dc, float *dc2)

ctypedef fused real:
    float
    double

# flop-equivalents per element for threads_for: the forward's five transcendentals
cdef enum:
    FORWARD_COST = 32
    BACKWARD_COST = 4


cdef inline const real *_data_or_null(const real[:, ::1] a) noexcept:
    """The first element of ``a`` (None, or empty: NULL, no gradient arrived)."""
    if a is None or a.shape[0] == 0 or a.shape[1] == 0:
        return NULL
    return &a[0, 0]


cdef _check(str op, Py_ssize_t N, Py_ssize_t H, arrays):
    """Every (name, array, width) must be (N, width * H)."""
    for name, a, width in arrays:
        if a is not None and (a.shape[0] != N or a.shape[1] != width * H):
            raise ValueError(f"{op}: {name} has shape {tuple(a.shape)[:2]}, expected "
                             f"({N}, {width * H})")


def lstm_forward(const real[:, ::1] gates, const real[:, ::1] c_prev, real[:, ::1] h,
                 real[:, ::1] c, real[:, ::1] act, real[:, ::1] tc):
    """h, c, act = (i, f, g, o) and tc = tanh(c) of an LSTM step, from the pre-activations
    ``gates`` (N, 4H) and ``c_prev`` (N, H)."""
    cdef Py_ssize_t N = c_prev.shape[0], H = c_prev.shape[1], b, nb
    cdef int nt = threads_for(N * H * FORWARD_COST)
    _check("lstm_gates_forward", N, H, (("gates", gates, 4), ("h", h, 1), ("c", c, 1),
                                        ("act", act, 4), ("tc", tc, 1)))
    if N == 0 or H == 0:
        return
    nb = min(N, nt)
    with nogil:
        for b in prange(nb, schedule="static", num_threads=team(nt)):
            if real is float:
                mg_lstm_forward_f(&gates[0, 0], &c_prev[0, 0], H, b * N // nb,
                                  (b + 1) * N // nb, &h[0, 0], &c[0, 0], &act[0, 0], &tc[0, 0])
            else:
                mg_lstm_forward_d(&gates[0, 0], &c_prev[0, 0], H, b * N // nb,
                                  (b + 1) * N // nb, &h[0, 0], &c[0, 0], &act[0, 0], &tc[0, 0])


def lstm_backward(const real[:, ::1] act, const real[:, ::1] tc, const real[:, ::1] c_prev,
                  const real[:, ::1] gh, const real[:, ::1] gc, real[:, ::1] dgates,
                  real[:, ::1] dc_prev):
    """dgates (N, 4H) and dc_prev (N, H) of an LSTM step from what ``lstm_forward`` saved
    and the gradients of its h and c (``gh`` or ``gc`` None: none arrived; they come after
    ``act``, whose dtype picks the specialization)."""
    cdef Py_ssize_t N = c_prev.shape[0], H = c_prev.shape[1], b, nb
    cdef int nt = threads_for(N * H * BACKWARD_COST)
    cdef const real *pgh = _data_or_null(gh)
    cdef const real *pgc = _data_or_null(gc)
    _check("lstm_gates_backward", N, H, (("gh", gh, 1), ("gc", gc, 1), ("act", act, 4),
                                         ("tc", tc, 1), ("dgates", dgates, 4),
                                         ("dc_prev", dc_prev, 1)))
    if N == 0 or H == 0:
        return
    nb = min(N, nt)
    with nogil:
        for b in prange(nb, schedule="static", num_threads=team(nt)):
            if real is float:
                mg_lstm_backward_f(pgh, pgc, &act[0, 0], &tc[0, 0], &c_prev[0, 0], H,
                                   b * N // nb, (b + 1) * N // nb, &dgates[0, 0], &dc_prev[0, 0])
            else:
                mg_lstm_backward_d(pgh, pgc, &act[0, 0], &tc[0, 0], &c_prev[0, 0], H,
                                   b * N // nb, (b + 1) * N // nb, &dgates[0, 0], &dc_prev[0, 0])


# ---------------------------------------------------------------- a whole float32 layer

def layer_fits(Py_ssize_t B, Py_ssize_t H):
    """Whether ``layer_forward`` and ``layer_backward`` run a float32 layer of batch B and
    hidden size H: both per-step products, (B, H) x (H, 4H) and (B, 4H) x (4H, H), must be
    ones the step loop's ``matmul`` gives to our GEMM, so that the bits are the loop's."""
    return use_own_sgemm(B, 4 * H, H) and use_own_sgemm(B, H, 4 * H)


cdef int _layer_blocks(Py_ssize_t B, Py_ssize_t H) noexcept nogil:
    """Row blocks of the batch, one per thread: as the matmul of one step would split."""
    return <int>min(<Py_ssize_t>threads_for(B * 4 * H * H // 16), B)


cdef _check_layer(str op, Py_ssize_t T, Py_ssize_t B, Py_ssize_t H, arrays):
    """Every (name, array, shape) must have that shape."""
    if T == 0 or B == 0 or H == 0:
        raise ValueError(f"{op}: empty layers are handled by the caller, not the kernel")
    for name, a, shape in arrays:
        if a is not None and tuple(a.shape)[:len(shape)] != shape:
            raise ValueError(f"{op}: {name} has shape {tuple(a.shape)[:len(shape)]}, "
                             f"expected {shape}")


def layer_forward(const float[:, :, ::1] gi, const float[:, ::1] h0, const float[:, ::1] c0,
                  const float[:, ::1] wt, float[:, ::1] pre, float[:, :, ::1] hs,
                  float[:, :, ::1] cs, float[:, :, ::1] acts, float[:, :, ::1] tcs,
                  bint reverse):
    """Every step of a float32 LSTM layer over ``gi`` (T, B, 4H) from (h0, c0) (B, H) with
    ``wt`` = W_hh^T (H, 4H): hs, cs, tcs (T, B, H) and acts (T, B, 4H); ``pre`` (B, 4H) is
    scratch. Each thread runs a block of rows through every step (``_recurrent.h``)."""
    cdef Py_ssize_t T = gi.shape[0], B = gi.shape[1], H = h0.shape[1], b
    cdef int nb, failed = 0
    _check_layer("lstm_layer_forward", T, B, H, (
        ("gi", gi, (T, B, 4 * H)), ("h0", h0, (B, H)), ("c0", c0, (B, H)),
        ("wt", wt, (H, 4 * H)), ("pre", pre, (B, 4 * H)), ("hs", hs, (T, B, H)),
        ("cs", cs, (T, B, H)), ("acts", acts, (T, B, 4 * H)), ("tcs", tcs, (T, B, H))))
    nb = _layer_blocks(B, H)
    with nogil:
        for b in prange(nb, schedule="static", num_threads=team(nb)):
            failed += mg_lstm_layer_forward_f(&gi[0, 0, 0], &h0[0, 0], &c0[0, 0], &wt[0, 0], T,
                                              B, H, reverse, b * B // nb, (b + 1) * B // nb,
                                              &pre[0, 0], &hs[0, 0, 0], &cs[0, 0, 0],
                                              &acts[0, 0, 0], &tcs[0, 0, 0]) != 0
    if failed:
        raise MemoryError("lstm_layer_forward: no scratch memory for the GEMM's packing")


def layer_backward(const float[:, :, ::1] g_hs, const float[:, ::1] g_h,
                   const float[:, ::1] g_c, const float[:, :, ::1] acts,
                   const float[:, :, ::1] tcs, const float[:, :, ::1] cs,
                   const float[:, ::1] c0, const float[:, ::1] w, float[:, :, ::1] dgates,
                   float[:, ::1] dh, float[:, ::1] dc, float[:, ::1] dc2, bint reverse):
    """``layer_forward``'s backward: dgates (T, B, 4H) and the gradients dh, dc (B, H) of
    h0 and c0, from those of hs, h_T and c_T (each may be None) and what the forward saved;
    ``w`` = W_hh (4H, H); ``dc2`` (B, H) is scratch."""
    cdef Py_ssize_t T = acts.shape[0], B = acts.shape[1], H = c0.shape[1], b
    cdef int nb, failed = 0
    cdef const float *pgs = NULL
    cdef const float *pgh = _data_or_null(g_h)
    cdef const float *pgc = _data_or_null(g_c)
    _check_layer("lstm_layer_backward", T, B, H, (
        ("g_hs", g_hs, (T, B, H)), ("g_h", g_h, (B, H)), ("g_c", g_c, (B, H)),
        ("acts", acts, (T, B, 4 * H)), ("tcs", tcs, (T, B, H)), ("cs", cs, (T, B, H)),
        ("c0", c0, (B, H)), ("w", w, (4 * H, H)), ("dgates", dgates, (T, B, 4 * H)),
        ("dh", dh, (B, H)), ("dc", dc, (B, H)), ("dc2", dc2, (B, H))))
    if g_hs is not None:
        pgs = &g_hs[0, 0, 0]
    nb = _layer_blocks(B, H)
    with nogil:
        for b in prange(nb, schedule="static", num_threads=team(nb)):
            failed += mg_lstm_layer_backward_f(pgs, pgh, pgc, &acts[0, 0, 0], &tcs[0, 0, 0],
                                               &cs[0, 0, 0], &c0[0, 0], &w[0, 0], T, B, H,
                                               reverse, b * B // nb, (b + 1) * B // nb,
                                               &dgates[0, 0, 0], &dh[0, 0], &dc[0, 0],
                                               &dc2[0, 0]) != 0
    if failed:
        raise MemoryError("lstm_layer_backward: no scratch memory for the GEMM's packing")
