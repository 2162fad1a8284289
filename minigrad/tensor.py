"""The Tensor: an array (NumPy or CuPy) plus its place on the autograd tape.

``t.array`` is the array itself (shared memory, outside the tape); ``t.data`` is what it
is in PyTorch, a detached Tensor sharing that memory. A tensor produced by a recorded op
points at that op's ``Node`` (``_node``); a leaf has no node and, when it requires grad,
receives ``.grad``. All math is in ``minigrad.ops``; the methods only forward to it. This
module holds the tensor's state (attributes, conversion, autograd, devices and dtypes);
the methods are grouped by family in the mixins of ``minigrad._tensor``.
"""

import weakref

import numpy as np

from minigrad import backend, dtypes, printing
from minigrad._tensor.arithmetic import ArithmeticMixin
from minigrad._tensor.creation import CreationMixin
from minigrad._tensor.indexing import IndexingMixin
from minigrad._tensor.inplace import InplaceMixin
from minigrad._tensor.linalg import LinalgMixin
from minigrad._tensor.random import RandomMixin
from minigrad._tensor.reductions import ReductionMixin
from minigrad._tensor.shape import ShapeMixin
from minigrad.device import check_memory_format, device_of, parse_to_args
from minigrad.size import Size

_new_size = tuple.__new__


