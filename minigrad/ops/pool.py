"""2-D pooling primitives, each paired with its adjoint so second derivatives work:
max pooling scatters into (and gathers from) the argmax positions it recorded; average
pooling, fixed or adaptive, is a linear map given by window bounds and divisors."""
import math

import numpy as np

from minigrad._shapes import window_out_size
from minigrad import backend
from minigrad.autograd.graph import Primitive
from minigrad.errors import InvalidArgument, InvalidDtype
from minigrad.ops._common import constant, xp_of
from minigrad.ops.conv import pair


class MaxPool2d(Primitive):
    op_name = "max_pool2d"

    @staticmethod
    def forward(ctx, x, kernel, stride, padding, dilation, out_hw):
        out, index = backend.of(x).max_pool2d(x, kernel, stride, padding, dilation, out_hw)
        ctx.index, ctx.window = index, (kernel, stride, padding, dilation)
        return out

    @staticmethod
    def backward(ctx, g):
        return MaxPoolScatter.apply(g, index=ctx.index, x_shape=ctx.shapes[0],
                                    window=ctx.window)


class MaxPoolScatter(Primitive):
    """The adjoint of the pool's selection. ``window`` (kernel, stride, padding, dilation)
    lets a backend gather each input pixel's gradient from the windows that can hold it
    (the CUDA backend's deterministic form) instead of scattering."""
    op_name = "max_pool2d backward"

    @staticmethod
    def forward(ctx, g, index, x_shape, window):
        ctx.index, ctx.window = index, window
        return backend.of(g).max_pool2d_backward(g, index, x_shape, window)

    @staticmethod
    def backward(ctx, gg):
        return MaxPoolGather.apply(gg, index=ctx.index, window=ctx.window)


class MaxPoolGather(Primitive):
    op_name = "max_pool2d gather"

    @staticmethod
    def forward(ctx, a, index, window):
        ctx.index, ctx.window = index, window
        xp = xp_of(a)
        lead = a.shape[:-2]
        flat = a.reshape(lead + (math.prod(a.shape[-2:]),))
        rows = index.reshape(lead + (math.prod(index.shape[-2:]),))
        picked = xp.take_along_axis(flat, xp.maximum(rows, 0), axis=-1)
        picked[rows < 0] = 0  # a window of padding only depends on no input
        return picked.reshape(index.shape)

    @staticmethod
    def backward(ctx, g):
        return MaxPoolScatter.apply(g, index=ctx.index, x_shape=ctx.shapes[0],
                                    window=ctx.window)


class AvgPool2d(Primitive):
    op_name = "avg_pool2d"

    @staticmethod
    def forward(ctx, x, windows):
        ctx.windows = windows
        return backend.of(x).avg_pool2d(x, windows)

    @staticmethod
    def backward(ctx, g):
        return AvgPoolAdjoint.apply(g, windows=ctx.windows, x_shape=ctx.shapes[0])


class AvgPoolAdjoint(Primitive):
    op_name = "avg_pool2d backward"

    @staticmethod
    def forward(ctx, g, windows, x_shape):
        ctx.windows = windows
        return backend.of(g).avg_pool2d_backward(g, windows, x_shape)

    @staticmethod
    def backward(ctx, gg):
        return AvgPool2d.apply(gg, windows=ctx.windows)


# ---------------------------------------------------------------- PyTorch's size rules

def _check_input(op, input, integers=False):
    if input.ndim not in (3, 4):
        raise InvalidArgument(f"{op}: expected a 3-D (C, H, W) or 4-D (N, C, H, W) input, got "
                              f"shape {input.shape}")
    kind = input.array.dtype.kind
    if not (kind == "f" or integers and kind in "iu"):
        raise InvalidDtype(f"{op}: expected a floating point{' or integer' if integers else ''} "
                           f"input, got {input.array.dtype}")


