"""``Parameter``, and the uninitialized parameters and buffers of lazy modules."""
import numpy as np

from minigrad import dtypes
from minigrad.tensor import Tensor


class Parameter(Tensor):
    """A leaf tensor that a Module registers as trainable when assigned as an attribute."""

    __slots__ = ()

    def __init__(self, data=None, requires_grad=True):
        if data is None:
            data = np.empty(0, dtype=np.float32)
        super().__init__(data.array if isinstance(data, Tensor) else data, requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


# ---------------------------------------------------------------- lazy parameters and buffers

_SHAPE_ERROR = ("Can't access the shape of an uninitialized parameter or buffer. This error "
                "usually happens in `load_state_dict` when trying to load an uninitialized "
                "parameter into an initialized one. Call `forward` to initialize the "
                "parameters before accessing their attributes.")


def _use_error(what):
    return ValueError(f"Attempted to use an uninitialized parameter in {what}. This error "
                      f"happens when you are using a `LazyModule` or explicitly manipulating "
                      f"`minigrad.nn.parameter.UninitializedParameter` objects. When using "
                      f"LazyModules Call `forward` with a dummy batch to initialize the "
                      f"parameters before calling minigrad functions")


class _Unmaterialized:
    """What an uninitialized parameter or buffer holds instead of an array: the dtype and
    device its array will have. Every other use of it (shape, size, arithmetic, NumPy) is
    an error that says what happened, as in PyTorch."""

    __slots__ = ("dtype", "device")

    def __init__(self, dtype, device):
        from minigrad.device import device as _device
        self.dtype = np.dtype(dtypes.default_float.np if dtype is None
                              else dtypes.to_numpy_dtype(dtype))
        self.device = _device("cpu" if device is None else device)

    @property
    def shape(self):
        raise RuntimeError(_SHAPE_ERROR)

    def astype(self, dtype, copy=True):  # (Module.to(dtype) converts it)
        return _Unmaterialized(dtype, self.device)

    def moved(self, device):  # (Module.to(device) moves it)
        return _Unmaterialized(self.dtype, device)

    def __deepcopy__(self, memo):
        return _Unmaterialized(self.dtype, self.device)

    def backend_error(self):  # (what minigrad.backend.of raises for it: any op's first step)
        return _use_error("an operation")

    def __getattr__(self, name):
        if name.startswith("__"):  # (protocol probes: copy, pickle, NumPy)
            raise AttributeError(name)
        raise _use_error(name)

    def __array__(self, *args, **kwargs):
        raise _use_error("a NumPy conversion")

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        raise _use_error(f"numpy.{ufunc.__name__}")

    def __array_function__(self, func, types, args, kwargs):
        raise _use_error(f"numpy.{func.__name__}")

    def __len__(self):
        raise _use_error("len()")

    def __getitem__(self, index):
        raise _use_error("indexing")

    def __setitem__(self, index, value):
        raise _use_error("an assignment")


def is_lazy(param):
    """Whether ``param`` is an ``UninitializedParameter`` or ``UninitializedBuffer``."""
    return isinstance(param, UninitializedTensorMixin)


class UninitializedTensorMixin:
    """A tensor whose shape is not known yet: it has a dtype, a device and requires_grad,
    and becomes an ordinary tensor of its ``cls_to_become`` when ``materialize``d."""

    __slots__ = ()
    cls_to_become = None

    def _uninitialized(self, requires_grad, device, dtype):
        self.array = _Unmaterialized(dtype, device)
        self.requires_grad = False
        self._grad = self._node = self._slot = self._vc = self._hooks = None
        if requires_grad:
            self.requires_grad_(True)

    def materialize(self, shape, device=None, dtype=None):
        """Give the tensor an (uninitialized) array of ``shape``, on its device and of its
        dtype unless given, and make it an ordinary tensor of ``cls_to_become``."""
        from minigrad.creation import empty
        placeholder = self.array
        self.array = empty(tuple(int(n) for n in shape),
                           dtype=placeholder.dtype if dtype is None else dtype,
                           device=placeholder.device if device is None else device).array
        self.__class__ = self.cls_to_become

    @property
    def device(self):
        return self.array.device

    @property
    def shape(self):
        raise RuntimeError(_SHAPE_ERROR)

    def share_memory_(self):
        raise RuntimeError("Can't share memory on an uninitialized parameter or buffer. Call "
                           "`forward` to initialize the parameters before calling "
                           "`module.share_memory()`.")

    def __repr__(self):
        return f"<{type(self).__name__}>"


class UninitializedParameter(UninitializedTensorMixin, Parameter):
    """A parameter whose shape is not known yet (a lazy module's, until its first
    forward). Only its dtype, device and requires_grad may be read, and it may be moved or
    converted (``Module.to``); any other use is an error."""

    __slots__ = ()
    cls_to_become = Parameter

    def __init__(self, requires_grad=True, device=None, dtype=None):
        self._uninitialized(requires_grad, device, dtype)


class UninitializedBuffer(UninitializedTensorMixin, Tensor):
    """A buffer whose shape is not known yet (a lazy module's running statistics).
    ``persistent`` is accepted for PyTorch's signature; whether the buffer is saved is
    decided where it is registered (``register_buffer(..., persistent=...)``)."""

    __slots__ = ()
    cls_to_become = Tensor

    def __init__(self, requires_grad=False, device=None, dtype=None, persistent=True):
        self._uninitialized(requires_grad, device, dtype)
