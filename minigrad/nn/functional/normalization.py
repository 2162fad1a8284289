"""Normalization: batch, layer, group and instance normalization, and Batch Layer
Normalization.

Every normalization layer is "statistics per group of values, then a per-channel affine
map": ``norm_stats`` computes the statistics (one place, with a hook for reducing them
across processes), ``update_running_stats`` moves running estimates (one place), and
``ops.channel_affine`` normalizes, scales and shifts in one pass."""
import math

import numpy as np

from minigrad._shapes import channel_axes
from minigrad import distributed, ops
from minigrad.errors import InvalidArgument, InvalidDtype
from minigrad.ops._common import constant, xp_of
from minigrad.tensor import Tensor


def _channel_view(C, ndim):
    return (1, C) + (1,) * (ndim - 2)


def _check_values_per_channel(input, op):
    n = ops.values_per_channel(input.shape)
    if n == 1:  # (an empty batch passes: it normalizes to an empty output, as in PyTorch)
        raise InvalidArgument(f"{op}: Expected more than 1 value per channel when training, got "
                              f"input size {tuple(input.shape)}")
    return n


def norm_stats(x, reduce=None, mask=None):
    """(count, mean, biased variance) per channel of ``x`` (N, C, ...): count values per
    channel, mean and variance of shape (C,), differentiable. ``reduce(count, mean, var)``,
    when given, combines the local statistics with others (SyncBatchNorm's all-reduce) and
    returns the combined triple; an empty ``x`` then still joins it, with zero statistics
    that stay on ``x``'s graph (so its backward joins the reduction's too). ``mask`` (the
    weights from ``_mask_weights``): the statistics of the real positions only."""
    count = ops.values_per_channel(x.shape)
    if mask is not None:
        count, mean, var = _masked_moments(x, *mask)
    elif count == 0 and reduce is not None:
        mean = var = ops.sum(x, channel_axes(x.ndim))      # zeros of shape (C,)
    else:
        mean, var = ops.channel_moments(x)
    if reduce is not None:
        count, mean, var = reduce(count, mean, var)
    return count, mean, var


def _mask_weights(input, mask, op):
    """(weights, count): ``mask`` (N, ...) of booleans, True at the input's real positions,
    as a constant 0/1 tensor of the input's dtype shaped to broadcast over (N, C, ...)
    (the channel axis inserted), and the number of real positions per channel."""
    m = mask.array if isinstance(mask, Tensor) else np.asarray(mask)
    expected = tuple(input.shape[:1]) + tuple(input.shape[2:])
    if tuple(m.shape) != expected or m.dtype != bool:
        raise InvalidArgument(f"{op}: mask must be a boolean array of shape {expected} (the "
                              f"input's {tuple(input.shape)} without its channel axis), got "
                              f"{m.dtype} of shape {tuple(m.shape)}")
    xp = xp_of(input.array)
    count = int(m.sum())
    w = xp.asarray(m).astype(input.array.dtype).reshape(expected[:1] + (1,) + expected[1:])
    return constant(w), count


def _masked_moments(x, weights, count):  # (mask: the pair _mask_weights returns)
    """(count, mean, biased variance) per channel over the positions whose weight is 1:
    masked sums divided by the count, the variance centred on the masked mean (two
    passes, as the unmasked kernel: never E[x^2] - E[x]^2)."""
    axes = channel_axes(x.ndim)
    mean = ops.sum(x * weights, axes) / count
    centred = (x - ops.reshape(mean, _channel_view(x.shape[1], x.ndim))) * weights
    return count, mean, ops.sum(centred * centred, axes) / count


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
    if t is not None and t.array.shape != (C,):
        raise InvalidArgument(f"batch_norm: {name} must have shape ({C},) for an input with {C} "
                              f"channels, got {tuple(t.shape)}")
    return t


