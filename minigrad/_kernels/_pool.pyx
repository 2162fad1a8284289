# cython: language_level=3
"""2-D pooling over contiguous (planes, H, W) arrays, one plane per thread at a time.

Max pooling records, for each output, the flat index (ih * W + iw) of the input element it
took, or -1 for a window that lies wholly in padding (its output is -inf, as in PyTorch,
and it passes no gradient back); backward scatters into those indices (adding, since
windows can overlap). Average
pooling (fixed and adaptive) is described by per-output window bounds and divisors that
the caller computes, so PyTorch's padding, ceil_mode and count_include_pad rules live in
Python and one pair of loops serves both.
"""
from cython.parallel cimport prange
from libc.math cimport INFINITY
from minigrad._kernels._simd cimport (mg_max_pool_row_2x2_f, mg_max_pool_row_d,
                                     mg_max_pool_row_f)
from minigrad._kernels._threads cimport team, threads_for

ctypedef fused real:
    float
    double

ctypedef signed char int8
ctypedef unsigned char uint8
ctypedef short int16
ctypedef int int32
ctypedef long long int64

# Max pooling also takes integer planes (PyTorch pools every integer dtype but bool); only
# the float types have a gradient, so the backward and the average kernels stay ``real``.
ctypedef fused pooled:
    float
    double
    int8
    uint8
    int16
    int32
    int64


def max_pool(const pooled[:, :, ::1] x, int kh, int kw, int sh, int sw, int ph, int pw,
             int dh, int dw, pooled[:, :, ::1] out, long long[:, :, ::1] index):
    cdef Py_ssize_t B = x.shape[0], H = x.shape[1], W = x.shape[2]
    cdef Py_ssize_t Ho = out.shape[1], Wo = out.shape[2], p, oh, ow, i, j, ih, iw, best_at
    cdef Py_ssize_t start, done
    cdef bint inside
    cdef pooled best, v, lowest
    cdef const pooled *plane
    # a window of padding only gives -inf, or an integer type's lowest value (PyTorch's)
    if pooled is float or pooled is double:
        lowest = -INFINITY
    elif pooled is int8:
        lowest = -128
    elif pooled is uint8:
        lowest = 0
    elif pooled is int16:
        lowest = -32768
    elif pooled is int32:
        lowest = -2147483647
        lowest -= 1
    else:
        lowest = -9223372036854775807
        lowest -= 1
    if out.shape[0] != B or index.shape[0] != B or index.shape[1] != Ho or index.shape[2] != Wo:
        raise ValueError(f"max_pool: out {tuple(out.shape)[:3]} and index "
                         f"{tuple(index.shape)[:3]} must both be ({B}, Ho, Wo)")
    if kh < 1 or kw < 1 or sh < 1 or sw < 1 or dh < 1 or dw < 1:
        raise ValueError("max_pool: kernel size, stride and dilation must be positive")
    # Windows that never leave the image (no padding or dilation, no ceil_mode overhang,
    # e.g. MaxPool2d(2)) skip the bounds tests and run branch-free along each output row
    # (_simd.h); the comparison rule is the same.
    inside = (ph == 0 and pw == 0 and dh == 1 and dw == 1
              and (Ho - 1) * sh + kh <= H and (Wo - 1) * sw + kw <= W)
    if inside and (pooled is float or pooled is double):
        with nogil:
            for p in prange(B, schedule="static", num_threads=team(threads_for(B * H * W))):
                plane = &x[p, 0, 0]
                for oh in range(Ho):
                    if pooled is float:
                        done = 0
                        if kh == 2 and kw == 2 and sw == 2:   # (MaxPool2d(2): vectorized)
                            done = mg_max_pool_row_2x2_f(plane, W, oh * sh * W, Wo,
                                                         &out[p, oh, 0], &index[p, oh, 0])
                        if done < Wo:
                            mg_max_pool_row_f(plane, W, oh * sh * W + done * sw, kh, kw, sw,
                                              Wo - done, &out[p, oh, done], &index[p, oh, done])
                    elif pooled is double:
                        mg_max_pool_row_d(plane, W, oh * sh * W, kh, kw, sw, Wo,
                                          &out[p, oh, 0], &index[p, oh, 0])
        return
    with nogil:
        for p in prange(B, schedule="static", num_threads=team(threads_for(B * H * W))):
            plane = &x[p, 0, 0]
            for oh in range(Ho):
                for ow in range(Wo):
                    best = lowest
                    best_at = -1
                    for i in range(kh):
                        ih = oh * sh - ph + i * dh
                        if ih < 0 or ih >= H:
                            continue
                        for j in range(kw):
                            iw = ow * sw - pw + j * dw
                            if iw < 0 or iw >= W:
                                continue
                            v = plane[ih * W + iw]
                            # the last NaN wins, as in PyTorch; else the first maximum
                            if v > best or v != v or best_at < 0:
                                best = v
                                best_at = ih * W + iw
                    out[p, oh, ow] = best
                    index[p, oh, ow] = best_at


