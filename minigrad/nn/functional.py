"""``minigrad.nn.functional``: layers as functions, PyTorch's names and semantics.

Everything here is composed from primitives in ``minigrad.ops`` (convolution and pooling
are primitives themselves), so gradients come from the engine.
"""
import math

import numpy as np

from minigrad import ops, rng
from minigrad.ops import (adaptive_avg_pool2d, avg_pool2d, conv1d, conv2d,  # noqa: F401
                          max_pool2d, pad)
from minigrad.ops._common import constant, xp_of
from minigrad.tensor import Tensor

# ---------------------------------------------------------------- linear and activations


def linear(input, weight, bias=None):
    return ops.linear(input, weight, bias)


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


def _valid_targets(t, ignore_index, C, op):
    """``t`` with ignored entries replaced by class 0, after checking every other index."""
    valid = t != ignore_index
    safe_t = xp_of(t).where(valid, t, 0)
    if ((safe_t < 0) | (safe_t >= C)).any():
        bad = int(safe_t[(safe_t < 0) | (safe_t >= C)][0])
        raise IndexError(f"{op}: target {bad} is out of bounds for {C} classes")
    return valid, safe_t


def nll_loss(input, target, weight=None, ignore_index=-100, reduction="mean"):
    logp, t, out_shape, C = _classes_last(input, target, "nll_loss")
    valid, safe_t = _valid_targets(t, ignore_index, C, "nll_loss")
    xp = xp_of(logp.data)
    w = xp.ones(C, dtype=logp.data.dtype) if weight is None else weight.data.astype(logp.data.dtype)
    w_i = w[safe_t] * valid  # per-sample weight, 0 where ignored
    picked = logp[xp.arange(t.shape[0]), safe_t]
    # ignored rows selected away, not multiplied by 0: when every row is ignored the mean's
    # 0/0 must not send NaN back (PyTorch gives a zero gradient)
    loss = ops.where(constant(xp.asarray(valid, dtype=bool)), -(picked * constant(w_i)), 0)
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
    if label_smoothing == 0:   # the common case: one primitive
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"cross_entropy: reduction must be 'mean', 'sum' or 'none', got "
                             f"{reduction!r}")
        scores, t, out_shape, C = _classes_last(input, target, "cross_entropy")
        if scores.data.dtype.kind != "f":
            raise TypeError(f"cross_entropy: expected float scores, got {scores.dtype!r}")
        _valid_targets(t, ignore_index, C, "cross_entropy")
        w = None if weight is None else weight.data.astype(scores.data.dtype)
        loss = ops.cross_entropy(scores, t, w, ignore_index, reduction)
        return ops.reshape(loss, out_shape) if reduction == "none" else loss
    class_dim = 0 if input.ndim == 1 else 1
    logp = log_softmax(input, class_dim)
    nll = nll_loss(logp, target, weight, ignore_index, reduction)
    flat, t, out_shape, C = _classes_last(logp, target, "cross_entropy")
    xp = xp_of(flat.data)
    valid = t != ignore_index
    if weight is None:
        smooth = -flat.sum(1)
        norm = valid.sum()
    else:
        w = weight.data.astype(flat.data.dtype)
        smooth = -(flat * constant(w)).sum(1)
        norm = w[xp.where(valid, t, 0)][valid].sum()
    # ignored rows selected away, not multiplied by 0: when every row is ignored the mean's
    # 0/0 must not send NaN back (PyTorch's masked_fill)
    smooth = ops.where(constant(valid), smooth, 0)
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
#
# Every normalization layer is "statistics per group of values, then a per-channel affine
# map": ``norm_stats`` computes the statistics (one place, with a hook for reducing them
# across processes), ``update_running_stats`` moves running estimates (one place), and
# ``ops.channel_affine`` normalizes, scales and shifts in one pass.

def _channel_view(C, ndim):
    return (1, C) + (1,) * (ndim - 2)


