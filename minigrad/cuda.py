"""``mg.cuda``: whether the CuPy backend can run here, and the GPU's basic controls."""
from minigrad import backend


def is_available():
    """True when CuPy imports and sees at least one GPU, and minigrad has a backend for it."""
    try:
        backend.for_device("cuda")
    except RuntimeError:
        return False
    return True


def device_count():
    """The number of GPUs CuPy sees (0 without CuPy or without a usable GPU)."""
    if not is_available():
        return 0
    import cupy
    return cupy.cuda.runtime.getDeviceCount()


def synchronize():
    """Wait for every queued GPU kernel to finish (timing needs it: launches return at
    once). A clear error when there is no GPU."""
    backend.for_device("cuda").synchronize()
