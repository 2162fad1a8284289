"""``minigrad.nn.functional``: layers as functions, PyTorch's names and semantics.

Everything here is composed from primitives in ``minigrad.ops`` (convolution and pooling
are primitives themselves), so gradients come from the engine.
"""
import math

import numpy as np

from minigrad import ops, rng
from minigrad.errors import InvalidArgument, InvalidDtype
from minigrad.ops import (  # noqa: F401
    adaptive_avg_pool2d,
    avg_pool2d,
    conv1d,
    conv2d,
    max_pool2d,
    pad,
)
from minigrad.ops._common import constant, xp_of
from minigrad.tensor import Tensor

# ---------------------------------------------------------------- linear and activations


def linear(input, weight, bias=None):
    return ops.linear(input, weight, bias)


def _maybe_inplace(op, input, inplace, compute, needs_old_values=True):
    """``compute(input)``; with ``inplace=True`` (PyTorch's ``relu_``, ``elu_``, ...) the
    result is written into input's own memory and input itself is returned, by the rules
    of every in-place op (``ops.inplace.update``): refused on a leaf that requires grad,
    recorded on a graph tensor, caught at backward if a node had saved the old values.
    ``needs_old_values``: compute's backward reads the input's values (then the recorded
    form keeps a copy of them, as the out-of-place op would)."""
    if not inplace:
        return compute(input)
    from minigrad.ops.inplace import update
    return update(input, f"{op}_", compute, needs_old_values)


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


def _softmax_dim(input, dim):
    if dim is None:  # PyTorch's legacy implicit choice
        return 0 if input.ndim in (0, 1, 3) else 1
    return dim


def log_softmax(input, dim=None):
    dim = _softmax_dim(input, dim)
    # shifting by the (constant) max keeps exp from overflowing; log-softmax does not
    # depend on the shift, so no gradient needs to flow through it
    shifted = input - constant(xp_of(input.array).amax(input.array, axis=dim, keepdims=True))
    return shifted - ops.log(ops.exp(shifted).sum(dim, keepdim=True))


def softmax(input, dim=None):
    dim = _softmax_dim(input, dim)
    e = ops.exp(input - constant(xp_of(input.array).amax(input.array, axis=dim, keepdims=True)))
    return e / e.sum(dim, keepdim=True)


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


# ---------------------------------------------------------------- losses

