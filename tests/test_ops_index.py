"""Indexing and rearranging ops against PyTorch: values, dtypes, shapes and gradients
(float64, random upstream gradients), odd and empty shapes, and the errors."""
import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch")


def _leaves(arrays):
    ms, ts = [], []
    for a in arrays:
        a = np.asarray(a)
        grad = a.dtype.kind == "f"
        ms.append(mg.tensor(a, requires_grad=grad))
        ts.append(torch.tensor(a, requires_grad=grad))
    return ms, ts


def _as_tuple(out):
    return tuple(out) if isinstance(out, (tuple, list)) else (out,)


def check(fn, *arrays, seed=0):
    """``fn(lib, *tensors)`` run with lib=mg and lib=torch: outputs and gradients agree."""
    ms, ts = _leaves(arrays)
    mo, to = _as_tuple(fn(mg, *ms)), _as_tuple(fn(torch, *ts))
    assert len(mo) == len(to)
    rng = np.random.default_rng(seed)
    m_loss, t_loss = None, None
    for m, t in zip(mo, to):
        assert tuple(m.shape) == tuple(t.shape)
        assert str(m.dtype).split(".")[-1] == str(t.dtype).split(".")[-1]
        np.testing.assert_array_equal(m.detach().numpy(), t.detach().numpy())
        if t.requires_grad:
            g = rng.standard_normal(t.shape)
            m_term = (m * mg.tensor(g)).sum()
            t_term = (t * torch.tensor(g)).sum()
            m_loss = m_term if m_loss is None else m_loss + m_term
            t_loss = t_term if t_loss is None else t_loss + t_term
    if t_loss is not None:
        m_loss.backward()
        t_loss.backward()
        for m, t in zip(ms, ts):
            if t.requires_grad:
                expected = t.grad.numpy() if t.grad is not None else np.zeros(t.shape)
                np.testing.assert_allclose(m.grad.numpy(), expected, rtol=1e-12, atol=1e-12)