def max_pool_backward(const real[:, :, ::1] grad, const long long[:, :, ::1] index,
                      real[:, :, ::1] dx):
    """dx = grad scattered to the recorded argmax positions (added where windows share one),
    zeros elsewhere: each plane is cleared by the thread that fills it. The indices come
    from our forward, but are checked (in parallel, before anything is written)."""
    cdef Py_ssize_t B = grad.shape[0], Ho = grad.shape[1], Wo = grad.shape[2]
    cdef Py_ssize_t HW = dx.shape[1] * dx.shape[2], n = Ho * Wo, p, o, k, bad = 0
    cdef real *plane
    cdef const real *g
    cdef const long long *idx
    if index.shape[0] != B or index.shape[1] != Ho or index.shape[2] != Wo or dx.shape[0] != B:
        raise ValueError(f"max_pool_backward: grad {tuple(grad.shape)[:3]}, index "
                         f"{tuple(index.shape)[:3]} and dx {tuple(dx.shape)[:3]} do not fit")
    if B == 0:
        return
    cdef int threads = team(threads_for(B * HW))
    with nogil:
        for p in prange(B, schedule="static", num_threads=threads):
            idx = &index[p, 0, 0] if n else NULL
            for o in range(n):
                if idx[o] < -1 or idx[o] >= HW:
                    bad += 1
    if bad:
        for p in range(B):
            for o in range(n):
                k = index[p, o // Wo, o % Wo]
                if k < -1 or k >= HW:
                    raise IndexError(f"max_pool_backward: index {k} outside a plane of {HW}")
    with nogil:
        for p in prange(B, schedule="static", num_threads=threads):
            plane = &dx[p, 0, 0] if HW else NULL
            for o in range(HW):
                plane[o] = 0
            if n == 0:
                continue
            g = &grad[p, 0, 0]
            idx = &index[p, 0, 0]
            for o in range(n):
                if idx[o] >= 0:  # (-1: a window of padding only)
                    plane[idx[o]] += g[o]


def _check_windows(str op, Py_ssize_t H, Py_ssize_t W, hs, he, ws, we, div, Py_ssize_t Ho,
                   Py_ssize_t Wo):
    if hs.shape[0] != Ho or he.shape[0] != Ho or ws.shape[0] != Wo or we.shape[0] != Wo:
        raise ValueError(f"{op}: window bounds must have {Ho} rows and {Wo} columns")
    if div.shape[0] != Ho or div.shape[1] != Wo:
        raise ValueError(f"{op}: divisors must have shape ({Ho}, {Wo})")
    for k in range(Ho):
        if not 0 <= hs[k] <= he[k] <= H:
            raise ValueError(f"{op}: row window [{hs[k]}, {he[k]}) outside 0..{H}")
    for k in range(Wo):
        if not 0 <= ws[k] <= we[k] <= W:
            raise ValueError(f"{op}: column window [{ws[k]}, {we[k]}) outside 0..{W}")


def avg_pool(const real[:, :, ::1] x, const long long[::1] hs, const long long[::1] he,
             const long long[::1] ws, const long long[::1] we, const double[:, ::1] div,
             real[:, :, ::1] out):
    """out[p, oh, ow] = sum of x[p, hs[oh]:he[oh], ws[ow]:we[ow]] / div[oh, ow]."""
    cdef Py_ssize_t B = x.shape[0], H = x.shape[1], W = x.shape[2]
    cdef Py_ssize_t Ho = out.shape[1], Wo = out.shape[2], p, oh, ow, ih, iw
    cdef double s
    cdef const real *plane
    if out.shape[0] != B:
        raise ValueError(f"avg_pool: out has {out.shape[0]} planes, x has {B}")
    _check_windows("avg_pool", H, W, hs, he, ws, we, div, Ho, Wo)
    with nogil:
        for p in prange(B, schedule="static", num_threads=team(threads_for(B * H * W))):
            plane = &x[p, 0, 0]
            for oh in range(Ho):
                for ow in range(Wo):
                    s = 0
                    for ih in range(hs[oh], he[oh]):
                        for iw in range(ws[ow], we[ow]):
                            s = s + plane[ih * W + iw]
                    out[p, oh, ow] = <real>(s / div[oh, ow])


def avg_pool_backward(const real[:, :, ::1] grad, const long long[::1] hs,
                      const long long[::1] he, const long long[::1] ws,
                      const long long[::1] we, const double[:, ::1] div, real[:, :, ::1] dx):
    """dx (zeroed by the caller) += grad[p, oh, ow] / div[oh, ow] over each window."""
    cdef Py_ssize_t B = grad.shape[0], Ho = grad.shape[1], Wo = grad.shape[2]
    cdef Py_ssize_t H = dx.shape[1], W = dx.shape[2], p, oh, ow, ih, iw
    cdef real g
    cdef real *plane
    if dx.shape[0] != B:
        raise ValueError(f"avg_pool_backward: dx has {dx.shape[0]} planes, grad has {B}")
    _check_windows("avg_pool_backward", H, W, hs, he, ws, we, div, Ho, Wo)
    with nogil:
        for p in prange(B, schedule="static", num_threads=team(threads_for(B * H * W))):
            plane = &dx[p, 0, 0]
            for oh in range(Ho):
                for ow in range(Wo):
                    g = <real>(grad[p, oh, ow] / div[oh, ow])
                    for ih in range(hs[oh], he[oh]):
                        for iw in range(ws[ow], we[ow]):
                            plane[ih * W + iw] += g