class Tensor(ArithmeticMixin, ReductionMixin, ShapeMixin, IndexingMixin, LinalgMixin,
             InplaceMixin, RandomMixin, CreationMixin):
    __slots__ = ("array", "requires_grad", "_grad", "_node", "_slot", "_vc", "_hooks",
                 "__weakref__")
    __array_priority__ = 1000  # ndarray (op) Tensor defers to Tensor's reflected operators

    def __init__(self, data, requires_grad=False):
        if isinstance(data, Tensor):
            data = data.array
        elif type(data) is not np.ndarray and isinstance(data, np.ndarray):
            data = data.view(np.ndarray)   # a subclass (np.memmap, np.matrix): its memory,
            dtypes.infer_numpy_dtype(data.dtype)   # as the array every backend knows
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
        return _new_size(Size, self.array.shape)   # (tuple.__new__: no Python-level call)

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
    def is_cpu(self):
        return self.device.type == "cpu"

    @property
    def is_mps(self):
        """False: minigrad has no Metal backend (``mg.backends.mps``)."""
        return False

    @property
    def is_xpu(self):
        """False: minigrad has no Intel GPU backend."""
        return False

    def size(self, dim=None):
        return _new_size(Size, self.array.shape) if dim is None else self.array.shape[dim]

    def dim(self):
        return self.array.ndim

    def numel(self):
        return int(self.array.size)

    nelement = numel

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
        host = backend.to_host(self.array)   # (a copy when on a device)
        body = printing.array_text(host)
        extras = [] if isinstance(self.array, np.ndarray) else [f"device='{self.device}'"]
        # PyTorch's suffixes: an empty tensor shows its size unless it is (0,), and its
        # dtype unless it is the default float (no element shows it); others show a dtype
        # that their elements do not (not the default float, int64 or bool)
        dtype = self.array.dtype
        if self.array.size == 0:
            if self.array.ndim != 1:
                extras.append(f"size={tuple(self.array.shape)}")
            if dtype != dtypes.default_float.np:
                extras.append(f"dtype={self.dtype!r}")
        elif dtype not in (dtypes.default_float.np, np.int64, np.bool_):
            extras.append(f"dtype={self.dtype!r}")
        if self._node is not None:
            extras.append(f"grad_fn=<{self._node.name}>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + ", ".join([body] + extras) + ")"

    def __format__(self, format_spec):
        """A 0-d tensor formats as its number (f"{loss:.4f}"), as in PyTorch; any other
        tensor takes no format spec but the empty one (its str)."""
        if self.array.ndim == 0:
            return self.item().__format__(format_spec)
        return object.__format__(self, format_spec)

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
            HOOKED_LEAVES.add(self)
        else:
            hooks = self._node.__dict__.setdefault("_hooks", [])
            entry = (self._slot or 0, hook)
        hooks.append(entry)
        return _HookHandle(hooks, entry, self if self._node is None else None)

    def register_post_accumulate_grad_hook(self, hook):
        """Call ``hook(self)`` once a backward pass has accumulated all of this leaf's
        gradient into ``.grad`` (PyTorch's rule: leaves only; not run by
        ``autograd.grad``, which accumulates nothing). The hook may read and modify the
        tensor and its ``.grad`` (an optimizer step per parameter); it returns None.
        Returns a handle whose ``remove()`` unregisters it."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require "
                               "gradient")
        if self._node is not None:
            raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf "
                               "tensors")
        hooks = self._hooks = self._hooks or []
        entry = PostAccumulateGradHook(hook)
        hooks.append(entry)
        HOOKED_LEAVES.add(self)
        return _HookHandle(hooks, entry, self)

    def backward(self, gradient=None, retain_graph=False, create_graph=False, inputs=None):
        from minigrad.autograd.engine import backward
        backward(self, gradient, retain_graph=retain_graph, create_graph=create_graph,
                 inputs=inputs)

    # ------------------------------------------------------------ devices and dtypes
    def to(self, *args, dtype=None, device=None, non_blocking=False, copy=False,
           memory_format=None):
        """PyTorch's forms: ``to(device)``, ``to(dtype)``, ``to(device, dtype)``,
        ``to(other)``. ``non_blocking`` is accepted (minigrad's copies are synchronous);
        ``copy=True`` returns a new tensor even when nothing changes."""
        check_memory_format("to", memory_format)
        dtype, device = parse_to_args(args, dtype, device)
        out = self
        if device is not None:
            out = _ops.to_device(out, device)
        if dtype is not None:
            out = _ops.cast(out, dtype)
        if copy and out is self:
            out = _ops.clone(self)
        return out

    def cpu(self, memory_format=None):
        return self.to("cpu", memory_format=memory_format)

    def cuda(self, device=None, non_blocking=False, memory_format=None):
        """To ``device`` (an index, a name or a device; default the current GPU)."""
        where = "cuda" if device is None else (f"cuda:{device}" if isinstance(device, int)
                                              else device)
        return self.to(where, memory_format=memory_format)

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
        elif isinstance(getattr(dtype, "dtype", None), dtypes.dtype):   # mg.LongTensor
            dtype = dtype.dtype
        return _ops.cast(self, dtype)

    def type_as(self, other):
        return _ops.cast(self, other.dtype)


_TYPE_NAMES = {"float16": "HalfTensor", "float32": "FloatTensor", "float64": "DoubleTensor",
               "uint8": "ByteTensor", "int8": "CharTensor", "int16": "ShortTensor",
               "int32": "IntTensor", "int64": "LongTensor", "bool": "BoolTensor"}


class _HookHandle:
    __slots__ = ("_hooks", "_entry", "_leaf")

    def __init__(self, hooks, entry, leaf=None):
        self._hooks, self._entry = hooks, entry
        self._leaf = None if leaf is None else weakref.ref(leaf)

    def remove(self):
        if self._entry in self._hooks:
            self._hooks.remove(self._entry)
            leaf = None if self._leaf is None else self._leaf()
            if leaf is not None and not self._hooks:
                HOOKED_LEAVES.discard(leaf)


class _HookedLeaves:
    """The leaves that have hooks (gradient or post-accumulate ones), weakly: while there
    are none, a backward pass does not look for them; a leaf that is garbage collected
    leaves. (By id: a WeakSet would compare tensors with ==, which is elementwise.)"""

    def __init__(self):
        self._refs = {}

    def add(self, t):
        key = id(t)
        if key not in self._refs:
            self._refs[key] = weakref.ref(t, lambda _, key=key: self._refs.pop(key, None))

    def discard(self, t):
        self._refs.pop(id(t), None)

    def __contains__(self, t):
        ref = self._refs.get(id(t))
        return ref is not None and ref() is t

    def __len__(self):
        return len(self._refs)


HOOKED_LEAVES = _HookedLeaves()


class PostAccumulateGradHook:
    """A leaf's ``register_post_accumulate_grad_hook`` entry, kept in its ``_hooks`` list
    beside the gradient hooks (which skip it)."""
    __slots__ = ("fn",)

    def __init__(self, fn):
        self.fn = fn



from minigrad import ops as _ops  # noqa: E402  (ops import Tensor; bind after the class exists)
from minigrad.ops import inplace as _inplace  # noqa: E402
from minigrad._tensor import bind as _bind  # noqa: E402

_bind(_ops, _inplace)
