"""``mg.backends.mps``: Apple's Metal Performance Shaders, which minigrad does not use;
``is_built()`` and ``is_available()`` are False everywhere, so the usual
``"mps" if torch.backends.mps.is_available() else "cpu"`` picks the CPU."""


def is_built():
    """False: minigrad has no Metal backend."""
    return False


def is_available():
    """False: minigrad has no Metal backend."""
    return False


__all__ = ["is_available", "is_built"]
