"""Activations added beside those in ``nn.functional``: PReLU, threshold, and PyTorch's
in-place functional forms (``relu_`` ...), each the out-of-place function with
``inplace=True`` (the rules of every in-place op apply)."""
from minigrad import ops
from minigrad.nn import functional as F


def prelu(input, weight):
    """max(0, x) + weight * min(0, x), one weight for all channels or one per channel
    (dim 1; a 1-D input has one channel). At 0 the gradient is PyTorch's: ``weight`` for
    the input, 0 for the weight."""
    if weight.ndim > 1:
        raise RuntimeError(f"prelu: Expected `weight` to be a scalar or 1D tensor, but got: "
                           f"ndim = {weight.ndim}")
    n, C = weight.numel(), (input.shape[1] if input.ndim >= 2 else 1)
    if n != 1 and n != C:
        raise RuntimeError(f"prelu: Mismatch of parameter numbers and input channel size. "
                           f"Found parameter numbers = {n} and channel size = {C}.")
    w = ops.reshape(weight, () if n == 1 else (C,) + (1,) * (input.ndim - 2))
    return ops.where(input > 0, input, w * input)


def threshold(input, threshold, value, inplace=False):
    """``input`` where it is greater than ``threshold``, else ``value``."""
    return F._maybe_inplace("threshold", input, inplace,
                            lambda x: ops.where(x > threshold, x, value))


_threshold = threshold  # (the argument of threshold_ shadows the function's name)


def threshold_(input, threshold, value):
    return _threshold(input, threshold, value, inplace=True)


def relu_(input):
    return F.relu(input, inplace=True)


def elu_(input, alpha=1.0):
    return F.elu(input, alpha, inplace=True)


def celu_(input, alpha=1.0):
    return F.celu(input, alpha, inplace=True)


def selu_(input):
    return F.selu(input, inplace=True)


def leaky_relu_(input, negative_slope=0.01):
    return F.leaky_relu(input, negative_slope, inplace=True)


def hardtanh_(input, min_val=-1.0, max_val=1.0):
    return F.hardtanh(input, min_val, max_val, inplace=True)
