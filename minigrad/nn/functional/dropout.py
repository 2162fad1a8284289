"""Dropout: elementwise and whole channels, inverted (kept values scaled by 1/(1-p))."""
from minigrad import rng
from minigrad.errors import InvalidArgument
from minigrad.ops._common import constant, xp_of
from minigrad.nn.functional._utils import _maybe_inplace


def dropout(input, p=0.5, training=True, inplace=False):
    """Inverted dropout: kept elements are scaled by 1/(1-p) in training; identity in eval."""
    if not 0 <= p <= 1:
        raise InvalidArgument(f"dropout: probability has to be between 0 and 1, but got {p}")
    if not training or p == 0:
        return input
    if p == 1:
        return _maybe_inplace("dropout", input, inplace, lambda x: x * 0, False)
    keep = rng.generator(input.device).random(input.shape) >= p   # (drawn where input is)
    dtype = input.array.dtype
    mask = xp_of(input.array).asarray(keep, dtype=dtype) * dtype.type(1 / (1 - p))
    return _maybe_inplace("dropout", input, inplace, lambda x: x * constant(mask), False)


def dropout2d(input, p=0.5, training=True, inplace=False):
    """Channel dropout: each (sample, channel) plane is zeroed with probability ``p``, the
    rest scaled by 1/(1-p). A 3-D input is (N, C, L), as PyTorch reads it."""
    if not 0 <= p <= 1:
        raise ValueError(f"dropout2d: probability has to be between 0 and 1, but got {p}")
    if input.ndim not in (3, 4):
        raise ValueError(f"dropout2d: expected a 3-D or 4-D input, got shape {input.shape}")
    if not training or p == 0:
        return input
    if p == 1:
        return _maybe_inplace("dropout2d", input, inplace, lambda x: x * 0, False)
    shape = input.shape[:2] + (1,) * (input.ndim - 2)
    keep = rng.generator(input.device).random(shape) >= p
    mask = xp_of(input.array).asarray(keep * (1 / (1 - p)), dtype=input.array.dtype)
    return _maybe_inplace("dropout2d", input, inplace, lambda x: x * constant(mask), False)
