import numpy as np
import pytest

import minigrad as mg


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
