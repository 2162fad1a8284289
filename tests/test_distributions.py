"""``minigrad.distributions`` against ``torch.distributions`` in float64: log_prob, entropy,
moments, cdf/icdf, probs/logits, shapes, expand, enumerate_support, validation errors and
gradients with respect to the parameters; samples by their statistics (minigrad draws
from its own generators, so the numbers differ from PyTorch's for a seed)."""
import math
import re

import numpy as np
import pytest

import minigrad as mg
import minigrad.distributions as MD

TOL = dict(rtol=1e-12, atol=1e-13)
R = np.random.default_rng(21)
P = R.uniform(0.05, 1.0, (2, 3, 4))     # unnormalized, positive
L = R.standard_normal((2, 3, 4))


def _np(t):
    return t.detach().numpy()


def _close(a, b, **tol):
    assert tuple(a.shape) == tuple(b.shape)
    np.testing.assert_allclose(_np(a), _np(b), **(tol or TOL))


def _params(lib, arrays):
    return [lib.tensor(a, requires_grad=True) for a in arrays]


def _grads_of(lib, make, arrays, method, *args):
    """A quantity of the distribution made from ``arrays``, and its gradient with respect
    to them (through a fixed random weighting of its entries)."""
    params = _params(lib, arrays)
    d = make(lib, *params)
    out = getattr(d, method)(*args) if callable(getattr(d, method)) else getattr(d, method)
    w = lib.tensor(np.random.default_rng(0).standard_normal(tuple(out.shape)))
    grads = lib.autograd.grad((out * w).sum(), params, allow_unused=True)
    return out, grads


def _parity(torch, make, arrays, method, *value):
    m_out, m_grads = _grads_of(mg, make, arrays, method, *[mg.tensor(v) for v in value])
    t_out, t_grads = _grads_of(torch, make, arrays, method, *[torch.tensor(v) for v in value])
    _close(m_out, t_out)
    for a, b in zip(m_grads, t_grads):
        if b is None:
            assert a is None or not np.any(_np(a))
        else:
            _close(a, b)


CAT_VALUES = np.array([[0, 3, 1], [2, 2, 0]])
CASES = {
    "categorical probs": (lambda lib, p: lib.distributions.Categorical(probs=p), [P]),
    "categorical logits": (lambda lib, x: lib.distributions.Categorical(logits=x), [L]),
    "bernoulli probs": (lambda lib, p: lib.distributions.Bernoulli(probs=p), [P / 1.1]),
    "bernoulli logits": (lambda lib, x: lib.distributions.Bernoulli(logits=x), [L]),
    "binomial probs": (lambda lib, p: lib.distributions.Binomial(
        (p[0] * 0 + 7).detach(), probs=p), [P / 1.1]),
    "binomial logits": (lambda lib, x: lib.distributions.Binomial(7, logits=x), [L]),
    "multinomial probs": (lambda lib, p: lib.distributions.Multinomial(5, probs=p), [P]),
    "multinomial logits": (lambda lib, x: lib.distributions.Multinomial(5, logits=x), [L]),
    "poisson": (lambda lib, r: lib.distributions.Poisson(r * 3), [P]),
    "normal": (lambda lib, m, s: lib.distributions.Normal(m, s), [L, P]),
    "uniform": (lambda lib, lo, w: lib.distributions.Uniform(lo, lo + w), [L, P]),
}
VALUES = {
    "categorical": np.broadcast_to(CAT_VALUES[..., None], (2, 3, 1))[..., 0],
    "bernoulli": (R.random((2, 3, 4)) < 0.5) * 1.0,
    "binomial": R.integers(0, 8, (2, 3, 4)) * 1.0,
    "multinomial": np.stack([R.multinomial(5, [0.25] * 4) for _ in range(6)]).reshape(
        2, 3, 4) * 1.0,
    "poisson": R.integers(0, 6, (2, 3, 4)) * 1.0,
    "normal": R.standard_normal((2, 3, 4)),
    "uniform": L + P * 0.5,
}


def _value(name):
    return VALUES[name.split()[0]]


