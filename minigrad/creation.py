"""Tensor factories with PyTorch's names and dtype rules: Python floats become float32,
integers int64, and a NumPy float array keeps its dtype (float64 stays float64)."""
import numbers

import numpy as np

from minigrad import backend, dtypes, rng
from minigrad.errors import InvalidArgument
from minigrad.ops._common import shape_arg
from minigrad.tensor import Tensor


def _xp(device):
    """The array namespace that allocates on ``device`` (NumPy for None, the host)."""
    return np if device is None else backend.for_device(device).xp


def _finish(array, dtype, requires_grad, device):
    if dtype is not None:
        array = array.astype(dtypes.to_numpy_dtype(dtype), copy=False)
    if device is not None:
        array = backend.move(array, device)   # (explicit: the one host/GPU copy)
    return Tensor(array, requires_grad=requires_grad)


def tensor(data, dtype=None, requires_grad=False, device=None):
    """A new tensor holding a copy of ``data`` (list, scalar, NumPy array or tensor)."""
    if isinstance(data, np.generic):      # a NumPy scalar keeps its dtype, as a 0-d array
        data = np.asarray(data)
    if isinstance(data, Tensor):
        array = data.array.copy()
    elif isinstance(data, np.ndarray) or backend.is_array(data):   # (or a device array)
        array = data.astype(dtypes.infer_numpy_dtype(data.dtype)) if dtype is None else data.copy()
    else:
        tensor_dtypes = []
        if isinstance(data, (list, tuple)):
            data = _nested_scalars(data, tensor_dtypes)
        array = np.asarray(data)
        if dtype is None:
            array = array.astype(dtypes.infer_numpy_dtype(
                _list_dtype(data, tensor_dtypes) if tensor_dtypes else
                np.dtype(dtypes.default_float.np) if array.dtype.kind == "f" else array.dtype))
    return _finish(array, dtype, requires_grad, device)


def _nested_scalars(data, tensor_dtypes):
    """``data``, nested lists or tuples, checked to be rectangular, with one-element tensors
    in it as their values (as torch.tensor takes them; their dtypes are appended to
    ``tensor_dtypes``, as are NumPy scalars', which torch treats the same way). A tensor
    with more elements is refused: PyTorch does, and ``stack`` is the way to join
    tensors."""
    shape = []

    def walk(seq, dim):
        if dim == len(shape):
            shape.append(len(seq))
        elif len(seq) != shape[dim]:
            raise ValueError(f"tensor(): ragged nested sequence: expected a sequence of length "
                             f"{shape[dim]} at dim {dim} (got {len(seq)}); every list at one "
                             f"depth must have the same length")
        if not any(issubclass(t, (list, tuple, Tensor, np.generic)) for t in set(map(type, seq))):
            if seq and dim + 1 < len(shape) and shape[dim + 1] is not None:
                raise _scalar_vs_sequence(dim + 1)
            if seq and dim + 1 == len(shape):
                shape.append(None)                   # numbers only: the fast, common case
            return seq
        out = []
        for item in seq:
            if isinstance(item, (list, tuple)):
                if dim + 1 < len(shape) and shape[dim + 1] is None:
                    raise _scalar_vs_sequence(dim + 1)
                out.append(walk(item, dim + 1))
                continue
            if dim + 1 < len(shape) and shape[dim + 1] is not None:
                raise _scalar_vs_sequence(dim + 1)
            if isinstance(item, Tensor):
                if item.numel() != 1:
                    raise ValueError(
                        f"tensor(): got a list holding a tensor of shape {item.shape}; only "
                        f"one-element tensors can be converted to numbers in a list. To join "
                        f"tensors into a new dimension use mg.stack(tensors) (or mg.cat to "
                        f"concatenate along an existing one)")
                item = item.array.reshape(())
                tensor_dtypes.append(item.dtype)
            elif isinstance(item, np.generic):
                tensor_dtypes.append(item.dtype)
            if dim + 1 == len(shape):
                shape.append(None)                   # scalars at this depth
            out.append(item)
        return out

    return walk(data, 0)