def _check_values_per_channel(input, op):
    n = ops.values_per_channel(input.shape)
    if n == 1:  # (an empty batch passes: it normalizes to an empty output, as in PyTorch)
        raise ValueError(f"{op}: Expected more than 1 value per channel when training, got "
                         f"input size {tuple(input.shape)}")
    return n


def norm_stats(x, reduce=None):
    """(count, mean, biased variance) per channel of ``x`` (N, C, ...): count values per
    channel, mean and variance of shape (C,), differentiable. ``reduce(count, mean, var)``,
    when given, combines the local statistics with others (SyncBatchNorm's all-reduce) and
    returns the combined triple."""
    mean, var = ops.channel_moments(x)
    count = ops.values_per_channel(x.shape)
    if reduce is not None:
        count, mean, var = reduce(count, mean, var)
    return count, mean, var


def update_running_stats(running_mean, running_var, mean, var, count, momentum):
    """running = (1 - momentum) * running + momentum * batch, in place and off the tape, with
    the batch's *unbiased* variance (``var`` is biased, over ``count`` values). Statistics
    with a leading batch axis (InstanceNorm's per-instance ones) are averaged over it. An
    empty batch (no statistics) leaves the running ones as they are."""
    if _array(mean).size == 0:
        return
    for running, stat, unbias in ((running_mean, mean, 1.0),
                                  (running_var, var, count / (count - 1))):
        if running is not None:  # arrays only: nothing here is recorded
            stat = _array(stat)
            if stat.ndim > 1:
                stat = stat.mean(0)
            r = running.data
            r *= 1 - momentum
            r += (stat * (momentum * unbias)).astype(r.dtype, copy=False)


def _array(t):
    return t.data if isinstance(t, Tensor) else t


def _check_dtypes(op, input, **tensors):
    for name, t in tensors.items():
        if t is not None and t.data.dtype != input.data.dtype:
            raise TypeError(f"{op}: the input is {input.dtype!r} but {name} is {t.dtype!r}; "
                            f"convert one (the module's .float() / .double(), or the input's)")


def _running(t, C, name):
    if t is not None and t.shape != (C,):
        raise ValueError(f"batch_norm: {name} must have shape ({C},) for an input with {C} "
                         f"channels, got {tuple(t.shape)}")
    return t


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """Batch normalization as Algorithm 1 of Ioffe & Szegedy (2015).

    mu_B, sigma_B^2 = the batch's per-channel mean and biased variance (in training; the
    running statistics in eval), x_hat = (x - mu_B) / sqrt(sigma_B^2 + eps), y = gamma x_hat
    + beta. Normalize, scale and shift are one per-channel affine map of x, applied in one
    pass: y = (x - mu_B) * (gamma / sqrt(sigma_B^2 + eps)) + beta. In training the running
    statistics move toward the batch's mean and *unbiased* variance. Gradients come from
    the engine through every step.
    """
    if input.ndim < 2:
        raise ValueError(f"batch_norm: expected an input with at least 2 dimensions (N, C, ...), "
                         f"got shape {input.shape}")
    if training and eps <= 0:
        raise ValueError(f"batch_norm: eps must be positive during training, but got {eps}")
    C = input.shape[1]
    running_mean = _running(running_mean, C, "running_mean")
    running_var = _running(running_var, C, "running_var")
    _check_dtypes("batch_norm", input, weight=weight, bias=bias, running_mean=running_mean,
                  running_var=running_var)
    if training and _check_values_per_channel(input, "batch_norm") == 0:
        # an empty batch has no statistics: PyTorch gives an empty output (and zero
        # gradients) and leaves the running statistics alone
        scale = weight if weight is not None else constant(xp_of(input.data).ones(C, input.data.dtype))
        return ops.channel_affine(input, scale, bias)
    if training:
        n, mean, var = norm_stats(input)                             # mu_B, sigma_B^2
        update_running_stats(running_mean, running_var, mean, var, n, momentum)
    else:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm: running_mean and running_var are needed when not "
                             "training")
        mean, var = running_mean, running_var
    scale = ops.rsqrt(var + eps)                                     # 1 / sqrt(sigma^2 + eps)
    if weight is not None:
        scale = scale * weight
    return ops.channel_affine(input, scale, bias, center=mean)      # gamma x_hat + beta


