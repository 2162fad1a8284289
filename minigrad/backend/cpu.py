"""CPU backend: NumPy arrays, Cython/OpenMP kernels.

This layer owns the array policy the kernels must not think about: it broadcasts batch
dimensions, decides when a strided view can go to BLAS as it is, makes contiguous copies
otherwise, and allocates outputs. The kernels then see buffers they can trust.
"""
import math
import os
import sys

import numpy as np

from minigrad._kernels import (_channel, _conv, _elementwise, _gemm, _pool, _random,
                               _recurrent, _threads)
from minigrad._shapes import window_out_size
from minigrad.backend.numpy_ref import (  # noqa: F401  (the host is the host either way,
    device_index, device_type, from_host, generator, synchronize, to_host, view,  # view is
    erf, erfinv, lgamma, is_channel_reduction)               # NumPy's rule, these SciPy's)
from minigrad.backend import numpy_ref
from minigrad.backend.numpy_ref import check_lstm, dropout_threshold
from minigrad.errors import InvalidArgument, InvalidDtype

xp = np
name = "cpu"
_this = sys.modules[__name__]   # (the backend the reference's layer loops run on)

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


def _element_strides(a):
    item = a.itemsize
    s0, s1 = a.strides
    return (s0 // item, s1 // item) if s0 % item == 0 and s1 % item == 0 else (-1, -1)


def matmul(a, b, out=None, accumulate=False):
    """``np.matmul`` for operands with at least two dimensions, through BLAS for floats.

    ``out`` (C-contiguous, the result's shape and dtype) receives the result, or has it
    added when ``accumulate``.
    """
    if (out is None and a.ndim == 2 and b.ndim == 2 and a.dtype == b.dtype
            and a.dtype in _FLOATS and a.shape[1] == b.shape[0] and a.size and b.size
            and _gemm.blas_readable(a.shape[0], a.shape[1], *_element_strides(a))
            and _gemm.blas_readable(b.shape[0], b.shape[1], *_element_strides(b))):
        # the common case (every Linear layer), without the batch bookkeeping below
        y = np.empty((a.shape[0], b.shape[1]), dtype=a.dtype)
        _gemm.gemm(a[None], b[None], y[None], _ZERO_INDEX, _ZERO_INDEX, False)
        return y
    if a.ndim < 2 or b.ndim < 2:
        raise InvalidArgument(f"matmul kernel: expected operands with at least 2 dimensions, "
                              f"got shapes {a.shape} and {b.shape}")
    (M, K), (K2, N) = a.shape[-2:], b.shape[-2:]
    if K != K2:
        raise InvalidArgument(f"matmul: shapes {a.shape} and {b.shape} are not aligned "
                              f"({K} != {K2})")
    try:
        batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    except ValueError:
        raise InvalidArgument(f"matmul: batch dimensions of shapes {a.shape} and {b.shape} "
                              f"cannot be broadcast together") from None
    if a.dtype != b.dtype or a.dtype not in _FLOATS:
        if out is not None:
            raise InvalidDtype(f"matmul: out= needs float32 or float64 operands of one dtype, "
                               f"got {a.dtype} and {b.dtype}")
        return np.matmul(a, b)  # integer or mixed dtypes: not BLAS's business
    if out is None:
        if accumulate:
            raise InvalidArgument("matmul: accumulate=True needs an out array")
        out = np.empty(batch + (M, N), dtype=a.dtype)
    elif out.shape != batch + (M, N) or out.dtype != a.dtype or not out.flags.c_contiguous:
        raise InvalidArgument(f"matmul: out must be a C-contiguous {a.dtype} array of shape "
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


# ---------------------------------------------------------------- elementwise

_PARALLEL_SIZE = 2 * _threads.grain()  # below this NumPy's single-threaded loop is as fast


def _threadable(*arrays):
    """Arrays big enough for the threaded kernels, of one float dtype, all C-contiguous."""
    a = arrays[0]
    return (a.size >= _PARALLEL_SIZE and a.dtype in _FLOATS
            and all(b.dtype == a.dtype and b.shape == a.shape and b.flags.c_contiguous
                    for b in arrays))


def sgd_step(p, grad, buf, lr, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0,
             maximize=False):
    """The reference's update in one pass (threaded for large parameters), with its bits:
    the same operations on each element in the same order, scalars rounded to the
    parameter's precision as NumPy rounds Python floats. Other dtypes and layouts go to
    the reference."""
    arrays = (p, grad) if buf is None else (p, grad, buf)
    if p.dtype not in _FLOATS or p.size == 0 or not all(
            a.dtype == p.dtype and a.shape == p.shape and a.flags.c_contiguous for a in arrays) \
            or not p.flags.writeable:
        return numpy_ref.sgd_step(p, grad, buf, lr, momentum, dampening, nesterov,
                                  weight_decay, maximize)
    first = momentum != 0 and buf is None
    if first:
        buf = np.empty_like(p)
    _elementwise.sgd_step(p.reshape(-1), grad.reshape(-1), (p if buf is None else buf).reshape(-1),
                          lr, momentum, dampening, nesterov, weight_decay, maximize, first)
    return buf if momentum != 0 else None


def relu(x):
    if _threadable(x):
        y = np.empty_like(x)
        _elementwise.relu(x.reshape(-1), y.reshape(-1))
        return y
    return np.maximum(x, 0)


def relu_backward(g, y):
    """0 where ReLU's output ``y`` is <= 0, else the gradient (PyTorch's threshold rule: a
    NaN output passes the gradient on)."""
    if _threadable(g, y):
        dx = np.empty_like(g)
        _elementwise.relu_backward(g.reshape(-1), y.reshape(-1), dx.reshape(-1))
        return dx
    return np.where(y <= 0, g.dtype.type(0), g)


def _per_channel_operand(a, b):
    """``b``'s C values when ``b`` broadcasts along ``a``'s channel axis only (a conv or
    BatchNorm bias, shape (1, C, 1, ...)) and ``a`` is big enough for the threaded kernels."""
    if (a.ndim >= 2 and b.ndim == a.ndim and b.size == a.shape[1] and b.shape[1] == a.shape[1]
            and b.dtype == a.dtype and a.dtype in _FLOATS and a.size >= _PARALLEL_SIZE):
        return b.reshape(-1)
    return None


def add(a, b):
    """``a + b`` with NumPy's broadcasting; two activation-sized arrays of one shape (a
    residual connection), or a per-channel ``b`` added to one (or the other way round), is
    one threaded pass."""
    big, small = (a, b) if a.size >= b.size else (b, a)
    if big.size >= _PARALLEL_SIZE:  # (most adds are small: one size test and out)
        if _threadable(a, b):
            out = np.empty_like(a)
            _elementwise.add(a.reshape(-1), b.reshape(-1), out.reshape(-1))
            return out
        v = _per_channel_operand(big, small)
        if v is not None:
            return channel_affine(big, np.ones_like(v), v)
    return a + b


def add_inplace(a, b):
    """``a += b`` for arrays of one shape; ``a`` must be writable."""
    if _threadable(a, b):
        _elementwise.add_inplace(a.reshape(-1), b.reshape(-1))
    else:
        a += b
    return a


def _rows(a, width):
    """``a`` as a C-contiguous (rows, width) array for the recurrent kernels."""
    return None if a is None else np.ascontiguousarray(a).reshape(-1, width)


def dropout_mask(like, p, seed):
    """The reference's mask (``numpy_ref.dropout_mask``), bit for bit, in one threaded pass."""
    threshold = dropout_threshold("dropout_mask", like, p, seed)
    out = np.empty(like.shape, dtype=like.dtype)
    _random.dropout_mask(out.reshape(-1), seed, threshold, like.dtype.type(1 / (1 - p)))
    return out


def lstm_gates_forward(gates, c_prev):
    """The LSTM cell's elementwise part in one pass (``_recurrent.lstm_forward``)."""
    check_lstm("lstm_gates_forward", gates, c_prev)
    H = c_prev.shape[-1]
    h, c, tc = (np.empty(c_prev.shape, dtype=c_prev.dtype) for _ in range(3))
    act = np.empty(gates.shape, dtype=gates.dtype)
    _recurrent.lstm_forward(_rows(gates, 4 * H), _rows(c_prev, H), h.reshape(-1, H),
                            c.reshape(-1, H), act.reshape(-1, 4 * H), tc.reshape(-1, H))
    return h, c, act, tc


def lstm_gates_backward(gh, gc, act, tc, c_prev):
    """Its backward in one pass (``_recurrent.lstm_backward``)."""
    check_lstm("lstm_gates_backward", act, c_prev, ("gh", gh), ("gc", gc), ("tc", tc))
    H = c_prev.shape[-1]
    dgates = np.empty(act.shape, dtype=act.dtype)
    dc_prev = np.empty(c_prev.shape, dtype=c_prev.dtype)
    _recurrent.lstm_backward(_rows(act, 4 * H), _rows(tc, H), _rows(c_prev, H), _rows(gh, H),
                             _rows(gc, H), dgates.reshape(-1, 4 * H), dc_prev.reshape(-1, H))
    return dgates, dc_prev


def lstm_layer_forward(gi, h0, c0, w_hh, reverse=False):
    """A whole LSTM layer: float32 layers whose step products our GEMM takes run as one
    kernel (``_recurrent.layer_forward``: each thread a block of rows through every step),
    the rest as the reference's step loop on this backend's GEMM and cell kernel. Both
    give the same bits."""
    T, B = gi.shape[:2]
    H = h0.shape[-1]
    if not _fused_lstm(B, H, gi, h0, c0, w_hh):
        return numpy_ref.lstm_layer_forward(gi, h0, c0, w_hh, reverse, be=_this)
    hs, cs, tcs = (np.empty((T, B, H), dtype=np.float32) for _ in range(3))
    acts = np.empty((T, B, 4 * H), dtype=np.float32)
    _recurrent.layer_forward(np.ascontiguousarray(gi), np.ascontiguousarray(h0),
                             np.ascontiguousarray(c0), np.ascontiguousarray(w_hh.T),
                             np.empty((B, 4 * H), dtype=np.float32), hs, cs, acts, tcs,
                             reverse)
    last = 0 if reverse else T - 1
    return hs, hs[last].copy(), cs[last].copy(), (acts, tcs, cs)


def lstm_layer_backward(g_hs, g_h, g_c, h0, c0, w_hh, saved, reverse=False):
    """Its backward, fused where the forward was (see ``lstm_layer_forward``)."""
    acts, tcs, cs = saved
    B, H = h0.shape
    if not _fused_lstm(B, H, acts, h0, c0, w_hh, g_hs, g_h, g_c):
        return numpy_ref.lstm_layer_backward(g_hs, g_h, g_c, h0, c0, w_hh, saved, reverse,
                                             be=_this)
    dgates = np.empty(acts.shape, dtype=np.float32)
    dh, dc = np.empty((B, H), dtype=np.float32), np.empty((B, H), dtype=np.float32)
    # (what the forward saved may come back from saved_tensors_hooks in another layout)
    contiguous = [None if a is None else np.ascontiguousarray(a)
                  for a in (g_hs, g_h, g_c, acts, tcs, cs)]
    _recurrent.layer_backward(*contiguous, np.ascontiguousarray(c0),
                              np.ascontiguousarray(w_hh), dgates, dh, dc,
                              np.empty((B, H), dtype=np.float32), reverse)
    return dgates, dh, dc


def _fused_lstm(B, H, *arrays):
    """Whether the fused layer kernels take these (float32, sizes our GEMM takes)."""
    return (B and H and all(a is None or a.dtype == np.float32 for a in arrays)
            and _recurrent.layer_fits(B, H))


def _as_channels(x, op, reduce=True):
    """``x`` as a contiguous (N, C, S) array for the channel kernels. A reduction (``reduce``)
    refuses an empty array; the affine map and its backward take one (the small-size path,
    which never enters a kernel)."""
    if x.dtype not in _FLOATS:
        raise InvalidDtype(f"{op}: expected a float32 or float64 array, got {x.dtype}")
    if x.ndim < 2:
        raise InvalidArgument(f"{op}: expected an array with at least 2 dimensions (N, C, ...), "
                              f"got shape {x.shape}")
    if reduce and x.size == 0 and x.shape[1] != 0:
        raise InvalidArgument(f"{op}: cannot reduce an empty array of shape {x.shape}")
    return np.ascontiguousarray(x).reshape(x.shape[0], x.shape[1], math.prod(x.shape[2:]))


def _per_channel(v, x, op, name):
    """A length-C vector of ``x``'s dtype for the kernels (``None``: zeros)."""
    C = x.shape[1]
    if v is None:
        return np.zeros(C, dtype=x.dtype)
    if v.shape != (C,):
        raise InvalidArgument(f"{op}: {name} must have shape ({C},) for an input of shape "
                              f"{x.shape}, got {v.shape}")
    return np.ascontiguousarray(v, dtype=x.dtype)


def channel_moments(x):
    """Per-channel mean and biased variance over every axis but 1, in one read."""
    x3 = _as_channels(x, "channel_moments")
    mean = np.empty(x.shape[1], dtype=x.dtype)
    var = np.empty(x.shape[1], dtype=x.dtype)
    if x.shape[1]:  # (no channels: no statistics, and nothing for the kernel to do)
        _channel.channel_moments(x3, mean, var)
    return mean, var


def channel_sum(x):
    """Per-channel sum over every axis but 1, accumulated in double."""
    x3 = _as_channels(x, "channel_sum")
    out = np.empty(x.shape[1], dtype=x.dtype)
    if x.shape[1]:
        _channel.channel_sum(x3, out)
    return out


def channel_affine(x, scale, shift, center=None, out=None):
    """``(x - center[c]) * scale[c] + shift[c]`` over channel axis 1, one pass; added into
    ``out`` (C-contiguous, x's shape and dtype) when given."""
    op = "channel_affine"
    x3 = _as_channels(x, op, reduce=False)
    vecs = [_per_channel(v, x, op, n) for v, n in ((scale, "scale"), (shift, "shift"),
                                                    (center, "center"))]
    if out is None:
        y = np.empty(x3.shape, dtype=x.dtype)
    elif out.shape != x.shape or out.dtype != x.dtype or not out.flags.c_contiguous \
            or not out.flags.writeable:
        raise InvalidArgument(f"{op}: out must be a writable C-contiguous {x.dtype} array of shape "
                              f"{x.shape}, got {out.dtype} {out.shape}")
    else:
        y = out.reshape(x3.shape)
    if x.size == 0:  # (nothing for the kernel to do; NumPy gives the empty result)
        scale, shift, center = (v.reshape(1, -1, 1) for v in vecs)
        r = x3 - center
        r *= scale
        r += shift
        if out is None:
            return r.reshape(x.shape)
        y += r
        return out
    _channel.channel_affine(x3, *vecs, y, out is not None)
    return y.reshape(x.shape) if out is None else out


def channel_affine_backward(g, x, scale, center=None, want_dx=True):
    """``channel_affine``'s backward in one pass: (dx = g * scale[c] or None,
    sum(g), sum(g * (x - center[c]))) with per-channel sums over every axis but 1."""
    op = "channel_affine_backward"
    if g.shape != x.shape or g.dtype != x.dtype:
        raise InvalidArgument(f"{op}: the gradient ({g.dtype} {g.shape}) must match x "
                              f"({x.dtype} {x.shape})")
    x3, g3 = _as_channels(x, op, reduce=False), _as_channels(g, op, reduce=False)
    scale, center = _per_channel(scale, x, op, "scale"), _per_channel(center, x, op, "center")
    if x.size == 0:  # as in channel_affine
        dx = g3 * scale.reshape(1, -1, 1) if want_dx else None
        return ((dx.reshape(x.shape) if want_dx else None), g3.sum((0, 2)),
                ((x3 - center.reshape(1, -1, 1)) * g3).sum((0, 2)))
    sum_g = np.empty(x.shape[1], dtype=x.dtype)
    sum_gx = np.empty(x.shape[1], dtype=x.dtype)
    dx = np.empty(x3.shape, dtype=x.dtype) if want_dx else g3
    _channel.channel_affine_backward(g3, x3, scale, center, sum_g, sum_gx, dx, want_dx)
    return (dx.reshape(x.shape) if want_dx else None), sum_g, sum_gx


# ---------------------------------------------------------------- convolution
# The kernels run each image (or tile of output rows, or block of small images) on one
# OpenMP thread with single-threaded BLAS in it; this layer checks operands, picks the work
# item and sizes the per-thread buffers.

_TILE_BYTES = 512 * 2**10  # one thread's column tile: stays in L2 while its GEMM reads it
_SERIAL_BELOW = 2**18      # multiply-adds under which a parallel region costs more than it saves
_PARTIAL_BYTES = 16 * 2**20  # dw's partial sums, beyond one per thread
_SHIFT_MIN_CHANNELS = 8  # fewer input channels per group make each tap's GEMM (k = Cg) so
                         # thin that im2col wins (measured: 3x slower at Cg=1, faster at 8)
# Small images: one image's GEMM has only P = Ho * Wo columns, and BLAS repacks the whole
# (Kg, R) weight for each such thin product. A block of images side by side widens it.
# Measured at batch 32, 2 threads, float32 (ms, fwd / dx / dw, one image per item -> blocks
# of 8 images at 4x4, of 4 (dw 8) at 8x8 and 16x16; * marks the passes the plan blocks):
#   512->512 @4x4   26.5 / 33.2 / 18.0 -> 12.5* / 12.2* / 16.4*
#   256->256 @8x8   14.3 / 15.8 / 18.0 -> 12.1* / 11.5* / 12.1*
#   128->128 @8x8    3.9 /  4.1 /  4.3 ->  4.2* /  3.3* /  3.9*
#    64->64  @8x8    0.9 /  0.8 /  1.7 ->  1.4  /  1.1  /  1.4*
#    64->64  @4x4    0.4 /  0.4 /  0.8 ->  0.5* /  0.4* /  0.5*
#   128->128 @16x16 12.2 / 12.4 / 13.1 -> 15.5  / 11.7  / 12.6
# y and dx gain once the weight has about 2048 entries per pixel (the im2col and copy-out
# a block adds cost about 1/Kg of its GEMM, the repacking it saves about 1/P); dw gains at
# any width up to 128 pixels (fewer passes over its (Kg, R) partial sums); 1x1 convs lose.
_BLOCK_MAX_PIXELS = 128
_BLOCK_WEIGHT_PER_PIXEL = 2048
_BLOCK_COLUMNS = 256     # y, dx: columns per block GEMM (512 made the 8x8 forward 15% slower)
_BLOCK_COLUMNS_DW = 512  # dw: its GEMM's inner dimension (256->256 @8x8 dw 13.6 ms at 256
                         # columns, 12.1 at 512)
_BLOCK_MIN_ITEMS = 4     # blocks per call, so a stalled thread leaves work to the others
_BLOCK_BYTES = 8 * 2**20  # one thread's column block and GEMM output
# dw of a 3 x 3 stride-1 float32 conv straight from the padded image (_conv_dw.h) instead of
# im2col + GEMM, for this range of (output, input) channel pairs per group. Measured at
# batch 32 (64 at 28 x 28 and 14 x 14), 2 threads, time new / im2col: 16->16 @32x32 0.54,
# 32->32 @16x16 0.84-0.88, 3->64 @32x32 0.71; with more pairs the GEMM's output is wide
# enough for it to win (64->64 @32x32 1.02, 32->64 @14x14 1.22, 128->128 @16x16 1.13), and
# with fewer, padding and widening the image cost more than the 9-row im2col (1->32 @28x28
# 1.23).
_DW_SHIFT_PAIRS = (64, 1024)


def _cpu_vendor():
    """The CPU's vendor string as Linux reports it ('' where it cannot be read)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("vendor_id"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


# (most pairs, fewest pixels) where the kernel also wins with more pairs than above: on the
# AMD EPYC (Zen 5) VMs, whose two 512-bit FMA units it keeps busier than the GEMM does,
# for images of at least 16 x 16 (batch 32, 2 threads, ms, im2col -> kernel, interleaved
# in one process: 64->64 @32x32 11.4 -> 7.9, 128->128 @16x16 11.7 -> 9.8, 64->128 @16x16
# level at 4.9; 32->64 @14x14, 196 pixels, 2.0-2.4 against 2.1-2.5, left on im2col). Not
# on the Intel Xeons, where it measured slower (above).
_DW_SHIFT_WIDE = (16384, 256) if _cpu_vendor() == "AuthenticAMD" else None
# Issue 24's sixth round measured these two on the AMD EPYC VMs, where SciPy's OpenBLAS
# runs AVX2 kernels, and keeps them there: stride-1 images too small for the taps pass go
# in blocks (see _conv_plan; on the Xeon, blocks measured slower at 64->64 @8x8, the table
# above), and the blocks' dx and dw products run on our GEMM at every size (_conv.pyx's
# _weight_grad_block). Elsewhere the paths, and so the bits, are as before.
_THIN_BLOCKS = _BLOCK_OWN_GEMM = _DW_SHIFT_WIDE is not None


# Winograd F(4 x 4, 3 x 3) (_winograd.h) for 3 x 3 stride-1 float32 convs: a quarter of
# the multiplications, more rounding (bounded in tests/test_kernels.py against float64).
# Interleaved in one process on the AMD EPYC VMs (batch 32, 2 threads, time Winograd /
# our GEMM path, forward / dx, filter transform and scratch included): 64->64 @32x32
# 0.60 / 0.60, 64->64 @16x16 0.65 / 0.70, 128->128 @16x16 0.52 / 0.54, 256->256 @8x8
# 0.47 / 0.52, 64->64 @8x8 0.32 / 0.34, 32->32 @16x16 0.61 / 0.63, 32->64 @14x14
# (batch 64) 0.77 / 0.82, 48->48 @16x16 0.78 / 0.76, 256->512 @4x4 0.79 / 0.84,
# 128->128 @28x28 (batch 16) 0.68 / 0.65, 64->64 @56x56 (batch 2) 0.50 / 0.48; but
# 16->16 @32x32 0.98 / 0.87 (too few channels for the transforms to pay) and 512->512
# @4x4 1.15 / 1.18 (36 transformed filters per channel pair to read for 32 tiles).
# dw, Winograd run backwards (time against our GEMM path's dw): 64->64 @32x32 0.52,
# 128->128 @16x16 0.43, 256->256 @8x8 0.26, 64->64 @8x8 0.27, 32->64 @14x14 (batch 64)
# 0.62, 256->512 @4x4 0.37, and 512->512 @4x4 0.68 (its one pass over the transformed
# sums costs less than the forward's 32 tiles' reads of the transformed filters); 16->16
# @32x32 1.15.
# Measured on AMD only, so keyed on it like the rules above.
_WINOGRAD = _THIN_BLOCKS
_WINO_MIN_CHANNELS = 32    # input and output channels, each a multiple of 16
_WINO_MAX_PAIRS = 2**17    # input x output channels (y and dx)
_WINO_MAX_PAIRS_DW = 2**18
_WINO_TILES = 256          # 4 x 4 output tiles per group of images (a group's products)
_WINO_MAX_IMAGE_TILES = 1024   # tiles of one image (128 x 128 outputs): a group's
                               # transformed tiles take 4.5x its activations, so larger
                               # images keep the GEMM path's smaller scratch (not measured
                               # beyond 56 x 56)


def _winograd_fits(x_shape, w_shape, out_hw, stride, padding, dilation, groups, dtype,
                   weight_grad=False):
    """Whether this convolution's forward and dx (or, ``weight_grad``, its dw) run as
    Winograd F(4 x 4, 3 x 3)."""
    K, C, kh, kw = w_shape
    return bool(_WINOGRAD and np.dtype(dtype) == np.float32 and groups == 1
                and (kh, kw) == (3, 3) and stride == (1, 1) and dilation == (1, 1)
                and 0 <= min(padding) and max(padding) <= 2
                and C % 16 == 0 and K % 16 == 0 and min(C, K) >= _WINO_MIN_CHANNELS
                and C * K <= (_WINO_MAX_PAIRS_DW if weight_grad else _WINO_MAX_PAIRS)
                and -(-out_hw[0] // 4) * -(-out_hw[1] // 4) <= _WINO_MAX_IMAGE_TILES
                and _gemm.own_sgemm_state()[1])


def _winograd(x, w, out, padding, for_dx):
    """out = the forward (x the input) or dx (x = dy, ``for_dx``) of the 3 x 3 stride-1
    convolution with weight w, by Winograd F(4 x 4, 3 x 3): dx is the convolution of dy,
    padded by 2 - p, with the filters turned and the channel roles swapped."""
    cin, cout = x.shape[1], out.shape[1]
    threads = get_num_threads()
    U = np.empty((36, cin, cout), dtype=np.float32)
    _conv.winograd_filter(w, U, for_dx, threads)
    group, band, shared, work = _wino_plan(x.shape[0], cin, cout, out.shape[2:], threads)
    pad = (2 - padding[0], 2 - padding[1]) if for_dx else padding
    _conv.conv2d_winograd(x, U, out, pad[0], pad[1], group, band, shared, work)
    return out


def _winograd_dw(x, dy, dw, padding):
    """dw of the 3 x 3 stride-1 convolution, by Winograd F(4 x 4, 3 x 3) run backwards."""
    C, K, threads = x.shape[1], dy.shape[1], get_num_threads()
    group, band, shared, work = _wino_plan(x.shape[0], C, K, dy.shape[2:], threads)
    _conv.conv2d_winograd_dw(x, dy, dw, padding[0], padding[1], group, band, shared, work,
                             np.empty((36, K, C), np.float32))
    return dw


def _wino_plan(N, cin, cout, out_hw, threads):
    """(images per group, tile rows per band, shared scratch, per-thread scratch): groups
    of about _WINO_TILES tiles (one image at least), each image's transforms cut into
    bands so that a group has two per thread where its tile rows allow."""
    th, tw = -(-out_hw[0] // 4), -(-out_hw[1] // 4)
    group = max(1, min(N, _WINO_TILES // (th * tw)))
    band = -(-th // min(th, -(-2 * threads // group)))
    shared, per_thread = _conv.winograd_scratch(group, band, cin, cout, *out_hw)
    return (group, band, np.empty(shared, np.float32),
            np.empty((threads, per_thread), np.float32))


def _conv_geometry(x_shape, w_shape, stride, padding, dilation):
    """(Ho, Wo) of a convolution."""
    H, W = x_shape[2:]
    kh, kw = w_shape[2:]
    return (window_out_size(H, kh, stride[0], padding[0], dilation[0]),
            window_out_size(W, kw, stride[1], padding[1], dilation[1]))


def _conv_operands(op, a, b):
    """``a`` and ``b`` as C-contiguous arrays of one float dtype, the kernels' only input."""
    if a.dtype != b.dtype or a.dtype not in _FLOATS:
        raise InvalidDtype(f"{op}: expected float32 or float64 operands of one dtype, got "
                           f"{a.dtype} and {b.dtype}")
    if a.ndim != 4 or b.ndim != 4:
        raise InvalidArgument(f"{op}: expected 4-D operands, got shapes {a.shape} and {b.shape}")
    return np.ascontiguousarray(a), np.ascontiguousarray(b)


def _conv_plan(x_shape, w_shape, out_hw, stride, padding, dilation, groups, dtype,
               by_group=False, weight_grad=False):
    """(tile rows, images per block, per-thread scratch, work items, whether the kernel
    shifts) for one call.

    Small images (see _BLOCK_MAX_PIXELS) go in blocks of whole images, im2col side by side
    (scratch: their columns and one GEMM output). Otherwise stride-1 convs with enough
    channels run as shifted GEMMs on a padded copy of each image (scratch: that copy and one
    output at padded width, with zero margins for dx); for ``weight_grad`` (dw) that flag
    means the 3 x 3 float32 kernel of _conv_dw.h, in the channel range _DW_SHIFT_PAIRS (and
    _DW_SHIFT_WIDE's);
    others im2col a tile of output rows at a time (scratch: the column tile); 1x1 stride-1
    convs need no scratch.
    A work item is a block of images or a tile of one image's output rows, with
    ``by_group`` (dx) for one group.
    """
    N, _, H, W = x_shape
    K, Cg, kh, kw = w_shape
    Ho, Wo = out_hw
    P, Kg = Ho * Wo, K // groups
    R, itemsize = Cg * kh * kw, np.dtype(dtype).itemsize
    pointwise = (kh, kw) == (1, 1) and stride == (1, 1) and padding == (0, 0) \
        and dilation == (1, 1)
    block = 1
    # Stride-1 images too small for the taps pass (under _TAPS_MIN_N columns of padded
    # rows) go in blocks whatever their channels where _THIN_BLOCKS: a GEMM per tap was
    # slower there (AMD EPYC,
    # batch 32, 2 threads, ms fwd / dx, per-tap GEMMs -> blocks: 64->64 @8x8 1.59 / 1.76 ->
    # 0.96 / 1.08, 32->32 @8x8 0.64 / 0.72 -> 0.34 / 0.41, 16->32 @7x7 0.38 / 0.38 -> 0.13 /
    # 0.17, 32->32 @3x3 0.18 / 0.21 -> 0.10 / 0.10; but 64->64 @11x11, 143 columns, 1.12 /
    # 1.05 on the taps pass against 1.50 / 1.58 in blocks)
    thin = _THIN_BLOCKS and stride == (1, 1) and Ho * (W + 2 * padding[1]) < _conv.TAPS_MIN_N
    if not pointwise and P <= _BLOCK_MAX_PIXELS \
            and (weight_grad or thin or Kg * R >= _BLOCK_WEIGHT_PER_PIXEL * P):
        block = min(-(-(_BLOCK_COLUMNS_DW if weight_grad else _BLOCK_COLUMNS) // P),
                    -(-N // _BLOCK_MIN_ITEMS), _BLOCK_BYTES // ((R + Kg) * P * itemsize))
    block = max(1, block)
    if weight_grad:   # dw read from the padded image: 3 x 3 float32 on AVX-512 only
        wide = _DW_SHIFT_WIDE is not None and Kg * Cg <= _DW_SHIFT_WIDE[0] \
            and P >= _DW_SHIFT_WIDE[1]
        shift = block == 1 and stride == (1, 1) and (kh, kw) == (3, 3) \
            and _DW_SHIFT_PAIRS[0] <= Kg * Cg and (Kg * Cg <= _DW_SHIFT_PAIRS[1] or wide) \
            and np.dtype(dtype) == np.float32 \
            and _gemm.own_sgemm_state()[1]
    else:
        shift = block == 1 and stride == (1, 1) and not pointwise \
            and Cg >= _SHIFT_MIN_CHANNELS
    if block > 1:
        rows, scratch = Ho, (R + Kg) * block * P
    elif shift:   # (the padded image, then dy with dx's zero margins: _conv.pyx's Lp)
        Wp = W + 2 * padding[1]
        front = (kh - 1) * dilation[0] * Wp + (kw - 1) * dilation[1]
        rows, scratch = Ho, Cg * ((H + 2 * padding[0]) * Wp + (kw - 1) * dilation[1]) \
            + K // groups * (front + max(Ho, H + padding[0]) * Wp)
    else:
        rows = max(1, min(Ho, _TILE_BYTES // (R * Wo * itemsize)))
        scratch = 0 if pointwise else R * rows * Wo
    items = -(-N // block) * (groups if by_group else -(-Ho // rows))
    threads = 1 if N * K * R * Ho * Wo < _SERIAL_BELOW else max(1, min(get_num_threads(), items))
    return rows, block, np.empty((threads, scratch), dtype=dtype), items, shift


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
    if _winograd_fits(x.shape, w.shape, out_hw, stride, padding, dilation, groups, x.dtype):
        return _winograd(x, w, y, padding, False)
    rows, block, work, _, shift = _conv_plan(x.shape, w.shape, out_hw, stride, padding,
                                             dilation, groups, x.dtype)
    _conv.conv2d_forward(x, w, _taps(w, shift), y, *_conv_args(stride, padding, dilation, groups),
                         rows, shift, work, block)
    return y


def conv2d_backward_input(dy, w, x_shape, stride, padding, dilation, groups):
    dy, w = _conv_operands("conv2d backward (input)", dy, w)
    dx = np.empty(x_shape, dtype=dy.dtype)
    if dx.size == 0 or dy.size == 0:
        dx.fill(0)
        return dx
    if _winograd_fits(x_shape, w.shape, dy.shape[2:], stride, padding, dilation, groups,
                      dy.dtype):
        return _winograd(dy, w, dx, padding, True)
    # An (image or block of images, group) is one work item, so its thread owns those dx
    # planes outright.
    rows, block, work, _, shift = _conv_plan(x_shape, w.shape, dy.shape[2:], stride, padding,
                                             dilation, groups, dy.dtype, by_group=True)
    _conv.conv2d_backward_input(dy, w, _taps(w, shift), dx,
                                *_conv_args(stride, padding, dilation, groups), rows, shift, work,
                                block, _BLOCK_OWN_GEMM)
    return dx


def conv2d_backward_weight(x, dy, w_shape, stride, padding, dilation, groups):
    x, dy = _conv_operands("conv2d backward (weight)", x, dy)
    dw = np.empty(w_shape, dtype=x.dtype)
    if dw.size == 0 or dy.size == 0:
        dw.fill(0)
        return dw
    if _winograd_fits(x.shape, w_shape, dy.shape[2:], stride, padding, dilation, groups,
                      x.dtype, weight_grad=True):
        return _winograd_dw(x, dy, dw, padding)
    rows, block, work, items, shift = _conv_plan(x.shape, w_shape, dy.shape[2:], stride,
                                                 padding, dilation, groups, x.dtype,
                                                 weight_grad=True)
    # Partial sums per block of work items; a few per thread balance the load when one
    # thread stalls. The block count alone fixes the summation order: dw is deterministic.
    threads = work.shape[0]
    blocks = min(items, max(threads, min(4 * threads, _PARTIAL_BYTES // dw.nbytes)))
    if blocks < items:  # whole rounds of equal blocks: 4 items in 3 blocks took 1.4x as long
        blocks -= blocks % threads
    partial = np.empty((blocks, dw.size), dtype=x.dtype)
    _conv.conv2d_backward_weight(x, dy, dw, *_conv_args(stride, padding, dilation, groups),
                                 rows, work, partial, block, shift, _BLOCK_OWN_GEMM)
    return dw


# ---------------------------------------------------------------- pooling

def _planes(x, op, dtypes=_FLOATS):
    """``x`` (..., H, W) as contiguous planes (P, H, W) of a float dtype (or one of
    ``dtypes``), the kernels' input."""
    if x.dtype not in dtypes:
        names = [d.name for d in dtypes]
        names = ", ".join(names[:-1]) + " or " + names[-1]
        raise InvalidDtype(f"{op}: expected {names} input, got {x.dtype}")
    return np.ascontiguousarray(x).reshape(math.prod(x.shape[:-2]), *x.shape[-2:])


# max pooling's forward also runs on the signed and unsigned integer types the kernel has
_MAX_POOL_DTYPES = _FLOATS + tuple(np.dtype(t) for t in (np.int8, np.uint8, np.int16,
                                                         np.int32, np.int64))


def max_pool2d(x, kernel, stride, padding, dilation, out_hw):
    """Max over windows, and the flat (ih * W + iw) index each output took."""
    xp_ = _planes(x, "max_pool2d", _MAX_POOL_DTYPES)
    out = np.empty((xp_.shape[0],) + tuple(out_hw), dtype=x.dtype)
    index = np.empty(out.shape, dtype=np.int64)
    _pool.max_pool(xp_, *kernel, *stride, *padding, *dilation, out, index)
    return out.reshape(x.shape[:-2] + tuple(out_hw)), index.reshape(x.shape[:-2] + tuple(out_hw))


def max_pool2d_backward(grad, index, x_shape, window=None):
    # (empty: the kernel clears each plane in the thread that fills it)
    dx = np.empty((int(np.prod(x_shape[:-2])),) + tuple(x_shape[-2:]), dtype=grad.dtype)
    g = _planes(grad, "max_pool2d backward")
    _pool.max_pool_backward(g, np.ascontiguousarray(index, dtype=np.int64).reshape(g.shape), dx)
    return dx.reshape(x_shape)


def avg_pool2d(x, windows):
    """Window sums divided by per-output divisors; ``windows`` = (hs, he, ws, we, div)."""
    hs, he, ws, we, div = windows
    xp_ = _planes(x, "avg_pool2d")
    out = np.empty((xp_.shape[0], len(hs), len(ws)), dtype=x.dtype)
    _pool.avg_pool(xp_, hs, he, ws, we, div, out)
    return out.reshape(x.shape[:-2] + out.shape[1:])


def avg_pool2d_backward(grad, windows, x_shape):
    hs, he, ws, we, div = windows
    dx = np.zeros((int(np.prod(x_shape[:-2])),) + tuple(x_shape[-2:]), dtype=grad.dtype)
    _pool.avg_pool_backward(_planes(grad, "avg_pool2d backward"), hs, he, ws, we, div, dx)
    return dx.reshape(x_shape)


# ---------------------------------------------------------------- threads and BLAS

def _single_threaded_blas():
    """Pin the BLAS behind ``scipy.linalg.cython_blas`` to one thread, for good.

    All of minigrad's parallelism is OpenMP's: large GEMMs are split into tiles that
    OpenMP threads hand to BLAS one each. A BLAS with threads of its own would compete
    with those (and, after each OpenMP region, with workers still spinning), so it gets
    one. Side effect, documented in docs/threads-and-memory.md: a user's own SciPy
    BLAS/LAPACK calls in this process run single-threaded too. NumPy's BLAS, a separate library in the wheels,
    is not touched; where NumPy and SciPy share one BLAS (conda), both are limited.
    Returns a description for ``show_config``."""
    import scipy
    import scipy.linalg.cython_blas  # noqa: F401  (loads the library we call)
    from threadpoolctl import ThreadpoolController

    scipy_dir = os.path.dirname(scipy.__file__)
    blas = [lib for lib in ThreadpoolController().lib_controllers if lib.user_api == "blas"]
    # the wheels' copy lives in scipy.libs next to the package; elsewhere SciPy links a
    # system BLAS that may be shared, and all of them are limited
    ours = [lib for lib in blas if os.path.dirname(lib.filepath).startswith(scipy_dir)] or blas
    for lib in ours:
        lib.set_num_threads(1)
    if not ours:
        return "not found by threadpoolctl: its thread count is left as it is"
    return ", ".join(f"{lib.internal_api} {lib.version}" for lib in ours) + \
        " via scipy.linalg.cython_blas, 1 thread inside each OpenMP thread"


_blas_description = _single_threaded_blas()


def openmp_enabled():
    return _threads.openmp_enabled()


def get_num_threads():
    return _threads.get_num_threads()


def set_num_threads(n):
    _threads.set_num_threads(n)  # validates n


def threads_note():
    """How the kernels' thread team adapts to a busy machine (``_threads``), for show_config."""
    state = _threads.adaptive_state()
    if not state["adaptive"]:
        return "fixed (MINIGRAD_ADAPTIVE_THREADS=0)"
    return (f"adaptive, {state['team']} running now (fewer while other processes preempt "
            f"ours; MINIGRAD_ADAPTIVE_THREADS=0 turns it off)")


def blas_info():
    """A one-line description of the BLAS the GEMM kernel calls."""
    return _blas_description
