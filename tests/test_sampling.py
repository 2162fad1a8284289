"""Random sampling: shapes, dtypes, ranges, generators, statistics and PyTorch's errors
(the numbers themselves differ from torch's for a seed, as documented)."""
import numpy as np
import pytest

import minigrad as mg


def _same_error(torch, call):
    with pytest.raises(Exception) as mine:
        call(mg)
    with pytest.raises(Exception) as theirs:
        call(torch)
    assert type(mine.value).__name__ == type(theirs.value).__name__
    return str(mine.value), str(theirs.value).split("\n")[0]


def test_multinomial_with_and_without_replacement():
    w = mg.tensor([0.0, 1.0, 3.0, 0.0])
    g = mg.Generator().manual_seed(0)
    draws = mg.multinomial(w, 4000, replacement=True, generator=g)
    assert draws.dtype == mg.int64 and draws.shape == (4000,)
    counts = np.bincount(draws.numpy(), minlength=4)
    assert counts[0] == counts[3] == 0 and abs(counts[2] / 4000 - 0.75) < 0.03
    rows = mg.multinomial(mg.tensor([[1.0, 1.0, 1.0], [0.0, 0.0, 5.0]]), 3)
    assert rows.shape == (2, 3) and sorted(rows[0].tolist()) == [0, 1, 2]
    assert rows[1, 0].item() == 2   # weight-0 categories only after the others
    again = mg.multinomial(w, 2, generator=mg.Generator().manual_seed(5))
    assert again.tolist() == mg.multinomial(w, 2, generator=mg.Generator().manual_seed(5)).tolist()
    assert sorted(again.tolist()) == [1, 2]
    first = [mg.multinomial(mg.tensor([1.0, 9.0]), 1).item() for _ in range(400)]
    assert 0.85 < np.mean(first) < 0.95


def test_multinomial_errors(torch):
    for call in [lambda m: m.multinomial(m.tensor([0.0, 1.0, 1.0]), 4),
                 lambda m: m.multinomial(m.tensor([0.0, 0.0]), 1),
                 lambda m: m.multinomial(m.tensor([1, 2]), 1),
                 lambda m: m.multinomial(m.tensor([-1.0, 2.0]), 1),
                 lambda m: m.multinomial(m.tensor([1.0, 2.0]), 0),
                 lambda m: m.multinomial(m.ones(2, 2, 2), 1)]:
        mine, theirs = _same_error(torch, call)
        assert mine == theirs


def test_randperm_and_like_samplers(torch):
    p = mg.randperm(10, generator=mg.Generator().manual_seed(1))
    assert p.dtype == mg.int64 and sorted(p.tolist()) == list(range(10))
    assert mg.randperm(0).shape == (0,) and mg.randperm(3, dtype=mg.float32).dtype == mg.float32
    x = mg.ones(2, 3, dtype=mg.float64)
    for fn in (mg.randn_like, mg.rand_like, mg.empty_like):
        y = fn(x)
        assert y.shape == (2, 3) and y.dtype == mg.float64 and not y.requires_grad
        assert fn(x, dtype=mg.float32).dtype == mg.float32
    u = mg.rand_like(mg.ones(1000))
    assert 0 <= u.min().item() and u.max().item() < 1
    r = mg.randint_like(mg.ones(1000), 10)
    assert r.dtype == mg.float32 and set(r.tolist()) == set(range(10))
    r = mg.randint_like(mg.ones(100, dtype=mg.int64), 3, 5)
    assert r.dtype == mg.int64 and set(r.tolist()) <= {3, 4}
    g = lambda: mg.Generator().manual_seed(3)   # noqa: E731
    assert mg.randn_like(x, generator=g()).tolist() == mg.randn_like(x, generator=g()).tolist()
    for call in [lambda m: m.randn_like(m.ones(2, dtype=m.int64)),
                 lambda m: m.rand_like(m.ones(2, dtype=m.int64)), lambda m: m.randperm(-1)]:
        mine, theirs = _same_error(torch, call)
        assert mine.split(" (")[0] == theirs.split(" (")[0] or mine == theirs


