"""Pooling and resizing beyond float32/float64: integer max pooling (values, PyTorch's index
convention, return_indices, the module, max unpooling) and interpolate on uint8 and float16,
against PyTorch bit for bit where PyTorch's own arithmetic is fixed."""
import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F
from minigrad.backend import cpu, numpy_ref
from minigrad.errors import InvalidDtype

INTS = ["uint8", "int8", "int16", "int32", "int64"]
POOLS = [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
         dict(kernel_size=(2, 3), stride=1, padding=(1, 0), dilation=(2, 1), ceil_mode=True),
         dict(kernel_size=3, stride=2, ceil_mode=True)]


def ints(rng, shape, dtype):
    info = np.iinfo(dtype)
    # few distinct values (ties) and the type's extremes (the lowest must beat padding)
    a = rng.integers(0, 4, shape).astype(np.int64)
    return np.choose(a, [info.min, info.max, 0, 1]).astype(dtype)


# ---------------------------------------------------------------- integer max pooling

def test_integer_max_pool2d_is_computed():
    """Refused by name before ('expected float32 or float64 input'); PyTorch computes it."""
    out = F.max_pool2d(mg.ones(1, 1, 4, 4).long(), 2)
    assert out.dtype == mg.int64
    assert out.tolist() == [[[[1, 1], [1, 1]]]]


@pytest.mark.parametrize("dtype", INTS)
@pytest.mark.parametrize("cfg", POOLS)
def test_integer_max_pool2d_matches_torch(torch, rng, dtype, cfg):
    a = ints(rng, (2, 3, 7, 6), dtype)
    y, i = F.max_pool2d(mg.tensor(a), return_indices=True, **cfg)
    ty, ti = torch.nn.functional.max_pool2d(torch.tensor(a), return_indices=True, **cfg)
    assert y.dtype == getattr(mg, dtype) and i.dtype == mg.int64
    np.testing.assert_array_equal(y.numpy(), ty.numpy())
    np.testing.assert_array_equal(i.numpy(), ti.numpy())
    np.testing.assert_array_equal(F.max_pool2d(mg.tensor(a[0]), **cfg).numpy(), ty.numpy()[0])


def test_integer_window_of_padding_only_is_the_lowest_value(torch):
    a = np.arange(4).reshape(1, 1, 2, 2)
    for dtype in INTS:
        y, i = F.max_pool2d(mg.tensor(a.astype(dtype)), 2, 1, 1, dilation=3, return_indices=True)
        ty = torch.nn.functional.max_pool2d(torch.tensor(a.astype(dtype)), 2, 1, 1, dilation=3)
        np.testing.assert_array_equal(y.numpy(), ty.numpy())
        assert i.tolist() == [[[[-1]]]]  # (minigrad's documented index for such a window)


@pytest.mark.parametrize("dtype", INTS)
@pytest.mark.parametrize("threads", [1, 2])
def test_integer_max_pool_kernel_matches_reference(rng, dtype, threads):
    from minigrad._shapes import window_out_size as _out_size
    before = mg.get_num_threads()
    mg.set_num_threads(threads)
    try:
        a = ints(rng, (8, 4, 65, 41), dtype)  # (> 64k elements: several threads)
        for k, s, p, d in [((2, 2), (2, 2), (0, 0), (1, 1)), ((3, 2), (1, 2), (1, 1), (2, 1))]:
            hw = tuple(_out_size(n, *t, False) for n, t in zip(a.shape[2:], zip(k, s, p, d)))
            y, i = cpu.max_pool2d(a, k, s, p, d, hw)
            y_ref, i_ref = numpy_ref.max_pool2d(a, k, s, p, d, hw)
            np.testing.assert_array_equal(y, y_ref)
            np.testing.assert_array_equal(i, i_ref)
    finally:
        mg.set_num_threads(before)


def test_integer_max_pool_errors():
    with pytest.raises(InvalidDtype, match="max_pool2d.*bool"):
        F.max_pool2d(mg.ones(1, 1, 4, 4).bool(), 2)
    with pytest.raises(InvalidDtype, match="avg_pool2d"):
        F.avg_pool2d(mg.ones(1, 1, 4, 4).long(), 2)
    with pytest.raises(RuntimeError, match="floating point"):
        mg.ones(1, 1, 4, 4).long().requires_grad_()
    # PyTorch pools integers in 1-D only through the return_indices path
    with pytest.raises(InvalidDtype, match="return_indices"):
        F.max_pool1d(mg.ones(1, 1, 4).long(), 2)


