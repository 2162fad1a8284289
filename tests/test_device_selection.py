"""What real scripts do to pick a device, unchanged on a CPU-only or a CUDA machine:
``mg.accelerator`` (torch.accelerator), ``mg.backends.cudnn`` / ``mg.backends.mps``, the
tensor's ``is_cpu``/``is_cuda``/``is_mps``/``is_xpu``, and ``nn.DataParallel`` (also at
``nn.parallel``), each against PyTorch where PyTorch's answer on this machine is the same
question (a CPU-only PyTorch answers as minigrad without CuPy)."""
import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
from minigrad import accelerator

HAS_CUDA = mg.cuda.is_available()


# ---------------------------------------------------------------- mg.accelerator
def test_the_usual_idiom_picks_a_device():
    device = (mg.accelerator.current_accelerator().type if mg.accelerator.is_available()
              else "cpu")
    assert device == ("cuda" if HAS_CUDA else "cpu")
    model = nn.Linear(3, 2).to(device)
    assert model(mg.ones(4, 3, device=device)).device.type == device


def test_without_a_gpu_as_a_cpu_only_torch(torch, monkeypatch):
    monkeypatch.setattr(accelerator, "_built", lambda: False)   # (no CuPy)
    assert torch.accelerator.is_available() is accelerator.is_available() is False
    assert torch.accelerator.current_accelerator() is accelerator.current_accelerator() is None
    assert accelerator.current_accelerator(check_available=True) is None
    assert torch.accelerator.device_count() == accelerator.device_count() == 0
    for name, args in [("current_device_index", ()), ("synchronize", ()),
                       ("set_device_index", (0,))]:
        with pytest.raises(RuntimeError) as theirs:
            getattr(torch.accelerator, name)(*args)
        with pytest.raises(RuntimeError) as ours:
            getattr(accelerator, name)(*args)
        assert str(ours.value) == str(theirs.value)
    with torch.accelerator.device_index(None), accelerator.device_index(None):
        pass
    with pytest.raises(RuntimeError, match="none is available"):
        with accelerator.device_index(0):
            pass


def test_cupy_without_a_gpu_is_a_cuda_build_without_a_device(monkeypatch):
    """As a CUDA build of PyTorch on a machine without a GPU: the accelerator is CUDA, but
    it is not available."""
    monkeypatch.setattr(accelerator, "_built", lambda: True)
    monkeypatch.setattr(mg.cuda, "is_available", lambda: False)
    assert accelerator.current_accelerator() == mg.device("cuda")
    assert accelerator.current_accelerator().index is None
    assert accelerator.current_accelerator(check_available=True) is None
    assert not accelerator.is_available() and accelerator.device_count() == 0


def test_with_a_gpu(monkeypatch):
    if not HAS_CUDA:   # (pretend, for the bookkeeping; a real GPU run checks the rest)
        monkeypatch.setattr(accelerator, "_built", lambda: True)
        monkeypatch.setattr(mg.cuda, "is_available", lambda: True)
        monkeypatch.setattr(mg.cuda, "device_count", lambda: 2)
    assert accelerator.is_available()
    assert accelerator.current_accelerator(check_available=True) == mg.device("cuda")
    assert accelerator.device_count() >= 1
    assert accelerator.current_device_index() == 0
    accelerator.set_device_index(0)
    accelerator.set_device_index(-1)           # (negative: a no-op, as in PyTorch)
    accelerator.set_device_index("cuda:0")
    with accelerator.device_index(0):
        pass
    with pytest.raises(RuntimeError, match="has no other current device"):
        accelerator.set_device_index(1)
    with pytest.raises(ValueError, match="doesn't match the current accelerator"):
        accelerator.set_device_index("cpu")
    with pytest.raises(ValueError, match="with a specified index"):
        accelerator.set_device_index("cuda")


@pytest.mark.gpu
@pytest.mark.skipif(not HAS_CUDA, reason="no usable CUDA GPU (needs CuPy and a GPU)")
def test_on_a_real_gpu():
    assert accelerator.device_count() == mg.cuda.device_count() >= 1
    accelerator.synchronize()
    accelerator.synchronize(0)


# ---------------------------------------------------------------- mg.backends
def test_cudnn_switches_as_torchs(torch):
    cudnn, tcudnn = mg.backends.cudnn, torch.backends.cudnn
    names = ("enabled", "benchmark", "deterministic", "allow_tf32")
    assert [getattr(cudnn, n) for n in names] == [getattr(tcudnn, n) for n in names] \
        == [True, False, False, True]
    assert cudnn.is_available() is False and cudnn.version() is None
    assert cudnn.benchmark_limit is None
    try:
        for value in (True, False):
            for n in names:
                setattr(cudnn, n, value)
                assert getattr(cudnn, n) is value
        for bad in (1, "yes", None):
            with pytest.raises(RuntimeError, match="expects a bool, but got") as ours:
                cudnn.benchmark = bad
            with pytest.raises(RuntimeError) as theirs:
                tcudnn.benchmark = bad
            assert str(ours.value) == str(theirs.value)
        cudnn.benchmark, cudnn.deterministic = True, False
        with cudnn.flags(enabled=False, deterministic=True), \
                tcudnn.flags(enabled=False, deterministic=True):
            assert (cudnn.enabled, cudnn.benchmark, cudnn.deterministic, cudnn.allow_tf32) \
                == (tcudnn.enabled, tcudnn.benchmark, tcudnn.deterministic,
                    tcudnn.allow_tf32) == (False, False, True, True)
        assert (cudnn.enabled, cudnn.benchmark, cudnn.deterministic) == (False, True, False)
    finally:
        cudnn.enabled, cudnn.benchmark, cudnn.deterministic, cudnn.allow_tf32 = \
            True, False, False, True


