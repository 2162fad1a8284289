"""``autograd.functional`` (vjp, jvp, jacobian, hessian, hvp, vhp) and ``autograd.forward_ad``
against PyTorch (float64, values, return structures, create_graph, strict errors) and
against central finite differences."""
import numpy as np
import pytest

import minigrad as mg
import minigrad.autograd.forward_ad as fwAD
import minigrad.autograd.functional as AF

# (PyTorch warns from inside its own forward-mode code)
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated")

RTOL = dict(rtol=1e-12, atol=1e-14)


def _np(t):
    return t.detach().numpy() if hasattr(t, "detach") else np.asarray(t)


def _same(a, b, **tol):
    """Nested tuples (or lists) of tensors (minigrad vs torch) equal in structure and value."""
    if isinstance(a, (tuple, list)):
        assert type(b) is type(a) and len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y, **tol)
        return
    assert not isinstance(b, (tuple, list))
    assert tuple(a.shape) == tuple(b.shape)
    np.testing.assert_allclose(_np(a), _np(b), **(tol or RTOL))


def _numeric_jacobian(f, xs, eps=1e-6):
    """d f_flat / d x_flat for each input (f: arrays -> one array), central differences."""
    jacs = []
    for i, x in enumerate(xs):
        cols = []
        for k in range(x.size):
            hi, lo = [a.copy() for a in xs], [a.copy() for a in xs]
            hi[i].reshape(-1)[k] += eps
            lo[i].reshape(-1)[k] -= eps
            cols.append((f(*hi) - f(*lo)).reshape(-1) / (2 * eps))
        jacs.append(np.stack(cols, -1))
    return jacs


def _mg(*arrays):
    return tuple(mg.tensor(a) for a in arrays)


def _th(torch, *arrays):
    return tuple(torch.tensor(a) for a in arrays)


R = np.random.default_rng(0)
X, Y, V = R.standard_normal((2, 3)), R.standard_normal(3), R.standard_normal((2, 3))


def f_two(a, b):
    """(2,3), (3,) -> a tuple of outputs (2,) and (2,3)."""
    return (a.tanh() * b).sum(1).exp(), a * b.sin()


def f_one(a):
    return (a.exp() * a.sum()).sin()


def scalar(a, b):
    return ((a * b).tanh().sum() * a.exp().sum() + (b ** 3).sum())


# ---------------------------------------------------------------- vjp / jvp

@pytest.mark.parametrize("create_graph", [False, True])
def test_vjp_and_jvp_structures_and_values(torch, create_graph):
    TF = torch.autograd.functional
    vs = (np.ones(2), V)
    for mine, theirs in [
        (AF.vjp(f_two, _mg(X, Y), _mg(*vs), create_graph=create_graph),
         TF.vjp(f_two, _th(torch, X, Y), _th(torch, *vs), create_graph=create_graph)),
        (AF.vjp(f_one, mg.tensor(X), mg.tensor(V), create_graph=create_graph),
         TF.vjp(f_one, torch.tensor(X), torch.tensor(V), create_graph=create_graph)),
        (AF.jvp(f_two, _mg(X, Y), _mg(V, Y), create_graph=create_graph),
         TF.jvp(f_two, _th(torch, X, Y), _th(torch, V, Y), create_graph=create_graph)),
        (AF.jvp(f_one, mg.tensor(X), mg.tensor(V), create_graph=create_graph),
         TF.jvp(f_one, torch.tensor(X), torch.tensor(V), create_graph=create_graph)),
    ]:
        _same(mine, theirs)
        flat = [t for part in mine for t in (part if isinstance(part, tuple) else (part,))]
        assert all(t.requires_grad == create_graph for t in flat)


def test_jvp_against_finite_differences():
    _, jv = AF.jvp(f_one, mg.tensor(X), mg.tensor(V))
    (jac,) = _numeric_jacobian(lambda a: np.sin(np.exp(a) * a.sum()), [X.copy()])
    np.testing.assert_allclose(jv.numpy().reshape(-1), jac @ V.reshape(-1), rtol=1e-7)


def test_v_may_be_omitted_only_for_one_element(torch):
    out, g = AF.vjp(lambda a: (a ** 2).sum(), mg.tensor(X))
    np.testing.assert_allclose(g.numpy(), 2 * X, rtol=1e-15)
    with pytest.raises(RuntimeError, match="The vector v can only be None if the user-provided "
                                           "function returns a single Tensor with a single"):
        AF.vjp(f_one, mg.tensor(X))
    with pytest.raises(RuntimeError, match="The vector v can only be None if the input to the "
                                           "user-provided function is a single Tensor"):
        AF.jvp(f_one, mg.tensor(X))
    _, jv = AF.jvp(lambda a: a * 3, mg.tensor([2.0]))
    assert jv.tolist() == [3.0]


