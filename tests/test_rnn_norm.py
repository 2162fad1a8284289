"""Recurrent normalization: masked batch statistics (``F.batch_norm(..., mask=)``), the
layer-normalized LSTM and GRU cells (Ba et al. 2016), the batch-normalized LSTM (Cooijmans
et al. 2016) and its Batch Layer Normalization variant. Each against a direct NumPy or torch
re-implementation of the formula in float64 (values and every gradient), running statistics
per step, eval against train, and the gradcheck registry at first and second order."""
import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from minigrad.gradcheck import CASES, _load_registries
from minigrad.nn import functional as F

try:
    import torch
except ImportError:  # the references need torch; the registry and rule tests do not
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")


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
@needs_torch
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
    upstream = mask[:, None, :].astype(float) * rng.standard_normal((5, 2, 4))
    (y * mg.tensor(upstream)).sum().backward()
    assert np.all(xm.grad.array.transpose(0, 2, 1)[~mask] == 0)
    assert np.any(xm.grad.array.transpose(0, 2, 1)[mask] != 0)
    # and changing the padded values changes no real position's output
    x2 = x.copy()
    x2.transpose(0, 2, 1)[~mask] = 1e3
    y2 = F.batch_norm(mg.tensor(x2), None, None, training=True, mask=mask)
    np.testing.assert_array_equal(y2.array.transpose(0, 2, 1)[mask],
                                  y.array.transpose(0, 2, 1)[mask])


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


def test_every_recurrent_normalization_is_in_the_gradcheck_registry():
    """tests/test_gradcheck.py checks every registered case at first and second order;
    these must stay registered."""
    wanted = {"batch_norm train masked", "layer_norm_lstm_cell", "layer_norm_gru_cell",
              "bn_lstm_cell train", "bn_lstm_cell eval", "bln_lstm_cell train",
              "bln_lstm_cell eval"}
    assert wanted <= {c.name for c in CASES}
    assert all(c.second_order for c in CASES if c.name in wanted)


# ---------------------------------------------------------------- torch re-implementations

EPS = 1e-5


def tln(v, g, b):
    mean, var = v.mean(-1, keepdim=True), v.var(-1, unbiased=False, keepdim=True)
    out = (v - mean) / torch.sqrt(var + EPS) * g
    return out if b is None else out + b


def tbn(v, g, b, stats=None):
    """BN over the batch; ``stats`` (mean, var) arrays: eval with them."""
    if stats is None:
        mean, var = v.mean(0), v.var(0, unbiased=False)
    else:
        mean, var = (torch.tensor(s) for s in stats)
    out = (v - mean) / torch.sqrt(var + EPS) * g
    return out if b is None else out + b


def tbln(v, g, b, m, stats=None):
    if stats is None:
        mean, var = v.mean(0), v.var(0, unbiased=False)
    else:
        mean, var = (torch.tensor(s) for s in stats)
    x_b = (v - mean) / torch.sqrt(var + EPS)
    x_l = (v - v.mean(-1, keepdim=True)) / torch.sqrt(v.var(-1, unbiased=False, keepdim=True) + EPS)
    out = (x_l / m + x_b * (1 - 1 / m)) * g
    return out if b is None else out + b


def _torch_params(module):
    """The module's parameters as float64 torch leaves, by name."""
    return {n: _t(p.array) for n, p in module.named_parameters()}


def _randomize(module, rng):
    for _, p in module.named_parameters():
        p.array[...] = rng.standard_normal(p.shape) * 0.7


def _compare_grads(module, tp, pairs=()):
    for n, p in module.named_parameters():
        np.testing.assert_allclose(p.grad.array, tp[n].grad.numpy(), rtol=1e-9, atol=1e-11,
                                   err_msg=n)
    for mine, theirs in pairs:
        np.testing.assert_allclose(mine.grad.array, theirs.grad.numpy(), rtol=1e-9, atol=1e-11)


def _inputs(rng, *shapes):
    arrays = [rng.standard_normal(s) for s in shapes]
    return [mg.tensor(a, requires_grad=True) for a in arrays], [_t(a) for a in arrays]


