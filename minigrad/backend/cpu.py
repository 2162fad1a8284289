"""CPU backend: NumPy arrays, Cython/OpenMP kernels.

This layer owns the array policy the kernels must not think about: it broadcasts batch
dimensions, decides when a strided view can go to BLAS as it is, makes contiguous copies
otherwise, and allocates outputs. The kernels then see buffers they can trust.
"""
import ctypes
import glob
import os

import numpy as np

try:
    from minigrad._kernels import _batchnorm, _conv, _gemm, _pool, _stats, _threads
except ImportError as e:  # a source checkout that was never built
    raise ImportError(
        "minigrad's compiled kernels are missing. Build them with `pip install -e .` "
        f"(or `pip install .`) from the repository root. ({e})") from e

xp = np
name = "cpu"

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
_ZERO_INDEX = np.zeros(1, dtype=np.int64)


def _as_batched_matrices(x, batch):
    """View ``x`` (..., R, C) as (Bx, R, C) with BLAS-readable matrices, plus the index of
    each entry of the broadcast ``batch`` into those Bx matrices."""
    R, C = x.shape[-2:]
    if x.ndim == 2:
        x3 = x[None]
    else:
        try:
            x3 = np.reshape(x, (-1, R, C), copy=False)
        except ValueError:  # batch dimensions that cannot merge into one stride
            x3 = np.ascontiguousarray(x).reshape(-1, R, C)
    item = x3.itemsize
    if not _gemm.blas_readable(R, C, x3.strides[1] // item, x3.strides[2] // item) \
            or x3.strides[1] % item or x3.strides[2] % item or x3.strides[0] % item:
        x3 = np.ascontiguousarray(x3)
    if x3.shape[0] == 1:
        index = _ZERO_INDEX if len(batch) == 0 else np.zeros(int(np.prod(batch)), np.int64)
    elif x.shape[:-2] == batch:
        index = np.arange(x3.shape[0], dtype=np.int64)
    else:
        index = np.broadcast_to(np.arange(x3.shape[0]).reshape(x.shape[:-2]), batch)
        index = np.ascontiguousarray(index, dtype=np.int64).reshape(-1)
    return x3, index


def matmul(a, b, out=None, accumulate=False):
    """``np.matmul`` for operands with at least two dimensions, through BLAS for floats.

    ``out`` (C-contiguous, the result's shape and dtype) receives the result, or has it
    added when ``accumulate``.
    """
    if a.ndim < 2 or b.ndim < 2:
        raise ValueError(f"matmul kernel: expected operands with at least 2 dimensions, "
                         f"got shapes {a.shape} and {b.shape}")
    (M, K), (K2, N) = a.shape[-2:], b.shape[-2:]
    if K != K2:
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape} are not aligned ({K} != {K2})")
    try:
        batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    except ValueError:
        raise ValueError(f"matmul: batch dimensions of shapes {a.shape} and {b.shape} "
                         f"cannot be broadcast together") from None
    if a.dtype != b.dtype or a.dtype not in _FLOATS:
        if out is not None:
            raise TypeError(f"matmul: out= needs float32 or float64 operands of one dtype, "
                            f"got {a.dtype} and {b.dtype}")
        return np.matmul(a, b)  # integer or mixed dtypes: not BLAS's business
    if out is None:
        if accumulate:
            raise ValueError("matmul: accumulate=True needs an out array")
        out = np.empty(batch + (M, N), dtype=a.dtype)
    elif out.shape != batch + (M, N) or out.dtype != a.dtype or not out.flags.c_contiguous:
        raise ValueError(f"matmul: out must be a C-contiguous {a.dtype} array of shape "
                         f"{batch + (M, N)}, got {out.dtype} {out.shape}")
    if out.size == 0:
        return out
    if K == 0:
        if not accumulate:
            out.fill(0)
        return out
    a3, ia = _as_batched_matrices(a, batch)
    b3, ib = _as_batched_matrices(b, batch)
    _gemm.gemm(a3, b3, out.reshape(-1, M, N), ia, ib, accumulate)
    return out


def erf(x):
    from scipy.special import erf as _erf
    return _erf(x)


def _as_channels(x, op):
    """``x`` as a contiguous (N, C, S) array for the channel kernels."""
    if x.ndim < 2:
        raise ValueError(f"{op}: expected an array with at least 2 dimensions (N, C, ...), "
                         f"got shape {x.shape}")
    if x.size == 0:
        raise ValueError(f"{op}: cannot reduce an empty array of shape {x.shape}")
    return np.ascontiguousarray(x).reshape(x.shape[0], x.shape[1], -1)


