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


def im2col(const real[:, :, :, ::1] x, Py_ssize_t n0, Py_ssize_t nb, Py_ssize_t c0,
           Py_ssize_t cg, int kh, int kw, int sh, int sw, int ph, int pw, int dh, int dw,
           Py_ssize_t Ho, Py_ssize_t Wo, real[:, ::1] col):
    cdef Py_ssize_t H = x.shape[2], W = x.shape[3], P = Ho * Wo, R = cg * kh * kw
    cdef Py_ssize_t r, b, c, i, j, oh, ow, ih, iw
    cdef real *dst
    cdef const real *plane
    _check(x, col, n0, nb, c0, cg, kh, kw, sh, sw, dh, dw, Ho, Wo)
    with nogil:
        for r in prange(R, schedule="static"):
            c = r // (kh * kw)
            i = (r // kw) % kh
            j = r % kw
            for b in range(nb):
                plane = &x[n0 + b, c0 + c, 0, 0]
                dst = &col[r, b * P]
                for oh in range(Ho):
                    ih = oh * sh - ph + i * dh
                    if ih < 0 or ih >= H:
                        for ow in range(Wo):
                            dst[oh * Wo + ow] = 0
                        continue
                    for ow in range(Wo):
                        iw = ow * sw - pw + j * dw
                        dst[oh * Wo + ow] = plane[ih * W + iw] if 0 <= iw < W else 0


def col2im(const real[:, ::1] col, Py_ssize_t n0, Py_ssize_t nb, Py_ssize_t c0, Py_ssize_t cg,
           int kh, int kw, int sh, int sw, int ph, int pw, int dh, int dw, Py_ssize_t Ho,
           Py_ssize_t Wo, real[:, :, :, ::1] dx):
    """The adjoint of im2col: dx[...] += every column entry that im2col copied from there.
    Each thread owns whole (image, channel) planes, so overlapping windows never race."""
    cdef Py_ssize_t H = dx.shape[2], W = dx.shape[3], P = Ho * Wo
    cdef Py_ssize_t q, b, c, i, j, oh, ow, ih, iw
    cdef real *plane
    cdef const real *src
    _check(dx, col, n0, nb, c0, cg, kh, kw, sh, sw, dh, dw, Ho, Wo)
    with nogil:
        for q in prange(nb * cg, schedule="static"):
            b = q // cg
            c = q % cg
            plane = &dx[n0 + b, c0 + c, 0, 0]
            for i in range(kh):
                for j in range(kw):
                    src = &col[(c * kh + i) * kw + j, b * P]
                    for oh in range(Ho):
                        ih = oh * sh - ph + i * dh
                        if ih < 0 or ih >= H:
                            continue
                        for ow in range(Wo):
                            iw = ow * sw - pw + j * dw
                            if 0 <= iw < W:
                                plane[ih * W + iw] += src[oh * Wo + ow]