@needs_torch
@pytest.mark.parametrize("bias", [True, False])
def test_layer_norm_lstm_cell_matches_the_formula(bias):
    rng = np.random.default_rng(10)
    cell = nn.LayerNormLSTMCell(3, 4, bias=bias).double()
    _randomize(cell, rng)
    (x, h, c), (xt, ht, ct) = _inputs(rng, (5, 3), (5, 4), (5, 4))
    gh, gc = rng.standard_normal((5, 4)), rng.standard_normal((5, 4))
    h1, c1 = cell(x, (h, c))
    ((h1 * mg.tensor(gh)).sum() + (c1 * mg.tensor(gc)).sum()).backward()

    p = _torch_params(cell)
    pre = tln(xt @ p["weight_ih"].T, p["ln_weight_ih"], p.get("ln_bias_ih")) \
        + tln(ht @ p["weight_hh"].T, p["ln_weight_hh"], p.get("ln_bias_hh"))
    i, f, g, o = pre.chunk(4, 1)
    c_ref = torch.sigmoid(f) * ct + torch.sigmoid(i) * torch.tanh(g)
    h_ref = torch.sigmoid(o) * torch.tanh(tln(c_ref, p["ln_weight_c"], p.get("ln_bias_c")))
    ((h_ref * _t(gh, False)).sum() + (c_ref * _t(gc, False)).sum()).backward()
    np.testing.assert_allclose(h1.array, h_ref.detach().numpy(), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(c1.array, c_ref.detach().numpy(), rtol=1e-12, atol=1e-13)
    _compare_grads(cell, p, [(x, xt), (h, ht), (c, ct)])
    assert ("ln_bias_c" in dict(cell.named_parameters())) == bias


@needs_torch
def test_layer_norm_gru_cell_matches_the_formula():
    rng = np.random.default_rng(11)
    cell = nn.LayerNormGRUCell(3, 4).double()
    _randomize(cell, rng)
    (x, h), (xt, ht) = _inputs(rng, (5, 3), (5, 4))
    g = rng.standard_normal((5, 4))
    h1 = cell(x, h)
    (h1 * mg.tensor(g)).sum().backward()

    p = _torch_params(cell)
    H = 4
    gx, gh = xt @ p["weight_ih"].T, ht @ p["weight_hh"].T

    def block(v, side, lo, hi):
        return tln(v[:, lo:hi], p[f"ln_weight_{side}"][lo:hi], p[f"ln_bias_{side}"][lo:hi])

    rz = torch.sigmoid(block(gx, "ih", 0, 2 * H) + block(gh, "hh", 0, 2 * H))
    r, z = rz[:, :H], rz[:, H:]
    n = torch.tanh(block(gx, "ih", 2 * H, 3 * H) + r * block(gh, "hh", 2 * H, 3 * H))
    ref = (1 - z) * n + z * ht
    (ref * _t(g, False)).sum().backward()
    np.testing.assert_allclose(h1.array, ref.detach().numpy(), rtol=1e-12, atol=1e-13)
    _compare_grads(cell, p, [(x, xt), (h, ht)])


def test_layer_norm_cells_start_like_the_papers_and_default_to_a_zero_state():
    cell = nn.LayerNormLSTMCell(3, 4)
    assert np.all(cell.ln_weight_ih.array == 1) and np.all(cell.ln_bias_c.array == 0)
    assert np.abs(cell.weight_hh.array).max() <= 0.5
    x = mg.randn(2, 3)
    h, c = cell(x)
    h0, c0 = cell(x, (mg.zeros(2, 4), mg.zeros(2, 4)))
    np.testing.assert_array_equal(h.array, h0.array)
    gru = nn.LayerNormGRUCell(3, 4)
    np.testing.assert_array_equal(gru(x).array, gru(x, mg.zeros(2, 4)).array)
    # LN: the same computation in train and eval, one sample independent of the others
    gru.eval()
    np.testing.assert_allclose(gru(x).array[:1], gru(x[:1]).array, rtol=1e-6)


def _bn_lstm_ref(p, xs, h, c, norm="bn", masks=None, stats=None, m=None):
    """The BN-LSTM (or BLN-LSTM) over a (T, N, I) sequence in torch. ``stats``: per step
    a triple of (mean, var) for x, h, c to use (eval); else batch statistics (training), of
    the real rows when ``masks`` (T, N) is given. Returns outputs, (h, c) and, per step,
    the batch statistics (mean, unbiased var) the running update should use."""
    outs, used = [], []
    for t in range(xs.shape[0]):
        rows = slice(None) if masks is None else torch.as_tensor(masks[t])
        st = None if stats is None else stats[t]

        def norm_fn(v, g, b, k):
            if st is None:
                real = v[rows]
                used.append((real.mean(0).detach().numpy(), real.var(0).detach().numpy()))
            if norm == "bln":
                return tbln(v, g, b, m or v.shape[0], None if st is None else st[k])
            if st is None:
                real = v[rows]
                mean, var = real.mean(0), real.var(0, unbiased=False)
                out = (v - mean) / torch.sqrt(var + EPS) * g
                return out if b is None else out + b
            return tbn(v, g, b, st[k])

        pre = norm_fn(h @ p["weight_hh"].T, p["weight_h"], None, 1) \
            + norm_fn(xs[t] @ p["weight_ih"].T, p["weight_x"], None, 0) + p["bias"]
        i, f, g, o = pre.chunk(4, 1)
        c_new = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h_new = torch.sigmoid(o) * torch.tanh(norm_fn(c_new, p["weight_c"], p["bias_c"], 2))
        if masks is not None:
            keep = torch.as_tensor(masks[t], dtype=torch.float64)[:, None]
            h_new, c_new = h_new * keep + h * (1 - keep), c_new * keep + c * (1 - keep)
        h, c = h_new, c_new
        outs.append(h)
    return torch.stack(outs), (h, c), used


@needs_torch
@pytest.mark.parametrize("norm", ["bn", "bln"])
def test_bn_lstm_over_a_sequence_matches_the_formula_and_tracks_each_step(norm):
    rng = np.random.default_rng(12)
    T, N, I, H = 4, 6, 3, 2
    layer = nn.BatchNormLSTM(I, H, max_length=10, momentum=0.5, norm=norm).double()
    _randomize(layer, rng)
    (x, h0, c0), (xt, ht, ct) = _inputs(rng, (T, N, I), (1, N, H), (1, N, H))
    g = rng.standard_normal((T, N, H))
    y, (hn, cn) = layer(x, (h0, c0))
    ((y * mg.tensor(g)).sum() + hn.sum() + (cn * cn).sum()).backward()

    p = {k.split(".", 1)[1]: v for k, v in _torch_params(layer).items()}
    y_ref, (h_ref, c_ref), used = _bn_lstm_ref(p, xt, ht[0], ct[0], norm)
    ((y_ref * _t(g, False)).sum() + h_ref.sum() + (c_ref * c_ref).sum()).backward()
    np.testing.assert_allclose(y.array, y_ref.detach().numpy(), rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(cn.array[0], c_ref.detach().numpy(), rtol=1e-11, atol=1e-12)
    cell = layer.cell
    for (n, param) in cell.named_parameters():
        np.testing.assert_allclose(param.grad.array, p[n].grad.numpy(), rtol=1e-9, atol=1e-11,
                                   err_msg=n)
    for mine, theirs in ((x, xt), (h0, ht), (c0, ct)):
        np.testing.assert_allclose(mine.grad.array, theirs.grad.numpy(), rtol=1e-9, atol=1e-11)
    # per step running statistics: one update (momentum 0.5) from (0, 1) toward each step's
    # own batch mean and unbiased variance; the order per step is h, x, c
    for t in range(T):
        for k, name in enumerate(("h", "x", "c")):
            mean, var = used[3 * t + k]
            np.testing.assert_allclose(getattr(cell, f"running_mean_{name}").array[t], 0.5 * mean,
                                       rtol=1e-10, atol=1e-12)
            np.testing.assert_allclose(getattr(cell, f"running_var_{name}").array[t],
                                       0.5 + 0.5 * var, rtol=1e-10, atol=1e-12)
    assert np.all(cell.running_mean_x.array[T:] == 0)
    assert int(cell.steps_tracked.item()) == T
    if norm == "bln":
        assert int(cell.batch_size.item()) == N


@needs_torch
@pytest.mark.parametrize("norm", ["bn", "bln"])
def test_bn_lstm_eval_uses_each_steps_statistics_and_the_last_beyond_t_max(norm):
    rng = np.random.default_rng(13)
    T, N, I, H = 3, 5, 3, 2
    layer = nn.BatchNormLSTM(I, H, batch_first=True, max_length=8, norm=norm).double()
    _randomize(layer, rng)
    layer(mg.tensor(rng.standard_normal((N, T, I))))          # training: steps 0..2 tracked
    cell = layer.cell
    assert int(cell.steps_tracked.item()) == T
    layer.eval()
    xs = rng.standard_normal((N, T + 3, I))
    y, _ = layer(mg.tensor(xs))
    # the reference: step t uses row min(t, T - 1) of the running statistics
    p = {k.split(".", 1)[1]: v for k, v in _torch_params(layer).items()}

    def row(t):
        return tuple((getattr(cell, f"running_mean_{n}").array[min(t, T - 1)],
                      getattr(cell, f"running_var_{n}").array[min(t, T - 1)])
                     for n in ("x", "h", "c"))

    zeros = torch.zeros(N, H, dtype=torch.float64)
    y_ref, _, _ = _bn_lstm_ref(p, _t(xs.transpose(1, 0, 2), False), zeros, zeros, norm,
                               stats=[row(t) for t in range(T + 3)], m=N)
    np.testing.assert_allclose(y.array, y_ref.detach().numpy().transpose(1, 0, 2), rtol=1e-11,
                               atol=1e-12)
    # eval changes no statistics, and a sample's output does not depend on the others
    # (BN in eval; BLN's layer part is per sample too)
    before = {k: v.array.copy() for k, v in cell.state_dict().items()}
    y1, _ = layer(mg.tensor(xs[:2]))
    for k, v in cell.state_dict().items():
        np.testing.assert_array_equal(v.array, before[k])
    if norm == "bn":
        np.testing.assert_allclose(y1.array, y.array[:2], rtol=1e-12, atol=1e-13)
    # in training the same inputs give batch statistics: different outputs
    layer.train()
    y_train, _ = layer(mg.tensor(xs))
    assert not np.allclose(y_train.array, y.array)
    assert int(cell.steps_tracked.item()) == T + 3


def test_bn_lstm_steps_beyond_max_length_share_its_last_slot():
    rng = np.random.default_rng(14)
    cell = nn.BNLSTMCell(3, 2, max_length=2, momentum=1.0).double()
    state = None
    xs = rng.standard_normal((4, 5, 3))
    for t in range(4):
        state = cell(mg.tensor(xs[t]), state, step=t)
        if t == 1:
            after_step_1 = cell.running_mean_x.array[1].copy()
    # momentum 1: the last slot holds the statistics of the last step that moved it (3)
    w_x = xs[3] @ cell.weight_ih.array.T
    np.testing.assert_allclose(cell.running_mean_x.array[1], w_x.mean(0), rtol=1e-12)
    assert not np.allclose(after_step_1, cell.running_mean_x.array[1])
    assert int(cell.steps_tracked.item()) == 4
    assert cell._slot(7, training=False) == 1 and cell._slot(0, training=False) == 0


def test_bn_lstm_starts_as_the_paper_recommends():
    cell = nn.BNLSTMCell(3, 4)
    for name in ("weight_x", "weight_h", "weight_c"):
        assert np.all(getattr(cell, name).array == np.float32(0.1))
    assert np.all(cell.bias.array == 0) and np.all(cell.bias_c.array == 0)
    assert cell.running_mean_x.shape == (100, 16) and cell.running_var_c.shape == (100, 4)
    assert nn.BNLSTMCell(3, 4, gamma=1.0).weight_h.array[0] == 1.0


@needs_torch
def test_masked_bn_lstm_uses_the_running_rows_and_keeps_finished_states():
    rng = np.random.default_rng(15)
    T, N, I, H = 4, 5, 3, 2
    lengths = np.array([4, 2, 3, 1, 4])
    masks = np.arange(T)[:, None] < lengths[None, :]             # (T, N)
    layer = nn.BatchNormLSTM(I, H, max_length=6, momentum=0.5).double()
    _randomize(layer, rng)
    (x,), (xt,) = _inputs(rng, (T, N, I))
    g = rng.standard_normal((T, N, H))
    y, (hn, cn) = layer(x, mask=masks)
    ((y * mg.tensor(masks[..., None] * g)).sum() + hn.sum()).backward()

    p = {k.split(".", 1)[1]: v for k, v in _torch_params(layer).items()}
    zeros = torch.zeros(N, H, dtype=torch.float64)
    y_ref, (h_ref, _), used = _bn_lstm_ref(p, xt, zeros, zeros, masks=masks)
    ((y_ref * _t(masks[..., None] * g, False)).sum() + h_ref.sum()).backward()
    np.testing.assert_allclose(y.array, y_ref.detach().numpy(), rtol=1e-11, atol=1e-12)
    for (n, param) in layer.cell.named_parameters():
        np.testing.assert_allclose(param.grad.array, p[n].grad.numpy(), rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(x.grad.array, xt.grad.numpy(), rtol=1e-9, atol=1e-11)
    # a finished sequence keeps its state: h_n is each one's h at its own last real step
    np.testing.assert_array_equal(hn.array[0], y.array[lengths - 1, np.arange(N)])
    # padded inputs reach nothing
    assert np.all(x.grad.array[~masks] == 0)
    # the running statistics of each step moved toward its real rows' statistics
    np.testing.assert_allclose(layer.cell.running_mean_x.array[2], 0.5 * used[3 * 2 + 1][0],
                               rtol=1e-10)
    np.testing.assert_allclose(layer.cell.running_var_c.array[3], 0.5 + 0.5 * used[3 * 3 + 2][1],
                               rtol=1e-10)


def test_a_training_step_with_one_real_row_uses_the_running_statistics():
    rng = np.random.default_rng(16)
    cell = nn.BNLSTMCell(3, 2, max_length=3).double()
    _randomize(cell, rng)
    for name in ("x", "h", "c"):
        getattr(cell, f"running_mean_{name}").array[...] = rng.standard_normal(
            getattr(cell, f"running_mean_{name}").shape)
    before = {k: v.array.copy() for k, v in cell.state_dict().items()}
    x, h = mg.tensor(rng.standard_normal((4, 3))), mg.tensor(rng.standard_normal((4, 2)))
    mask = np.array([0, 1, 0, 0], bool)
    h1, c1 = cell(x, (h, h), step=1, mask=mask)
    for k, v in cell.state_dict().items():
        np.testing.assert_array_equal(v.array, before[k])
    cell.eval()
    cell.steps_tracked.array[...] = 0
    h2, c2 = cell(x, (h, h), step=1, mask=mask)
    np.testing.assert_array_equal(h1.array, h2.array)
    np.testing.assert_array_equal(h1.array[0], h.array[0])          # padded rows: kept


def test_bln_lstm_takes_no_mask_and_the_layer_checks_its_arguments():
    layer = nn.BatchNormLSTM(3, 2, norm="bln")
    assert isinstance(layer.cell, nn.BLNLSTMCell)
    with pytest.raises(mg.errors.InvalidArgument, match="no mask"):
        layer(mg.randn(2, 4, 3), mask=np.ones((2, 4), bool))
    with pytest.raises(ValueError):
        nn.BatchNormLSTM(3, 2, norm="ln")
    with pytest.raises(mg.errors.InvalidArgument, match="mask must have shape"):
        nn.BatchNormLSTM(3, 2, batch_first=True)(mg.randn(4, 2, 3), mask=np.ones((2, 4), bool))