@pytest.mark.parametrize("name", list(CASES))
def test_log_prob_and_entropy_with_gradients(torch, name):
    make, arrays = CASES[name]
    _parity(torch, make, arrays, "log_prob", _value(name))
    if not name.startswith("poisson"):   # (PyTorch's Poisson has no entropy)
        if name.startswith("multinomial"):   # (PyTorch takes lgamma(n + 1) in float32 there)
            m = make(mg, *_params(mg, arrays)).entropy()
            t = make(torch, *_params(torch, arrays)).entropy()
            _close(m, t, rtol=1e-6)
        else:
            _parity(torch, make, arrays, "entropy")


@pytest.mark.parametrize("name", list(CASES))
def test_moments_parameters_and_shapes(torch, name):
    make, arrays = CASES[name]
    m, t = make(mg, *_params(mg, arrays)), make(torch, *_params(torch, arrays))
    assert m.batch_shape == tuple(t.batch_shape) and m.event_shape == tuple(t.event_shape)
    for attr in ("mean", "variance", "stddev", "mode", "probs", "logits", "param_shape"):
        try:
            expected = getattr(t, attr)
        except (NotImplementedError, AttributeError):
            continue
        got = getattr(m, attr)
        if attr == "param_shape":
            assert tuple(got) == tuple(expected)
        elif attr in ("mean", "variance") and name.startswith("categorical"):
            assert tuple(got.shape) == tuple(expected.shape) and np.all(np.isnan(_np(got)))
        else:
            assert tuple(got.shape) == tuple(expected.shape)
            np.testing.assert_allclose(_np(got), _np(expected), rtol=1e-12, atol=1e-13,
                                       equal_nan=True)
    assert m.has_rsample == t.has_rsample
    assert m.has_enumerate_support == t.has_enumerate_support


@pytest.mark.parametrize("name", ["normal", "uniform"])
def test_cdf_and_icdf(torch, name):
    make, arrays = CASES[name]
    _parity(torch, make, arrays, "cdf", _value(name))
    _parity(torch, make, arrays, "icdf", R.uniform(0.01, 0.99, (2, 3, 4)))


def test_repr_and_perplexity(torch):
    d = MD.Categorical(probs=mg.tensor(P))
    assert repr(d) == repr(torch.distributions.Categorical(probs=torch.tensor(P))).replace(
        "torch.", "minigrad.") == "Categorical(probs: minigrad.Size([2, 3, 4]))"
    assert repr(MD.Normal(0.0, 1.0)) == repr(torch.distributions.Normal(0.0, 1.0))
    assert repr(MD.Bernoulli(mg.tensor([0.3]))) == repr(
        torch.distributions.Bernoulli(torch.tensor([0.3])))
    _close(d.perplexity(), torch.distributions.Categorical(probs=torch.tensor(P)).perplexity())


EXPANDABLE = {
    "categorical": (lambda lib, p: lib.distributions.Categorical(probs=p), P[0, :1], [2, 0, 1]),
    "multinomial": (lambda lib, x: lib.distributions.Multinomial(3, logits=x), L[0, :1],
                    [[1.0, 0.0, 2.0, 0.0]]),
    "bernoulli": (lambda lib, x: lib.distributions.Bernoulli(logits=x), L[0, 0, :1], [1.0]),
    "binomial": (lambda lib, p: lib.distributions.Binomial(
        lib.tensor([4.0], dtype=lib.float64), probs=p), P[0, 0, :1] / 2, [[3.0], [1.0], [0.0]]),
    "poisson": (lambda lib, r: lib.distributions.Poisson(r), P[0, 0, :1], [[2.0], [0.0], [5.0]]),
    "normal": (lambda lib, m: lib.distributions.Normal(m, m * 0 + 2), L[0, 0, :1], [0.3]),
    "uniform": (lambda lib, lo: lib.distributions.Uniform(lo, lo + 1), L[0, 0, :1],
                L[0, 0, :1] + 0.5),
}


@pytest.mark.parametrize("name", list(EXPANDABLE))
def test_expand(torch, name):
    make, param, value = EXPANDABLE[name]
    m = make(mg, mg.tensor(param, requires_grad=True)).expand((3, 1))
    t = make(torch, torch.tensor(param, requires_grad=True)).expand((3, 1))
    assert m.batch_shape == tuple(t.batch_shape) == (3, 1)
    assert m.event_shape == tuple(t.event_shape)
    _close(m.log_prob(mg.tensor(np.asarray(value, dtype=float))),
           t.log_prob(torch.tensor(np.asarray(value, dtype=float))))


