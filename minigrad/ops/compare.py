"""Operations without a gradient: comparisons, logical not, argmax/argmin. Their results
are constants, never part of a graph."""
from minigrad.ops._common import constant, normalize_dim, pair, xp_of


def _compare(name):
    def op(a, b):
        a, b = pair(a, b)
        return constant(getattr(xp_of(a.array), name)(a.array, b.array))
    op.__name__ = name
    return op


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


def argmax(a, dim=None, keepdim=False):
    return _arg("argmax", a, dim, keepdim)


def argmin(a, dim=None, keepdim=False):
    return _arg("argmin", a, dim, keepdim)