def _reduce(loss, reduction, op):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise InvalidArgument(f"{op}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _classes_last(input, target, op):
    """(N, C, d1, ...) scores and (N, d1, ...) targets as (M, C) and (M,)."""
    if input.ndim < 1:
        raise InvalidArgument(f"{op}: input must have at least 1 dimension, got a scalar")
    if not isinstance(target, Tensor):
        target = Tensor(target)
    if target.array.dtype.kind not in "iu":
        raise InvalidDtype(f"{op}: expected integer class indices as target, got {target.dtype!r}")
    if input.ndim == 1:
        input = ops.unsqueeze(input, 0)
        target = Tensor._make(target.array.reshape(1))
    expected = (input.shape[0],) + input.shape[2:]
    if target.shape != expected:
        raise InvalidArgument(f"{op}: input of shape {input.shape} needs a target of shape "
                              f"{expected}, got {target.shape}")
    C = input.shape[1]
    if input.ndim > 2:
        input = ops.reshape(ops.permute(input, 0, *range(2, input.ndim), 1), (-1, C))
    return input, target.array.reshape(-1), expected, C


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
    xp = xp_of(logp.array)
    w = xp.ones(C, dtype=logp.array.dtype) if weight is None else weight.array.astype(logp.array.dtype)
    w_i = w[safe_t] * valid  # per-sample weight, 0 where ignored
    picked = logp[xp.arange(t.shape[0]), safe_t]
    # ignored rows selected away, not multiplied by 0: when every row is ignored the mean's
    # 0/0 must not send NaN back (PyTorch gives a zero gradient)
    loss = ops.where(constant(xp.asarray(valid, dtype=bool)), -(picked * constant(w_i)), 0)
    if reduction == "mean":
        return loss.sum() / constant(xp.asarray(w_i.sum(), dtype=logp.array.dtype))
    if reduction == "none":
        return ops.reshape(loss, out_shape)
    return _reduce(loss, reduction, "nll_loss")


def cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean",
                  label_smoothing=0.0):
    """log_softmax + nll_loss; with label smoothing, PyTorch's mix of the NLL and the mean
    negative log-probability over classes (weighted and normalized the same way)."""
    if not 0.0 <= label_smoothing <= 1.0:
        raise InvalidArgument(f"cross_entropy: label_smoothing must be in [0, 1], got "
                              f"{label_smoothing}")
    if label_smoothing == 0:   # the common case: one primitive
        if reduction not in ("mean", "sum", "none"):
            raise InvalidArgument(f"cross_entropy: reduction must be 'mean', 'sum' or 'none', got "
                                  f"{reduction!r}")
        scores, t, out_shape, C = _classes_last(input, target, "cross_entropy")
        if scores.array.dtype.kind != "f":
            raise InvalidDtype(f"cross_entropy: expected float scores, got {scores.dtype!r}")
        _valid_targets(t, ignore_index, C, "cross_entropy")
        w = None if weight is None else weight.array.astype(scores.array.dtype)
        loss = ops.cross_entropy(scores, t, w, ignore_index, reduction)
        return ops.reshape(loss, out_shape) if reduction == "none" else loss
    class_dim = 0 if input.ndim == 1 else 1
    logp = log_softmax(input, class_dim)
    nll = nll_loss(logp, target, weight, ignore_index, reduction)
    flat, t, out_shape, C = _classes_last(logp, target, "cross_entropy")
    xp = xp_of(flat.array)
    valid = t != ignore_index
    if weight is None:
        smooth = -flat.sum(1)
        norm = valid.sum()
    else:
        w = weight.array.astype(flat.array.dtype)
        smooth = -(flat * constant(w)).sum(1)
        norm = w[xp.where(valid, t, 0)][valid].sum()
    # ignored rows selected away, not multiplied by 0: when every row is ignored the mean's
    # 0/0 must not send NaN back (PyTorch's masked_fill)
    smooth = ops.where(constant(valid), smooth, 0)
    if reduction == "mean":
        smooth = smooth.sum() / constant(xp.asarray(norm, dtype=flat.array.dtype))
    elif reduction == "sum":
        smooth = smooth.sum()
    else:
        smooth = ops.reshape(smooth, out_shape)
    return nll * (1 - label_smoothing) + smooth * (label_smoothing / C)


def mse_loss(input, target, reduction="mean"):
    if input.shape != target.shape:
        raise InvalidArgument(f"mse_loss: input {input.shape} and target {target.shape} must "
                              f"have the same shape")
    return _reduce((input - target) ** 2, reduction, "mse_loss")


def binary_cross_entropy_with_logits(input, target, weight=None, reduction="mean",
                                     pos_weight=None):
    """-[p y log s(x) + (1 - y) log(1 - s(x))], computed without overflow for any x."""
    if input.shape != target.shape:
        raise InvalidArgument(f"binary_cross_entropy_with_logits: input {input.shape} and target "
                              f"{target.shape} must have the same shape")
    # log(1 + e^-x) = -log sigmoid(x), from logsigmoid's two smooth branches: written with
    # |x| and relu it had their kinks at 0, and a gradient of 1 - y there instead of 0.5 - y
    softplus_neg = -logsigmoid(input)
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
        raise InvalidArgument(f"{op}: Expected more than 1 value per channel when training, got "
                              f"input size {tuple(input.shape)}")
    return n


def norm_stats(x, reduce=None):
    """(count, mean, biased variance) per channel of ``x`` (N, C, ...): count values per
    channel, mean and variance of shape (C,), differentiable. ``reduce(count, mean, var)``,
    when given, combines the local statistics with others (SyncBatchNorm's all-reduce) and
    returns the combined triple; an empty ``x`` then still joins it, with zero statistics
    that stay on ``x``'s graph (so its backward joins the reduction's too)."""
    count = ops.values_per_channel(x.shape)
    if count == 0 and reduce is not None:
        mean = var = ops.sum(x, _channel_axes(x.ndim))      # zeros of shape (C,)
    else:
        mean, var = ops.channel_moments(x)
    if reduce is not None:
        count, mean, var = reduce(count, mean, var)
    return count, mean, var