@pytest.mark.parametrize("name", ["categorical logits", "bernoulli probs", "binomial logits"])
def test_enumerate_support(torch, name):
    make, arrays = CASES[name]
    m, t = make(mg, *_params(mg, arrays)), make(torch, *_params(torch, arrays))
    for expand in (True, False):
        a, b = m.enumerate_support(expand), t.enumerate_support(expand)
        assert tuple(a.shape) == tuple(b.shape)
        np.testing.assert_array_equal(_np(a), _np(b))
        assert a.dtype.name == str(b.dtype).split(".")[1]


def _message(e):
    """An error message with tensor reprs and shapes in one form (dtypes print differently)."""
    text = re.sub(r"tensor\([^)]*\)", "tensor(...)", str(e))
    # (a Size shows as torch.Size([2]) in PyTorch's, as (2,) in minigrad's f-strings)
    return re.sub(r"(?:torch|minigrad)\.Size\(\[([^]]*)\]\)",
                  lambda m: repr(tuple(int(v) for v in m.group(1).split(",") if v.strip())),
                  text)


def test_validation_errors_as_pytorch(torch):
    cases = [
        lambda D, T: D.Categorical(),
        lambda D, T: D.Categorical(probs=T([0.5, 0.5]), logits=T([0.0, 0.0])),
        lambda D, T: D.Categorical(probs=T(0.5)),
        lambda D, T: D.Categorical(probs=T([0.5, -0.1, 0.6])),
        lambda D, T: D.Categorical(logits=T([0.5, math.nan])),
        lambda D, T: D.Categorical(probs=T([0.5, 0.5])).log_prob(T([2])),
        lambda D, T: D.Categorical(probs=T([[0.5, 0.5]] * 3)).log_prob(T([0, 1])),
        lambda D, T: D.Categorical(probs=T([0.5, 0.5])).log_prob([0]),
        lambda D, T: D.Bernoulli(probs=T([1.5])),
        lambda D, T: D.Bernoulli(probs=T([0.5])).log_prob(T([0.5])),
        lambda D, T: D.Binomial(5, probs=T([0.5])).log_prob(T([6.0])),
        lambda D, T: D.Binomial(T([-1.0]), probs=T([0.5])),
        lambda D, T: D.Binomial(T([2.5]), probs=T([0.5])),
        lambda D, T: D.Multinomial(3, probs=T([0.5, 0.5])).log_prob(T([3.0, 1.0])),
        lambda D, T: D.Multinomial(3, probs=T([0.5, 0.5])).log_prob(T([3.0, 1.0, 0.0])),
        lambda D, T: D.Multinomial(T(3), probs=T([0.5, 0.5])),
        lambda D, T: D.Poisson(T([-1.0])),
        lambda D, T: D.Poisson(T([1.0])).log_prob(T([1.5])),
        lambda D, T: D.Normal(T([0.0]), T([0.0])),
        lambda D, T: D.Uniform(T([1.0]), T([0.5])),
        lambda D, T: D.Uniform(T([0.0]), T([1.0])).log_prob(T([2.0])),
        lambda D, T: D.Binomial(T([2.0, 3.0]), probs=T([0.5, 0.5])).entropy(),
    ]
    for i, case in enumerate(cases):
        with pytest.raises(Exception) as theirs:
            case(torch.distributions, lambda v: torch.tensor(v, dtype=torch.float64))
        with pytest.raises(type(theirs.value)) as mine:
            case(MD, lambda v: mg.tensor(v, dtype=mg.float64))
        head = str(theirs.value).split(", but found invalid values")[0]
        assert _message(mine.value).split(", but found invalid values")[0] == \
            _message(head), i
    # without validation the same calls go through
    d = MD.Categorical(probs=mg.tensor([0.5, -0.1, 0.6]), validate_args=False)
    assert d.batch_shape == ()
    try:
        MD.Distribution.set_default_validate_args(False)
        MD.Normal(mg.tensor([0.0]), mg.tensor([0.0]))
    finally:
        MD.Distribution.set_default_validate_args(True)
    with pytest.raises(ValueError):
        MD.Normal(mg.tensor([0.0]), mg.tensor([0.0]))


