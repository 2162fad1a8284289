"""The Tensor: an array (NumPy or CuPy) plus its place on the autograd tape.

``t.array`` is the array itself (shared memory, outside the tape); ``t.data`` is what it
is in PyTorch, a detached Tensor sharing that memory. A tensor produced by a recorded op
points at that op's ``Node`` (``_node``); a leaf has no node and, when it requires grad,
receives ``.grad``. All math is in ``minigrad.ops``; the methods here only forward to it.
"""

import weakref

import numpy as np

from minigrad import backend, dtypes
from minigrad.device import device_of, parse_to_args


class Tensor:
    __slots__ = ("array", "requires_grad", "_grad", "_node", "_slot", "_vc", "_hooks",
                 "__weakref__")
    __array_priority__ = 1000  # ndarray (op) Tensor defers to Tensor's reflected operators

    def __init__(self, data, requires_grad=False):
        if isinstance(data, Tensor):
            data = data.array
        if not isinstance(data, np.ndarray) and not backend.is_array(data):
            # Python data: floats become float32, integers int64 (torch.tensor's rules)
            data = np.asarray(data)
            data = data.astype(dtypes.infer_numpy_dtype(
                dtypes.default_float.np if data.dtype.kind == "f" else data.dtype), copy=False)
        self.array = data
        self.requires_grad = False
        self._grad = None
        self._node = None
        self._slot = None
        self._vc = None      # version counter, shared with views: [count] once needed
        self._hooks = None
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _make(cls, data, node=None):
        """Wrap an array produced by an op (or a backward rule); the one check, since this
        runs once per op: NumPy hands back scalars where a 0-d array is meant."""
        if isinstance(data, np.generic):
            data = np.asarray(data)
        t = object.__new__(cls)
        t.array = data
        t.requires_grad = node is not None
        t._grad = None
        t._node = node
        t._slot = None
        t._vc = None
        t._hooks = None
        return t

    # ------------------------------------------------------------ attributes
    # ``array`` (a slot): the NumPy or CuPy array this tensor holds. Reading it is free and
    # bypasses autograd entirely; it is how minigrad's own code reaches the values.

    @property
    def data(self):
        """PyTorch's ``.data``: a Tensor sharing this tensor's memory that does not require
        grad and is not on the tape. Writes through it are neither recorded nor seen by
        the version counter (so they can silently invalidate a saved value, as in torch);
        prefer ``detach()`` or ``no_grad()``, which are checked."""
        return Tensor._make(self.array)

    @data.setter
    def data(self, value):
        """``t.data = other`` makes ``t`` hold ``other``'s memory (shape and dtype may change),
        off the tape, as in PyTorch."""
        if not isinstance(value, Tensor):
            raise TypeError(f"Variable data has to be a tensor, but got "
                            f"{type(value).__name__}")
        self.array = value.array

    @property
    def shape(self):
        return self.array.shape

    @property
    def ndim(self):
        return self.array.ndim

    @property
    def dtype(self):
        return dtypes.from_numpy_dtype(self.array.dtype)

    @property
    def device(self):
        return device_of(self.array)

    @property
    def grad(self):
        return self._grad

    @grad.setter
    def grad(self, value):
        """As in PyTorch, only a tensor of this tensor's shape and dtype (or None) can be its
        gradient: an optimizer would otherwise broadcast a wrong one silently."""
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"assigned grad expected to be a Tensor or None but got grad of "
                                f"type {type(value).__name__}")
            if value.array.shape != self.array.shape:
                raise RuntimeError(f"attempting to assign a gradient of shape {value.shape} to a "
                                   f"tensor of shape {self.shape}; they must be the same size")
            if value.array.dtype != self.array.dtype:
                raise RuntimeError(f"attempting to assign a gradient of dtype {value.dtype!r} to "
                                   f"a tensor of dtype {self.dtype!r}; they must match")
            if type(value.array) is not type(self.array):
                raise RuntimeError(f"attempting to assign a gradient on device {value.device} to "
                                   f"a tensor on device {self.device}")
        self._grad = value

    @property
    def is_leaf(self):
        return self._node is None

    @property
    def grad_fn(self):
        return self._node

    @property
    def is_cuda(self):
        return self.device.type == "cuda"

    @property
    def T(self):
        return self.permute(*range(self.ndim - 1, -1, -1))

    def size(self, dim=None):
        return self.array.shape if dim is None else self.array.shape[dim]

    def dim(self):
        return self.array.ndim

    def numel(self):
        return int(self.array.size)

    def __len__(self):
        if self.array.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.array.shape[0]

    def is_floating_point(self):
        return self.array.dtype.kind == "f"

    # ------------------------------------------------------------ conversion
    def numpy(self):
        if self.requires_grad:
            raise RuntimeError("Can't call numpy() on a tensor that requires grad; "
                               "use tensor.detach().numpy()")
        if not isinstance(self.array, np.ndarray):
            raise TypeError(f"numpy(): tensor is on {self.device}; call .cpu() first")
        return self.array

    def item(self):
        if self.array.size != 1:
            raise ValueError(f"item(): only one-element tensors can be converted to Python "
                             f"scalars, got shape {self.shape}")
        return self.array.reshape(()).item()

    def tolist(self):
        return self.array.tolist()

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __bool__(self):
        if self.array.size != 1:
            raise RuntimeError(f"Boolean value of a tensor with shape {self.shape} is ambiguous")
        return bool(self.item())

    def __index__(self):
        if self.array.dtype.kind not in "iu" or self.array.size != 1:
            raise TypeError("only integer tensors of a single element can be used as an index")
        return int(self.item())

    def __array__(self, dtype=None, copy=None):
        arr = self.detach().numpy()
        return arr if dtype is None else arr.astype(dtype, copy=False)

    def __repr__(self):
        host = backend.of(self.array).to_host(self.array)   # (a copy when on a device)
        body = np.array2string(host, separator=", ", prefix="tensor(")
        extras = [] if isinstance(self.array, np.ndarray) else [f"device='{self.device}'"]
        if self.array.dtype != dtypes.default_float.np and self.array.dtype != np.int64 \
                or self.array.size == 0:
            extras.append(f"dtype={self.dtype!r}")
        if self._node is not None:
            extras.append(f"grad_fn=<{self._node.name}>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + ", ".join([body] + extras) + ")"

    def __hash__(self):
        return id(self)

    # ------------------------------------------------------------ autograd
    def requires_grad_(self, requires_grad=True):
        if requires_grad and self.array.dtype.kind not in "fc":
            raise RuntimeError(f"only tensors of floating point dtype can require gradients, "
                               f"got {self.dtype!r}")
        if not requires_grad and self._node is not None:
            raise RuntimeError("requires_grad_(False): only leaf tensors can stop requiring "
                               "grad; use detach() for a non-leaf")
        self.requires_grad = bool(requires_grad)
        return self

    def detach(self):
        t = Tensor._make(self.array)
        t._vc = self._vc = self._vc or [0]  # same memory, same version counter (as in PyTorch)
        return t

    def clone(self):
        return _ops.clone(self)

    @property
    def _version(self):
        return 0 if self._vc is None else self._vc[0]

    def retain_grad(self):
        """Keep this non-leaf tensor's gradient in ``.grad`` after backward (a no-op on a
        leaf, which keeps it anyway)."""
        if not self.requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if self._node is None:
            return
        ref = weakref.ref(self)

        def keep(g):
            t = ref()
            if t is not None:
                copy = Tensor._make(g.array.copy())
                t._grad = copy if t._grad is None else Tensor._make(t._grad.array + g.array)
        self._node.__dict__.setdefault("_hooks", []).append((self._slot or 0, keep))

    def register_hook(self, hook):
        """Call ``hook(grad)`` when this tensor's gradient is computed; a returned tensor
        replaces the gradient. Returns a handle whose ``remove()`` unregisters it."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require "
                               "gradient")
        if self._node is None:
            hooks = self._hooks = self._hooks or []
            entry = hook
        else:
            hooks = self._node.__dict__.setdefault("_hooks", [])
            entry = (self._slot or 0, hook)
        hooks.append(entry)
        return _HookHandle(hooks, entry)

    # ------------------------------------------------------------ in place (ops/inplace.py)
    def __setitem__(self, index, value): _inplace.setitem(self, index, value)
    def __iadd__(self, other): return self.add_(other)
    def __isub__(self, other): return self.sub_(other)
    def __imul__(self, other): return self.mul_(other)
    def __itruediv__(self, other): return self.div_(other)

    def add_(self, other, *, alpha=1):
        other = other if alpha == 1 else _ops.mul(other, alpha)
        return _inplace.update(self, "add_", lambda old: _ops.add(old, other))

    def sub_(self, other, *, alpha=1):
        other = other if alpha == 1 else _ops.mul(other, alpha)
        return _inplace.update(self, "sub_", lambda old: _ops.sub(old, other))

    def mul_(self, other):
        return _inplace.update(self, "mul_", lambda old: _ops.mul(old, other),
                               needs_old_values=True)

    def div_(self, other):
        return _inplace.update(self, "div_", lambda old: _ops.div(old, other),
                               needs_old_values=True)

    def clamp_(self, min=None, max=None):
        return _inplace.update(self, "clamp_", lambda old: _ops.clamp(old, min, max),
                               needs_old_values=True)
    clip_ = clamp_

    def fill_(self, value):
        return _inplace.update(self, "fill_", lambda old: _inplace.replaced(
            old, _as_value(value, self)))

    def zero_(self):
        return self.fill_(0)

    def copy_(self, src):
        """Copy ``src`` (broadcast, cast) into this tensor; the gradient flows to ``src``."""
        src = src if isinstance(src, Tensor) else Tensor(src)
        return _inplace.update(self, "copy_", lambda old: _inplace.replaced(old, src))

    def backward(self, gradient=None, retain_graph=False, create_graph=False, inputs=None):
        from minigrad.autograd.engine import backward
        backward(self, gradient, retain_graph=retain_graph, create_graph=create_graph,
                 inputs=inputs)

    # ------------------------------------------------------------ devices and dtypes
    def to(self, *args, dtype=None, device=None):
        dtype, device = parse_to_args(args, dtype, device)
        out = self
        if device is not None:
            out = _ops.to_device(out, device)
        if dtype is not None:
            out = _ops.cast(out, dtype)
        return out

    def cpu(self):
        return self.to("cpu")

    def cuda(self):
        return self.to("cuda")

    def float(self):
        return _ops.cast(self, dtypes.float32)

    def double(self):
        return _ops.cast(self, dtypes.float64)

    def long(self):
        return _ops.cast(self, dtypes.int64)

    def int(self):
        return _ops.cast(self, dtypes.int32)

    def short(self):
        return _ops.cast(self, dtypes.int16)

    def half(self):
        return _ops.cast(self, dtypes.float16)

    def bool(self):
        return _ops.cast(self, dtypes.bool_)

    def byte(self):
        return _ops.cast(self, dtypes.uint8)

    def type(self, dtype=None):
        """With no argument, the type's name as PyTorch spells it ('minigrad.FloatTensor');
        with a dtype (or such a name), the tensor converted to it."""
        if dtype is None:
            return "minigrad." + _TYPE_NAMES.get(self.array.dtype.name, self.array.dtype.name)
        if isinstance(dtype, str) and dtype.endswith("Tensor"):
            by_name = {v: k for k, v in _TYPE_NAMES.items()}
            dtype = by_name[dtype.split(".")[-1]]
        return _ops.cast(self, dtype)

    def type_as(self, other):
        return _ops.cast(self, other.dtype)

    # ------------------------------------------------------------ arithmetic
    def __add__(self, other): return _ops.add(self, other)
    def __radd__(self, other): return _ops.add(other, self)
    def __sub__(self, other): return _ops.sub(self, other)
    def __rsub__(self, other): return _ops.sub(other, self)
    def __mul__(self, other): return _ops.mul(self, other)
    def __rmul__(self, other): return _ops.mul(other, self)
    def __truediv__(self, other): return _ops.div(self, other)
    def __rtruediv__(self, other): return _ops.div(other, self)
    def __pow__(self, other): return _ops.pow(self, other)
    def __rpow__(self, other): return _ops.pow(other, self)
    def __matmul__(self, other): return _ops.matmul(self, other)
    def __rmatmul__(self, other): return _ops.matmul(other, self)
    def __neg__(self): return _ops.neg(self)
    def __pos__(self): return self
    def __abs__(self): return _ops.abs(self)
    def __getitem__(self, index): return _ops.getitem(self, index)

    def __eq__(self, other): return _ops.eq(self, other)
    def __ne__(self, other): return _ops.ne(self, other)
    def __lt__(self, other): return _ops.lt(self, other)
    def __le__(self, other): return _ops.le(self, other)
    def __gt__(self, other): return _ops.gt(self, other)
    def __ge__(self, other): return _ops.ge(self, other)
    def __invert__(self): return _ops.bitwise_not(self)

    def add(self, other): return _ops.add(self, other)
    def sub(self, other): return _ops.sub(self, other)
    def mul(self, other): return _ops.mul(self, other)
    def div(self, other, *, rounding_mode=None):
        return _ops.div(self, other, rounding_mode=rounding_mode)
    def pow(self, exponent): return _ops.pow(self, exponent)
    def matmul(self, other): return _ops.matmul(self, other)
    def neg(self): return _ops.neg(self)
    def exp(self): return _ops.exp(self)
    def log(self): return _ops.log(self)
    def sqrt(self): return _ops.sqrt(self)
    def rsqrt(self): return _ops.rsqrt(self)
    def abs(self): return _ops.abs(self)
    def tanh(self): return _ops.tanh(self)
    def sigmoid(self): return _ops.sigmoid(self)
    def relu(self): return _ops.relu(self)
    def erf(self): return _ops.erf(self)
    def sign(self): return _ops.sign(self)
    def clamp(self, min=None, max=None): return _ops.clamp(self, min, max)
    clip = clamp
    def maximum(self, other): return _ops.maximum(self, other)
    def minimum(self, other): return _ops.minimum(self, other)
    def eq(self, other): return _ops.eq(self, other)
    def ne(self, other): return _ops.ne(self, other)
    def lt(self, other): return _ops.lt(self, other)
    def le(self, other): return _ops.le(self, other)
    def gt(self, other): return _ops.gt(self, other)
    def ge(self, other): return _ops.ge(self, other)

    # ------------------------------------------------------------ reductions
    def sum(self, dim=None, keepdim=False, **aliases): return _ops.sum(self, dim, keepdim, **aliases)
    def mean(self, dim=None, keepdim=False, **aliases):
        return _ops.mean(self, dim, keepdim, **aliases)
    def var(self, dim=None, keepdim=False, *, correction=1, unbiased=None, **aliases):
        return _ops.var(self, dim, keepdim, correction=correction, unbiased=unbiased, **aliases)
    def std(self, dim=None, keepdim=False, *, correction=1, unbiased=None, **aliases):
        return _ops.std(self, dim, keepdim, correction=correction, unbiased=unbiased, **aliases)
    def amax(self, dim=None, keepdim=False, **aliases):
        return _ops.amax(self, dim, keepdim, **aliases)
    def amin(self, dim=None, keepdim=False, **aliases):
        return _ops.amin(self, dim, keepdim, **aliases)
    def max(self, dim=None, keepdim=False, **aliases): return _ops.max(self, dim, keepdim, **aliases)
    def min(self, dim=None, keepdim=False, **aliases): return _ops.min(self, dim, keepdim, **aliases)
    def argmax(self, dim=None, keepdim=False): return _ops.argmax(self, dim, keepdim)
    def argmin(self, dim=None, keepdim=False): return _ops.argmin(self, dim, keepdim)

    # ------------------------------------------------------------ shapes
    def reshape(self, *shape): return _ops.reshape(self, *shape)
    def view(self, *shape): return _ops.view(self, *shape)
    def flatten(self, start_dim=0, end_dim=-1): return _ops.flatten(self, start_dim, end_dim)
    def squeeze(self, dim=None): return _ops.squeeze(self, dim)
    def unsqueeze(self, dim): return _ops.unsqueeze(self, dim)
    def transpose(self, dim0, dim1): return _ops.transpose(self, dim0, dim1)
    def permute(self, *dims): return _ops.permute(self, *dims)
    def expand(self, *sizes): return _ops.expand(self, *sizes)
    def broadcast_to(self, shape): return _ops.broadcast_to(self, shape)
    def expand_as(self, other): return _ops.broadcast_to(self, other.shape)
    def contiguous(self): return self

    # ---- ops-b methods
    def gather(self, dim, index): return _ops.gather(self, dim, index)
    def scatter(self, dim, index, src=None, *, value=None, reduce=None):
        return _ops.scatter(self, dim, index, src, value=value, reduce=reduce)
    def scatter_add(self, dim, index, src): return _ops.scatter_add(self, dim, index, src)
    def index_select(self, dim, index): return _ops.index_select(self, dim, index)
    def masked_fill(self, mask, value): return _ops.masked_fill(self, mask, value)
    def masked_select(self, mask): return _ops.masked_select(self, mask)
    def repeat(self, *sizes): return _ops.repeat(self, *sizes)
    def tile(self, dims): return _ops.tile(self, dims)
    def flip(self, dims): return _ops.flip(self, dims)
    def roll(self, shifts, dims=None): return _ops.roll(self, shifts, dims)
    def tril(self, diagonal=0): return _ops.tril(self, diagonal)
    def triu(self, diagonal=0): return _ops.triu(self, diagonal)
    def diagonal(self, offset=0, dim1=0, dim2=1): return _ops.diagonal(self, offset, dim1, dim2)
    def sort(self, dim=-1, descending=False, stable=False):
        return _ops.sort(self, dim, descending, stable)
    def argsort(self, dim=-1, descending=False, stable=False):
        return _ops.argsort(self, dim, descending, stable)
    def topk(self, k, dim=-1, largest=True, sorted=True):
        return _ops.topk(self, k, dim, largest, sorted)
    def split(self, split_size, dim=0): return _ops.split(self, split_size, dim)
    def chunk(self, chunks, dim=0): return _ops.chunk(self, chunks, dim)
    def unbind(self, dim=0): return _ops.unbind(self, dim)
    def bitwise_not(self): return _ops.bitwise_not(self)

    # ---- ops-a methods
    def __mod__(self, other): return _ops.remainder(self, other)
    def __rmod__(self, other): return _ops.remainder(other, self)
    def __floordiv__(self, other): return _ops.floor_divide(self, other)
    def __rfloordiv__(self, other): return _ops.floor_divide(other, self)
    def sin(self): return _ops.sin(self)
    def cos(self): return _ops.cos(self)
    def tan(self): return _ops.tan(self)
    def atan2(self, other): return _ops.atan2(self, other)
    def log2(self): return _ops.log2(self)
    def log10(self): return _ops.log10(self)
    def exp2(self): return _ops.exp2(self)
    def log1p(self): return _ops.log1p(self)
    def expm1(self): return _ops.expm1(self)
    def round(self, *, decimals=0): return _ops.round(self, decimals=decimals)
    def floor(self): return _ops.floor(self)
    def ceil(self): return _ops.ceil(self)
    def trunc(self): return _ops.trunc(self)
    def fmod(self, other): return _ops.fmod(self, other)
    def remainder(self, other): return _ops.remainder(self, other)
    def floor_divide(self, other): return _ops.floor_divide(self, other)
    def prod(self, dim=None, keepdim=False, **aliases):
        return _ops.prod(self, dim, keepdim, **aliases)
    def cumsum(self, dim=None, **aliases): return _ops.cumsum(self, dim, **aliases)
    def cumprod(self, dim=None, **aliases): return _ops.cumprod(self, dim, **aliases)
    def logsumexp(self, dim=None, keepdim=False, **aliases):
        return _ops.logsumexp(self, dim, keepdim, **aliases)
    def all(self, dim=None, keepdim=False, **aliases): return _ops.all(self, dim, keepdim, **aliases)
    def any(self, dim=None, keepdim=False, **aliases): return _ops.any(self, dim, keepdim, **aliases)
    def isclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        return _ops.isclose(self, other, rtol, atol, equal_nan)
    def allclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        return _ops.allclose(self, other, rtol, atol, equal_nan)
    def softmax(self, dim):
        from minigrad.nn.functional import softmax  # (nn is built on ops: import on use)
        return softmax(self, dim)
    def log_softmax(self, dim):
        from minigrad.nn.functional import log_softmax
        return log_softmax(self, dim)


_TYPE_NAMES = {"float16": "HalfTensor", "float32": "FloatTensor", "float64": "DoubleTensor",
               "uint8": "ByteTensor", "int8": "CharTensor", "int16": "ShortTensor",
               "int32": "IntTensor", "int64": "LongTensor", "bool": "BoolTensor"}


class _HookHandle:
    __slots__ = ("_hooks", "_entry")

    def __init__(self, hooks, entry):
        self._hooks, self._entry = hooks, entry

    def remove(self):
        if self._entry in self._hooks:
            self._hooks.remove(self._entry)


def _as_value(value, like):
    if isinstance(value, Tensor):
        if value.ndim:
            raise RuntimeError(f"fill_ only supports 0-dimension value tensor but got tensor "
                               f"with {value.ndim} dimensions")
        return value
    return _ops.as_tensor(value, like)  # (a Python number, on like's device)


from minigrad import ops as _ops  # noqa: E402  (ops import Tensor; bind after the class exists)
from minigrad.ops import inplace as _inplace  # noqa: E402
