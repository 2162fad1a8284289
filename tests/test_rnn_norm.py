"""Recurrent normalization: masked batch statistics (``F.batch_norm(..., mask=)``), the
layer-normalized LSTM and GRU cells (Ba et al. 2016), the batch-normalized LSTM (Cooijmans
et al. 2016) and its Batch Layer Normalization variant. Each against a direct NumPy or torch
re-implementation of the formula in float64 (values and every gradient), running statistics
per step, eval against train, and the gradcheck registry at first and second order."""
import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from minigrad.gradcheck import CASES, _load_registries, check_case
from minigrad.nn import functional as F

torch = pytest.importorskip("torch")


def _t(a, grad=True):
    return torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


# ---------------------------------------------------------------- masked batch statistics

def _masked_bn_torch(x, mask, w, b, eps):
    """Batch statistics of the real positions only, gathered (torch), then every position
    normalized with them: the reference for ``F.batch_norm(..., mask=)``."""
    xl = x.unsqueeze(-1) if x.dim() == 2 else x                  # (N, C, L)
    ml = torch.as_tensor(mask).reshape(xl.shape[0], xl.shape[2])
    real = xl.permute(0, 2, 1)[ml]                               # (n, C): the real positions
    mean, var = real.mean(0), real.var(0, unbiased=False)
    y = (xl - mean[:, None]) / torch.sqrt(var[:, None] + eps) * w[:, None] + b[:, None]
    return y.reshape(x.shape), real


@pytest.mark.parametrize("shape,mask", [
    ((6, 3), np.array([1, 0, 1, 1, 0, 1], bool)),
    ((4, 3, 5), np.array([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [1, 1, 1, 0, 0], [1, 0, 0, 0, 0]],
                         bool)),
])
def test_masked_batch_norm_matches_the_gathered_reference(shape, mask):
    rng = np.random.default_rng(0)
    x, g = rng.standard_normal(shape) * 2 + 1, rng.standard_normal(shape)
    w, b = rng.uniform(0.5, 2, shape[1]), rng.standard_normal(shape[1])
    bn = nn.BatchNorm1d(shape[1], momentum=0.3).double()
    bn.weight.array[...], bn.bias.array[...] = w, b
    xm = mg.tensor(x, requires_grad=True)
    y = bn(xm, mask=mask)
    (y * mg.tensor(g)).sum().backward()

    xt, wt, bt = _t(x), _t(w), _t(b)
    yt, real = _masked_bn_torch(xt, mask, wt, bt, bn.eps)
    (yt * _t(g, False)).sum().backward()
    np.testing.assert_allclose(y.array, yt.detach().numpy(), rtol=1e-12, atol=1e-12)
    for mine, theirs in ((xm, xt), (bn.weight, wt), (bn.bias, bt)):
        np.testing.assert_allclose(mine.grad.array, theirs.grad.numpy(), rtol=1e-10, atol=1e-12)
    # the outputs at real positions are torch's own BatchNorm of the gathered positions
    rm, rv = torch.zeros(shape[1], dtype=torch.float64), torch.ones(shape[1], dtype=torch.float64)
    ref = torch.nn.functional.batch_norm(real.detach(), rm, rv, wt.detach(), bt.detach(), True,
                                         0.3, bn.eps)
    mine_real = (y.array[..., None] if len(shape) == 2 else y.array).transpose(0, 2, 1)[
        mask.reshape(shape[0], -1)]
    np.testing.assert_allclose(mine_real, ref.numpy(), rtol=1e-12, atol=1e-12)
    # the running statistics moved with the real positions' mean and unbiased variance
    np.testing.assert_allclose(bn.running_mean.array, rm.numpy(), rtol=1e-12)
    np.testing.assert_allclose(bn.running_var.array, rv.numpy(), rtol=1e-12)


def test_masked_batch_norm_padded_inputs_reach_only_their_own_outputs():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((5, 2, 4))
    mask = rng.random((5, 4)) > 0.4
    mask[0] = True
    xm = mg.tensor(x, requires_grad=True)
    y = F.batch_norm(xm, None, None, training=True, mask=mask)
    # a loss over the real positions only gives the padded inputs a zero gradient
    (y * mg.tensor(mask[:, None, :].astype(float) * rng.standard_normal((5, 2, 4)))).sum().backward()
    assert np.all(xm.grad.array.transpose(0, 2, 1)[~mask] == 0)
    assert np.any(xm.grad.array.transpose(0, 2, 1)[mask] != 0)
    # and changing the padded values changes no real position's output
    x2 = x.copy()
    x2.transpose(0, 2, 1)[~mask] = 1e3
    y2 = F.batch_norm(mg.tensor(x2), None, None, training=True, mask=mask)
    np.testing.assert_array_equal(y2.array.transpose(0, 2, 1)[mask], y.array.transpose(0, 2, 1)[mask])


@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5)])
def test_an_all_true_mask_is_plain_batch_norm(shape):
    rng = np.random.default_rng(2)
    x, g = rng.standard_normal(shape), rng.standard_normal(shape)
    mask = np.ones(shape[:1] + shape[2:], bool)
    out, grads, stats = [], [], []
    for m in (None, mask):
        bn = nn.BatchNorm1d(shape[1]).double()
        xm = mg.tensor(x, requires_grad=True)
        y = bn(xm, mask=m)
        (y * mg.tensor(g)).sum().backward()
        out.append(y.array)
        grads.append((xm.grad.array, bn.weight.grad.array, bn.bias.grad.array))
        stats.append((bn.running_mean.array.copy(), bn.running_var.array.copy()))
    np.testing.assert_allclose(out[0], out[1], rtol=1e-13, atol=1e-14)
    for a, b in zip(grads[0] + stats[0], grads[1] + stats[1]):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13)


def test_masked_batch_norm_in_eval_ignores_the_mask_and_checks_its_shape():
    bn = nn.BatchNorm1d(3).double()
    bn.running_mean.array[...] = [1.0, 2.0, 3.0]
    bn.eval()
    x = mg.tensor(np.random.default_rng(3).standard_normal((4, 3)))
    np.testing.assert_array_equal(bn(x, mask=np.array([1, 0, 0, 1], bool)).array, bn(x).array)
    bn.train()
    with pytest.raises(mg.errors.InvalidArgument, match="mask must be a boolean"):
        bn(x, mask=np.ones((3,), bool))
    with pytest.raises(mg.errors.InvalidArgument, match="more than 1 real position"):
        bn(x, mask=np.array([0, 0, 1, 0], bool))


# ---------------------------------------------------------------- the gradcheck registry

_load_registries()


def _cases(prefix):
    found = [c for c in CASES if c.name.startswith(prefix)]
    assert found, f"no gradcheck case named {prefix!r}"
    return found


@pytest.mark.parametrize("name", ["batch_norm train masked"])
@pytest.mark.parametrize("order", [1, 2])
def test_registered_gradchecks(name, order):
    for case in _cases(name):
        abs_err, rel_err, ok = check_case(case, order)
        assert ok, f"{case.name} [{case.shape_text}] order {order}: {abs_err:.2e} {rel_err:.2e}"
