"""``torch.distributions``: Categorical, Binomial, Multinomial, Poisson, Normal, Bernoulli,
Uniform on one ``Distribution`` base (shapes, argument and sample validation with
PyTorch's errors, ``constraints``). ``log_prob``, ``entropy``, moments, ``cdf``/``icdf``
are PyTorch's formulas written with minigrad's ops, so they are differentiable with
respect to the parameters; ``sample`` (and ``rsample``, reparameterized) draw from
minigrad's generators (``mg.manual_seed``), so for a seed the numbers differ from
PyTorch's while their distribution is the same."""
from minigrad.distributions import constraints
from minigrad.distributions.bernoulli import Bernoulli
from minigrad.distributions.binomial import Binomial
from minigrad.distributions.categorical import Categorical
from minigrad.distributions.distribution import Distribution
from minigrad.distributions.multinomial import Multinomial
from minigrad.distributions.normal import Normal
from minigrad.distributions.poisson import Poisson
from minigrad.distributions.uniform import Uniform

__all__ = ["Bernoulli", "Binomial", "Categorical", "Distribution", "Multinomial", "Normal",
           "Poisson", "Uniform", "constraints"]
