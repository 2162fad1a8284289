"""``minigrad.func`` (torch.func) against PyTorch in float64: grad/grad_and_value (argnums,
has_aux, pytrees), vjp, jvp, jacrev, jacfwd, hessian, their compositions and their joining
ordinary autograd; vmap (in_dims/out_dims, nesting, randomness, errors); functional_call
and stack_module_state. Derivatives are also checked against finite differences."""
import numpy as np
import pytest

import minigrad as mg
import minigrad.func as mf
from minigrad.func.pytree import tree_flatten

# (PyTorch warns from inside its own forward-mode code)
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated")

RTOL = dict(rtol=1e-12, atol=1e-14)
R = np.random.default_rng(3)
A, B, C = R.standard_normal(3), R.standard_normal(3), R.standard_normal((4, 3))


def _same(mine, theirs, **tol):
    """Two pytrees (minigrad, torch) with the same structure and values."""
    lm, sm = tree_flatten(mine)
    lt, st = tree_flatten(theirs)
    assert repr(sm) == repr(st)
    for a, b in zip(lm, lt):
        if hasattr(a, "shape"):
            assert tuple(a.shape) == tuple(b.shape)
            a, b = (v.detach().numpy() if hasattr(v, "detach") else v for v in (a, b))
            np.testing.assert_allclose(a, b, **(tol or RTOL))
        else:
            assert a == b


def _both(torch, fn, *arrays):
    """fn(lib, *tensors) in both libraries on the same float64 data."""
    return (fn(mg, *[mg.tensor(a) for a in arrays]),
            fn(torch, *[torch.tensor(a) for a in arrays]))


def _f(a, b):
    return ((a * b).exp().sum() * a.tanh()).sum() + (b ** 3).sum()


def _g(a, b):
    return a.sin() * b, a.sum() * b.exp()


def _numeric_grad(f, x, eps=1e-6):
    g = np.zeros_like(x)
    for k in range(x.size):
        hi, lo = x.copy(), x.copy()
        hi.reshape(-1)[k] += eps
        lo.reshape(-1)[k] -= eps
        g.reshape(-1)[k] = (f(hi) - f(lo)) / (2 * eps)
    return g


# ---------------------------------------------------------------- grad

@pytest.mark.parametrize("argnums", [0, 1, (0, 1), (1, 0), -1])
def test_grad_argnums(torch, argnums):
    _same(*_both(torch, lambda lib, a, b: (mf if lib is mg else torch.func).grad(
        _f, argnums=argnums)(a, b), A, B))


def test_grad_has_aux_and_grad_and_value(torch):
    def f(a, b):
        y = (a * b.exp()).sum()
        return y, {"y": y * 2, "parts": [a + 1]}
    for fn in ("grad", "grad_and_value"):
        mine, theirs = _both(torch, lambda lib, a, b: getattr(
            mf if lib is mg else torch.func, fn)(f, argnums=1, has_aux=True)(a, b), A, B)
        _same(mine, theirs)
    _same(*_both(torch, lambda lib, a, b: (mf if lib is mg else torch.func).grad_and_value(
        _f)(a, b), A, B))


def test_grad_of_pytree_arguments(torch):
    def loss(params, x):
        return ((x @ params["w"] + params["b"][0]) ** 2).sum() + params["b"][1].sum()

    def run(lib):
        F = mf if lib is mg else torch.func
        T = mg.tensor if lib is mg else torch.tensor
        params = {"w": T(C.T.copy()), "b": [T(A[:1]), T(B)]}
        return F.grad(loss)(params, T(C))
    mine, theirs = run(mg), run(torch)
    assert isinstance(mine, dict) and isinstance(mine["b"], list)
    _same(mine, theirs)


def test_grad_against_finite_differences():
    g = mf.grad(lambda a: (a.sin() * a.exp()).sum() / (a * a).sum())(mg.tensor(A))
    num = _numeric_grad(lambda a: (np.sin(a) * np.exp(a)).sum() / (a * a).sum(), A.copy())
    np.testing.assert_allclose(g.numpy(), num, rtol=1e-7)


