"""Helpers the distributions share (PyTorch's ``torch.distributions.utils``)."""
import numbers

import numpy as np

from minigrad import backend, dtypes
from minigrad.tensor import Tensor

__all__ = ["broadcast_all", "clamp_probs", "lazy_property", "logits_to_probs",
           "probs_to_logits"]


def broadcast_all(*values):
    """Tensors and numbers broadcast to one shape; numbers become tensors of the first
    tensor's dtype and device (the default float dtype when there is none)."""
    from minigrad import ops
    if not all(isinstance(v, (Tensor, numbers.Number)) for v in values):
        raise ValueError("Input arguments must all be instances of Number or minigrad.Tensor.")
    like = next((v for v in values if isinstance(v, Tensor)), None)
    if like is None:
        values = [Tensor(np.asarray(v, dtype=dtypes.default_float.np)) for v in values]
    else:
        values = [v if isinstance(v, Tensor) else
                  Tensor._make(backend.of(like.array).xp.asarray(v, dtype=like.array.dtype))
                  for v in values]
    shape = np.broadcast_shapes(*(v.shape for v in values))
    return tuple(ops.broadcast_to(v, shape) for v in values)


def _finfo(t):
    return np.finfo(t.array.dtype)


def clamp_probs(probs):
    """Probabilities clamped to [eps, 1 - eps] of their dtype."""
    from minigrad import ops
    eps = float(_finfo(probs).eps)
    return ops.clamp(probs, eps, 1 - eps)


def probs_to_logits(probs, is_binary=False):
    from minigrad import ops
    p = clamp_probs(probs)
    return ops.log(p) - ops.log1p(-p) if is_binary else ops.log(p)


def logits_to_probs(logits, is_binary=False):
    from minigrad import ops
    from minigrad.ops import softmax
    return ops.sigmoid(logits) if is_binary else softmax(logits, -1)


def clamp_by_zero(x):
    """(max(x, 0) + x - min(x, 0)) / 2 = max(x, 0), with gradient 1/2 at 0: a softplus built
    on it (with log1p(exp(-|x|))) has the right derivative, 1/2, at x = 0."""
    from minigrad import ops
    return (ops.clamp(x, min=0) + x - ops.clamp(x, max=0)) / 2


def softplus(x):
    """log(1 + e^x) without overflow, differentiable everywhere (see clamp_by_zero)."""
    from minigrad import ops
    return clamp_by_zero(x) + ops.log1p(ops.exp(-ops.abs(x)))


def lgamma_constant(t, who):
    """lgamma of ``t`` as a constant (minigrad has no digamma for its derivative): refused
    when ``t`` requires grad, rather than silently dropping that gradient."""
    if t.requires_grad:
        raise NotImplementedError(f"{who}: the gradient through lgamma (digamma) is not "
                                  f"available in minigrad; this argument must not require grad")
    return Tensor._make(backend.of(t.array).lgamma(t.array))


class lazy_property:
    """Computed on first access (with grad enabled) and then stored on the instance."""

    def __init__(self, wrapped):
        self.wrapped = wrapped
        self.__doc__ = wrapped.__doc__

    def __get__(self, instance, obj_type=None):
        if instance is None:
            return self
        from minigrad.autograd.grad_mode import enable_grad
        with enable_grad():
            value = self.wrapped(instance)
        setattr(instance, self.wrapped.__name__, value)
        return value


class BinaryProbsOrLogits:
    """The parameter of Bernoulli and Binomial: a success probability ``probs`` or log-odds
    ``logits``, exactly one given, the other derived on first use (``_param`` is the given
    one)."""

    @staticmethod
    def _check_one(probs, logits):
        if (probs is None) == (logits is None):
            raise ValueError("Either `probs` or `logits` must be specified, but not both.")

    def _expand_param(self, new, batch_shape):
        """Give ``new`` (an ``expand`` result) this parameter broadcast to ``batch_shape``."""
        if "probs" in self.__dict__:
            new.probs = self.probs.expand(*batch_shape)
            new._param = new.probs
        if "logits" in self.__dict__:
            new.logits = self.logits.expand(*batch_shape)
            new._param = new.logits

    @lazy_property
    def logits(self):
        return probs_to_logits(self.probs, is_binary=True)

    @lazy_property
    def probs(self):
        return logits_to_probs(self.logits, is_binary=True)

    @property
    def param_shape(self):
        return self._param.shape
