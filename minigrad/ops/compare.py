"""Operations without a gradient: comparisons, the bitwise and logical operators, the
floating-point classification tests (isnan, isinf, isfinite), argmax/argmin. Their results
are constants, never part of a graph."""
from minigrad import dtypes
from minigrad.ops._common import (as_tensor, constant, constant_of, dim_aliases, normalize_dim,
                                  pair, xp_of)
from minigrad.tensor import Tensor


def _compare(name):
    def op(a, b):
        a, b = pair(a, b, TORCH_NAMES[name])
        return constant_of(TORCH_NAMES[name], getattr(xp_of(a.array), name), a, b)
    op.__name__ = name
    return op


TORCH_NAMES = {"equal": "eq", "not_equal": "ne", "less": "lt", "less_equal": "le",
               "greater": "gt", "greater_equal": "ge"}
eq = _compare("equal")
ne = _compare("not_equal")
lt = _compare("less")
le = _compare("less_equal")
gt = _compare("greater")
ge = _compare("greater_equal")


def logical_not(a):
    return constant(xp_of(a.array).logical_not(a.array))


def bitwise_not(a):
    """``~a``: bitwise not of an integer tensor, logical not of a boolean one (PyTorch)."""
    kind = a.array.dtype.kind
    if kind == "b":
        return logical_not(a)
    if kind not in "iu":
        raise TypeError(f"~ (bitwise_not) is only implemented on integer and boolean tensors, "
                        f"got {a.dtype!r}")
    return constant(xp_of(a.array).invert(a.array))


def _bitwise(name, ufunc):
    def op(input, other):
        if not isinstance(input, Tensor) and not isinstance(other, Tensor):
            raise TypeError(f"{name}(): expected at least one tensor")
        a, b = pair(input, other, name)
        for t in (a, b):
            if t.array.dtype.kind not in "iub":
                raise TypeError(f'"{name}_cpu" not implemented for '
                                f"'{dtypes.scalar_name(t.array.dtype)}': {name} takes integer "
                                f"and bool tensors")
        return constant_of(name, getattr(xp_of(a.array), ufunc), a, b)
    op.__name__ = name
    op.__doc__ = (f"``{name}(input, other)``: elementwise, on integer and bool tensors "
                  f"(broadcast; a Python number takes the tensor's dtype).")
    return op


bitwise_and = _bitwise("bitwise_and", "bitwise_and")
bitwise_or = _bitwise("bitwise_or", "bitwise_or")
bitwise_xor = _bitwise("bitwise_xor", "bitwise_xor")


def _classify(name, test, integer_answer):
    def op(input):
        a = as_tensor(input).array
        xp = xp_of(a)
        if a.dtype.kind != "f":   # integers and bools are finite and never NaN
            return constant(xp.full(a.shape, integer_answer, dtype=bool))
        return constant(getattr(xp, test)(a))
    op.__name__ = name
    return op


isnan = _classify("isnan", "isnan", False)
isinf = _classify("isinf", "isinf", False)
isfinite = _classify("isfinite", "isfinite", True)


def _arg(name, a, dim, keepdim):
    xp = xp_of(a.array)
    if a.array.size == 0 and dim is None:
        raise IndexError(f"{name}(): Expected reduction dim to be specified for "
                         f"input.numel() == 0.")
    if dim is not None and a.ndim and a.shape[normalize_dim(name, dim, a.ndim)] == 0:
        raise IndexError(f"{name}(): Expected reduction dim {dim} to have non-zero size")
    if dim is None:
        out = getattr(xp, name)(a.array.reshape(-1))
        return constant(xp.asarray(out, dtype=xp.int64).reshape((1,) * a.ndim if keepdim else ()))
    d = normalize_dim(name, dim, max(a.ndim, 1)) if a.ndim else 0
    out = getattr(xp, name)(a.array, axis=d, keepdims=keepdim) if a.ndim else xp.asarray(0)
    return constant(xp.asarray(out, dtype=xp.int64))


def argmax(a, dim=None, keepdim=False, *, axis=None, keepdims=None):
    return _arg("argmax", a, dim_aliases("argmax", dim, axis),
                keepdim if keepdims is None else keepdims)


def argmin(a, dim=None, keepdim=False, *, axis=None, keepdims=None):
    return _arg("argmin", a, dim_aliases("argmin", dim, axis),
                keepdim if keepdims is None else keepdims)