def test_nested_grad_and_joining_autograd(torch):
    def second(lib, a):
        F = mf if lib is mg else torch.func
        return F.grad(lambda x: F.grad(lambda y: (y.sin() ** 2 * y).sum())(x).sum())(a)
    _same(*_both(torch, second, A))
    # a result of an argument that requires grad is differentiable by ordinary autograd;
    # one of an argument that does not is a plain tensor
    def run(lib, a):
        F = mf if lib is mg else torch.func
        g = F.grad(lambda x: (x.exp() * x).sum())(a)
        return g
    x, tx = mg.tensor(A, requires_grad=True), torch.tensor(A, requires_grad=True)
    gm, gt = run(mg, x), run(torch, tx)
    assert gm.requires_grad and gt.requires_grad
    gm.sum().backward()
    gt.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), **RTOL)
    assert not run(mg, mg.tensor(A)).requires_grad
    # a tensor the function captures also keeps the result differentiable
    w = mg.tensor(B, requires_grad=True)
    g = mf.grad(lambda x: (x * w).exp().sum())(mg.tensor(A))
    assert g.requires_grad
    g.sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), (np.exp(A * B) * (1 + A * B)), rtol=1e-13)
    with mg.no_grad():   # the transform ignores an outer no_grad, the result is plain
        g = mf.grad(lambda x: (x * x).sum())(mg.tensor(A, requires_grad=True))
    assert not g.requires_grad and np.allclose(g.numpy(), 2 * A)


def test_grad_unused_input_is_zero_and_errors_as_pytorch(torch):
    _same(*_both(torch, lambda lib, a, b: (mf if lib is mg else torch.func).grad(
        lambda x, y: (x * 2).sum(), argnums=1)(a, b), A, B))
    cases = [
        lambda F, T: F.grad(lambda x: x * 2)(T(A)),
        lambda F, T: F.grad(lambda x: 3.0)(T(A)),
        lambda F, T: F.grad(lambda x: x.sum(), has_aux=True)(T(A)),
        lambda F, T: F.grad(_f, argnums=2)(T(A), T(B)),
        lambda F, T: F.grad(_f, argnums=(0, 0))(T(A), T(B)),
        lambda F, T: F.grad(_f, argnums=())(T(A), T(B)),
        lambda F, T: F.grad(_f, argnums=1.0)(T(A), T(B)),
        lambda F, T: F.grad(lambda x, y: x.sum(), argnums=1)(T(A), 3),
        lambda F, T: F.vjp(lambda x: x.sum(), T(A), has_aux=True),
        lambda F, T: F.vjp(lambda x: (x > 0), T(A)),
        lambda F, T: F.vjp(lambda x: [], T(A)),
        lambda F, T: F.jvp(lambda x: x, [T(A)], [T(A)]),
        lambda F, T: F.jvp(lambda x: x, (T(A),), (T(A), T(A))),
        lambda F, T: F.jvp(lambda x: x, (T(A),), (T(B[:2]),)),
        lambda F, T: F.jvp(lambda x: T(B), (T(A),), (T(A),), strict=True),
        lambda F, T: F.jacrev(_f, chunk_size=0),
    ]
    for i, case in enumerate(cases):
        with pytest.raises(Exception) as theirs:
            case(torch.func, torch.tensor)
        with pytest.raises(type(theirs.value)) as mine:
            case(mf, mg.tensor)
        expected = str(theirs.value).replace("torch.Tensor", "minigrad.tensor.Tensor")
        expected = expected.replace("torch.bool", "minigrad.bool").replace("torch.Size([", "(")
        got = str(mine.value).replace("])", ")")
        # (pytree structures print differently: TreeSpec(tuple, None, [*, *]) there)
        cut = (". cotangents", "with structure")
        for c in cut:
            got, expected = got.split(c)[0], expected.split(c)[0]
        assert got == expected.replace("])", ")"), i


# ---------------------------------------------------------------- vjp / jvp

