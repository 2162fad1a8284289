"""Attention against PyTorch in float64: scaled_dot_product_attention, MultiheadAttention,
TransformerEncoderLayer and TransformerEncoder. Torch's state dict is loaded unchanged
into ours; outputs, input gradients and every parameter's gradient must agree (random
upstream gradients). Dropout is checked by its structure (the RNGs differ). Gradients are
enabled, so PyTorch takes its ordinary path, not its eval-mode fast path. Skipped
without torch."""
import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F

torch = pytest.importorskip("torch")
tnn, TF = torch.nn, torch.nn.functional
RTOL, ATOL = 1e-9, 1e-12


@pytest.fixture(autouse=True)
def _torch_seed():
    torch.manual_seed(0)   # torch's initialization, the parameters both sides use


def R(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def _close(a, b, what):
    a = a.detach().numpy() if hasattr(a, "detach") else np.asarray(a)
    b = b.detach().numpy()
    assert a.shape == b.shape, what
    np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL, err_msg=what, equal_nan=True)


def compare(call, arrays, ours=None, theirs=None, train=False, seed=1):
    """``call(lib, module, tensors)`` with lib minigrad or torch, on the same ``arrays``
    (name -> array; floating ones whose name does not start with "mask" require grad).
    ``theirs``'s state dict is loaded unchanged into ``ours``. Compares outputs (a tensor
    or a tuple, None where torch gives None), then input and parameter gradients."""
    if theirs is not None:
        theirs.double().train(train)
        ours.double().train(train)
        ours.load_state_dict(theirs.state_dict())
    grad = {k: a.dtype.kind == "f" and not k.startswith("mask") for k, a in arrays.items()}
    mt = {k: mg.tensor(a, requires_grad=grad[k]) for k, a in arrays.items()}
    tt = {k: torch.tensor(a, requires_grad=grad[k]) for k, a in arrays.items()}
    mo, to = call(mg, ours, mt), call(torch, theirs, tt)
    mo, to = (mo, to) if isinstance(to, tuple) else ((mo,), (to,))
    loss_m, loss_t = 0, 0
    for i, (a, b) in enumerate(zip(mo, to)):
        if b is None:
            assert a is None, f"output {i}: torch gives None"
            continue
        _close(a, b, f"output {i}")
        up = R(*b.shape, seed=seed + i)
        loss_m = loss_m + (a * mg.tensor(up)).sum()
        loss_t = loss_t + (b * torch.tensor(up)).sum()
    loss_m.backward()
    loss_t.backward()
    for k in arrays:
        if grad[k]:
            _close(mt[k].grad, tt[k].grad, f"gradient of {k}")
    if theirs is not None:
        tparams = dict(theirs.named_parameters())
        assert set(dict(ours.named_parameters())) == set(tparams)
        for name, p in ours.named_parameters():
            _close(p.grad, tparams[name].grad, f"gradient of {name}")
    return mo


# ---------------------------------------------------------------- scaled_dot_product_attention

def _sdpa(mask=None, **kw):
    def call(lib, _, t):
        m = t.get("mask")
        fn = F.scaled_dot_product_attention if lib is mg else TF.scaled_dot_product_attention
        return fn(t["q"], t["k"], t["v"], attn_mask=m, **kw)
    return call


def _qkv(q, k, v, seed=0):
    return dict(q=R(*q, seed=seed), k=R(*k, seed=seed + 1), v=R(*v, seed=seed + 2))


@pytest.mark.parametrize("shapes", [
    ((2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 7)),     # Ev != E
    ((2, 3, 4, 5), (1, 3, 6, 5), (1, 3, 6, 5)),     # batch broadcast
    ((3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 5)),        # rank broadcast
    ((4, 5), (6, 5), (6, 5)),                       # 2-D
    ((2, 1, 5), (2, 1, 5), (2, 1, 5)),              # L = S = 1
])
@pytest.mark.parametrize("kw", [{}, dict(scale=0.37), dict(is_causal=True)])
def test_sdpa_matches_torch(shapes, kw):
    compare(_sdpa(**kw), _qkv(*shapes))