def _grouped(input, groups):
    """``input`` (N, C, ...) viewed as (1, N * groups, rest): one 'channel' per group of
    each sample, so channel_moments gives per-sample, per-group statistics."""
    return ops.reshape(input, (1, input.shape[0] * groups, math.prod(input.shape[1:]) // groups))


def _per_sample_norm(input, groups, weight, bias, eps):
    """GroupNorm and InstanceNorm: statistics per sample and group of channels, then one
    per-(sample, channel) affine map over the spatial extent. Returns the output and the
    statistics (count, mean, var), each of the latter two of shape (N * groups,)."""
    N, C = input.shape[:2]
    grouped = _grouped(input, groups)
    count, mean, var = norm_stats(grouped)
    rep = C // groups

    def per_channel(t):  # (N * groups,) -> (N * C,): each channel takes its group's value
        return ops.reshape(ops.expand(ops.reshape(t, (N, groups, 1)), (N, groups, rep)),
                           (N * C,))

    def tiled(p):  # (C,) -> (N * C,)
        return None if p is None else ops.reshape(ops.expand(ops.reshape(p, (1, C)), (N, C)),
                                                  (N * C,))

    scale = per_channel(ops.rsqrt(var + eps))
    if weight is not None:
        scale = scale * tiled(weight)
    # the per-channel view is taken of the per-group one, so the affine pass's gradient
    # arrives where the moments' gradient is added into it
    per_channel_view = ops.reshape(grouped, (1, N * C, math.prod(input.shape[2:])))
    out = ops.channel_affine(per_channel_view, scale, tiled(bias), center=per_channel(mean))
    return ops.reshape(out, input.shape), count, mean, var


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    normalized_shape = (normalized_shape,) if isinstance(normalized_shape, int) \
        else tuple(normalized_shape)
    k = len(normalized_shape)
    if input.shape[input.ndim - k:] != normalized_shape:
        raise ValueError(f"layer_norm: expected input with trailing shape {normalized_shape}, "
                         f"got {input.shape}")
    D = math.prod(normalized_shape)
    rows = ops.reshape(input, (1, -1, D))                            # one 'channel' per row
    _, mean, var = norm_stats(rows)
    out = ops.channel_affine(rows, ops.rsqrt(var + eps), center=mean)  # x_hat, row by row
    if weight is None and bias is None:
        return ops.reshape(out, input.shape)
    # then gamma and beta along the normalized axes: the channels of the (rows, D) view
    w = constant(xp_of(input.data).ones(D, dtype=input.data.dtype)) if weight is None \
        else ops.reshape(weight, (D,))
    b = None if bias is None else ops.reshape(bias, (D,))
    return ops.reshape(ops.channel_affine(ops.reshape(out, (-1, D)), w, b), input.shape)


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    if input.ndim < 2:
        raise ValueError(f"group_norm: expected an input with at least 2 dimensions (N, C, "
                         f"...), got shape {input.shape}")
    N, C = input.shape[:2]
    if num_groups < 1 or C % num_groups:
        raise ValueError(f"group_norm: {C} channels cannot be split into {num_groups} groups")
    if N * C // num_groups * math.prod(input.shape[2:]) == 1:  # PyTorch's (quirky) rule
        raise ValueError(f"group_norm: Expected more than 1 value per channel when training, "
                         f"got input size {tuple(input.shape)}")
    return _per_sample_norm(input, num_groups, weight, bias, eps)[0]


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None,
                  use_input_stats=True, momentum=0.1, eps=1e-5):
    """Each (sample, channel) normalized over its own spatial extent. With running stats,
    they move toward the batch average of the per-instance mean and unbiased variance."""
    if input.ndim < 3:
        raise ValueError(f"instance_norm: expected an input with spatial dimensions "
                         f"(N, C, L, ...), got shape {input.shape}")
    N, C = input.shape[:2]
    if not use_input_stats:
        return batch_norm(input, running_mean, running_var, weight, bias, False, 0.0, eps)
    n = math.prod(input.shape[2:])
    if n <= 1:
        raise ValueError(f"instance_norm: Expected more than 1 spatial element when "
                         f"training, got input size {tuple(input.shape)}")
    out, count, mean, var = _per_sample_norm(input, C, weight, bias, eps)
    update_running_stats(running_mean, running_var, mean.data.reshape(N, C),
                         var.data.reshape(N, C), count, momentum)
    return out


# ---------------------------------------------------------------- more activations
#
# Composites of primitives. Where PyTorch's gradient at a kink differs from what the
# calculus of the composite would give, the composite is arranged to give PyTorch's: a
# ``clamp`` passes the gradient at its bound, ``minimum`` halves it there, and a ``where``
# whose branches are both smooth passes the chosen branch's. Branches not taken never see
# an overflowed exp (its argument is clamped first), whose inf would turn a zero gradient
# into NaN.

def silu(input, inplace=False):
    _no_inplace("silu", inplace)
    return input * ops.sigmoid(input)


def _no_inplace(op, inplace):
    if inplace:
        raise NotImplementedError(f"{op}: inplace=True is not supported; minigrad's "
                                  f"activations return a new tensor")


def _elu(input, alpha, scale, input_scale):
    """scale * (x if x > 0 else alpha * (exp(x * input_scale) - 1)): ELU, SELU and CELU.
    At 0 the gradient is the negative side's, scale * alpha * input_scale, as in PyTorch."""
    negative = ops.expm1(ops.clamp(input, max=0) * input_scale) * (alpha * scale)
    return ops.where(input > 0, input * scale if scale != 1 else input, negative)


def elu(input, alpha=1.0, inplace=False):
    _no_inplace("elu", inplace)
    return _elu(input, alpha, 1.0, 1.0)


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(input, inplace=False):
    _no_inplace("selu", inplace)
    return _elu(input, _SELU_ALPHA, _SELU_SCALE, 1.0)


def celu(input, alpha=1.0, inplace=False):
    _no_inplace("celu", inplace)
    if alpha == 0:
        raise ValueError("celu: alpha must not be 0 (ZeroDivisionError)")
    return _elu(input, alpha, 1.0, 1.0 / alpha)


def softplus(input, beta=1.0, threshold=20.0):
    """log(1 + exp(beta x)) / beta, and x itself where beta x > threshold (PyTorch's
    switch to the linear function, which the exp would otherwise overflow before)."""
    scaled = input * beta
    smooth = ops.log1p(ops.exp(ops.clamp(scaled, max=threshold))) / beta
    return ops.where(scaled > threshold, input, smooth)


def _clipped(input, lo, hi):
    """clamp(x, lo, hi) with PyTorch's hardtanh gradient: 1 strictly inside, 0 at and
    beyond the bounds."""
    x = input.data
    inside = constant((x > lo) & (x < hi))
    return ops.where(inside, input, constant(xp_of(x).clip(x, lo, hi)))


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    _no_inplace("hardtanh", inplace)
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val ({min_val}) cannot be greater than max_val "
                         f"({max_val})")
    return _clipped(input, min_val, max_val)