def test_v_and_input_errors_as_pytorch(torch):
    TF = torch.autograd.functional
    cases = [
        lambda L, F, T: F.vjp(f_two, T(X, Y), T(np.ones(2))),                 # wrong length
        lambda L, F, T: F.vjp(f_one, T(X)[0], T(np.ones(3))),                 # wrong size
        lambda L, F, T: F.vjp(f_two, T(X, Y), T(np.ones(2), np.ones(4))),     # entry size
        lambda L, F, T: F.jvp(f_one, T(X)[0], T(X, X)),                       # single expected
        lambda L, F, T: F.vjp(f_one, (T(X)[0], 3)),                           # not a tensor
        lambda L, F, T: F.vjp(f_one, 3),
        lambda L, F, T: F.vjp(lambda a: 3, T(X)[0]),
    ]
    for case in cases:
        with pytest.raises((RuntimeError, TypeError)) as theirs:
            case(torch, TF, lambda *a: _th(torch, *a))
        with pytest.raises(type(theirs.value)) as mine:
            case(mg, AF, lambda *a: _mg(*a))
        expected = str(theirs.value).replace("torch.Size([", "(").replace("])", ")")
        expected = expected.replace("<class 'torch.Tensor'>", "<class 'minigrad.tensor.Tensor'>")
        assert str(mine.value).replace(",)", ")") == expected.replace(",)", ")")


def test_strict_mode_errors_as_pytorch(torch):
    TF = torch.autograd.functional
    independent = (lambda a, b: a * 2, (X, Y))
    cases = [
        ("vjp", lambda F, T: F.vjp(independent[0], T(*independent[1]), T(V), strict=True)),
        ("jvp", lambda F, T: F.jvp(independent[0], T(*independent[1]), T(X, Y), strict=True)),
        ("jacobian", lambda F, T: F.jacobian(independent[0], T(*independent[1]), strict=True)),
        ("vhp linear", lambda F, T: F.vhp(lambda a: a.sum(), T(Y)[0], T(Y)[0], strict=True)),
        ("hvp linear", lambda F, T: F.hvp(lambda a: a.sum(), T(Y)[0], T(Y)[0], strict=True)),
        ("hessian linear", lambda F, T: F.hessian(lambda a: a.sum(), T(Y)[0], strict=True)),
        ("outputs", lambda F, T: F.vjp(lambda a: a.detach(), T(Y)[0], T(Y)[0], strict=True)),
        ("jacobian create_graph", lambda F, T: F.jacobian(lambda a: a * 2, T(Y)[0],
                                                           strict=True, create_graph=True)),
    ]
    for name, case in cases:
        with pytest.raises(RuntimeError) as theirs:
            case(TF, lambda *a: _th(torch, *a))
        with pytest.raises(RuntimeError) as mine:
            case(AF, lambda *a: _mg(*a))
        assert str(mine.value) == str(theirs.value), name
    # without strict, the mathematically right zeros
    _, g = AF.vjp(independent[0], _mg(*independent[1]), mg.tensor(V))
    assert np.all(g[1].numpy() == 0) and g[1].shape == (3,)


# ---------------------------------------------------------------- jacobian / hessian

@pytest.mark.parametrize("strategy,vectorize", [("reverse-mode", False), ("reverse-mode", True),
                                                ("forward-mode", True)])
def test_jacobian_structures_values_and_finite_differences(torch, strategy, vectorize):
    TF = torch.autograd.functional
    kw = dict(strategy=strategy, vectorize=vectorize)
    _same(AF.jacobian(f_two, _mg(X, Y), **kw), TF.jacobian(f_two, _th(torch, X, Y), **kw))
    _same(AF.jacobian(f_one, mg.tensor(X), **kw), TF.jacobian(f_one, torch.tensor(X), **kw))
    _same(AF.jacobian(lambda a: (a.sum(), a * 2), mg.tensor(Y), **kw),
          TF.jacobian(lambda a: (a.sum(), a * 2), torch.tensor(Y), **kw))
    _same(AF.jacobian(lambda a, b: a * 2, _mg(X, Y), **kw),     # an unused input: zeros
          TF.jacobian(lambda a, b: a * 2, _th(torch, X, Y), **kw))
    jac = AF.jacobian(f_two, _mg(X, Y), **kw)
    num = _numeric_jacobian(lambda a, b: np.sin(b) * a, [X.copy(), Y.copy()])
    for j, n in zip(jac[1], num):
        np.testing.assert_allclose(j.numpy().reshape(n.shape), n, rtol=1e-7, atol=1e-9)


