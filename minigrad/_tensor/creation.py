"""New tensors like this one: ``new_zeros``, ``new_ones``, ``new_full``, ``new_empty``,
``new_tensor`` take this tensor's dtype and device unless told otherwise (PyTorch's rule);
they never require grad unless asked."""

_ops = _inplace = None   # bound by minigrad.tensor (see minigrad._tensor)


class CreationMixin:
    __slots__ = ()

    def new_zeros(self, *size, dtype=None, device=None, requires_grad=False):
        from minigrad import creation
        return creation.new_like(self, "new_zeros", size, 0, dtype, device, requires_grad)

    def new_ones(self, *size, dtype=None, device=None, requires_grad=False):
        from minigrad import creation
        return creation.new_like(self, "new_ones", size, 1, dtype, device, requires_grad)

    def new_empty(self, *size, dtype=None, device=None, requires_grad=False):
        from minigrad import creation
        return creation.new_like(self, "new_empty", size, None, dtype, device, requires_grad)

    def new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad=False):
        from minigrad import creation
        return creation.new_like(self, "new_full", size, fill_value, dtype, device,
                                 requires_grad, size_is_one_arg=True)

    def new_tensor(self, data, *, dtype=None, device=None, requires_grad=False):
        from minigrad import creation
        return creation.tensor(data, dtype=self.dtype if dtype is None else dtype,
                               device=self.device if device is None else device,
                               requires_grad=requires_grad)