@pytest.mark.parametrize("mask_shape", [(4, 6), (3, 1, 6), (2, 1, 4, 6), (1, 1, 1, 6)])
@pytest.mark.parametrize("kind", ["bool", "float"])
def test_sdpa_masks_match_torch(mask_shape, kind):
    arrays = _qkv((2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 5))
    rng = np.random.default_rng(4)
    m = rng.random(mask_shape) > 0.3
    m[..., 0] = True   # no row fully masked here
    arrays["mask"] = m if kind == "bool" else np.where(m, rng.standard_normal(mask_shape),
                                                       -np.inf)
    compare(_sdpa(scale=0.8), arrays)


@pytest.mark.parametrize("L,S", [(3, 5), (5, 3)])
def test_sdpa_causal_is_top_left_when_not_square(L, S):
    compare(_sdpa(is_causal=True), _qkv((2, L, 4), (2, S, 4), (2, S, 3)))


@pytest.mark.parametrize("kind", ["bool", "float"])
def test_sdpa_fully_masked_rows_give_zeros_as_torch(kind):
    arrays = _qkv((2, 4, 5), (2, 6, 5), (2, 6, 5))
    m = np.random.default_rng(2).random((4, 6)) > 0.4
    m[:, 0], m[1] = True, False
    arrays["mask"] = m if kind == "bool" else np.where(m, 0.0, -np.inf)
    out = compare(_sdpa(), arrays)[0]
    assert np.all(out.detach().numpy()[:, 1] == 0)


def test_sdpa_gqa_matches_torch():
    compare(_sdpa(enable_gqa=True), _qkv((2, 4, 3, 4), (2, 2, 5, 4), (2, 2, 5, 4)))


def test_sdpa_dropout_drops_weights():
    # with value = I, the output is the weights themselves: each entry dropped to 0 or
    # scaled by 1/(1-p); the same seed draws the same mask
    q, k = mg.tensor(R(2, 4, 5)), mg.tensor(R(2, 6, 5, seed=1))
    eye = mg.tensor(np.broadcast_to(np.eye(6), (2, 6, 6)).copy())
    w = F.scaled_dot_product_attention(q, k, eye).numpy()
    mg.manual_seed(3)
    d = F.scaled_dot_product_attention(q, k, eye, dropout_p=0.4).numpy()
    kept = d != 0
    assert 0 < kept.mean() < 1
    np.testing.assert_allclose(d[kept], w[kept] / 0.6, rtol=1e-12)
    mg.manual_seed(3)
    again = F.scaled_dot_product_attention(q, k, eye, dropout_p=0.4)
    np.testing.assert_array_equal(again.numpy(), d)


def test_sdpa_errors():
    q, k = mg.zeros(2, 3, 4), mg.zeros(2, 5, 4)
    with pytest.raises(ValueError, match=r"scaled_dot_product_attention: .*last dimension"):
        F.scaled_dot_product_attention(q, mg.zeros(2, 5, 3), k)
    with pytest.raises(ValueError, match=r"key and value must have the same length S"):
        F.scaled_dot_product_attention(q, k, mg.zeros(2, 6, 4))
    with pytest.raises(RuntimeError, match=r"attn_mask should not be set when is_causal"):
        F.scaled_dot_product_attention(q, k, k, attn_mask=mg.ones(3, 5, dtype=mg.bool),
                                       is_causal=True)
    with pytest.raises(ValueError, match=r"attn_mask of shape .*\(4, 5\).*\(2, 3, 5\)"):
        F.scaled_dot_product_attention(q, k, k, attn_mask=mg.ones(4, 5, dtype=mg.bool))
    with pytest.raises(ValueError, match=r"without growing it"):
        F.scaled_dot_product_attention(q, k, k, attn_mask=mg.ones(2, 1, 1, 5, dtype=mg.bool))
    with pytest.raises(TypeError, match=r"attn_mask to be bool"):
        F.scaled_dot_product_attention(q, k, k, attn_mask=mg.ones(3, 5, dtype=mg.int64))
    with pytest.raises(ValueError, match=r"at least 2-D"):
        F.scaled_dot_product_attention(mg.zeros(4), mg.zeros(4), mg.zeros(4))
    with pytest.raises(ValueError, match=r"enable_gqa"):
        F.scaled_dot_product_attention(mg.zeros(1, 3, 2, 4), mg.zeros(1, 2, 2, 4),
                                       mg.zeros(1, 2, 2, 4), enable_gqa=True)