def relu6(input, inplace=False):
    _no_inplace("relu6", inplace)
    return _clipped(input, 0.0, 6.0)


def hardswish(input, inplace=False):
    """x * relu6(x + 3) / 6; gradient x / 3 + 1/2 on [-3, 3), 0 up to -3, 1 from 3 on
    (PyTorch's ends)."""
    _no_inplace("hardswish", inplace)
    middle = input * (input + 3) / 6
    return ops.where(input <= -3, 0.0, ops.where(input < 3, middle, input))


# PyTorch's hardsigmoid gradient is 1/6 rounded to float32 in every dtype
_ONE_SIXTH_F32 = float(np.float32(1.0) / np.float32(6.0))


def hardsigmoid(input, inplace=False):
    """relu6(x + 3) / 6 = clamp(x / 6 + 1/2, 0, 1); gradient PyTorch's float32 1/6 strictly
    inside (-3, 3), 0 elsewhere. The value is computed exactly and the gradient carried by
    a term that is exactly 0: x * c - (x * c as a constant)."""
    _no_inplace("hardsigmoid", inplace)
    x = input.data
    xp = xp_of(x)
    value = constant(xp.clip((x + 3) / 6, 0, 1).astype(x.dtype, copy=False))
    inside = constant((x > -3) & (x < 3))
    slope = input * _ONE_SIXTH_F32
    return value + ops.where(inside, slope - constant(slope.data), 0.0)


