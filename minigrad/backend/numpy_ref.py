"""The pure-NumPy oracle: the same kernel API as ``cpu``, written the obvious way.

Tests compare every compiled kernel against these functions; nothing else calls them.
"""
import numpy as np

xp = np


def matmul(a, b):
    return np.matmul(a, b)


def erf(x):
    from scipy.special import erf as _erf
    return _erf(x)


def _channel_axes(x):
    return (0,) + tuple(range(2, x.ndim))


def channel_stats(x):
    axes = _channel_axes(x)
    mean = x.mean(axes, dtype=np.float64, keepdims=True)
    var = np.square(x - mean).mean(axes, dtype=np.float64)
    return mean.reshape(-1).astype(x.dtype), var.astype(x.dtype)


def channel_sum(x):
    return x.sum(_channel_axes(x), dtype=np.float64).astype(x.dtype)


def channel_grad_sums(dy, x, mean):
    axes = _channel_axes(x)
    shape = (1, -1) + (1,) * (x.ndim - 2)
    centered = x.astype(np.float64) - mean.astype(np.float64).reshape(shape)
    return (dy.sum(axes, dtype=np.float64).astype(x.dtype),
            (dy * centered).sum(axes, dtype=np.float64).astype(x.dtype))


def _per_channel(v, ndim):
    return np.asarray(v, np.float64).reshape((1, -1) + (1,) * (ndim - 2))


def batch_norm_normalize(x, scale, shift):
    return (x * _per_channel(scale, x.ndim) + _per_channel(shift, x.ndim)).astype(x.dtype)


def batch_norm_backward_input(dy, x, mean, gain, k_dy, k_x):
    c = lambda v: _per_channel(v, x.ndim)  # noqa: E731
    return (c(gain) * dy + c(k_x) * (x - c(mean)) + c(k_dy)).astype(x.dtype)
