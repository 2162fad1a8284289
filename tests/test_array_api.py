"""The reference backend's device-generic kernels on arrays that refuse host NumPy.

``array_api_strict`` arrays on ``Device("device1")`` refuse ``np.asarray``, NumPy ufuncs
and mixing with default-device arrays, so a kernel that leaks to the host or allocates on
the wrong device fails here. These are the kernels ``numpy_ref`` writes with the inputs'
own namespace (the per-channel BatchNorm kernels and the elementwise ones); they give the
NumPy results, on device1. (The ops and layers above them still use NumPy's method API,
which array_api_strict does not have: running the op suites on it is open work.)"""
import numpy as np
import pytest

from minigrad.backend import numpy_ref

xps = pytest.importorskip("array_api_strict", reason="array-api-strict is not installed")
DEVICE = xps.Device("device1")
HOST = xps.Device("CPU_DEVICE")


def on_device(a, dtype):
    return xps.asarray(np.asarray(a, dtype=dtype), device=DEVICE)


def back(x):
    assert x.device == DEVICE, f"a result landed on {x.device}"
    return np.asarray(x.to_device(HOST))


TOL = {np.float32: dict(rtol=1e-5, atol=1e-6), np.float64: dict(rtol=1e-12, atol=1e-13)}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5), (2, 3, 4, 5)])
def test_channel_kernels_stay_on_the_device_and_agree_with_numpy(shape, dtype):
    rng = np.random.default_rng(0)
    a = rng.standard_normal(shape) * 3 + 100
    g = rng.standard_normal(shape)
    scale, shift = rng.standard_normal(shape[1]), rng.standard_normal(shape[1])
    x, gx = on_device(a, dtype), on_device(g, dtype)
    s, b = on_device(scale, dtype), on_device(shift, dtype)
    # the expected values straight from NumPy in float64, from the inputs as the kernels
    # get them (rounded to dtype)
    a, g, scale, shift = (np.asarray(v, dtype).astype(np.float64) for v in (a, g, scale, shift))
    axes = (0,) + tuple(range(2, len(shape)))

    def per_channel(v):
        return v.reshape((1, -1) + (1,) * (len(shape) - 2))

    mean, var = numpy_ref.channel_moments(x)
    np.testing.assert_allclose(back(mean), a.mean(axes), **TOL[dtype])
    np.testing.assert_allclose(back(var), a.var(axes), **TOL[dtype])
    np.testing.assert_allclose(back(numpy_ref.channel_sum(x)), a.sum(axes), **TOL[dtype])
    centered = a - per_channel(back(mean).astype(np.float64))   # the layers' center: mean
    np.testing.assert_allclose(back(numpy_ref.channel_affine(x, s, b, center=mean)),
                               centered * per_channel(scale) + per_channel(shift), **TOL[dtype])
    dx, sum_g, sum_gx = numpy_ref.channel_affine_backward(gx, x, s, center=mean)
    np.testing.assert_allclose(back(dx), g * per_channel(scale), **TOL[dtype])
    np.testing.assert_allclose(back(sum_g), g.sum(axes), **TOL[dtype])
    np.testing.assert_allclose(back(sum_gx), (g * centered).sum(axes), **TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_elementwise_kernels_stay_on_the_device(dtype):
    a = np.array([[-1.5, 0.0, 2.0], [np.nan, 3.0, -0.5]])
    g = np.arange(6.0).reshape(2, 3)
    x, gx = on_device(a, dtype), on_device(g, dtype)
    np.testing.assert_array_equal(back(numpy_ref.relu(x)), np.maximum(a, 0).astype(dtype))
    # the gradient passes where relu's output is positive or NaN (as in PyTorch)
    np.testing.assert_array_equal(back(numpy_ref.relu_backward(gx, numpy_ref.relu(x))),
                                  np.where(np.maximum(a, 0) <= 0, 0, g).astype(dtype))
    np.testing.assert_allclose(back(numpy_ref.matmul(x, gx.T)),   # (NaN rows match NaN)
                               a.astype(dtype) @ g.T.astype(dtype), **TOL[dtype])
    np.testing.assert_array_equal(back(numpy_ref.add(x, gx)), (a + g).astype(dtype))


def test_mixing_with_the_host_is_refused():
    """The stand-in does its job: host NumPy and another device are refused."""
    x = on_device([1.0, 2.0], np.float64)
    with pytest.raises((TypeError, RuntimeError, ValueError)):
        np.asarray(x)
    with pytest.raises((TypeError, ValueError)):
        x + xps.asarray([1.0, 2.0])


def test_the_fake_device_refuses_what_cupy_refuses():
    """tests/fake_device.py (the device fixture's stand-in GPU) is strict where CuPy is:
    implicit conversion to host NumPy, NumPy ufuncs and functions on device arrays, host
    arrays as operands or indices all raise; Python and NumPy scalars and the explicit
    copies (xp.asarray in, .get() out) work, and results stay on device1."""
    import fake_device as fd
    x = fd.on_device([1.0, -2.0, 3.0])
    host = np.array([1.0, 2.0, 3.0])
    for leak in (lambda: np.asarray(x), lambda: np.sqrt(x), lambda: np.sum(x),
                 lambda: x + host, lambda: host * x, lambda: x[np.array([0, 2])],
                 lambda: fd.xp.maximum(x, host), lambda: x.__setitem__(np.array([0]), 1.0),
                 lambda: x.ctypes, lambda: x.__array_interface__, lambda: memoryview(x)):
        with pytest.raises((fd.HostLeak, AttributeError, TypeError)):
            leak()
    y = fd.xp.maximum(x * 2 + np.float64(1), 0)[fd.xp.asarray([0, 2])]
    assert type(y) is fd.Array and y.device == DEVICE
    np.testing.assert_array_equal(y.get(), [3.0, 7.0])
    total = fd.xp.sum(x)                 # a full reduction stays a (0-d) device array
    assert type(total) is fd.Array and total.shape == () and float(total) == 2.0
