# cython: language_level=3
"""The elementwise halves of fused BatchNorm over a contiguous (N, C, S) array.

With per-channel statistics from ``_stats``, forward is one pass (y = x * scale + shift,
scale = gamma * invstd, shift = beta - mean * scale) and backward is one pass:

    dx = gamma * invstd * (dy - sum_dy / n - (x - mean) * invstd^2 * sum_dy_xmu / n)

(in eval the statistics are constants and dx = gamma * invstd * dy). Per-channel
coefficients are formed in double; the (n, c) planes are split across threads.
"""
from cython.parallel cimport prange

ctypedef fused real:
    float
    double


def _check(str op, x, Py_ssize_t C, vectors):
    if x.shape[1] != C:
        raise ValueError(f"{op}: x has {x.shape[1]} channels, expected {C}")
    for name, v in vectors:
        if v.shape[0] != C:
            raise ValueError(f"{op}: {name} has {v.shape[0]} entries, expected C={C}")


def normalize(const real[:, :, ::1] x, const double[::1] scale, const double[::1] shift,
              real[:, :, ::1] y):
    """y[n, c, s] = x[n, c, s] * scale[c] + shift[c]."""
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], S = x.shape[2], p, s, n, c
    cdef const real *src
    cdef real *dst
    cdef double a, b
    _check("batch_norm normalize", x, C, (("scale", scale), ("shift", shift)))
    if tuple(y.shape)[:3] != tuple(x.shape)[:3]:
        raise ValueError(f"batch_norm normalize: y has shape {tuple(y.shape)[:3]}, "
                         f"expected {tuple(x.shape)[:3]}")
    with nogil:
        for p in prange(N * C, schedule="static"):
            c = p % C
            a = scale[c]
            b = shift[c]
            src = &x[0, 0, 0] + p * S
            dst = &y[0, 0, 0] + p * S
            for s in range(S):
                dst[s] = <real>(src[s] * a + b)


def backward_input(const real[:, :, ::1] dy, const real[:, :, ::1] x, const double[::1] mean,
                   const double[::1] gain, const double[::1] k_dy, const double[::1] k_x,
                   real[:, :, ::1] dx):
    """dx = gain[c] * dy + k_x[c] * (x - mean[c]) + k_dy[c]: the closed form of BN's input
    gradient with the per-channel coefficients precomputed by the caller."""
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], S = x.shape[2], p, s, c
    cdef const real *g
    cdef const real *v
    cdef real *out
    cdef double a, m, kd, kx
    _check("batch_norm backward", x, C, (("mean", mean), ("gain", gain), ("k_dy", k_dy),
                                          ("k_x", k_x)))
    if tuple(dy.shape)[:3] != tuple(x.shape)[:3] or tuple(dx.shape)[:3] != tuple(x.shape)[:3]:
        raise ValueError(f"batch_norm backward: dy {tuple(dy.shape)[:3]}, x "
                         f"{tuple(x.shape)[:3]} and dx {tuple(dx.shape)[:3]} must match")
    with nogil:
        for p in prange(N * C, schedule="static"):
            c = p % C
            a = gain[c]
            m = mean[c]
            kd = k_dy[c]
            kx = k_x[c]
            g = &dy[0, 0, 0] + p * S
            v = &x[0, 0, 0] + p * S
            out = &dx[0, 0, 0] + p * S
            for s in range(S):
                out[s] = <real>(a * g[s] + kx * (v[s] - m) + kd)
