"""The CUDA backend without a GPU.

- Every ``.cu`` source compiles with nvcc for sm_90 and sm_80, and with NVRTC (the
  compiler ``cupy.RawModule`` uses on a GPU machine), each when it is installed; a
  compile error always fails.
- The kernels' element functions, compiled for the host (``tests/cuda/host_harness.cpp``,
  g++), run under the CUDA backend's Python glue (``minigrad/backend/cuda/_glue.py``, with
  NumPy as its array namespace) through minigrad's real ops and layers, and agree with
  the CPU backend. What this cannot check is the launch and the block reductions, which
  need a GPU: ``pytest -m gpu`` runs the same comparisons on CuPy arrays there.
"""
import importlib.metadata
import shutil
import subprocess

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F
from minigrad import backend
from minigrad.backend import numpy_ref

import kernel_harness
from kernel_harness import KERNELS

SOURCES = sorted(KERNELS.glob("*.cu"))


def test_there_are_cuda_sources():
    assert {p.stem for p in SOURCES} == {"conv", "pool", "channel"}


@pytest.mark.parametrize("arch", ["sm_90", "sm_80"])
@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.name)
def test_cuda_sources_compile_with_nvcc(source, arch, tmp_path):
    nvcc = _nvcc()
    if nvcc is None:
        pytest.skip("no CUDA compiler: no nvcc on PATH and no nvidia-cuda-nvcc package")
    run = subprocess.run([nvcc, f"-arch={arch}", "-std=c++17", "-cubin", "-I", str(KERNELS),
                          "-o", str(tmp_path / "k.cubin"), str(source)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    _assert_has_every_kernel(source, (tmp_path / "k.cubin").read_bytes())


def _nvcc():
    """nvcc on PATH, else the one the nvidia-cuda-nvcc wheel (CI's) ships, which pip puts
    inside the package rather than on PATH; None where neither is installed."""
    on_path = shutil.which("nvcc")
    if on_path is not None:
        return on_path
    try:
        wheel = importlib.metadata.distribution("nvidia-cuda-nvcc")
    except importlib.metadata.PackageNotFoundError:
        return None
    nvcc = next((f for f in wheel.files if f.name == "nvcc" and f.parent.name == "bin"), None)
    return None if nvcc is None else str(wheel.locate_file(nvcc))


def _assert_has_every_kernel(source, cubin):
    """Every kernel the source defines is in the binary's symbol table, for both dtypes
    (the names the backend asks RawModule for)."""
    import re
    kernels = re.findall(r"__global__ void (\w+)_##SUFFIX", source.read_text())
    assert kernels
    for kernel in kernels:
        for suffix in ("f32", "f64"):
            assert f"{kernel}_{suffix}".encode() + b"\0" in cubin, f"{kernel}_{suffix}"


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.name)
def test_cuda_sources_compile_with_nvrtc(source):
    nvrtc = pytest.importorskip("cupy_backends.cuda.libs.nvrtc",
                                reason="CuPy (with its NVRTC bindings) is not installed")
    try:
        nvrtc.getVersion()   # loads libnvrtc and compiles nothing
    except nvrtc.NVRTCError:
        raise
    except (OSError, RuntimeError) as e:   # CuPy's loader failing to find/load libnvrtc
        pytest.skip(f"the NVRTC library (nvidia-cuda-nvrtc) is not loadable: {e}")
    header = (KERNELS / "mg_common.cuh").read_bytes()
    prog = nvrtc.createProgram(source.read_text(), source.name, [header], [b"mg_common.cuh"])
    try:
        nvrtc.compileProgram(prog, ["-std=c++17", "--gpu-architecture=sm_90"])
    except nvrtc.NVRTCError:
        pytest.fail(nvrtc.getProgramLog(prog))
    _assert_has_every_kernel(source, nvrtc.getCUBIN(prog))


# ---------------------------------------------------------------- the glue, on the host

@pytest.fixture(scope="module")
def host_backend(cuda_harness):
    return kernel_harness.backend(cuda_harness, "cuda-on-host", numpy_ref)


@pytest.fixture
def on_host_cuda(host_backend):
    """The CUDA glue + host-compiled kernels, which ``_run_both`` dispatches NumPy arrays to."""
    return host_backend


def _run_both(fn, on_host_cuda, monkeypatch):
    """fn() on the CPU backend, then on the CUDA glue; its launches are the glue run's."""
    on_host_cuda.launches.clear()
    monkeypatch.setitem(backend._BY_ARRAY_TYPE, np.ndarray, backend.cpu)
    expected = fn()
    assert not on_host_cuda.launches
    monkeypatch.setitem(backend._BY_ARRAY_TYPE, np.ndarray, on_host_cuda)
    got = fn()
    monkeypatch.setitem(backend._BY_ARRAY_TYPE, np.ndarray, backend.cpu)
    return expected, got


def _grads(out_fn, *leaves):
    def run():
        for t in leaves:
            t.grad = None
        out = out_fn()
        rng = np.random.default_rng(7)
        w = mg.tensor(rng.standard_normal(out.shape).astype(out.array.dtype))
        (out * w).sum().backward()
        return [out.detach().numpy().copy()] + [t.grad.numpy().copy() for t in leaves]
    return run


TOL = {np.float64: dict(rtol=1e-11, atol=1e-12), np.float32: dict(rtol=2e-4, atol=2e-5)}


def test_the_glue_is_the_whole_contract(host_backend):
    import minigrad.backend.contract as contract
    assert contract.missing(host_backend) == []


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", [
    dict(x=(2, 3, 7, 6), w=(4, 3, 3, 3), stride=1, padding=1, dilation=1, groups=1),
    dict(x=(3, 4, 9, 8), w=(6, 2, 3, 2), stride=(2, 1), padding=(1, 2), dilation=(1, 2), groups=2),
    dict(x=(1, 6, 5, 5), w=(6, 1, 5, 5), stride=2, padding=2, dilation=1, groups=6),
    dict(x=(2, 2, 4, 4), w=(3, 2, 1, 1), stride=1, padding=0, dilation=1, groups=1),
])
def test_conv2d_forward_and_both_gradients(case, dtype, on_host_cuda, monkeypatch):
    rng = np.random.default_rng(0)
    x = mg.tensor(rng.standard_normal(case["x"]).astype(dtype), requires_grad=True)
    w = mg.tensor(rng.standard_normal(case["w"]).astype(dtype), requires_grad=True)
    b = mg.tensor(rng.standard_normal(case["w"][0]).astype(dtype), requires_grad=True)
    run = _grads(lambda: F.conv2d(x, w, b, case["stride"], case["padding"], case["dilation"],
                                  case["groups"]), x, w, b)
    expected, got = _run_both(run, on_host_cuda, monkeypatch)
    assert {"im2col", "col2im"} <= set(on_host_cuda.launches)
    for e, g in zip(expected, got):
        np.testing.assert_allclose(g, e, **TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
                                dict(kernel_size=(3, 2), stride=1, dilation=(2, 1),
                                     ceil_mode=True),
                                dict(kernel_size=2, stride=2, padding=1)])
