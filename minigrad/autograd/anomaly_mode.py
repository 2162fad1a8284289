"""Anomaly detection (PyTorch's ``torch.autograd.detect_anomaly``): while it is on, every
recorded node keeps the stack of the forward call that made it, and backward checks each
rule's results for NaN, naming the node and printing where it was made.

Off (the default), recording reads one flag per node (``Node.__init__``) and the replay
reads it once per pass: nothing is captured and nothing is checked. As in PyTorch the mode
is process-wide, not per thread.
"""
import os
import traceback
import warnings


class _State:
    enabled = False
    check_nan = True


_state = _State()


def is_anomaly_enabled():
    return _state.enabled


def is_anomaly_check_nan_enabled():
    return _state.check_nan


def set_anomaly_enabled(enabled, check_nan=True):
    """PyTorch's ``torch.set_anomaly_enabled``: switch the mode, no restoring."""
    _state.enabled = bool(enabled)
    _state.check_nan = bool(check_nan)


class detect_anomaly:
    """Turn anomaly detection on inside a ``with`` block (the previous mode comes back on
    exit). ``check_nan``: raise when a backward rule returns NaN. Also a decorator (torch
    2.13's is a context manager only)."""

    def __init__(self, check_nan=True):
        self.prev = _state.enabled
        self.prev_check_nan = _state.check_nan
        self.check_nan = check_nan
        warnings.warn("Anomaly Detection has been enabled. This mode will increase the runtime "
                      "and should only be enabled for debugging.", stacklevel=2)

    def __enter__(self):
        set_anomaly_enabled(True, self.check_nan)

    def __exit__(self, *exc):
        set_anomaly_enabled(self.prev, self.prev_check_nan)
        return False

    def __call__(self, func):
        import functools

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with self:
                return func(*args, **kwargs)
        return wrapper


class set_detect_anomaly:
    """Set the mode at once (a function call), or for a ``with`` block: the previous mode
    comes back on exit."""

    def __init__(self, mode, check_nan=True):
        self.prev = _state.enabled
        self.prev_check_nan = _state.check_nan
        set_anomaly_enabled(mode, check_nan)

    def __enter__(self):
        pass

    def __exit__(self, *exc):
        set_anomaly_enabled(self.prev, self.prev_check_nan)
        return False


# ------------------------------------------------------------------ used by the tape
# Frames in these parts of minigrad are op dispatch (PyTorch's C++): the printed stack
# stops at the last frame outside them, the user's line or a composite's (nn.functional).
_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_DISPATCH = tuple(os.path.join(_PACKAGE, p) for p in ("autograd", "ops", "_tensor", "tensor.py",
                                                      "__init__.py"))


def forward_stack():
    """The stack of the forward call now recording a node (kept only while the mode is on)."""
    return traceback.extract_stack()


def torch_name(node):
    """The node's name as PyTorch prints it: ``SqrtBackward0`` for a primitive, the bare
    ``MyFnBackward`` for an ``autograd.Function`` (PyTorch numbers only its built-ins)."""
    return node.name + ("0" if isinstance(node.op, type) else "")


def warn_forward_stack(node):
    """PyTorch's warning: which node failed, and where its forward call was made."""
    stack = node.__dict__.get("forward_stack")
    name = torch_name(node)
    if stack is None:
        warnings.warn(f"Error detected in {name}. No forward pass information available. "
                      f"Enable detect anomaly during forward pass for more information.",
                      stacklevel=2)
        return
    frames = list(stack)
    while frames and frames[-1].filename.startswith(_DISPATCH):
        frames.pop()
    warnings.warn(f"Error detected in {name}. Traceback of forward call that caused the "
                  f"error:\n" + "".join(traceback.format_list(frames)), stacklevel=2)
