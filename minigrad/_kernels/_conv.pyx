# cython: language_level=3
"""2-D convolution as GEMMs, parallel over images with OpenMP and BLAS in each thread.

A work item is one image (or a tile of its output rows), or a block of consecutive small
images. Each OpenMP thread takes whole items, unfolds the input pixels an item needs into
its own column buffer (im2col) and calls single-threaded BLAS in that thread: one thread
pool, and no handing work back and forth between OpenMP and BLAS threads. The caller sizes
a tile so its buffer stays in L2 while the GEMM reads it.

For image n, group g and output rows [oh0, oh1) (Pt = (oh1 - oh0) * Wo pixels), the column
tile has one row per (channel, kernel row, kernel column) of the group:

    col[(c * kh + i) * kw + j, (oh - oh0) * Wo + ow] = x[n, g * Cg + c, ih, iw]
    ih = oh * sh - ph + i * dh,  iw = ow * sw - pw + j * dw   (0 outside the image)

and, with W_g the group's (Kg, R) weight matrix,

    y[n, group g, tile]  = W_g @ col
    dcol                 = W_g^T @ dy[n, group g, tile],  then dx[n] += col2im(dcol)
    dW_g                += dy[n, group g, tile] @ col^T

A 1x1 convolution with stride 1 and no padding has col = x and skips the copy.

Small images make these GEMMs thin (P = 16 columns at 4x4), and BLAS repacks all of W_g
for every one. So a work item may instead be a block of B consecutive images n0 .. n0+B-1,
whole: their column matrices sit side by side in one (R, B * P) buffer, image-major,

    colB[r, b * P + p] = col(image n0 + b)[r, p]

and each product is one GEMM B times wider:

    yB   = W_g @ colB,               then each image's (Kg, P) block is copied out to y
    dcol = W_g^T @ dyB,              dyB (Kg, B * P) gathered from dy the same way,
                                     then col2im image by image
    dW_g += dyB @ colB^T             (inner dimension B * P)

The caller picks B (and which of the three kinds of item) from the shapes.

Other stride-1 convolutions skip im2col too ("shifted GEMMs"): copy the image into a
zero-padded buffer xp of width Wp and compute every output row at full width Wp (the last
Wp - Wo columns are junk, dropped when copying out). Then for kernel tap (i, j) the input
pixels under all outputs form one strided matrix, xp shifted by i * dh * Wp + j * dw, and

    y = sum over taps of W[:, :, i, j] @ xp_shifted       (kh * kw GEMMs, each k = Cg)

dx is the same shifted views with the GEMM's roles swapped (dw stays on im2col, see
there). Each padded channel plane has (kw - 1) * dw spare elements, so the last tap's junk
columns stay inside it. In float32 the taps' GEMMs are usually one pass, _sgemm.h's
mg_sgemm_taps: each output tile takes every tap's product in turn while it sits in L1,
with the bits of the separate GEMMs (see _packed_taps).
"""
from cython.parallel cimport prange, threadid
from libc.stdlib cimport calloc, free, malloc
from libc.string cimport memset
from scipy.linalg.cython_blas cimport sgemm, dgemm
from minigrad._kernels._sgemm cimport (mg_sgemm, mg_sgemm_enabled, mg_sgemm_ready,
                                      mg_sgemm_taps, mg_taps_pack, mg_taps_packed_len,
                                      use_own_sgemm)
from minigrad._kernels._threads cimport team

ctypedef fused real:
    float
    double

cdef Py_ssize_t _INT_MAX = 2147483647  # BLAS takes 32-bit dimensions and strides
# dw's GEMMs make dw^T = col @ dy^T, (R, Kg), for groups of at most this many output
# channels, else dw = dy @ col^T: OpenBLAS runs a short (Kg, R) result faster the first way
# (single thread, float32, Kg x R x inner: 16 x 144 x 1024 at 73 GFLOP/s against 43,
# 64 x 576 x 512 at 120 against 95). Whole dw passes, batch 32, 2 threads, paired in one
# process, transposed / not: 0.83 at 16->16 @32x32, 0.82 at 32->32 @16x16, 0.90 at
# 64->64 @32x32 and 32->64 @14x14; at 128 output channels even (a threshold of 128
# against 64: 0.98-1.02), at 256 1.05 and at 512 (@4x4) 1.19.
cdef Py_ssize_t _DWT_MAX_KG = 64

cdef extern from "_im2col.h" nogil:
    void mg_im2col_row_f(const float *x, long istride, long H, long W, long nb, long Pt,
                         long oh0, long oh1, long Wo, long sh, long ph, long ioff, long iw0,
                         long lo, long hi, float *row)

cdef extern from "_conv_dw.h" nogil:
    void mg_dw3x3_f(const float *dyp, const float *xp, long n, long Sp, long Kg, long Cg,
                    const long *shift, float *out, long so, long sr)


cdef extern from "_winograd.h" nogil:
    long mg_wino_tiles(long n_out)
    long mg_wino_plane(long T, long n)
    size_t mg_wino_band_len(long rows, long Cin, long Cout, long Wo)
    void mg_wino_filter(const float *w, long K, long C, int for_dx, long ci0, long ci1,
                        float *U)
    void mg_wino_input(const float *x, long Cin, long H, long W, long ph, long pw, long th,
                       long tw, long n, long ti0, long ti1, long T, float *xt, float *V)
    int mg_wino_product(int xi, long T, long Cin, long Cout, const float *V, const float *U,
                        float *M)
    void mg_wino_output(const float *M, long T, long Cout, float *y, long Ho, long Wo,
                        long th, long tw, long u0, long u1, float *buf)
    void mg_wino_dy(const float *dy, long K, long Ho, long Wo, long th, long tw, long n,
                    long ti0, long ti1, long T, float *buf, float *P)
    int mg_wino_dw_product(int xi, long T, long K, long C, const float *P, const float *V,
                           float *S, int accumulate)
    void mg_wino_dw_out(const float *S, long K, long C, long k0, long k1, float *dw)


cdef struct Geom:
    Py_ssize_t N, C, H, W, K, Cg, Kg, kh, kw, Ho, Wo, P, R
    Py_ssize_t tile  # output rows per work item
    int sh, sw, ph, pw, dh, dw, groups
    bint pointwise  # 1x1, stride 1, no padding: x is its own column matrix
    bint shift      # stride 1: shifted GEMMs on a padded copy, no im2col (caller decides)
    Py_ssize_t Wp, Sp  # padded row width and channel-plane stride for ``shift``
    Py_ssize_t Lp      # row stride of dx's zero-margined dy for ``shift`` (_input_grad_shift)


