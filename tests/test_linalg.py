"""``mg.linalg`` (and torch.det/svd/slogdet/inverse/matrix_exp, Tensor.det/...) against
PyTorch in float64: values, first and second derivatives through random upstream
gradients (gauge-invariant functions where vectors are defined up to sign), batches,
errors. The finite-difference checks of every primitive are in the gradcheck registry
(ops/_checks.py); singular determinants are checked here."""
import math

import numpy as np
import pytest

import minigrad as mg

R = np.random.default_rng(11)
TOL = dict(rtol=1e-11, atol=1e-12)


def _run(lib, fn, arrays, second=True):
    """fn(lib, *tensors) -> outputs; plus the gradient of <w, outputs> and (with
    ``second``) the gradient of that gradient's squared norm, all as NumPy."""
    xs = [lib.tensor(a, requires_grad=True) for a in arrays]
    outs = fn(lib, *xs)
    outs = (outs,) if not isinstance(outs, (tuple, list)) else tuple(outs)
    rng = np.random.default_rng(5)
    total = sum((o * lib.tensor(rng.standard_normal(tuple(o.shape)))).sum() for o in outs)
    grads = lib.autograd.grad(total, xs, create_graph=second)
    got = [o.detach().numpy() for o in outs] + [g.detach().numpy() for g in grads]
    if second:
        norm = sum((g * g).sum() for g in grads)
        got += [g.numpy() for g in lib.autograd.grad(norm, xs)]
    return got


def _parity(torch, fn, *arrays, second=True, **tol):
    mine = _run(mg, fn, arrays, second)
    theirs = _run(torch, fn, arrays, second)
    assert len(mine) == len(theirs)
    for a, b in zip(mine, theirs):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, **(tol or TOL))


def _sym(lib, a):
    return a + a.transpose(-1, -2)


SQUARE = [(3, 3), (1, 1), (2, 4, 4), (2, 1, 3, 3)]


@pytest.mark.parametrize("shape", SQUARE)
def test_det_slogdet_inv(torch, shape):
    a = R.standard_normal(shape)
    # (of a 1x1 matrix PyTorch's det gradient is a constant that does not require grad)
    _parity(torch, lambda L, x: L.linalg.det(x), a, second=shape != (1, 1))
    _parity(torch, lambda L, x: L.det(x) * x.det(), a)
    _parity(torch, lambda L, x: L.linalg.slogdet(x).logabsdet, a)
    _parity(torch, lambda L, x: tuple(L.slogdet(x)), a, second=False)
    _parity(torch, lambda L, x: L.linalg.inv(x), a)
    _parity(torch, lambda L, x: L.inverse(x) + x.inverse(), a)


def test_slogdet_sign_and_names(torch):
    a = R.standard_normal((3, 4, 4))
    mine, theirs = mg.linalg.slogdet(mg.tensor(a)), torch.linalg.slogdet(torch.tensor(a))
    assert mine._fields == ("sign", "logabsdet")
    np.testing.assert_allclose(mine.logabsdet.numpy(), theirs.logabsdet.numpy(), **TOL)
    np.testing.assert_array_equal(mine.sign.numpy(), theirs.sign.numpy())


