"""Padding layers: reflection, replication, circular, zero and constant padding of the last
1, 2 or 3 dims, each a module over ``F.pad``. ``padding`` is an int (the same on every
side) or PyTorch's (left, right, top, bottom, front, back) tuple."""
from minigrad.nn import functional as F
from minigrad.nn.modules.module import Module


class _PadNd(Module):
    _mode = None
    _dims = None

    def __init__(self, padding):
        super().__init__()
        self.padding = tuple(padding) if isinstance(padding, (tuple, list)) \
            else (padding,) * (2 * self._dims)

    def forward(self, input):
        return F.pad(input, self.padding, self._mode)

    def extra_repr(self):
        return f"{self.padding}"


class _ConstantPadNd(_PadNd):
    _mode = "constant"

    def __init__(self, padding, value):
        super().__init__(padding)
        self.value = value

    def forward(self, input):
        return F.pad(input, self.padding, "constant", self.value)

    def extra_repr(self):
        return f"padding={self.padding}, value={self.value}"


class _ZeroPadNd(_ConstantPadNd):
    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self):
        return f"{self.padding}"


def _family(base, mode, stem):
    return tuple(type(f"{stem}{n}d", (base,), {"_mode": mode, "_dims": n,
                                               "__module__": __name__,
                                               "__doc__": f"{stem} of the last {n} dim(s)."})
                 for n in (1, 2, 3))


ReflectionPad1d, ReflectionPad2d, ReflectionPad3d = _family(_PadNd, "reflect", "ReflectionPad")
ReplicationPad1d, ReplicationPad2d, ReplicationPad3d = _family(_PadNd, "replicate",
                                                               "ReplicationPad")
CircularPad1d, CircularPad2d, CircularPad3d = _family(_PadNd, "circular", "CircularPad")
ConstantPad1d, ConstantPad2d, ConstantPad3d = _family(_ConstantPadNd, "constant", "ConstantPad")
ZeroPad1d, ZeroPad2d, ZeroPad3d = _family(_ZeroPadNd, "constant", "ZeroPad")
