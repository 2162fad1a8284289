"""A fake GPU for the tests: CuPy's contract, kept on array_api_strict's ``Device("device1")``.

minigrad's ops are written to NumPy's API, which CuPy mirrors on the GPU. What breaks on
a GPU is code that reaches the host behind CuPy's back: ``np.asarray`` of a device array,
a NumPy function or ufunc applied to one, a host array meeting a device array in an
operator or a function, or a host array used as an index. CuPy refuses each of these, and
so does this stand-in:

* every array lives in an ``array_api_strict`` array on ``Device("device1")``;
* the namespace ``xp`` and the arrays' methods give NumPy's API (as CuPy does), computing
  on the device buffer and returning device arrays (full reductions give 0-d arrays, not
  host scalars, as in CuPy);
* ``__array__``, NumPy ufuncs and functions, and any host ``np.ndarray`` operand or index
  raise ``HostLeak``. Python and NumPy scalars are accepted, as CuPy accepts them; the
  explicit copies are ``xp.asarray(host)`` in and ``a.get()`` out, as in CuPy.

``register()`` makes it a minigrad device named "fake" whose backend is any backend module
built on ``xp`` (the reference backend, or the CUDA glue with host-compiled kernels).
"""
import operator
import types

import array_api_strict as xps
import numpy as np

DEVICE = xps.Device("device1")
_Strict = type(xps.asarray(0.0))


class HostLeak(TypeError):
    """Raised where CuPy would refuse an implicit host/device conversion or mixture."""


def _host(v, where):
    """The device buffer behind ``v`` (an Array, or a tuple/list/slice/dict of them), for
    computing on it; host arrays are refused."""
    t = type(v)
    if t is Array:
        return v._x._array
    if t in (tuple, list):
        return t(_host(e, where) for e in v)
    if t is dict:
        return {k: _host(e, where) for k, e in v.items()}
    if t is slice:
        return slice(_host(v.start, where), _host(v.stop, where), _host(v.step, where))
    if isinstance(v, np.ndarray):
        raise HostLeak(f"{where}: a host NumPy array (shape {v.shape}, {v.dtype}) met an "
                       f"array on the device; copy it explicitly (xp.asarray) first")
    if isinstance(v, _Strict):
        raise HostLeak(f"{where}: a raw array_api_strict array on {v.device}")
    return v


def _device(r):
    """A computed result back on the device: arrays and NumPy scalars become Arrays (a full
    reduction gives a 0-d array, as in CuPy)."""
    if isinstance(r, np.ndarray):
        return Array(_Strict._new(r, device=DEVICE))
    if isinstance(r, np.generic):
        return Array(_Strict._new(np.asarray(r), device=DEVICE))
    if isinstance(r, tuple):   # (NumPy's linalg results are named tuples)
        return tuple(_device(e) for e in r)
    if type(r) is list:
        return [_device(e) for e in r]
    return r


def _on_device(fn, where):
    def call(*args, **kwargs):
        return _device(fn(*_host(args, where), **_host(kwargs, where)))
    call.__name__ = where
    return call


class _Flags:
    """CuPy's flags: contiguity and ownership, no ``writeable``."""
    __slots__ = ("c_contiguous", "f_contiguous", "owndata")

    def __init__(self, a):
        self.c_contiguous = a.flags.c_contiguous
        self.f_contiguous = a.flags.f_contiguous
        self.owndata = a.flags.owndata

    def __getitem__(self, key):
        return getattr(self, key.lower())


_HOST_ONLY = {"ctypes", "tobytes", "tofile", "dump", "dumps", "data", "base", "getfield",
              "setfield", "byteswap", "newbyteorder"}


class Array:
    __slots__ = ("_x",)
    __array_priority__ = 1000

    def __init__(self, strict):
        self._x = strict

    # -- what CuPy refuses
    def __array__(self, *args, **kwargs):
        raise HostLeak(f"implicit conversion of a device array {self.shape} to host NumPy; "
                       f"use .get() (or Tensor.cpu()/.numpy())")

    def __array_ufunc__(self, ufunc, method, *args, **kwargs):
        raise HostLeak(f"NumPy ufunc {ufunc.__name__}.{method} applied to a device array "
                       f"{self.shape}; use the array's own namespace")

    def __array_function__(self, func, types, args, kwargs):
        raise HostLeak(f"NumPy function {func.__name__} applied to a device array "
                       f"{self.shape}; use the array's own namespace")

    # -- what CuPy has
    def __array_namespace__(self, api_version=None):
        return xp

    def get(self):
        """The explicit device-to-host copy."""
        return self._x._array.copy()

    @property
    def device(self):
        return self._x.device

    @property
    def shape(self):
        return self._x._array.shape

    @shape.setter
    def shape(self, shape):     # (CuPy's rule: in place where the strides allow it)
        self._x._array.shape = shape

    @property
    def flags(self):
        return _Flags(self._x._array)

    @property
    def T(self):
        return _device(self._x._array.T)

    def __getattr__(self, name):
        if name.startswith("_") or name in _HOST_ONLY:    # the buffer protocols, __array_*
            raise AttributeError(f"a device array has no {name!r} (it is not on the host)")
        value = getattr(self._x._array, name)
        if callable(value):
            return _on_device(value, f"ndarray.{name}")
        return _device(value)

    def __getitem__(self, key):
        return _device(self._x._array[_host(key, "indexing")])

    def __setitem__(self, key, value):
        self._x._array[_host(key, "index assignment")] = _host(value, "index assignment")

    def __len__(self):
        return len(self._x._array)

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __bool__(self):
        return bool(self._x._array)

    def __float__(self):
        return float(self._x._array)

    def __int__(self):
        return int(self._x._array)

    def __index__(self):
        return operator.index(self._x._array)

    def __complex__(self):
        return complex(self._x._array)

    def __repr__(self):
        return f"fake_device.Array({self._x._array!r})"

    def __format__(self, spec):
        return format(self._x._array, spec)