def test_det_of_singular_matrices_gives_the_adjugate(torch):
    """det is a polynomial: its gradient at a singular matrix is adj(A)^T, which PyTorch's
    create_graph (SVD) path also gives; its first-order path returns zeros there."""
    for m in ([[1.0, 2.0], [2.0, 4.0]], [[0.0, 0.0], [0.0, 1.0]],
              [[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [1.0, 1.0, 1.0]],
              [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]):
        a = np.array(m)
        x = mg.tensor(a, requires_grad=True)
        mg.linalg.det(x).backward()
        num = np.zeros_like(a)
        for idx in np.ndindex(*a.shape):
            e = np.zeros_like(a)
            e[idx] = 1e-6
            num[idx] = (np.linalg.det(a + e) - np.linalg.det(a - e)) / 2e-6
        np.testing.assert_allclose(x.grad.numpy(), num, atol=1e-8)
        t = torch.tensor(a, requires_grad=True)
        (g,) = torch.autograd.grad(torch.linalg.det(t), t, create_graph=True)
        np.testing.assert_allclose(x.grad.numpy(), g.detach().numpy(), atol=1e-12)
    # a batch mixing singular and regular matrices
    a = np.stack([np.array([[1.0, 2.0], [2.0, 4.0]]), R.standard_normal((2, 2))])
    x = mg.tensor(a, requires_grad=True)
    mg.linalg.det(x).sum().backward()
    adj = np.stack([np.array([[4.0, -2.0], [-2.0, 1.0]]),
                    np.linalg.det(a[1]) * np.linalg.inv(a[1]).T])
    np.testing.assert_allclose(x.grad.numpy(), adj, rtol=1e-12, atol=1e-14)


def test_inv_and_solve_of_a_singular_matrix_raise_linalgerror(torch):
    z = np.ones((3, 3))
    for fn in (lambda L, x: L.linalg.inv(x), lambda L, x: L.linalg.solve(x, x[:, 0])):
        with pytest.raises(torch.linalg.LinAlgError):
            fn(torch, torch.tensor(z))
        with pytest.raises(mg.linalg.LinAlgError, match="singular"):
            fn(mg, mg.tensor(z))
    assert issubclass(mg.linalg.LinAlgError, RuntimeError)


@pytest.mark.parametrize("a_shape,b_shape,left", [
    ((3, 3), (3,), True), ((3, 3), (3, 2), True), ((2, 3, 3), (2, 3), True),
    ((2, 3, 3), (3,), True), ((2, 3, 3), (3, 4), True), ((2, 1, 3, 3), (4, 3, 2), True),
    ((3, 3), (2, 3), False), ((2, 3, 3), (5, 3), False), ((1, 1), (1,), True)])
def test_solve(torch, a_shape, b_shape, left):
    a, b = R.standard_normal(a_shape), R.standard_normal(b_shape)
    _parity(torch, lambda L, x, y: L.linalg.solve(x, y, left=left), a, b)


def test_eigh_and_eigvalsh(torch):
    a = R.standard_normal((2, 4, 4))
    for uplo in ("L", "U"):
        # eigenvalues, and eigenvectors through sign-invariant functions of them
        _parity(torch, lambda L, x: (lambda r: (r.eigenvalues, r.eigenvectors ** 2,
                                                r.eigenvectors @ r.eigenvectors.mT
                                                if L is not mg else r.eigenvectors
                                                @ r.eigenvectors.transpose(-1, -2)))(
            L.linalg.eigh(_sym(L, x), UPLO=uplo)), a)
        _parity(torch, lambda L, x: L.linalg.eigvalsh(x, UPLO=uplo), a)   # one triangle
    r = mg.linalg.eigh(mg.tensor(a))
    assert r._fields == ("eigenvalues", "eigenvectors")
    # reconstruction from the lower triangle, eigenvalues ascending
    low = np.tril(a) + np.tril(a, -1).transpose(0, 2, 1)
    v, w = r.eigenvectors.numpy(), r.eigenvalues.numpy()
    np.testing.assert_allclose(v @ (w[..., None] * v.transpose(0, 2, 1)), low, atol=1e-12)
    assert np.all(np.diff(w, axis=-1) > 0)


@pytest.mark.parametrize("shape", [(4, 3), (3, 5), (3, 3), (2, 4, 2)])
def test_svd(torch, shape):
    a = R.standard_normal(shape)

    def parts(L, x, full):
        u, s, vh = L.linalg.svd(x, full_matrices=full)
        k = min(shape[-2:])
        return s, u[..., :k] ** 2, vh[..., :k, :] ** 2, u[..., :k] @ vh[..., :k, :]
    _parity(torch, lambda L, x: parts(L, x, False), a)
    _parity(torch, lambda L, x: parts(L, x, True), a)
    _parity(torch, lambda L, x: L.linalg.svdvals(x), a)
    u, s, vh = mg.linalg.svd(mg.tensor(a))
    m, n = shape[-2:]
    assert u.shape[-2:] == (m, m) and vh.shape[-2:] == (n, n)
    k = min(m, n)
    np.testing.assert_allclose((u.numpy()[..., :k] * s.numpy()[..., None, :]) @
                               vh.numpy()[..., :k, :], a, atol=1e-12)
    np.testing.assert_allclose(u.numpy().swapaxes(-1, -2) @ u.numpy(), np.broadcast_to(
        np.eye(m), u.shape), atol=1e-12)


def test_legacy_svd(torch):
    a = R.standard_normal((2, 4, 3))
    for some in (True, False):
        mine, theirs = mg.svd(mg.tensor(a), some=some), torch.svd(torch.tensor(a), some=some)
        assert mine._fields == ("U", "S", "V")
        for x, y in zip(mine, theirs):
            assert tuple(x.shape) == tuple(y.shape)
        np.testing.assert_allclose(mine.S.numpy(), theirs.S.numpy(), **TOL)
        k = 3
        np.testing.assert_allclose((mine.U[..., :k] * mine.S.unsqueeze(-2)).numpy()
                                   @ mine.V.numpy()[..., :k].swapaxes(-1, -2), a, atol=1e-12)
    mine = mg.tensor(a).svd(compute_uv=False)
    theirs = torch.tensor(a).svd(compute_uv=False)
    for x, y in zip(mine, theirs):
        np.testing.assert_allclose(x.numpy(), y.numpy(), **TOL)
    _parity(torch, lambda L, x: (lambda r: (r.S, r.U @ r.V.transpose(-1, -2)))(L.svd(x)), a)


@pytest.mark.parametrize("scale", [0.01, 1.0, 6.0, 40.0])
def test_matrix_exp(torch, scale):
    a = R.standard_normal((2, 3, 3)) * scale
    mine = mg.linalg.matrix_exp(mg.tensor(a)).numpy()
    theirs = torch.linalg.matrix_exp(torch.tensor(a)).numpy()
    np.testing.assert_allclose(mine, theirs, rtol=1e-11 if scale < 10 else 1e-9, atol=1e-300)
    if scale <= 6.0:
        _parity(torch, lambda L, x: L.matrix_exp(x) + x.matrix_exp(), a / 2, rtol=1e-10,
                atol=1e-11)
    # per-matrix scaling: one large and one tiny matrix in one batch
    b = np.stack([R.standard_normal((3, 3)) * 30, R.standard_normal((3, 3)) * 1e-3])
    np.testing.assert_allclose(mg.matrix_exp(mg.tensor(b)).numpy(),
                               torch.matrix_exp(torch.tensor(b)).numpy(), rtol=1e-9)


def test_matrix_exp_known_values():
    t = 0.7
    rot = mg.linalg.matrix_exp(mg.tensor([[0.0, -t], [t, 0.0]], dtype=mg.float64)).numpy()
    np.testing.assert_allclose(rot, [[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]],
                               rtol=1e-15, atol=1e-16)
    nil = mg.linalg.matrix_exp(mg.tensor([[0.0, 1.0], [0.0, 0.0]], dtype=mg.float64)).numpy()
    np.testing.assert_allclose(nil, [[1.0, 1.0], [0.0, 1.0]], rtol=2e-16, atol=0)


@pytest.mark.parametrize("ord", [2, 1, 3, 0.5, -1, float("inf"), float("-inf"), 0])
@pytest.mark.parametrize("dim,keepdim", [(None, False), (1, True), ((0, 2), False),
                                         ((-1,), True)])
def test_vector_norm(torch, ord, dim, keepdim):
    a = R.uniform(0.2, 2.0, (2, 3, 4)) * R.choice([-1.0, 1.0], (2, 3, 4))
    if ord == 0:   # a count: PyTorch sends no gradient at all (see the test at zero)
        a[0, 1] = 0.0
        mine = mg.linalg.vector_norm(mg.tensor(a), 0, dim, keepdim)
        theirs = torch.linalg.vector_norm(torch.tensor(a), 0, dim, keepdim)
        np.testing.assert_array_equal(mine.numpy(), theirs.numpy())
        return
    # (second derivatives of the piecewise linear norms are zero: PyTorch has none to show)
    _parity(torch, lambda L, x: L.linalg.vector_norm(x, ord, dim, keepdim), a,
            second=ord not in (float("inf"), float("-inf"), 0, 1))


@pytest.mark.parametrize("ord", ["fro", "nuc", 2, -2, 1, -1, float("inf"), float("-inf")])
@pytest.mark.parametrize("dim,keepdim", [((-2, -1), False), ((0, 2), True), ((2, 0), False)])
def test_matrix_norm(torch, ord, dim, keepdim):
    a = R.standard_normal((3, 2, 4))
    _parity(torch, lambda L, x: L.linalg.matrix_norm(x, ord, dim, keepdim), a,
            second=ord in ("fro", "nuc", 2, -2))


@pytest.mark.parametrize("args", [dict(), dict(ord=2), dict(ord="fro"), dict(ord="nuc"),
                                  dict(ord=1, dim=1), dict(dim=(0, 1), keepdim=True),
                                  dict(ord=float("inf"), dim=(1, 0)), dict(ord=3, dim=0),
                                  dict(dim=1, keepdim=True)])
def test_linalg_norm(torch, args):
    for shape in ((3, 4), (4,)):
        if len(shape) == 1 and (isinstance(args.get("ord"), str) or args.get("ord") == 2
                                or "dim" in args):
            continue
        a = R.standard_normal(shape)
        _parity(torch, lambda L, x: L.linalg.norm(x, **args), a, second=False)


def test_norms_at_zero_have_zero_gradients(torch):
    for ord in (2, 3, 1.5, 0):
        for lib in (mg, torch):
            x = lib.zeros(3, dtype=lib.float64, requires_grad=True)
            n = lib.linalg.vector_norm(x, ord)
            assert n.requires_grad
            n.backward()
            if lib is torch and ord == 0:   # (PyTorch sends no gradient: None, not zeros)
                assert x.grad is None
                continue
            np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, 0.0])
    x = mg.zeros(2, 2, dtype=mg.float64, requires_grad=True)
    mg.linalg.matrix_norm(x).backward()
    assert not np.any(x.grad.numpy())


