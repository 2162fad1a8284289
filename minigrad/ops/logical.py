"""Reductions to truth values and closeness tests: all, any, isclose, allclose, equal.
Their results are bool constants (or Python bools), never part of a graph."""
from minigrad.ops._common import constant, constant_of, normalize_dims, pair, reduce_args, xp_of
from minigrad.tensor import Tensor


def _truth(op, input, dim, keepdim, axis, keepdims):
    dim, keepdim = reduce_args(op, dim, axis, keepdim, keepdims)
    dims = normalize_dims(op, dim, input.ndim)
    xp = xp_of(input.array)
    out = getattr(xp, op)(input.array != 0, axis=dims, keepdims=keepdim)
    return constant(xp.asarray(out))


def all(input, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """Whether every element (over ``dim``, an int or tuple) is nonzero; a bool tensor."""
    return _truth("all", input, dim, keepdim, axis, keepdims)


def any(input, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """Whether some element (over ``dim``, an int or tuple) is nonzero; a bool tensor."""
    return _truth("any", input, dim, keepdim, axis, keepdims)


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """|input - other| <= atol + rtol * |other| elementwise (infinities close only to
    themselves, NaN to NaN only with ``equal_nan``). As in PyTorch, both must have one dtype."""
    if isinstance(input, Tensor) and isinstance(other, Tensor) and input.dtype != other.dtype:
        raise RuntimeError(f"isclose: {input.dtype!r} did not match {other.dtype!r}")
    a, b = pair(input, other, "isclose")
    xp = xp_of(a.array)
    return constant_of("isclose", lambda x, y: xp.isclose(x, y, rtol=rtol, atol=atol,
                                                          equal_nan=equal_nan), a, b)


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """Whether isclose holds everywhere; a Python bool."""
    return bool(isclose(input, other, rtol, atol, equal_nan).array.all())


def equal(input, other):
    """Whether both have the same shape and the same values (dtypes may differ: values
    compare after promotion, as in PyTorch); a Python bool. NaN is equal to nothing."""
    if not isinstance(input, Tensor) or not isinstance(other, Tensor):
        bad = other if isinstance(input, Tensor) else input
        raise TypeError(f"equal(): argument 'other' must be Tensor, not {type(bad).__name__}")
    if input.shape != other.shape:
        return False
    a, b = pair(input, other, "equal")
    return bool((a.array == b.array).all())
