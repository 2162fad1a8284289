"""The extra layers against PyTorch: the minigrad module's weights copied into the torch one,
outputs and every gradient compared in float64 with random upstream gradients; functional
forms, reprs, initialization and errors."""
import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F

torch = pytest.importorskip("torch")
tnn, TF = torch.nn, torch.nn.functional


def R(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def compare_modules(m, t, x, seed=1, tol=1e-12):
    """Copy ``m``'s parameters into ``t``; outputs and all gradients must agree."""
    m = m.double()
    t = t.double()
    with torch.no_grad():
        for name, p in m.named_parameters():
            t.get_parameter(name).copy_(torch.tensor(p.detach().numpy()))
    mx = mg.tensor(x, requires_grad=x.dtype.kind == "f")
    tx = torch.tensor(x, requires_grad=x.dtype.kind == "f")
    my, ty = m(mx), t(tx)
    assert tuple(my.shape) == tuple(ty.shape)
    np.testing.assert_allclose(my.detach().numpy(), ty.detach().numpy(), rtol=tol, atol=tol)
    g = R(*ty.shape, seed=seed)
    (my * mg.tensor(g)).sum().backward()
    (ty * torch.tensor(g)).sum().backward()
    if x.dtype.kind == "f":
        np.testing.assert_allclose(mx.grad.numpy(), tx.grad.numpy(), rtol=tol, atol=tol)
    for name, p in m.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), t.get_parameter(name).grad.numpy(),
                                   rtol=tol, atol=tol, err_msg=name)


def compare_fn(mfn, tfn, *arrays, seed=1, tol=1e-12):
    ms = [mg.tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    my, ty = mfn(*ms), tfn(*ts)
    assert tuple(my.shape) == tuple(ty.shape)
    np.testing.assert_allclose(my.detach().numpy(), ty.detach().numpy(), rtol=tol, atol=tol)
    g = R(*ty.shape, seed=seed)
    (my * mg.tensor(g)).sum().backward()
    (ty * torch.tensor(g)).sum().backward()
    for a, b in zip(ms, ts):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=tol, atol=tol)


# ---------------------------------------------------------------- interpolate

@pytest.mark.parametrize("kwargs", [
    dict(size=(7, 5)), dict(size=3), dict(scale_factor=2), dict(scale_factor=(1.7, 0.6)),
    dict(size=(1, 1)), dict(size=(4, 10)),
])
@pytest.mark.parametrize("mode, align", [("nearest", None), ("bilinear", False),
                                         ("bilinear", True)])
def test_interpolate(kwargs, mode, align):
    for shape in [(2, 3, 4, 5), (1, 1, 1, 3)]:
        compare_fn(lambda x: F.interpolate(x, mode=mode, align_corners=align, **kwargs),
                   lambda x: TF.interpolate(x, mode=mode, align_corners=align, **kwargs),
                   R(*shape))


def test_interpolate_errors():
    x = mg.zeros(1, 1, 2, 2)
    with pytest.raises(ValueError, match="align_corners"):
        F.interpolate(x, size=3, align_corners=True)
    with pytest.raises(ValueError, match="either size or scale_factor"):
        F.interpolate(x)
    with pytest.raises(ValueError, match="only one of size or scale_factor"):
        F.interpolate(x, size=3, scale_factor=2)
    with pytest.raises(NotImplementedError, match="bicubic"):
        F.interpolate(x, size=3, mode="bicubic")
    with pytest.raises(ValueError, match="bilinear mode needs 4D input"):
        F.interpolate(mg.zeros(1, 2, 2), size=3, mode="bilinear")
    with pytest.raises(NotImplementedError, match="5-D"):
        F.interpolate(mg.zeros(1, 1, 2, 2, 2), size=3)


# ---------------------------------------------------------------- transposed convolution

