"""Reductions. A reduction the backend calls a channel reduction (on CPU: every axis but 1
of a float array, BatchNorm's shape) runs on its per-channel kernels; anything else on
``xp``."""
import collections
import math

from minigrad import backend, dtypes
from minigrad.autograd.graph import Primitive
from minigrad.errors import InvalidDtype
from minigrad.ops._common import cast, constant, dim_aliases, normalize_dims, reduce_args, xp_of
from minigrad.ops.compare import argmax, argmin
from minigrad.ops.arithmetic import add, maximum, minimum, mul, sub, true_divide as div, where
from minigrad.ops.transcendental import exp, log
from minigrad.ops.shape import broadcast_to, reshape
from minigrad.tensor import Tensor

max_result = collections.namedtuple("max_result", ["values", "indices"])


def _is_channel_reduction(a, dims):
    """Whether the backend runs this reduction on its per-channel kernels (its policy)."""
    return backend.of(a).is_channel_reduction(a, dims)


def _count(shape, dims):
    return math.prod(shape[d] for d in dims)


def _keepdim_shape(shape, dims):
    return tuple(1 if i in dims else s for i, s in enumerate(shape))


def _expand_back(ctx, g):
    """Broadcast a reduced gradient back over the reduced axes."""
    shape = ctx.shapes[0]
    return broadcast_to(reshape(g, _keepdim_shape(shape, ctx.dims)), shape)


def _finish(ctx, out, a, dims, keepdim):
    ctx.dims = dims
    if keepdim:
        return out.reshape(_keepdim_shape(a.shape, dims))
    return out


class Sum(Primitive):
    @staticmethod
    def forward(ctx, a, dims, keepdim):
        if _is_channel_reduction(a, dims):
            out = backend.of(a).channel_sum(a)
        else:
            out = backend.of(a).xp.sum(a, axis=dims)
        return _finish(ctx, out, a, dims, keepdim)

    @staticmethod
    def backward(ctx, g):
        return _expand_back(ctx, g)


class Mean(Primitive):
    @staticmethod
    def forward(ctx, a, dims, keepdim):
        ctx.n = n = _count(a.shape, dims)
        if _is_channel_reduction(a, dims):
            out = backend.of(a).channel_sum(a) / a.dtype.type(n)
        else:
            out = backend.of(a).xp.mean(a, axis=dims)
        return _finish(ctx, out, a, dims, keepdim)

    @staticmethod
    def backward(ctx, g):
        return div(_expand_back(ctx, g), ctx.n)


class Var(Primitive):
    """Variance with ``correction`` (1: unbiased, 0: biased). d var / dx = 2 (x - mean) / (n - c)."""
    save_inputs = True

    @staticmethod
    def forward(ctx, a, dims, keepdim, correction, whole=False):
        n = _count(a.shape, dims)
        ctx.scale = 2.0 / (n - correction) if n != correction else float("inf")
        # PyTorch's rule for a whole-tensor variance with n <= correction: the gradient is
        # NaN where x equals the mean, inf elsewhere (its sign ignored), times the gradient
        ctx.degenerate = whole and n <= correction
        be = backend.of(a)
        if _is_channel_reduction(a, dims):
            ctx.mean, out = be.channel_moments(a)
            if correction:  # (n == correction: 0/0, NaN as in PyTorch)
                out = out * a.dtype.type(n / (n - correction) if n != correction else float("nan"))
        else:
            out = be.xp.var(a, axis=dims, ddof=correction)
            ctx.mean = None
        return _finish(ctx, out, a, dims, keepdim)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.inputs
        if ctx.degenerate:
            xp = backend.of(a.array).xp
            at_mean = a.array == xp.mean(a.array)
            return mul(_expand_back(ctx, g), constant(xp.where(at_mean, xp.nan, xp.inf)
                                                      .astype(a.array.dtype)))
        centered = sub(a, mean(a, ctx.dims, keepdim=True))
        return mul(mul(_expand_back(ctx, g), centered), ctx.scale)

    @staticmethod
    def backward_arrays(ctx, g):
        if ctx.degenerate or ctx.mean is None:
            return NotImplemented
        # the per-channel variance (the moments kernel kept the mean): one pass,
        # (x - mean[c]) * (scale * g[c])
        a = ctx.inputs[0].array
        gc = g.reshape(-1) * a.dtype.type(ctx.scale)
        be = backend.of(a)
        return be.channel_affine(a, gc, be.xp.zeros_like(gc), ctx.mean)


