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


class memory_format:
    """PyTorch's memory formats. minigrad keeps every tensor row-major (its kernels read
    NCHW), so ``.to``/``.contiguous`` take ``preserve_format`` and ``contiguous_format``
    and refuse ``channels_last`` by name rather than pretend to change the layout."""
    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return f"minigrad.{self.name}"


preserve_format = memory_format("preserve_format")
contiguous_format = memory_format("contiguous_format")
channels_last = memory_format("channels_last")
channels_last_3d = memory_format("channels_last_3d")


def check_memory_format(op, fmt):
    if fmt is None or fmt is preserve_format or fmt is contiguous_format:
        return
    if isinstance(fmt, memory_format):
        raise RuntimeError(f"{op}: memory_format={fmt!r} is not supported: minigrad keeps "
                           f"tensors row-major (NCHW), which its kernels read")
    raise TypeError(f"{op}: memory_format must be a minigrad memory format, got {fmt!r}")


def parse_to_args(args, dtype=None, device=None):
    """Sort ``.to(...)``'s positional arguments into (dtype, device), as PyTorch accepts
    ``x.to("cpu")``, ``x.to(mg.float64)``, both, ``x.to(other)`` (other's dtype and
    device) and a positional ``non_blocking`` flag after them (ignored: copies here are
    synchronous)."""
    from minigrad.tensor import Tensor
    for a in args:
        if isinstance(a, bool):
            continue
        if isinstance(a, Tensor):
            dtype, device = a.dtype, a.device
        elif isinstance(a, (dtypes.dtype, np.dtype, type)):
            dtype = a
        else:
            device = a
    return dtype, device