def test_jacobian_argument_checks_as_pytorch(torch):
    TF = torch.autograd.functional
    cases = [
        lambda F, T: F.jacobian(f_one, T(X)[0], strategy="sideways"),
        lambda F, T: F.jacobian(f_one, T(X)[0], strategy="forward-mode"),
        lambda F, T: F.jacobian(f_one, T(X)[0], strategy="forward-mode", create_graph=True),
        lambda F, T: F.jacobian(f_one, T(X)[0], strategy="forward-mode", vectorize=True,
                                strict=True),
        lambda F, T: F.jacobian(f_one, T(X)[0], vectorize=True, strict=True),
        lambda F, T: F.hessian(scalar, T(X, Y), outer_jacobian_strategy="x"),
        lambda F, T: F.hessian(f_one, T(X)[0]),
        lambda F, T: F.hessian(lambda a: (a.sum(), a.sum()), T(X)[0]),
        lambda F, T: F.vhp(f_one, T(X)[0], T(X)[0]),
        lambda F, T: F.hvp(lambda a: (a.sum(), a.sum()), T(X)[0], T(X)[0]),
    ]
    for case in cases:
        with pytest.raises(Exception) as theirs:
            case(TF, lambda *a: _th(torch, *a))
        with pytest.raises(type(theirs.value)) as mine:
            case(AF, lambda *a: _mg(*a))
        # (spaces aside: one of PyTorch's messages lacks one, "isonly")
        assert str(mine.value).replace(" ", "") == str(theirs.value).replace(" ", "")


@pytest.mark.parametrize("strategy,vectorize", [("reverse-mode", False),
                                                ("forward-mode", True)])
def test_hessian_values_structures_and_finite_differences(torch, strategy, vectorize):
    TF = torch.autograd.functional
    kw = dict(outer_jacobian_strategy=strategy, vectorize=vectorize)
    mine = AF.hessian(scalar, _mg(X, Y), **kw)
    _same(mine, TF.hessian(scalar, _th(torch, X, Y), **kw))
    _same(AF.hessian(lambda a: (a.exp() * a.sum()).sin().sum(), mg.tensor(X), **kw),
          TF.hessian(lambda a: (a.exp() * a.sum()).sin().sum(), torch.tensor(X), **kw))
    assert mine[0][1].shape == (2, 3, 3) and mine[1][0].shape == (3, 2, 3)

    def grad_np(a, b):   # d scalar / d a, by hand
        t = np.tanh(a * b)
        return (1 - t ** 2) * b * np.exp(a).sum() + t.sum() * np.exp(a)
    num = _numeric_jacobian(grad_np, [X.copy(), Y.copy()])
    np.testing.assert_allclose(mine[0][0].numpy().reshape(num[0].shape), num[0], rtol=1e-7)
    np.testing.assert_allclose(mine[0][1].numpy().reshape(num[1].shape), num[1], rtol=1e-7)


@pytest.mark.parametrize("name", ["hvp", "vhp"])
@pytest.mark.parametrize("create_graph", [False, True])
def test_hvp_vhp_as_pytorch_and_as_the_hessian(torch, name, create_graph):
    TF = torch.autograd.functional
    vs = (V, Y)
    mine = getattr(AF, name)(scalar, _mg(X, Y), _mg(*vs), create_graph=create_graph)
    theirs = getattr(TF, name)(scalar, _th(torch, X, Y), _th(torch, *vs),
                               create_graph=create_graph)
    _same(mine, theirs, rtol=1e-12, atol=1e-13)   # (PyTorch's hvp takes a third pass)
    h = AF.hessian(scalar, _mg(X, Y))
    flat_v = np.concatenate([V.reshape(-1), Y])
    full = np.block([[h[0][0].numpy().reshape(6, 6), h[0][1].numpy().reshape(6, 3)],
                     [h[1][0].numpy().reshape(3, 6), h[1][1].numpy().reshape(3, 3)]])
    hv = full @ flat_v
    np.testing.assert_allclose(np.concatenate([_np(mine[1][0]).reshape(-1), _np(mine[1][1])]),
                               hv, rtol=1e-12)
    assert mine[1][0].requires_grad == create_graph


def test_create_graph_results_are_differentiable(torch):
    def third(lib, F, T):
        x = T(Y)
        x = x.requires_grad_() if lib is torch else x.requires_grad_()
        _, hv = F.hvp(lambda a: (a.sin() * a.sum()).sum(), x, T(X[0]), create_graph=True)
        (g,) = lib.autograd.grad(hv.sum(), x)
        return g
    mine = third(mg, AF, lambda a: mg.tensor(a))
    theirs = third(torch, torch.autograd.functional, lambda a: torch.tensor(a))
    np.testing.assert_allclose(mine.numpy(), theirs.numpy(), rtol=1e-12)


# ---------------------------------------------------------------- forward AD