def test_normal_overloads(torch):
    assert mg.normal(mg.zeros(2, 1), mg.ones(3)).shape == (2, 3)
    assert mg.normal(mg.zeros(2), mg.ones(2, dtype=mg.float64)).dtype == mg.float32
    assert mg.normal(0.0, mg.ones(2, dtype=mg.float64)).dtype == mg.float64
    assert mg.normal(mg.zeros(4), 2.0).shape == (4,)
    assert mg.normal(0, 1, (2,)).dtype == mg.float32
    assert mg.normal(0.0, 1.0, size=(2,), dtype=mg.float64).dtype == mg.float64
    big = mg.normal(3.0, 2.0, (20000,), generator=mg.Generator().manual_seed(0))
    assert abs(big.mean().item() - 3) < 0.05 and abs(big.std().item() - 2) < 0.05
    m = mg.zeros(2, requires_grad=True)
    out = mg.normal(m, 1.0)
    assert out.requires_grad and out.grad_fn is not None
    out.sum().backward()
    np.testing.assert_array_equal(m.grad.numpy(), [0.0, 0.0])   # torch's rule: no gradient
    for call in [lambda m: m.normal(m.zeros(2), -1.0),
                 lambda m: m.normal(m.zeros(2, dtype=m.int64), 1.0)]:
        mine, theirs = _same_error(torch, call)
        assert mine.split(" (")[0] == theirs


def test_bernoulli(torch):
    p = mg.tensor([0.0, 1.0, 0.5] * 1000)
    b = mg.bernoulli(p, generator=mg.Generator().manual_seed(0))
    assert b.dtype == mg.float32 and b[0::3].sum().item() == 0 and b[1::3].sum().item() == 1000
    assert 0.45 < b[2::3].mean().item() < 0.55
    assert mg.bernoulli(mg.tensor([0.0, 1.0]), 1.0).tolist() == [1.0, 1.0]
    q = mg.tensor([0.3, 0.6], requires_grad=True)
    out = mg.bernoulli(q)
    assert out.requires_grad
    out.sum().backward()
    assert q.grad.tolist() == [0.0, 0.0]
    mine, theirs = _same_error(torch, lambda m: m.bernoulli(m.tensor([0, 1])))
    assert mine == theirs
    with pytest.raises(RuntimeError):
        mg.bernoulli(mg.tensor([0.0, 1.5]))


def test_inplace_fills(torch):
    x = mg.empty(4000, dtype=mg.float64)
    assert x.normal_(2.0, 0.5, generator=mg.Generator().manual_seed(0)) is x
    assert abs(x.mean().item() - 2) < 0.05 and abs(x.std().item() - 0.5) < 0.03
    x.uniform_(-1, 3)
    assert -1 <= x.min().item() and x.max().item() < 3 and abs(x.mean().item() - 1) < 0.1
    assert x.uniform_(**{"from": 5, "to": 6}).min().item() >= 5
    r = mg.empty(2000, dtype=mg.int64).random_(3, 7)
    assert set(r.tolist()) == {3, 4, 5, 6}
    assert set(mg.empty(500).random_(4).tolist()) == {0.0, 1.0, 2.0, 3.0}
    assert set(mg.empty(200, dtype=mg.bool).random_().tolist()) == {False, True}
    f = mg.empty(1000).random_()
    assert f.min().item() >= 0 and f.max().item() <= 2 ** 24 and f.max().item() > 2 ** 20
    u8 = mg.empty(500, dtype=mg.uint8).random_()
    assert u8.max().item() > 200
    bern = mg.empty(3000, dtype=mg.int64).bernoulli_(0.25)
    assert set(bern.tolist()) == {0, 1} and 0.2 < bern.float().mean().item() < 0.3
    mask = mg.ones(2).bernoulli_(mg.tensor([0.0, 1.0]))
    assert mask.tolist() == [0.0, 1.0]
    e = mg.empty(4000, dtype=mg.float64).exponential_(2.0)
    assert e.min().item() >= 0 and abs(e.mean().item() - 0.5) < 0.05
    for call in [lambda m: m.ones(2, dtype=m.int64).normal_(),
                 lambda m: m.ones(2).normal_(0, -1), lambda m: m.ones(2, dtype=m.int64).uniform_(),
                 lambda m: m.ones(2).uniform_(1, 0), lambda m: m.ones(2).random_(5, 5),
                 lambda m: m.ones(2).bernoulli_(1.5),
                 lambda m: m.ones(2, requires_grad=True).normal_()]:
        mine, theirs = _same_error(torch, call)
        assert theirs.rstrip(".") in mine.replace(" (", ". (")


def test_inplace_fill_in_a_graph_gives_the_old_values_no_gradient(torch):
    w = mg.ones(3, requires_grad=True)
    y = w * 2
    y.normal_()
    (y * 3).sum().backward()
    assert w.grad.tolist() == [0.0, 0.0, 0.0]
    with mg.no_grad():
        w.normal_()   # (allowed on a leaf under no_grad, as in torch)