def _pool_args(op, input, kernel_size, stride, padding, dilation, ceil_mode):
    _check_input(op, input, integers=op == "max_pool2d")
    kernel = pair(kernel_size, "kernel_size", op)
    stride = kernel if stride is None or stride == () else pair(stride, "stride", op)
    padding, dilation = pair(padding, "padding", op), pair(dilation, "dilation", op)
    if min(kernel) < 1 or min(stride) < 1 or min(dilation) < 1:
        raise InvalidArgument(f"{op}: kernel_size {kernel}, stride {stride} and dilation "
                              f"{dilation} must be positive")
    if any(p < 0 or p > k // 2 for p, k in zip(padding, kernel)):
        raise InvalidArgument(f"{op}: padding {padding} should be at most half of the kernel "
                              f"size {kernel}")
    H, W = input.shape[-2:]
    out_hw = tuple(window_out_size(n, k, s, p, d, ceil_mode)
                   for n, k, s, p, d in zip((H, W), kernel, stride, padding, dilation))
    if min(out_hw) < 1:
        raise InvalidArgument(f"{op}: input of spatial size ({H}, {W}) is too small for kernel "
                              f"{kernel} with padding {padding} and dilation {dilation}")
    return kernel, stride, padding, dilation, out_hw


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """PyTorch's max pooling, on float and integer inputs (bool is refused, as in torch).
    With ``return_indices`` also the flat index ``ih * W + iw`` of each maximum in its
    plane (PyTorch's convention: the first maximum, or the last NaN; -1 where a window
    holds padding only, where PyTorch names a position outside the input)."""
    args = _pool_args("max_pool2d", input, kernel_size, stride, padding, dilation, ceil_mode)
    x = input.array
    if x.dtype.kind in "iu":  # no gradient: one kernel call, both results constants
        be = backend.of(x)
        if be.device_type != "cpu":  # (integer kernels are the host's; the reference
            from minigrad.backend import numpy_ref as be  # one runs in any namespace)
        out, index = be.max_pool2d(x, *args)
        return (constant(out), constant(index)) if return_indices else constant(out)
    out = MaxPool2d.apply(input, kernel=args[0], stride=args[1], padding=args[2],
                          dilation=args[3], out_hw=args[4])
    if not return_indices:
        return out
    if out._node is not None:  # the indices the recorded pool found; a constant
        return out, constant(out._node.index)
    _, index = backend.of(x).max_pool2d(x, *args)
    return out, constant(index)


def _fixed_windows(n, k, s, p, out, count_include_pad):
    starts, ends, sizes = [], [], []
    for o in range(out):
        start = o * s - p
        end = min(start + k, n + p)
        sizes.append(end - start)  # counts padding, not past it (PyTorch's pool_size)
        starts.append(max(start, 0))
        ends.append(min(end, n))
    starts, ends = np.array(starts, np.int64), np.array(ends, np.int64)
    return starts, ends, (np.array(sizes) if count_include_pad else ends - starts)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    kernel, stride, padding, _, out_hw = _pool_args("avg_pool2d", input, kernel_size, stride,
                                                    padding, 1, ceil_mode)
    H, W = input.shape[-2:]
    hs, he, hn = _fixed_windows(H, kernel[0], stride[0], padding[0], out_hw[0], count_include_pad)
    ws, we, wn = _fixed_windows(W, kernel[1], stride[1], padding[1], out_hw[1], count_include_pad)
    if divisor_override is not None:
        if divisor_override <= 0:
            raise InvalidArgument(f"avg_pool2d: divisor_override must be positive, got "
                                  f"{divisor_override}")
        div = np.full(out_hw, float(divisor_override))
    else:
        div = np.outer(hn, wn).astype(np.float64)
    return AvgPool2d.apply(input, windows=(hs, he, ws, we, np.ascontiguousarray(div)))


def adaptive_avg_pool2d(input, output_size):
    """Output cell i averages input rows floor(i*H/Ho) .. ceil((i+1)*H/Ho), as in PyTorch."""
    _check_input("adaptive_avg_pool2d", input)
    H, W = input.shape[-2:]
    if isinstance(output_size, int):
        output_size = (output_size, output_size)
    Ho, Wo = (n if o is None else int(o) for n, o in zip((H, W), output_size))
    if Ho < 1 or Wo < 1:
        raise InvalidArgument(f"adaptive_avg_pool2d: output size {(Ho, Wo)} must be positive")
    hs = np.array([(i * H) // Ho for i in range(Ho)], np.int64)
    he = np.array([math.ceil((i + 1) * H / Ho) for i in range(Ho)], np.int64)
    ws = np.array([(j * W) // Wo for j in range(Wo)], np.int64)
    we = np.array([math.ceil((j + 1) * W / Wo) for j in range(Wo)], np.int64)
    div = np.outer(he - hs, we - ws).astype(np.float64)
    return AvgPool2d.apply(input, windows=(hs, he, ws, we, div))
