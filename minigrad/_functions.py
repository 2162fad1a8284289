"""Top-level forms of Tensor methods that PyTorch also has as ``torch.X(tensor, ...)``
(in-place ones included), and ``is_tensor``."""
from minigrad.tensor import Tensor


def is_tensor(obj):
    """Whether ``obj`` is a minigrad Tensor (a Parameter included)."""
    return isinstance(obj, Tensor)


def t(input):
    return input.t()


def swapaxes(input, axis0, axis1):
    return input.transpose(axis0, axis1)


def swapdims(input, dim0, dim1):
    return input.transpose(dim0, dim1)


def sin_(input):
    return input.sin_()


def sqrt_(input):
    return input.sqrt_()


def neg_(input):
    return input.neg_()


def detach_(input):
    return input.detach_()


def squeeze_(input, dim=None):
    return input.squeeze_(dim)


def unsqueeze_(input, dim):
    return input.unsqueeze_(dim)
