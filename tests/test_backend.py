"""The backend contract: every backend provides every name, and minigrad still works when
the compiled kernels are missing (on the reference backend, with a warning)."""
import subprocess
import sys

import numpy as np
import pytest

from minigrad.backend import contract, cpu, numpy_ref


@pytest.mark.parametrize("module", [cpu, numpy_ref], ids=["cpu", "reference"])
def test_backend_provides_the_whole_contract(module):
    assert contract.missing(module) == []
    for name in contract.CONTRACT:
        if name not in ("xp", "name", "device_type"):
            assert callable(getattr(module, name)), name


def test_contract_lists_every_backend_name_that_ops_use():
    """Any attribute ops take from a backend must be in the written contract."""
    import pathlib
    import re
    root = pathlib.Path(__file__).resolve().parents[1] / "minigrad"
    used = set()
    for path in list(root.glob("ops/*.py")) + list(root.glob("nn/*.py")) + \
            list(root.glob("autograd/*.py")):
        text = path.read_text()
        used |= set(re.findall(r"backend\.of\([^()]*(?:\([^()]*\))?[^()]*\)\.(\w+)", text))
        used |= set(re.findall(r"\bbe\.(\w+)", text))
    assert used, "the scan found no backend calls"
    assert sorted(used - set(contract.CONTRACT)) == []


def test_view_rule():
    a = np.arange(12.0).reshape(3, 4)
    assert np.shares_memory(cpu.view(a, (4, 3)), a)
    with pytest.raises(ValueError, match="view: shape"):
        cpu.view(a.T, (12,))


_TRAIN_STEP = """
import sys, warnings
if sys.argv[1] == "hide":
    sys.modules["minigrad._kernels._channel"] = None   # as if the extension were never built
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import minigrad as mg
    import minigrad.nn as nn
warned = any("compiled kernels are not built" in str(w.message) for w in caught)
mg.manual_seed(0)
net = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.BatchNorm2d(3), nn.ReLU(),
                    nn.MaxPool2d(2), nn.Flatten(), nn.Linear(3 * 4 * 4, 5))
x, y = mg.randn(4, 1, 8, 8), mg.tensor([0, 1, 2, 3])
loss = nn.functional.cross_entropy(net(x), y)
loss.backward()
print(mg.backend.cpu.name, warned, round(loss.item(), 6), float(net[0].weight.grad.abs().sum()))
"""


def test_minigrad_runs_on_the_reference_backend_without_compiled_kernels():
    runs = [subprocess.run([sys.executable, "-c", _TRAIN_STEP, mode], capture_output=True,
                           text=True, timeout=120) for mode in ("hide", "normal")]
    for r in runs:
        assert r.returncode == 0, r.stderr
    name, warned, loss, gsum = runs[0].stdout.split()
    name2, warned2, loss2, gsum2 = runs[1].stdout.split()
    assert (name, warned) == ("reference", "True")     # fallback, and it says so
    assert (name2, warned2) == ("cpu", "False")
    assert float(loss) == pytest.approx(float(loss2), rel=1e-5)
    assert float(gsum) == pytest.approx(float(gsum2), rel=1e-4)
