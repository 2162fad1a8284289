"""``mg.cuda``: whether the CuPy backend can run here."""


def is_available():
    """True when CuPy imports and sees at least one GPU, and minigrad has a backend for it."""
    from minigrad import backend
    try:
        backend.for_device("cuda")
    except RuntimeError:
        return False
    return True