def _channel_axes(ndim):
    return (0,) + tuple(range(2, ndim))


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
            r = running.array
            r *= 1 - momentum
            r += (stat * (momentum * unbias)).astype(r.dtype, copy=False)


def _array(t):
    return t.array if isinstance(t, Tensor) else t


def _check_dtypes(op, input, **tensors):
    for name, t in tensors.items():
        if t is not None and t.array.dtype != input.array.dtype:
            raise InvalidDtype(f"{op}: the input is {input.dtype!r} but {name} is {t.dtype!r}; "
                               f"convert one (the module's .float() / .double(), or the input's)")


def _running(t, C, name):
    if t is not None and t.shape != (C,):
        raise InvalidArgument(f"batch_norm: {name} must have shape ({C},) for an input with {C} "
                              f"channels, got {tuple(t.shape)}")
    return t


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5, *, reduce=None):
    """Batch normalization as Algorithm 1 of Ioffe & Szegedy (2015).

    mu_B, sigma_B^2 = the batch's per-channel mean and biased variance (in training; the
    running statistics in eval), x_hat = (x - mu_B) / sqrt(sigma_B^2 + eps), y = gamma x_hat
    + beta. Normalize, scale and shift are one per-channel affine map of x, applied in one
    pass: y = (x - mu_B) * (gamma / sqrt(sigma_B^2 + eps)) + beta. In training the running
    statistics move toward the batch's mean and *unbiased* variance. Gradients come from
    the engine through every step.

    ``reduce`` (a minigrad extension, keyword only) combines the batch statistics with
    other processes' (see ``norm_stats``): SyncBatchNorm is this function with its
    all-reduce.
    """
    if input.ndim < 2:
        raise InvalidArgument(f"batch_norm: expected an input with at least 2 dimensions "
                              f"(N, C, ...), got shape {input.shape}")
    if training and eps <= 0:
        raise InvalidArgument(f"batch_norm: eps must be positive during training, but got {eps}")
    C = input.shape[1]
    running_mean = _running(running_mean, C, "running_mean")
    running_var = _running(running_var, C, "running_var")
    _check_dtypes("batch_norm", input, weight=weight, bias=bias, running_mean=running_mean,
                  running_var=running_var)
    if training and reduce is None and _check_values_per_channel(input, "batch_norm") == 0:
        # an empty batch has no statistics: PyTorch gives an empty output (and zero
        # gradients) and leaves the running statistics alone
        scale = weight if weight is not None else constant(xp_of(input.array).ones(C, input.array.dtype))
        return ops.channel_affine(input, scale, bias)
    if training:
        n, mean, var = norm_stats(input, reduce)                     # mu_B, sigma_B^2
        update_running_stats(running_mean, running_var, mean, var, n, momentum)
    else:
        if running_mean is None or running_var is None:
            raise InvalidArgument("batch_norm: running_mean and running_var are needed when not "
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
        raise InvalidArgument(f"layer_norm: expected input with trailing shape {normalized_shape}, "
                              f"got {input.shape}")
    D = math.prod(normalized_shape)
    rows = ops.reshape(input, (1, -1, D))                            # one 'channel' per row
    _, mean, var = norm_stats(rows)
    out = ops.channel_affine(rows, ops.rsqrt(var + eps), center=mean)  # x_hat, row by row
    if weight is None and bias is None:
        return ops.reshape(out, input.shape)
    # then gamma and beta along the normalized axes: the channels of the (rows, D) view
    w = constant(xp_of(input.array).ones(D, dtype=input.array.dtype)) if weight is None \
        else ops.reshape(weight, (D,))
    b = None if bias is None else ops.reshape(bias, (D,))
    return ops.reshape(ops.channel_affine(ops.reshape(out, (-1, D)), w, b), input.shape)


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    if input.ndim < 2:
        raise InvalidArgument(f"group_norm: expected an input with at least 2 dimensions (N, C, "
                              f"...), got shape {input.shape}")
    N, C = input.shape[:2]
    if num_groups < 1 or C % num_groups:
        raise InvalidArgument(f"group_norm: {C} channels cannot be split into {num_groups} groups")
    if N * C // num_groups * math.prod(input.shape[2:]) == 1:  # PyTorch's (quirky) rule
        raise InvalidArgument(f"group_norm: Expected more than 1 value per channel when training, "
                              f"got input size {tuple(input.shape)}")
    return _per_sample_norm(input, num_groups, weight, bias, eps)[0]


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None,
                  use_input_stats=True, momentum=0.1, eps=1e-5):
    """Each (sample, channel) normalized over its own spatial extent. With running stats,
    they move toward the batch average of the per-instance mean and unbiased variance."""
    if input.ndim < 3:
        raise InvalidArgument(f"instance_norm: expected an input with spatial dimensions "
                              f"(N, C, L, ...), got shape {input.shape}")
    N, C = input.shape[:2]
    if not use_input_stats:
        return batch_norm(input, running_mean, running_var, weight, bias, False, 0.0, eps)
    n = math.prod(input.shape[2:])
    if n <= 1:
        raise InvalidArgument(f"instance_norm: Expected more than 1 spatial element when "
                              f"training, got input size {tuple(input.shape)}")
    out, count, mean, var = _per_sample_norm(input, C, weight, bias, eps)
    update_running_stats(running_mean, running_var, mean.array.reshape(N, C),
                         var.array.reshape(N, C), count, momentum)
    return out


