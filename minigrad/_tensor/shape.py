"""Shapes and layout: reshaping, permuting, broadcasting, slicing into views, splitting and
repeating; strides and contiguity."""

from minigrad.device import check_memory_format

_ops = _inplace = None   # bound by minigrad.tensor (see minigrad._tensor)


class ShapeMixin:
    __slots__ = ()

    def reshape(self, *shape): return _ops.reshape(self, *shape)
    def view(self, *shape): return _ops.view(self, *shape)
    def view_as(self, other): return _ops.view(self, other.shape)
    def reshape_as(self, other): return _ops.reshape(self, other.shape)
    def flatten(self, start_dim=0, end_dim=-1): return _ops.flatten(self, start_dim, end_dim)
    def unflatten(self, dim, sizes): return _ops.unflatten(self, dim, sizes)
    def squeeze(self, dim=None, **aliases): return _ops.squeeze(self, dim, **aliases)
    def unsqueeze(self, dim=None, **aliases): return _ops.unsqueeze(self, dim, **aliases)
    def transpose(self, dim0, dim1): return _ops.transpose(self, dim0, dim1)
    swapaxes = swapdims = transpose
    def permute(self, *dims): return _ops.permute(self, *dims)
    def movedim(self, source, destination): return _ops.movedim(self, source, destination)
    moveaxis = movedim
    def expand(self, *sizes): return _ops.expand(self, *sizes)
    def expand_as(self, other): return _ops.broadcast_to(self, other.shape)
    def broadcast_to(self, shape): return _ops.broadcast_to(self, shape)
    def narrow(self, dim=None, start=None, length=None, **aliases):
        return _ops.narrow(self, dim, start, length, **aliases)
    def unfold(self, dimension, size, step): return _ops.unfold(self, dimension, size, step)
    def repeat(self, *sizes): return _ops.repeat(self, *sizes)
    def tile(self, dims): return _ops.tile(self, dims)
    def flip(self, dims): return _ops.flip(self, dims)
    def roll(self, shifts, dims=None): return _ops.roll(self, shifts, dims)
    def split(self, split_size, dim=0): return _ops.split(self, split_size, dim)
    def chunk(self, chunks, dim=0, **aliases): return _ops.chunk(self, chunks, dim, **aliases)
    def unbind(self, dim=0, **aliases): return _ops.unbind(self, dim, **aliases)

    def contiguous(self, memory_format=None):
        """This tensor when its elements are laid out in row-major order already (as in
        PyTorch, the same object), else a row-major copy, recorded for autograd."""
        check_memory_format("contiguous", memory_format)
        return _ops.contiguous(self)

    def is_contiguous(self, memory_format=None):
        """Whether the elements are laid out in row-major order, PyTorch's rule: strides of
        dims of size 1 do not matter, and an empty tensor is contiguous."""
        check_memory_format("is_contiguous", memory_format)
        return _ops.is_contiguous(self)

    def data_ptr(self):
        """The address of the first element (0 for an empty tensor, as in PyTorch): equal
        for tensors that share memory from the same start."""
        a = self.array
        if a.size == 0:
            return 0
        return a.ctypes.data if hasattr(a, "ctypes") else int(a.data.ptr)

    def element_size(self):
        """Bytes per element."""
        return self.array.dtype.itemsize

    @property
    def itemsize(self):
        return self.array.dtype.itemsize

    @property
    def nbytes(self):
        return self.array.dtype.itemsize * self.array.size

    def stride(self, dim=None):
        """The step in elements between neighbours along each dim (or along ``dim``). The
        layout is the array's own: NumPy's (views share their base's strides), which for
        tensors from factories, ``contiguous()`` and ``clone()`` is PyTorch's."""
        return _ops.stride(self, dim)