def test_vjp_pytree_output_and_repeated_calls(torch):
    def f(a, b):
        return {"s": a.sin() * b, "t": (a.exp().sum(), b * 2)}

    def run(lib, a, b):
        F = mf if lib is mg else torch.func
        out, fn = F.vjp(f, a, b)
        cot = {"s": lib.tensor(B), "t": (lib.tensor(2.0, dtype=lib.float64), lib.tensor(A))}
        return out, fn(cot), fn(cot)
    mine, theirs = _both(torch, run, A, B)
    _same(mine, theirs)
    out, fn = mf.vjp(f, mg.tensor(A), mg.tensor(B))
    with pytest.raises(RuntimeError, match="Expected pytree structure of cotangents"):
        fn({"s": mg.tensor(B)})


def test_vjp_has_aux_and_jvp_has_aux(torch):
    def f(a):
        return a.exp(), a.sum() * 2

    def run(lib, a, b):
        F = mf if lib is mg else torch.func
        out, fn, aux = F.vjp(f, a, has_aux=True)
        p, t, aux2 = F.jvp(f, (a,), (b,), has_aux=True)
        return out, fn(b), aux, p, t, aux2
    _same(*_both(torch, run, A, B))


def test_jvp_values_and_finite_differences(torch):
    _same(*_both(torch, lambda lib, a, b: (mf if lib is mg else torch.func).jvp(
        _g, (a, b), (b, a)), A, B))
    _, t = mf.jvp(lambda a: (a.sin() * a.exp()).sum(), (mg.tensor(A),), (mg.tensor(B),))
    num = _numeric_grad(lambda a: (np.sin(a) * np.exp(a)).sum(), A.copy())
    np.testing.assert_allclose(t.item(), num @ B, rtol=1e-7)


# ---------------------------------------------------------------- jacobians, hessian

@pytest.mark.parametrize("name", ["jacrev", "jacfwd"])
@pytest.mark.parametrize("argnums", [0, 1, (0, 1)])
def test_jacobians_structures(torch, name, argnums):
    _same(*_both(torch, lambda lib, a, b: getattr(mf if lib is mg else torch.func, name)(
        _g, argnums=argnums)(a, b), A, B))


@pytest.mark.parametrize("name", ["jacrev", "jacfwd"])
def test_jacobians_of_pytrees_and_has_aux(torch, name):
    def f(p):
        return {"u": p["x"] * p["y"][0], "v": [p["x"].sum() * p["y"][0]]}, p["x"] * 3

    def run(lib, a, b):
        F = mf if lib is mg else torch.func
        return getattr(F, name)(f, has_aux=True)({"x": a, "y": [b]})
    _same(*_both(torch, run, A, B))


def test_jacobian_against_finite_differences():
    x = R.standard_normal((2, 3))
    jac = mf.jacrev(lambda a: (a.exp() * a.sum(1, keepdim=True)).sin())(mg.tensor(x))
    jfw = mf.jacfwd(lambda a: (a.exp() * a.sum(1, keepdim=True)).sin())(mg.tensor(x))
    assert jac.shape == (2, 3, 2, 3)
    for k in range(x.size):
        e = np.zeros(x.size)
        e[k] = 1e-6
        hi = np.sin(np.exp(x + e.reshape(x.shape)) * (x + e.reshape(x.shape)).sum(1, keepdims=True))
        lo = np.sin(np.exp(x - e.reshape(x.shape)) * (x - e.reshape(x.shape)).sum(1, keepdims=True))
        col = (hi - lo) / 2e-6
        np.testing.assert_allclose(jac.numpy().reshape(6, 6)[:, k], col.reshape(-1), rtol=1e-6,
                                   atol=1e-8)
    np.testing.assert_allclose(jfw.numpy(), jac.numpy(), rtol=1e-13)


def test_hessian_and_compositions(torch):
    def h(a, b):
        return (a.sin() * a.exp() * b).sum()
    for build in (lambda F: F.hessian(h), lambda F: F.hessian(h, argnums=(0, 1)),
                  lambda F: F.jacrev(F.jacrev(h)), lambda F: F.jacfwd(F.jacfwd(h)),
                  lambda F: F.jacrev(F.jacfwd(h)), lambda F: F.jacfwd(F.jacrev(h, 1), 0)):
        _same(*_both(torch, lambda lib, a, b: build(mf if lib is mg else torch.func)(a, b),
                     A, B))
    hess = mf.hessian(lambda a: (a.sin() * a.exp()).sum())(mg.tensor(A))
    np.testing.assert_allclose(hess.numpy(), np.diag(2 * np.cos(A) * np.exp(A)), rtol=1e-13)