def _fn(lib, a, w):
    return (w @ a.sin()).exp() * a.sum() - lib.tanh(a)


def test_dual_tangents_as_pytorch_and_finite_differences(torch):
    a, t, w = R.standard_normal(3), R.standard_normal(3), R.standard_normal((3, 3))
    with fwAD.dual_level():
        d = fwAD.make_dual(mg.tensor(a), mg.tensor(t))
        out = _fn(mg, d, mg.tensor(w))
        primal, tangent = fwAD.unpack_dual(out)
        again = fwAD.unpack_dual(out).tangent
    with torch.autograd.forward_ad.dual_level():
        TD = torch.autograd.forward_ad
        d2 = TD.make_dual(torch.tensor(a), torch.tensor(t))
        p2, t2 = TD.unpack_dual(_fn(torch, d2, torch.tensor(w)))
    np.testing.assert_allclose(primal.detach().numpy(), p2.numpy(), **RTOL)
    np.testing.assert_allclose(tangent.numpy(), t2.numpy(), **RTOL)
    np.testing.assert_allclose(again.numpy(), tangent.numpy(), rtol=0)
    (jac,) = _numeric_jacobian(
        lambda x: np.exp(w @ np.sin(x)) * x.sum() - np.tanh(x), [a.copy()])
    np.testing.assert_allclose(tangent.numpy(), jac @ t, rtol=1e-7)
    # after the level: no tangent
    assert fwAD.unpack_dual(out).tangent is None


def test_dual_api_details_as_pytorch(torch):
    a = mg.tensor([1.0, 2.0], dtype=mg.float64)
    t = mg.tensor([0.5, -1.0], dtype=mg.float64)
    assert fwAD.unpack_dual(a) == (a, None)       # no level: the tensor itself, no tangent
    res = fwAD.unpack_dual(a)
    assert type(res).__name__ == "UnpackedDualTensor" and res._fields == ("primal", "tangent")
    with fwAD.dual_level() as level:
        assert level == 0
        d = fwAD.make_dual(a, t)
        assert fwAD.unpack_dual(d).tangent is t    # a dual's own tangent, as given
        assert fwAD.unpack_dual(a).tangent is None
        assert fwAD.unpack_dual(d * 0 + mg.tensor([1.0, 1.0])).tangent.tolist() == [0.0, 0.0]
        assert fwAD.unpack_dual(mg.tensor([1, 2])).tangent is None
        two = fwAD.make_dual(mg.tensor([3.0], dtype=mg.float64),
                             mg.tensor([2.0], dtype=mg.float64))
        assert fwAD.unpack_dual(d * two).tangent.tolist() == [0.5 * 3 + 1 * 2, -3 + 2 * 2]
    messages = []
    for lib, F in ((torch, torch.autograd.forward_ad), (mg, fwAD)):
        x = lib.tensor([1.0, 2.0], dtype=lib.float64)
        got = []
        for case in (lambda: F.make_dual(x, x),
                     lambda: F.exit_dual_level(level=5)):
            with pytest.raises(RuntimeError) as e:
                case()
            got.append(str(e.value))
        with F.dual_level():
            for case in (lambda: F.make_dual(x, lib.ones(3, dtype=lib.float64)),
                         lambda: F.make_dual(F.make_dual(x, x), x),
                         lambda: F.make_dual(F.make_dual(x, x) * 2, x),
                         F.enter_dual_level):
                with pytest.raises(RuntimeError) as e:
                    case()
                got.append(str(e.value))
            with pytest.raises(ValueError) as e:
                F.make_dual(lib.tensor([1, 2]), x)
            got.append(str(e.value).replace("torch.int64", "int64").replace("minigrad.", ""))
        messages.append(got)
    assert messages[0] == messages[1]


def test_dual_of_a_leaf_that_requires_grad_passes_gradients_back(torch):
    a, t = R.standard_normal(3), R.standard_normal(3)
    x = mg.tensor(a, requires_grad=True)
    with fwAD.dual_level():
        d = fwAD.make_dual(x, mg.tensor(t))
        y = (d.sin() * d).sum()
        tangent = fwAD.unpack_dual(y).tangent
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), np.cos(a) * a + np.sin(a), rtol=1e-14)
    np.testing.assert_allclose(tangent.numpy(), ((np.cos(a) * a + np.sin(a)) * t).sum(),
                               rtol=1e-13)


def test_dual_level_as_a_decorator():
    @fwAD.dual_level()
    def run():
        d = fwAD.make_dual(mg.tensor([2.0], dtype=mg.float64), mg.tensor([1.0], dtype=mg.float64))
        return fwAD.unpack_dual(d ** 3).tangent.item()
    assert run() == 12.0
    assert fwAD._current_level == -1
