"""BatchLayerNorm1d/2d: the formula against a direct NumPy computation, running statistics,
eval behaviour, gradients (finite differences, and torch's BN and LN mixed by 1/m)."""
import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from minigrad.gradcheck import check_case, CASES, _load_registries
from minigrad.nn.functional import batch_layer_norm


def _reference(x, gamma, beta, eps, m, mean_B=None, var_B=None):
    """The BLN equations on a NumPy array (N, C, *), in float64."""
    x = x.astype(np.float64)
    chan = (0,) + tuple(range(2, x.ndim))
    samp = tuple(range(1, x.ndim))
    bshape = (1, -1) + (1,) * (x.ndim - 2)
    if mean_B is None:
        mean_B, var_B = x.mean(chan, keepdims=True), x.var(chan, keepdims=True)
    else:
        mean_B, var_B = mean_B.reshape(bshape), var_B.reshape(bshape)
    x_B = (x - mean_B) / np.sqrt(var_B + eps)
    x_L = (x - x.mean(samp, keepdims=True)) / np.sqrt(x.var(samp, keepdims=True) + eps)
    x_hat = x_L / m + x_B * (1 - 1 / m)
    return gamma.reshape(bshape) * x_hat + beta.reshape(bshape)


SHAPES = [(nn.BatchLayerNorm1d, (6, 4)), (nn.BatchLayerNorm1d, (5, 3, 7)),
          (nn.BatchLayerNorm2d, (4, 3, 5, 2))]


def _layer(cls, C, rng, **kw):
    m = cls(C, **kw).double()
    if m.weight is not None:
        m.weight.array[...] = rng.uniform(0.5, 2, C)
        m.bias.array[...] = rng.standard_normal(C)
    return m


@pytest.mark.parametrize("cls,shape", SHAPES)
def test_train_formula_and_running_stats(cls, shape):
    rng = np.random.default_rng(0)
    C = shape[1]
    m = _layer(cls, C, rng, momentum=0.3)
    x = rng.standard_normal(shape) * 2 + 1
    y = m(mg.tensor(x))
    np.testing.assert_allclose(y.detach().numpy(), _reference(x, m.weight.array, m.bias.array, 1e-5,
                                                     shape[0]), rtol=1e-12, atol=1e-12)
    chan = (0,) + tuple(range(2, x.ndim))
    np.testing.assert_allclose(m.running_mean.numpy(), 0.3 * x.mean(chan), rtol=1e-12)
    np.testing.assert_allclose(m.running_var.numpy(), 0.7 + 0.3 * x.var(chan, ddof=1),
                               rtol=1e-12)
    assert int(m.num_batches_tracked.item()) == 1 and int(m.batch_size.item()) == shape[0]


@pytest.mark.parametrize("cls,shape", SHAPES)
def test_eval_uses_running_batch_stats_and_own_layer_stats(cls, shape):
    rng = np.random.default_rng(1)
    C = shape[1]
    m = _layer(cls, C, rng)
    for _ in range(3):
        m(mg.tensor(rng.standard_normal(shape)))
    m.eval()
    x = rng.standard_normal((2,) + shape[1:])  # eval batch smaller than the training one
    rm, rv = m.running_mean.numpy().copy(), m.running_var.numpy().copy()
    y = m(mg.tensor(x))
    np.testing.assert_allclose(y.detach().numpy(), _reference(x, m.weight.array, m.bias.array, 1e-5,
                                                     shape[0], rm, rv), rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(m.running_mean.numpy(), rm)  # untouched in eval
    # each sample's output is independent of the others in eval
    y0 = m(mg.tensor(x[:1]))
    np.testing.assert_allclose(y0.detach().numpy(), y.detach().numpy()[:1], rtol=1e-12, atol=1e-13)


def test_momentum_none_is_cumulative_average():
    rng = np.random.default_rng(2)
    m = nn.BatchLayerNorm1d(3, momentum=None).double()
    xs = [rng.standard_normal((5, 3)) for _ in range(4)]
    for x in xs:
        m(mg.tensor(x))
    np.testing.assert_allclose(m.running_mean.numpy(), np.mean([x.mean(0) for x in xs], 0),
                               rtol=1e-12)
    np.testing.assert_allclose(m.running_var.numpy(),
                               np.mean([x.var(0, ddof=1) for x in xs], 0), rtol=1e-12)
    m.reset_running_stats()
    assert int(m.batch_size.item()) == 0 and not m.running_mean.numpy().any()


def test_batch_of_one_is_layer_norm_and_leaves_running_stats():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    m = nn.BatchLayerNorm1d(4).double()
    x = rng.standard_normal((1, 4))
    y = m(mg.tensor(x))
    ref = torch.nn.functional.layer_norm(torch.tensor(x), (4,), eps=1e-5).numpy()
    np.testing.assert_allclose(y.detach().numpy(), ref, rtol=1e-12, atol=1e-12)
    assert not m.running_mean.numpy().any() and int(m.num_batches_tracked.item()) == 0
    assert int(m.batch_size.item()) == 1


def test_untracked_eval_uses_batch_stats():
    rng = np.random.default_rng(4)
    m = _layer(nn.BatchLayerNorm2d, 2, rng, track_running_stats=False).eval()
    x = rng.standard_normal((3, 2, 2, 3))
    np.testing.assert_allclose(m(mg.tensor(x)).detach().numpy(),
                               _reference(x, m.weight.array, m.bias.array, 1e-5, 3), rtol=1e-12)


def test_matches_torch_bn_ln_mix_values_and_gradients():
    """Independent oracle: (1/m) LayerNorm + (1 - 1/m) BatchNorm in torch, on (N, C, L)."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    N, C, L = 4, 3, 5
    x, g, b = rng.standard_normal((N, C, L)), rng.uniform(0.5, 2, C), rng.standard_normal(C)
    up = rng.standard_normal((N, C, L))
    tx, tg, tb = (torch.tensor(a, requires_grad=True) for a in (x, g, b))
    ln = torch.nn.functional.layer_norm(tx, (C, L), eps=1e-5)
    bn = torch.nn.functional.batch_norm(tx, None, None, training=True, eps=1e-5)
    ty = (ln / N + bn * (1 - 1 / N)) * tg.view(1, C, 1) + tb.view(1, C, 1)
    (ty * torch.tensor(up)).sum().backward()
    mx, mgm, mb = (mg.tensor(a, requires_grad=True) for a in (x, g, b))
    my = batch_layer_norm(mx, None, None, mgm, mb, training=True)
    (my * mg.tensor(up)).sum().backward()
    np.testing.assert_allclose(my.detach().numpy(), ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    for a, t in ((mx, tx), (mgm, tg), (mb, tb)):
        np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_gradcheck_cases_registered_and_pass():
    _load_registries()
    cases = [c for c in CASES if c.name.startswith("batch_layer_norm")]
    assert len(cases) == 7
    for case in cases:
        for order in (1, 2):
            assert check_case(case, order)[2], (case.name, case.shape_text, order)


def test_errors():
    with pytest.raises(ValueError, match="expected 2D or 3D input"):
        nn.BatchLayerNorm1d(3)(mg.randn(2, 3, 4, 5))
    with pytest.raises(ValueError, match="expected 3 channels"):
        nn.BatchLayerNorm2d(3)(mg.randn(2, 4, 2, 2))
    with pytest.raises(RuntimeError, match="running_mean and running_var are needed"):
        batch_layer_norm(mg.randn(2, 3), None, None, training=False)
