"""Searching, sets and index writes against PyTorch: unique, nonzero, where, equal,
repeat_interleave, index_add(_), scatter_."""
import numpy as np
import pytest

import minigrad as mg


def _eq(out, ref):
    if isinstance(ref, tuple):
        assert isinstance(out, tuple) and len(out) == len(ref)
        for o, r in zip(out, ref):
            _eq(o, r)
        return
    assert tuple(out.shape) == tuple(ref.shape) and out.dtype.name == str(ref.dtype)[6:]
    np.testing.assert_array_equal(out.numpy(), ref.numpy())


@pytest.mark.parametrize("data,kw", [
    ([3, 1, 2, 3, 1, 5], {}), ([3, 1, 2, 3, 1, 5], dict(return_inverse=True, return_counts=True)),
    ([[1, 2], [1, 2], [0, 5]], dict(dim=0, return_inverse=True, return_counts=True)),
    ([[1, 2], [1, 2], [0, 5]], dict(dim=1, return_counts=True)),
    ([[1, 2], [1, 2], [0, 5]], dict(return_inverse=True)),
    ([1.0, float("nan"), float("nan"), 2.0], {}), ([True, False, True], {}), (3, {}),
])
def test_unique(torch, data, kw):
    _eq(mg.unique(mg.tensor(data), **kw), torch.unique(torch.tensor(data), **kw))
    _eq(mg.tensor(data).unique(**kw), torch.tensor(data).unique(**kw))


def test_unique_has_no_derivative(torch):
    x = mg.tensor([2.0, 1.0, 2.0], requires_grad=True)
    out = mg.unique(x)
    assert out.requires_grad == torch.unique(torch.tensor([2.0], requires_grad=True)).requires_grad
    with pytest.raises(RuntimeError, match="derivative for 'unique' is not implemented"):
        out.sum().backward()
    with pytest.raises(IndexError):
        mg.unique(mg.ones(2), dim=3)


@pytest.mark.parametrize("data", [[[1, 0], [0, 2]], 3, 0.0, [[0.0, 0.5, 0.0]], []])
def test_nonzero_and_where(torch, data):
    x, t = mg.tensor(data), torch.tensor(data)
    _eq(mg.nonzero(x), torch.nonzero(t))
    _eq(x.nonzero(), t.nonzero())
    _eq(mg.nonzero(x, as_tuple=True), torch.nonzero(t, as_tuple=True))
    _eq(mg.where(x != 0), torch.where(t != 0))
    _eq(mg.argwhere(x), torch.argwhere(t))


@pytest.mark.parametrize("a,b", [(1.0, 0), (1, 0), (True, 0), (True, False), (2.5, 1.5)])
def test_where_of_two_numbers(torch, a, b):
    cond = [True, False]
    _eq(mg.where(mg.tensor(cond), a, b), torch.where(torch.tensor(cond), a, b))


def test_where_of_a_zero_dim_int_tensor_and_a_float(torch):
    cond = [True, False]
    _eq(mg.where(mg.tensor(cond), mg.tensor(1, dtype=mg.int32), 2.5),
        torch.where(torch.tensor(cond), torch.tensor(1, dtype=torch.int32), 2.5))


def test_equal(torch):
    pairs = [([1, 2], [1.0, 2.0]), ([1, 2], [[1, 2]]), ([float("nan")], [float("nan")]),
             ([1.0, 2.0], [1.0, 2.5])]
    for a, b in pairs:
        assert mg.equal(mg.tensor(a), mg.tensor(b)) == torch.equal(torch.tensor(a), torch.tensor(b))
        assert mg.tensor(a).equal(mg.tensor(b)) == torch.tensor(a).equal(torch.tensor(b))
    with pytest.raises(TypeError, match="must be Tensor"):
        mg.equal(mg.tensor([1, 2]), [1, 2])


@pytest.mark.parametrize("repeats,dim", [(2, None), (2, 0), (2, 1), ([1, 0, 2], 1),
                                         ([3], 0), ([1, 2], 0)])
def test_repeat_interleave(torch, repeats, dim):
    a = np.arange(6.0).reshape(2, 3)
    x, t = mg.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    r_mg = mg.tensor(repeats) if isinstance(repeats, list) else repeats
    r_t = torch.tensor(repeats) if isinstance(repeats, list) else repeats
    out, ref = x.repeat_interleave(r_mg, dim), t.repeat_interleave(r_t, dim)
    _eq(out.detach(), ref.detach())
    g = np.random.default_rng(0).standard_normal(tuple(ref.shape))
    out.backward(mg.tensor(g))
    ref.backward(torch.tensor(g))
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-12)
    _eq(mg.repeat_interleave(mg.tensor([1, 0, 2])), torch.repeat_interleave(torch.tensor([1, 0, 2])))


def test_repeat_interleave_errors(torch):
    for call in [lambda m: m.repeat_interleave(m.ones(2), m.tensor([1, 2, 3])),
                 lambda m: m.repeat_interleave(m.ones(2), m.tensor([-1, 2]))]:
        with pytest.raises(RuntimeError):
            call(mg)
        with pytest.raises(RuntimeError):
            call(torch)


def test_index_add_and_index_add_(torch):
    src = np.arange(6.0).reshape(2, 3)
    idx = [0, 2, 0]
    a, b = mg.zeros(2, 4, dtype=mg.float64), torch.zeros(2, 4, dtype=torch.float64)
    assert a.index_add_(1, mg.tensor(idx), mg.tensor(src), alpha=2) is a
    b.index_add_(1, torch.tensor(idx), torch.tensor(src), alpha=2)
    _eq(a, b)
    s = mg.tensor(src, requires_grad=True)
    base = mg.ones(2, 4, dtype=mg.float64, requires_grad=True)
    out = mg.index_add(base, 1, mg.tensor(idx), s)
    (out * mg.arange(8.0, dtype=mg.float64).reshape(2, 4)).sum().backward()
    np.testing.assert_array_equal(s.grad.numpy(), np.arange(8.0).reshape(2, 4)[:, idx])
    np.testing.assert_array_equal(base.grad.numpy(), np.arange(8.0).reshape(2, 4))
    for call in [lambda m: m.zeros(2, 4).index_add_(1, m.tensor([0, 1]), m.ones(2, 3)),
                 lambda m: m.zeros(2, 4).index_add_(1, m.tensor([0, 1, 2]),
                                                    m.ones(2, 3, dtype=m.float64))]:
        with pytest.raises(RuntimeError):
            call(mg)
        with pytest.raises(RuntimeError):
            call(torch)


def test_scatter_(torch):
    idx = [[0, 2], [3, 1]]
    a, b = mg.zeros(2, 4), torch.zeros(2, 4)
    assert a.scatter_(1, mg.tensor(idx), mg.ones(2, 2)) is a
    b.scatter_(1, torch.tensor(idx), torch.ones(2, 2))
    _eq(a, b)
    a.scatter_(1, mg.tensor(idx), 2.5, reduce="add")
    b.scatter_(1, torch.tensor(idx), 2.5, reduce="add")
    _eq(a, b)
    a.scatter_(0, mg.tensor([[1, 0, 1, 0]]), value=7.0)
    b.scatter_(0, torch.tensor([[1, 0, 1, 0]]), value=7.0)
    _eq(a, b)