def test_gradient_through_lgamma_is_refused_not_dropped():
    n = mg.tensor([5.0], requires_grad=True)
    d = MD.Binomial(n, probs=mg.tensor([0.3]))
    with pytest.raises(NotImplementedError, match="digamma"):
        d.log_prob(mg.tensor([2.0]))


def test_zero_probability_categories(torch):
    p = np.array([0.0, 0.3, 0.7])
    m = MD.Multinomial(4, probs=mg.tensor(p))
    t = torch.distributions.Multinomial(4, probs=torch.tensor(p))
    v = np.array([0.0, 1.0, 3.0])
    _close(m.log_prob(mg.tensor(v)), t.log_prob(torch.tensor(v)))
    lg = np.array([-math.inf, 0.0, 1.0])
    m = MD.Multinomial(4, logits=mg.tensor(lg))
    t = torch.distributions.Multinomial(4, logits=torch.tensor(lg))
    _close(m.log_prob(mg.tensor(v)), t.log_prob(torch.tensor(v)))
    c = MD.Categorical(probs=mg.tensor(p))
    assert not np.any(c.sample((2000,)).numpy() == 0)
    _close(c.entropy(), torch.distributions.Categorical(probs=torch.tensor(p)).entropy())
    assert MD.Multinomial(4, probs=mg.tensor(p)).sample((500,)).numpy()[:, 0].max() == 0


def test_rsample_is_reparameterized(torch):
    mg.manual_seed(3)
    loc = mg.tensor(L[0], requires_grad=True)
    scale = mg.tensor(P[0], requires_grad=True)
    x = MD.Normal(loc, scale).rsample((50,))
    assert x.shape == (50, 3, 4) and x.requires_grad
    eps = (x.detach().numpy() - L[0]) / P[0]
    x.sum().backward()
    np.testing.assert_allclose(loc.grad.numpy(), np.full((3, 4), 50.0), rtol=1e-15)
    np.testing.assert_allclose(scale.grad.numpy(), eps.sum(0), rtol=1e-12)
    lo, w = mg.tensor(L[0], requires_grad=True), mg.tensor(P[0], requires_grad=True)
    u = MD.Uniform(lo, lo + w).rsample((7,))
    frac = (u.detach().numpy() - L[0]) / P[0]
    u.sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), frac.sum(0), rtol=1e-12)
    assert not MD.Normal(loc, scale).sample().requires_grad


# ---------------------------------------------------------------- samples: shapes, statistics

@pytest.mark.parametrize("name", list(CASES))
def test_sample_shapes_and_dtypes(torch, name):
    make, arrays = CASES[name]
    for shape in ((), (5,), (2, 3)):
        a = make(mg, *_params(mg, arrays)).sample(shape)
        b = make(torch, *_params(torch, arrays)).sample(shape)
        assert tuple(a.shape) == tuple(b.shape)
        assert a.dtype.name == str(b.dtype).split(".")[1]
        assert not a.requires_grad


def _within(mean, sem, expected, k=5.0):
    """|mean - expected| within k standard errors (k = 5: a false alarm ~1 in 1.7 million)."""
    np.testing.assert_array_less(np.abs(mean - expected), k * sem + 1e-12)


N = 20000


