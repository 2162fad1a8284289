"""Vector and matrix norms (``torch.linalg.vector_norm``, ``matrix_norm``, ``norm``): all
composites of reductions, abs, pow (``ops.linalg.vector_norm``) and the singular values, so
their gradients come from the engine; where a norm is 0 its gradient is 0, as in
PyTorch."""
import math
import numbers

from minigrad.dtypes import scalar_name
from minigrad.errors import InvalidArgument, InvalidDtype
from minigrad.ops._common import cast, normalize_dims
from minigrad.ops.arithmetic import abs
from minigrad.ops.linalg import vector_norm as _vector_norm
from minigrad.ops.matrix import svdvals
from minigrad.ops.reduce import amax, amin, sum
from minigrad.ops.shape import permute, reshape


def _real_ord(op, ord):
    if isinstance(ord, bool) or not isinstance(ord, numbers.Real):
        raise TypeError(f"{op}(): argument 'ord' (position 2) must be Number, not "
                        f"{type(ord).__name__}")
    return float(ord)


def _float_input(op, x, dtype):
    if dtype is not None:
        x = cast(x, dtype)
    if x.array.dtype.kind != "f":
        raise InvalidDtype(f"{op}: Expected a floating point or complex tensor as input. Got "
                           f"{scalar_name(x.array.dtype)}")
    return x


def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None):
    """``torch.linalg.vector_norm``: the ``ord``-norm of ``x`` over ``dim`` (all of it by
    default) as a vector: ``inf``/``-inf`` the largest/smallest magnitude, 0 the number of
    nonzeros (with a zero gradient), else ``sum(|x|^ord)^(1/ord)`` (the composite is
    ``ops.linalg``'s, which ``torch.norm`` shares)."""
    p = _real_ord("linalg_vector_norm", ord)
    x = _float_input("linalg.vector_norm", x, dtype)
    return _vector_norm(x, p, normalize_dims("linalg.vector_norm", dim, x.ndim), keepdim)


_MATRIX_ORDS = ("fro", "nuc", math.inf, -math.inf, 1, -1, 2, -2)


def matrix_norm(a, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None):
    """``torch.linalg.matrix_norm``: 'fro' (Frobenius), 'nuc' (sum of singular values),
    ``inf``/``-inf`` (max/min absolute row sum), 1/-1 (max/min absolute column sum), 2/-2
    (largest/smallest singular value), over the two dimensions ``dim``."""
    if a.ndim < 2:
        raise InvalidArgument("linalg.matrix_norm: The input tensor A must have at least 2 "
                              "dimensions.")
    if isinstance(dim, numbers.Integral) or len(tuple(dim)) != 2:
        shown = dim if isinstance(dim, numbers.Integral) else " ".join(map(str, dim))
        raise InvalidArgument(f"linalg.matrix_norm: dim must be a 2-tuple. Got {shown}")
    if ord not in _MATRIX_ORDS:
        raise InvalidArgument(f"linalg.matrix_norm: Order {ord} not supported.")
    a = _float_input("linalg.matrix_norm", a, dtype)
    d0, d1 = (int(d) % a.ndim for d in dim)
    if d0 == d1:
        raise InvalidArgument(f"linalg.matrix_norm: dims must be different. Got ({dim[0]}, "
                              f"{dim[1]})")
    if ord == "fro":
        return _vector_norm(a, 2.0, tuple(sorted((d0, d1))), keepdim)
    rest = [k for k in range(a.ndim) if k not in (d0, d1)]
    m = permute(a, *rest, d0, d1)
    if ord == "nuc":
        out = sum(svdvals(m), -1)
    elif ord in (2, -2):
        s = svdvals(m)
        out = amax(s, -1) if ord == 2 else amin(s, -1)
    elif ord in (math.inf, -math.inf):
        rows = sum(abs(m), -1)
        out = amax(rows, -1) if ord > 0 else amin(rows, -1)
    else:
        cols = sum(abs(m), -2)
        out = amax(cols, -1) if ord > 0 else amin(cols, -1)
    if keepdim:
        shape = list(a.shape)
        shape[d0] = shape[d1] = 1
        out = reshape(out, tuple(shape))
    return out


def norm(a, ord=None, dim=None, keepdim=False, *, dtype=None):
    """``torch.linalg.norm``: a vector norm when ``dim`` is one dimension (or ``a`` is 1-D
    and ``dim`` is None), a matrix norm when it is two (or ``a`` is 2-D); with neither
    ``ord`` nor ``dim``, the 2-norm of ``a`` flattened."""
    if isinstance(ord, str):
        if dim is not None:
            dims = (dim,) if isinstance(dim, numbers.Integral) else tuple(dim)
            if len(dims) not in (1, 2):
                raise InvalidArgument(f"linalg.norm: If dim is specified, it must be of length 1 "
                                      f"or 2. Got {list(dims)}")
            dim = dims[0] if len(dims) == 1 else dims
        elif a.ndim not in (1, 2):
            raise InvalidArgument(f"linalg.norm: If dim is not specified but ord is, the input "
                                  f"must be 1D or 2D. Got {a.ndim}D.")
        return matrix_norm(a, ord, (0, 1) if dim is None else dim, keepdim, dtype=dtype)
    if ord is None:
        return vector_norm(a, 2, dim, keepdim, dtype=dtype)
    if dim is None:
        if a.ndim not in (1, 2):
            raise InvalidArgument(f"linalg.norm: If dim is not specified but ord is, the input "
                                  f"must be 1D or 2D. Got {a.ndim}D.")
        dims = (0,) if a.ndim == 1 else (0, 1)
    else:
        dims = (dim,) if isinstance(dim, numbers.Integral) else tuple(dim)
    if len(dims) == 1:
        return vector_norm(a, ord, dims, keepdim, dtype=dtype)
    if len(dims) != 2:
        raise InvalidArgument(f"linalg.norm: If dim is specified, it must be of length 1 or 2. "
                              f"Got {list(dims)}")
    return matrix_norm(a, ord, dims, keepdim, dtype=dtype)
