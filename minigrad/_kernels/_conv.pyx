# cython: language_level=3
"""im2col / col2im for 2-D convolution, over a range of images and one group's channels.

The column matrix of images n0 .. n0+nb and channels c0 .. c0+cg has one row per
(channel, kernel row, kernel column) and one column per (image, output pixel):

    col[(c * kh + i) * kw + j, b * P + oh * Wo + ow] = x[n0 + b, c0 + c, ih, iw]
    ih = oh * sh - ph + i * dh,  iw = ow * sw - pw + j * dw   (0 outside the image)

so a convolution is one GEMM per group and chunk: W_g (Kg x R) @ col (R x nb*P).
"""
from cython.parallel cimport prange

ctypedef fused real:
    float
    double


def _check(x, col, Py_ssize_t n0, Py_ssize_t nb, Py_ssize_t c0, Py_ssize_t cg, int kh, int kw,
           int sh, int sw, int dh, int dw, Py_ssize_t Ho, Py_ssize_t Wo):
    if kh < 1 or kw < 1 or sh < 1 or sw < 1 or dh < 1 or dw < 1:
        raise ValueError("conv: kernel size, stride and dilation must be positive")
    if n0 < 0 or nb < 1 or n0 + nb > x.shape[0] or c0 < 0 or cg < 1 or c0 + cg > x.shape[1]:
        raise ValueError(f"conv: images [{n0}, {n0 + nb}) or channels [{c0}, {c0 + cg}) "
                         f"outside an input of shape {tuple(x.shape)[:4]}")
    if col.shape[0] != cg * kh * kw or col.shape[1] != nb * Ho * Wo:
        raise ValueError(f"conv: column buffer has shape {tuple(col.shape)[:2]}, expected "
                         f"({cg * kh * kw}, {nb * Ho * Wo})")


# The outputs o in [_lo(...), _hi(...)) are those whose input position
# o * stride - pad + offset lies in [0, n_in). (Two functions returning values rather than
# one writing through pointers: inside prange, Cython makes a variable thread-private only
# when it sees it assigned.)
cdef inline Py_ssize_t _lo(Py_ssize_t n_out, int stride, int pad, Py_ssize_t offset) noexcept nogil:
    cdef Py_ssize_t a = pad - offset
    return min(n_out, <Py_ssize_t>0 if a <= 0 else (a + stride - 1) // stride)


cdef inline Py_ssize_t _hi(Py_ssize_t n_out, Py_ssize_t n_in, int stride, int pad,
                           Py_ssize_t offset) noexcept nogil:
    cdef Py_ssize_t last = n_in - 1 + pad - offset  # o * stride <= last
    cdef Py_ssize_t hi = min(n_out, last // stride + 1) if last >= 0 else 0
    return max(hi, _lo(n_out, stride, pad, offset))


def im2col(const real[:, :, :, ::1] x, Py_ssize_t n0, Py_ssize_t nb, Py_ssize_t c0,
           Py_ssize_t cg, int kh, int kw, int sh, int sw, int ph, int pw, int dh, int dw,
           Py_ssize_t Ho, Py_ssize_t Wo, real[:, ::1] col):
    cdef Py_ssize_t H = x.shape[2], W = x.shape[3], P = Ho * Wo, R = cg * kh * kw
    cdef Py_ssize_t r, b, c, i, j, oh, ow, ih, oh_lo, oh_hi, ow_lo, ow_hi
    cdef real *dst
    cdef const real *src
    _check(x, col, n0, nb, c0, cg, kh, kw, sh, sw, dh, dw, Ho, Wo)
    with nogil:
        for r in prange(R, schedule="static"):
            c = r // (kh * kw)
            i = (r // kw) % kh
            j = r % kw
            oh_lo = _lo(Ho, sh, ph, i * dh)
            oh_hi = _hi(Ho, H, sh, ph, i * dh)
            ow_lo = _lo(Wo, sw, pw, j * dw)
            ow_hi = _hi(Wo, W, sw, pw, j * dw)
            for b in range(nb):
                dst = &col[r, b * P]
                for oh in range(Ho):
                    if oh < oh_lo or oh >= oh_hi:
                        for ow in range(Wo):
                            dst[oh * Wo + ow] = 0
                        continue
                    ih = oh * sh - ph + i * dh
                    src = &x[n0 + b, c0 + c, ih, 0] + (j * dw - pw)
                    for ow in range(ow_lo):
                        dst[oh * Wo + ow] = 0
                    for ow in range(ow_lo, ow_hi):
                        dst[oh * Wo + ow] = src[ow * sw]
                    for ow in range(ow_hi, Wo):
                        dst[oh * Wo + ow] = 0


def col2im(const real[:, ::1] col, Py_ssize_t n0, Py_ssize_t nb, Py_ssize_t c0, Py_ssize_t cg,
           int kh, int kw, int sh, int sw, int ph, int pw, int dh, int dw, Py_ssize_t Ho,
           Py_ssize_t Wo, real[:, :, :, ::1] dx):
    """The adjoint of im2col: dx[...] += every column entry that im2col copied from there.
    Each thread owns whole (image, channel) planes, so overlapping windows never race."""
    cdef Py_ssize_t H = dx.shape[2], W = dx.shape[3], P = Ho * Wo
    cdef Py_ssize_t q, b, c, i, j, oh, ow, oh_lo, oh_hi, ow_lo, ow_hi
    cdef real *dst
    cdef const real *src
    _check(dx, col, n0, nb, c0, cg, kh, kw, sh, sw, dh, dw, Ho, Wo)
    with nogil:
        for q in prange(nb * cg, schedule="static"):
            b = q // cg
            c = q % cg
            for i in range(kh):
                oh_lo = _lo(Ho, sh, ph, i * dh)
                oh_hi = _hi(Ho, H, sh, ph, i * dh)
                for j in range(kw):
                    ow_lo = _lo(Wo, sw, pw, j * dw)
                    ow_hi = _hi(Wo, W, sw, pw, j * dw)
                    src = &col[(c * kh + i) * kw + j, b * P]
                    for oh in range(oh_lo, oh_hi):
                        dst = &dx[n0 + b, c0 + c, oh * sh - ph + i * dh, 0] + (j * dw - pw)
                        for ow in range(ow_lo, ow_hi):
                            dst[ow * sw] += src[oh * Wo + ow]
