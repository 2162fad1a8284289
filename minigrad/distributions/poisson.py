"""``torch.distributions.Poisson``."""
import numbers

from minigrad import rng
from minigrad.distributions import constraints
from minigrad.distributions.distribution import Distribution, _size
from minigrad.distributions.utils import broadcast_all, lgamma_constant
from minigrad.tensor import Tensor

__all__ = ["Poisson"]


class Poisson(Distribution):
    """Counts with mean ``rate``. ``log_prob`` is differentiable with respect to ``rate``
    (the value enters through lgamma and must not require grad); draws are minigrad's
    (NumPy's poisson), not PyTorch's numbers. PyTorch defines no entropy for it."""
    arg_constraints = {"rate": constraints.nonnegative}
    support = constraints.nonnegative_integer

    @property
    def mean(self):
        return self.rate

    @property
    def mode(self):
        return self.rate.floor()

    @property
    def variance(self):
        return self.rate

    def __init__(self, rate, validate_args=None):
        (self.rate,) = broadcast_all(rate)
        batch_shape = () if isinstance(rate, numbers.Number) else self.rate.shape
        super().__init__(batch_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Poisson, _instance)
        batch_shape = _size(batch_shape)
        new.rate = self.rate.expand(*batch_shape)
        Distribution.__init__(new, batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def sample(self, sample_shape=()):
        from minigrad import backend
        shape = self._extended_shape(sample_shape)
        rate = self.rate.detach().array
        xp = backend.of(rate).xp
        drawn = rng.generator(self.rate.device).poisson(xp.broadcast_to(rate, shape))
        return Tensor._make(xp.asarray(drawn, dtype=rate.dtype))

    def log_prob(self, value):
        from minigrad import ops
        if self._validate_args:
            self._validate_sample(value)
        rate, value = broadcast_all(self.rate, value)
        # xlogy(value, rate): 0 where value is 0 (even at rate 0, with a zero gradient)
        xlogy = value * ops.log(ops.where(value == 0, 1.0, rate))
        return xlogy - rate - lgamma_constant(value + 1, "Poisson.log_prob (value)")
