"""``minigrad.nn.functional``: layers as functions, PyTorch's names and semantics.

Everything here is composed from primitives in ``minigrad.ops`` (convolution and pooling
are primitives themselves), so gradients come from the engine.
"""
import math

import numpy as np

from minigrad import ops, rng
from minigrad.autograd.grad_mode import no_grad
from minigrad.ops import (adaptive_avg_pool2d, avg_pool2d, conv1d, conv2d,  # noqa: F401
                          max_pool2d, pad)
from minigrad.ops._common import constant, xp_of
from minigrad.tensor import Tensor

# ---------------------------------------------------------------- linear and activations


def linear(input, weight, bias=None):
    out = ops.matmul(input, ops.transpose(weight, 0, 1))  # a transposed view: no copy for BLAS
    return out if bias is None else out + bias


def relu(input):
    return ops.relu(input)


def leaky_relu(input, negative_slope=0.01):
    return ops.where(input > 0, input, input * negative_slope)


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
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


def _softmax_dim(input, dim):
    if dim is None:  # PyTorch's legacy implicit choice
        return 0 if input.ndim in (0, 1, 3) else 1
    return dim


def log_softmax(input, dim=None):
    dim = _softmax_dim(input, dim)
    # shifting by the (constant) max keeps exp from overflowing; log-softmax does not
    # depend on the shift, so no gradient needs to flow through it
    shifted = input - constant(xp_of(input.data).amax(input.data, axis=dim, keepdims=True))
    return shifted - ops.log(ops.exp(shifted).sum(dim, keepdim=True))


def softmax(input, dim=None):
    dim = _softmax_dim(input, dim)
    e = ops.exp(input - constant(xp_of(input.data).amax(input.data, axis=dim, keepdims=True)))
    return e / e.sum(dim, keepdim=True)


def dropout(input, p=0.5, training=True):
    """Inverted dropout: kept elements are scaled by 1/(1-p) in training; identity in eval."""
    if not 0 <= p <= 1:
        raise ValueError(f"dropout: probability has to be between 0 and 1, but got {p}")
    if not training or p == 0:
        return input
    if p == 1:
        return input * 0
    keep = rng.generator().random(input.shape) >= p
    scale = np.asarray(1 / (1 - p), dtype=input.data.dtype)
    mask = xp_of(input.data).asarray(keep * scale, dtype=input.data.dtype)
    return input * constant(mask)


# ---------------------------------------------------------------- losses

def _reduce(loss, reduction, op):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"{op}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _classes_last(input, target, op):
    """(N, C, d1, ...) scores and (N, d1, ...) targets as (M, C) and (M,)."""
    if input.ndim < 1:
        raise ValueError(f"{op}: input must have at least 1 dimension, got a scalar")
    if not isinstance(target, Tensor):
        target = Tensor(target)
    if target.data.dtype.kind not in "iu":
        raise TypeError(f"{op}: expected integer class indices as target, got {target.dtype!r}")
    if input.ndim == 1:
        input = ops.unsqueeze(input, 0)
        target = Tensor._make(target.data.reshape(1))
    expected = (input.shape[0],) + input.shape[2:]
    if target.shape != expected:
        raise ValueError(f"{op}: input of shape {input.shape} needs a target of shape "
                         f"{expected}, got {target.shape}")
    C = input.shape[1]
    if input.ndim > 2:
        input = ops.reshape(ops.permute(input, 0, *range(2, input.ndim), 1), (-1, C))
    return input, target.data.reshape(-1), expected, C