# ---------------------------------------------------------------- MultiheadAttention

def _mha(**kw):
    def call(lib, m, t):
        return m(t["q"], t.get("k", t["q"]), t.get("v", t["q"]),
                 key_padding_mask=t.get("mask_kpm"), attn_mask=t.get("mask_attn"), **kw)
    return call


def _pair(**kw):
    """Our module and torch's with the same options (torch's initialization, loaded)."""
    return nn.MultiheadAttention(**kw), tnn.MultiheadAttention(**kw)


def _kpm(N, S, kind, seed=5):
    m = np.random.default_rng(seed).random((N, S)) < 0.3
    m[:, 1] = False   # never a fully masked row
    return m if kind == "bool" else np.where(m, -np.inf, R(N, S, seed=seed) * 0.3)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("need_weights,average", [(True, True), (True, False), (False, True)])
@pytest.mark.parametrize("train", [False, True])
def test_mha_self_attention_matches_torch(batch_first, need_weights, average, train):
    ours, theirs = _pair(embed_dim=8, num_heads=2, batch_first=batch_first)
    shape = (3, 5, 8) if batch_first else (5, 3, 8)
    compare(_mha(need_weights=need_weights, average_attn_weights=average),
            dict(q=R(*shape)), ours, theirs, train)


@pytest.mark.parametrize("kind", ["bool", "float"])
@pytest.mark.parametrize("need_weights", [True, False])
@pytest.mark.parametrize("batch_first", [False, True])
def test_mha_masks_match_torch(kind, need_weights, batch_first):
    ours, theirs = _pair(embed_dim=6, num_heads=3, batch_first=batch_first)
    L, S, N = 4, 5, 2
    q, k = ((N, L, 6), (N, S, 6)) if batch_first else ((L, N, 6), (S, N, 6))
    attn = np.random.default_rng(6).random((L, S)) < 0.3
    attn[:, 0] = False
    arrays = dict(q=R(*q), k=R(*k, seed=1), v=R(*k, seed=2), mask_kpm=_kpm(N, S, kind),
                  mask_attn=attn if kind == "bool" else np.where(attn, -np.inf, R(L, S)))
    compare(_mha(need_weights=need_weights, average_attn_weights=False), arrays, ours, theirs)


def test_mha_3d_attn_mask_matches_torch():
    ours, theirs = _pair(embed_dim=4, num_heads=2)
    compare(_mha(), dict(q=R(3, 2, 4), mask_attn=R(4, 3, 3, seed=7)), ours, theirs)


@pytest.mark.parametrize("need_weights", [True, False])
def test_mha_kdim_vdim_matches_torch(need_weights):
    ours, theirs = _pair(embed_dim=6, num_heads=2, kdim=4, vdim=3, batch_first=True)
    assert ours.in_proj_weight is None and tuple(ours.k_proj_weight.shape) == (6, 4)
    compare(_mha(need_weights=need_weights),
            dict(q=R(2, 3, 6), k=R(2, 5, 4, seed=1), v=R(2, 5, 3, seed=2),
                 mask_kpm=_kpm(2, 5, "bool")), ours, theirs)


@pytest.mark.parametrize("bias_kv,zero_attn", [(True, False), (False, True), (True, True)])
@pytest.mark.parametrize("need_weights", [True, False])
def test_mha_bias_kv_and_zero_attn_match_torch(bias_kv, zero_attn, need_weights):
    ours, theirs = _pair(embed_dim=4, num_heads=2, add_bias_kv=bias_kv,
                         add_zero_attn=zero_attn)
    attn = np.zeros((3, 5), bool)
    attn[0, 2] = True
    compare(_mha(need_weights=need_weights),
            dict(q=R(3, 2, 4), k=R(5, 2, 4, seed=1), v=R(5, 2, 4, seed=2),
                 mask_kpm=_kpm(2, 5, "bool"), mask_attn=attn), ours, theirs)


