"""Helpers every op family uses: operand conversion, dtype promotion, dim normalization."""
import numbers

import numpy as np

from minigrad import backend, dtypes
from minigrad.tensor import Tensor


def backend_of(t):
    return backend.of(t.array)


def xp_of(array):
    """The array namespace (NumPy or CuPy) that owns ``array``."""
    return backend.of(array).xp


def constant(array):
    """A tensor that is never part of a graph (masks, comparison results, indices)."""
    return Tensor._make(array)


def constant_of(name, fn, a, b):
    """``fn(a.array, b.array)`` as a constant, for the ops without a gradient (comparisons,
    bitwise ops, isclose). Shapes that do not broadcast raise our error, a RuntimeError as
    PyTorch's, naming the op and the shapes as a primitive's does (not NumPy's bare one)."""
    try:
        return constant(fn(a.array, b.array))
    except (ValueError, TypeError) as e:
        from minigrad.autograd.graph import op_error
        raise op_error(name, (a, b), e) from None


def as_tensor(x, like=None):
    """``x`` as a Tensor; Python scalars take ``like``'s dtype (as in PyTorch, a Python
    number does not promote a tensor's float dtype) and live on ``like``'s device."""
    if isinstance(x, Tensor):
        return x
    if type(x) is float and like is not None and like.array.dtype.kind == "f":
        # the common case (y * 0.5), without the slower checks below
        return Tensor._make(backend.of(like.array).xp.asarray(x, dtype=like.array.dtype))
    if isinstance(x, (numbers.Number, np.bool_)) and like is not None:
        ld = like.array.dtype
        if isinstance(x, (bool, np.bool_)) or (isinstance(x, numbers.Integral) and ld.kind != "b"):
            dt = ld
        elif isinstance(x, numbers.Integral):
            dt = np.int64
        else:
            dt = ld if ld.kind == "f" else dtypes.default_float.np
        return Tensor._make(backend.of(like.array).xp.asarray(x, dtype=dt))
    if isinstance(x, numbers.Number):
        return Tensor._make(np.asarray(x, dtype=dtypes.infer_numpy_dtype(np.asarray(x).dtype)))
    if isinstance(x, np.ndarray):
        return Tensor._make(x)
    return Tensor(x)


def pair(a, b, op=None):
    """Two operands as tensors of one result dtype.

    NumPy's promotion already agrees with PyTorch's except in two cases, cast here: an
    integer tensor meeting a float one takes the float dtype (NumPy: float32 + int64 is
    float64), and a 0-d tensor does not promote a dimensioned one of its own category
    (PyTorch: float32 (4, 3) * float64 () is float32).

    ``op`` (a name) is given by the ops that are no recorded primitive (comparisons, bitwise
    and logical ops): two tensors on two devices are then refused here, with PyTorch's
    error; a primitive's inputs are checked when it runs.
    """
    if not isinstance(a, Tensor):
        a = as_tensor(a, b)
    elif not isinstance(b, Tensor):
        b = as_tensor(b, a)
    elif op is not None and type(a.array) is not type(b.array):
        from minigrad.autograd.graph import check_one_device
        check_one_device(op, (a, b))
    da, db = a.array.dtype, b.array.dtype
    if da is not db and da != db:  # (bool meets float without a cast: NumPy keeps the float)
        if da.kind in "iu" and db.kind == "f":
            a = cast(a, db)
        elif db.kind in "iu" and da.kind == "f":
            b = cast(b, da)
        elif da.kind == db.kind and (a.ndim == 0) != (b.ndim == 0):
            a, b = (cast(a, db), b) if a.ndim == 0 else (a, cast(b, da))
    return a, b


def cast(t, dtype):
    from minigrad.ops.arithmetic import Cast
    np_dtype = dtypes.to_numpy_dtype(dtype)
    if t.array.dtype == np_dtype:
        return t
    return Cast.apply(t, dtype=np_dtype)


def normalize_dims(op, dim, ndim):
    """``dim`` (None, int or tuple) as a sorted tuple of non-negative axes."""
    if dim is None:
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, numbers.Integral) else tuple(dim)
    out = []
    for d in dims:
        d = int(d)
        if not -max(ndim, 1) <= d < max(ndim, 1):
            raise IndexError(f"{op}: dim {d} is out of range for a tensor with {ndim} "
                             f"dimension{'s' if ndim != 1 else ''}")
        if ndim:  # (a 0-d tensor takes dim 0 or -1, as in PyTorch, and has nothing to reduce)
            out.append(d % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: dim {dim} names an axis more than once")
    return tuple(sorted(out))


def normalize_dim(op, dim, ndim):
    """One axis, allowing negative values, checked against ``ndim``."""
    if not -ndim <= dim < ndim:
        raise IndexError(f"{op}: dim {dim} is out of range for a tensor with {ndim} dimensions")
    return dim % ndim


def shape_arg(shape):
    """Accept f(2, 3) and f((2, 3)) alike."""
    if len(shape) == 1 and not isinstance(shape[0], numbers.Integral):
        shape = shape[0]
    return tuple(int(s) for s in shape)


def reduce_args(op, dim, axis, keepdim, keepdims):
    """A reduction's (dim, keepdim), each given under its PyTorch or NumPy name."""
    return dim_aliases(op, dim, axis), keepdim if keepdims is None else keepdims


def dim_aliases(op, dim, axis):
    """``dim`` or its NumPy-style alias ``axis`` (PyTorch accepts either, not both)."""
    if axis is None:
        return dim
    if dim is not None:
        raise TypeError(f"{op}() got both dim={dim!r} and its alias axis={axis!r}")
    return axis
