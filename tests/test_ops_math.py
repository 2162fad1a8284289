"""Elementwise math, reductions, activations and losses against PyTorch: values, dtypes and
gradients (float64, random upstream gradient), at ordinary points and at the edges
(0, negatives, large values, the kinks and thresholds of each function)."""
import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn

torch = pytest.importorskip("torch")

# edge inputs overflow and divide by zero on purpose; torch warns about kl_div's "mean"
pytestmark = [pytest.mark.filterwarnings("ignore::RuntimeWarning"),
              pytest.mark.filterwarnings("ignore:reduction. 'mean' divides:UserWarning")]


def parity(fn, *arrays, rtol=1e-10, atol=1e-12, seed=0, grad=True):
    """Run ``fn(lib, *tensors)`` with lib = minigrad and lib = torch on tensors made from
    ``arrays`` (float ones require grad); compare output values and dtypes and, with one
    random upstream gradient, every input gradient."""
    mg_in = [mg.tensor(a, requires_grad=grad and a.dtype.kind == "f") for a in arrays]
    th_in = [torch.tensor(a, requires_grad=grad and a.dtype.kind == "f") for a in arrays]
    out_m, out_t = fn(mg, *mg_in), fn(torch, *th_in)
    np.testing.assert_allclose(out_m.detach().numpy(), out_t.detach().numpy(), rtol=rtol,
                               atol=atol)
    assert str(out_m.dtype).split(".")[-1] == str(out_t.dtype).split(".")[-1]
    assert tuple(out_m.shape) == tuple(out_t.shape)
    if not out_t.requires_grad:
        return
    up = np.random.default_rng(seed).standard_normal(out_t.shape)
    out_m.backward(mg.tensor(up.astype(out_m.detach().numpy().dtype)))
    out_t.backward(torch.tensor(up, dtype=out_t.dtype))
    for i, (m, t) in enumerate(zip(mg_in, th_in)):
        if t.grad is None:
            assert m.grad is None, f"input {i}: torch has no gradient, minigrad has {m.grad}"
        else:
            np.testing.assert_allclose(m.grad.numpy(), t.grad.numpy(), rtol=rtol, atol=atol,
                                       err_msg=f"gradient of input {i}")


def second_order_parity(fn, x, rtol=1e-10, atol=1e-12):
    """Hessian-vector products of sum(fn(x) * u) against torch's."""
    grads = []
    for lib in (mg, torch):
        t = lib.tensor(x, requires_grad=True)
        out = fn(lib, t)
        u = lib.tensor(np.random.default_rng(1).standard_normal(tuple(out.shape)))
        (g,) = lib.autograd.grad((out * u).sum(), t, create_graph=True)
        (h,) = lib.autograd.grad((g * lib.tensor(np.linspace(-1, 1, x.size).reshape(x.shape))).sum(), t)
        grads.append((g.detach().numpy(), h.numpy()))
    for m, t in zip(*grads):
        np.testing.assert_allclose(m, t, rtol=rtol, atol=atol)


def R(*shape, seed=0, low=None, high=None):
    rng = np.random.default_rng(seed + sum(shape))
    if low is None:
        return rng.standard_normal(shape)
    return rng.uniform(low, high, shape)


def F(lib):
    return lib.nn.functional


EDGES = np.array([-50.0, -3.0, -1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 3.0, 50.0])

# ---------------------------------------------------------------- elementwise math