def _list_dtype(nested, tensor_dtypes):
    """PyTorch's dtype for a list holding one-element tensors: their dtypes and those of
    the Python numbers beside them (float: the default float, int: int64, bool: bool)
    promoted, a float dtype winning over any integer one."""
    numbers = []

    def leaves(seq):
        for item in seq:
            if isinstance(item, (list, tuple)):
                leaves(item)
            elif not isinstance(item, (np.ndarray, np.generic)):   # (counted as tensors)
                numbers.append(item)

    leaves(nested)
    kinds = list(tensor_dtypes)
    if numbers:
        d = np.asarray(numbers).dtype
        kinds.append(np.dtype(dtypes.default_float.np) if d.kind == "f" else d)
    result = kinds[0]
    for d in kinds[1:]:
        if (result.kind == "f") != (d.kind == "f"):
            result = result if result.kind == "f" else d
        else:
            result = np.promote_types(result, d)
    return result


def _scalar_vs_sequence(dim):
    return ValueError(f"tensor(): ragged nested sequence: found both numbers and sequences at "
                      f"dim {dim}")


def from_numpy(array):
    """A tensor sharing memory with ``array`` (a subclass such as ``np.memmap`` too: the
    tensor holds a plain-ndarray view of the same memory)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}")
    dtypes.infer_numpy_dtype(array.dtype)  # (refuses the dtypes minigrad does not have)
    return Tensor(array)


def as_tensor(data, dtype=None, device=None):
    """``data`` as a tensor, sharing memory where it can (PyTorch's rule): a tensor of the
    asked dtype and device is returned as it is, a NumPy array of a minigrad dtype (or a
    subclass, such as ``np.memmap``) is wrapped without a copy when no other dtype or
    device is asked; anything else (lists, numbers, conversions) is copied, as ``tensor``
    would."""
    if isinstance(data, Tensor):
        out = data
        if device is not None:
            out = out.to(device)
        return out if dtype is None else out.to(dtype)
    if isinstance(data, np.ndarray) and device in (None, "cpu") \
            and (dtype is None or dtypes.to_numpy_dtype(dtype) == data.dtype):
        dtypes.infer_numpy_dtype(data.dtype)   # (refuses the dtypes minigrad does not have)
        return Tensor(data)
    if backend.is_array(data) and dtype is None and device is None:
        return Tensor(data)
    return tensor(data, dtype=dtype, device=device)


def _size(size, op):
    """A creation function's size: non-negative ints (PyTorch raises RuntimeError)."""
    shape = shape_arg(size)
    if any(n < 0 for n in shape):
        raise InvalidArgument(f"{op}: Dimension size must be non-negative, got size {shape}")
    return shape


def _float_dtype(dtype):
    return dtypes.default_float.np if dtype is None else dtypes.to_numpy_dtype(dtype)


def zeros(*size, dtype=None, requires_grad=False, device=None):
    return _finish(_xp(device).zeros(_size(size, "zeros"), _float_dtype(dtype)), None, requires_grad,
                   device)


def ones(*size, dtype=None, requires_grad=False, device=None):
    return _finish(_xp(device).ones(_size(size, "ones"), _float_dtype(dtype)), None, requires_grad,
                   device)


def empty(*size, dtype=None, requires_grad=False, device=None):
    return _finish(_xp(device).empty(_size(size, "empty"), _float_dtype(dtype)), None, requires_grad,
                   device)


def full(size, fill_value, dtype=None, requires_grad=False, device=None):
    if dtype is None:
        dtype = dtypes.infer_numpy_dtype(np.asarray(fill_value).dtype) \
            if not isinstance(fill_value, float) else dtypes.default_float.np
    return _finish(_xp(device).full(_size((size,), "full"), fill_value, dtypes.to_numpy_dtype(dtype)), None,
                   requires_grad, device)


def _like(t, fill, dtype, requires_grad):
    dt = t.array.dtype if dtype is None else dtypes.to_numpy_dtype(dtype)
    xp = backend.of(t.array).xp
    return Tensor(xp.full(t.shape, fill, dtype=dt), requires_grad=requires_grad)


def empty_like(input, *, dtype=None, device=None, requires_grad=False):
    """An uninitialized tensor of input's shape (and dtype and device, unless given)."""
    np_dtype = input.array.dtype if dtype is None else dtypes.to_numpy_dtype(dtype)
    device = input.device if device is None else device
    xp = backend.for_device(device).xp
    return _finish(xp.empty(input.shape, dtype=np_dtype), None, requires_grad, device)


def new_like(t, op, size, fill, dtype, device, requires_grad, size_is_one_arg=False):
    """``t.new_zeros(size)`` and its siblings: ``fill`` (None: uninitialized) in ``size``,
    with t's dtype and device unless given."""
    if size_is_one_arg and isinstance(size, numbers.Integral):
        raise TypeError(f"{op}(): argument 'size' (position 1) must be tuple of ints, not int")
    shape = _size((size,) if size_is_one_arg else size, op)
    np_dtype = t.array.dtype if dtype is None else dtypes.to_numpy_dtype(dtype)
    device = t.device if device is None else device
    xp = backend.for_device(device).xp
    array = xp.empty(shape, dtype=np_dtype) if fill is None else \
        xp.full(shape, fill, dtype=np_dtype)
    return _finish(array, None, requires_grad, device)


def zeros_like(t, dtype=None, requires_grad=False):
    return _like(t, 0, dtype, requires_grad)


def ones_like(t, dtype=None, requires_grad=False):
    return _like(t, 1, dtype, requires_grad)


def full_like(t, fill_value, dtype=None, requires_grad=False):
    return _like(t, fill_value, dtype, requires_grad)


def arange(start, end=None, step=1, dtype=None, requires_grad=False, device=None):
    if end is None:
        start, end = 0, start
    if dtype is None:
        is_int = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
        dtype = np.int64 if is_int else dtypes.default_float.np
    return _finish(_xp(device).arange(start, end, step, dtype=dtypes.to_numpy_dtype(dtype)), None,
                   requires_grad, device)


def linspace(start, end, steps, dtype=None, requires_grad=False, device=None):
    """``steps`` evenly spaced values from ``start`` to ``end``, computed as PyTorch's scalar
    loop does (in the result's float dtype, the first half counted up from ``start`` and the
    second half down from ``end``, so both ends are exact; integer dtypes truncate). PyTorch's
    SIMD loop picks the half per vector block and so differs from this in the last bit near
    the middle, by an amount that depends on the CPU's vector width."""
    steps = int(steps)
    if steps < 0:
        raise RuntimeError(f"linspace: number of steps must be non-negative, got {steps}")
    np_dtype = _float_dtype(dtype)
    work = np_dtype if np_dtype.kind == "f" else np.dtype(np.float64)
    start, end = work.type(start), work.type(end)
    if steps == 1:
        values = np.full(1, start, dtype=work)
    else:
        idx = np.arange(steps)
        step = (end - start) / work.type(max(steps - 1, 1))
        values = np.where(idx < steps // 2, start + step * idx.astype(work),
                          end - step * (steps - 1 - idx).astype(work)).astype(work)
    return _finish(values.astype(np_dtype), None, requires_grad, device)


def eye(n, m=None, dtype=None, requires_grad=False, device=None):
    return _finish(_xp(device).eye(n, m, dtype=_float_dtype(dtype)), None, requires_grad, device)


def randn(*size, generator=None, dtype=None, requires_grad=False, device=None):
    draw = rng.generator(device, generator)
    return _finish(draw.standard_normal(_size(size, "randn"), dtype=_float_dtype(dtype)), None,
                   requires_grad, device)


def rand(*size, generator=None, dtype=None, requires_grad=False, device=None):
    draw = rng.generator(device, generator)
    return _finish(draw.random(_size(size, "rand"), dtype=_float_dtype(dtype)), None,
                   requires_grad, device)


def randint(low, high=None, size=None, *, generator=None, dtype=None, requires_grad=False,
            device=None):
    """torch.randint's two forms: ``randint(high, size)`` and ``randint(low, high, size)``;
    the integers in [low, high), int64 unless ``dtype`` says otherwise."""
    if size is None:
        if high is None or not isinstance(high, (tuple, list)):
            raise TypeError(f"randint: expected a size, as randint(high, size) or "
                            f"randint(low, high, size); got low={low!r}, high={high!r}")
        low, high, size = 0, low, high
    elif high is None:                               # randint(high, size=...)
        low, high = 0, low
    if low >= high:
        raise RuntimeError(f"randint: expected low < high to draw from [low, high), got "
                           f"low={low}, high={high}")
    out = rng.generator(device, generator).integers(low, high, size=shape_arg((size,)),
                                                    dtype=np.int64)
    return _finish(_xp(device).asarray(out), dtype, requires_grad, device)