def nll_loss(input, target, weight=None, ignore_index=-100, reduction="mean"):
    logp, t, out_shape, C = _classes_last(input, target, "nll_loss")
    valid = t != ignore_index
    safe_t = np.where(valid, t, 0) if isinstance(t, np.ndarray) else xp_of(t).where(valid, t, 0)
    if ((safe_t < 0) | (safe_t >= C)).any():
        bad = int(safe_t[(safe_t < 0) | (safe_t >= C)][0])
        raise IndexError(f"nll_loss: target {bad} is out of bounds for {C} classes")
    xp = xp_of(logp.data)
    w = xp.ones(C, dtype=logp.data.dtype) if weight is None else weight.data.astype(logp.data.dtype)
    w_i = w[safe_t] * valid  # per-sample weight, 0 where ignored
    picked = logp[xp.arange(t.shape[0]), safe_t]
    loss = -(picked * constant(w_i))
    if reduction == "mean":
        return loss.sum() / constant(xp.asarray(w_i.sum(), dtype=logp.data.dtype))
    if reduction == "none":
        return ops.reshape(loss, out_shape)
    return _reduce(loss, reduction, "nll_loss")


def cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean",
                  label_smoothing=0.0):
    """log_softmax + nll_loss; with label smoothing, PyTorch's mix of the NLL and the mean
    negative log-probability over classes (weighted and normalized the same way)."""
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
    class_dim = 0 if input.ndim == 1 else 1
    logp = log_softmax(input, class_dim)
    nll = nll_loss(logp, target, weight, ignore_index, reduction)
    if label_smoothing == 0:
        return nll
    flat, t, out_shape, C = _classes_last(logp, target, "cross_entropy")
    xp = xp_of(flat.data)
    valid = constant((t != ignore_index).astype(flat.data.dtype))
    if weight is None:
        smooth = -flat.sum(1)
        norm = valid.data.sum()
    else:
        w = weight.data.astype(flat.data.dtype)
        smooth = -(flat * constant(w)).sum(1)
        norm = (w[xp.where(t != ignore_index, t, 0)] * valid.data).sum()
    smooth = smooth * valid
    if reduction == "mean":
        smooth = smooth.sum() / constant(xp.asarray(norm, dtype=flat.data.dtype))
    elif reduction == "sum":
        smooth = smooth.sum()
    else:
        smooth = ops.reshape(smooth, out_shape)
    return nll * (1 - label_smoothing) + smooth * (label_smoothing / C)


def mse_loss(input, target, reduction="mean"):
    if input.shape != target.shape:
        raise ValueError(f"mse_loss: input {input.shape} and target {target.shape} must "
                         f"have the same shape")
    return _reduce((input - target) ** 2, reduction, "mse_loss")


def binary_cross_entropy_with_logits(input, target, weight=None, reduction="mean",
                                     pos_weight=None):
    """-[p y log s(x) + (1 - y) log(1 - s(x))], computed without overflow for any x."""
    if input.shape != target.shape:
        raise ValueError(f"binary_cross_entropy_with_logits: input {input.shape} and target "
                         f"{target.shape} must have the same shape")
    softplus_neg = ops.log(ops.exp(-ops.abs(input)) + 1) + ops.relu(-input)  # log(1 + e^-x)
    if pos_weight is None:
        loss = (1 - target) * input + softplus_neg
    else:
        loss = (1 - target) * input + ((pos_weight - 1) * target + 1) * softplus_neg
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction, "binary_cross_entropy_with_logits")


# ---------------------------------------------------------------- normalization

def _channel_view(C, ndim):
    return (1, C) + (1,) * (ndim - 2)


def _check_values_per_channel(input, op):
    n = input.numel() // input.shape[1]
    if n <= 1:
        raise ValueError(f"{op}: Expected more than 1 value per channel when training, got "
                         f"input size {tuple(input.shape)}")
    return n


