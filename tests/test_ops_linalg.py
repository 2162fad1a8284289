"""Products, norms and matrix structure against PyTorch: values, dtypes, errors, gradients."""
import math

import numpy as np
import pytest

import minigrad as mg


def _pair(torch, shape, dtype=np.float64, seed=0, requires_grad=False):
    a = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    return (mg.tensor(a, requires_grad=requires_grad),
            torch.tensor(a, requires_grad=requires_grad))


@pytest.mark.parametrize("op,shapes", [("mm", [(3, 4), (4, 2)]), ("bmm", [(2, 3, 4), (2, 4, 5)]),
                                       ("mv", [(3, 4), (4,)]), ("dot", [(4,), (4,)]),
                                       ("outer", [(3,), (4,)])])
def test_products_match_torch_with_gradients(torch, op, shapes):
    (a, ta), (b, tb) = (_pair(torch, s, seed=k, requires_grad=True) for k, s in enumerate(shapes))
    out, ref = getattr(mg, op)(a, b), getattr(torch, op)(ta, tb)
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-12)
    g = np.random.default_rng(9).standard_normal(ref.shape)
    out.backward(mg.tensor(g))
    ref.backward(torch.tensor(g))
    np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(b.grad.numpy(), tb.grad.numpy(), rtol=1e-12)
    if op in ("mm", "bmm", "dot"):
        np.testing.assert_allclose(getattr(a, op)(b).detach().numpy(), ref.detach().numpy(),
                                   rtol=1e-12)


def test_integer_products(torch):
    a = np.arange(6).reshape(2, 3)
    for op, args in [("mm", (a, a.T)), ("dot", (a[0], a[1])), ("bmm", (a[None], a.T[None]))]:
        out = getattr(mg, op)(*map(mg.tensor, args))
        ref = getattr(torch, op)(*map(torch.tensor, args))
        assert out.dtype == mg.int64 and out.tolist() == ref.tolist()


def _message(torch, fn):
    with pytest.raises(Exception) as info:
        fn(torch)
    return str(info.value).split("\n")[0]


@pytest.mark.parametrize("call", [
    lambda m, F, D: m.mm(m.ones(2, 3, dtype=F), m.ones(3, 2, dtype=D)),
    lambda m, F, D: m.bmm(m.ones(1, 2, 3, dtype=D), m.ones(1, 3, 2, dtype=F)),
    lambda m, F, D: m.mv(m.ones(2, 3, dtype=F), m.ones(3, dtype=D)),
    lambda m, F, D: m.dot(m.ones(3, dtype=F), m.ones(3, dtype=D)),
    lambda m, F, D: m.matmul(m.ones(2, 3, dtype=F), m.ones(3, 2, dtype=D)),
    lambda m, F, D: m.ones(3, dtype=D) @ m.ones(3, 2, dtype=F),
    lambda m, F, D: m.ones(2, 3, dtype=F) @ m.ones(3, dtype=D),
    lambda m, F, D: m.ones(3, dtype=F) @ m.ones(3, dtype=D),
    lambda m, F, D: m.ones(2, 2, 3, dtype=F) @ m.ones(2, 3, 2, dtype=D),
    lambda m, F, D: m.ones(2, 2, 3, dtype=F) @ m.ones(3, 2, dtype=D),
    lambda m, F, D: m.ones(2, 3, dtype=m.int64) @ m.ones(3, 2, dtype=F),
    lambda m, F, D: m.mm(m.ones(2, 3), m.ones(2, 3)),
    lambda m, F, D: m.mm(m.ones(3), m.ones(3, 2)),
    lambda m, F, D: m.bmm(m.ones(2, 3), m.ones(2, 3)),
    lambda m, F, D: m.bmm(m.ones(2, 2, 3), m.ones(3, 3, 2)),
    lambda m, F, D: m.mv(m.ones(2, 3), m.ones(4)),
    lambda m, F, D: m.mv(m.ones(3), m.ones(3)),
    lambda m, F, D: m.dot(m.ones(2, 3), m.ones(3)),
    lambda m, F, D: m.dot(m.ones(3), m.ones(4)),
    lambda m, F, D: m.outer(m.ones(2, 2), m.ones(3)),
])
def test_product_errors_are_torchs(torch, call):
    """float32 @ float64 no longer promotes silently: PyTorch's error, word for word."""
    mine = _message(torch, lambda t: call(mg, mg.float32, mg.float64))
    theirs = _message(torch, lambda t: call(t, t.float32, t.float64))
    assert mine == theirs


