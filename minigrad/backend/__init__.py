"""One flat kernel API per array library; ``contract.py`` lists it.

Each backend module exposes ``xp`` (the array namespace: NumPy or, later, CuPy), its
array policy (``view``, ``is_channel_reduction``) and the same-named kernels (``matmul``,
``channel_moments``, ``channel_affine``, ``conv2d_forward``, ...). ``numpy_ref`` is the
reference every compiled kernel is tested against; ``cpu`` runs the Cython/OpenMP kernels.
Ops find their backend from the array they hold, so the same op code runs on any array
library that has a backend here. Without compiled kernels (a source checkout never built)
the reference backend stands in for ``cpu``, with a warning.
"""
import warnings

import numpy as np

try:
    from minigrad.backend import cpu
except ImportError as _e:  # the compiled kernels are missing
    warnings.warn(f"minigrad: the compiled kernels are not built ({_e}); running on the slow "
                  f"NumPy reference backend. Build them with `pip install -e .` (or "
                  f"`pip install .`) from the repository root.", RuntimeWarning, stacklevel=2)
    from minigrad.backend import numpy_ref as cpu

_BY_ARRAY_TYPE = {np.ndarray: cpu}


def of(array):
    """The backend for ``array``'s type."""
    try:
        return _BY_ARRAY_TYPE[type(array)]
    except KeyError:
        raise TypeError(f"no minigrad backend for arrays of type {type(array).__name__}") from None


def for_device(device):
    """The backend for a device name such as ``"cpu"`` or ``"cuda"``."""
    kind = str(device).split(":")[0]
    if kind == "cpu":
        return cpu
    if kind == "cuda":
        raise RuntimeError(
            "device 'cuda' is not available: minigrad's CUDA backend needs CuPy and a GPU "
            "(mg.cuda.is_available() is False)")
    raise ValueError(f"unknown device {device!r}; expected 'cpu' or 'cuda'")