def test_integer_max_pool1d_and_3d_match_torch(torch, rng):
    TF = torch.nn.functional
    a = ints(rng, (2, 3, 9), "int16")
    y, i = F.max_pool1d(mg.tensor(a), 3, 2, 1, return_indices=True)
    ty, ti = TF.max_pool1d(torch.tensor(a), 3, 2, 1, return_indices=True)
    np.testing.assert_array_equal(y.numpy(), ty.numpy())
    np.testing.assert_array_equal(i.numpy(), ti.numpy())
    for dtype in ("uint8", "int64"):
        for cfg in [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
                    dict(kernel_size=(2, 3, 2), stride=1, padding=(1, 1, 0),
                         dilation=(2, 1, 1), ceil_mode=True)]:
            a = ints(rng, (2, 2, 5, 6, 5), dtype)
            y, i = F.max_pool3d(mg.tensor(a), return_indices=True, **cfg)
            ty, ti = TF.max_pool3d(torch.tensor(a), return_indices=True, **cfg)
            np.testing.assert_array_equal(y.numpy(), ty.numpy())
            np.testing.assert_array_equal(i.numpy(), ti.numpy())


def test_max_pool2d_module_return_indices(torch, rng):
    x = rng.standard_normal((2, 3, 6, 6))
    m, t = nn.MaxPool2d(3, 2, 1, return_indices=True), torch.nn.MaxPool2d(3, 2, 1,
                                                                          return_indices=True)
    assert repr(m) == repr(t)
    mx = mg.tensor(x, requires_grad=True)
    (y, i), (ty, ti) = m(mx), t(torch.tensor(x))
    np.testing.assert_array_equal(y.detach().numpy(), ty.numpy())
    np.testing.assert_array_equal(i.numpy(), ti.numpy())
    assert not i.requires_grad and y.requires_grad
    y.sum().backward()
    assert mx.grad.numpy().sum() == y.numel()
    with mg.no_grad():  # the unrecorded path finds the same indices
        np.testing.assert_array_equal(m(mx)[1].numpy(), ti.numpy())


# ---------------------------------------------------------------- max unpooling

@pytest.mark.parametrize("cfg", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
                                 dict(kernel_size=(2, 3), stride=(2, 1))])
def test_max_unpool2d_matches_torch(torch, rng, cfg):
    TF = torch.nn.functional
    x = rng.standard_normal((2, 3, 7, 8))
    _, ti = TF.max_pool2d(torch.tensor(x), return_indices=True, **cfg)
    v = rng.standard_normal(tuple(ti.shape))
    sizes = [(7, 8), [2, 3, 7, 8]]
    if cfg["kernel_size"] == 2:  # (the default size holds the indices)
        sizes.append(None)
    for size in sizes:
        mv, tv = mg.tensor(v, requires_grad=True), torch.tensor(v, requires_grad=True)
        my = F.max_unpool2d(mv, mg.tensor(ti.numpy()), output_size=size, **cfg)
        ty = TF.max_unpool2d(tv, ti, output_size=size, **cfg)
        np.testing.assert_array_equal(my.detach().numpy(), ty.detach().numpy())
        g = rng.standard_normal(tuple(ty.shape))
        (my * mg.tensor(g)).sum().backward()
        (ty * torch.tensor(g)).sum().backward()
        np.testing.assert_array_equal(mv.grad.numpy(), tv.grad.numpy())


