# cython: language_level=3
"""The LSTM cell's elementwise part as one pass forward and one backward (``_recurrent.h``).

NumPy spends about 15 passes with temporaries on it, each with its call overhead on a
(64, 128) array. Rows are split over the threads only when there are many: a step of a
typical layer (64 x 128) is worth less than waking a team (see ``_threads``).
"""
from cython.parallel cimport prange
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

ctypedef fused real:
    float
    double

# flop-equivalents per element for threads_for: the forward's five transcendentals
cdef enum:
    FORWARD_COST = 32
    BACKWARD_COST = 4


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
    cdef const real *pgh = NULL
    cdef const real *pgc = NULL
    _check("lstm_gates_backward", N, H, (("gh", gh, 1), ("gc", gc, 1), ("act", act, 4),
                                         ("tc", tc, 1), ("dgates", dgates, 4),
                                         ("dc_prev", dc_prev, 1)))
    if N == 0 or H == 0:
        return
    if gh is not None:
        pgh = &gh[0, 0]
    if gc is not None:
        pgc = &gc[0, 0]
    nb = min(N, nt)
    with nogil:
        for b in prange(nb, schedule="static", num_threads=team(nt)):
            if real is float:
                mg_lstm_backward_f(pgh, pgc, &act[0, 0], &tc[0, 0], &c_prev[0, 0], H,
                                   b * N // nb, (b + 1) * N // nb, &dgates[0, 0], &dc_prev[0, 0])
            else:
                mg_lstm_backward_d(pgh, pgc, &act[0, 0], &tc[0, 0], &c_prev[0, 0], H,
                                   b * N // nb, (b + 1) * N // nb, &dgates[0, 0], &dc_prev[0, 0])
