"""Parameter initialization, in place, with PyTorch's formulas and defaults.

Every function fills ``tensor.array`` from minigrad's global generator (``mg.manual_seed``)
without recording anything, and returns the tensor.
"""
import math
import warnings

import numpy as np

from minigrad import rng


def _fill(tensor, values):
    from minigrad import backend
    values = np.asarray(values, dtype=tensor.array.dtype)   # (drawn on the host)
    tensor.array[...] = backend.move(values, tensor.device)
    return tensor


def calculate_gain(nonlinearity, param=None):
    linear = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
              "conv_transpose3d", "sigmoid")
    if nonlinearity in linear:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def _calculate_fan_in_and_fan_out(tensor):
    if tensor.ndim < 2:
        raise ValueError(f"fan in and fan out need a tensor with at least 2 dimensions, got "
                         f"shape {tensor.shape}")
    receptive = math.prod(tensor.shape[2:])
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _fan(tensor, mode):
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def _floating(tensor, kernel):
    """Random fills take floating tensors only, as PyTorch's kernels."""
    if tensor.array.dtype.kind != "f":
        from minigrad.dtypes import scalar_name
        raise NotImplementedError(f'"{kernel}" not implemented for '
                                  f"'{scalar_name(tensor.array.dtype)}'")


def _range(a, b):
    if a > b:
        raise RuntimeError(f"uniform_ expects to return a [from, to) range, but found "
                           f"from={a:g} > to={b:g}")


def uniform_(tensor, a=0.0, b=1.0):
    _floating(tensor, "check_uniform_bounds")
    _range(a, b)
    return _fill(tensor, rng.generator().uniform(a, b, tensor.shape))


def normal_(tensor, mean=0.0, std=1.0):
    _floating(tensor, "normal_kernel_cpu")
    return _fill(tensor, rng.generator().normal(mean, std, tensor.shape))


def constant_(tensor, val):
    tensor.array[...] = val
    return tensor


def zeros_(tensor):
    return constant_(tensor, 0)


def ones_(tensor):
    return constant_(tensor, 1)


def xavier_uniform_(tensor, gain=1.0):
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound)


def xavier_normal_(tensor, gain=1.0):
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)))


def _zero_element(tensor):
    """PyTorch's kaiming initializers leave a tensor with no elements alone (with a warning):
    its fan is 0, and there is nothing to fill."""
    if tensor.array.size == 0:
        warnings.warn("Initializing zero-element tensors is a no-op", UserWarning, stacklevel=3)
        return True
    return False


def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu"):
    if _zero_element(tensor):
        return tensor
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(tensor, mode))
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound)


def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu"):
    if _zero_element(tensor):
        return tensor
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(tensor, mode))
    return normal_(tensor, 0.0, std)


def default_layer_init_(weight, bias):
    """What PyTorch's Linear and Conv layers do in reset_parameters(): weight from
    kaiming_uniform_(a=sqrt(5)), i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)), bias from the same
    range."""
    kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        fan_in, _ = _calculate_fan_in_and_fan_out(weight)
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
        uniform_(bias, -bound, bound)


def orthogonal_(tensor, gain=1, generator=None):
    """A (semi-)orthogonal matrix: the Q of the QR decomposition of a standard normal draw,
    its columns' signs fixed by R's diagonal (so Q is uniformly distributed), scaled by
    ``gain``; a tensor of more than 2 dims is filled as (shape[0], rest) flattened."""
    if tensor.ndim < 2:
        raise ValueError("Only tensors with 2 or more dimensions are supported")
    if tensor.array.size == 0:
        return tensor
    rows = tensor.shape[0]
    cols = tensor.array.size // rows
    flat = rng.generator(generator=generator).normal(0.0, 1.0, (rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q *= np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return _fill(tensor, (q * gain).reshape(tensor.shape))


def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0, generator=None):
    """N(mean, std^2) conditioned on [a, b]: a normal draw with the values outside redrawn
    when most of the mass is inside (as PyTorch), else uniform draws on [a, b] accepted in
    proportion to the density. (The numbers differ from PyTorch's for the same seed.)"""
    if mean < a - 2 * std or mean > b + 2 * std:
        warnings.warn("mean is more than 2 std from [a, b] in nn.init.trunc_normal_. The "
                      "distribution of values may be incorrect.", stacklevel=2)
    _floating(tensor, "normal_kernel_cpu")
    _range(a, b)
    draw = rng.generator(generator=generator)
    shape = tensor.shape

    def cdf(x):
        return (1.0 + math.erf(x / math.sqrt(2.0))) / 2.0

    out = np.empty(shape)
    todo = np.ones(shape, dtype=bool)
    if cdf((b - mean) / std) - cdf((a - mean) / std) > 0.3:
        while todo.any():
            out[todo] = draw.normal(mean, std, int(todo.sum()))
            todo &= (out < a) | (out > b)
    else:
        mode = max(a, min(mean, b))
        log_peak = -0.5 * ((mode - mean) / std) ** 2
        while todo.any():
            x = draw.uniform(a, b, int(todo.sum()))
            accept = np.log(draw.uniform(0.0, 1.0, x.size)) <= \
                -0.5 * ((x - mean) / std) ** 2 - log_peak
            where = np.flatnonzero(todo)
            out.flat[where[accept]] = x[accept]
            todo.flat[where[accept]] = False
    return _fill(tensor, out)


def _deprecated(new):
    old = new.__name__[:-1]

    def deprecated_init(*args, **kwargs):
        warnings.warn(f"`nn.init.{old}` is now deprecated in favor of `nn.init.{new.__name__}`.",
                      FutureWarning, stacklevel=2)
        return new(*args, **kwargs)
    deprecated_init.__name__ = old
    deprecated_init.__doc__ = f"Deprecated (as in PyTorch): use ``{new.__name__}``."
    return deprecated_init


uniform = _deprecated(uniform_)
normal = _deprecated(normal_)
constant = _deprecated(constant_)
xavier_uniform = _deprecated(xavier_uniform_)
xavier_normal = _deprecated(xavier_normal_)
kaiming_uniform = _deprecated(kaiming_uniform_)
kaiming_normal = _deprecated(kaiming_normal_)
orthogonal = _deprecated(orthogonal_)