def R(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def I(values):
    return np.asarray(values, dtype=np.int64)


# ---------------------------------------------------------------- getitem fixes

@pytest.mark.parametrize("index", [
    (1, slice(None), "t"), ("t0d", slice(None), "t"), (slice(None), "t2", 1, "t2"),
    ("t2", slice(None), 1), (1, "t", slice(None), "t"), (None, 1, "t"), (1, None, "t"),
    (Ellipsis, "t", 1), (True,), (1, True, "t"), ("t0d", "t"),
    (slice(None), "t0d", slice(None), "t"), ("m2", Ellipsis), (1, slice(None), "m6"),
    (False, 1), (1, slice(1, None, 2), "t22", -1), (Ellipsis, None, "t", 0),
    (0, Ellipsis, "t"), (slice(None), "tr", "tr"), (-1, "e"), ("e", 2, slice(None), 0),
])
def test_getitem_mixes_like_torch(index):
    ids = {"t": [0, 1, 2], "t2": [0, 1], "t22": [[0, 1], [2, 2]], "tr": [1, 1, 3], "e": []}

    def fn(lib, x):
        idx = []
        for i in index:
            if i == "t0d":
                i = lib.tensor(1)
            elif i == "m2":
                i = lib.tensor(np.arange(10).reshape(2, 5) % 3 == 0)
            elif i == "m6":
                i = lib.tensor(np.array([True, False, True, False, True, True]))
            elif isinstance(i, str):
                i = lib.tensor(ids[i], dtype=lib.int64)
            idx.append(i)
        return x[tuple(idx)]
    check(fn, R(2, 5, 6, 4))


def test_getitem_issue_shape():
    assert mg.zeros(2, 5, 6, 4)[1, :, mg.tensor([0, 1, 2])].shape == (5, 3, 4)


def test_invert():
    np.testing.assert_array_equal((~mg.tensor([1, -8, 0])).numpy(), [-2, 7, -1])
    assert (~mg.tensor([1, -8, 0])).dtype == mg.int64
    np.testing.assert_array_equal((~mg.tensor([True, False])).numpy(), [False, True])
    with pytest.raises(TypeError):
        ~mg.tensor([1.0])


# ---------------------------------------------------------------- gather / scatter

def test_gather():
    idx = I([[0, 3, 3, 1, 2], [2, 2, 0, 0, 1]])
    check(lambda lib, x: x.gather(1, lib.tensor(idx)), R(3, 4))
    check(lambda lib, x: lib.gather(x, 0, lib.tensor(I([[2, 0, 2, 2]]))), R(3, 4))
    check(lambda lib, x: x.gather(-1, lib.tensor(np.zeros((0, 2), np.int64))), R(3, 4))
    check(lambda lib, x: x.gather(1, lib.tensor(I([[0], [0]]))), R(2, 1))
    check(lambda lib, x: x.gather(1, lib.tensor(idx.astype(np.int32))), R(2, 4))


def test_gather_errors():
    x = mg.tensor(R(3, 4))
    with pytest.raises(RuntimeError, match="same number of dimensions"):
        x.gather(1, mg.tensor([0, 1]))
    with pytest.raises(RuntimeError, match="out of bounds"):
        x.gather(1, mg.tensor([[4]]))
    with pytest.raises(RuntimeError, match="out of bounds"):
        x.gather(1, mg.tensor([[-1]]))  # (torch takes no negative index here)
    with pytest.raises(RuntimeError, match="no larger"):
        x.gather(1, mg.tensor(np.zeros((4, 1), np.int64)))
    with pytest.raises(RuntimeError, match="int64"):
        x.gather(1, mg.tensor([[0.0]]))


def test_scatter_and_scatter_add():
    idx = I([[0, 3, 1], [2, 1, 0]])  # distinct addresses per row: scatter is deterministic
    check(lambda lib, x, s: x.scatter(1, lib.tensor(idx), s), R(3, 4), R(2, 3, seed=1))
    # a src larger than index: only its leading block is read (torch's own backward
    # refuses this case, so values only)
    src = R(2, 5, seed=1)
    np.testing.assert_array_equal(
        mg.tensor(R(3, 4)).scatter(1, mg.tensor(idx), mg.tensor(src)).numpy(),
        torch.tensor(R(3, 4)).scatter(1, torch.tensor(idx), torch.tensor(src)).numpy())
    ms = mg.tensor(src, requires_grad=True)
    mg.tensor(R(3, 4)).scatter(1, mg.tensor(idx), ms).sum().backward()
    expected = np.zeros((2, 5))
    expected[:, :3] = 1
    np.testing.assert_array_equal(ms.grad.numpy(), expected)
    check(lambda lib, x: x.scatter(1, lib.tensor(idx), 2.5), R(3, 4))
    check(lambda lib, x: x.scatter(0, lib.tensor(I([[1, 0, 2, 2]])), value=-1.0), R(3, 4))
    dup = I([[0, 0, 3], [1, 1, 1]])
    check(lambda lib, x, s: x.scatter_add(1, lib.tensor(dup), s), R(3, 4), R(2, 3, seed=1))
    check(lambda lib, x, s: lib.scatter_add(x, 0, lib.tensor(I([[2, 2], [0, 2]])), s),
          R(3, 2), R(2, 2, seed=1))
    np.testing.assert_array_equal(  # a larger src: its leading block (values only, as above)
        mg.tensor(R(3, 2)).scatter_add(0, mg.tensor(I([[2, 2]])), mg.tensor(R(4, 2))).numpy(),
        torch.tensor(R(3, 2)).scatter_add(0, torch.tensor(I([[2, 2]])), torch.tensor(R(4, 2))).numpy())
    check(lambda lib, x, s: x.scatter_add(0, lib.tensor(np.zeros((0, 2), np.int64)), s),
          R(3, 2), R(1, 2, seed=1))


def test_scatter_with_reduce():
    """reduce='add'/'multiply' accumulate at repeated addresses. torch has no derivative for
    either, so values are compared; minigrad's 'add' is scatter_add and so differentiable,
    and its 'multiply' refuses backward as torch does."""
    dup = I([[0, 0, 3], [1, 1, 1]])
    for reduce in ("add", "multiply"):
        for src in (R(2, 3, seed=1), 1.5):
            ours = mg.tensor(R(3, 4)).scatter(
                1, mg.tensor(dup), mg.tensor(src) if isinstance(src, np.ndarray) else src,
                reduce=reduce)
            theirs = torch.tensor(R(3, 4)).scatter(
                1, torch.tensor(dup), torch.tensor(src) if isinstance(src, np.ndarray) else src,
                reduce=reduce)
            np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-15)
    x, s = mg.tensor(R(3, 4), requires_grad=True), mg.tensor(R(2, 3), requires_grad=True)
    x.scatter(1, mg.tensor(dup), s, reduce="add").sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.ones((3, 4)))
    np.testing.assert_array_equal(s.grad.numpy(), np.ones((2, 3)))
    y = (x * 1).scatter(1, mg.tensor(dup), s, reduce="multiply")
    with pytest.raises(RuntimeError, match="derivative is not implemented"):
        y.sum().backward()
    with pytest.raises(RuntimeError, match="add or multiply"):
        x.scatter(1, mg.tensor(dup), s, reduce="max")