def test_max_pool_with_ties_nans_and_padding(kw, dtype, on_host_cuda, monkeypatch):
    rng = np.random.default_rng(1)
    data = np.round(rng.standard_normal((2, 3, 7, 8)) * 1.5).astype(dtype)   # many ties
    data[0, 0, 2, 3] = np.nan
    x = mg.tensor(data, requires_grad=True)

    def run():
        x.grad = None
        out, index = F.max_pool2d(x, return_indices=True, **kw)
        out.backward(mg.tensor(np.arange(out.numel()).reshape(out.shape).astype(dtype)))
        return out.detach().numpy().copy(), index.numpy().copy(), x.grad.numpy().copy()

    expected, got = _run_both(run, on_host_cuda, monkeypatch)
    assert {"max_pool", "max_pool_backward"} <= set(on_host_cuda.launches)
    for e, g in zip(expected, got):
        np.testing.assert_array_equal(g, e)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
                                dict(kernel_size=3, stride=2, padding=1, ceil_mode=True,
                                     count_include_pad=False)])
def test_avg_pool_and_its_adjoint(kw, dtype, on_host_cuda, monkeypatch):
    rng = np.random.default_rng(2)
    x = mg.tensor(rng.standard_normal((2, 3, 7, 6)).astype(dtype), requires_grad=True)
    expected, got = _run_both(_grads(lambda: F.avg_pool2d(x, **kw), x), on_host_cuda,
                              monkeypatch)
    for e, g in zip(expected, got):
        np.testing.assert_allclose(g, e, **TOL[dtype])
    a = mg.tensor(rng.standard_normal((2, 3, 7, 6)).astype(dtype), requires_grad=True)
    expected, got = _run_both(_grads(lambda: F.adaptive_avg_pool2d(a, (3, 4)), a),
                              on_host_cuda, monkeypatch)
    for e, g in zip(expected, got):
        np.testing.assert_allclose(g, e, **TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(8, 3), (5, 4, 6), (4, 3, 5, 7), (300, 2, 3)])