def channel_stats(x):
    """Per-channel mean and biased variance over every axis but 1."""
    if x.dtype not in _FLOATS:
        raise TypeError(f"channel_stats: expected float32 or float64, got {x.dtype}")
    x3 = _as_channels(x, "channel_stats")
    mean = np.empty(x.shape[1], dtype=x.dtype)
    var = np.empty(x.shape[1], dtype=x.dtype)
    _stats.channel_stats(x3, mean, var)
    return mean, var


def channel_sum(x):
    """Per-channel sum over every axis but 1, accumulated in double."""
    if x.dtype not in _FLOATS:
        raise TypeError(f"channel_sum: expected float32 or float64, got {x.dtype}")
    out = np.empty(x.shape[1], dtype=x.dtype)
    _stats.channel_sum(_as_channels(x, "channel_sum"), out)
    return out


def channel_grad_sums(dy, x, mean):
    """Per-channel ``sum(dy)`` and ``sum(dy * (x - mean))``: BatchNorm backward's reductions."""
    if not (dy.dtype == x.dtype == mean.dtype and x.dtype in _FLOATS):
        raise TypeError(f"channel_grad_sums: expected dy, x and mean of one float dtype, got "
                        f"{dy.dtype}, {x.dtype} and {mean.dtype}")
    if dy.shape != x.shape or mean.shape != (x.shape[1],):
        raise ValueError(f"channel_grad_sums: dy {dy.shape}, x {x.shape} and mean {mean.shape} "
                         f"do not fit; expected dy and x alike and mean of shape (C,)")
    sum_dy = np.empty(x.shape[1], dtype=x.dtype)
    sum_dyx = np.empty(x.shape[1], dtype=x.dtype)
    _stats.channel_grad_sums(_as_channels(dy, "channel_grad_sums"),
                             _as_channels(x, "channel_grad_sums"),
                             np.ascontiguousarray(mean), sum_dy, sum_dyx)
    return sum_dy, sum_dyx


def batch_norm_normalize(x, scale, shift):
    """y = x * scale[c] + shift[c] over channel axis 1 (scale, shift: float64, length C)."""
    x3 = _as_channels(x, "batch_norm_normalize")
    y = np.empty(x3.shape, dtype=x.dtype)
    _batchnorm.normalize(x3, np.ascontiguousarray(scale, np.float64),
                         np.ascontiguousarray(shift, np.float64), y)
    return y.reshape(x.shape)


def batch_norm_backward_input(dy, x, mean, gain, k_dy, k_x):
    """dx = gain[c] * dy + k_x[c] * (x - mean[c]) + k_dy[c] (coefficients: float64, length C)."""
    x3 = _as_channels(x, "batch_norm_backward_input")
    dy3 = _as_channels(dy, "batch_norm_backward_input")
    if dy.dtype != x.dtype:
        raise TypeError(f"batch_norm_backward_input: dy is {dy.dtype} but x is {x.dtype}")
    dx = np.empty(x3.shape, dtype=x.dtype)
    f64 = [np.ascontiguousarray(v, np.float64) for v in (mean, gain, k_dy, k_x)]
    _batchnorm.backward_input(dy3, x3, *f64, dx)
    return dx.reshape(x.shape)


# ---------------------------------------------------------------- convolution
# The kernels run each image (or tile of output rows) on one OpenMP thread with
# single-threaded BLAS in it; this layer checks operands and sizes the per-thread buffers.

_TILE_BYTES = 512 * 2**10  # one thread's column tile: stays in L2 while its GEMM reads it
_SERIAL_BELOW = 2**18      # multiply-adds under which a parallel region costs more than it saves
_PARTIAL_BYTES = 16 * 2**20  # dw's partial sums, beyond one per thread
_SHIFT_MIN_CHANNELS = 8  # fewer input channels per group make each tap's GEMM (k = Cg) so
                         # thin that im2col wins (measured: 3x slower at Cg=1, faster at 8)