def test_mha_no_bias_and_unbatched_match_torch():
    ours, theirs = _pair(embed_dim=4, num_heads=2, bias=False)
    assert ours.in_proj_bias is None and ours.out_proj.bias is None
    kpm = np.array([False, True, False, False])
    compare(_mha(average_attn_weights=False),
            dict(q=R(3, 4), k=R(4, 4, seed=1), v=R(4, 4, seed=2), mask_kpm=kpm), ours, theirs)


def test_mha_is_causal_matches_torch():
    ours, theirs = _pair(embed_dim=4, num_heads=2)
    causal = np.triu(np.ones((3, 3), bool), 1)
    for need_weights in (True, False):
        compare(_mha(need_weights=need_weights, is_causal=True),
                dict(q=R(3, 2, 4), mask_attn=causal), ours, theirs)
    with pytest.raises(RuntimeError, match="need attn_mask if specifying the is_causal"):
        ours(mg.zeros(3, 2, 4), mg.zeros(3, 2, 4), mg.zeros(3, 2, 4), is_causal=True)


def test_mha_fully_masked_rows_as_torch():
    # need_weights=True is a plain softmax (NaN, as torch); False goes through
    # scaled_dot_product_attention (zeros, as torch)
    ours, theirs = _pair(embed_dim=4, num_heads=2)
    kpm = np.zeros((2, 3), bool)
    kpm[1] = True
    out = compare(_mha(need_weights=False), dict(q=R(3, 2, 4), mask_kpm=kpm), ours, theirs)
    assert np.isfinite(out[0].detach().numpy()).all()
    ours.load_state_dict(theirs.state_dict())
    x, tx = mg.tensor(R(3, 2, 4)), torch.tensor(R(3, 2, 4))
    o, w = ours(x, x, x, key_padding_mask=mg.tensor(kpm))
    to, tw = theirs(tx, tx, tx, key_padding_mask=torch.tensor(kpm))
    assert np.isnan(o.detach().numpy()[:, 1]).all() and np.isnan(tw.detach().numpy()[1]).all()
    _close(o, to, "output")
    _close(w, tw, "weights")


def test_mha_default_init_and_layout_as_torch():
    mg.manual_seed(0)
    m = nn.MultiheadAttention(8, 2, add_bias_kv=True)
    t = tnn.MultiheadAttention(8, 2, add_bias_kv=True)
    assert list(m.state_dict()) == list(t.state_dict())
    for name, p in t.state_dict().items():
        assert tuple(m.state_dict()[name].shape) == tuple(p.shape), name
    assert np.all(m.in_proj_bias.detach().numpy() == 0)
    assert np.all(m.out_proj.bias.detach().numpy() == 0)
    bound = np.sqrt(6 / (8 + 24))   # xavier_uniform_ on (3E, E)
    w = m.in_proj_weight.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.8 * bound
    assert np.abs(m.out_proj.weight.detach().numpy()).max() <= 1 / np.sqrt(8)   # Linear's
    assert type(m.out_proj).__name__ == type(t.out_proj).__name__


def test_mha_dropout_drops_weights_in_training_only():
    m = nn.MultiheadAttention(4, 2, dropout=0.5).double()
    x = mg.tensor(R(3, 2, 4))
    m.eval()
    _, w = m(x, x, x, average_attn_weights=False)
    m.train()
    mg.manual_seed(1)
    _, d = m(x, x, x, average_attn_weights=False)
    w, d = w.detach().numpy(), d.detach().numpy()
    kept = d != 0
    assert 0 < kept.mean() < 1
    np.testing.assert_allclose(d[kept], w[kept] * 2, rtol=1e-12)


