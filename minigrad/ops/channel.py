"""Channel-wise primitives: what normalization layers are made of.

``channel_moments(x)`` gives the per-channel mean and biased variance over every axis but
1, and ``channel_affine(x, scale, shift, center)`` maps each channel c to
``(x - center[c]) * scale[c] + shift[c]``. BatchNorm is "moments, then this affine map"
with center = the mean, scale = gamma / sqrt(var + eps) (one op in between) and shift =
beta; GroupNorm, InstanceNorm and LayerNorm are the same two primitives on a reshaped view.
LayerNorm passes that view as ``as_shape`` (rows as channels, (1, -1, D), then gamma and
beta over the columns, (-1, D)) rather than recording reshapes: 4 nodes instead of 6, 0.81x
of the time for LayerNorm(100) on (60, 100) (CPU time, 1 thread). Each primitive is one
pass over memory forward and one backward, on the backend's kernels. Subtracting the
centre inside the pass (rather than folding it into the shift) also keeps float32
exact-to-rounding when |mean| >> std.

In a plain backward the engine runs their array-level rules (``backward_arrays``), which
call the kernels directly; when the backward is itself recorded (``create_graph=True``) it
runs their differentiable ``backward`` instead, so second derivatives stay exact.
"""
import math

from minigrad._shapes import channel_axes
from minigrad import backend
from minigrad.autograd.graph import ADDED, Primitive
from minigrad.errors import InvalidArgument, InvalidDtype
from minigrad.ops._common import constant
from minigrad.ops.arithmetic import mul, neg, sub
from minigrad.ops.reduce import sum
from minigrad.ops.shape import reshape


def values_per_channel(shape):
    """How many values each channel of an (N, C, ...) shape holds (0 for an empty batch)."""
    shape = tuple(shape)   # (a Size's slices are Sizes, made in Python: 6x slower)
    return math.prod(shape[:1] + shape[2:])


class ChannelMoments(Primitive):
    """(mean, biased variance) per channel. Backward: with n values per channel,
    dx = g_mean / n + g_var * 2 (x - mean) / n, itself one channel-affine pass."""
    op_name = "channel_moments"
    n_outputs = 2
    save_inputs = True
    adds_into_input = True  # its gradient is added into the affine pass's in one pass

    @staticmethod
    def forward(ctx, x, as_shape=None):
        ctx.as_shape = as_shape
        return backend.of(x).channel_moments(x if as_shape is None else x.reshape(as_shape))

    @staticmethod
    def backward(ctx, g_mean, g_var):
        (x,) = ctx.inputs
        shape = x.shape if ctx.as_shape is None else x.array.reshape(ctx.as_shape).shape
        n = values_per_channel(shape)
        if g_mean is None or g_var is None:  # an unused output contributes nothing
            zeros = backend.of(x.array).xp.zeros(shape[1], dtype=x.array.dtype)
        # (x - mean) with mean as a tensor of this graph, for exact 2nd derivatives
        a = constant(zeros) if g_var is None else mul(g_var, 2.0 / n)
        b = constant(zeros) if g_mean is None else mul(g_mean, 1.0 / n)
        return channel_affine(x, a, b, center=ctx.output_tensor(0), as_shape=ctx.as_shape)

    @staticmethod
    def backward_arrays(ctx, g_mean, g_var, into=None):
        x = ctx.inputs[0].array
        if ctx.as_shape is not None:
            x = x.reshape(ctx.as_shape)
        n = values_per_channel(x.shape)
        be = backend.of(x)
        if g_mean is None or g_var is None:
            zeros = be.xp.zeros(x.shape[1], dtype=x.dtype)
        a = zeros if g_var is None else g_var * (2.0 / n)
        b = zeros if g_mean is None else g_mean * (1.0 / n)
        if into is not None:  # the input's pending gradient: add into it, same pass
            be.channel_affine(x, a, b, center=ctx._outs[0], out=into.reshape(x.shape))
            return ADDED
        return be.channel_affine(x, a, b, center=ctx._outs[0]).reshape(ctx.shapes[0])