def test_max_unpool2d_module_and_errors(torch, rng):
    assert repr(nn.MaxUnpool2d(2)) == repr(torch.nn.MaxUnpool2d(2))
    assert repr(nn.MaxUnpool2d((2, 3), 1, 1)) == repr(torch.nn.MaxUnpool2d((2, 3), 1, 1))
    x = rng.standard_normal((1, 2, 4, 4))
    pool, unpool = nn.MaxPool2d(2, return_indices=True), nn.MaxUnpool2d(2)
    y, i = pool(mg.tensor(x))
    back = unpool(y, i)
    ty, ti = torch.nn.MaxPool2d(2, return_indices=True)(torch.tensor(x))
    np.testing.assert_array_equal(back.numpy(), torch.nn.MaxUnpool2d(2)(ty, ti).numpy())
    assert unpool(y, i, output_size=[1, 2, 5, 5]).shape == (1, 2, 5, 5)
    assert unpool(y[0], i[0]).shape == (2, 4, 4)
    with pytest.raises(RuntimeError, match="invalid max index: 16"):
        F.max_unpool2d(y, i * 0 + 16, 2)
    with pytest.raises(RuntimeError, match="invalid max index: -1"):
        F.max_unpool2d(y, i * 0 - 1, 2)
    with pytest.raises(InvalidDtype, match="int64"):
        F.max_unpool2d(y, i.int(), 2)
    with pytest.raises(ValueError, match="same as that of the input"):
        F.max_unpool2d(y, i[..., :1], 2)
    with pytest.raises(ValueError, match="3d or 4d"):
        F.max_unpool2d(y[0, 0], i[0, 0], 2)
    with pytest.raises(ValueError, match="invalid output_size"):
        F.max_unpool2d(y, i, 2, output_size=(7, 7))
    with pytest.raises(ValueError, match="2 or 4 elements"):
        F.max_unpool2d(y, i, 2, output_size=(4, 4, 4))


# ---------------------------------------------------------------- interpolate: uint8, float16

RESIZES = [dict(size=(29, 7)), dict(size=(5, 4)), dict(size=(2, 9)), dict(scale_factor=1.7),
           dict(scale_factor=(0.5, 3)), dict(scale_factor=1.1),
           dict(scale_factor=0.3, recompute_scale_factor=True)]


def test_uint8_bilinear_weights_are_not_integers(torch):
    """The reported case: the weights were computed in uint8 ([0 10 20 40 ...])."""
    a = np.array([[[[0, 10, 20, 40, 80, 160, 200, 255]]]], dtype=np.uint8).repeat(2, 2)
    y = F.interpolate(mg.tensor(a), size=(2, 13), mode="bilinear")
    ty = torch.nn.functional.interpolate(torch.tensor(a), size=(2, 13), mode="bilinear")
    assert y.dtype == mg.uint8
    np.testing.assert_array_equal(y.numpy(), ty.numpy())
    assert y.numpy()[0, 0, 0, :4].tolist() == [0, 4, 10, 17]


@pytest.mark.parametrize("C", [1, 3, 5])
@pytest.mark.parametrize("align", [False, True])
@pytest.mark.parametrize("kwargs", RESIZES)
def test_uint8_bilinear_matches_torch_exactly(torch, rng, C, align, kwargs):
    """PyTorch's integer arithmetic (int16 weights, separable passes rounded to uint8) for
    every channel count: PyTorch's AVX kernel (C <= 4) and its generic one (C > 4) agree."""
    for hw in [(13, 11), (4, 4), (4, 7)]:
        a = rng.integers(0, 256, (2, C) + hw).astype(np.uint8)
        kw = dict(mode="bilinear", align_corners=align, **kwargs)
        try:
            ty = torch.nn.functional.interpolate(torch.tensor(a), **kw)
        except RuntimeError as e:  # (PyTorch 2.13's AVX kernel fails an internal assert
            assert "INTERNAL ASSERT" in str(e)  # on some 1-row outputs)
            continue
        np.testing.assert_array_equal(F.interpolate(mg.tensor(a), **kw).numpy(), ty.numpy())


@pytest.mark.parametrize("mode", ["nearest", "nearest-exact"])
@pytest.mark.parametrize("dtype", ["uint8", "float64"])
def test_nearest_modes_match_torch(torch, rng, mode, dtype):
    """Including PyTorch's shortcuts (a copy when the size is kept, a halving at twice the
    size, whatever the scale) and their absence in 'nearest-exact'."""
    for kwargs in RESIZES[:-1] + [dict(scale_factor=(2.0000001, 1.4))]:
        a = (rng.standard_normal((2, 3, 7, 6)) * 50).astype(dtype)
        ty = torch.nn.functional.interpolate(torch.tensor(a), mode=mode, **kwargs)
        np.testing.assert_array_equal(F.interpolate(mg.tensor(a), mode=mode, **kwargs).numpy(),
                                      ty.numpy())