# ---------------------------------------------------------------- ops-b layers
from minigrad.ops import conv_transpose2d  # noqa: F401
from minigrad.ops.pool import _fixed_windows, _out_size


def _n_tuple(v, n, name, op):
    v = (int(v),) * n if isinstance(v, (int, np.integer)) else tuple(int(a) for a in v)
    if len(v) != n:
        raise ValueError(f"{op}: {name} must be an int or {n} ints, got {v}")
    return v


def embedding(input, weight, padding_idx=None):
    """Rows of ``weight`` picked by the integer ``input``; the ``padding_idx`` row gets no
    gradient (its lookups are constants)."""
    idx = input.array if isinstance(input, Tensor) else np.asarray(input)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"embedding: expected an integer index tensor, got {idx.dtype}")
    if weight.ndim != 2:
        raise ValueError(f"embedding: weight must be 2-D, got shape {weight.shape}")
    n = weight.shape[0]
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise IndexError(f"embedding: index out of range in self (indices must be in "
                         f"[0, {n}), got min {idx.min()} max {idx.max()})")
    out = weight[Tensor._make(idx)]
    if padding_idx is not None:
        if padding_idx < 0:
            padding_idx += n
        mask = xp_of(idx).expand_dims(idx == padding_idx, -1)
        if mask.any():
            out = ops.where(constant(mask), out.detach(), out)
    return out


def _pool1d_input(op, input):
    if input.ndim not in (2, 3):
        raise ValueError(f"{op}: expected a 2-D (C, L) or 3-D (N, C, L) input, got shape "
                         f"{input.shape}")
    return ops.unsqueeze(input, -2)


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """max_pool2d over a height of 1."""
    if input.array.dtype.kind in "iu" and not return_indices:
        raise InvalidDtype(f"max_pool1d: integer input ({input.dtype!r}) is pooled with "
                           f"return_indices=True only, as in PyTorch")
    k = _n_tuple(kernel_size, 1, "kernel_size", "max_pool1d")[0]
    s = k if stride is None or stride == () else _n_tuple(stride, 1, "stride", "max_pool1d")[0]
    p = _n_tuple(padding, 1, "padding", "max_pool1d")[0]
    d = _n_tuple(dilation, 1, "dilation", "max_pool1d")[0]
    out = max_pool2d(_pool1d_input("max_pool1d", input), (1, k), (1, s), (0, p), (1, d),
                     ceil_mode, return_indices)
    if return_indices:
        return ops.squeeze(out[0], -2), constant(out[1].array.squeeze(-2))
    return ops.squeeze(out, -2)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True):
    """avg_pool2d over a height of 1."""
    k = _n_tuple(kernel_size, 1, "kernel_size", "avg_pool1d")[0]
    s = k if stride is None or stride == () else _n_tuple(stride, 1, "stride", "avg_pool1d")[0]
    p = _n_tuple(padding, 1, "padding", "avg_pool1d")[0]
    out = avg_pool2d(_pool1d_input("avg_pool1d", input), (1, k), (1, s), (0, p), ceil_mode,
                     count_include_pad)
    return ops.squeeze(out, -2)