class ChannelAffine(Primitive):
    """y = (x - center[c]) * scale[c] + shift[c]. Backward in one pass: dx = g * scale[c],
    d scale = sum(g * (x - center)), d shift = sum(g), d center = -scale * sum(g)."""
    op_name = "channel_affine"
    save_inputs = True

    @staticmethod
    def forward(ctx, x, scale, shift, center, as_shape=None):
        ctx.as_shape = as_shape
        if as_shape is None:
            return backend.of(x).channel_affine(x, scale, shift, center)
        return backend.of(x).channel_affine(x.reshape(as_shape), scale, shift,
                                            center).reshape(x.shape)

    @staticmethod
    def backward(ctx, g):
        x, scale, shift, center = ctx.inputs
        want_x, want_scale, want_shift, want_center = (e is not None for e in ctx.next)
        if ctx.as_shape is not None:   # (recorded reshapes: this form is for create_graph)
            x, g = reshape(x, ctx.as_shape), reshape(g, ctx.as_shape)
        dims, view = channel_axes(x.ndim), (1, x.shape[1]) + (1,) * (x.ndim - 2)
        sum_g = sum(g, dims)
        dx = mul(g, reshape(scale, view)) if want_x else None
        return (dx if dx is None or ctx.as_shape is None else reshape(dx, ctx.shapes[0]),
                sum(mul(g, sub(x, reshape(center, view))), dims) if want_scale else None,
                sum_g if want_shift else None,
                neg(mul(scale, sum_g)) if want_center else None)

    @staticmethod
    def backward_arrays(ctx, g):
        inputs = ctx.inputs
        x, scale, center = inputs[0].array, inputs[1].array, inputs[3].array
        if ctx.as_shape is not None:
            x, g = x.reshape(ctx.as_shape), g.reshape(ctx.as_shape)
        edges = ctx.next
        want_x, want_scale = edges[0] is not None, edges[1] is not None
        want_shift, want_center = edges[2] is not None, edges[3] is not None
        dx, sum_g, sum_gx = backend.of(x).channel_affine_backward(g, x, scale, center, want_x)
        if want_x and ctx.as_shape is not None:
            dx = dx.reshape(ctx.shapes[0])
        return (dx if want_x else None, sum_gx if want_scale else None,
                sum_g if want_shift else None, -scale * sum_g if want_center else None)


def _check_channels(op, x, as_shape=None):
    if x.ndim < 2 and as_shape is None:   # (read as a shape: _as_shape checks that one)
        raise InvalidArgument(f"{op}: expected an input with at least 2 dimensions (N, C, ...), "
                              f"got shape {x.shape}")
    if x.array.dtype.kind != "f":
        raise InvalidDtype(f"{op}: expected a floating point tensor, got {x.dtype!r}")


def _as_shape(op, x, as_shape):
    """The shape ``x`` is read as (``as_shape``, -1 resolved; x's own when None): the
    channel primitives treat x as if reshaped to it, without a recorded reshape."""
    if as_shape is None:
        return tuple(x.array.shape)
    try:
        shape = x.array.reshape(as_shape).shape   # (a view or a copy: only its shape is kept)
    except (ValueError, TypeError):
        raise InvalidArgument(f"{op}: cannot read an input of shape {tuple(x.shape)} as "
                              f"shape {tuple(as_shape)}") from None
    if len(shape) < 2:
        raise InvalidArgument(f"{op}: as_shape must have at least 2 dimensions (N, C, ...), "
                              f"got {tuple(as_shape)}")
    return shape


def channel_moments(x, as_shape=None):
    """Per-channel (mean, biased variance) of ``x`` (N, C, ...), each of shape (C,).
    ``as_shape``: read x as this shape (LayerNorm's rows as channels: (1, -1, D))."""
    _check_channels("channel_moments", x, as_shape)
    if as_shape is None:
        return ChannelMoments.apply(x)
    _as_shape("channel_moments", x, as_shape)
    return ChannelMoments.apply(x, as_shape=tuple(as_shape))


def channel_affine(x, scale, shift=None, center=None, as_shape=None):
    """``(x - center[c]) * scale[c] + shift[c]`` over channel axis 1; ``scale``, ``shift``
    and ``center`` are (C,) tensors of x's dtype (``shift`` and ``center`` default to 0).
    ``as_shape``: read x as this shape (channel axis 1 of it); the result has x's shape."""
    _check_channels("channel_affine", x, as_shape)
    C = _as_shape("channel_affine", x, as_shape)[1]
    zeros = None
    if shift is None or center is None:
        zeros = constant(backend.of(x.array).xp.zeros(C, dtype=x.array.dtype))
    shift = zeros if shift is None else shift
    center = zeros if center is None else center
    for name, v in (("scale", scale), ("shift", shift), ("center", center)):
        if v.array.shape != (C,):
            raise InvalidArgument(f"channel_affine: {name} must have shape ({C},) for an input of "
                                  f"shape {x.shape}, got {v.shape}")
        if v.array.dtype != x.array.dtype:
            raise InvalidDtype(f"channel_affine: {name} is {v.dtype!r} but the input is "
                               f"{x.dtype!r}")
    if as_shape is None:
        return ChannelAffine.apply(x, scale, shift, center)
    return ChannelAffine.apply(x, scale, shift, center, as_shape=tuple(as_shape))
