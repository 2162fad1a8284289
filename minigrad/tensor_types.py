"""PyTorch's legacy tensor types (``FloatTensor``, ``LongTensor``, ...), which real code
still uses in three ways: as constructors (``LongTensor([1, 2])``, ``FloatTensor(2, 3)``),
as ``isinstance`` targets (a CPU tensor of that dtype), and as ``.type()`` targets
(``x.type(mg.LongTensor)``). They are not subclasses of Tensor, as in PyTorch."""
import numbers

import numpy as np

from minigrad import dtypes
from minigrad.size import Size
from minigrad.tensor import Tensor


class _TensorType(type):
    """The metaclass: ``isinstance`` checks a tensor's dtype and device; calling the class
    builds a tensor."""

    def __instancecheck__(cls, obj):
        return isinstance(obj, Tensor) and isinstance(obj.array, np.ndarray) \
            and obj.array.dtype == cls.dtype.np

    def __repr__(cls):
        return f"<class 'minigrad.{cls.__name__}'>"

    def __call__(cls, *args, device=None):
        if device is not None and str(device) != "cpu":
            raise RuntimeError(f"legacy constructor expects device type: cpu but device type: "
                               f"{device} was passed")
        return _construct(cls, args)


def _construct(cls, args):
    np_dtype = cls.dtype.np
    if not args:
        return Tensor(np.empty(0, dtype=np_dtype))
    if len(args) == 1 and isinstance(args[0], Tensor):
        t = args[0]
        if t.array.dtype != np_dtype:
            raise TypeError(f"expected {cls.dtype!r} (got {t.dtype!r}); convert with "
                            f"t.to({cls.dtype!r}) or t.type(minigrad.{cls.__name__})")
        return t
    if all(isinstance(a, numbers.Integral) and not isinstance(a, bool) for a in args) or \
            len(args) == 1 and isinstance(args[0], Size):
        shape = tuple(args[0]) if isinstance(args[0], Size) else tuple(int(a) for a in args)
        bad = [s for s in shape if s < 0]
        if bad:
            raise RuntimeError(f"Trying to create tensor with negative dimension {bad[0]}: "
                               f"{list(shape)}")
        return Tensor(np.empty(shape, dtype=np_dtype))   # uninitialized, as in PyTorch
    if len(args) != 1:
        raise TypeError(f"{cls.__name__}(): expected sizes (ints) or one sequence of data, got "
                        f"{', '.join(type(a).__name__ for a in args)}")
    from minigrad.creation import tensor
    data = args[0]
    if isinstance(data, np.ndarray):
        return Tensor(np.array(data, dtype=np_dtype))
    return tensor(data, dtype=cls.dtype)


def _legacy(name, dtype):
    return _TensorType(name, (), {"dtype": dtype, "__module__": "minigrad",
                                  "__doc__": f"PyTorch's legacy {name}: {dtype!r} on the CPU."})


FloatTensor = _legacy("FloatTensor", dtypes.float32)
DoubleTensor = _legacy("DoubleTensor", dtypes.float64)
HalfTensor = _legacy("HalfTensor", dtypes.float16)
ByteTensor = _legacy("ByteTensor", dtypes.uint8)
CharTensor = _legacy("CharTensor", dtypes.int8)
ShortTensor = _legacy("ShortTensor", dtypes.int16)
IntTensor = _legacy("IntTensor", dtypes.int32)
LongTensor = _legacy("LongTensor", dtypes.int64)
BoolTensor = _legacy("BoolTensor", dtypes.bool_)
