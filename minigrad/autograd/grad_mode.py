"""Whether operations are recorded on the tape. Thread-local, like PyTorch's grad mode."""
import functools
import threading


class _State(threading.local):
    enabled = True


_state = _State()


def is_grad_enabled():
    return _state.enabled


class _GradMode:
    """Base for context managers that also work as decorators, with or without
    parentheses (``@no_grad()`` and ``@no_grad``, as PyTorch accepts both)."""

    mode = True

    def __new__(cls, *args, **kwargs):
        if len(args) == 1 and not kwargs and callable(args[0]) and cls._bare_decorator:
            return cls()(args[0])   # @no_grad without parentheses: decorate at once
        return super().__new__(cls)

    _bare_decorator = True

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


class inference_mode(_GradMode):
    """PyTorch's ``inference_mode(mode=True)``: a context manager and decorator (with or
    without parentheses) that records nothing, as ``no_grad``. PyTorch's inference tensors
    also refuse later use in autograd and skip version counting; minigrad's tensors made
    here are ordinary tensors that do not require grad."""

    def __init__(self, mode=True):
        self.mode = not mode

    def __call__(self, func):
        mode = self.mode

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with inference_mode(not mode):
                return func(*args, **kwargs)
        return wrapper


class set_grad_enabled(_GradMode):
    """PyTorch's three uses: ``set_grad_enabled(False)`` as a plain call switches grad mode
    (it takes effect when constructed), ``with set_grad_enabled(m):`` restores the previous
    mode on exit, and ``@set_grad_enabled(m)`` decorates without changing the current mode."""

    _bare_decorator = False

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
