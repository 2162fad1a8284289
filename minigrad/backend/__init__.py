"""One flat kernel API per array library; ``contract.py`` lists it.

Each backend module exposes ``xp`` (the array namespace: NumPy or, later, CuPy), its
array policy (``view``, ``is_channel_reduction``) and the same-named kernels (``matmul``,
``channel_moments``, ``channel_affine``, ``conv2d_forward``, ...). ``numpy_ref`` is the
reference every compiled kernel is tested against; ``cpu`` runs the Cython/OpenMP kernels.
Ops find their backend from the array they hold, so the same op code runs on any array
library that has a backend here. Without compiled kernels (a source checkout never built)
the reference backend stands in for ``cpu``, with a warning.
"""
import importlib.machinery
import importlib.metadata
import json
import warnings
from pathlib import Path
from urllib.parse import unquote, urlparse

import numpy as np


def _has_kernels(package_dir):
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    return any(f.name.endswith(suffixes) for f in (Path(package_dir) / "_kernels").glob("_*"))


def _installed_elsewhere(here):
    """When ``here`` (the imported package's directory) has no compiled kernels: the directory
    of another installed minigrad that has them, which ``here`` shadows; else None. Found
    through the installed distributions' metadata: the files a regular install lists, or the
    project directory of an editable one (PEP 610's direct_url.json)."""
    here = Path(here).resolve()
    if _has_kernels(here):  # built, but failed to load: not a matter of shadowing
        return None
    for dist in importlib.metadata.distributions(name="minigrad"):
        places = [Path(dist.locate_file(f)).parent for f in dist.files or ()
                  if f.parts == ("minigrad", "__init__.py")]
        direct = json.loads(dist.read_text("direct_url.json") or "{}")
        if direct.get("dir_info", {}).get("editable") and direct["url"].startswith("file:"):
            places.append(Path(unquote(urlparse(direct["url"]).path)) / "minigrad")
        for pkg in places:
            if pkg.resolve() != here and _has_kernels(pkg):
                return pkg.resolve()
    return None


def _not_built_message(error):
    here = Path(__file__).resolve().parent.parent
    try:
        installed = _installed_elsewhere(here)
    except Exception:  # a broken metadata directory must not break the import
        installed = None
    if installed is None:
        return (f"minigrad: the compiled kernels are not built ({error}); running on the slow "
                f"NumPy reference backend. Build them in place with `pip install -e .` from "
                f"the repository root.")
    return (f"minigrad: imported the source checkout {here}, whose compiled kernels are not "
            f"built, instead of the installed minigrad in {installed}: the checkout shadows "
            f"the installed package because Python looks in the current directory (or "
            f"PYTHONPATH) first. Running on the slow NumPy reference backend. Either build the "
            f"checkout in place with `pip install -e .` from the repository root, or run from "
            f"another directory so that the installed package is imported.")


try:
    from minigrad.backend import cpu
except ImportError as _e:  # the compiled kernels are missing
    warnings.warn(_not_built_message(_e), RuntimeWarning, stacklevel=2)
    from minigrad.backend import numpy_ref as cpu

_BY_ARRAY_TYPE = {np.ndarray: cpu}
_BY_DEVICE_TYPE = {"cpu": cpu}   # "cuda" joins on first use (it needs CuPy and a GPU)
DEVICE_TYPES = {"cpu", "cuda"}   # the names mg.device accepts


def register(device_type, array_type, module):
    """Make ``device_type`` a device whose arrays are ``array_type``, run by the backend
    ``module`` (the whole contract, device entries included). CUDA registers itself on
    first use; the tests register a fake device this way."""
    DEVICE_TYPES.add(device_type)
    _BY_ARRAY_TYPE[array_type] = module
    _BY_DEVICE_TYPE[device_type] = module


def _is_cupy(array_type):
    return array_type.__module__.split(".")[0] == "cupy"


def of(array):
    """The backend for ``array``'s type."""
    try:
        return _BY_ARRAY_TYPE[type(array)]
    except KeyError:
        if _is_cupy(type(array)):
            return for_device("cuda")
        why = getattr(type(array), "backend_error", None)  # (a lazy module's placeholder)
        if why is not None:
            raise why(array) from None
        raise TypeError(f"no minigrad backend for arrays of type {type(array).__name__}") from None


def is_array(data):
    """True for an array that some backend runs (NumPy's, CuPy's, a registered type's)."""
    return type(data) in _BY_ARRAY_TYPE or _is_cupy(type(data))


def for_device(device):
    """The backend for a device name such as ``"cpu"`` or ``"cuda"``."""
    kind = str(device).split(":")[0]
    module = _BY_DEVICE_TYPE.get(kind)
    if module is not None:
        return module
    if kind == "cuda":
        return _cuda()
    raise ValueError(f"unknown device {device!r}; expected 'cpu' or 'cuda'")


def _cuda():
    """The CUDA backend, loaded on first use; a clear error saying what is missing."""
    try:
        import cupy
    except ImportError:
        raise RuntimeError(
            "device 'cuda' is not available: minigrad's CUDA backend needs CuPy; install it "
            "with `pip install -e \".[cuda13]\"` (or [cuda12]) on a machine with an NVIDIA "
            "GPU") from None
    if not cupy.is_available():
        raise RuntimeError(
            "device 'cuda' is not available: CuPy is installed but finds no usable GPU "
            "(no device, or no driver for its CUDA version); mg.cuda.is_available() is False")
    from minigrad.backend.cuda import gpu
    register("cuda", cupy.ndarray, gpu)
    return gpu


def to_host(array):
    """``array`` as a NumPy array on the host: itself when it is one, else a copy from its
    device (synchronizing)."""
    return array if isinstance(array, np.ndarray) else of(array).to_host(array)


def move(array, device):
    """``array`` on ``device``: an explicit copy between host and a device (or ``array``
    itself when it is there already). The only place minigrad copies across devices."""
    from minigrad.device import device as _device, device_of
    where, there = device_of(array), _device(device)
    if where == there:
        return array
    if where.type != there.type and where.type != "cpu":
        array = of(array).to_host(array)     # device to host, synchronizing
    if there.type == "cpu":
        return array
    return for_device(there).from_host(array, there.index or 0)