def test_matmul_refuses_bool():
    with pytest.raises(NotImplementedError, match="Bool"):
        mg.ones(2, 2, dtype=mg.bool) @ mg.ones(2, 2, dtype=mg.bool)


@pytest.mark.parametrize("shapes,dim", [([(4, 3), (4, 3)], 1), ([(1, 3, 2), (4, 3, 2)], 1),
                                        ([(2, 3), (2, 3)], None), ([(3, 3), (3, 3)], 0)])
def test_cross(torch, shapes, dim):
    (a, ta), (b, tb) = (_pair(torch, s, seed=k, requires_grad=True) for k, s in enumerate(shapes))
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # (torch warns about the default dim)
        ref = torch.cross(ta, tb, dim=dim) if dim is not None else torch.cross(ta, tb)
    out = mg.cross(a, b, dim)
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-12)
    g = np.random.default_rng(3).standard_normal(ref.shape)
    out.backward(mg.tensor(g))
    ref.backward(torch.tensor(g))
    np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(b.grad.numpy(), tb.grad.numpy(), rtol=1e-12, atol=1e-14)


def test_cross_errors(torch):
    for call in [lambda m: m.cross(m.ones(3, 2), m.ones(1, 2), dim=0),
                 lambda m: m.cross(m.ones(2, 4), m.ones(2, 4)),
                 lambda m: m.cross(m.ones(3), m.ones(2, 3)),
                 lambda m: m.cross(m.ones(2, 3), m.ones(2, 3, dtype=m.float64), dim=1)]:
        assert _message(torch, lambda t: call(mg)) == _message(torch, lambda t: call(t))


NORMS = [dict(), dict(p="fro", dim=1), dict(p="fro", dim=(0, 1)), dict(p=math.inf),
         dict(p=-math.inf, dim=0), dict(p=0), dict(p=1, dim=0, keepdim=True), dict(p=3, dim=1),
         dict(p=2, dim=(0, 1)), dict(p=0.5), dict(p=-1, dim=1), dict(p=math.inf, dim=(0, 1)),
         dict(dtype="float64")]


@pytest.mark.parametrize("kwargs", NORMS, ids=str)
def test_norm(torch, kwargs):
    x = np.array([[3.0, -4.0, 0.5], [0.0, 1.0, -2.0]])
    kw = dict(kwargs)
    if "dtype" in kw:
        x = x.astype(np.float32)
    a = mg.tensor(x, requires_grad=True)
    ta = torch.tensor(x, requires_grad=True)
    out = mg.norm(a, **{k: getattr(mg, v) if k == "dtype" else v for k, v in kw.items()})
    ref = torch.norm(ta, **{k: getattr(torch, v) if k == "dtype" else v for k, v in kw.items()})
    assert out.dtype.name == str(ref.dtype).split(".")[1] and out.shape == tuple(ref.shape)
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-12)
    if kw.get("p", 2) not in (0, 0.5, -1):   # (torch's p<1 gradients at 0 are its own)
        g = np.random.default_rng(4).standard_normal(tuple(ref.shape))
        out.backward(mg.tensor(g).to(out.dtype))
        ref.backward(torch.tensor(g).to(ref.dtype))
        np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy(), rtol=1e-6 if "dtype" in kw
                                   else 1e-12, atol=1e-12)
    assert a.norm(**{k: getattr(mg, v) if k == "dtype" else v
                     for k, v in kw.items()}).shape == out.shape


def test_norm_gradient_at_zero_is_zero_as_in_torch(torch):
    for p in (2, 3, math.inf, 1):
        z = mg.zeros(3, requires_grad=True)
        mg.norm(z, p).backward()
        tz = torch.zeros(3, requires_grad=True)
        torch.norm(tz, p).backward()
        np.testing.assert_array_equal(z.grad.numpy(), tz.grad.numpy())


def test_norm_and_dist_errors(torch):
    for call in [lambda m: m.norm(m.ones(2, dtype=m.int64)),
                 lambda m: m.norm(m.ones(2, 2), p="abc"),
                 lambda m: m.norm(m.ones(2, 3, 4), p="fro", dim=(0, 1, 2)),
                 lambda m: m.norm(m.zeros(0, 3), p=math.inf),
                 lambda m: m.dist(m.ones(3, dtype=m.int64), m.zeros(3, dtype=m.int64))]:
        assert _message(torch, lambda t: call(mg)) == _message(torch, lambda t: call(t))
    x = np.random.default_rng(3).standard_normal((2, 3, 4))
    for dim in (None, (0, 2)):
        a = x[0] if dim is None else x
        np.testing.assert_allclose(mg.norm(mg.tensor(a), p="nuc", dim=dim).numpy(),
                                   torch.norm(torch.tensor(a), p="nuc", dim=dim).numpy(),
                                   rtol=1e-12)