def _batch_statistics(op, input, running_mean, running_var, training, momentum, reduce=None,
                      mask=None):
    """mu_B and sigma_B^2 (biased) per channel: in training the batch's (through ``reduce``
    when given; over the real positions only when ``mask``, the weights and count from
    ``_mask_weights``, is given), with the running statistics moved toward them (unless the
    batch has one value per channel, which has no unbiased variance: nothing to track);
    otherwise the running statistics."""
    if training:
        n, mean, var = norm_stats(input, reduce, mask)
        if n > 1:
            update_running_stats(running_mean, running_var, mean, var, n, momentum)
        return mean, var
    if running_mean is None or running_var is None:
        raise InvalidArgument(f"{op}: running_mean and running_var are needed when not "
                              f"training")
    return running_mean, running_var


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5, *, reduce=None, mask=None, virtual_batch_size=None):
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

    ``mask`` (a minigrad extension, keyword only): a boolean array or tensor of the input's
    shape without its channel axis, (N,) for (N, C) input and (N, L) for (N, C, L), True at
    real positions and False at padding (variable-length sequences). In training the batch
    statistics are those of the real positions only, with n their count:

        mu_B = sum_i m_i x_i / n,   sigma_B^2 = sum_i m_i (x_i - mu_B)^2 / n,

    and the running statistics move toward mu_B and the unbiased n / (n - 1) sigma_B^2.
    Every position, padded ones too, is normalized with these statistics and goes through
    the affine map: the output has the input's shape with finite values everywhere, and a
    caller masks its loss (a padded position's output then has zero gradient, and the
    padded inputs get zero gradient: they reach nothing else). Zeroing the padded outputs
    was not chosen: it would hide nothing the loss mask does not, and would make the
    output depend on the mask where the statistics alone should. In eval the running
    statistics normalize every position and the mask changes nothing. Training with fewer
    than 2 real positions raises, as an unmasked batch with one value per channel does.
    With ``reduce`` the masked statistics of each process are combined by it.

    ``virtual_batch_size`` (a minigrad extension, keyword only): Ghost Batch Normalization
    (Hoffer, Hubara & Soudry 2017, Algorithm 1), with the semantics of Keras's
    ``BatchNormalization(virtual_batch_size=...)``; see ``_ghost_batch_norm``. It applies
    where batch statistics are used (``training=True``); with running statistics it changes
    nothing. It combines with neither ``mask`` nor ``reduce``.
    """
    if input.ndim < 2:
        raise InvalidArgument(f"batch_norm: expected an input with at least 2 dimensions "
                              f"(N, C, ...), got shape {input.shape}")
    if training and eps <= 0:
        raise InvalidArgument(f"batch_norm: eps must be positive during training, but got {eps}")
    C = input.array.shape[1]
    running_mean = _running(running_mean, C, "running_mean")
    running_var = _running(running_var, C, "running_var")
    _check_dtypes("batch_norm", input, weight=weight, bias=bias, running_mean=running_mean,
                  running_var=running_var)
    if virtual_batch_size is not None:
        _check_virtual_batch_size(virtual_batch_size, mask, reduce)
    if mask is not None:
        mask = _mask_weights(input, mask, "batch_norm")
        if training and mask[1] < 2:
            raise InvalidArgument(f"batch_norm: Expected more than 1 real position per channel "
                                  f"when training, got {mask[1]} (mask of shape "
                                  f"{tuple(input.shape[:1]) + tuple(input.shape[2:])})")
    elif training and reduce is None and _check_values_per_channel(input, "batch_norm") == 0:
        # an empty batch has no statistics: PyTorch gives an empty output (and zero
        # gradients) and leaves the running statistics alone
        scale = weight if weight is not None else constant(xp_of(input.array).ones(C, input.array.dtype))
        return ops.channel_affine(input, scale, bias)
    if virtual_batch_size is not None and training:
        return _ghost_batch_norm(input, running_mean, running_var, weight, bias, momentum, eps,
                                 virtual_batch_size)
    mean, var = _batch_statistics("batch_norm", input, running_mean, running_var, training,
                                  momentum, reduce, mask)            # mu_B, sigma_B^2
    scale = ops.rsqrt_eps(var, eps, weight)              # gamma / sqrt(sigma^2 + eps), one op
    return ops.channel_affine(input, scale, bias, center=mean)      # gamma x_hat + beta


def _check_virtual_batch_size(size, mask, reduce):
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise InvalidArgument(f"batch_norm: virtual_batch_size must be a positive integer that "
                              f"divides the batch size, got {size!r}")
    if mask is not None or reduce is not None:
        raise InvalidArgument("batch_norm: virtual_batch_size combines with neither mask nor "
                              "reduce (SyncBatchNorm)")


def _ghost_batch_norm(input, running_mean, running_var, weight, bias, momentum, eps, size):
    """Ghost Batch Normalization: batch normalization with the statistics of virtual
    sub-batches of ``size`` samples, as Keras's ``virtual_batch_size`` computes it.

    Keras reshapes the (N, ...) batch to (size, N / size, ...) and reduces over the first
    axis (and the spatial ones), so with G = N / size the sub-batches are *strided*: sample
    i belongs to sub-batch i mod G, which holds samples g, g + G, g + 2G, ... Here the
    (N, C, ...) input is viewed as (size, G * C, rest), one "channel" per (sub-batch,
    channel) pair, and normalized by the same composite as ``batch_norm`` (per-channel
    moments, then one per-channel affine map with gamma and beta shared by the
    sub-batches), so the engine derives the gradient. ``size`` must divide N.

    The running statistics move once per call (as Keras's, and as ``num_batches_tracked``
    counts), toward the average over the sub-batches of their means and of their variances.
    Keras averages biased variances; we keep PyTorch's convention for the running variance
    and average the *unbiased* ones (each over the n = size * rest values of a sub-batch,
    so n / (n - 1) times the average biased variance). With ``size = N`` this is exactly
    ``batch_norm``."""
    N, C = input.shape[:2]
    if N % size:
        raise InvalidArgument(f"batch_norm: virtual_batch_size={size} must divide the batch "
                              f"size, got input of shape {tuple(input.shape)} (batch of {N})")
    groups = N // size
    rest = math.prod(input.shape[2:])
    if size * rest == 1:
        raise InvalidArgument(f"batch_norm: Expected more than 1 value per channel in each "
                              f"virtual batch when training, got virtual_batch_size={size} "
                              f"and input size {tuple(input.shape)}")
    ghost = ops.reshape(input, (size, groups * C, rest))   # sample k G + g -> (k, g C + c)
    n, mean, var = norm_stats(ghost)                        # per (sub-batch, channel)
    update_running_stats(running_mean, running_var, mean.array.reshape(groups, C),
                         var.array.reshape(groups, C), n, momentum)

    def tiled(p):  # (C,) -> (groups * C,): every sub-batch shares gamma and beta
        return None if p is None else ops.reshape(
            ops.expand(ops.reshape(p, (1, C)), (groups, C)), (groups * C,))

    scale = ops.rsqrt(var + eps)
    if weight is not None:
        scale = scale * tiled(weight)
    out = ops.channel_affine(ghost, scale, tiled(bias), center=mean)
    return ops.reshape(out, input.shape)


def _grouped(input, groups):
    """``input`` (N, C, ...) viewed as (1, N * groups, rest): one 'channel' per group of
    each sample, so channel_moments gives per-sample, per-group statistics."""
    return ops.reshape(input, (1, input.shape[0] * groups, math.prod(input.shape[1:]) // groups))


def _per_sample_norm(input, groups, weight, bias, eps):
    """GroupNorm and InstanceNorm: statistics per sample and group of channels, then one
    per-(sample, channel) affine map over the spatial extent. Returns the output and the
    statistics (count, mean, var), each of the latter two of shape (N * groups,).

    The per-group statistics and the per-channel gamma and beta are spread to one value
    per (sample, channel) with reshape and expand nodes (about a dozen, on vectors) so that
    normalize, scale and shift stay one pass over the input. Normalizing the grouped view
    first and applying gamma and beta in a second pass records 6 nodes instead of 18, but
    the extra pass over the input made GroupNorm(32, 64) on 64x64x32x32 1.7x slower."""
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

    scale = per_channel(ops.rsqrt_eps(var, eps))
    if weight is not None:
        scale = scale * tiled(weight)
    # the per-channel view is taken of the per-group one, so the affine pass's gradient
    # arrives where the moments' gradient is added into it
    per_channel_view = ops.reshape(grouped, (1, N * C, math.prod(input.shape[2:])))
    out = ops.channel_affine(per_channel_view, scale, tiled(bias), center=per_channel(mean))
    return ops.reshape(out, input.shape), count, mean, var


def _reshaped(t, shape):
    """``t`` reshaped to ``shape``: itself when it has that shape (no node for it)."""
    return t if t.array.shape == shape else ops.reshape(t, shape)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    normalized_shape = (normalized_shape,) if isinstance(normalized_shape, int) \
        else tuple(normalized_shape)
    k = len(normalized_shape)
    if input.array.shape[input.array.ndim - k:] != normalized_shape:
        raise InvalidArgument(f"layer_norm: expected input with trailing shape {normalized_shape}, "
                              f"got {input.shape}")
    D = math.prod(normalized_shape)
    rows = (1, -1, D)          # read as one 'channel' per row: no reshape is recorded
    mean, var = ops.channel_moments(input, as_shape=rows)
    out = ops.channel_affine(input, ops.rsqrt_eps(var, eps), center=mean,
                             as_shape=rows)                          # x_hat, row by row
    if weight is None and bias is None:
        return out
    # then gamma and beta along the normalized axes: the channels of the (rows, D) view
    w = constant(xp_of(input.array).ones(D, dtype=input.array.dtype)) if weight is None \
        else _reshaped(weight, (D,))
    b = None if bias is None else _reshaped(bias, (D,))
    return ops.channel_affine(out, w, b, as_shape=(-1, D))


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


# ---------------------------------------------------------------- Batch Layer Normalization
#
# Ziaee & Cano, 2022, arXiv 2209.08898: a mini-batch-size weighted mix of batch
# normalization and layer normalization. Sources: the paper's abstract and the authors'
# published Keras layer (github.com/A2Amir/Batch-Layer-Normalization, ``helpers/bln_layer.py``
# and ``helpers/bln_callback.py``). The formula is the one that code computes, restated in
# PyTorch's (N, C, ...) layout; where our choices differ from that code, the docstring of
# ``nn.BatchLayerNorm1d`` says so.

def batch_layer_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
                     momentum=0.1, eps=1e-5, batch_size=None):
    """y = gamma * (w * x_hat_L + (1 - w) * x_hat_B) + beta, with w = 1 / m (see
    ``BatchLayerNorm1d`` for every term). ``batch_size`` is m; None: the input's N. In
    training the batch statistics are the input's and the running ones move toward them
    (``momentum`` is the weight of the new value); otherwise the running ones are used."""
    if input.ndim < 2:
        raise InvalidArgument(f"batch_layer_norm: expected an input with at least 2 dimensions "
                              f"(N, C, ...), got shape {input.shape}")
    N = input.shape[0]
    m = N if batch_size is None else int(batch_size)
    if m < 1:
        raise InvalidArgument(f"batch_layer_norm: the mini-batch size must be positive, got {m} "
                              f"(input shape {input.shape})")
    w = 1.0 / m
    mean_B, var_B = _batch_statistics("batch_layer_norm", input, running_mean, running_var,
                                      training, momentum)          # mu_B, sigma_B^2 per channel
    x_hat_B = ops.channel_affine(input, ops.rsqrt_eps(var_B, eps), center=mean_B)
    # per-sample statistics over (C, ...): each sample seen as one channel of a (1, N, -1) view
    per_sample = ops.reshape(input, (1, N, -1))
    _, mean_L, var_L = norm_stats(per_sample)                   # mu_L, sigma_L^2 per sample
    x_hat_L = ops.reshape(ops.channel_affine(per_sample, ops.rsqrt_eps(var_L, eps),
                                             center=mean_L), input.shape)
    x_hat = x_hat_L * w + x_hat_B * (1.0 - w)
    if weight is None and bias is None:
        return x_hat
    if weight is None:
        weight = constant(xp_of(input.array).ones(input.shape[1], input.array.dtype))
    return ops.channel_affine(x_hat, weight, bias)


# ---------------------------------------------------------------- SyncBatchNorm's statistics
#
# SyncBatchNorm is ``batch_norm`` with one thing swapped: the per-channel statistics go
# through ``all_reduce_stats`` before normalizing. Everything else, the gradient included,
# comes from the BatchNorm composite and the engine: the statistics reach the output through
# the differentiable ``all_reduce``, whose backward all-reduces the incoming gradient, so each
# rank's input gradient is that of the loss summed over ranks. Gradients of gamma and beta
# stay local (DistributedDataParallel averages them).

def all_reduce_stats(count, mean, var):
    """Combine each rank's (count, mean, biased variance) per channel into the whole
    batch's, on every rank, with one Allreduce.

    Each rank writes (count, mean, variance) into its own row of a zero (world, 3, C)
    table; summing the tables over ranks (``all_reduce``) gives every rank all rows, and
    the rows combine exactly (Chan et al.): with weights w_r = n_r / N, the mean is
    sum_r w_r m_r and the variance sum_r w_r (v_r + (m_r - mean)^2), a sum of non-negative
    terms, in float64. Each v_r is centred on its own rank's mean, so float32 inputs with a
    large mean keep an accurate variance (no E[x^2] - E[x]^2 anywhere). The count comes
    from the reduced table, so unequal shards, and empty ones (w_r = 0), are exact.
    """
    world, rank = distributed.get_world_size(), distributed.get_rank()
    C = mean.shape[0]
    zeros = ops.as_tensor(np.zeros((3, C), mean.array.dtype))
    n = ops.as_tensor(np.full(C, count, mean.array.dtype))
    mine = ops.stack([n, mean, var])
    table = distributed.nn.functional.all_reduce(
        ops.stack([mine if r == rank else zeros for r in range(world)]))
    counts = table.array[:, 0, 0].astype(np.float64)
    total = int(round(counts.sum()))
    if total <= 1:
        raise InvalidArgument(f"SyncBatchNorm: Expected more than 1 value per channel when "
                              f"training, got {total} over {world} ranks")
    table = table.double()                                     # combine in float64
    w = ops.as_tensor((counts / total)[:, None])
    means, variances = table[:, 1], table[:, 2]
    global_mean = ops.sum(means * w, 0)
    global_var = ops.sum((variances + (means - global_mean) ** 2) * w, 0)
    dtype = mean.dtype
    return total, global_mean.to(dtype), global_var.to(dtype)

