"""One flat kernel API per array library.

Each backend module exposes ``xp`` (the array namespace: NumPy or, later, CuPy) and the
same-named kernels: ``matmul``, ``channel_stats``, ``channel_sum``, ``channel_grad_sums``.
``numpy_ref`` is the pure-NumPy oracle every compiled kernel is tested against; ``cpu``
runs the Cython/OpenMP kernels. Ops find their backend from the array they hold, so the
same op code runs on any array library that has a backend here.
"""
import numpy as np

from minigrad.backend import cpu

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