def _conv_geometry(x_shape, w_shape, stride, padding, dilation):
    """(Ho, Wo) of a convolution."""
    H, W = x_shape[2:]
    kh, kw = w_shape[2:]
    Ho = (H + 2 * padding[0] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    Wo = (W + 2 * padding[1] - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    return Ho, Wo


def _conv_operands(op, a, b):
    """``a`` and ``b`` as C-contiguous arrays of one float dtype, the kernels' only input."""
    if a.dtype != b.dtype or a.dtype not in _FLOATS:
        raise TypeError(f"{op}: expected float32 or float64 operands of one dtype, got "
                        f"{a.dtype} and {b.dtype}")
    if a.ndim != 4 or b.ndim != 4:
        raise ValueError(f"{op}: expected 4-D operands, got shapes {a.shape} and {b.shape}")
    return np.ascontiguousarray(a), np.ascontiguousarray(b)


def _conv_plan(x_shape, w_shape, out_hw, stride, padding, dilation, groups, dtype,
               by_group=False, shift_ok=True):
    """(tile rows, per-thread scratch, work items, whether the kernel shifts) for one call.

    Stride-1 convs with enough channels run as shifted GEMMs on a padded copy of each image
    (scratch: that copy and one output at padded width) unless ``shift_ok`` is false (dw);
    others im2col a tile of output rows at a time (scratch: the column tile); 1x1 stride-1
    convs need no scratch.
    A work item is a tile of one image's output rows, or with ``by_group`` (dx) one
    (image, group).
    """
    N, _, H, W = x_shape
    K, Cg, kh, kw = w_shape
    Ho, Wo = out_hw
    R, itemsize = Cg * kh * kw, np.dtype(dtype).itemsize
    pointwise = (kh, kw) == (1, 1) and stride == (1, 1) and padding == (0, 0) \
        and dilation == (1, 1)
    shift = shift_ok and stride == (1, 1) and not pointwise and Cg >= _SHIFT_MIN_CHANNELS
    if shift:
        Wp = W + 2 * padding[1]
        rows, scratch = Ho, Cg * ((H + 2 * padding[0]) * Wp + (kw - 1) * dilation[1]) \
            + K // groups * Ho * Wp
    else:
        rows = max(1, min(Ho, _TILE_BYTES // (R * Wo * itemsize)))
        scratch = 0 if pointwise else R * rows * Wo
    items = N * (groups if by_group else -(-Ho // rows))
    threads = 1 if N * K * R * Ho * Wo < _SERIAL_BELOW else max(1, min(get_num_threads(), items))
    return rows, np.empty((threads, scratch), dtype=dtype), items, shift


def _taps(w, shift):
    """w as (kh, kw, K, Cg), the layout the shifted GEMMs read one tap at a time."""
    return np.ascontiguousarray(w.transpose(2, 3, 0, 1)) if shift else w


def _conv_args(stride, padding, dilation, groups):
    return (stride[0], stride[1], padding[0], padding[1], dilation[0], dilation[1], groups)


def conv2d_forward(x, w, stride, padding, dilation, groups):
    x, w = _conv_operands("conv2d", x, w)
    out_hw = _conv_geometry(x.shape, w.shape, stride, padding, dilation)
    y = np.empty((x.shape[0], w.shape[0]) + out_hw, dtype=x.dtype)
    if y.size == 0 or w.shape[1] == 0:
        y.fill(0)
        return y
    rows, work, _, shift = _conv_plan(x.shape, w.shape, out_hw, stride, padding, dilation,
                                      groups, x.dtype)
    _conv.conv2d_forward(x, w, _taps(w, shift), y, *_conv_args(stride, padding, dilation, groups),
                         rows, shift, work)
    return y


def conv2d_backward_input(dy, w, x_shape, stride, padding, dilation, groups):
    dy, w = _conv_operands("conv2d backward (input)", dy, w)
    dx = np.empty(x_shape, dtype=dy.dtype)
    if dx.size == 0 or dy.size == 0:
        dx.fill(0)
        return dx
    # An (image, group) is one work item, so its thread owns those dx planes outright.
    rows, work, _, shift = _conv_plan(x_shape, w.shape, dy.shape[2:], stride, padding,
                                      dilation, groups, dy.dtype, by_group=True)
    _conv.conv2d_backward_input(dy, w, _taps(w, shift), dx,
                                *_conv_args(stride, padding, dilation, groups), rows, shift, work)
    return dx


def conv2d_backward_weight(x, dy, w_shape, stride, padding, dilation, groups):
    x, dy = _conv_operands("conv2d backward (weight)", x, dy)
    dw = np.empty(w_shape, dtype=x.dtype)
    if dw.size == 0 or dy.size == 0:
        dw.fill(0)
        return dw
    rows, work, items, _ = _conv_plan(x.shape, w_shape, dy.shape[2:], stride, padding,
                                      dilation, groups, x.dtype, shift_ok=False)
    # Partial sums per block of work items; a few per thread balance the load when one
    # thread stalls. The block count alone fixes the summation order: dw is deterministic.
    threads = work.shape[0]
    blocks = min(items, max(threads, min(4 * threads, _PARTIAL_BYTES // dw.nbytes)))
    partial = np.empty((blocks, dw.size), dtype=x.dtype)
    _conv.conv2d_backward_weight(x, dy, dw, *_conv_args(stride, padding, dilation, groups),
                                 rows, work, partial)
    return dw


# ---------------------------------------------------------------- pooling

def _planes(x):
    return np.ascontiguousarray(x).reshape(-1, *x.shape[-2:])


def max_pool2d(x, kernel, stride, padding, dilation, out_hw):
    """Max over windows, and the flat (ih * W + iw) index each output took."""
    xp_ = _planes(x)
    out = np.empty((xp_.shape[0],) + tuple(out_hw), dtype=x.dtype)
    index = np.empty(out.shape, dtype=np.int64)
    _pool.max_pool(xp_, *kernel, *stride, *padding, *dilation, out, index)
    return out.reshape(x.shape[:-2] + tuple(out_hw)), index.reshape(x.shape[:-2] + tuple(out_hw))


def max_pool2d_backward(grad, index, x_shape):
    dx = np.zeros((int(np.prod(x_shape[:-2])),) + tuple(x_shape[-2:]), dtype=grad.dtype)
    _pool.max_pool_backward(_planes(grad), _planes(index), dx)
    return dx.reshape(x_shape)


def avg_pool2d(x, windows):
    """Window sums divided by per-output divisors; ``windows`` = (hs, he, ws, we, div)."""
    hs, he, ws, we, div = windows
    xp_ = _planes(x)
    out = np.empty((xp_.shape[0], len(hs), len(ws)), dtype=x.dtype)
    _pool.avg_pool(xp_, hs, he, ws, we, div, out)
    return out.reshape(x.shape[:-2] + out.shape[1:])


def avg_pool2d_backward(grad, windows, x_shape):
    hs, he, ws, we, div = windows
    dx = np.zeros((int(np.prod(x_shape[:-2])),) + tuple(x_shape[-2:]), dtype=grad.dtype)
    _pool.avg_pool_backward(_planes(grad), hs, he, ws, we, div, dx)
    return dx.reshape(x_shape)


# ---------------------------------------------------------------- threads and BLAS

def _find_openblas_setter():
    """``openblas_set_num_threads`` of the OpenBLAS that SciPy's cython_blas calls, if any."""
    import scipy

    libs = os.path.join(os.path.dirname(os.path.dirname(scipy.__file__)), "scipy.libs")
    for path in sorted(glob.glob(os.path.join(libs, "*openblas*"))):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for symbol in ("scipy_openblas_set_num_threads", "openblas_set_num_threads"):
            setter = getattr(lib, symbol, None)
            if setter is not None:
                setter.argtypes = [ctypes.c_int]
                return setter
    return None


_blas_set_threads = _find_openblas_setter()
if _blas_set_threads: _blas_set_threads(1); _blas_set_threads = lambda n: None  # noqa  CONV-BRANCH EMULATION: one-thread BLAS; delete at merge


def openmp_enabled():
    return _threads.openmp_enabled()


def get_num_threads():
    return _threads.get_num_threads()


def set_num_threads(n):
    n = int(n)
    _threads.set_num_threads(n)  # validates n
    if _blas_set_threads is not None:
        _blas_set_threads(n)


def blas_info():
    """A one-line description of the BLAS the GEMM kernel calls."""
    import scipy

    try:
        blas = scipy.show_config(mode="dicts")["Build Dependencies"]["blas"]
        desc = f"{blas.get('name', 'unknown')} {blas.get('version', '')}".strip()
    except Exception:  # show_config's layout is SciPy's, not ours
        desc = "unknown"
    control = "thread count follows set_num_threads" if _blas_set_threads else \
        "thread count not controllable from minigrad"
    return f"{desc} via scipy.linalg.cython_blas ({control})"