def _update_running(running, batch_stat, momentum):
    """running = (1 - momentum) * running + momentum * batch_stat, in place, off the tape."""
    if running is not None:
        r = running.data
        r[...] = (1 - momentum) * r + momentum * batch_stat.astype(r.dtype, copy=False)


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """Batch normalization as Algorithm 1 of Ioffe & Szegedy (2015).

    In training the batch's mean and biased variance normalize the input, and the running
    statistics (when given) move toward the batch's mean and *unbiased* variance; in eval the
    running statistics normalize. Gradients come from the engine through every step.
    """
    if input.ndim < 2:
        raise ValueError(f"batch_norm: expected an input with at least 2 dimensions (N, C, ...), "
                         f"got shape {input.shape}")
    C = input.shape[1]
    shape = _channel_view(C, input.ndim)
    dims = (0,) + tuple(range(2, input.ndim))
    if training:
        n = _check_values_per_channel(input, "batch_norm")
        mean = input.mean(dims, keepdim=True)                   # mu_B
        var = input.var(dims, keepdim=True, correction=0)       # sigma_B^2
        with no_grad():
            _update_running(running_mean, mean.data.reshape(C), momentum)
            _update_running(running_var, var.data.reshape(C) * (n / (n - 1)), momentum)
    else:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm: running_mean and running_var are needed when not "
                             "training")
        mean, var = running_mean.reshape(shape), running_var.reshape(shape)
    x_hat = (input - mean) * ops.rsqrt(var + eps)               # normalize
    if weight is not None:
        x_hat = x_hat * weight.reshape(shape)                   # scale
    if bias is not None:
        x_hat = x_hat + bias.reshape(shape)                     # and shift
    return x_hat


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    normalized_shape = (normalized_shape,) if isinstance(normalized_shape, int) \
        else tuple(normalized_shape)
    k = len(normalized_shape)
    if input.shape[input.ndim - k:] != normalized_shape:
        raise ValueError(f"layer_norm: expected input with trailing shape {normalized_shape}, "
                         f"got {input.shape}")
    dims = tuple(range(input.ndim - k, input.ndim))
    mean = input.mean(dims, keepdim=True)
    var = input.var(dims, keepdim=True, correction=0)
    out = (input - mean) * ops.rsqrt(var + eps)
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    N, C = input.shape[:2]
    if C % num_groups:
        raise ValueError(f"group_norm: {C} channels cannot be split into {num_groups} groups")
    grouped = ops.reshape(input, (N, num_groups, -1))
    mean = grouped.mean(2, keepdim=True)
    var = grouped.var(2, keepdim=True, correction=0)
    out = ops.reshape((grouped - mean) * ops.rsqrt(var + eps), input.shape)
    shape = _channel_view(C, input.ndim)
    if weight is not None:
        out = out * weight.reshape(shape)
    if bias is not None:
        out = out + bias.reshape(shape)
    return out


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None,
                  use_input_stats=True, momentum=0.1, eps=1e-5):
    """Each (sample, channel) normalized over its own spatial extent. With running stats,
    they move toward the batch average of the per-instance mean and unbiased variance."""
    if input.ndim < 3:
        raise ValueError(f"instance_norm: expected an input with spatial dimensions "
                         f"(N, C, L, ...), got shape {input.shape}")
    C = input.shape[1]
    shape = _channel_view(C, input.ndim)
    if use_input_stats:
        dims = tuple(range(2, input.ndim))
        n = math.prod(input.shape[2:])
        if n <= 1:
            raise ValueError(f"instance_norm: Expected more than 1 spatial element when "
                             f"training, got input size {tuple(input.shape)}")
        mean = input.mean(dims, keepdim=True)
        var = input.var(dims, keepdim=True, correction=0)
        with no_grad():
            _update_running(running_mean, mean.data.reshape(-1, C).mean(0), momentum)
            _update_running(running_var, (var.data * (n / (n - 1))).reshape(-1, C).mean(0),
                            momentum)
    else:
        mean, var = running_mean.reshape(shape), running_var.reshape(shape)
    out = (input - mean) * ops.rsqrt(var + eps)
    if weight is not None:
        out = out * weight.reshape(shape)
    if bias is not None:
        out = out + bias.reshape(shape)
    return out