def test_jacfwd_randomness_argument():
    with pytest.raises(RuntimeError, match="randomness error mode"):
        mf.jacfwd(lambda a: a * mg.randn(3))(mg.tensor(A))
    j = mf.jacfwd(lambda a: a * mg.randn(3, dtype=mg.float64), randomness="same")(mg.tensor(A))
    assert j.shape == (3, 3) and np.count_nonzero(j.numpy() - np.diag(np.diag(j.numpy()))) == 0
    with pytest.raises(RuntimeError, match="Only allowed values for randomness"):
        mf.jacfwd(lambda a: a, randomness="maybe")


# ---------------------------------------------------------------- vmap

def _vm(torch, fn, *arrays, **kw):
    return _both(torch, lambda lib, *ts: (mf if lib is mg else torch.func).vmap(fn, **kw)(*ts),
                 *arrays)


@pytest.mark.parametrize("in_dims,out_dims,y_shape", [
    (0, 0, (4, 5)), ((1, None), 1, (4,)), ((0, 0), -1, (4, 5)), ((-1, None), (0,), (4,)),
    ((1, 0), 1, (5, 4)), ((1, 0), -2, (5, 4))])
def test_vmap_dims(torch, in_dims, out_dims, y_shape):
    x = R.standard_normal((4, 5))
    y = R.standard_normal(y_shape)

    def f(a, b):
        return (a * b).exp() / b.sum()
    _same(*_vm(torch, f, x, y, in_dims=in_dims, out_dims=out_dims))


def test_vmap_pytrees_nested_and_unbatched_outputs(torch):
    def f(d, w):
        return {"m": d["a"] @ w, "s": (d["a"].sum(), w * 2)}
    x, w = R.standard_normal((4, 3)), R.standard_normal((3, 2))
    mine, theirs = _both(torch, lambda lib, a, b: (mf if lib is mg else torch.func).vmap(
        f, in_dims=({"a": 0}, None), out_dims={"m": 1, "s": (0, 0)})({"a": a}, b), x, w)
    _same(mine, theirs)
    # nested: an outer product per pair of rows
    _same(*_both(torch, lambda lib, a, b: (mf if lib is mg else torch.func).vmap(
        (mf if lib is mg else torch.func).vmap(lambda u, v: u * v, in_dims=(None, 0)),
        in_dims=(0, None))(a, b), R.standard_normal(4), R.standard_normal(3)))
    # out_dims None for an output that does not depend on the batch
    const = mg.tensor(B)
    out = mf.vmap(lambda a: (a * 2, const), out_dims=(0, None))(mg.tensor(C))
    assert out[1] is const and out[0].shape == (4, 3)
    # a non-tensor argument with in_dim None, kwargs passed as they are
    out = mf.vmap(lambda a, k, scale=1.0: a * k * scale, in_dims=(0, None))(
        mg.tensor(C), 3, scale=2.0)
    np.testing.assert_allclose(out.numpy(), C * 6, rtol=1e-15)


def test_vmap_per_example_gradients_and_backward(torch):
    w0 = R.standard_normal(3)

    def run(lib, x, y):
        F = mf if lib is mg else torch.func
        w = (mg.tensor(w0, requires_grad=True) if lib is mg
             else torch.tensor(w0, requires_grad=True))

        def loss(w_, xi, yi):
            return ((xi * w_).sum().tanh() - yi) ** 2
        per_example = F.vmap(F.grad(loss), in_dims=(None, 0, 0))(w, x, y)
        batched = F.vmap(loss, in_dims=(None, 0, 0))(w, x, y)
        batched.sum().backward()
        return per_example, batched, w.grad
    _same(*_both(torch, run, C, A[:1].repeat(4)))