def test_scatter_errors():
    x = mg.tensor(R(3, 4))
    with pytest.raises(RuntimeError, match="no larger"):
        x.scatter(1, mg.tensor(I([[0, 1]])), mg.tensor(R(1, 1)))
    with pytest.raises(RuntimeError, match="out of bounds"):
        x.scatter_add(0, mg.tensor(I([[3]])), mg.tensor(R(1, 1)))


# ---------------------------------------------------------------- selections

def test_index_select():
    check(lambda lib, x: x.index_select(1, lib.tensor(I([3, 0, 3]))), R(2, 4, 3))
    check(lambda lib, x: lib.index_select(x, 0, lib.tensor(I([])).long()), R(2, 4))
    check(lambda lib, x: x.index_select(-1, lib.tensor(2)), R(3, 4))
    with pytest.raises(IndexError, match="vector"):
        mg.tensor(R(3, 4)).index_select(1, mg.tensor([[1]]))
    with pytest.raises(IndexError):
        mg.tensor(R(3, 4)).index_select(1, mg.tensor([4]))


def test_masked_fill_and_select():
    mask = np.array([True, False, False, True])
    check(lambda lib, x: x.masked_fill(lib.tensor(mask), 2.0), R(3, 4))
    check(lambda lib, x, v: x.masked_fill(lib.tensor(mask), v), R(3, 4), np.array(0.7))
    check(lambda lib, x: lib.tensor(np.arange(4)).masked_fill(lib.tensor(mask), 2.5) * 1, R(1))
    check(lambda lib, x: x.masked_select(lib.tensor(mask[:, None][:3])), R(3, 4))
    check(lambda lib, x: lib.masked_select(x, lib.tensor(mask)), R(2, 1, 4))
    check(lambda lib, x: x.masked_select(lib.tensor(np.zeros((0, 4), bool))), R(0, 4))
    with pytest.raises(RuntimeError, match="boolean"):
        mg.tensor(R(3, 4)).masked_fill(mg.tensor([1, 0, 1, 0]), 2.0)
    with pytest.raises(RuntimeError, match="0-dimensional"):
        mg.tensor(R(3, 4)).masked_fill(mg.tensor(mask), mg.tensor([2.0]))


