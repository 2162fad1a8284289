"""Whether operations are recorded on the tape. Thread-local, like PyTorch's grad mode."""
import functools
import threading


class _State(threading.local):
    enabled = True


_state = _State()


def is_grad_enabled():
    return _state.enabled


class _GradMode:
    """Base for context managers that also work as decorators."""

    mode = True

    def __enter__(self):
        self._prev = _state.enabled
        _state.enabled = self.mode

    def __exit__(self, *exc):
        _state.enabled = self._prev
        return False

    def __call__(self, func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with self.__class__():
                return func(*args, **kwargs)
        return wrapper


class no_grad(_GradMode):
    """Do not record operations: results never require grad."""
    mode = False


class enable_grad(_GradMode):
    """Record operations again inside a ``no_grad`` region."""
    mode = True


class set_grad_enabled(_GradMode):
    """PyTorch's three uses: ``set_grad_enabled(False)`` as a plain call switches grad mode
    (it takes effect when constructed), ``with set_grad_enabled(m):`` restores the previous
    mode on exit, and ``@set_grad_enabled(m)`` decorates without changing the current mode."""

    def __init__(self, mode):
        self.mode = bool(mode)
        self._prev = _state.enabled
        _state.enabled = self.mode

    def __enter__(self):
        pass

    def __call__(self, func):
        _state.enabled = self._prev  # decorating is not a switch
        mode = self.mode

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(mode):
                return func(*args, **kwargs)
        return wrapper
