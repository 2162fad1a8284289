"""``mg.Size``: PyTorch's ``torch.Size``, the type of ``Tensor.shape`` and ``size()``. A
tuple of ints (it compares equal to the plain tuple and unpacks like one) that keeps its
type through slicing, ``+`` and ``*``, and has ``numel()``.

``repr``/``str``/``print`` show ``minigrad.Size([2, 3])`` as PyTorch does; one deliberate
difference: in an f-string or ``format()`` with no format spec it shows as the tuple,
``(2, 3)``, which is how minigrad's error messages (and NumPy's) show shapes."""
import math
import numbers


class Size(tuple):
    __slots__ = ()

    def __new__(cls, sizes=()):
        if type(sizes) is tuple:   # (the shapes ops hand over: ints already)
            return tuple.__new__(cls, sizes)
        out = []
        for i, s in enumerate(sizes):
            if not isinstance(s, numbers.Integral) and not _is_integer_tensor(s):
                raise TypeError(f"minigrad.Size() takes an iterable of 'int' (item {i} is "
                                f"'{type(s).__name__}')")
            out.append(int(s))
        return tuple.__new__(cls, out)

    def numel(self):
        """The number of elements a tensor of this shape has."""
        return math.prod(self)

    def __getitem__(self, index):
        out = tuple.__getitem__(self, index)
        return Size(out) if isinstance(index, slice) else out

    def __add__(self, other):
        if not isinstance(other, tuple):
            return NotImplemented
        return Size(tuple.__add__(self, other))

    def __radd__(self, other):
        if not isinstance(other, tuple):
            return NotImplemented
        return Size(tuple.__add__(other, self))

    def __mul__(self, n):
        return Size(tuple.__mul__(self, n))

    __rmul__ = __mul__

    def __repr__(self):
        return f"minigrad.Size({list(self)})"

    __str__ = __repr__

    def __format__(self, format_spec):
        return tuple.__repr__(self) if not format_spec else tuple.__format__(self, format_spec)

    def __reduce__(self):
        return (Size, (tuple(self),))


def _is_integer_tensor(s):
    from minigrad.tensor import Tensor
    return isinstance(s, Tensor) and s.array.dtype.kind in "iu" and s.array.size == 1
