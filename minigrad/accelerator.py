"""``mg.accelerator``: PyTorch 2.13's ``torch.accelerator``, the device-neutral way scripts
pick where to run::

    device = mg.accelerator.current_accelerator().type if mg.accelerator.is_available() \\
        else "cpu"

minigrad's one accelerator is CUDA through CuPy. It counts as *built* when CuPy is
installed (as a CUDA build of PyTorch is, GPU or not) and as *available* when CuPy also
finds a usable GPU (``mg.cuda.is_available()``). minigrad places a ``"cuda"`` tensor on
GPU 0 (name ``"cuda:1"`` for another), so the current device index is always 0.

Not here, because minigrad has no such thing to control: streams (``current_stream``,
``set_stream``), CUDA graphs (``Graph``) and the caching allocator's statistics
(``memory_*``, ``empty_cache``).
"""
import importlib.util

from minigrad import cuda
from minigrad.device import device as _device

_NONE_AVAILABLE = "Cannot access accelerator device when none is available."


def _built():
    """Whether this minigrad could run on CUDA given a GPU: CuPy is installed."""
    return importlib.util.find_spec("cupy") is not None


def current_accelerator(check_available=False):
    """``mg.device("cuda")`` when the CUDA backend is built (CuPy installed), else None;
    with ``check_available``, None also when no usable GPU is found. The device has no
    index (see ``current_device_index``)."""
    if not _built() or (check_available and not is_available()):
        return None
    return _device("cuda")


def is_available():
    """True when the accelerator is built and sees at least one usable GPU."""
    return current_accelerator() is not None and cuda.is_available()


def device_count():
    """The number of GPUs the accelerator sees (0 without one)."""
    return cuda.device_count() if current_accelerator() is not None else 0


def _require():
    if not is_available():
        raise RuntimeError(_NONE_AVAILABLE)


def _index(device, optional):
    """The device index that ``device`` (an int, a string or an ``mg.device``) names."""
    if isinstance(device, int):
        return device
    if isinstance(device, str):
        device = _device(device)
    index = None
    if isinstance(device, _device):
        acc = current_accelerator()
        if acc is None:
            raise RuntimeError("Accelerator expected")
        if device.type != acc.type:
            raise ValueError(f"{device.type} doesn't match the current accelerator {acc}.")
        index = device.index
    elif device is not None:
        raise TypeError(f"expected a device index (int), a device name or an mg.device, "
                        f"got {type(device).__name__}")
    if index is None:
        if not optional:
            raise ValueError(f"Expected a device with a specified index or an integer, but "
                             f"got:{device}")
        return current_device_index()
    return index


def current_device_index():
    """The index of the current device: 0, where minigrad puts ``"cuda"`` tensors."""
    _require()
    return 0


def set_device_index(device, /):
    """Make ``device`` the current device. minigrad's current device is always GPU 0, so
    only 0 (or a negative index, a no-op as in PyTorch) is accepted; to use another GPU,
    name it in ``.to("cuda:1")``."""
    _require()
    index = _index(device, optional=False)
    if index >= 0 and index != 0:
        raise RuntimeError(f"set_device_index({index}): minigrad puts 'cuda' tensors on GPU 0 "
                           f"and has no other current device; move tensors and modules to "
                           f"'cuda:{index}' explicitly instead")


class device_index:
    """Context manager making ``device`` (an int, or None for no change) the current device
    for its block; see ``set_device_index`` for what minigrad accepts."""

    def __init__(self, device, /):
        self.idx = device

    def __enter__(self):
        if self.idx is not None:
            set_device_index(self.idx)

    def __exit__(self, *exc_info):
        return None


def synchronize(device=None, /):
    """Wait until every kernel queued on the GPU has finished."""
    _require()
    index = _index(device, optional=True)
    if index == 0:
        cuda.synchronize()
    else:
        import cupy
        cupy.cuda.Device(index).synchronize()


__all__ = ["current_accelerator", "current_device_index", "device_count", "device_index",
           "is_available", "set_device_index", "synchronize"]