MATH = {
    "sin": (lambda m, x: m.sin(x) + x.sin() * 2, [np.concatenate([EDGES, R(5)])]),
    "cos": (lambda m, x: m.cos(x) + x.cos() * 2, [np.concatenate([EDGES, R(5)])]),
    "tan": (lambda m, x: m.tan(x) + x.tan() * 2, [np.concatenate([EDGES[2:-2], R(5)])]),
    "atan2": (lambda m, a, b: m.atan2(a, b) + a.atan2(b) * 2,
              [np.array([0.0, 1.0, -1.0, 0.0, 2.0, -3.0, 0.0]),
               np.array([1.0, 0.0, 0.0, -1.0, -2.0, -1.0, 0.0])]),
    "atan2 broadcast": (lambda m, a, b: m.atan2(a, b), [R(3, 4), R(4)]),
    "log2 log10": (lambda m, x: m.log2(x) + x.log10() * 3,
                   [np.array([0.0, 1e-300, 0.5, 1.0, 2.0, 1024.0, 1e300])]),
    "exp2": (lambda m, x: m.exp2(x) + x.exp2(), [np.concatenate([EDGES, [-1100.0, 1100.0]])]),
    "log1p": (lambda m, x: m.log1p(x) + x.log1p(),
              [np.array([-1.0, -0.5, -1e-20, 0.0, 1e-20, 1e-8, 1.0, 1e300])]),
    "expm1": (lambda m, x: m.expm1(x) + x.expm1(), [np.concatenate([EDGES, [1e-20, -1e-12, 800.0]])]),
    "rounding": (lambda m, x: m.round(x) + m.floor(x) * 2 + m.ceil(x) * 3 + m.trunc(x) * 4 + x * 0.5,
                 [np.array([-2.5, -1.5, -0.5, -0.4, 0.0, 0.4, 0.5, 1.5, 2.5, 2.7, -2.7, 1e20])]),
    "round decimals": (lambda m, x: m.round(x, decimals=2) + x.round(decimals=-1),
                       [np.array([1.2345, -1.2355, 15.0, 25.0, -35.0, 0.005])]),
    "fmod": (lambda m, a, b: m.fmod(a, b) + a.fmod(2.5),
             [np.array([-7.0, -6.0, -1.5, 0.0, 1.5, 6.0, 7.0, 5.5]),
              np.array([2.0, 4.0, -2.0, 3.0, 0.7, -4.0, -2.0, 5.5])]),
    "remainder": (lambda m, a, b: m.remainder(a, b) + a % 2.5 + b.remainder(-1.5),
                  [np.array([-7.0, -6.0, -1.5, 0.0, 1.5, 6.0, 7.0, 5.5]),
                   np.array([2.0, 4.0, -2.0, 3.0, 0.7, -4.0, -2.0, 5.5])]),
    "div rounding": (lambda m, a, b: m.div(a, b, rounding_mode="trunc") * 2
                     + a.div(b, rounding_mode="floor") + a.div(-2.5, rounding_mode="floor") + a.div(b) * 0.5,
                     [np.array([-7.0, -6.0, -1.5, 0.0, 1.5, 6.0, 7.0, 5.5]),
                      np.array([2.0, 4.0, -2.0, 3.0, 0.7, -4.0, -2.0, 5.5])]),
    "lerp scalar weight": (lambda m, a, b: m.lerp(a, b, 0.3) + a.lerp(b, 0.75) * 2 + m.lerp(a, b, 1.0),
                           [R(3, 4), R(4)]),
    "lerp tensor weight": (lambda m, a, b, w: m.lerp(a, b, w),
                           [R(3, 4), R(3, 4), np.array([-0.6, 0.0, 0.3, 0.5, 0.7, 1.0, 1.4, 0.49])
                            .repeat(2)[:12].reshape(3, 4)]),
    "div rounding by zero": (lambda m, a, b: m.div(a, b, rounding_mode="floor") * 2
                             + m.div(a, b, rounding_mode="trunc") + m.fmod(a, b) + a % b,
                             [np.array([-1.0, 0.0, 1.0]), np.array([0.0, 0.0, 0.0])]),
}


@pytest.mark.parametrize("name", list(MATH))
def test_math(name):
    fn, arrays = MATH[name]
    parity(fn, *arrays)


INTS = [np.arange(-7, 8), np.array([3, -3, 2, -2, 5, 1, -1, 4, -4, 7, 6, -6, 2, 3, -5])]


@pytest.mark.parametrize("fn", [
    lambda m, a, b: a // b, lambda m, a, b: a % b, lambda m, a, b: m.fmod(a, b),
    lambda m, a, b: m.div(a, b, rounding_mode="trunc"), lambda m, a, b: a // 2,
    lambda m, a, b: 7 // b, lambda m, a, b: -7 % b, lambda m, a, b: a % -3,
    lambda m, a, b: a // 2.5, lambda m, a, b: a / b, lambda m, a, b: m.floor(a),
    lambda m, a, b: m.round(a), lambda m, a, b: m.sin(a), lambda m, a, b: m.log1p(b.abs()),
    lambda m, a, b: m.atan2(a, b)])