def test_dist(torch):
    (a, ta), (b, tb) = _pair(torch, (3,), seed=1), _pair(torch, (2, 1), seed=2)
    for p in (2, 1, 0.5, math.inf):
        np.testing.assert_allclose(mg.dist(a, b, p).numpy(), torch.dist(ta, tb, p).numpy(),
                                   rtol=1e-12)
    assert a.dist(b).item() == pytest.approx(torch.dist(ta, tb).item(), rel=1e-12)


@pytest.mark.parametrize("shape,k", [((3,), 0), ((3,), 1), ((3,), -2), ((2, 3), 0),
                                     ((2, 3), -1), ((3, 2), 1)])
def test_diag(torch, shape, k):
    a, ta = _pair(torch, shape, requires_grad=True)
    out, ref = mg.diag(a, k), torch.diag(ta, k)
    np.testing.assert_array_equal(out.detach().numpy(), ref.detach().numpy())
    out.sum().backward()
    ref.sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), ta.grad.numpy())
    assert mg.diag(mg.tensor([1, 2]), 1).tolist() == torch.diag(torch.tensor([1, 2]), 1).tolist()
    for bad in [lambda m: m.diag(m.ones(2, 2, 2)), lambda m: m.diag(m.tensor(2.0))]:
        assert _message(torch, lambda t: bad(mg)) == _message(torch, lambda t: bad(t))


@pytest.mark.parametrize("dtype", ["bool", "uint8", "int8", "int16", "int32", "int64",
                                   "float16", "float32", "float64"])
def test_tril_triu_keep_every_dtype(torch, dtype):
    x = (np.arange(12).reshape(3, 4) % 3).astype(dtype)
    for op in ("tril", "triu"):
        out, ref = getattr(mg, op)(mg.tensor(x), 1), getattr(torch, op)(torch.tensor(x), 1)
        assert out.dtype.name == str(ref.dtype).split(".")[1] == dtype
        np.testing.assert_array_equal(out.numpy(), ref.numpy())
        assert getattr(mg.tensor(x), op)(-1).dtype.name == dtype


def test_linear_of_one_sample_like_torch(torch):
    """A 1-D input (in_features,) gives (out_features,), gradients included (per-sample
    code: vmap, functional_call)."""
    rng = np.random.default_rng(5)
    x, w, b = rng.standard_normal(3), rng.standard_normal((2, 3)), rng.standard_normal(2)
    out = []
    for lib in (mg, torch):
        tx, tw, tb = (lib.tensor(a, requires_grad=True) for a in (x, w, b))
        y = lib.nn.functional.linear(tx, tw, tb)
        assert tuple(y.shape) == (2,)
        (y * lib.tensor([1.0, -2.0], dtype=lib.float64)).sum().backward()
        out.append([y.detach().numpy(), tx.grad.numpy(), tw.grad.numpy(), tb.grad.numpy()])
        lazy = lib.nn.LazyLinear(4)
        assert tuple(lazy(lib.ones(3)).shape) == (4,)
    for a, b_ in zip(*out):
        np.testing.assert_allclose(a, b_, rtol=1e-13)


def test_linear_add_is_one_node_with_the_addend_s_gradient():
    """ops.linear_add, the recurrent layers' step: x @ W^T + addend as one recorded op."""
    from minigrad import ops
    x = mg.randn(4, 5, dtype=mg.float64, requires_grad=True)
    w = mg.randn(3, 5, dtype=mg.float64, requires_grad=True)
    a = mg.randn(4, 3, dtype=mg.float64, requires_grad=True)
    y = ops.linear_add(x, w, a)
    assert y.grad_fn.name == "LinearBackward"
    X, W, A = (t.detach().numpy() for t in (x, w, a))
    np.testing.assert_allclose(y.detach().numpy(), X @ W.T + A, rtol=1e-12)
    g = mg.randn(4, 3, dtype=mg.float64)
    y.backward(g)
    np.testing.assert_array_equal(a.grad.numpy(), g.numpy())
    np.testing.assert_allclose(w.grad.numpy(), g.numpy().T @ X, rtol=1e-12)
    with pytest.raises(ValueError, match=r"linear_add: .*addend \(3, 4\) do not fit"):
        ops.linear_add(x, w, mg.randn(3, 4, dtype=mg.float64))
