"""``torch.distributions.Multinomial``: counts of ``total_count`` categorical draws."""
import math

from minigrad.distributions import constraints
from minigrad.distributions.binomial import Binomial
from minigrad.distributions.categorical import Categorical, draw_categories
from minigrad.distributions.distribution import Distribution, _size
from minigrad.distributions.utils import broadcast_all, lgamma_constant
from minigrad.tensor import Tensor

__all__ = ["Multinomial"]


class Multinomial(Distribution):
    """Counts over K categories from ``total_count`` (an int) independent draws with
    ``probs`` or ``logits`` (as Categorical's). ``log_prob`` is differentiable with respect
    to the parameters (the counts must not require grad: they enter through lgamma).
    ``sample`` counts Categorical draws, so its numbers are minigrad's, not PyTorch's."""
    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}

    @property
    def mean(self):
        return self.probs * self.total_count

    @property
    def variance(self):
        return self.total_count * self.probs * (1 - self.probs)

    def __init__(self, total_count=1, probs=None, logits=None, validate_args=None):
        if not isinstance(total_count, int):
            raise NotImplementedError("inhomogeneous total_count is not supported")
        self.total_count = total_count
        self._categorical = Categorical(probs=probs, logits=logits)
        self._binomial = Binomial(total_count=total_count, probs=self.probs)
        super().__init__(self._categorical.batch_shape, self._categorical.param_shape[-1:],
                         validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Multinomial, _instance)
        batch_shape = _size(batch_shape)
        new.total_count = self.total_count
        new._categorical = self._categorical.expand(batch_shape)
        Distribution.__init__(new, batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @constraints.dependent_property(is_discrete=True, event_dim=1)
    def support(self):
        return constraints.multinomial(self.total_count)

    @property
    def logits(self):
        return self._categorical.logits

    @property
    def probs(self):
        return self._categorical.probs

    @property
    def param_shape(self):
        return self._categorical.param_shape

    def sample(self, sample_shape=()):
        from minigrad import backend
        shape = self._extended_shape(sample_shape)   # sample + batch + (K,)
        k = self._categorical._num_events
        probs_2d = self.probs.detach().array.reshape(-1, k)
        rows = probs_2d.shape[0]
        draws = draw_categories(probs_2d, math.prod(_size(sample_shape)) * self.total_count)
        xp = backend.of(draws).xp
        # (n_samples * total_count, rows) -> counts per category, (n_samples, rows, K)
        draws = draws.reshape(-1, self.total_count, rows)
        counts = (draws[..., None] == xp.arange(k)).sum(axis=1)
        return Tensor._make(counts.reshape(shape).astype(probs_2d.dtype))

    def entropy(self):
        from minigrad import creation
        n = creation.tensor(float(self.total_count), dtype=self.probs.dtype,
                            device=self.probs.device)
        term1 = n * self._categorical.entropy() - lgamma_constant(n + 1, "Multinomial.entropy")
        support = self._binomial.enumerate_support(expand=False)[1:]
        binomial_probs = self._binomial.log_prob(support).exp()
        weights = lgamma_constant(support + 1, "Multinomial.entropy")
        term2 = (binomial_probs * weights).sum((0, -1))
        return term1 + term2

    def log_prob(self, value):
        from minigrad import ops
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        log_factorial_n = lgamma_constant(value.sum(-1) + 1, "Multinomial.log_prob (value)")
        log_factorial_xs = lgamma_constant(value + 1, "Multinomial.log_prob (value)").sum(-1)
        # 0 * log(0): a category of probability 0 that was never drawn contributes 0
        logits = ops.where(constraints._both(value == 0, logits == -math.inf), 0.0, logits)
        log_powers = (logits * value).sum(-1)
        return log_factorial_n - log_factorial_xs + log_powers