cdef int _geometry(Geom *g, Py_ssize_t *xs, Py_ssize_t *ws, Py_ssize_t *ys, int sh, int sw,
                   int ph, int pw, int dh, int dw, int groups, Py_ssize_t tile,
                   Py_ssize_t threads, Py_ssize_t work_len, bint shift,
                   Py_ssize_t block) except -1:
    """Fill ``g`` from the shapes of x, w and y, raising unless they agree."""
    if sh < 1 or sw < 1 or dh < 1 or dw < 1 or ph < 0 or pw < 0 or groups < 1:
        raise ValueError("conv: stride, dilation and groups must be positive, padding not "
                         "negative")
    g.N, g.C, g.H, g.W = xs[0], xs[1], xs[2], xs[3]
    g.K, g.Cg, g.kh, g.kw = ws[0], ws[1], ws[2], ws[3]
    g.sh, g.sw, g.ph, g.pw, g.dh, g.dw, g.groups = sh, sw, ph, pw, dh, dw, groups
    if g.Cg * groups != g.C or g.K % groups:
        raise ValueError(f"conv: weight ({g.K}, {g.Cg}, ...) with groups={groups} does not fit "
                         f"an input with {g.C} channels")
    g.Kg, g.R = g.K // groups, g.Cg * g.kh * g.kw
    g.Ho = (g.H + 2 * ph - dh * (g.kh - 1) - 1) // sh + 1
    g.Wo = (g.W + 2 * pw - dw * (g.kw - 1) - 1) // sw + 1
    g.P = g.Ho * g.Wo
    if g.Ho < 1 or g.Wo < 1 or (ys[0], ys[1], ys[2], ys[3]) != (g.N, g.K, g.Ho, g.Wo):
        raise ValueError(f"conv: output has shape {(ys[0], ys[1], ys[2], ys[3])}, expected "
                         f"{(g.N, g.K, g.Ho, g.Wo)}")
    if g.N == 0 or g.K == 0 or g.Cg == 0:
        raise ValueError("conv: empty operands are handled by the caller, not the kernel")
    if max(g.P, g.R, g.Kg, g.Cg * g.H * g.W) > _INT_MAX:
        raise ValueError("conv: a matrix dimension exceeds BLAS's 32-bit limit")
    g.pointwise = (g.kh == 1 and g.kw == 1 and sh == 1 and sw == 1 and ph == 0 and pw == 0
                   and dh == 1 and dw == 1)
    if shift and (sh != 1 or sw != 1 or tile != g.Ho):
        raise ValueError("conv: shifted GEMMs need stride 1 and whole images (tile = Ho)")
    g.shift = shift
    g.Wp = g.W + 2 * pw
    g.Sp = (g.H + 2 * ph) * g.Wp + (g.kw - 1) * dw
    g.Lp = _tap_shift(g, g.kh * g.kw - 1) + max(g.Ho, g.H + ph) * g.Wp
    if not 1 <= tile <= g.Ho:
        raise ValueError(f"conv: tile of {tile} output rows, expected 1 to {g.Ho}")
    g.tile = tile
    if not 1 <= block <= g.N:
        raise ValueError(f"conv: block of {block} images, expected 1 to {g.N}")
    if block > 1 and (shift or tile != g.Ho):
        raise ValueError("conv: a block of images is im2col of whole images (tile = Ho, no "
                         "shifted GEMMs)")
    if block * g.P > _INT_MAX:
        raise ValueError("conv: a matrix dimension exceeds BLAS's 32-bit limit")
    cdef Py_ssize_t need = ((g.R + g.Kg) * block * g.P if block > 1 else
                            g.Cg * g.Sp + g.Kg * g.Lp if g.shift else
                            0 if g.pointwise else g.R * tile * g.Wo)
    if threads < 1 or work_len < need:
        raise ValueError(f"conv: work buffer ({threads}, {work_len}) is too small, expected "
                         f"(>= 1, >= {need})")
    if max(g.Sp, g.Lp) > _INT_MAX:
        raise ValueError("conv: a matrix dimension exceeds BLAS's 32-bit limit")
    return 0


cdef inline void _mm(bint ta, bint tb, Py_ssize_t M, Py_ssize_t N, Py_ssize_t K,
                     const real *a, Py_ssize_t lda, const real *b, Py_ssize_t ldb, real beta,
                     real *c, Py_ssize_t ldc) noexcept nogil:
    """Row-major C (M x N) = op(A) @ op(B) + beta * C, in the calling thread.

    ``op`` transposes when its flag is set; lda, ldb, ldc are the row strides of A, B, C as
    stored. BLAS is column-major and sees each row-major matrix as its transpose, so it is
    asked for C^T = op(B)^T @ op(A)^T, operands swapped.
    """
    cdef char tra = b'T' if ta else b'N'
    cdef char trb = b'T' if tb else b'N'
    cdef int m = <int>N, n = <int>M, k = <int>K, la = <int>lda, lb = <int>ldb, lc = <int>ldc
    cdef real one = 1
    if real is float:
        # (our AVX-512 kernel above a size, see _sgemm.h; BLAS's when it declines)
        if (beta == 0 or beta == 1) and use_own_sgemm(M, N, K) and mg_sgemm(
                <int>M, <int>N, <int>K, a, 1 if ta else lda, lda if ta else 1,
                b, 1 if tb else ldb, ldb if tb else 1, c, ldc, beta == 1) == 0:
            return
        sgemm(&trb, &tra, &m, &n, &k, &one, <float *>b, &lb, <float *>a, &la, &beta, c, &lc)
    else:
        dgemm(&trb, &tra, &m, &n, &k, &one, <double *>b, &lb, <double *>a, &la, &beta, c, &lc)


