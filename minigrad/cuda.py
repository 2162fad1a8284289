"""``mg.cuda``: whether the CuPy backend can run here."""
from minigrad import backend


def is_available():
    """True when CuPy imports and sees at least one GPU, and minigrad has a backend for it."""
    try:
        backend.for_device("cuda")
    except RuntimeError:
        return False
    return True
