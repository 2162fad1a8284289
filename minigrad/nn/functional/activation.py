"""Activations: the elementwise nonlinearities, softmax and log-softmax, and PyTorch's
in-place functional forms (``relu_`` ...), each the out-of-place function with
``inplace=True`` (the rules of every in-place op apply).

Composites of primitives. Where PyTorch's gradient at a kink differs from what the
calculus of the composite would give, the composite is arranged to give PyTorch's: a
``clamp`` passes the gradient at its bound, ``minimum`` halves it there, and a ``where``
whose branches are both smooth passes the chosen branch's. Branches not taken never see
an overflowed exp (its argument is clamped first), whose inf would turn a zero gradient
into NaN."""
import math

import numpy as np

from minigrad import ops
from minigrad.errors import InvalidArgument
from minigrad.ops._common import constant, xp_of
from minigrad.nn.functional._utils import _maybe_inplace


def relu(input, inplace=False):
    return _maybe_inplace("relu", input, inplace, ops.relu)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    return _maybe_inplace("leaky_relu", input, inplace,
                          lambda x: ops.where(x > 0, x, x * negative_slope))


def sigmoid(input):
    return ops.sigmoid(input)


def tanh(input):
    return ops.tanh(input)


def gelu(input, approximate="none"):
    if approximate == "none":
        return input * 0.5 * (ops.erf(input * (1 / math.sqrt(2))) + 1)
    if approximate == "tanh":
        inner = (input + input ** 3 * 0.044715) * math.sqrt(2 / math.pi)
        return input * 0.5 * (ops.tanh(inner) + 1)
    raise InvalidArgument(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    return ops.log_softmax(input, dim, dtype)


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    return ops.softmax(input, dim, dtype)


def silu(input, inplace=False):
    return _maybe_inplace("silu", input, inplace, lambda x: x * ops.sigmoid(x))


def _elu(input, alpha, scale, input_scale):
    """scale * (x if x > 0 else alpha * (exp(x * input_scale) - 1)): ELU, SELU and CELU.
    At 0 the gradient is the negative side's, scale * alpha * input_scale, as in PyTorch."""
    negative = ops.expm1(ops.clamp(input, max=0) * input_scale) * (alpha * scale)
    return ops.where(input > 0, input * scale if scale != 1 else input, negative)


def elu(input, alpha=1.0, inplace=False):
    return _maybe_inplace("elu", input, inplace, lambda x: _elu(x, alpha, 1.0, 1.0))


_SELU_ALPHA = 1.6732632423543772848170429916717


_SELU_SCALE = 1.0507009873554804934193349852946


def selu(input, inplace=False):
    return _maybe_inplace("selu", input, inplace,
                          lambda x: _elu(x, _SELU_ALPHA, _SELU_SCALE, 1.0))


def celu(input, alpha=1.0, inplace=False):
    if alpha == 0:
        raise ValueError("celu: alpha must not be 0 (ZeroDivisionError)")
    return _maybe_inplace("celu", input, inplace, lambda x: _elu(x, alpha, 1.0, 1.0 / alpha))


def softplus(input, beta=1.0, threshold=20.0):
    """log(1 + exp(beta x)) / beta, and x itself where beta x > threshold (PyTorch's
    switch to the linear function, which the exp would otherwise overflow before)."""
    scaled = input * beta
    smooth = ops.log1p(ops.exp(ops.clamp(scaled, max=threshold))) / beta
    return ops.where(scaled > threshold, input, smooth)


def _clipped(input, lo, hi):
    """clamp(x, lo, hi) with PyTorch's hardtanh gradient: 1 strictly inside, 0 at and
    beyond the bounds."""
    x = input.array
    inside = constant((x > lo) & (x < hi))
    return ops.where(inside, input, constant(xp_of(x).clip(x, lo, hi)))


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val ({min_val}) cannot be greater than max_val "
                         f"({max_val})")
    return _maybe_inplace("hardtanh", input, inplace, lambda x: _clipped(x, min_val, max_val))


def relu6(input, inplace=False):
    return _maybe_inplace("relu6", input, inplace, lambda x: _clipped(x, 0.0, 6.0))


def hardswish(input, inplace=False):
    """x * relu6(x + 3) / 6; gradient x / 3 + 1/2 on [-3, 3), 0 up to -3, 1 from 3 on
    (PyTorch's ends)."""
    return _maybe_inplace("hardswish", input, inplace, _hardswish)


def _hardswish(x):
    return ops.where(x <= -3, 0.0, ops.where(x < 3, x * (x + 3) / 6, x))


# PyTorch's hardsigmoid gradient is 1/6 rounded to float32 in every dtype
_ONE_SIXTH_F32 = float(np.float32(1.0) / np.float32(6.0))


def hardsigmoid(input, inplace=False):
    """relu6(x + 3) / 6 = clamp(x / 6 + 1/2, 0, 1); gradient PyTorch's float32 1/6 strictly
    inside (-3, 3), 0 elsewhere. The value is computed exactly and the gradient carried by
    a term that is exactly 0: x * c - (x * c as a constant)."""
    return _maybe_inplace("hardsigmoid", input, inplace, _hardsigmoid)


def _hardsigmoid(input):
    x = input.array
    xp = xp_of(x)
    value = constant(xp.clip((x + 3) / 6, 0, 1).astype(x.dtype, copy=False))
    inside = constant((x > -3) & (x < 3))
    slope = input * _ONE_SIXTH_F32
    return value + ops.where(inside, slope - constant(slope.array), 0.0)


def mish(input, inplace=False):
    return _maybe_inplace("mish", input, inplace, lambda x: x * ops.tanh(softplus(x)))


def logsigmoid(input):
    """log(sigmoid(x)) = min(x, 0) - log(1 + exp(-|x|)), as two smooth branches whose exp
    arguments are never positive."""
    positive = -ops.log1p(ops.exp(-ops.clamp(input, min=0)))
    negative = input - ops.log1p(ops.exp(ops.clamp(input, max=0)))
    return ops.where(input >= 0, positive, negative)


def softsign(input):
    return input / (ops.abs(input) + 1)


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
    return _maybe_inplace("threshold", input, inplace,
                            lambda x: ops.where(x > threshold, x, value))


_threshold = threshold  # (the argument of threshold_ shadows the function's name)


def threshold_(input, threshold, value):
    return _threshold(input, threshold, value, inplace=True)


def relu_(input):
    return relu(input, inplace=True)


def elu_(input, alpha=1.0):
    return elu(input, alpha, inplace=True)


def celu_(input, alpha=1.0):
    return celu(input, alpha, inplace=True)


def selu_(input):
    return selu(input, inplace=True)


def leaky_relu_(input, negative_slope=0.01):
    return leaky_relu(input, negative_slope, inplace=True)


def hardtanh_(input, min_val=-1.0, max_val=1.0):
    return hardtanh(input, min_val, max_val, inplace=True)