# The outputs o in [_lo(...), _hi(...)) are those whose input position
# o * stride - pad + offset lies in [0, n_in).
cdef inline Py_ssize_t _lo(Py_ssize_t n_out, int stride, int pad, Py_ssize_t offset) noexcept nogil:
    cdef Py_ssize_t a = pad - offset
    return min(n_out, <Py_ssize_t>0 if a <= 0 else (a + stride - 1) // stride)


cdef inline Py_ssize_t _hi(Py_ssize_t n_out, Py_ssize_t n_in, int stride, int pad,
                           Py_ssize_t offset) noexcept nogil:
    cdef Py_ssize_t last = n_in - 1 + pad - offset  # o * stride <= last
    cdef Py_ssize_t hi = min(n_out, last // stride + 1) if last >= 0 else 0
    return max(hi, _lo(n_out, stride, pad, offset))


cdef inline void _column_row(const Geom *g, Py_ssize_t r, Py_ssize_t *c, Py_ssize_t *i,
                             Py_ssize_t *j, Py_ssize_t *lo, Py_ssize_t *hi) noexcept nogil:
    """Column row r = (channel c, kernel row i, kernel column j), and the outputs [lo, hi)
    of each output row whose input column lies inside the image (shared by im2col and its
    adjoint, so the two walk exactly the same positions)."""
    c[0] = r // (g.kh * g.kw)
    i[0] = (r // g.kw) % g.kh
    j[0] = r % g.kw
    lo[0] = _lo(g.Wo, g.sw, g.pw, j[0] * g.dw)
    hi[0] = _hi(g.Wo, g.W, g.sw, g.pw, j[0] * g.dw)


cdef inline Py_ssize_t _input_offset(const Geom *g, Py_ssize_t c, Py_ssize_t ih, Py_ssize_t j,
                                     Py_ssize_t lo) noexcept nogil:
    """Offset in one image's group channels of the input that output ``lo`` reads."""
    return (c * g.H + ih) * g.W + lo * g.sw + j * g.dw - g.pw


cdef void _im2col(const Geom *g, const real *x, Py_ssize_t nb, Py_ssize_t oh0,
                  Py_ssize_t oh1, real *col, Py_ssize_t ld) noexcept nogil:
    """Column tile for output rows [oh0, oh1) of nb consecutive images side by side (image
    b's columns start at b * Pt), from their group channels ``x`` (Cg, H, W each, C * H * W
    apart); the tile's rows are ``ld`` apart."""
    cdef Py_ssize_t Pt = (oh1 - oh0) * g.Wo, r, c, i, j, b, oh, ow, ih, lo, hi
    cdef real *row
    cdef const real *src
    for r in range(g.R):
        # once per row for all nb images (4x4 images have 16 entries per row; measured
        # 0-4% faster than a call per image at 512->512 @4x4, one thread)
        _column_row(g, r, &c, &i, &j, &lo, &hi)
        if real is float:
            if g.sw == 1 and mg_sgemm_ready():   # (vector segments: _im2col.h)
                mg_im2col_row_f(x + c * g.H * g.W, g.C * g.H * g.W, g.H, g.W, nb, Pt, oh0, oh1,
                                g.Wo, g.sh, g.ph, i * g.dh, j * g.dw - g.pw, lo, hi,
                                col + r * ld)
                continue
        for b in range(nb):
            for oh in range(oh0, oh1):
                row = col + r * ld + b * Pt + (oh - oh0) * g.Wo
                ih = oh * g.sh - g.ph + i * g.dh
                if ih < 0 or ih >= g.H:
                    for ow in range(g.Wo):
                        row[ow] = 0
                    continue
                src = x + b * g.C * g.H * g.W + _input_offset(g, c, ih, j, lo)
                # Plain loops, not memset/memcpy: rows are a few dozen elements, where a libc
                # call costs more than the copy and the compiler vectorizes these.
                for ow in range(lo):
                    row[ow] = 0
                if g.sw == 1:
                    for ow in range(hi - lo):
                        row[lo + ow] = src[ow]
                else:
                    for ow in range(hi - lo):
                        row[lo + ow] = src[ow * g.sw]
                for ow in range(hi, g.Wo):
                    row[ow] = 0


cdef void _col2im(const Geom *g, const real *col, Py_ssize_t nb, Py_ssize_t oh0,
                  Py_ssize_t oh1, real *dx, Py_ssize_t ld) noexcept nogil:
    """The adjoint of _im2col: dx[...] += every column entry _im2col copied from there."""
    cdef Py_ssize_t Pt = (oh1 - oh0) * g.Wo, r, c, i, j, b, oh, ow, ih, lo, hi
    cdef const real *row
    cdef real *dst
    for r in range(g.R):
        _column_row(g, r, &c, &i, &j, &lo, &hi)
        for b in range(nb):
            for oh in range(oh0, oh1):
                ih = oh * g.sh - g.ph + i * g.dh
                if ih < 0 or ih >= g.H:
                    continue
                row = col + r * ld + b * Pt + (oh - oh0) * g.Wo + lo
                dst = dx + b * g.C * g.H * g.W + _input_offset(g, c, ih, j, lo)
                if g.sw == 1:
                    for ow in range(hi - lo):
                        dst[ow] += row[ow]
                else:
                    for ow in range(hi - lo):
                        dst[ow * g.sw] += row[ow]


cdef void _pad(const Geom *g, const real *x, real *xp) noexcept nogil:
    """xp (Cg, Sp): each channel of x (Cg, H, W) inside a zero border, spare tail zeroed."""
    cdef Py_ssize_t c, h, w
    cdef real *d
    cdef const real *src
    for c in range(g.Cg):
        d = xp + c * g.Sp
        for h in range(g.Sp):
            d[h] = 0
        for h in range(g.H):
            src = x + (c * g.H + h) * g.W
            for w in range(g.W):
                d[(h + g.ph) * g.Wp + g.pw + w] = src[w]


cdef void _widen(const Geom *g, const real *dy, real *dyp) noexcept nogil:
    """dyp (Kg, Ho * Wp): dy (Kg, Ho, Wo) at full padded width, the junk columns zero, so
    they add nothing where dx's GEMMs scatter them."""
    cdef Py_ssize_t r, w
    cdef real *d
    for r in range(g.Kg * g.Ho):
        d = dyp + r * g.Wp
        for w in range(g.Wo):
            d[w] = dy[r * g.Wo + w]
        for w in range(g.Wo, g.Wp):
            d[w] = 0


cdef inline Py_ssize_t _tap_shift(const Geom *g, Py_ssize_t t) noexcept nogil:
    """Offset in xp of the input under output (0, 0) for kernel tap t = i * kw + j."""
    return t // g.kw * g.dh * g.Wp + t % g.kw * g.dw


# The taps in one pass (mg_sgemm_taps) where its bits are the per-tap GEMMs' (a tap's
# product has inner dimension Cg forward, Kg for dx, and N = Ho * Wp columns): float32, and
# either every tap's GEMM would be ours anyway, or its inner dimension is within one of our
# GEMM's k blocks and N is a multiple of 16, where OpenBLAS (the SkylakeX kernels) sums
# each output as ours does. (Measured: 10 M x 10 K x 5 N in 8-256 x 8-256 x 80-1088, both
# A layouts, bit for bit; an N with a remainder of 8, as 440 at 20 x 20, differs for small
# M. test_kernels checks the conv shapes.)
#
# Measured (batch 32, 2 threads, ms per pass, fwd / dx, per-tap GEMMs -> one pass):
#   16->16 @32x32  1.02 / 1.13 -> 0.85 / 0.87     64->64  @32x32 11.1 / 11.8 -> 10.3 / 10.2
#   32->32 @16x16  0.82 / 0.84 -> 0.73 / 0.74     128->128 @16x16 10.0 / 10.3 -> 9.4 / 9.8
#   64->64 @12x12  1.99 / 2.08 -> 1.74 / 1.75     16->32 @14x14 0.79 / 0.78 -> 0.72 / 0.69
#                                                 (batch 64)
# but 64->64 @8x8 0.87 / 0.83 -> 0.94 / 0.96 (128->128 even): with N = 80 the pass's 48-wide
# tiles run a third empty, so products narrower than _TAPS_MIN_N keep a GEMM per tap.
cdef Py_ssize_t _TAPS_MAX_K = 256
cdef Py_ssize_t _TAPS_MAX = 64
cdef Py_ssize_t _TAPS_MIN_N = 96
TAPS_MIN_N = _TAPS_MIN_N   # (the plan in minigrad.backend.cpu reads it)
cdef bint _taps_on = True    # (off: a GEMM per tap everywhere, for tests and measurements)


def taps_in_one_pass(on=None):
    """Whether stride-1 convolutions may sum their taps in one pass (mg_sgemm_taps) where
    the bits allow; ``on`` sets it (tests compare the two paths). Returns the old value."""
    global _taps_on
    old = _taps_on
    if on is not None:
        _taps_on = bool(on)
    return old


def packs_taps(x_shape, w_shape, Py_ssize_t ph, Py_ssize_t pw, int dh, int dw, int groups,
               bint for_dx):
    """Whether conv2d (``for_dx``: its input gradient) of these float32 shapes, stride 1,
    sums its taps in one pass (for tests)."""
    cdef Geom g
    cdef Py_ssize_t xs[4]
    cdef Py_ssize_t ws[4]
    cdef Py_ssize_t ys[4]
    cdef size_t per_group
    for i in range(4):
        xs[i], ws[i] = x_shape[i], w_shape[i]
    ys[0], ys[1] = xs[0], ws[0]
    ys[2] = xs[2] + 2 * ph - dh * (ws[2] - 1)
    ys[3] = xs[3] + 2 * pw - dw * (ws[3] - 1)
    _geometry(&g, xs, ws, ys, 1, 1, <int>ph, <int>pw, dh, dw, groups, ys[2], 1, 2**40, True, 1)
    cdef float *taps = <float *>calloc(ws[0] * ws[1] * ws[2] * ws[3], sizeof(float))
    if taps == NULL:
        raise MemoryError()
    cdef float *packed = _packed_taps(&g, taps, for_dx, &per_group)
    cdef bint taken = packed != NULL
    free(taps)
    free(packed)
    return taken


cdef float *_packed_taps(const Geom *g, const float *taps, bint for_dx,
                         size_t *per_group) noexcept nogil:
    """Every group's taps packed for mg_sgemm_taps (W_t forward, W_t^T for dx; group k's at
    ``k * per_group[0]``), or NULL where the per-tap GEMMs run instead (see above) or memory
    is short. The caller frees it."""
    cdef Py_ssize_t n = g.Ho * g.Wp, T = g.kh * g.kw, k
    cdef Py_ssize_t M = g.Cg if for_dx else g.Kg, inner = g.Kg if for_dx else g.Cg
    if not _taps_on or not g.shift or T > _TAPS_MAX or n < _TAPS_MIN_N \
            or not mg_sgemm_enabled() \
            or not (use_own_sgemm(M, n, inner) or (inner <= _TAPS_MAX_K and n % 16 == 0)):
        return NULL
    cdef size_t one = mg_taps_packed_len(<int>M, <int>inner, <int>T)
    per_group[0] = one
    cdef float *packed = <float *>malloc(one * g.groups * sizeof(float))
    if packed == NULL:
        return NULL
    for k in range(g.groups):   # (taps: (T, K, Cg); group k's rows start at k * Kg)
        if for_dx:
            mg_taps_pack(<int>M, <int>inner, <int>T, taps + k * g.Kg * g.Cg, 1, g.Cg, g.K * g.Cg,
                         packed + k * one)
        else:
            mg_taps_pack(<int>M, <int>inner, <int>T, taps + k * g.Kg * g.Cg, g.Cg, 1, g.K * g.Cg,
                         packed + k * one)
    return packed


cdef void _forward_shift(const Geom *g, const real *x, const real *taps, real *y,
                         real *buf, const float *packed) noexcept nogil:
    """y (Kg, Ho, Wo) of one image and group; ``taps`` is W as (kh * kw, K, Cg) at the group,
    ``packed`` the group's taps packed for mg_sgemm_taps (NULL: a GEMM per tap)."""
    cdef Py_ssize_t n = g.Ho * g.Wp, t, r, w
    cdef real *xp = buf
    cdef real *yp = buf + g.Cg * g.Sp
    cdef long off[64]
    cdef bint done = False
    _pad(g, x, xp)
    if real is float:
        if packed != NULL:
            for t in range(g.kh * g.kw):
                off[t] = _tap_shift(g, t)
            done = mg_sgemm_taps(<int>g.Kg, <int>n, <int>g.Cg, <int>(g.kh * g.kw), packed, xp,
                                 g.Sp, off, yp, n, 0) == 0
    if not done:
        for t in range(g.kh * g.kw):
            _mm(False, False, g.Kg, n, g.Cg, taps + t * g.K * g.Cg, g.Cg, xp + _tap_shift(g, t),
                g.Sp, 0 if t == 0 else 1, yp, n)
    for r in range(g.Kg * g.Ho):
        for w in range(g.Wo):
            y[r * g.Wo + w] = yp[r * g.Wp + w]


cdef void _input_grad_shift(const Geom *g, const real *dy, const real *taps, real *dx,
                            real *buf, const float *packed) noexcept nogil:
    """dx (Cg, H, W) of one image and group: each tap scatters W_tap^T @ dy into the padded
    dx at its shift.

    In one pass (mg_sgemm_taps) the taps gather instead: dx's padded column q takes tap t's
    product at dy column q - shift(t), read from a copy of dy with zero margins (``front``
    columns before, zeros after its Ho * Wp), so every tap covers the rows copied out.
    Where the scatter added nothing the gather adds +0, which changes no value: a sum
    that starts from +0 never becomes -0."""
    cdef Py_ssize_t n = g.Ho * g.Wp, t, c, h, w, r
    cdef Py_ssize_t front = _tap_shift(g, g.kh * g.kw - 1)
    cdef real *dxp = buf
    cdef real *dyp = buf + g.Cg * g.Sp
    cdef long off[64]
    if real is float:
        if packed != NULL:
            for r in range(g.Kg):
                for t in range(g.Lp):
                    dyp[r * g.Lp + t] = 0
                for h in range(g.Ho):
                    for w in range(g.Wo):
                        dyp[r * g.Lp + front + h * g.Wp + w] = dy[(r * g.Ho + h) * g.Wo + w]
            for t in range(g.kh * g.kw):
                off[t] = front + g.ph * g.Wp - _tap_shift(g, t)
            if mg_sgemm_taps(<int>g.Cg, <int>(g.H * g.Wp), <int>g.Kg, <int>(g.kh * g.kw),
                             packed, dyp, g.Lp, off, dxp + g.ph * g.Wp, g.Sp, 0) == 0:
                _unpad(g, dxp, dx)
                return
    _widen(g, dy, dyp)
    for t in range(g.Cg * g.Sp):
        dxp[t] = 0
    for t in range(g.kh * g.kw):
        _mm(True, False, g.Cg, n, g.Kg, taps + t * g.K * g.Cg, g.Cg, dyp, n, 1,
            dxp + _tap_shift(g, t), g.Sp)
    _unpad(g, dxp, dx)


cdef void _unpad(const Geom *g, const real *dxp, real *dx) noexcept nogil:
    """dx (Cg, H, W): the image inside the padded planes dxp (Cg, Sp)."""
    cdef Py_ssize_t c, h, w
    for c in range(g.Cg):
        for h in range(g.H):
            for w in range(g.W):
                dx[(c * g.H + h) * g.W + w] = dxp[c * g.Sp + (h + g.ph) * g.Wp + g.pw + w]


cdef void _forward_tile(const Geom *g, const real *x, const real *w, real *y, Py_ssize_t oh0,
                        real *col) noexcept nogil:
    """y (Kg, P) of one image and group, output rows [oh0, oh0 + tile), from x (Cg, H, W)."""
    cdef Py_ssize_t oh1 = min(oh0 + g.tile, g.Ho), Pt = (oh1 - oh0) * g.Wo
    if g.pointwise:  # x is already the column matrix, rows of stride P
        _mm(False, False, g.Kg, Pt, g.R, w, g.R, x + oh0 * g.Wo, g.P, 0, y + oh0 * g.Wo, g.P)
    else:
        _im2col(g, x, 1, oh0, oh1, col, Pt)
        _mm(False, False, g.Kg, Pt, g.R, w, g.R, col, Pt, 0, y + oh0 * g.Wo, g.P)


cdef void _input_grad(const Geom *g, const real *dy, const real *w, real *dx,
                      real *col) noexcept nogil:
    """dx (Cg, H, W) of one image and group from its dy (Kg, P), tile by tile."""
    cdef Py_ssize_t t, oh0, oh1, Pt
    if g.pointwise:
        _mm(True, False, g.Cg, g.P, g.Kg, w, g.R, dy, g.P, 0, dx, g.P)
        return
    memset(dx, 0, g.Cg * g.H * g.W * sizeof(real))
    for t in range((g.Ho + g.tile - 1) // g.tile):
        oh0 = t * g.tile
        oh1 = min(oh0 + g.tile, g.Ho)
        Pt = (oh1 - oh0) * g.Wo
        _mm(True, False, g.R, Pt, g.Kg, w, g.R, dy + oh0 * g.Wo, g.P, 0, col, Pt)
        _col2im(g, col, 1, oh0, oh1, dx, Pt)


cdef inline void _dw_mm(const Geom *g, Py_ssize_t n, const real *col, Py_ssize_t ldc,
                        const real *dy, Py_ssize_t ldd, real *dw) noexcept nogil:
    """dw += dy @ col^T over n pixels, or dw^T += col @ dy^T (see _DWT_MAX_KG)."""
    if g.Kg <= _DWT_MAX_KG:
        _mm(False, True, g.R, g.Kg, n, col, ldc, dy, ldd, 1, dw, g.Kg)
    else:
        _mm(False, True, g.Kg, g.R, n, dy, ldd, col, ldc, 1, dw, g.R)


cdef void _weight_grad_tile(const Geom *g, const real *x, const real *dy, real *dw,
                            Py_ssize_t oh0, real *col) noexcept nogil:
    """dw (Kg, R) or dw^T += one image and group's contribution from output rows
    [oh0, oh0 + tile)."""
    cdef Py_ssize_t oh1 = min(oh0 + g.tile, g.Ho), Pt = (oh1 - oh0) * g.Wo
    if g.pointwise:
        _dw_mm(g, Pt, x + oh0 * g.Wo, g.P, dy + oh0 * g.Wo, g.P, dw)
    else:
        _im2col(g, x, 1, oh0, oh1, col, Pt)
        _dw_mm(g, Pt, col, Pt, dy + oh0 * g.Wo, g.P, dw)


cdef void _weight_grad_shift(const Geom *g, const real *x, const real *dy, real *dw,
                             real *buf) noexcept nogil:
    """dw (Kg, R) or dw^T += one image and group's contribution, 3 x 3 taps in float32,
    read from the padded image and dy at padded width (no im2col; see _conv_dw.h)."""
    cdef long shift[9]
    cdef Py_ssize_t t
    cdef real *xp = buf
    cdef real *dyp = buf + g.Cg * g.Sp
    if real is float:
        _pad(g, x, xp)
        _widen(g, dy, dyp)
        for t in range(9):
            shift[t] = _tap_shift(g, t)
        if g.Kg <= _DWT_MAX_KG:   # (the partial sums hold dw^T, (R, Kg))
            mg_dw3x3_f(dyp, xp, g.Ho * g.Wp, g.Sp, g.Kg, g.Cg, shift, dw, 1, g.Kg)
        else:
            mg_dw3x3_f(dyp, xp, g.Ho * g.Wp, g.Sp, g.Kg, g.Cg, shift, dw, g.R, 1)


cdef void _gather(const Geom *g, const real *y, Py_ssize_t nb, real *buf) noexcept nogil:
    """buf (Kg, nb * P): the group's (Kg, P) planes of nb consecutive images side by side."""
    cdef Py_ssize_t L = nb * g.P, b, r, p
    cdef const real *src
    cdef real *dst
    for b in range(nb):
        for r in range(g.Kg):
            src = y + b * g.K * g.P + r * g.P
            dst = buf + r * L + b * g.P
            for p in range(g.P):
                dst[p] = src[p]


cdef void _forward_block(const Geom *g, const real *x, const real *w, real *y, Py_ssize_t nb,
                         real *buf) noexcept nogil:
    """y of nb consecutive images and one group: one GEMM over their columns side by side,
    then each image's (Kg, P) block copied out. x, y point at the first image's group."""
    cdef Py_ssize_t L = nb * g.P, b, r, p
    cdef real *col = buf
    cdef real *out = buf + g.R * L
    cdef real *dst
    _im2col(g, x, nb, 0, g.Ho, col, L)
    _mm(False, False, g.Kg, L, g.R, w, g.R, col, L, 0, out, L)
    for b in range(nb):
        for r in range(g.Kg):
            dst = y + b * g.K * g.P + r * g.P
            for p in range(g.P):
                dst[p] = out[r * L + b * g.P + p]


cdef void _input_grad_block(const Geom *g, const real *dy, const real *w, real *dx,
                            Py_ssize_t nb, real *buf, bint own) noexcept nogil:
    """dx of nb consecutive images and one group: dcol = W_g^T @ (their dy side by side),
    then col2im image by image; ``own``: that product on our GEMM at every size."""
    cdef Py_ssize_t L = nb * g.P, b
    cdef real *dcol = buf
    cdef real *dyb = buf + g.R * L
    _gather(g, dy, nb, dyb)
    # (``own``: see _weight_grad_block)
    if real is double or not own or mg_sgemm(<int>g.R, <int>L, <int>g.Kg, <float *>w, 1, g.R,
                                  <float *>dyb, L, 1, <float *>dcol, L, 0) != 0:
        _mm(True, False, g.R, L, g.Kg, w, g.R, dyb, L, 0, dcol, L)
    for b in range(nb):
        memset(dx + b * g.C * g.H * g.W, 0, g.Cg * g.H * g.W * sizeof(real))
    _col2im(g, dcol, nb, 0, g.Ho, dx, L)


cdef void _weight_grad_block(const Geom *g, const real *x, const real *dy, real *dw,
                             Py_ssize_t nb, real *buf, bint own) noexcept nogil:
    """dw (Kg, R) or dw^T += nb consecutive images' contribution to one group, in one GEMM
    (``own``: in float32 on our GEMM at every size)."""
    cdef Py_ssize_t L = nb * g.P
    cdef real *col = buf
    cdef real *dyb = buf + g.R * L
    _gather(g, dy, nb, dyb)
    _im2col(g, x, nb, 0, g.Ho, col, L)
    # ``own`` (the caller's choice, minigrad.backend.cpu's _BLOCK_OWN_GEMM): in float32 our
    # GEMM at every size, where _mm leaves products with over 2^18 results to BLAS. On the
    # AMD EPYC VMs OpenBLAS runs its AVX2 (Haswell) kernels, and ours took 0.55-0.8 of its
    # time on these products (batch 32, 2 threads, ms per pass, BLAS -> ours: dx 128->256
    # @8x8 8.5 -> 4.9, 256->256 @8x8 16.6 -> 9.6, 512->512 @4x4 16.2 -> 12.2; dw 8.0 ->
    # 3.7, 15.5 -> 10.2, 16.4 -> 13.0). On the Xeons, whose OpenBLAS runs SkylakeX kernels,
    # _sgemm.pxd's measurement put BLAS 1.03-1.2x ahead on such large results.
    if real is float and own:
        if g.Kg > _DWT_MAX_KG:
            if mg_sgemm(<int>g.Kg, <int>g.R, <int>L, <float *>dyb, L, 1, <float *>col, 1, L,
                        <float *>dw, g.R, 1) == 0:
                return
        elif mg_sgemm(<int>g.R, <int>g.Kg, <int>L, <float *>col, L, 1, <float *>dyb, 1, L,
                      <float *>dw, g.Kg, 1) == 0:
            return
    _dw_mm(g, L, col, L, dyb, L, dw)


cdef void _sum_transposed(const Geom *g, const real *partial, Py_ssize_t blocks,
                          Py_ssize_t stride, Py_ssize_t k, Py_ssize_t r0, real *dw) noexcept nogil:
    """dw rows of group k, columns [r0, r0 + 32): the sum in block order of the partial
    sums (``blocks`` rows ``stride`` apart, each holding every group's (R, Kg) dw^T), a
    32 x 32 tile at a time so that reads and writes both run along rows."""
    cdef real acc[32 * 32]
    cdef Py_ssize_t r1 = min(r0 + 32, g.R), q0, q1, q, r, b
    cdef const real *src
    for q0 in range(0, g.Kg, 32):
        q1 = min(q0 + 32, g.Kg)
        for b in range(blocks):
            for r in range(r0, r1):
                src = partial + b * stride + (k * g.R + r) * g.Kg
                if b == 0:
                    for q in range(q0, q1):
                        acc[(r - r0) * 32 + q - q0] = src[q]
                else:
                    for q in range(q0, q1):
                        acc[(r - r0) * 32 + q - q0] += src[q]
        for q in range(q0, q1):
            for r in range(r0, r1):
                dw[(k * g.Kg + q) * g.R + r] = acc[(r - r0) * 32 + q - q0]


cdef void _sum_rows(const real *partial, Py_ssize_t blocks, Py_ssize_t stride, Py_ssize_t e0,
                    Py_ssize_t e1, real *dw) noexcept nogil:
    """dw[e0:e1] = the sum in block order of the partial sums (``blocks`` rows ``stride``
    apart) over those entries."""
    cdef Py_ssize_t e, b
    cdef real s
    for e in range(e0, e1):
        s = partial[e]
        for b in range(1, blocks):
            s = s + partial[b * stride + e]
        dw[e] = s


cdef int _check_taps(const Geom *g, Py_ssize_t *ts) except -1:
    if g.shift and (ts[0], ts[1], ts[2], ts[3]) != (g.kh, g.kw, g.K, g.Cg):
        raise ValueError(f"conv: taps have shape {(ts[0], ts[1], ts[2], ts[3])}, expected "
                         f"{(g.kh, g.kw, g.K, g.Cg)} (w transposed to kh, kw, K, Cg)")
    return 0


cdef int _prepare(Geom *g, Py_ssize_t *xs, Py_ssize_t *ws, Py_ssize_t *ys,
                  const real[:, :, :, ::1] taps, int sh, int sw, int ph, int pw, int dh, int dw,
                  int groups, Py_ssize_t tile, bint shift, Py_ssize_t threads,
                  Py_ssize_t work_len, Py_ssize_t block, bint for_dx, float **packed,
                  size_t *per_group) except -1:
    """The forward's and dx's common start: ``g`` from the shapes (checked), the taps'
    shape checked, and in float32 every group's taps packed for the taps pass (``packed``,
    NULL where it does not run; the caller frees it)."""
    _geometry(g, xs, ws, ys, sh, sw, ph, pw, dh, dw, groups, tile, threads, work_len, shift,
              block)
    _check_taps(g, &taps.shape[0])
    packed[0] = NULL
    if real is float:
        packed[0] = _packed_taps(g, &taps[0, 0, 0, 0], for_dx, per_group)
    return 0


def conv2d_forward(const real[:, :, :, ::1] x, const real[:, :, :, ::1] w,
                   const real[:, :, :, ::1] taps, real[:, :, :, ::1] y, int sh, int sw, int ph,
                   int pw, int dh, int dw, int groups, Py_ssize_t tile, bint shift,
                   real[:, ::1] work, Py_ssize_t block=1):
    """y = conv(x, w), by shifted GEMMs when ``shift``, else im2col tiles of ``tile`` output
    rows, or with ``block`` > 1 im2col of that many whole images per GEMM. ``work`` has one
    row of scratch per thread (the thread count); ``taps`` is w as (kh, kw, K, Cg), read
    only when ``shift``."""
    cdef Geom g
    cdef float *packed
    cdef size_t per_group = 0
    _prepare(&g, &x.shape[0], &w.shape[0], &y.shape[0], taps, sh, sw, ph, pw, dh, dw, groups,
             tile, shift, work.shape[0], work.shape[1], block, False, &packed, &per_group)
    cdef Py_ssize_t tiles = (g.Ho + tile - 1) // tile, item, n, k
    cdef int threads = <int>work.shape[0]
    try:
        with nogil:
            # dynamic: items are independent, so a thread that another process preempts
            # (the machine is shared) holds up only the items it has already taken
            for item in prange((g.N + block - 1) // block * tiles, schedule="dynamic",
                               num_threads=team(threads)):
                n = item // tiles * block
                for k in range(groups):
                    if block > 1:
                        _forward_block(&g, &x[n, k * g.Cg, 0, 0], &w[k * g.Kg, 0, 0, 0],
                                       &y[n, k * g.Kg, 0, 0], min(block, g.N - n),
                                       &work[threadid(), 0])
                    elif g.shift:
                        _forward_shift(&g, &x[n, k * g.Cg, 0, 0], &taps[0, 0, k * g.Kg, 0],
                                       &y[n, k * g.Kg, 0, 0], &work[threadid(), 0],
                                       NULL if packed == NULL else packed + k * per_group)
                    else:
                        _forward_tile(&g, &x[n, k * g.Cg, 0, 0], &w[k * g.Kg, 0, 0, 0],
                                      &y[n, k * g.Kg, 0, 0], item % tiles * tile,
                                      &work[threadid(), 0])
    finally:
        free(packed)


def conv2d_backward_input(const real[:, :, :, ::1] dy, const real[:, :, :, ::1] w,
                          const real[:, :, :, ::1] taps, real[:, :, :, ::1] dx, int sh, int sw,
                          int ph, int pw, int dh, int dw, int groups, Py_ssize_t tile,
                          bint shift, real[:, ::1] work, Py_ssize_t block=1,
                          bint own_gemm=False):
    """dx = the adjoint of conv in x, applied to dy. A work item is one (block of ``block``
    images, group): its thread owns those dx planes whole, so overlapping windows need no
    atomics. ``own_gemm``: the blocks' products on our float32 GEMM at every size."""
    cdef Geom g
    cdef float *packed
    cdef size_t per_group = 0
    _prepare(&g, &dx.shape[0], &w.shape[0], &dy.shape[0], taps, sh, sw, ph, pw, dh, dw, groups,
             tile, shift, work.shape[0], work.shape[1], block, True, &packed, &per_group)
    cdef Py_ssize_t item, n, k
    cdef int threads = <int>work.shape[0]
    try:
        with nogil:
            for item in prange((g.N + block - 1) // block * groups, schedule="dynamic",
                               num_threads=team(threads)):
                n = item // groups * block
                k = item % groups
                if block > 1:
                    _input_grad_block(&g, &dy[n, k * g.Kg, 0, 0], &w[k * g.Kg, 0, 0, 0],
                                      &dx[n, k * g.Cg, 0, 0], min(block, g.N - n),
                                      &work[threadid(), 0], own_gemm)
                elif g.shift:
                    _input_grad_shift(&g, &dy[n, k * g.Kg, 0, 0], &taps[0, 0, k * g.Kg, 0],
                                      &dx[n, k * g.Cg, 0, 0], &work[threadid(), 0],
                                      NULL if packed == NULL else packed + k * per_group)
                else:
                    _input_grad(&g, &dy[n, k * g.Kg, 0, 0], &w[k * g.Kg, 0, 0, 0],
                                &dx[n, k * g.Cg, 0, 0], &work[threadid(), 0])
    finally:
        free(packed)


def conv2d_backward_weight(const real[:, :, :, ::1] x, const real[:, :, :, ::1] dy,
                           real[:, :, :, ::1] grad_w, int sh, int sw, int ph, int pw, int dh,
                           int dw, int groups, Py_ssize_t tile, real[:, ::1] work,
                           real[:, ::1] partial, Py_ssize_t block=1, bint shift=False,
                           bint own_gemm=False):
    """grad_w = the adjoint of conv in w, applied to dy, through im2col tiles, or with
    ``shift`` (3 x 3, stride 1, float32, AVX-512) read from the padded image by
    ``_conv_dw.h``'s kernel. Not as shifted GEMMs: each tap's product would have a small
    (Kg, Cg) result and a long inner dimension, which BLAS runs slower than the one im2col
    GEMM per tile (measured).

    The work items are cut into ``partial.shape[0]`` blocks of consecutive items; a block
    sums its items in order into its own row of ``partial`` (each group's dw, or dw^T for
    narrow groups, see _DWT_MAX_KG), blocks go to whichever thread is free, and the rows
    are added in block order at the end. So the result depends on the block count the
    caller picks, never on which thread ran what.
    """
    cdef Geom g
    if shift and (real is double or not mg_sgemm_ready() or grad_w.shape[2] != 3
                  or grad_w.shape[3] != 3):
        raise ValueError("conv: the weight gradient reads the padded image only for 3 x 3 "
                         "float32 kernels on a CPU with AVX-512")
    _geometry(&g, &x.shape[0], &grad_w.shape[0], &dy.shape[0], sh, sw, ph, pw, dh, dw, groups,
              tile, work.shape[0], work.shape[1], shift, block)
    cdef Py_ssize_t tiles = (g.Ho + tile - 1) // tile
    cdef Py_ssize_t items = (g.N + block - 1) // block * tiles
    cdef Py_ssize_t blocks = partial.shape[0], b, item, n, k, t
    cdef Py_ssize_t strips = (g.R + 31) // 32, chunks = (g.K * g.R + 4095) // 4096
    if not 1 <= blocks <= items or partial.shape[1] != g.K * g.R:
        raise ValueError(f"conv: partial sums have shape {tuple(partial.shape)[:2]}, expected "
                         f"(1 to {items}, {g.K * g.R})")
    cdef int threads = <int>work.shape[0]
    cdef real *out = &grad_w[0, 0, 0, 0]
    with nogil:
        for b in prange(blocks, schedule="dynamic", num_threads=team(threads)):
            memset(&partial[b, 0], 0, g.K * g.R * sizeof(real))
            for item in range(b * items // blocks, (b + 1) * items // blocks):
                n = item // tiles * block
                for k in range(groups):
                    if g.shift:
                        _weight_grad_shift(&g, &x[n, k * g.Cg, 0, 0], &dy[n, k * g.Kg, 0, 0],
                                           &partial[b, k * g.Kg * g.R], &work[threadid(), 0])
                    elif block > 1:
                        _weight_grad_block(&g, &x[n, k * g.Cg, 0, 0], &dy[n, k * g.Kg, 0, 0],
                                           &partial[b, k * g.Kg * g.R], min(block, g.N - n),
                                           &work[threadid(), 0], own_gemm)
                    else:
                        _weight_grad_tile(&g, &x[n, k * g.Cg, 0, 0], &dy[n, k * g.Kg, 0, 0],
                                          &partial[b, k * g.Kg * g.R], item % tiles * tile,
                                          &work[threadid(), 0])
        if g.Kg <= _DWT_MAX_KG:
            for t in prange(groups * strips, schedule="static", num_threads=team(threads)):
                _sum_transposed(&g, &partial[0, 0], blocks, partial.shape[1], t // strips,
                                t % strips * 32, out)
        else:  # in parallel too: 512->512 has 2.4 million entries to add
            for t in prange(chunks, schedule="static", num_threads=team(threads)):
                _sum_rows(&partial[0, 0], blocks, partial.shape[1], t * 4096,
                          min(t * 4096 + 4096, g.K * g.R), out)


# ---------------------------------------------------------------- Winograd F(4 x 4, 3 x 3)
# _winograd.h: 3 x 3 stride-1 float32 convolutions with channel counts that are multiples
# of 16, on AVX-512. The caller (cpu.py's _winograd_fits) chooses them by shape.

def winograd_filter(const float[:, :, :, ::1] w, float[:, :, ::1] U, bint for_dx,
                    int threads=1):
    """U[xi, ci, co] = (G w G^T)[xi] for each pair of channels of the (K, C, 3, 3) weight:
    ci over C and co over K, or (``for_dx``) the filters turned by 180 degrees with ci over
    K and co over C."""
    cdef long K = w.shape[0], C = w.shape[1], cin = K if for_dx else C, ci
    if w.shape[2] != 3 or w.shape[3] != 3:
        raise ValueError(f"winograd: expected a 3 x 3 weight, got {tuple(w.shape)[:4]}")
    expected = (36, K, C) if for_dx else (36, C, K)
    if tuple(U.shape)[:3] != expected:
        raise ValueError(f"winograd: the transformed filters have shape {tuple(U.shape)[:3]}, "
                         f"expected {expected}")
    if not mg_sgemm_ready():
        raise ValueError("winograd: needs a CPU with AVX-512")
    if K and C:
        with nogil:
            for ci in prange(cin, schedule="static", num_threads=team(threads)):
                mg_wino_filter(&w[0, 0, 0, 0], K, C, for_dx, ci, ci + 1, &U[0, 0, 0])


def winograd_scratch(long group, long band, long Cin, long Cout, long Ho, long Wo):
    """(floats of shared scratch for groups of ``group`` images, floats per thread for
    bands of ``band`` tile rows), for the forward (dx) and for dw (Cout: dy's channels)."""
    cdef long T = group * mg_wino_tiles(Ho) * mg_wino_tiles(Wo)
    return (36 * (mg_wino_plane(T, Cin) + mg_wino_plane(T, Cout)),
            mg_wino_band_len(band, Cin, Cout, Wo))


cdef int _wino_groups(const float *x, long N, long C, long H, long W, long ph, long pw,
                      float *y, const float *dy, long K, long Ho, long Wo, float *table,
                      long group, long band, float *shared, float[:, ::1] work) except -1 nogil:
    """The forward (``y``: U in ``table``) or dw (``dy``: the sums S in ``table``) over
    groups of ``group`` images in turn, each in parallel phases: the input transforms (and
    dy's) by bands of ``band`` tile rows of an image, the 36 products (dw's added group by
    group), and for the forward the output transforms in runs of tile rows."""
    cdef long th = mg_wino_tiles(Ho), tw = mg_wino_tiles(Wo), bands = (th + band - 1) // band
    cdef long g0 = 0, ng, T, i, n, t0, xi, r, runs
    cdef int threads = <int>work.shape[0], failed = 0
    cdef float *V = shared
    cdef float *M
    while g0 < N:
        ng = min(group, N - g0)
        T = ng * th * tw
        M = V + 36 * mg_wino_plane(T, C)   # (dy's tiles P, for dw)
        for i in prange(ng * bands, schedule="dynamic", num_threads=team(threads)):
            n = g0 + i // bands
            t0 = i % bands * band
            mg_wino_input(x + n * C * H * W, C, H, W, ph, pw, th, tw, i // bands, t0,
                          min(th, t0 + band), T, &work[threadid(), 0], V)
            if dy != NULL:
                mg_wino_dy(dy + n * K * Ho * Wo, K, Ho, Wo, th, tw, i // bands, t0,
                           min(th, t0 + band), T, &work[threadid(), 0], M)
        for xi in prange(36, schedule="dynamic", num_threads=team(threads)):
            if (mg_wino_product(<int>xi, T, C, K, V, table, M) if dy == NULL else
                    mg_wino_dw_product(<int>xi, T, K, C, M, V, table, g0 > 0)) < 0:
                failed = 1
        if dy == NULL:
            runs = min(ng * th, 8 * threads)
            for r in prange(runs, schedule="dynamic", num_threads=team(threads)):
                mg_wino_output(M, T, K, y + g0 * K * Ho * Wo, Ho, Wo, th, tw,
                               r * ng * th // runs, (r + 1) * ng * th // runs,
                               &work[threadid(), 0])
        g0 += group
    if failed:
        with gil:
            raise MemoryError("winograd: our GEMM could not get its scratch memory")
    return 0


cdef int _winograd_checks(tuple xs, tuple ys, long ph, long pw, str ys_name, tuple table,
                          tuple want, str table_name) except -1:
    """x (N, C, H, W) and the output-shaped ys (N, K, Ho, Wo) must be a 3 x 3 stride-1
    convolution's with padding (ph, pw), C and K multiples of 16, and the transformed
    ``table`` of shape ``want``."""
    N, C, H, W = xs
    if ph < 0 or pw < 0 or ys[2] != H + 2 * ph - 2 or ys[3] != W + 2 * pw - 2 or ys[2] < 1 \
            or ys[3] < 1 or ys[0] != N:
        raise ValueError(f"winograd: {ys_name} {ys} does not fit input {xs} with padding "
                         f"({ph}, {pw})")
    if C % 16 or ys[1] % 16 or table != want:
        raise ValueError(f"winograd: channels ({C} -> {ys[1]}) must be multiples of 16 and the "
                         f"{table_name} {want}, got {table}")
    return 0


cdef int _winograd_scratch_fits(long group, long band, long Cin, long Cout, long Ho, long Wo,
                                float[::1] shared, float[:, ::1] work) except -1:
    need = winograd_scratch(group, band, Cin, Cout, Ho, Wo)
    if group < 1 or band < 1 or work.shape[0] < 1 or shared.shape[0] < need[0] \
            or work.shape[1] < need[1]:
        raise ValueError(f"winograd: scratch ({shared.shape[0]}, {tuple(work.shape)[:2]}) too "
                         f"small for groups of {group} images and bands of {band} tile rows "
                         f"(need {need})")
    if not mg_sgemm_ready():
        raise ValueError("winograd: needs a CPU with AVX-512")
    return 0


def conv2d_winograd(const float[:, :, :, ::1] x, const float[:, :, ::1] U,
                    float[:, :, :, ::1] y, long ph, long pw, Py_ssize_t group, long band,
                    float[::1] shared, float[:, ::1] work):
    """y = the 3 x 3 stride-1 convolution of x (padded by ph, pw) whose transformed filters
    are U (winograd_filter). Groups of ``group`` images in turn, each in three parallel
    phases: input transforms by bands of ``band`` tile rows of an image, the 36 products,
    output transforms in runs of tile rows. ``shared`` holds a group's V and M, ``work`` a
    row per thread (sizes: winograd_scratch)."""
    cdef long N = x.shape[0], Cin = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef long Cout = y.shape[1], Ho = y.shape[2], Wo = y.shape[3]
    _winograd_checks(tuple(x.shape)[:4], tuple(y.shape)[:4], ph, pw, "output",
                     tuple(U.shape)[:3], (36, Cin, Cout), "filters")
    _winograd_scratch_fits(group, band, Cin, Cout, Ho, Wo, shared, work)
    with nogil:
        _wino_groups(&x[0, 0, 0, 0], N, Cin, H, W, ph, pw, &y[0, 0, 0, 0], NULL, Cout, Ho, Wo,
                     <float *>&U[0, 0, 0], group, band, &shared[0], work)


def conv2d_winograd_dw(const float[:, :, :, ::1] x, const float[:, :, :, ::1] dy,
                       float[:, :, :, ::1] grad_w, long ph, long pw, Py_ssize_t group,
                       long band, float[::1] shared, float[:, ::1] work, float[:, :, ::1] S):
    """grad_w of the 3 x 3 stride-1 convolution of x (padded by ph, pw) for the output
    gradient dy, by Winograd F(4 x 4, 3 x 3) run backwards: dw = G^T [sum over tiles of
    (A dY A^T) (.) (B^T d B)] G. Groups of ``group`` images in turn: both transforms image
    by image, then the 36 sums S[xi] (K x C) += P[xi]^T V[xi], in group order (so the bits
    depend on the group size, never on the threads); G^T S G at the end. Transforms by
    bands of ``band`` tile rows; ``S`` is (36, K, C) scratch."""
    cdef long N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef long K = dy.shape[1], Ho = dy.shape[2], Wo = dy.shape[3]
    cdef long k
    if tuple(grad_w.shape)[:4] != (K, C, 3, 3):
        raise ValueError(f"winograd: dw {tuple(grad_w.shape)[:4]} does not fit dy "
                         f"{tuple(dy.shape)[:4]} and input {tuple(x.shape)[:4]}")
    _winograd_checks(tuple(x.shape)[:4], tuple(dy.shape)[:4], ph, pw, "dy", tuple(S.shape)[:3],
                     (36, K, C), "sums")
    _winograd_scratch_fits(group, band, C, K, Ho, Wo, shared, work)
    with nogil:
        _wino_groups(&x[0, 0, 0, 0], N, C, H, W, ph, pw, NULL, &dy[0, 0, 0, 0], K, Ho, Wo,
                     &S[0, 0, 0], group, band, &shared[0], work)
        for k in prange(K, schedule="static", num_threads=team(<int>work.shape[0])):
            mg_wino_dw_out(&S[0, 0, 0], K, C, k, k + 1, &grad_w[0, 0, 0, 0])