def test_mha_errors():
    m = nn.MultiheadAttention(4, 2)
    x = mg.zeros(3, 2, 4)
    with pytest.raises(ValueError, match=r"embed_dim \(5\) must be divisible by num_heads \(2\)"):
        nn.MultiheadAttention(5, 2)
    with pytest.raises(ValueError, match=r"MultiheadAttention: .*embedding dimension of 4.*"
                                         r"\(3, 2, 6\)"):
        m(mg.zeros(3, 2, 6), mg.zeros(3, 2, 6), mg.zeros(3, 2, 6))
    with pytest.raises(ValueError, match=r"MultiheadAttention: query should be .*\(3,\)"):
        m(mg.zeros(3), mg.zeros(3), mg.zeros(3))
    with pytest.raises(ValueError, match=r"expected key and value to be 3-D"):
        m(x, mg.zeros(3, 4), mg.zeros(3, 4))
    with pytest.raises(ValueError, match=r"2-D attn_mask is .*\(2, 2\).*should be \(3, 3\)"):
        m(x, x, x, attn_mask=mg.zeros(2, 2))
    with pytest.raises(ValueError, match=r"3-D attn_mask is .*should be \(4, 3, 3\)"):
        m(x, x, x, attn_mask=mg.zeros(2, 3, 3))
    with pytest.raises(ValueError, match=r"key_padding_mask of shape \(2, 3\) \(N, S\), got"):
        m(x, x, x, key_padding_mask=mg.zeros(2, 4, dtype=mg.bool))
    with pytest.raises(TypeError, match=r"only bool and floating types of attn_mask"):
        m(x, x, x, attn_mask=mg.zeros(3, 3, dtype=mg.int64))
    with pytest.raises(ValueError, match=r"key with 4 features .* got shape \(3, 2, 5\)"):
        nn.MultiheadAttention(4, 2, kdim=4, vdim=5)(x, mg.zeros(3, 2, 5), mg.zeros(3, 2, 5))


# ---------------------------------------------------------------- transformer encoder

def _enc(kw_call=None):
    def call(lib, m, t):
        return m(t["x"], t.get("mask_attn"), t.get("mask_kpm"), **(kw_call or {}))
    return call


def _layers(**kw):
    act = kw.pop("activation", "relu")
    ours = nn.TransformerEncoderLayer(activation=act, **kw)
    theirs = tnn.TransformerEncoderLayer(activation=act, **kw)
    return ours, theirs


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("train", [False, True])
def test_encoder_layer_matches_torch(norm_first, activation, batch_first, train):
    ours, theirs = _layers(d_model=8, nhead=2, dim_feedforward=12, dropout=0.0,
                           activation=activation, batch_first=batch_first,
                           norm_first=norm_first)
    with torch.no_grad():   # LayerNorm's affine away from (1, 0)
        for norm in (theirs.norm1, theirs.norm2):
            norm.weight.copy_(torch.tensor(1 + R(8, seed=3) * 0.3))
            norm.bias.copy_(torch.tensor(R(8, seed=4) * 0.3))
    shape = (2, 5, 8) if batch_first else (5, 2, 8)
    attn = np.triu(np.ones((5, 5), bool), 1)
    compare(_enc(), dict(x=R(*shape), mask_attn=attn, mask_kpm=_kpm(2, 5, "bool")),
            ours, theirs, train)


@pytest.mark.parametrize("activation", ["callable", "module"])
def test_encoder_layer_callable_activation_and_no_bias(activation):
    act = (lambda x: x.tanh()) if activation == "callable" else None
    ours = nn.TransformerEncoderLayer(4, 2, 6, 0.0, act or nn.GELU(), bias=False)
    theirs = tnn.TransformerEncoderLayer(4, 2, 6, 0.0, act or tnn.GELU(), bias=False)
    compare(_enc(), dict(x=R(3, 2, 4), mask_attn=R(3, 3, seed=2)), ours, theirs)


def test_encoder_layer_is_causal_and_unbatched_match_torch():
    ours, theirs = _layers(d_model=4, nhead=2, dim_feedforward=6, dropout=0.0)
    causal = np.triu(np.full((3, 3), -np.inf), 1)
    compare(_enc(dict(is_causal=True)), dict(x=R(3, 2, 4), mask_attn=causal), ours, theirs)
    compare(_enc(), dict(x=R(3, 4), mask_kpm=np.array([False, False, True])), ours, theirs)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("train", [False, True])
