"""Cross-entropy over class scores as one primitive: log-softmax and the negative
log-likelihood of the target class, with PyTorch's class weights, ignore_index and
reductions. One node instead of a dozen per training step; the backward is the classic
(softmax - one_hot) * weight, from the softmax saved in forward. ``nn.functional`` keeps
the composite form for label smoothing.

Binary cross-entropy on probabilities is a primitive too, for PyTorch's gradient at 0 and 1."""
import numpy as np

from minigrad.autograd.graph import Primitive
from minigrad.ops._common import constant, pair, xp_of
from minigrad.ops.arithmetic import clamp, mul, neg, sub, true_divide as div
from minigrad.ops.transcendental import exp, log
from minigrad.ops.reduce import sum
from minigrad.ops.shape import reshape


class CrossEntropy(Primitive):
    """scores (M, C) and targets (M,) -> per-row losses (reduction 'none') or a scalar.

    Row i: w[t_i] * (logsumexp(x_i) - x_i[t_i]), 0 where t_i == ignore_index; 'mean'
    divides the sum by the total weight of the rows not ignored (NaN when every row is
    ignored, with a zero gradient, as in PyTorch)."""
    op_name = "cross_entropy"
    save_inputs = True

    @staticmethod
    def forward(ctx, x, target, weight=None, ignore_index=-100, reduction="mean"):
        xp = xp_of(x)
        valid = target != ignore_index
        t = xp.where(valid, target, 0)
        top = x.max(axis=1, keepdims=True)
        e = xp.exp(x - top)
        total = e.sum(axis=1, keepdims=True)
        rows = xp.arange(x.shape[0])
        w = valid.astype(x.dtype) if weight is None else weight[t] * valid
        loss = (xp.log(total[:, 0]) - (x[rows, t] - top[:, 0])) * w   # small terms: exact
        e /= total
        ctx.softmax, ctx.t, ctx.top = e, t, top
        if reduction == "none":
            ctx.coef = w
            return loss
        norm = w.sum() if reduction == "mean" else x.dtype.type(1)
        ctx.coef = w / norm if norm != 0 else xp.zeros_like(w)
        with np.errstate(invalid="ignore", divide="ignore"):
            return xp.asarray(loss.sum() / norm, dtype=x.dtype)

    @staticmethod
    def backward(ctx, g):
        xp = xp_of(ctx.softmax)
        M = ctx.softmax.shape[0]
        rows = xp.arange(M)
        # d loss / d x_i = coef_i * (softmax_i - one_hot(t_i)), times the upstream gradient,
        # in differentiable ops of x (softmax recomputed) and g
        x = ctx.inputs[0]
        e = exp(sub(x, constant(ctx.top)))
        one_hot = xp.zeros_like(ctx.softmax)
        one_hot[rows, ctx.t] = 1
        gi = reshape(mul(g, constant(ctx.coef)), (M, 1))
        return mul(sub(div(e, sum(e, 1, keepdim=True)), constant(one_hot)), gi), None

    @staticmethod
    def backward_arrays(ctx, g):
        gi = g * ctx.coef
        dx = ctx.softmax * gi[:, None]
        dx[xp_of(dx).arange(dx.shape[0]), ctx.t] -= gi
        return dx, None


def cross_entropy(x, target, weight=None, ignore_index=-100, reduction="mean"):
    """Cross-entropy of (M, C) float scores against (M,) integer class indices that the
    caller (``nn.functional.cross_entropy``) has checked; ``weight`` an array of x's dtype."""
    return CrossEntropy.apply(x, constant(target), weight=weight, ignore_index=ignore_index,
                              reduction=reduction)


_BCE_EPS = float(np.float32(1e-12))  # PyTorch's bound, a float32 constant in every dtype


class BinaryCrossEntropy(Primitive):
    """Unreduced -[y max(log x, -100) + (1 - y) max(log(1 - x), -100)], with PyTorch's
    gradients: (x - y) / max(x (1 - x), float32(1e-12)) for x (finite at 0 and 1, where the clamped
    logs have none) and -logit(x) for y. A primitive because the composite's gradient at
    the clamp would differ."""
    op_name = "binary_cross_entropy"
    save_inputs = True

    @staticmethod
    def forward(ctx, x, y):
        xp = xp_of(x)
        if ((x < 0) | (x > 1)).any():
            raise RuntimeError("binary_cross_entropy: all elements of input should be "
                               "between 0 and 1")
        with np.errstate(divide="ignore"):
            log_x = xp.maximum(xp.log(x), x.dtype.type(-100))
            log_1mx = xp.maximum(xp.log(1 - x), x.dtype.type(-100))
        return -(y * log_x + (1 - y) * log_1mx)

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.inputs
        gx = gy = None
        if ctx.next[0] is not None:
            gx = div(mul(g, sub(x, y)), clamp(mul(sub(1, x), x), min=_BCE_EPS))
        if ctx.next[1] is not None:
            gy = mul(g, neg(log(div(x, sub(1, x)))))
        return gx, gy


def binary_cross_entropy(x, y):
    """The unreduced binary cross-entropy of probabilities ``x`` against targets ``y``."""
    x, y = pair(x, y)
    return BinaryCrossEntropy.apply(x, y)