@pytest.mark.parametrize("cfg", [
    dict(in_channels=4, out_channels=6, kernel_size=3, stride=2, padding=1, output_padding=1,
         groups=2),
    dict(in_channels=3, out_channels=2, kernel_size=(2, 3), stride=(1, 3), padding=(0, 2),
         dilation=(2, 1)),
    dict(in_channels=2, out_channels=2, kernel_size=1, bias=False),
    dict(in_channels=3, out_channels=3, kernel_size=3, stride=3, output_padding=2, groups=3),
])
def test_conv_transpose2d(cfg):
    mg.manual_seed(0)
    m = nn.ConvTranspose2d(**cfg)
    t = tnn.ConvTranspose2d(**cfg)
    compare_modules(m, t, R(2, cfg["in_channels"], 4, 5))
    compare_modules(m, t, R(cfg["in_channels"], 1, 3))  # unbatched, a height of 1


def test_conv_transpose2d_init_and_errors():
    mg.manual_seed(0)
    m = nn.ConvTranspose2d(4, 6, 3, groups=2)
    assert m.weight.shape == (4, 3, 3, 3) and m.bias.shape == (6,)
    bound = 1 / np.sqrt(3 * 9)  # fan_in = out_channels / groups * kernel area, as torch
    assert np.abs(m.weight.detach().numpy()).max() <= bound
    assert np.abs(m.weight.detach().numpy()).max() > 0.8 * bound
    assert np.abs(m.bias.detach().numpy()).max() <= bound
    x = mg.zeros(1, 4, 3, 3)
    with pytest.raises(ValueError, match="output padding"):
        F.conv_transpose2d(x, m.weight, stride=2, output_padding=2)
    with pytest.raises(ValueError, match="channels"):
        F.conv_transpose2d(mg.zeros(1, 3, 3, 3), m.weight)
    with pytest.raises(ValueError, match="non-positive"):
        F.conv_transpose2d(mg.zeros(1, 4, 1, 1), mg.zeros(4, 1, 1, 1), padding=1)


def test_conv_transpose2d_is_conv2d_adjoint():
    rng = np.random.default_rng(3)
    x, w = mg.tensor(rng.standard_normal((2, 4, 7, 6))), mg.tensor(rng.standard_normal((6, 2, 3, 3)))
    y = F.conv2d(x, w, stride=2, padding=1, groups=2)
    g = mg.tensor(rng.standard_normal(y.shape))
    xt = F.conv_transpose2d(g, w, stride=2, padding=1, groups=2, output_padding=0)
    assert xt.shape == (2, 4, 7, 5) or xt.shape == (2, 4, 7, 6)
    xt = F.conv_transpose2d(g, w, stride=2, padding=1, groups=2,
                            output_padding=(0, 1) if xt.shape[-1] == 5 else 0)
    np.testing.assert_allclose((y * g).sum().item(), (x * xt).sum().item(), rtol=1e-12)


# ---------------------------------------------------------------- embedding

def test_embedding():
    mg.manual_seed(0)
    for padding_idx in (None, 2, -1):
        m = nn.Embedding(5, 3, padding_idx=padding_idx)
        t = tnn.Embedding(5, 3, padding_idx=padding_idx)
        compare_modules(m, t, np.array([[0, 2, 4], [2, 2, 1]]))
        compare_modules(m, t, np.zeros((0, 2), np.int64))
        compare_modules(m, t, np.array(4))
    m = nn.Embedding(5, 3, padding_idx=2)
    assert np.all(m.weight.detach().numpy()[2] == 0)
    out = m(mg.tensor([2, 2]))
    (out * mg.tensor(R(2, 3))).sum().backward()
    assert np.all(m.weight.grad.numpy() == 0)
    assert repr(m) == "Embedding(5, 3, padding_idx=2)"


def test_embedding_init_is_standard_normal():
    mg.manual_seed(0)
    w = nn.Embedding(4000, 50).weight.detach().numpy()
    assert abs(w.mean()) < 0.01 and abs(w.std() - 1) < 0.01


def test_embedding_errors():
    m = nn.Embedding(5, 3)
    with pytest.raises(IndexError, match="out of range"):
        m(mg.tensor([5]))
    with pytest.raises(TypeError, match="integer"):
        m(mg.tensor([1.0]))
    with pytest.raises(ValueError, match="padding_idx"):
        nn.Embedding(5, 3, padding_idx=5)


# ---------------------------------------------------------------- conv3d