def test_integer_dtypes(fn):
    parity(fn, *INTS, rtol=2e-7)  # (exact for integer results; float32 ones to their ulp)


def test_floor_divide_and_scalar_dividend_values():
    """(PyTorch has no gradient for ``//`` nor for a tensor divisor under a scalar dividend,
    where minigrad gives div(rounding_mode="floor")'s zero and remainder's: values only.)"""
    a, b = MATH["fmod"][1]
    parity(lambda m, a, b: a // b + 7.0 // b * 2 + 3.0 % b * 3 + a // -2.5 * 4, a, b, grad=False)


@pytest.mark.parametrize("fn", [lambda m, a, b: a // b, lambda m, a, b: a % b,
                                lambda m, a, b: m.fmod(a, b),
                                lambda m, a, b: m.div(a, b, rounding_mode="trunc")])
def test_integer_division_by_zero_raises(fn):
    a, b = np.array([1, 2]), np.array([1, 0])
    with pytest.raises(RuntimeError):
        fn(torch, torch.tensor(a), torch.tensor(b))
    with pytest.raises(RuntimeError, match="division by zero"):
        fn(mg, mg.tensor(a), mg.tensor(b))


def test_div_rounding_mode_is_checked():
    with pytest.raises(ValueError, match="rounding_mode"):
        mg.div(mg.ones(2), mg.ones(2), rounding_mode="round")


def test_float32_math_keeps_float32():
    x = R(7).astype(np.float32)
    parity(lambda m, x: m.sin(x) * m.expm1(x) + m.log1p(x.abs()) + x % 0.7 + x.div(0.3, rounding_mode="floor"), x,
           rtol=2e-6, atol=1e-6)


@pytest.mark.parametrize("fn", [lambda m, x: m.tan(x), lambda m, x: m.atan2(x, x * 2 + 3),
                                lambda m, x: m.log2(x.abs() + 1), lambda m, x: m.expm1(x),
                                lambda m, x: m.fmod(x, 0.7) * x])
def test_math_second_order(fn):
    second_order_parity(fn, R(2, 3))


# ---------------------------------------------------------------- reductions

ZEROS = np.array([[0.0, 2.0, 3.0, -1.5], [1.5, 0.0, 0.0, 2.0], [0.5, -2.0, 1.5, 3.0]])

REDUCTIONS = {
    "prod all": (lambda m, x: m.prod(x) + x.prod() * 0, [R(3, 4)]),
    "prod dim": (lambda m, x: x.prod(1) + m.prod(x, -2, keepdim=True).sum(), [R(3, 4)]),
    "prod zeros": (lambda m, x: x.prod(0) * 2 + x.prod(1).sum() + x.prod(), [ZEROS]),
    "prod one zero whole": (lambda m, x: x.prod(), [np.array([[1.5, 0.0], [2.0, -3.0]])]),
    "prod two zeros whole": (lambda m, x: x.prod(), [np.array([[1.5, 0.0], [0.0, -3.0]])]),
    "prod 0-d": (lambda m, x: x.prod() + x.prod(0), [np.array(1.5)]),
    "cumsum": (lambda m, x: m.cumsum(x, 1) + x.cumsum(0) * 2 + x.cumsum(dim=-1), [R(3, 4)]),
    "cumprod": (lambda m, x: m.cumprod(x, 1) + x.cumprod(0) * 2, [R(3, 4)]),
    "cumprod zeros": (lambda m, x: x.cumprod(1) + x.cumprod(0) * 2, [ZEROS]),
    "cumprod 0-d": (lambda m, x: x.cumprod(0) + x.cumsum(-1), [np.array(1.5)]),
    "logsumexp": (lambda m, x: m.logsumexp(x, 1) + x.logsumexp(0, keepdim=True).sum()
                  + x.logsumexp((0, 1)), [R(3, 4)]),
    "logsumexp large": (lambda m, x: x.logsumexp(1),
                        [np.array([[1000.0, 1000.0, -1000.0], [-1e308, -1e308, 5.0]])]),
    "logsumexp infinities": (lambda m, x: x.logsumexp(1),
                             [np.array([[-np.inf, -np.inf], [np.inf, 1.0], [-np.inf, 2.0]])]),
    "softmax methods": (lambda m, x: x.softmax(1) * 2 + x.log_softmax(0) + x.softmax(dim=-1),
                        [R(3, 4)]),
}


@pytest.mark.parametrize("name", list(REDUCTIONS))
def test_reductions(name):
    fn, arrays = REDUCTIONS[name]
    parity(fn, *arrays)


@pytest.mark.parametrize("fn", [
    lambda m, x: x.prod(1), lambda m, x: x.prod(), lambda m, x: x.cumprod(1),
    lambda m, x: x.cumprod(0), lambda m, x: x.cumsum(1) * x, lambda m, x: x.logsumexp(1)])
@pytest.mark.parametrize("x", [R(3, 4), ZEROS], ids=["random", "zeros"])
def test_reductions_second_order(fn, x):
    second_order_parity(fn, x)


@pytest.mark.parametrize("fn", [
    lambda m, x: x.sum(axis=1), lambda m, x: x.sum(axis=(0, 2), keepdims=True),
    lambda m, x: m.sum(x, axis=1, keepdim=True), lambda m, x: x.mean(axis=-1, keepdims=True),
    lambda m, x: m.mean(x, axis=0), lambda m, x: x.var(axis=1), lambda m, x: m.std(x, axis=1),
    lambda m, x: x.std(axis=0, keepdims=True), lambda m, x: m.var(x, axis=2, keepdims=True),
    lambda m, x: x.amax(axis=1), lambda m, x: m.amin(x, axis=(1, 2), keepdims=True),
    lambda m, x: x.max(axis=1).values, lambda m, x: x.max(axis=1, keepdims=True).indices,
    lambda m, x: m.min(x, axis=0).values, lambda m, x: x.prod(axis=1, keepdims=True),
    lambda m, x: m.prod(x, axis=2), lambda m, x: x.all(axis=1), lambda m, x: m.any(x > 0, axis=0, keepdims=True),
    lambda m, x: x.logsumexp(axis=1, keepdims=True), lambda m, x: x.cumsum(axis=1),
    lambda m, x: m.cumprod(x, axis=2)])
def test_axis_and_keepdims_aliases(fn):
    parity(fn, R(2, 3, 4))


def test_dim_and_axis_together_is_an_error():
    for lib in (mg, torch):
        with pytest.raises(TypeError):
            lib.sum(lib.ones(2, 3), dim=0, axis=1)


@pytest.mark.parametrize("fn", [
    lambda m, x: m.all(x), lambda m, x: m.any(x), lambda m, x: x.all(1),
    lambda m, x: x.any(0, keepdim=True), lambda m, x: m.all(x, (0, 1)), lambda m, x: (x > 0).all(1),
    lambda m, x: (x > 0).any(), lambda m, x: m.any(x[:0]), lambda m, x: m.all(x[:0]),
    lambda m, x: m.isclose(x, x + 1e-9), lambda m, x: m.isclose(x, x * 1.001, rtol=0.01),
    lambda m, x: m.isclose(x, x + 0.5, atol=0.6), lambda m, x: x.isclose(x.round()),
    lambda m, x: x.isclose(x // 2 * 2, atol=0)])
def test_truth_reductions(fn):
    x = np.array([[0.0, 1.5, -2.0], [0.5, 0.0, 0.0], [1.0, 2.0, 3.0]])
    parity(fn, x, grad=False)
    try:
        fn(torch, torch.tensor(x * 2).long())
    except RuntimeError:  # (isclose of an integer and a float tensor: refused by both)
        with pytest.raises(RuntimeError, match="did not match"):
            fn(mg, mg.tensor(x * 2).long())
    else:
        parity(fn, (x * 2).astype(np.int64), grad=False)


def test_isclose_special_values():
    a = [1.0, np.nan, np.inf, -np.inf, np.inf, 0.0]
    b = [1.0 + 1e-9, np.nan, np.inf, -np.inf, -np.inf, 1e-9]
    for equal_nan in (False, True):
        parity(lambda m, x, y, e=equal_nan: m.isclose(x, y, equal_nan=e), np.array(a),
               np.array(b), grad=False)
    assert mg.allclose(mg.tensor(a[:1]), mg.tensor(b[:1])) is True
    assert mg.tensor([1.0, 2.0]).allclose(mg.tensor([1.0, 2.1])) is False
    assert mg.allclose(mg.tensor(a), mg.tensor(b)) is False
    assert mg.allclose(mg.tensor(a[:4]), mg.tensor(b[:4]), equal_nan=True) is True
    with pytest.raises(RuntimeError):
        mg.isclose(mg.arange(3), mg.arange(3) * 1.0)


def test_integer_reductions_are_int64():
    parity(lambda m, x: x.prod(1, keepdim=True) + x.cumsum(0) + x.cumprod(1) + x.prod(),
           np.arange(1, 7).reshape(2, 3))
    parity(lambda m, x: (x > 2).cumsum(1) + (x > 2).prod(1, keepdim=True),
           np.arange(1, 7).reshape(2, 3))


# ---------------------------------------------------------------- activations

KINKS = np.array([-50.0, -25.0, -6.0, -3.5, -3.0, -2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 3.0,
                  3.5, 6.0, 7.0, 10.0, 19.0, 20.0, 20.5, 50.0, 800.0, -800.0])

ACTIVATIONS = {
    "silu": lambda f, x: f.silu(x),
    "gelu": lambda f, x: f.gelu(x),
    "gelu tanh": lambda f, x: f.gelu(x, approximate="tanh"),
    "elu": lambda f, x: f.elu(x),
    "elu alpha": lambda f, x: f.elu(x, 0.5),
    "selu": lambda f, x: f.selu(x),
    "celu": lambda f, x: f.celu(x),
    "celu alpha": lambda f, x: f.celu(x, 2.5),
    "softplus": lambda f, x: f.softplus(x),
    "softplus beta threshold": lambda f, x: f.softplus(x, beta=2.0, threshold=10.0),
    "softplus beta small": lambda f, x: f.softplus(x, beta=0.5, threshold=3.0),
    "leaky_relu": lambda f, x: f.leaky_relu(x, 0.2),
    "hardtanh": lambda f, x: f.hardtanh(x),
    "hardtanh bounds": lambda f, x: f.hardtanh(x, -3.0, 6.0),
    "relu6": lambda f, x: f.relu6(x),
    "hardswish": lambda f, x: f.hardswish(x),
    "hardsigmoid": lambda f, x: f.hardsigmoid(x),
    "mish": lambda f, x: f.mish(x),
    "logsigmoid": lambda f, x: f.logsigmoid(x),
    "softsign": lambda f, x: f.softsign(x),
}


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activation(name):
    fn = ACTIVATIONS[name]
    parity(lambda m, x: fn(F(m), x), np.concatenate([KINKS, R(9)]))


@pytest.mark.parametrize("name", [n for n in ACTIVATIONS if n not in (
    "hardtanh", "hardtanh bounds", "relu6", "leaky_relu", "hardsigmoid")])  # (piecewise linear)
def test_activation_second_order(name):
    fn = ACTIVATIONS[name]
    x = np.array([-4.0, -2.5, -1.0, -0.3, 0.2, 0.7, 1.5, 2.5, 4.0])  # away from the kinks
    second_order_parity(lambda m, t: fn(F(m), t), x)


def test_activations_float32():
    x = R(4, 5).astype(np.float32) * 4
    for fn in ACTIVATIONS.values():
        parity(lambda m, t, fn=fn: fn(F(m), t), x, rtol=2e-5, atol=1e-6)


MODULES = [
    ("SiLU", (), "SiLU()"), ("ELU", (), "ELU(alpha=1.0)"), ("ELU", (0.5,), "ELU(alpha=0.5)"),
    ("SELU", (), "SELU()"), ("CELU", (2.0,), "CELU(alpha=2.0)"),
    ("Softplus", (), "Softplus(beta=1.0, threshold=20.0)"),
    ("Softplus", (2, 10), "Softplus(beta=2, threshold=10)"),
    ("Hardtanh", (), "Hardtanh(min_val=-1.0, max_val=1.0)"),
    ("Hardtanh", (-2, 3), "Hardtanh(min_val=-2, max_val=3)"), ("ReLU6", (), "ReLU6()"),
    ("Hardswish", (), "Hardswish()"), ("Hardsigmoid", (), "Hardsigmoid()"),
    ("Mish", (), "Mish()"), ("LogSigmoid", (), "LogSigmoid()"), ("Softsign", (), "Softsign()"),
    ("GELU", ("tanh",), "GELU(approximate='tanh')"),
    ("LeakyReLU", (0.2,), "LeakyReLU(negative_slope=0.2)"),
]


@pytest.mark.parametrize("name,args,text", MODULES)
def test_activation_modules(name, args, text):
    assert repr(getattr(torch.nn, name)(*args)) == text
    assert repr(getattr(nn, name)(*args)) == text
    parity(lambda m, x: getattr(m.nn, name)(*args)(x), np.concatenate([KINKS, R(5)]))


# ---------------------------------------------------------------- losses

P = np.array([0.0, 1e-20, 0.1, 0.3, 0.5, 0.7, 0.9, 1.0 - 1e-16, 1.0, 0.0, 1.0, 0.25])
Y = np.array([0.0, 1.0, 0.0, 0.3, 1.0, 1.0, 0.5, 0.0, 1.0, 1.0, 0.0, 0.25])
W = np.linspace(0.5, 2.0, P.size)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_binary_cross_entropy(reduction):
    parity(lambda m, p, y: F(m).binary_cross_entropy(p, y, reduction=reduction), P, Y)
    parity(lambda m, p, y, w: F(m).binary_cross_entropy(p, y, w.detach(), reduction=reduction),
           P, Y, W)
    parity(lambda m, p, y: m.nn.BCELoss(reduction=reduction)(p, y), P, Y)


def test_binary_cross_entropy_target_gradient():
    p, y = R(3, 4, low=0.05, high=0.95), R(3, 4, low=0.0, high=1.0)
    parity(lambda m, p, y: F(m).binary_cross_entropy(p, y), p, y)
    second_order_parity(lambda m, t: F(m).binary_cross_entropy(t, m.tensor(y), reduction="sum"), p)


def test_binary_cross_entropy_checks_its_input():
    with pytest.raises(RuntimeError, match="between 0 and 1"):
        mg.nn.functional.binary_cross_entropy(mg.tensor([1.5]), mg.tensor([1.0]))
    with pytest.raises(ValueError, match="size"):
        mg.nn.functional.binary_cross_entropy(mg.tensor([0.5, 0.5]), mg.tensor([1.0]))


D_IN = np.array([-3.0, -1.0, -0.5, 0.0, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 0.7])
D_TG = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.5, 0.7])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("beta", [1.0, 0.5, 2.0, 0.0])
def test_smooth_l1_loss(reduction, beta):
    parity(lambda m, x, y: F(m).smooth_l1_loss(x, y, reduction=reduction, beta=beta), D_IN, D_TG)
    parity(lambda m, x, y: m.nn.SmoothL1Loss(reduction=reduction, beta=beta)(x, y), D_IN, D_TG)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_l1_loss(reduction):
    parity(lambda m, x, y: F(m).l1_loss(x, y, reduction=reduction), D_IN, D_TG)
    parity(lambda m, x, y: m.nn.L1Loss(reduction=reduction)(x, y), D_IN, D_TG)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none", "batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div(reduction, log_target):
    logp = np.log(np.random.default_rng(0).dirichlet(np.ones(5), 4))
    q = np.random.default_rng(1).dirichlet(np.ones(5), 4)
    q[0, :2] = 0.0  # zero target probabilities contribute 0
    target = np.log(q) if log_target else q
    if log_target:
        parity(lambda m, x, t: F(m).kl_div(x, t, reduction=reduction, log_target=True),
               logp, target)
    else:  # (torch's target gradient is NaN at a zero target: compare the input's only)
        parity(lambda m, x, t: F(m).kl_div(x, t.detach(), reduction=reduction), logp, target)
        parity(lambda m, x, t: F(m).kl_div(x, t, reduction=reduction), logp, np.abs(R(4, 5)) + 0.1)
    parity(lambda m, x, t: m.nn.KLDivLoss(reduction=reduction, log_target=log_target)(x, t.detach()),
           logp, target)