def test_norm_dtype_argument(torch):
    a = R.standard_normal((3, 4)).astype(np.float32)
    mine = mg.linalg.vector_norm(mg.tensor(a), dtype=mg.float64)
    theirs = torch.linalg.vector_norm(torch.tensor(a), dtype=torch.float64)
    assert mine.dtype == mg.float64
    np.testing.assert_allclose(mine.numpy(), theirs.numpy(), rtol=1e-14)


def test_float32_stays_float32(torch):
    a = R.standard_normal((3, 3)).astype(np.float32)
    for name in ("det", "inv", "matrix_exp", "svdvals", "eigvalsh"):
        mine = getattr(mg.linalg, name)(mg.tensor(a))
        theirs = getattr(torch.linalg, name)(torch.tensor(a))
        assert mine.dtype == mg.float32
        np.testing.assert_allclose(mine.numpy(), theirs.numpy(), rtol=2e-4, atol=1e-5)


def test_errors_as_pytorch(torch):
    cases = [
        lambda L: L.linalg.det(L.ones(3, 2)),
        lambda L: L.linalg.det(L.ones(3)),
        lambda L: L.linalg.det(L.ones(3, 3, dtype=L.int64)),
        lambda L: L.linalg.inv(L.ones(2, 3)),
        lambda L: L.linalg.eigh(L.ones(3, 2)),
        lambda L: L.linalg.eigh(L.ones(3, 3), UPLO="X"),
        lambda L: L.linalg.matrix_exp(L.ones(3, 2)),
        lambda L: L.linalg.solve(L.eye(3, dtype=L.float64), L.ones(4, dtype=L.float64)),
        lambda L: L.linalg.solve(L.eye(3, dtype=L.float64), L.ones(3, dtype=L.float32)),
        lambda L: L.linalg.matrix_norm(L.ones(2, 3), 3),
        lambda L: L.linalg.matrix_norm(L.ones(3)),
        lambda L: L.linalg.norm(L.ones(2, 2, 2), 2),
        lambda L: L.linalg.norm(L.ones(3), "fro"),
        lambda L: L.linalg.norm(L.ones(3, 3), "fro", dim=0),
        lambda L: L.linalg.vector_norm(L.ones(3), "fro"),
        lambda L: L.linalg.vector_norm(L.ones(3, dtype=L.int64)),
    ]
    for i, case in enumerate(cases):
        with pytest.raises(Exception) as theirs:
            case(torch)
        with pytest.raises(Exception) as mine:
            case(mg)
        assert isinstance(mine.value, type(theirs.value)), i
        assert str(mine.value) == str(theirs.value), i


def test_names_exist_where_pytorch_has_them():
    for name in ("det", "slogdet", "inv", "solve", "eigh", "eigvalsh", "svd", "svdvals",
                 "matrix_exp", "norm", "vector_norm", "matrix_norm", "LinAlgError"):
        assert hasattr(mg.linalg, name)
    for name in ("det", "slogdet", "inverse", "matrix_exp", "svd"):
        assert callable(getattr(mg, name)) and callable(getattr(mg.Tensor, name))
    assert not hasattr(mg.linalg, "eig")   # (no complex dtypes: see minigrad/linalg.py)