@pytest.mark.parametrize("align", [False, True])
def test_float16_bilinear_within_one_ulp_of_torch(torch, rng, align):
    """float16 is resized in float32 (weights included) and rounded once, as in PyTorch;
    differences left are PyTorch's fused multiply-adds (at most one float16 ulp)."""
    for C, kwargs in [(1, dict(size=(29, 7))), (3, dict(size=(5, 4))), (3, dict(size=(100, 60))),
                      (20, dict(scale_factor=1.7))]:
        x = rng.standard_normal((2, C, 13, 11)).astype(np.float16)
        kw = dict(mode="bilinear", align_corners=align, **kwargs)
        y = F.interpolate(mg.tensor(x), **kw).numpy()
        ty = torch.nn.functional.interpolate(torch.tensor(x), **kw).numpy()
        assert y.dtype == np.float16
        assert (np.abs(y.astype(np.float64) - ty) <= np.spacing(np.abs(ty))).all()
        assert (y == ty).mean() > 0.99


@pytest.mark.parametrize("align", [False, True])
def test_float16_linear_1d_matches_torch_exactly(torch, rng, align):
    """In 1-D PyTorch always takes its generic kernel (float16 weights, float32 sums)."""
    for kwargs in [dict(size=9), dict(scale_factor=1.7), dict(size=200)]:
        x = rng.standard_normal((2, 3, 13)).astype(np.float16)
        kw = dict(mode="linear", align_corners=align, **kwargs)
        np.testing.assert_array_equal(F.interpolate(mg.tensor(x), **kw).numpy(),
                                      torch.nn.functional.interpolate(torch.tensor(x), **kw))


def test_float32_bilinear_weights_in_float32(torch, rng):
    x = rng.standard_normal((2, 3, 13, 11)).astype(np.float32)
    for kwargs in RESIZES:
        kw = dict(mode="bilinear", **kwargs)
        y = F.interpolate(mg.tensor(x), **kw).numpy()
        assert y.dtype == np.float32
        np.testing.assert_allclose(y, torch.nn.functional.interpolate(torch.tensor(x), **kw),
                                   rtol=2e-6, atol=2e-6)


@pytest.mark.parametrize("mode, kwargs", [
    ("linear", dict(size=9)), ("linear", dict(scale_factor=0.6, align_corners=True)),
    ("nearest", dict(size=9)), ("nearest-exact", dict(scale_factor=1.5)), ("area", dict(size=4)),
    ("area", dict(scale_factor=0.5))])
def test_three_d_and_area_modes_match_torch(torch, rng, mode, kwargs):
    from test_layers_more import compare_fn
    compare_fn(lambda x: F.interpolate(x, mode=mode, **kwargs),
               lambda x: torch.nn.functional.interpolate(x, mode=mode, **kwargs),
               rng.standard_normal((2, 3, 7)))
    if mode == "area":
        compare_fn(lambda x: F.interpolate(x, mode=mode, **kwargs),
                   lambda x: torch.nn.functional.interpolate(x, mode=mode, **kwargs),
                   rng.standard_normal((2, 3, 7, 6)))


def test_interpolate_dtype_errors():
    with pytest.raises(InvalidDtype, match="uint8"):
        F.interpolate(mg.ones(1, 1, 2, 2).long(), size=3)
    with pytest.raises(InvalidDtype, match="floating point"):
        F.interpolate(mg.ones(1, 1, 2).byte(), size=3, mode="linear")
    with pytest.raises(ValueError, match="recompute_scale_factor"):
        F.interpolate(mg.ones(1, 1, 2, 2), size=3, recompute_scale_factor=True)
    with pytest.raises(NotImplementedError, match="antialias"):
        F.interpolate(mg.ones(1, 1, 2, 2), size=3, mode="bilinear", antialias=True)
    with pytest.raises(ValueError, match="Anti-alias"):
        F.interpolate(mg.ones(1, 1, 2, 2), size=3, antialias=True)