class Std(Var):
    """sqrt(var), whose gradient is var's times 1 / (2 std), defined as 0 where std is 0
    (a constant input), as in PyTorch: the chain rule through sqrt would give 0 * inf."""
    save_output = True

    @staticmethod
    def forward(ctx, a, dims, keepdim, correction, whole=False):
        return backend.of(a).xp.sqrt(Var.forward(ctx, a, dims, keepdim, correction, whole))

    @staticmethod
    def backward(ctx, g):
        std = ctx.output
        zero = constant(std.array == 0)
        g = where(zero, 0, div(g, mul(where(zero, 1, std), 2)))
        return Var.backward(ctx, g)

    @staticmethod
    def backward_arrays(ctx, g):
        if ctx.degenerate or ctx.mean is None:
            return NotImplemented
        std = ctx.output.array
        xp = backend.of(std).xp
        zero = std == 0
        return Var.backward_arrays(ctx, xp.where(zero, 0, g / (xp.where(zero, 1, std) * 2))
                                   .astype(g.dtype, copy=False))


class Amax(Primitive):
    """amax/amin: the gradient is shared evenly among the elements that tie for the extreme."""
    op_name = "amax/amin"

    @staticmethod
    def forward(ctx, a, dims, keepdim, take_min=False):
        xp = xp_of(a)
        empty = [d for d in dims if a.shape[d] == 0]
        if empty:   # PyTorch's rule: only reducing over an empty dimension is an error
            raise IndexError(f"{'amin' if take_min else 'amax'}(): Expected reduction dim "
                             f"{empty[0]} to have non-zero size")
        out = (xp.amin if take_min else xp.amax)(a, axis=dims, keepdims=True)
        hit = (a == out).astype(a.dtype)
        ctx.weight = hit / hit.sum(axis=dims, keepdims=True)
        ctx.dims = dims
        return out if keepdim else out.reshape([s for i, s in enumerate(out.shape) if i not in dims])

    @staticmethod
    def backward(ctx, g):
        return mul(_expand_back(ctx, g), constant(ctx.weight))


# ---------------------------------------------------------------- functions

def sum(a, dim=None, keepdim=False, *, axis=None, keepdims=None):
    dim, keepdim = reduce_args("sum", dim, axis, keepdim, keepdims)
    return Sum.apply(a, dims=normalize_dims("sum", dim, a.ndim), keepdim=keepdim)


def mean(a, dim=None, keepdim=False, *, axis=None, keepdims=None):
    dim, keepdim = reduce_args("mean", dim, axis, keepdim, keepdims)
    if a.array.dtype.kind != "f":
        raise InvalidDtype(f"mean: expected a floating point tensor, got {a.dtype!r}")
    return Mean.apply(a, dims=normalize_dims("mean", dim, a.ndim), keepdim=keepdim)


def _correction(correction, unbiased):
    if unbiased is not None:
        return 1 if unbiased else 0
    return correction


def _spread(cls, name, a, dim, keepdim, correction, unbiased, axis, keepdims):
    dim, keepdim = reduce_args(name, dim, axis, keepdim, keepdims)
    if a.array.dtype.kind != "f":
        raise InvalidDtype(f"{name}: expected a floating point tensor, got {a.dtype!r}")
    return cls.apply(a, dims=normalize_dims(name, dim, a.ndim), keepdim=keepdim,
                     correction=_correction(correction, unbiased),
                     whole=dim is None or a.ndim == 0)


def var(a, dim=None, keepdim=False, *, correction=1, unbiased=None, axis=None,
        keepdims=None):
    return _spread(Var, "var", a, dim, keepdim, correction, unbiased, axis, keepdims)


def std(a, dim=None, keepdim=False, *, correction=1, unbiased=None, axis=None,
        keepdims=None):
    return _spread(Std, "std", a, dim, keepdim, correction, unbiased, axis, keepdims)


def amax(a, dim=None, keepdim=False, *, axis=None, keepdims=None):
    dim, keepdim = reduce_args("amax", dim, axis, keepdim, keepdims)
    return Amax.apply(a, dims=normalize_dims("amax", dim, a.ndim), keepdim=keepdim)


def amin(a, dim=None, keepdim=False, *, axis=None, keepdims=None):
    dim, keepdim = reduce_args("amin", dim, axis, keepdim, keepdims)
    return Amax.apply(a, dims=normalize_dims("amin", dim, a.ndim), keepdim=keepdim,
                      take_min=True)


def _max_like(a, dim, keepdim, reduce, arg, pairwise):
    if isinstance(dim, Tensor):  # torch.max(a, b) is the elementwise maximum
        return pairwise(a, dim)
    if dim is None:
        return reduce(a)
    if not isinstance(dim, int):
        return reduce(a, dim, keepdim)
    return max_result(reduce(a, dim, keepdim), arg(a, dim, keepdim))


