"""Top-level forms of Tensor methods that PyTorch also has as ``torch.X(tensor, ...)``
(in-place ones included), and ``is_tensor``."""
from minigrad._tensor.inplace import UNARY_INPLACE
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


def detach_(input):
    return input.detach_()


def squeeze_(input, dim=None):
    return input.squeeze_(dim)


def unsqueeze_(input, dim):
    return input.unsqueeze_(dim)


def _inplace_function(name):
    def function(input):
        return getattr(input, name)()
    function.__name__ = function.__qualname__ = name
    function.__doc__ = f"``input.{name}()``."
    return function


# torch.exp_(t) and friends: the top-level forms of the in-place unary math that PyTorch
# has (not sign_, sgn_ or erfinv_, which are methods only)
INPLACE_FUNCTIONS = tuple(f"{n}_" for n in UNARY_INPLACE if n not in ("sign", "sgn", "erfinv"))
for _name in INPLACE_FUNCTIONS:
    globals()[_name] = _inplace_function(_name)