@pytest.mark.parametrize("mask", ["causal", "padding", "both"])
def test_encoder_matches_torch(batch_first, train, mask):
    layer_kw = dict(d_model=8, nhead=2, dim_feedforward=10, dropout=0.0,
                    batch_first=batch_first)
    ours = nn.TransformerEncoder(nn.TransformerEncoderLayer(**layer_kw), 2, nn.LayerNorm(8))
    with pytest.warns(UserWarning) if not batch_first else _nothing():
        theirs = tnn.TransformerEncoder(tnn.TransformerEncoderLayer(**layer_kw), 2,
                                        tnn.LayerNorm(8))
    assert list(ours.state_dict()) == list(theirs.state_dict())
    shape = (2, 5, 8) if batch_first else (5, 2, 8)
    arrays = dict(x=R(*shape))
    if mask in ("causal", "both"):   # is_causal=None detects it, as torch
        arrays["mask_attn"] = np.triu(np.full((5, 5), -np.inf), 1)
    if mask in ("padding", "both"):
        arrays["mask_kpm"] = _kpm(2, 5, "bool")
    compare(_enc(), arrays, ours, theirs, train)


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_encoder_torch_state_dict_gives_torch_outputs_in_eval():
    # default sizes and dropout; eval under no_grad, where torch takes its fused fast path
    # (torch._transformer_encoder_layer_fwd, once per layer): the same function, to float64
    # rounding (in float32 the two torch paths differ by ~5e-7, and ours is as close)
    theirs = tnn.TransformerEncoder(
        tnn.TransformerEncoderLayer(16, 4, batch_first=True), 2, enable_nested_tensor=False)
    ours = nn.TransformerEncoder(nn.TransformerEncoderLayer(16, 4, batch_first=True), 2,
                                 enable_nested_tensor=False)
    theirs.double().eval()
    ours.double().eval()
    ours.load_state_dict(theirs.state_dict())
    x = R(3, 5, 16)
    with torch.no_grad():
        expected = theirs(torch.tensor(x))
    with mg.no_grad():
        got = ours(mg.tensor(x))
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-9, atol=1e-12)


def test_encoder_layer_float32_close_to_both_torch_paths():
    # float32: torch's fused eval path and its ordinary path differ by rounding (~5e-7
    # here); ours is as close to each
    theirs = tnn.TransformerEncoderLayer(16, 4, 32, batch_first=True).eval()
    ours = nn.TransformerEncoderLayer(16, 4, 32, batch_first=True).eval()
    ours.load_state_dict(theirs.state_dict())
    x = R(3, 5, 16).astype(np.float32)
    with torch.no_grad():
        fused = theirs(torch.tensor(x)).numpy()
    plain = theirs(torch.tensor(x)).detach().numpy()   # grad enabled: the ordinary path
    with mg.no_grad():
        got = ours(mg.tensor(x)).numpy()
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, plain, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got, fused, rtol=1e-5, atol=1e-5)


def test_encoder_layer_dropout_in_training_only():
    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.3).double()
    x = mg.tensor(R(4, 2, 8))
    layer.eval()
    a, b = layer(x), layer(x)
    np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    layer.train()
    mg.manual_seed(5)
    c = layer(x).detach().numpy()
    mg.manual_seed(5)
    np.testing.assert_array_equal(layer(x).detach().numpy(), c)
    assert not np.allclose(c, a.detach().numpy())
    mg.manual_seed(6)
    assert not np.allclose(layer(x).detach().numpy(), c)


def test_encoder_clones_are_independent():
    layer = nn.TransformerEncoderLayer(4, 2, 6)
    enc = nn.TransformerEncoder(layer, 2)
    assert enc.layers[0] is not layer and enc.layers[0].linear1.weight is not \
        enc.layers[1].linear1.weight
    np.testing.assert_array_equal(enc.layers[0].linear1.weight.detach().numpy(),
                                  enc.layers[1].linear1.weight.detach().numpy())


def test_encoder_errors():
    layer = nn.TransformerEncoderLayer(4, 2, 6)
    with pytest.raises(ValueError, match="activation should be 'relu', 'gelu' or a callable, "
                                         "not 'tanh'"):
        nn.TransformerEncoderLayer(4, 2, activation="tanh")
    with pytest.raises(ValueError, match=r"MultiheadAttention: .*embedding dimension of 4"):
        layer(mg.zeros(3, 2, 5))
    with pytest.raises(ValueError, match=r"2-D attn_mask is .*\(4, 4\).*should be \(3, 3\)"):
        layer(mg.zeros(3, 2, 4), src_mask=mg.zeros(4, 4))
    with pytest.raises(RuntimeError, match="need attn_mask if specifying the is_causal"):
        nn.TransformerEncoder(layer, 1)(mg.zeros(3, 2, 4), is_causal=True)