def test_sample_statistics():
    mg.manual_seed(123)
    p = np.array([[0.1, 0.2, 0.7], [0.5, 0.25, 0.25]])
    draws = MD.Categorical(probs=mg.tensor(p)).sample((N,)).numpy()
    for b in range(2):
        freq = np.bincount(draws[:, b], minlength=3) / N
        _within(freq, np.sqrt(p[b] * (1 - p[b]) / N), p[b])
    n, q = np.array([3.0, 10.0]), np.array([0.3, 0.8])
    x = MD.Binomial(mg.tensor(n), probs=mg.tensor(q)).sample((N,)).numpy()
    var = n * q * (1 - q)
    _within(x.mean(0), np.sqrt(var / N), n * q)
    _within(x.var(0), var * np.sqrt(2.0 / N) * 2, var)
    counts = MD.Multinomial(12, probs=mg.tensor(p)).sample((N,)).numpy()
    assert np.all(counts.sum(-1) == 12)
    _within(counts.mean(0), np.sqrt(12 * p * (1 - p) / N), 12 * p)
    rate = np.array([0.5, 4.0, 30.0])
    x = MD.Poisson(mg.tensor(rate)).sample((N,)).numpy()
    _within(x.mean(0), np.sqrt(rate / N), rate)
    _within(x.var(0), rate * np.sqrt(2.0 / N) * 3, rate)
    loc, sd = np.array([-1.0, 2.0]), np.array([0.5, 3.0])
    x = MD.Normal(mg.tensor(loc), mg.tensor(sd)).sample((N,)).numpy()
    _within(x.mean(0), sd / np.sqrt(N), loc)
    _within(x.std(0), sd / np.sqrt(2 * N) * 2, sd)
    x = MD.Bernoulli(probs=mg.tensor(q)).sample((N,)).numpy()
    assert set(np.unique(x)) <= {0.0, 1.0}
    _within(x.mean(0), np.sqrt(q * (1 - q) / N), q)
    lo, hi = np.array([-2.0, 5.0]), np.array([1.0, 5.5])
    x = MD.Uniform(mg.tensor(lo), mg.tensor(hi)).sample((N,)).numpy()
    assert np.all(x >= lo) and np.all(x < hi)
    _within(x.mean(0), (hi - lo) / np.sqrt(12 * N), (lo + hi) / 2)


def test_samples_follow_the_seed():
    mg.manual_seed(5)
    a = MD.Categorical(logits=mg.tensor(L)).sample((4,)).numpy()
    mg.manual_seed(5)
    b = MD.Categorical(logits=mg.tensor(L)).sample((4,)).numpy()
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.int64


def test_distributions_on_a_device(device):
    """log_prob, entropy and moments on a device equal the CPU's; samples stay there."""
    for name, (make, arrays) in CASES.items():
        on_cpu = make(mg, *[mg.tensor(a) for a in arrays])
        there = make(mg, *[mg.tensor(a, device=device) for a in arrays])
        v = _value(name)
        np.testing.assert_allclose(there.log_prob(mg.tensor(v, device=device)).cpu().numpy(),
                                   on_cpu.log_prob(mg.tensor(v)).numpy(), rtol=1e-12)
        if not name.startswith("poisson"):
            np.testing.assert_allclose(there.entropy().cpu().numpy(),
                                       on_cpu.entropy().numpy(), rtol=1e-12)
        np.testing.assert_allclose(there.variance.cpu().numpy(), on_cpu.variance.numpy(),
                                   rtol=1e-12)
        s = there.sample((3,))
        assert s.device.type == device and s.shape == on_cpu.sample((3,)).shape


def test_log_prob_of_a_single_value_like_torch(torch):
    """The REINFORCE pattern: one state, one 0-d action, its log-probability."""
    cases = [("Categorical", dict(probs=[0.2, 0.5, 0.3]), 1.0),
             ("Binomial", dict(total_count=5, probs=0.3), 2.0),
             ("Poisson", dict(rate=1.5), 3.0), ("Bernoulli", dict(probs=0.25), 1.0),
             ("Multinomial", dict(total_count=4, probs=[0.2, 0.8]), [1.0, 3.0])]
    for name, params, value in cases:
        got = []
        for lib in (mg, torch):
            kw = {k: (lib.tensor(v, dtype=lib.float64) if isinstance(v, (list, float)) else v)
                  for k, v in params.items()}
            dist = getattr(lib.distributions, name)(**kw)
            if name == "Categorical":
                got.append(dist.log_prob(lib.tensor(1)).item())
            else:
                got.append(dist.log_prob(lib.tensor(value, dtype=lib.float64)).item())
        np.testing.assert_allclose(got[0], got[1], rtol=1e-12, err_msg=name)
    m = mg.distributions.Categorical(mg.nn.functional.softmax(mg.ones(2), 0))
    assert m.log_prob(m.sample()).shape == ()