@pytest.mark.parametrize("cfg", [
    dict(in_channels=2, out_channels=3, kernel_size=3),
    dict(in_channels=4, out_channels=2, kernel_size=(2, 3, 1), stride=(2, 1, 2),
         padding=(1, 1, 0), dilation=(2, 1, 1), groups=2),
    dict(in_channels=2, out_channels=2, kernel_size=(3, 1, 2), padding="same", bias=False),
    dict(in_channels=1, out_channels=1, kernel_size=1, padding="valid"),
])
@pytest.mark.filterwarnings("ignore:Using padding='same'")  # torch's own note on even kernels
def test_conv3d(cfg):
    mg.manual_seed(0)
    m, t = nn.Conv3d(**cfg), tnn.Conv3d(**cfg)
    compare_modules(m, t, R(2, cfg["in_channels"], 5, 4, 3))
    compare_modules(m, t, R(cfg["in_channels"], 3, 3, 3))


# ---------------------------------------------------------------- pools

@pytest.mark.parametrize("kwargs", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
                                    dict(kernel_size=2, stride=1, dilation=2, ceil_mode=True),
                                    dict(kernel_size=3, stride=2, ceil_mode=True)])
def test_pool1d(kwargs):
    compare_modules(nn.MaxPool1d(**kwargs), tnn.MaxPool1d(**kwargs), R(2, 3, 7))
    compare_modules(nn.MaxPool1d(**kwargs), tnn.MaxPool1d(**kwargs), R(3, 8))
    kw = {k: v for k, v in kwargs.items() if k != "dilation"}
    for cip in (True, False):
        compare_modules(nn.AvgPool1d(**kw, count_include_pad=cip),
                        tnn.AvgPool1d(**kw, count_include_pad=cip), R(2, 3, 7))
    mi = F.max_pool1d(mg.tensor(R(2, 3, 7)), 2, return_indices=True)[1]
    ti = TF.max_pool1d(torch.tensor(R(2, 3, 7)), 2, return_indices=True)[1]
    np.testing.assert_array_equal(mi.numpy(), ti.numpy())


@pytest.mark.parametrize("kwargs", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
                                    dict(kernel_size=(2, 3, 1), stride=(1, 2, 1)),
                                    dict(kernel_size=3, stride=2, ceil_mode=True)])
def test_pool3d(kwargs):
    for shape in [(2, 2, 5, 6, 4), (2, 4, 5, 3)]:
        compare_modules(nn.MaxPool3d(**kwargs), tnn.MaxPool3d(**kwargs), R(*shape))
        for cip in (True, False):
            compare_modules(nn.AvgPool3d(**kwargs, count_include_pad=cip),
                            tnn.AvgPool3d(**kwargs, count_include_pad=cip), R(*shape))
    compare_modules(nn.MaxPool3d(2, dilation=(2, 1, 1)), tnn.MaxPool3d(2, dilation=(2, 1, 1)),
                    R(1, 2, 5, 4, 4))
    compare_modules(nn.AvgPool3d(2, divisor_override=3), tnn.AvgPool3d(2, divisor_override=3),
                    R(1, 2, 4, 4, 5))


@pytest.mark.parametrize("kwargs", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
                                    dict(kernel_size=(3, 2, 2), stride=1, dilation=(2, 1, 1),
                                         ceil_mode=True)])
def test_max_pool3d_ties_and_indices_follow_torch(kwargs):
    """Inputs rounded to integers tie inside most windows: the gradient goes to the first
    maximum in (depth, height, width) order, which is also the returned index."""
    for shape in [(2, 3, 5, 6, 7), (2, 6, 6, 6)]:
        x = np.round(R(*shape) * 1.5)
        g = R(*TF.max_pool3d(torch.tensor(x), **kwargs).shape, seed=2)
        results = []
        for lib, fn in ((mg, F.max_pool3d), (torch, TF.max_pool3d)):
            a = lib.tensor(x, requires_grad=True)
            out, index = fn(a, return_indices=True, **kwargs)
            (out * lib.tensor(g)).sum().backward()
            results.append((out.detach().numpy(), index.numpy(), a.grad.numpy()))
        (out, index, grad), (t_out, t_index, t_grad) = results
        np.testing.assert_array_equal(out, t_out)
        np.testing.assert_array_equal(index, t_index)
        # (overlapping windows sum into one input in another order: rounding only)
        np.testing.assert_allclose(grad, t_grad, rtol=1e-14, atol=1e-15)
    assert nn.MaxPool3d(2, return_indices=True)(mg.tensor(R(1, 1, 4, 4, 4)))[1].shape == \
        (1, 1, 2, 2, 2)