def test_vmap_errors_as_pytorch(torch):
    cases = [
        lambda F, T: F.vmap(lambda a: a)(),
        lambda F, T: F.vmap(lambda a: a, in_dims=[0])(T(C)),
        lambda F, T: F.vmap(lambda a, b: a, in_dims=(0, 0, 0))(T(C), T(C)),
        lambda F, T: F.vmap(lambda a: a, in_dims=(0.5,))(T(C)),
        lambda F, T: F.vmap(lambda a, b: a, in_dims=(0, 0))(T(C), 3),
        lambda F, T: F.vmap(lambda a: a, in_dims=2)(T(C)),
        lambda F, T: F.vmap(lambda a, b: a)(T(C), T(A)),
        lambda F, T: F.vmap(lambda a: a, in_dims=None)(T(C)),
        lambda F, T: F.vmap(lambda a: 3)(T(C)),
        lambda F, T: F.vmap(lambda a: (a, a), out_dims=(0, 0, 0))(T(C)),
        lambda F, T: F.vmap(lambda a: a, out_dims="x")(T(C)),
        lambda F, T: F.vmap(lambda a: a, out_dims=None)(T(C)),
        lambda F, T: F.vmap(lambda a: a, randomness="x")(T(C)),
        lambda F, T: F.vmap(lambda a: a, chunk_size=0)(T(C)),
    ]
    for i, case in enumerate(cases):
        with pytest.raises(Exception) as theirs:
            case(torch.func, torch.tensor)
        with pytest.raises(type(theirs.value)) as mine:
            case(mf, mg.tensor)
        expected = str(theirs.value).replace("torch.Tensor", "minigrad.tensor.Tensor")
        # (the structures print differently: TreeSpec(tuple, None, [*, *]) there)
        assert str(mine.value).split(" has structure")[0] == expected.split(
            " has structure")[0], i


def test_vmap_randomness():
    x = mg.zeros(5, 3, dtype=mg.float64)
    with pytest.raises(RuntimeError, match="called random operation while in randomness error "
                                           "mode"):
        mf.vmap(lambda a: a + mg.rand(3, dtype=mg.float64))(x)
    with pytest.raises(RuntimeError, match="randomness error mode"):
        mf.vmap(lambda a: mg.nn.functional.dropout(a + 1, 0.5))(x)
    mf.vmap(lambda a: mg.nn.functional.dropout(a + 1, 0.5, training=False))(x)  # no draw
    same = mf.vmap(lambda a: a + mg.rand(3, dtype=mg.float64), randomness="same")(x).numpy()
    assert np.all(same == same[0]) and len(np.unique(same[0])) == 3
    diff = mf.vmap(lambda a: a + mg.rand(3, dtype=mg.float64), randomness="different")(x)
    assert len(np.unique(diff.numpy())) == 15
    # nested: same across the outer map, different across the inner one
    out = mf.vmap(mf.vmap(lambda a: a + mg.rand(1, dtype=mg.float64), randomness="different"),
                  randomness="same")(
        mg.zeros(3, 4, dtype=mg.float64)).numpy()
    assert np.all(out == out[0]) and len(np.unique(out[0])) == 4
    # an explicit CPU generator is rewound to the same state for every element
    g = mg.Generator().manual_seed(7)
    out = mf.vmap(lambda a: a + mg.rand(2, dtype=mg.float64, generator=g),
                  randomness="same")(x[:, :2]).numpy()
    assert np.all(out == out[0])
    assert mg.rng.scope is None


def test_vmap_docs_say_what_it_costs():
    assert "once per batch element" in mf.vmap.__doc__
    assert mg.vmap is mf.vmap


# ---------------------------------------------------------------- functional_call, ensembles

class _Net:
    @staticmethod
    def make(lib):
        class Net(lib.nn.Module):
            def __init__(self):
                super().__init__()
                self.l1 = lib.nn.Linear(3, 4)
                self.bn = lib.nn.BatchNorm1d(4)
                self.l2 = lib.nn.Linear(4, 2)

            def forward(self, x, scale=1.0):
                return self.l2(self.bn(self.l1(x)).relu()) * scale
        return Net


def _pair(torch):
    torch.manual_seed(0)
    tm = _Net.make(torch)().double()
    mm = _Net.make(mg)().double()
    mm.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    return mm, tm


