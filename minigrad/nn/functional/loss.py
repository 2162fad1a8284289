"""Losses, with PyTorch's reductions (``none``, ``mean``, ``sum``) and its rules for
class weights and ignored targets."""
from minigrad import ops
from minigrad.errors import InvalidArgument, InvalidDtype
from minigrad.ops._common import as_tensor, constant, xp_of
from minigrad.tensor import Tensor
from minigrad.nn.functional.activation import log_softmax, logsigmoid


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


_EPSILON = 1e-12  # (PyTorch's, added to each squared magnitude)


def cosine_embedding_loss(input1, input2, target, margin=0.0, reduction="mean"):
    """1 - cos(x1, x2) where target is 1, max(0, cos(x1, x2) - margin) where it is -1 (0
    elsewhere), with cos = x1.x2 / sqrt((|x1|^2 + 1e-12)(|x2|^2 + 1e-12)) as in PyTorch.
    Inputs (N, D) with a target (N,), or (D,) with a 0-D target."""
    op = "cosine_embedding_loss"
    target = as_tensor(target)
    t = target.ndim
    if t not in (0, 1):
        raise RuntimeError(f"{op}: 0D or 1D target tensor expected, multi-target not supported")
    if input1.ndim != t + 1 or input2.ndim != t + 1:
        raise RuntimeError(f"{op}: {t}D target tensor expects {t + 1}D input tensors, but found "
                           f"inputs with sizes {list(input1.shape)} and {list(input2.shape)}.")
    dot = (input1 * input2).sum(t)
    cos = dot / ops.sqrt(((input1 * input1).sum(t) + _EPSILON) *
                         ((input2 * input2).sum(t) + _EPSILON))
    y = target.array
    pos = ops.where(constant(y == 1), 1 - cos, 0.0)
    neg = ops.where(constant(y == -1), ops.clamp(cos - margin, min=0.0), 0.0)
    return _reduce(pos + neg, reduction, op)
