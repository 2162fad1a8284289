"""``torch.distributions.Categorical`` (and the draws Multinomial makes through it)."""
import math

import numpy as np

from minigrad import dtypes, rng
from minigrad.distributions import constraints
from minigrad.distributions.distribution import Distribution, _size
from minigrad.distributions.utils import lazy_property, logits_to_probs, probs_to_logits
from minigrad.tensor import Tensor

__all__ = ["Categorical"]


def draw_categories(probs, n):
    """``n`` independent draws from each row of ``probs`` (rows, K): an int64 array
    (n, rows), by inverting each row's cumulative distribution at uniform draws (a zero
    probability is never drawn)."""
    from minigrad import backend
    xp = backend.of(probs).xp
    rows = probs.shape[0]
    cdf = xp.cumsum(probs.astype(np.float64), axis=-1)
    cdf = cdf / cdf[:, -1:]
    u = rng.generator(_device(probs)).random((n, rows))
    out = xp.zeros((n, rows), dtype=np.int64)
    last = probs.shape[-1] - 1
    for r in range(rows):
        out[:, r] = xp.minimum(xp.searchsorted(cdf[r], u[:, r], side="right"), last)
    return out


def _device(array):
    from minigrad.device import device_of
    return device_of(array)


class Categorical(Distribution):
    """A distribution over ``{0, ..., K-1}`` given ``probs`` (normalized along the last
    dimension) or ``logits`` (unnormalized log-probabilities); leading dimensions are the
    batch. ``sample`` draws int64 categories (minigrad's generator, not PyTorch's numbers);
    ``log_prob`` is differentiable with respect to the parameters."""
    arg_constraints = {"probs": constraints.simplex,
                       "logits": constraints.independent(constraints.real, 1)}
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, validate_args=None):
        if (probs is None) == (logits is None):
            raise ValueError("Either `probs` or `logits` must be specified, but not both.")
        if probs is not None:
            if probs.ndim < 1:
                raise ValueError("`probs` parameter must be at least one-dimensional.")
            self.probs = probs / probs.sum(-1, keepdim=True)
        else:
            if logits.ndim < 1:
                raise ValueError("`logits` parameter must be at least one-dimensional.")
            self.logits = logits - logits.logsumexp(dim=-1, keepdim=True)
        self._param = self.probs if probs is not None else self.logits
        self._num_events = self._param.shape[-1]
        batch_shape = self._param.shape[:-1] if self._param.ndim > 1 else ()
        super().__init__(batch_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Categorical, _instance)
        batch_shape = _size(batch_shape)
        param_shape = batch_shape + (self._num_events,)
        if "probs" in self.__dict__:
            new.probs = self.probs.expand(*param_shape)
            new._param = new.probs
        if "logits" in self.__dict__:
            new.logits = self.logits.expand(*param_shape)
            new._param = new.logits
        new._num_events = self._num_events
        Distribution.__init__(new, batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @constraints.dependent_property(is_discrete=True, event_dim=0)
    def support(self):
        return constraints.integer_interval(0, self._num_events - 1)

    @lazy_property
    def logits(self):
        return probs_to_logits(self.probs)

    @lazy_property
    def probs(self):
        return logits_to_probs(self.logits)

    @property
    def param_shape(self):
        return self._param.shape

    def _full_nan(self):
        from minigrad import creation
        return creation.full(self._extended_shape(), math.nan, dtype=self.probs.dtype,
                             device=self.probs.device)

    @property
    def mean(self):
        return self._full_nan()

    @property
    def mode(self):
        return self.probs.argmax(dim=-1)

    @property
    def variance(self):
        return self._full_nan()

    def sample(self, sample_shape=()):
        shape = _size(sample_shape)
        probs_2d = self.probs.detach().array.reshape(-1, self._num_events)
        drawn = draw_categories(probs_2d, math.prod(shape))
        return Tensor._make(drawn.reshape(self._extended_shape(shape)))

    def log_prob(self, value):
        from minigrad import ops
        if self._validate_args:
            self._validate_sample(value)
        value = value.long().unsqueeze(-1)
        shape = np.broadcast_shapes(value.shape, self.logits.shape)
        index = ops.broadcast_to(value, shape)[..., :1]
        log_pmf = ops.broadcast_to(self.logits, shape)
        return log_pmf.gather(-1, index).squeeze(-1)

    def entropy(self):
        min_real = float(np.finfo(self.logits.array.dtype).min)
        logits = self.logits.clamp(min=min_real)
        return -(logits * self.probs).sum(-1)

    def enumerate_support(self, expand=True):
        from minigrad import creation
        values = creation.arange(self._num_events, dtype=dtypes.int64, device=self._param.device)
        values = values.view((-1,) + (1,) * len(self._batch_shape))
        if expand:
            values = values.expand(*((-1,) + self._batch_shape))
        return values
