"""``torch.distributions.Bernoulli``."""
import math
import numbers

from minigrad import rng
from minigrad.distributions import constraints
from minigrad.distributions.distribution import Distribution, _size
from minigrad.distributions.utils import BinaryProbsOrLogits, broadcast_all, softplus
from minigrad.tensor import Tensor

__all__ = ["Bernoulli"]


class Bernoulli(BinaryProbsOrLogits, Distribution):
    """1 with probability ``probs`` (or log-odds ``logits``), else 0. ``log_prob`` and
    ``entropy`` are PyTorch's binary cross-entropy forms, differentiable with respect to
    the parameters (at logits 0 too); draws are minigrad's, not PyTorch's numbers."""
    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.boolean
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, validate_args=None):
        self._check_one(probs, logits)
        if probs is not None:
            scalar = isinstance(probs, numbers.Number)
            (self.probs,) = broadcast_all(probs)
        else:
            scalar = isinstance(logits, numbers.Number)
            (self.logits,) = broadcast_all(logits)
        self._param = self.probs if probs is not None else self.logits
        super().__init__(() if scalar else self._param.shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Bernoulli, _instance)
        batch_shape = _size(batch_shape)
        self._expand_param(new, batch_shape)
        Distribution.__init__(new, batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def mean(self):
        return self.probs

    @property
    def mode(self):
        from minigrad import backend
        p = self.probs.detach().array
        xp = backend.of(p).xp
        return Tensor._make(xp.where(p == 0.5, math.nan, (p >= 0.5).astype(p.dtype)))

    @property
    def variance(self):
        return self.probs * (1 - self.probs)

    def sample(self, sample_shape=()):
        from minigrad import backend
        shape = self._extended_shape(sample_shape)
        p = self.probs.detach().array
        u = rng.generator(self.probs.device).random(shape)
        return Tensor._make(backend.of(p).xp.asarray(u < p, dtype=p.dtype))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        return value * logits - softplus(logits)   # -BCE(logits, value)

    def entropy(self):
        return softplus(self.logits) - self.probs * self.logits   # BCE(logits, probs)

    def enumerate_support(self, expand=True):
        from minigrad import creation
        values = creation.arange(2, dtype=self._param.dtype, device=self._param.device)
        values = values.view((-1,) + (1,) * len(self._batch_shape))
        if expand:
            values = values.expand(*((-1,) + self._batch_shape))
        return values