def max(a, dim=None, keepdim=False, *, axis=None, keepdims=None):
    dim, keepdim = reduce_args("max", dim, axis, keepdim, keepdims)
    """``max(a)`` → tensor; ``max(a, dim)`` → (values, indices) as in PyTorch; ``max(a, b)``
    → elementwise maximum. The values' gradient is shared evenly among ties (like amax)."""
    return _max_like(a, dim, keepdim, amax, argmax, maximum)


def min(a, dim=None, keepdim=False, *, axis=None, keepdims=None):
    dim, keepdim = reduce_args("min", dim, axis, keepdim, keepdims)
    return _max_like(a, dim, keepdim, amin, argmin, minimum)


def sum_to(t, shape):
    """Sum a broadcast gradient back down to ``shape`` (the engine's un-broadcasting)."""
    have = t.array.shape
    lead = len(have) - len(shape)
    dims = tuple(range(lead)) + tuple(lead + i for i, s in enumerate(shape)
                                      if s == 1 and have[lead + i] != 1)
    if dims:
        t = sum(t, dims, keepdim=True)
    return reshape(t, shape) if t.array.shape != tuple(shape) else t


def logsumexp(a, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """log(sum(exp(a))) over ``dim``, shifted by the max so that exp cannot overflow. The
    shift is a constant: the gradient (softmax) does not depend on it. An infinite max is
    not shifted (inf - inf would be NaN), as in PyTorch. A composite, so it is
    differentiable to any order."""
    dim, keepdim = reduce_args("logsumexp", dim, axis, keepdim, keepdims)
    if dim is None:
        raise TypeError("logsumexp() missing 1 required positional argument: 'dim'")
    if a.array.dtype.kind != "f":
        a = cast(a, dtypes.default_float)
    dims = normalize_dims("logsumexp", dim, a.ndim)
    xp = xp_of(a.array)
    shape = _keepdim_shape(a.shape, dims)
    if a.array.size == 0:
        shift = xp.zeros(shape, dtype=a.array.dtype)
    else:
        shift = xp.amax(a.array, axis=dims, keepdims=True)
        shift = xp.where(xp.isinf(shift), a.array.dtype.type(0), shift)
    shift = constant(shift)
    out = add(log(sum(exp(sub(a, shift)), dims, keepdim=True)), shift)
    return out if keepdim else reshape(out, [s for i, s in enumerate(a.shape) if i not in dims])


def _moments(name, spread, input, dim, unbiased, keepdim, correction, axis, keepdims):
    dim, keepdim = reduce_args(name, dim, axis, keepdim, keepdims)
    if isinstance(dim, bool):   # the (input, unbiased) overload
        dim, unbiased = None, dim
    if correction is None:
        correction = 1
    return (spread(input, dim, keepdim, correction=correction, unbiased=unbiased),
            mean(input, dim, keepdim))


def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None,
             keepdims=None):
    """(std, mean) over ``dim``, with std's ``correction`` (or the older ``unbiased``); all
    of PyTorch's overloads: (input, dim, *, correction, keepdim), (input, unbiased),
    (input, dim, unbiased, keepdim)."""
    return _moments("std_mean", std, input, dim, unbiased, keepdim, correction, axis, keepdims)


def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None,
             keepdims=None):
    """(var, mean) over ``dim``; the overloads of ``std_mean``."""
    return _moments("var_mean", var, input, dim, unbiased, keepdim, correction, axis, keepdims)


def _softmax_dim(input, dim):
    if dim is None:  # PyTorch's legacy implicit choice
        return 0 if input.ndim in (0, 1, 3) else 1
    return dim


def _max_shift(input, dim):
    """The max along ``dim``, kept, as a constant: shifting by it keeps exp from
    overflowing, and neither softmax nor log-softmax depends on the shift, so no gradient
    needs to flow through it."""
    return constant(xp_of(input.array).amax(input.array, axis=dim, keepdims=True))


def softmax(input, dim=None, dtype=None, *, axis=None):
    """exp(x) / sum(exp(x)) along ``dim``, after a cast to ``dtype`` (torch.softmax and
    ``F.softmax``; a composite, so its gradient comes from the engine)."""
    dim = _softmax_dim(input, dim_aliases("softmax", dim, axis))
    if dtype is not None:
        input = cast(input, dtype)
    e = exp(input - _max_shift(input, dim))
    return e / e.sum(dim, keepdim=True)


def log_softmax(input, dim=None, dtype=None, *, axis=None):
    """x - log(sum(exp(x))) along ``dim``, after a cast to ``dtype`` (torch.log_softmax and
    ``F.log_softmax``)."""
    dim = _softmax_dim(input, dim_aliases("log_softmax", dim, axis))
    if dtype is not None:
        input = cast(input, dtype)
    shifted = input - _max_shift(input, dim)
    return shifted - log(exp(shifted).sum(dim, keepdim=True))
