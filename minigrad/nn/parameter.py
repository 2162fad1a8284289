import numpy as np

from minigrad.tensor import Tensor


class Parameter(Tensor):
    """A leaf tensor that a Module registers as trainable when assigned as an attribute."""

    __slots__ = ()

    def __init__(self, data=None, requires_grad=True):
        if data is None:
            data = np.empty(0, dtype=np.float32)
        super().__init__(data.array if isinstance(data, Tensor) else data, requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()