@pytest.mark.parametrize("size", [3, (2, 4), (None, 2), 1, (5, 7)])
def test_adaptive_max_pool2d(size):
    for shape in [(2, 3, 5, 7), (3, 4, 4)]:
        compare_modules(nn.AdaptiveMaxPool2d(size), tnn.AdaptiveMaxPool2d(size), R(*shape))
    _, mi = F.adaptive_max_pool2d(mg.tensor(R(2, 3, 5, 7)), size, return_indices=True)
    _, ti = TF.adaptive_max_pool2d(torch.tensor(R(2, 3, 5, 7)), size, return_indices=True)
    np.testing.assert_array_equal(mi.numpy(), ti.numpy())


def test_adaptive_max_pool2d_nan_wins():
    x = R(1, 1, 4, 4)
    x[0, 0, 1, 2] = np.nan
    m = F.adaptive_max_pool2d(mg.tensor(x), 2, return_indices=True)
    t = TF.adaptive_max_pool2d(torch.tensor(x), 2, return_indices=True)
    np.testing.assert_array_equal(m[0].numpy(), t[0].numpy())
    np.testing.assert_array_equal(m[1].numpy(), t[1].numpy())


# ---------------------------------------------------------------- dropout2d

def test_dropout2d():
    mg.manual_seed(0)
    m = nn.Dropout2d(0.4)
    x = mg.tensor(R(8, 16, 3, 5) + 5.0, requires_grad=True)
    y = m(x)
    kept = y.detach().numpy() != 0
    assert np.all(kept == kept[:, :, :1, :1])  # whole channels
    assert 0.3 < 1 - kept[:, :, 0, 0].mean() < 0.5
    np.testing.assert_allclose(y.detach().numpy()[kept], x.detach().numpy()[kept] / 0.6,
                               rtol=1e-15)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), kept / 0.6, rtol=1e-15)
    y3 = m(mg.tensor(R(4, 6, 9) + 5.0))
    k3 = y3.numpy() != 0
    assert np.all(k3 == k3[:, :, :1])  # (N, C, L), as torch reads a 3-D input
    m.eval()
    assert m(x) is x
    assert repr(m) == "Dropout2d(p=0.4, inplace=False)"
    mg.manual_seed(5)
    a = nn.Dropout2d()(mg.ones(2, 8, 2, 2)).numpy()
    mg.manual_seed(5)
    np.testing.assert_array_equal(a, nn.Dropout2d()(mg.ones(2, 8, 2, 2)).numpy())
    with pytest.raises(ValueError, match="probability"):
        nn.Dropout2d(1.5)


def test_reprs_match_torch():
    pairs = [
        (nn.ConvTranspose2d(3, 4, 3), tnn.ConvTranspose2d(3, 4, 3)),
        (nn.ConvTranspose2d(4, 6, (3, 2), stride=2, padding=1, output_padding=1, groups=2,
                            bias=False, dilation=2),
         tnn.ConvTranspose2d(4, 6, (3, 2), stride=2, padding=1, output_padding=1, groups=2,
                             bias=False, dilation=2)),
        (nn.Embedding(10, 3, padding_idx=-1), tnn.Embedding(10, 3, padding_idx=-1)),
        (nn.Conv3d(2, 4, (1, 2, 3), stride=2, padding=1, bias=False),
         tnn.Conv3d(2, 4, (1, 2, 3), stride=2, padding=1, bias=False)),
        (nn.MaxPool1d(2), tnn.MaxPool1d(2)), (nn.AvgPool1d(3, padding=1), tnn.AvgPool1d(3, padding=1)),
        (nn.MaxPool3d(2, 1), tnn.MaxPool3d(2, 1)), (nn.AvgPool3d(2), tnn.AvgPool3d(2)),
        (nn.AdaptiveMaxPool2d((2, None)), tnn.AdaptiveMaxPool2d((2, None))),
        (nn.Dropout2d(), tnn.Dropout2d()),
    ]
    for m, t in pairs:
        assert repr(m) == repr(t)
