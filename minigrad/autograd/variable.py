"""``Variable``: PyTorch's legacy wrapper, kept for old code. Since PyTorch 0.4 a Variable
is a Tensor: ``Variable(t)`` returns a tensor sharing t's memory (requiring grad when
asked), and every tensor is an instance of ``Variable``."""
from minigrad.tensor import Tensor


class _VariableMeta(type):
    def __instancecheck__(cls, obj):
        return isinstance(obj, Tensor)

    def __subclasscheck__(cls, sub):
        return issubclass(sub, Tensor)


class Variable(metaclass=_VariableMeta):
    """``Variable(data, requires_grad=False, volatile=False)``: a Tensor (a new one sharing
    ``data``'s memory, a leaf). ``volatile`` is accepted and, as in PyTorch, ignored."""

    def __new__(cls, data=None, requires_grad=False, volatile=False):
        if data is None:
            from minigrad.creation import empty
            return empty(0, requires_grad=requires_grad)
        if not isinstance(data, Tensor):
            raise TypeError(f"Variable data has to be a tensor, but got "
                            f"{type(data).__name__}")
        return Tensor(data.array, requires_grad=requires_grad)