def mish(input, inplace=False):
    _no_inplace("mish", inplace)
    return input * ops.tanh(softplus(input))


def logsigmoid(input):
    """log(sigmoid(x)) = min(x, 0) - log(1 + exp(-|x|)), as two smooth branches whose exp
    arguments are never positive."""
    positive = -ops.log1p(ops.exp(-ops.clamp(input, min=0)))
    negative = input - ops.log1p(ops.exp(ops.clamp(input, max=0)))
    return ops.where(input >= 0, positive, negative)


def softsign(input):
    return input / (ops.abs(input) + 1)


# ---------------------------------------------------------------- more losses

def _same_shape(op, input, target):
    if input.shape != target.shape:
        raise ValueError(f"{op}: Using a target size ({tuple(target.shape)}) that is "
                         f"different to the input size ({tuple(input.shape)}) is not supported")


def binary_cross_entropy(input, target, weight=None, reduction="mean"):
    """-w [y log x + (1 - y) log(1 - x)] with each log clamped at -100, and PyTorch's
    gradient (x - y) / max(x (1 - x), 1e-12), finite at x = 0 and 1 (one primitive)."""
    _same_shape("binary_cross_entropy", input, target)
    if not isinstance(target, Tensor):
        target = Tensor(target)
    loss = ops.binary_cross_entropy(input, target)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction, "binary_cross_entropy")


def l1_loss(input, target, reduction="mean"):
    _same_shape("l1_loss", input, target)
    return _reduce(ops.abs(input - target), reduction, "l1_loss")


def smooth_l1_loss(input, target, reduction="mean", beta=1.0):
    """0.5 d^2 / beta where |d| < beta, |d| - 0.5 beta elsewhere (d = input - target);
    beta = 0 is the L1 loss."""
    _same_shape("smooth_l1_loss", input, target)
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be non-negative, got {beta}")
    if beta == 0:
        return l1_loss(input, target, reduction)
    d = input - target
    z = ops.abs(d)
    loss = ops.where(z < beta, d * d * (0.5 / beta), z - 0.5 * beta)
    return _reduce(loss, reduction, "smooth_l1_loss")


def kl_div(input, target, reduction="mean", log_target=False):
    """Pointwise target * (log target - input), input being log-probabilities (target too
    with ``log_target``); 0 where target is 0. "batchmean" divides the sum by the batch
    size, the KL divergence's definition; "mean" divides by the number of elements."""
    if log_target:
        loss = ops.exp(target) * (target - input)
    else:
        zero = constant(target.data == 0)
        loss = ops.where(zero, 0.0, target * ops.log(ops.where(zero, 1.0, target))) - target * input
    if reduction == "batchmean":
        return loss.sum() / (input.shape[0] if input.ndim else 1)
    return _reduce(loss, reduction, "kl_div")
