"""``torch.distributions.Binomial``: successes in ``total_count`` trials."""
import numpy as np

from minigrad import rng
from minigrad.distributions import constraints
from minigrad.distributions.distribution import Distribution, _size
from minigrad.distributions.utils import (BinaryProbsOrLogits, broadcast_all,
                                          lgamma_constant, softplus)
from minigrad.tensor import Tensor

__all__ = ["Binomial"]


class Binomial(BinaryProbsOrLogits, Distribution):
    """``total_count`` (a tensor or int, broadcast with the parameter) trials of success
    probability ``probs`` (or log-odds ``logits``). ``log_prob`` is differentiable with
    respect to ``probs``/``logits``; ``total_count`` and the value enter through lgamma,
    whose derivative minigrad lacks, so they must not require grad (a clear error, not a
    dropped gradient). Draws are minigrad's (NumPy's binomial), not PyTorch's numbers."""
    arg_constraints = {"total_count": constraints.nonnegative_integer,
                       "probs": constraints.unit_interval, "logits": constraints.real}
    has_enumerate_support = True

    def __init__(self, total_count=1, probs=None, logits=None, validate_args=None):
        self._check_one(probs, logits)
        if probs is not None:
            self.total_count, self.probs = broadcast_all(total_count, probs)
            self.total_count = self.total_count.type_as(self.probs)
        else:
            self.total_count, self.logits = broadcast_all(total_count, logits)
            self.total_count = self.total_count.type_as(self.logits)
        self._param = self.probs if probs is not None else self.logits
        super().__init__(self._param.shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Binomial, _instance)
        batch_shape = _size(batch_shape)
        new.total_count = self.total_count.expand(*batch_shape)
        self._expand_param(new, batch_shape)
        Distribution.__init__(new, batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @constraints.dependent_property(is_discrete=True, event_dim=0)
    def support(self):
        return constraints.integer_interval(0, self.total_count)

    @property
    def mean(self):
        return self.total_count * self.probs

    @property
    def mode(self):
        return ((self.total_count + 1) * self.probs).floor().clamp(max=self.total_count)

    @property
    def variance(self):
        return self.total_count * self.probs * (1 - self.probs)

    def sample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        n = self.total_count.detach().array
        p = self.probs.detach().array
        xp = _xp(p)
        drawn = rng.generator(self.probs.device).binomial(
            xp.broadcast_to(n, shape).astype(np.int64), xp.broadcast_to(p, shape))
        return Tensor._make(xp.asarray(drawn, dtype=p.dtype))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        n = self.total_count
        log_factorial_n = lgamma_constant(n + 1, "Binomial.log_prob (total_count)")
        log_factorial_k = lgamma_constant(value + 1, "Binomial.log_prob (value)")
        log_factorial_nmk = lgamma_constant(n - value + 1, "Binomial.log_prob")
        # n * softplus(logits) = n * log(1 + e^logits), the normalizer, written as PyTorch's
        normalize_term = n * softplus(self.logits) - log_factorial_n
        return value * self.logits - log_factorial_k - log_factorial_nmk - normalize_term

    def _homogeneous_count(self, what):
        total = int(self.total_count.max())
        if not self.total_count.min() == total:
            raise NotImplementedError(f"Inhomogeneous total count not supported by `{what}`.")
        return total

    def entropy(self):
        self._homogeneous_count("entropy")
        log_prob = self.log_prob(self.enumerate_support(False))
        return -(log_prob.exp() * log_prob).sum(0)

    def enumerate_support(self, expand=True):
        from minigrad import creation
        total = self._homogeneous_count("enumerate_support")
        values = creation.arange(1 + total, dtype=self._param.dtype, device=self._param.device)
        values = values.view((-1,) + (1,) * len(self._batch_shape))
        if expand:
            values = values.expand(*((-1,) + self._batch_shape))
        return values


def _xp(array):
    from minigrad import backend
    return backend.of(array).xp