def test_diagonal_tril_triu():
    for offset in (0, 1, -2, 5):
        check(lambda lib, x, o=offset: x.diagonal(o), R(3, 4))
    check(lambda lib, x: x.diagonal(1, 2, 0), R(3, 4, 5))
    check(lambda lib, x: lib.diagonal(x, -1, -1, 1), R(2, 3, 4))
    check(lambda lib, x: x.diagonal(), R(0, 3))
    for k in (0, 1, -1, 7):
        check(lambda lib, x, k=k: x.tril(k), R(2, 3, 4))
        check(lambda lib, x, k=k: lib.triu(x, k), R(4, 3))
    check(lambda lib, x: lib.tril(lib.tensor(np.arange(9).reshape(3, 3))) * 1, R(1))
    with pytest.raises(RuntimeError, match="identical"):
        mg.tensor(R(3, 4)).diagonal(0, 1, 1)
    with pytest.raises(RuntimeError, match="at least 2"):
        mg.tril(mg.ones(3))


# ---------------------------------------------------------------- rearranging

def test_repeat_tile_flip_roll():
    check(lambda lib, x: x.repeat(2, 1, 3), R(3, 2))
    check(lambda lib, x: x.repeat(0, 2), R(3))
    check(lambda lib, x: x.repeat((2, 2)), R(1, 0))
    check(lambda lib, x: x.tile(2), R(3, 2))
    check(lambda lib, x: lib.tile(x, (2, 1, 2)), R(3, 2))
    check(lambda lib, x: x.flip(0), R(3, 2))
    check(lambda lib, x: lib.flip(x, (-1, 0)), R(3, 2, 4))
    check(lambda lib, x: x.roll(2), R(3, 2))
    check(lambda lib, x: x.roll(-1, 1), R(3, 4))
    check(lambda lib, x: lib.roll(x, (5, -2), (0, 2)), R(3, 1, 4))
    check(lambda lib, x: x.roll(3, 0), R(0, 2))
    with pytest.raises(RuntimeError, match="smaller"):
        mg.tensor(R(3, 2)).repeat(2)
    with pytest.raises(RuntimeError, match="align"):
        mg.tensor(R(3, 2)).roll((1, 2), (0,))
    with pytest.raises(RuntimeError, match="duplicates"):
        mg.tensor(R(3, 2)).flip((0, 0))


def test_split_chunk_unbind():
    check(lambda lib, x: x.split(2), R(5, 3))
    check(lambda lib, x: x.split([1, 0, 2], 1), R(2, 3))
    check(lambda lib, x: lib.split(x, 4, -1), R(2, 3))
    for n in (1, 3, 4, 7):
        check(lambda lib, x, n=n: x.chunk(n), R(6, 2))
        check(lambda lib, x, n=n: lib.chunk(x, n, 1), R(2, 5))
    check(lambda lib, x: x.unbind(1), R(2, 3, 1))
    check(lambda lib, x: lib.unbind(x), R(1, 2))
    assert len(mg.zeros(0, 3).unbind()) == 0
    with pytest.raises(RuntimeError, match="sum exactly"):
        mg.zeros(3).split([1, 1])
    with pytest.raises(RuntimeError, match="split_size"):
        mg.zeros(3).split(0)
    with pytest.raises(RuntimeError, match="chunks"):
        mg.zeros(3).chunk(0)


def test_meshgrid():
    for indexing in ("ij", "xy"):
        check(lambda lib, a, b, i=indexing: lib.meshgrid(a, b, indexing=i), R(3), R(2, seed=1))
        check(lambda lib, a, b, c, i=indexing: lib.meshgrid([a, b, c], indexing=i),
              R(3), R(1, seed=1), R(4, seed=2))
    check(lambda lib, a: lib.meshgrid(a, indexing="xy"), R(3))
    with pytest.raises(RuntimeError, match="0D or 1D"):
        mg.meshgrid(mg.zeros(2, 2), mg.zeros(2), indexing="ij")


