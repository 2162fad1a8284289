"""``mg.backends.cudnn``: PyTorch's cuDNN switches, accepted and readable.

minigrad has no cuDNN: its convolutions run its own kernels (Cython/OpenMP on the CPU,
CUDA kernels through CuPy on a GPU), so ``is_available()`` is False, ``version()`` is None,
and ``enabled``, ``benchmark``, ``deterministic`` and ``allow_tf32`` change nothing. They
keep PyTorch's defaults (True, False, False, True), only take bools (as PyTorch's), and
read back what was set, so scripts that set them, or ``with flags(...)``, run unchanged.
minigrad's kernels are deterministic for a given thread count either way.
"""
import contextlib
import sys
import types

_FLAGS = {"enabled": True, "benchmark": False, "deterministic": False, "allow_tf32": True}


def is_available():
    """False: minigrad does not use cuDNN."""
    return False


def version():
    """None, as PyTorch's where cuDNN is not available."""
    return None


def _set(name, value):
    if not isinstance(value, bool):
        raise RuntimeError(f"set_{name}_cudnn expects a bool, but got {type(value).__name__}")
    _FLAGS[name] = value


def _flag(name):
    return property(lambda self: _FLAGS[name], lambda self, value: _set(name, value),
                    doc=f"cuDNN's {name} switch (no effect: minigrad has no cuDNN)")


class _CudnnModule(types.ModuleType):
    """This module's class: assignments to the switches go through a bool check."""
    enabled = _flag("enabled")
    benchmark = _flag("benchmark")
    deterministic = _flag("deterministic")
    allow_tf32 = _flag("allow_tf32")
    benchmark_limit = None   # (as in PyTorch where cuDNN is not available)


def set_flags(_enabled=None, _benchmark=None, _benchmark_limit=None, _deterministic=None,
              _allow_tf32=None):
    """Set the given switches; returns the previous values of all of them."""
    previous = (_FLAGS["enabled"], _FLAGS["benchmark"], None, _FLAGS["deterministic"],
                _FLAGS["allow_tf32"])
    for name, value in (("enabled", _enabled), ("benchmark", _benchmark),
                        ("deterministic", _deterministic), ("allow_tf32", _allow_tf32)):
        if value is not None:
            _set(name, value)
    return previous


@contextlib.contextmanager
def flags(enabled=False, benchmark=False, benchmark_limit=10, deterministic=False,
          allow_tf32=True):
    """Set the switches for the block (PyTorch's defaults: everything off but TF32) and
    restore them after."""
    previous = set_flags(enabled, benchmark, benchmark_limit, deterministic, allow_tf32)
    try:
        yield
    finally:
        set_flags(*previous)


sys.modules[__name__].__class__ = _CudnnModule

__all__ = ["allow_tf32", "benchmark", "deterministic", "enabled", "flags", "is_available",
           "version"]
