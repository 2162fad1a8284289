"""``torch.distributions.Normal``."""
import math
import numbers

from minigrad import rng
from minigrad.distributions import constraints
from minigrad.distributions.distribution import Distribution, _size
from minigrad.distributions.utils import broadcast_all
from minigrad.tensor import Tensor

__all__ = ["Normal"]


class Normal(Distribution):
    """The Gaussian with mean ``loc`` and standard deviation ``scale``. ``rsample`` is
    reparameterized (``loc + eps * scale``: differentiable in both); draws are minigrad's,
    not PyTorch's numbers."""
    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @property
    def stddev(self):
        return self.scale

    @property
    def variance(self):
        return self.stddev.pow(2)

    def __init__(self, loc, scale, validate_args=None):
        self.loc, self.scale = broadcast_all(loc, scale)
        scalars = isinstance(loc, numbers.Number) and isinstance(scale, numbers.Number)
        super().__init__(() if scalars else self.loc.shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Normal, _instance)
        batch_shape = _size(batch_shape)
        new.loc = self.loc.expand(*batch_shape)
        new.scale = self.scale.expand(*batch_shape)
        Distribution.__init__(new, batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        eps = rng.generator(self.loc.device).standard_normal(shape, dtype=self.loc.array.dtype)
        return self.loc + Tensor._make(eps) * self.scale

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        var = self.scale ** 2
        return -((value - self.loc) ** 2) / (2 * var) - self.scale.log() \
            - math.log(math.sqrt(2 * math.pi))

    def cdf(self, value):
        from minigrad import ops
        if self._validate_args:
            self._validate_sample(value)
        return 0.5 * (1 + ops.erf((value - self.loc) * (1 / self.scale) / math.sqrt(2)))

    def icdf(self, value):
        from minigrad import ops
        return self.loc + self.scale * ops.erfinv(2 * value - 1) * math.sqrt(2)

    def entropy(self):
        return 0.5 + 0.5 * math.log(2 * math.pi) + self.scale.log()
