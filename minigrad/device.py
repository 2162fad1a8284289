"""Devices: where a tensor's array lives, decided by the array's type."""
import numpy as np

from minigrad import dtypes
from minigrad.backend import DEVICE_TYPES


class device:
    __slots__ = ("type", "index")

    def __init__(self, spec="cpu", index=None):
        if isinstance(spec, device):
            spec, index = spec.type, spec.index
        kind, _, idx = str(spec).partition(":")
        if kind not in DEVICE_TYPES:
            raise ValueError(f"unknown device {spec!r}; expected 'cpu' or 'cuda'")
        self.type = kind
        self.index = int(idx) if idx else index

    def __eq__(self, other):
        if isinstance(other, str):
            other = device(other)
        return isinstance(other, device) and (self.type, self.index or 0) == \
            (other.type, other.index or 0)

    def __hash__(self):
        return hash((self.type, self.index or 0))

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self):
        return f"device(type='{self.type}'" + \
            ("" if self.index is None else f", index={self.index}") + ")"


_CPU = device("cpu")


def device_of(array):
    if isinstance(array, np.ndarray):
        return _CPU
    from minigrad import backend
    be = backend.of(array)
    return device(be.device_type, be.device_index(array))


def parse_to_args(args, dtype=None, device=None):
    """Sort ``.to(...)``'s positional arguments into (dtype, device), as PyTorch accepts
    ``x.to("cpu")``, ``x.to(mg.float64)`` and both."""
    for a in args:
        if isinstance(a, (dtypes.dtype, np.dtype, type)):
            dtype = a
        else:
            device = a
    return dtype, device
