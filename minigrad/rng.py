"""The global random generator behind ``mg.randn``/``rand``/``randint`` and layer init."""
import numpy as np

_generator = np.random.default_rng()


def manual_seed(seed):
    """Reseed the global generator; the same seed gives the same numbers afterwards."""
    global _generator
    _generator = np.random.default_rng(int(seed))


def generator():
    return _generator