def test_functional_call_as_pytorch(torch):
    mm, tm = _pair(torch)
    new = {k: R.standard_normal(v.shape) for k, v in tm.named_parameters()}
    x = R.standard_normal((5, 3))
    outs = []
    for lib, m, F in ((mg, mm, mf), (torch, tm, torch.func)):
        params = {k: lib.tensor(v) for k, v in new.items()}
        before = {k: v.detach().numpy().copy() for k, v in m.state_dict().items()}
        out = F.functional_call(m, params, (lib.tensor(x),), {"scale": 2.0})
        out2 = F.functional_call(m, (params, {}), lib.tensor(x))
        after = {k: v.detach().numpy() for k, v in m.state_dict().items()}
        for k in before:
            if "running" not in k and "num_batches" not in k:
                np.testing.assert_array_equal(before[k], after[k])
        outs.append((out, out2, after["bn.running_mean"], after["bn.num_batches_tracked"]))
    _same(outs[0], outs[1])


def test_functional_call_errors_tied_weights_and_strict(torch):
    def tied(lib):
        m = lib.nn.Sequential(lib.nn.Linear(2, 2, bias=False), lib.nn.Linear(2, 2, bias=False))
        m[1].weight = m[0].weight
        m.double()
        with (mg.no_grad() if lib is mg else torch.no_grad()):
            m[0].weight.copy_(lib.tensor(np.eye(2) + 0.5))
        return m
    x = R.standard_normal((3, 2))
    w = R.standard_normal((2, 2))
    results, messages = [], []
    for lib, F in ((mg, mf), (torch, torch.func)):
        m = tied(lib)
        T = lib.tensor
        # replacing one name replaces both (tie_weights=True); not with tie_weights=False
        results.append((F.functional_call(m, {"0.weight": T(w)}, T(x)),
                        F.functional_call(m, {"0.weight": T(w)}, T(x), tie_weights=False)))
        got = []
        for case in (lambda: F.functional_call(m, {"0.weight": T(w), "1.weight": T(w * 2)},
                                               T(x)),
                     lambda: F.functional_call(m, ({"0.weight": T(w)}, {"0.weight": T(w)}),
                                               T(x)),
                     lambda: F.functional_call(m, [3], T(x)),
                     lambda: F.functional_call(m, 3, T(x)),
                     lambda: F.functional_call(m, {"2.weight": T(w)}, T(x), strict=True,
                                               tie_weights=False)):
            with pytest.raises(Exception) as e:
                case()
            got.append((type(e.value).__name__, str(e.value).replace("torch.Tensor", "T")
                        .replace("<class 'int'>", "int")))
        messages.append(got)
    _same(results[0], results[1])
    assert messages[0] == messages[1]


def test_stack_module_state_and_an_ensemble_with_vmap(torch):
    models = [mg.nn.Linear(3, 2).double() for _ in range(4)]
    tmodels = [torch.nn.Linear(3, 2).double() for _ in range(4)]
    for m, t in zip(models, tmodels):
        m.load_state_dict({k: v.detach().numpy() for k, v in t.state_dict().items()})
    x = R.standard_normal((5, 3))
    results = []
    for lib, F, ms in ((mg, mf, models), (torch, torch.func, tmodels)):
        params, buffers = F.stack_module_state(ms)
        assert all(p.is_leaf and p.requires_grad for p in params.values())

        def one(p, b, data, base=ms[0]):
            return F.functional_call(base, (p, b), (data,))
        out = F.vmap(one, in_dims=(0, 0, None))(params, buffers, lib.tensor(x))
        out.sum().backward()
        results.append((params, buffers, out, {k: p.grad for k, p in params.items()}))
    _same(results[0], results[1])
    # and the errors
    for case in (lambda F, lib: F.stack_module_state([]),
                 lambda F, lib: F.stack_module_state([lib.nn.Linear(1, 1), lib.nn.ReLU()]),
                 lambda F, lib: F.stack_module_state([lib.nn.Linear(1, 1),
                                                      lib.nn.Linear(1, 1).eval()])):
        with pytest.raises(RuntimeError) as theirs:
            case(torch.func, torch)
        with pytest.raises(RuntimeError) as mine:
            case(mf, mg)
        assert str(mine.value) == str(theirs.value)