def test_linspace():
    # torch's SIMD loop rounds values near the middle differently in the last bit (by the
    # CPU's vector width), so interior values agree to a few ulps of the endpoints' size
    for args in [(-1.3, 2.7, 7), (0, 1, 1), (0, 1, 0), (3, -2, 10), (0.1, 0.7, 1000)]:
        for mdt, tdt in ((mg.float32, torch.float32), (mg.float64, torch.float64)):
            m = mg.linspace(*args, dtype=mdt).numpy()
            t = torch.linspace(*args, dtype=tdt).numpy()
            assert m.dtype == t.dtype and m.shape == t.shape
            ulp = np.finfo(m.dtype).eps * max(abs(args[0]), abs(args[1]))
            np.testing.assert_allclose(m, t, rtol=0, atol=4 * ulp)
            np.testing.assert_array_equal(m[[0, -1]] if m.size else m, t[[0, -1]] if t.size else t)
    np.testing.assert_array_equal(mg.linspace(0, 10, 4, dtype=mg.int64).numpy(),
                                  torch.linspace(0, 10, 4, dtype=torch.int64).numpy())
    assert mg.linspace(0, 1, 5).dtype == mg.float32


# ---------------------------------------------------------------- sorting

def test_sort_argsort_topk():
    x = np.array([[3.0, 1.0, np.nan, 1.0, -2.0], [0.5, 0.5, 0.5, -1.0, 4.0]])
    for desc in (False, True):
        check(lambda lib, a, d=desc: a.sort(descending=d, stable=True), x)
        check(lambda lib, a, d=desc: lib.sort(a, dim=0, descending=d, stable=True), R(4, 3))
        check(lambda lib, a, d=desc: a.argsort(descending=d, stable=True), x)
    check(lambda lib, a: a.sort(), R(0, 3))
    for largest in (True, False):
        check(lambda lib, a, la=largest: a.topk(2, largest=la), R(3, 5))
        check(lambda lib, a, la=largest: lib.topk(a, 3, 0, la), R(3, 2))
    check(lambda lib, a: a.topk(0), R(3, 5))
    with pytest.raises(RuntimeError, match="out of range"):
        mg.tensor(R(3, 4)).topk(5)


# ---------------------------------------------------------------- einsum

@pytest.mark.parametrize("equation, shapes", [
    ("ij,jk->ik", [(3, 4), (4, 2)]), ("ij,jk", [(3, 4), (4, 2)]), ("ii->i", [(3, 3)]),
    ("ii", [(3, 3)]), ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]), ("i,j->ij", [(3,), (2,)]),
    ("...ij,...jk", [(2, 3, 3), (3, 3)]), ("ij->", [(3, 4)]), ("ij->ji", [(3, 4)]),
    ("i,i,i->", [(4,), (4,), (4,)]), ("bii->bi", [(2, 3, 3)]), ("ijk,ikj->k", [(2, 3, 3), (2, 3, 3)]),
    ("i j , j ->i", [(2, 3), (3,)]), ("ij,kj->ik", [(0, 3), (2, 3)]), ("ab,b->a", [(3, 1), (4,)]),
])
def test_einsum(equation, shapes):
    arrays = [R(*s, seed=k) for k, s in enumerate(shapes)]
    ms, ts = _leaves(arrays)
    m, t = mg.einsum(equation, *ms), torch.einsum(equation, *ts)
    assert tuple(m.shape) == tuple(t.shape)
    np.testing.assert_allclose(m.detach().numpy(), t.detach().numpy(), rtol=1e-12, atol=1e-12)
    g = R(*t.shape, seed=9)
    (m * mg.tensor(g)).sum().backward()
    (t * torch.tensor(g)).sum().backward()
    for a, b in zip(ms, ts):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_einsum_errors():
    with pytest.raises(RuntimeError, match="broadcast"):
        mg.einsum("ij,jk", mg.ones(2, 3), mg.ones(4, 3))
    with pytest.raises(ValueError, match="subscripts"):
        mg.einsum("ijk", mg.ones(2, 3))
    with pytest.raises(ValueError, match="output subscript"):
        mg.einsum("ij->k", mg.ones(2, 3))
