import os
from pathlib import Path

import numpy as np
import pytest

import minigrad as mg

# Tests that start Python subprocesses (the examples, the MPI scripts, fresh interpreters)
# must import this checkout's minigrad, as the tests themselves do, and not whichever copy
# pip installed in editable mode (another checkout's, in a second worktree).
os.environ["PYTHONPATH"] = os.pathsep.join(
    [str(Path(__file__).resolve().parent.parent), *filter(None, [os.environ.get("PYTHONPATH")])])


@pytest.fixture(autouse=True)
def _seed():
    mg.manual_seed(0)
    np.random.seed(0)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture
def torch():
    """PyTorch as the parity oracle; tests that use it skip cleanly when it is absent."""
    return pytest.importorskip("torch")


# ---------------------------------------------------------------- devices
# One fixture runs the device suites (tests/test_devices.py) on every device there is here:
# "fake" is a stand-in GPU (tests/fake_device.py: CuPy's contract on array_api_strict's
# device1) run by the reference backend, "fake-glue" the same device run by the CUDA
# backend's own glue with its kernels compiled for the host, and "cuda" a real GPU
# (``pytest -m gpu``).

DEVICES = [
    pytest.param("fake", id="fake"),
    pytest.param("fake-glue", id="fake-glue"),
    pytest.param("cuda", id="cuda", marks=[
        pytest.mark.gpu,
        pytest.mark.skipif(not mg.cuda.is_available(),
                           reason="no usable CUDA GPU (needs CuPy and a GPU)")]),
]


@pytest.fixture(scope="session")
def cuda_harness(tmp_path_factory):
    """The CUDA kernels' element functions compiled for the host (tests/kernel_harness.py)."""
    import kernel_harness
    harness = kernel_harness.build(tmp_path_factory.mktemp("cuda_host"))
    if harness is None:
        pytest.skip("no C++ compiler for the host-compiled CUDA kernels")
    return harness


@pytest.fixture(scope="session")
def _fake_glue(cuda_harness):
    import fake_device
    import kernel_harness
    return kernel_harness.backend(cuda_harness, "fake-glue", fake_device.reference_backend(),
                                  fake_device.buffer)


@pytest.fixture(params=DEVICES)
def device(request):
    """The name of a device to run on; the fake one is (re)registered with its backend."""
    if request.param == "cuda":
        return "cuda"
    pytest.importorskip("array_api_strict", reason="array-api-strict is not installed")
    import fake_device
    if request.param == "fake":
        return fake_device.register(fake_device.reference_backend())
    return fake_device.register(request.getfixturevalue("_fake_glue"))


# ---------------------------------------------------------------- the BN claims report
# One quick run of the whole report (``python examples/bn_claims.py --quick``), shared by
# the claim studies' tests (tests/test_claims_*.py): each checks its own studies in it.

@pytest.fixture(scope="session")
def bn_claims_quick(tmp_path_factory):
    """(output directory, stdout) of ``examples/bn_claims.py --quick``; skips without MNIST."""
    import subprocess
    import sys

    from test_examples import EXAMPLES, _mnist_available
    if not _mnist_available():
        pytest.skip("real MNIST not available (set MINIGRAD_DATA)")
    out = tmp_path_factory.mktemp("bn_claims")
    proc = subprocess.run([sys.executable, str(EXAMPLES / "bn_claims.py"), "--quick",
                           "--out", str(out)], capture_output=True, text=True, timeout=600,
                          cwd=out)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out, proc.stdout
