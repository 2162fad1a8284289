"""Dropout: elementwise and whole channels, inverted (kept values scaled by 1/(1-p)).

Elementwise dropout's mask comes from the backend (``dropout_mask``): a counter-based
generator seeded by one draw from the global (or vmap's) generator, so ``manual_seed``
reproduces it, in one threaded pass. Drawing float64 uniforms with NumPy, comparing and
converting took 13 % of a TransformerEncoderLayer training step."""
from minigrad import backend, rng
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
    draw = rng.generator(input.device)   # (drawn where input is)
    dtype = input.array.dtype
    if rng.scope is None and dtype.kind == "f":
        # one seed from the generator, then the backend's counter-based mask in one pass
        seed = int(draw.integers(0, 2 ** 62))
        mask = backend.of(input.array).dropout_mask(input.array, p, seed)
    else:   # under vmap the randomness mode decides what each draw covers: draw uniforms
        keep = draw.random(input.shape) >= p
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