def _pool3d_args(op, input, kernel_size, stride, padding, dilation, ceil_mode):
    if input.ndim not in (4, 5):
        raise ValueError(f"{op}: expected a 4-D (C, D, H, W) or 5-D (N, C, D, H, W) input, "
                         f"got shape {input.shape}")
    k = _n_tuple(kernel_size, 3, "kernel_size", op)
    s = k if stride is None or stride == () else _n_tuple(stride, 3, "stride", op)
    p, d = _n_tuple(padding, 3, "padding", op), _n_tuple(dilation, 3, "dilation", op)
    if min(k) < 1 or min(s) < 1 or min(d) < 1:
        raise ValueError(f"{op}: kernel_size {k}, stride {s} and dilation {d} must be positive")
    if any(pp < 0 or pp > kk // 2 for pp, kk in zip(p, k)):
        raise ValueError(f"{op}: padding {p} should be at most half of the kernel size {k}")
    D = input.shape[-3]
    Do = _out_size(D, k[0], s[0], p[0], d[0], ceil_mode)
    if Do < 1:
        raise ValueError(f"{op}: input depth {D} is too small for kernel {k} with padding {p}")
    return k, s, p, d, Do


def _planes(input, fn):
    """Apply a 2-D pool to every depth plane of (N, C, D, H, W) at once."""
    N, C, D, H, W = input.shape
    out = fn(ops.reshape(input, (N, C * D, H, W)))
    return ops.reshape(out, (N, C, D) + out.shape[-2:])


def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """A composite: max_pool2d over each depth plane, then, per window, the depth tap holding
    the maximum (max is separable). Ties go where PyTorch sends them: to the first maximum in
    (depth, height, width) order (the first winning tap, and the 2-D pool's first maximum
    in that plane), which is also what the returned flat D*H*W indices name."""
    if input.ndim == 4:
        out = max_pool3d(ops.unsqueeze(input, 0), kernel_size, stride, padding, dilation,
                         ceil_mode, return_indices)
        if return_indices:
            return ops.squeeze(out[0], 0), constant(out[1].array[0])
        return ops.squeeze(out, 0)
    k, s, p, d, Do = _pool3d_args("max_pool3d", input, kernel_size, stride, padding, dilation,
                                  ceil_mode)
    dtype = input.array.dtype
    if dtype.kind not in "fiu":
        raise TypeError(f"max_pool3d: expected a floating point or integer input, got "
                        f"{input.dtype!r}")
    integer = dtype.kind != "f"
    N, C, D, H, W = input.shape
    planes, where2d = max_pool2d(ops.reshape(input, (N, C * D, H, W)), k[1:], s[1:], p[1:],
                                 d[1:], ceil_mode, return_indices=True)
    Ho, Wo = planes.shape[-2:]
    planes = ops.reshape(planes, (N, C, D, Ho, Wo))
    need = (Do - 1) * s[0] + d[0] * (k[0] - 1) + 1  # padded depth the windows read
    depth_pad = (p[0], max(0, need - D - p[0]))
    lowest = np.iinfo(dtype).min if integer else -math.inf
    planes = ops.pad(planes, (0, 0, 0, 0) + depth_pad, value=lowest)
    taps = [slice(t * d[0], t * d[0] + (Do - 1) * s[0] + 1, s[0]) for t in range(k[0])]
    stacked = ops.stack([planes[:, :, tap] for tap in taps], 0)     # (k_d, N, C, Do, Ho, Wo)
    xp = xp_of(input.array)
    in_plane = xp.pad(where2d.array.reshape(N, C, D, Ho, Wo),
                      ((0, 0), (0, 0), depth_pad, (0, 0), (0, 0)), constant_values=-1)
    in_plane = xp.stack([in_plane[:, :, tap] for tap in taps], 0)
    if integer:
        # an input element equal to the type's lowest value must beat a padding tap
        # holding the same value: the first tap reading the input that holds the maximum
        valid = in_plane >= 0
        best = xp.max(xp.where(valid, stacked.array, lowest), axis=0)
        winner = xp.argmax(valid & (stacked.array == best), axis=0)[None]
    else:
        winner = xp.argmax(stacked.array, axis=0)[None]   # the first tap holding the maximum
    out = ops.squeeze(ops.gather(stacked, 0, constant(winner)), 0)
    if not return_indices:
        return out
    # the flat index: the winning tap's depth, times H*W, plus the 2-D index in that plane
    depth = xp.arange(Do).reshape(Do, 1, 1) * s[0] + winner[0] * d[0] - p[0]
    in_plane = xp.take_along_axis(in_plane, winner, 0)[0]
    index = xp.where(in_plane < 0, -1, depth * (H * W) + in_plane)
    return out, constant(index)


def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """A composite: avg_pool2d over each depth plane, then a linear map over depth whose
    row i averages depth window i. PyTorch's divisors are products of per-dim window sizes,
    so the separable average is exact."""
    if input.ndim == 4:
        return ops.squeeze(avg_pool3d(ops.unsqueeze(input, 0), kernel_size, stride, padding,
                                      ceil_mode, count_include_pad, divisor_override), 0)
    k, s, p, _, Do = _pool3d_args("avg_pool3d", input, kernel_size, stride, padding, 1,
                                  ceil_mode)
    if divisor_override is not None and divisor_override <= 0:
        raise ValueError(f"avg_pool3d: divisor_override must be positive, got {divisor_override}")
    plane_div = None if divisor_override is None else 1
    planes = _planes(input, lambda x: avg_pool2d(x, k[1:], s[1:], p[1:], ceil_mode,
                                                 count_include_pad, plane_div))
    D = input.shape[2]
    starts, ends, sizes = _fixed_windows(D, k[0], s[0], p[0], Do, count_include_pad)
    A = np.zeros((D, Do), dtype=input.array.dtype)
    for o in range(Do):
        A[starts[o]:ends[o], o] = 1.0 / (sizes[o] if divisor_override is None else
                                         divisor_override)
    out = ops.matmul(ops.permute(planes, 0, 1, 3, 4, 2), constant(xp_of(input.array).asarray(A)))
    return ops.permute(out, 0, 1, 4, 2, 3)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Output cell (i, j) is the maximum over rows floor(i*H/Ho) .. ceil((i+1)*H/Ho) and the
    same columns, as in PyTorch: the argmax of each window (first one; NaN wins) is found on
    the arrays, and the values gathered there, so the gradient goes to that element only."""
    if input.ndim not in (3, 4):
        raise ValueError(f"adaptive_max_pool2d: expected a 3-D or 4-D input, got shape "
                         f"{input.shape}")
    if input.array.dtype.kind != "f":
        raise TypeError(f"adaptive_max_pool2d: expected a float input, got {input.dtype!r}")
    H, W = input.shape[-2:]
    if isinstance(output_size, (int, np.integer)):
        output_size = (output_size, output_size)
    Ho, Wo = (n if o is None else int(o) for n, o in zip((H, W), output_size))
    if Ho < 1 or Wo < 1 or H < 1 or W < 1:
        raise ValueError(f"adaptive_max_pool2d: output size {(Ho, Wo)} and input size "
                         f"{(H, W)} must be positive")
    xp = xp_of(input.array)
    lead = input.shape[:-2]
    a = input.array
    index = xp.empty(lead + (Ho, Wo), dtype=np.int64)
    for i in range(Ho):
        h0, h1 = (i * H) // Ho, -(-((i + 1) * H) // Ho)
        for j in range(Wo):
            w0, w1 = (j * W) // Wo, -(-((j + 1) * W) // Wo)
            win = a[..., h0:h1, w0:w1].reshape(lead + (-1,))
            best = xp.argmax(win, axis=-1)  # (NumPy's argmax takes the first NaN, as torch)
            index[..., i, j] = (h0 + best // (w1 - w0)) * W + w0 + best % (w1 - w0)
    flat = ops.reshape(input, lead + (H * W,))
    out = ops.reshape(ops.gather(flat, -1, constant(index.reshape(lead + (Ho * Wo,)))),
                      lead + (Ho, Wo))
    return (out, constant(index)) if return_indices else out


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


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """A composite: one conv2d per depth tap of the kernel, over all output depths at once
    (the depth slices a tap reads, batched into conv2d's N), summed over the taps. Slower
    than a 3-D kernel, exact and differentiable to any order."""
    op = "conv3d"
    if input.ndim == 4:
        return ops.squeeze(conv3d(ops.unsqueeze(input, 0), weight, bias, stride, padding,
                                  dilation, groups), 0)
    if input.ndim != 5 or weight.ndim != 5:
        raise ValueError(f"{op}: expected a 5-D input and weight, got shapes {input.shape} "
                         f"and {weight.shape}")
    s, d = _n_tuple(stride, 3, "stride", op), _n_tuple(dilation, 3, "dilation", op)
    k = weight.shape[2:]
    if isinstance(padding, str):
        if padding == "valid":
            p = (0, 0, 0)
        elif padding == "same":
            if s != (1, 1, 1):
                raise ValueError(f"{op}: padding='same' needs stride 1, got {s}")
            total = [dd * (kk - 1) for dd, kk in zip(d, k)]
            input = ops.pad(input, sum(((t // 2, t - t // 2) for t in reversed(total)), ()))
            p = (0, 0, 0)
        else:
            raise ValueError(f"{op}: padding must be an int, a triple, 'same' or 'valid', got "
                             f"{padding!r}")
    else:
        p = _n_tuple(padding, 3, "padding", op)
    if min(s) < 1 or min(d) < 1 or min(p) < 0:
        raise ValueError(f"{op}: stride {s} and dilation {d} must be positive, padding {p} "
                         f"not negative")
    N, C, D, H, W = input.shape
    K = weight.shape[0]
    Do = (D + 2 * p[0] - d[0] * (k[0] - 1) - 1) // s[0] + 1
    if Do < 1 or min(k) < 1:
        raise ValueError(f"{op}: input depth {D} with padding {p[0]} is smaller than the "
                         f"dilated kernel depth {k[0]} (dilation {d[0]})")
    x = ops.pad(input, (0, 0, 0, 0, p[0], p[0])) if p[0] else input
    out = None
    for t in range(k[0]):
        start = t * d[0]
        xt = x[:, :, start:start + (Do - 1) * s[0] + 1:s[0]]  # (N, C, Do, H, W)
        xt = ops.reshape(ops.permute(xt, 0, 2, 1, 3, 4), (N * Do, C, H, W))
        yt = conv2d(xt, weight[:, :, t], None, s[1:], p[1:], d[1:], groups)
        out = yt if out is None else out + yt
    out = ops.permute(ops.reshape(out, (N, Do) + out.shape[1:]), 0, 2, 1, 3, 4)
    if bias is not None:
        if bias.shape != (K,):
            raise ValueError(f"{op}: bias must have shape ({K},), got {bias.shape}")
        out = out + ops.reshape(bias, (1, K, 1, 1, 1))
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
        zero = constant(target.array == 0)
        loss = ops.where(zero, 0.0, target * ops.log(ops.where(zero, 1.0, target))) - target * input
    if reduction == "batchmean":
        return loss.sum() / (input.shape[0] if input.ndim else 1)
    return _reduce(loss, reduction, "kl_div")


# ---------------------------------------------------------------- family modules
# (new functional forms live in a module of their family beside this one)
from minigrad.nn.functional.activation import (celu_, elu_, hardtanh_, leaky_relu_,  # noqa: E402
                                               prelu, relu_, selu_, threshold, threshold_)
from minigrad.nn.functional.distance import cosine_similarity, pairwise_distance  # noqa: E402
from minigrad.nn.functional.loss import cosine_embedding_loss  # noqa: E402
from minigrad.nn.functional.pooling import adaptive_avg_pool1d, max_unpool2d  # noqa: E402
from minigrad.nn.functional.sparse import embedding_bag, one_hot  # noqa: E402
from minigrad.nn.functional.vision import (affine_grid, grid_sample, interpolate,  # noqa: E402
                                           pixel_shuffle, pixel_unshuffle)
