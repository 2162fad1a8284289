"""minigrad's exception classes, each two builtins at once.

PyTorch raises ``RuntimeError`` where Python code (and NumPy) would raise ``ValueError`` or
``TypeError``: shapes that do not fit, dtypes that do not match. Users porting PyTorch code
catch ``RuntimeError``; users of Python libraries catch ``ValueError``. These classes are
both, so either ``except`` works.
"""


class InvalidArgument(ValueError, RuntimeError):
    """A shape or value an op refuses (PyTorch: RuntimeError)."""


class InvalidDtype(TypeError, RuntimeError):
    """A dtype an op refuses or a mix of dtypes it will not combine (PyTorch: RuntimeError)."""