def test_cudnn_switches_change_no_result():
    x = mg.tensor(np.random.default_rng(0).standard_normal((2, 3, 8, 8)))
    conv = nn.Conv2d(3, 4, 3).double()
    before = conv(x).detach().numpy()
    try:
        mg.backends.cudnn.benchmark = True
        mg.backends.cudnn.deterministic = True
        np.testing.assert_array_equal(conv(x).detach().numpy(), before)
    finally:
        mg.backends.cudnn.benchmark = mg.backends.cudnn.deterministic = False


def test_mps_is_never_there(torch):
    assert mg.backends.mps.is_available() is mg.backends.mps.is_built() is False
    device = "mps" if mg.backends.mps.is_available() else "cpu"
    assert device == "cpu"


# ---------------------------------------------------------------- tensor flags
def test_tensor_device_flags(torch):
    for lib in (mg, torch):
        t = lib.zeros(2)
        assert (t.is_cpu, t.is_cuda, t.is_mps, t.is_xpu) == (True, False, False, False)


def test_tensor_device_flags_on_a_device(device):
    t = mg.zeros(2, device=device)
    assert not t.is_cpu and not t.is_mps and not t.is_xpu
    assert t.is_cuda == (device == "cuda")


# ---------------------------------------------------------------- nn.DataParallel
def _net():
    return nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3), nn.Tanh()).double()


def test_data_parallel_without_a_gpu_runs_the_module_as_it_is(torch, rng, monkeypatch):
    monkeypatch.setattr(accelerator, "_built", lambda: False)
    net = _net()
    dp = nn.DataParallel(net)
    tdp = torch.nn.DataParallel(torch.nn.Linear(4, 3))
    assert dp.module is net and dp.device_ids == tdp.device_ids == []
    assert list(dp.state_dict()) == ["module." + k for k in net.state_dict()]
    assert [k for k in tdp.state_dict()] == ["module.weight", "module.bias"]
    x = mg.tensor(rng.standard_normal((5, 4)), requires_grad=True)
    out = dp(x)
    ref = _net()
    ref.load_state_dict({k[len("module."):]: v for k, v in dp.state_dict().items()})
    np.testing.assert_array_equal(out.detach().numpy(), ref(x).detach().numpy())
    out.sum().backward()
    assert net[0].weight.grad is not None and x.grad is not None
    # a checkpoint of the wrapper loads into a wrapper, as in PyTorch
    dp2 = nn.DataParallel(_net())
    dp2.load_state_dict(dp.state_dict())
    assert nn.parallel.DataParallel is nn.DataParallel
    np.testing.assert_array_equal(nn.parallel.data_parallel(net, x).detach().numpy(),
                                  net(x).detach().numpy())


def _pretend_accelerator(monkeypatch, device, count):
    monkeypatch.setattr(accelerator, "current_accelerator",
                        lambda check_available=False: mg.device(device))
    monkeypatch.setattr(accelerator, "device_count", lambda: count)


def test_data_parallel_with_one_gpu_moves_module_and_inputs(device, monkeypatch, rng):
    """On one accelerator (here the test device standing in for CUDA): the module moves
    there at construction, the inputs at each call; gradients reach CPU inputs."""
    _pretend_accelerator(monkeypatch, device, 1)
    net = _net()
    dp = nn.DataParallel(net)
    assert dp.device_ids == [0] and dp.output_device == 0
    assert all(p.device == mg.device(device) for p in net.parameters())
    x = mg.tensor(rng.standard_normal((5, 4)), requires_grad=True)
    out = dp(x)
    assert out.device == mg.device(device)
    (out * out).sum().backward()
    assert x.grad.device.type == "cpu"
    ref = _net()
    ref.load_state_dict({k: v.cpu() for k, v in net.state_dict().items()})
    xr = mg.tensor(x.detach().numpy(), requires_grad=True)
    outr = ref(xr)
    (outr * outr).sum().backward()
    np.testing.assert_allclose(out.detach().cpu().numpy(), outr.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), xr.grad.numpy(), rtol=1e-10)
    net.to("cpu")
    with pytest.raises(RuntimeError, match=r"module must have its parameters and buffers on "
                                           r"device .* \(device_ids\[0\]\)"):
        dp(x)


def test_data_parallel_with_several_gpus_runs_on_the_first(device, monkeypatch, rng):
    _pretend_accelerator(monkeypatch, device, 2)
    net = _net().to(device)
    with pytest.warns(UserWarning, match="runs the whole batch on"):
        dp = nn.DataParallel(net, device_ids=[0, 1], output_device=0)
    x = mg.tensor(rng.standard_normal((6, 4)))
    out = dp(x)
    assert out.device == mg.device(device) and out.shape == (6, 3)
