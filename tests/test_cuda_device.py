"""Devices on a machine without a usable GPU: minigrad imports and works on the CPU, says
plainly that 'cuda' is unavailable and why, and never copies between devices implicitly.
(With a GPU, ``pytest -m gpu`` runs tests/test_devices.py on it.)"""
import subprocess
import sys

import numpy as np
import pytest

import minigrad as mg


def _no_gpu():
    try:
        import cupy
    except ImportError:
        return True
    return not cupy.is_available()


pytestmark = pytest.mark.skipif(not _no_gpu(), reason="a GPU is available: see test_devices.py")

NOT_AVAILABLE = "device 'cuda' is not available"


def test_cuda_is_unavailable_and_every_way_in_says_so():
    assert mg.cuda.is_available() is False
    assert mg.cuda.device_count() == 0
    attempts = [lambda: mg.ones(2).to("cuda"), lambda: mg.ones(2).cuda(),
                lambda: mg.ones(2, device="cuda"), lambda: mg.randn(2, device="cuda:0"),
                lambda: mg.tensor([1.0], device="cuda"), lambda: mg.nn.Linear(2, 2).to("cuda"),
                lambda: mg.cuda.synchronize()]
    for attempt in attempts:
        with pytest.raises(RuntimeError, match=NOT_AVAILABLE):
            attempt()
    # and the CPU path is untouched
    x = mg.ones(2, device="cpu", requires_grad=True)
    (x.to("cpu") * 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2, 2])
    assert str(x.device) == "cpu" and x.cpu() is x


def test_the_error_names_what_is_missing_cupy_or_a_gpu():
    """Without CuPy the message says to install it; with CuPy but no GPU it says CuPy
    finds none (checked in a fresh interpreter where cupy cannot be imported)."""
    code = ("import sys; sys.modules['cupy'] = None\n"
            "import minigrad as mg\n"
            "assert mg.cuda.is_available() is False\n"
            "try:\n    mg.ones(1).cuda()\nexcept RuntimeError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert "needs CuPy" in out.stdout and "[cuda13]" in out.stdout
    try:
        import cupy  # noqa: F401
    except ImportError:
        return
    with pytest.raises(RuntimeError, match="CuPy is installed but finds no usable GPU"):
        mg.ones(1).cuda()


def test_nothing_imports_cupy_until_cuda_is_asked_for():
    """Without CuPy, all of minigrad imports and trains, the CUDA glue the host tests run
    included; with CuPy installed, none of that imports it either."""
    work = ("import sys\nimport minigrad as mg, minigrad.nn as nn, minigrad.nn.functional as F\n"
            "import minigrad.backend.cuda, minigrad.backend.cuda._glue, minigrad.distributed\n"
            "net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten(),"
            " nn.Linear(2 * 4 * 4, 3))\n"
            "F.cross_entropy(net(mg.randn(2, 1, 6, 6)), mg.tensor([0, 2])).backward()\n")
    for block in ("import sys; sys.modules['cupy'] = None\n", ""):
        code = block + work + "print(sys.modules.get('cupy') is not None)\n"
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             timeout=120)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == "False"


class _FakeDeviceArray(np.ndarray):
    """A NumPy array that reports itself on another device, to reach the device check."""


def test_an_op_on_two_devices_names_both(monkeypatch):
    tensor_mod = sys.modules["minigrad.tensor"]   # (mg.tensor is the function)
    real = tensor_mod.device_of
    monkeypatch.setattr(tensor_mod, "device_of", lambda a: mg.device("cuda", 0)
                        if isinstance(a, _FakeDeviceArray) else real(a))
    a = mg.ones(3)
    b = mg.ones(3)
    b.array = b.array.view(_FakeDeviceArray)
    with pytest.raises(RuntimeError, match="add: expected all tensors to be on the same "
                                           "device, but found at least two devices, cpu and "
                                           "cuda:0"):
        a + b


def test_device_objects_follow_torch():
    assert mg.device("cuda:1") == mg.device("cuda", 1)
    assert str(mg.device("cuda", 1)) == "cuda:1" and mg.device("cpu") == "cpu"
    assert repr(mg.device("cuda:0")) == "device(type='cuda', index=0)"
    with pytest.raises(ValueError, match="unknown device"):
        mg.device("tpu")