def _operator(name):
    fn = getattr(operator, f"__{name}__")

    def op(self, other):
        return _device(fn(self._x._array, _host(other, f"operator {name}")))

    def rop(self, other):
        return _device(fn(_host(other, f"operator {name}"), self._x._array))

    def iop(self, other):
        inner = getattr(operator, f"__i{name}__")(self._x._array, _host(other, f"operator i{name}"))
        if inner is not self._x._array:
            raise TypeError(f"in-place {name} did not stay in place")
        return self
    return op, rop, iop


for _name in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul",
              "and", "or", "xor", "lshift", "rshift"):
    _op, _rop, _iop = _operator(_name)
    setattr(Array, f"__{_name}__", _op)
    setattr(Array, f"__r{_name}__", _rop)
    setattr(Array, f"__i{_name}__", _iop)
for _name in ("lt", "le", "eq", "ne", "gt", "ge"):
    setattr(Array, f"__{_name}__", _operator(_name)[0])
for _name in ("neg", "pos", "abs", "invert"):
    setattr(Array, f"__{_name}__",
            (lambda fn: lambda self: _device(fn(self._x._array)))(getattr(operator, _name)))
Array.__hash__ = None


class _Ufunc:
    """A NumPy ufunc on device arrays, with its ``at``/``reduce``/``outer`` methods."""

    def __init__(self, ufunc):
        self._ufunc = ufunc
        self.__name__ = ufunc.__name__

    def __call__(self, *args, **kwargs):
        return _on_device(self._ufunc, self.__name__)(*args, **kwargs)

    def __getattr__(self, name):
        return _on_device(getattr(self._ufunc, name), f"{self.__name__}.{name}")


class _Random:
    """``xp.random``: generators that draw on the device (CuPy's ``default_rng``)."""

    @staticmethod
    def default_rng(seed=None):
        return _Generator(np.random.default_rng(seed))


class _Generator:
    def __init__(self, gen):
        self._gen = gen

    def __getattr__(self, name):
        return _on_device(getattr(self._gen, name), f"random.{name}")


class _Submodule:
    """A NumPy submodule (``xp.linalg``) on device arrays; its classes (LinAlgError) as
    they are."""

    def __init__(self, module, name):
        self._module, self._name = module, name

    def __getattr__(self, name):
        value = getattr(self._module, name)
        if callable(value) and not isinstance(value, type):
            return _on_device(value, f"{self._name}.{name}")
        return value


class _Namespace:
    """``xp``: NumPy's namespace on the device."""
    ndarray = Array
    random = _Random()
    __name__ = "fake_device.xp"

    def asarray(self, a, dtype=None, order=None, **kwargs):
        """Device arrays pass through; host data is copied in (CuPy's explicit copy)."""
        if type(a) is Array:
            return _device(np.asarray(a._x._array, dtype=dtype, order=order))
        if isinstance(a, _Strict):
            raise HostLeak("asarray: a raw array_api_strict array")
        return _device(np.array(a, dtype=dtype, order=order, copy=True))

    array = asarray

    def ascontiguousarray(self, a, dtype=None):
        return _device(np.ascontiguousarray(_host(a, "ascontiguousarray"), dtype=dtype))

    def __getattr__(self, name):
        value = getattr(np, name)
        if isinstance(value, types.ModuleType):   # xp.linalg: its functions on the device
            wrapped = _Submodule(value, name)
        elif isinstance(value, np.ufunc):
            wrapped = _Ufunc(value)
        elif callable(value) and not isinstance(value, type):
            wrapped = _on_device(value, name)
        else:
            wrapped = value   # constants, dtypes, scalar types
        setattr(self, name, wrapped)
        return wrapped


xp = _Namespace()


def buffer(a):
    """The device buffer behind an Array, as a kernel launch gets it (tests' launcher)."""
    if type(a) is not Array:
        raise HostLeak(f"a kernel was launched with a host {type(a).__name__}")
    return a._x._array


def on_device(a, dtype=None):
    """Host data as a device array."""
    return xp.asarray(a, dtype=dtype)


# ---------------------------------------------------------------- as a minigrad device

DEVICE_TYPE = "fake"


def _device_entries(module, name):
    """The contract's device entries for a backend on this fake device."""
    import scipy.special
    module.xp, module.name, module.device_type = xp, name, DEVICE_TYPE
    module.device_index = lambda a: None
    module.to_host = lambda a: a.get()
    module.from_host = lambda a, index: xp.asarray(a)
    module.generator = lambda seed, index: xp.random.default_rng(seed)
    module.synchronize = lambda: None
    module.erf = _on_device(scipy.special.erf, "erf")   # (the device's own, as cupyx's)
    module.erfinv = _on_device(scipy.special.erfinv, "erfinv")
    module.lgamma = _on_device(scipy.special.gammaln, "lgamma")
    return module


def reference_backend():
    """minigrad's reference backend, its kernels running on this fake device."""
    import types

    from minigrad.backend import contract, numpy_ref
    module = types.ModuleType("fake_device.reference")
    for name in contract.CONTRACT:
        setattr(module, name, getattr(numpy_ref, name))
    return _device_entries(module, "fake-reference")


def register(module):
    """Make "fake" a minigrad device run by ``module``; returns the device name."""
    from minigrad import backend
    backend.register(DEVICE_TYPE, Array, module)
    return DEVICE_TYPE