def test_batchnorm_train_and_eval_on_the_channel_kernels(shape, dtype, on_host_cuda,
                                                         monkeypatch):
    rng = np.random.default_rng(3)
    data = (rng.standard_normal(shape) * 3 + 1e3).astype(dtype)   # a large mean: stable?
    bn_cls = {2: nn.BatchNorm1d, 3: nn.BatchNorm1d, 4: nn.BatchNorm2d}[len(shape)]

    def run():
        bn = bn_cls(shape[1])
        if dtype == np.float64:
            bn = bn.double()
        with mg.no_grad():
            bn.weight.copy_(mg.tensor(np.linspace(0.5, 2, shape[1]).astype(dtype)))
        x = mg.tensor(data, requires_grad=True)
        out = bn(x)
        w = mg.tensor(np.random.default_rng(4).standard_normal(shape).astype(dtype))
        (out * w).sum().backward()
        bn.eval()
        ev = bn(mg.tensor(data))
        return [a.copy() for a in (
            out.detach().numpy(), x.grad.numpy(), bn.weight.grad.numpy(), bn.bias.grad.numpy(),
            bn.running_mean.numpy(), bn.running_var.numpy(), ev.detach().numpy())]

    expected, got = _run_both(run, on_host_cuda, monkeypatch)
    assert {"channel_moments", "channel_affine"} <= set(on_host_cuda.launches)
    if dtype == np.float64:
        for e, g in zip(expected, got):
            np.testing.assert_allclose(g, e, **TOL[dtype])
        return
    # float32 at rtol=1e-6, measured over 40 seeds of this data: the outputs, the input
    # gradient and the statistics need atol <= 8.3e-7 (a few ulps of their O(1) terms; the
    # ~1.3e3 eval outputs are within 1 ulp, inside rtol); the parameter gradients, sums of
    # n products in each backend's own order, <= 5.1e-6 at n=900, so 8 ulps * sqrt(n). (One
    # seed in 40, not this one, puts a channel's mean on a float32 rounding tie that the
    # backends break differently: the mean moves 1 ulp, beyond these tolerances.)
    params = 8 * np.finfo(np.float32).eps * np.sqrt(data.size // shape[1])
    for e, g, atol in zip(expected, got, [2e-6, 2e-6, params, params, 2e-6, 2e-6, 2e-6]):
        np.testing.assert_allclose(g, e, rtol=1e-6, atol=atol)


def test_a_small_cnn_trains_the_same(on_host_cuda, monkeypatch):
    """Three SGD steps of a conv-BN-ReLU-pool net: every kernel family in one model."""
    def run():
        mg.manual_seed(0)
        net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                            nn.MaxPool2d(2), nn.Conv2d(4, 4, 3), nn.ReLU(),
                            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3)).double()
        opt = mg.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
        rng = np.random.default_rng(5)
        x = mg.tensor(rng.standard_normal((6, 1, 8, 8)))
        y = mg.tensor(rng.integers(0, 3, 6))
        for _ in range(3):
            opt.zero_grad()
            F.cross_entropy(net(x), y).backward()
            opt.step()
        return [p.detach().numpy().copy() for p in net.parameters()]

    expected, got = _run_both(run, on_host_cuda, monkeypatch)
    for e, g in zip(expected, got):
        np.testing.assert_allclose(g, e, rtol=1e-10, atol=1e-12)


def test_the_glue_refuses_bad_input_before_any_launch(host_backend):
    with pytest.raises(TypeError, match="conv2d: expected float32 or float64"):
        host_backend.conv2d_forward(np.ones((1, 1, 3, 3), np.int64), np.ones((1, 1, 2, 2)),
                                    (1, 1), (0, 0), (1, 1), 1)
    with pytest.raises(TypeError, match="share one dtype"):
        host_backend.conv2d_forward(np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2), np.float32),
                                    (1, 1), (0, 0), (1, 1), 1)
    with pytest.raises(ValueError, match=r"channel_affine: scale must have shape \(3,\)"):
        host_backend.channel_affine(np.ones((2, 3)), np.ones(2), np.ones(3))
