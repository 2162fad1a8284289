"""Shape primitives (reshape, permute, broadcast, indexing, concatenation, padding) and
the composites built on them (view, flatten, squeeze, unsqueeze, transpose, expand, stack,
the non-constant pad modes)."""
import math
import numbers

import numpy as np

from minigrad import backend
from minigrad.autograd.graph import Primitive
from minigrad.device import device_of
from minigrad.errors import InvalidArgument
from minigrad.ops._common import constant, dim_aliases, normalize_dim, shape_arg, xp_of
from minigrad.tensor import Tensor


class Reshape(Primitive):
    is_view = True  # (NumPy returns a view where it can)

    @staticmethod
    def forward(ctx, a, shape, copy=None):
        if copy is False:  # view(): never copy, like PyTorch's view
            return backend.of(a).view(a, shape)
        return a.reshape(shape)

    @staticmethod
    def backward(ctx, g):
        return reshape(g, ctx.shapes[0])


class Permute(Primitive):
    is_view = True  # (NumPy returns a view where it can)

    @staticmethod
    def forward(ctx, a, dims):
        ctx.dims = dims
        return xp_of(a).transpose(a, dims)

    @staticmethod
    def backward(ctx, g):
        return permute(g, *np.argsort(ctx.dims).tolist())


class BroadcastTo(Primitive):
    op_name = "broadcast_to"
    is_view = True

    @staticmethod
    def forward(ctx, a, shape):
        return xp_of(a).broadcast_to(a, shape)

    @staticmethod
    def backward(ctx, g):
        return g  # the engine sums it back to the input's shape


class Contiguous(Primitive):
    @staticmethod
    def forward(ctx, a):
        return xp_of(a).ascontiguousarray(a)

    @staticmethod
    def backward(ctx, g):
        return g


class GetItem(Primitive):
    is_view = True  # (NumPy returns a view where it can)

    @staticmethod
    def forward(ctx, a, index, advanced):
        ctx.index, ctx.advanced = index, advanced
        return a[index]

    @staticmethod
    def backward(ctx, g):
        return IndexAdd.apply(g, index=ctx.index, advanced=ctx.advanced, shape=ctx.shapes[0])


class IndexAdd(Primitive):
    op_name = "index_add"
    """Scatter ``g`` into zeros of ``shape`` at ``index``, adding where indices repeat:
    the gradient of getitem, and getitem is its gradient."""

    @staticmethod
    def forward(ctx, g, index, advanced, shape):
        ctx.index, ctx.advanced = index, advanced
        xp = xp_of(g)
        out = xp.zeros(shape, dtype=g.dtype)
        if advanced:
            if not isinstance(out, np.ndarray):   # (a device's add.at adds atomically)
                from minigrad.config import check_deterministic
                check_deterministic("index_add")
            xp.add.at(out, index, g)  # accumulates repeated indices
        else:
            out[index] = g  # basic indexing never selects an element twice
        return out

    @staticmethod
    def backward(ctx, g):
        return GetItem.apply(g, index=ctx.index, advanced=ctx.advanced)


class Cat(Primitive):
    @staticmethod
    def forward(ctx, *arrays, dim):
        ctx.dim = dim
        return xp_of(arrays[0]).concatenate(arrays, axis=dim)

    @staticmethod
    def backward(ctx, g):
        grads, start = [], 0
        for edge, shape in zip(ctx.next, ctx.shapes):
            stop = start + shape[ctx.dim]
            if edge is not None:
                index = (slice(None),) * ctx.dim + (slice(start, stop),)
                grads.append(GetItem.apply(g, index=index, advanced=False))
            else:
                grads.append(None)
            start = stop
        return tuple(grads)


class Split(Primitive):
    """The inverse of ``Cat``: consecutive pieces of ``sizes`` along ``dim``, as
    contiguous copies, from one node whose backward is one concatenation (zeros for a
    piece that received no gradient). A recurrence that reads its per-step rows of one
    big projection through slices instead pays, in backward, a scatter into zeros of the
    whole projection per step: measured on an LSTM(28, 128) over 28 steps, 35% of the
    forward + backward time went to those zeros and adds. Copies, not views: the pieces
    do not share memory with the input (``ops.split`` keeps torch's views)."""
    op_name = "split"

    @staticmethod
    def forward(ctx, a, sizes, dim):
        xp = xp_of(a)
        pieces = tuple(xp.ascontiguousarray(p)
                       for p in xp.split(a, np.cumsum(sizes)[:-1].tolist(), axis=dim))
        ctx.dim, ctx.xp, ctx.dtype = dim, xp, a.dtype
        ctx.piece_shapes = tuple(p.shape for p in pieces)
        return pieces

    @staticmethod
    def backward(ctx, *grads):
        return cat([g if g is not None else constant(ctx.xp.zeros(shape, ctx.dtype))
                    for g, shape in zip(grads, ctx.piece_shapes)], ctx.dim)

    @staticmethod
    def backward_arrays(ctx, *grads):
        return ctx.xp.concatenate([g if g is not None else ctx.xp.zeros(shape, ctx.dtype)
                                   for g, shape in zip(grads, ctx.piece_shapes)], axis=ctx.dim)


_SPLITS = {}


def _split_op(n):
    """``Split`` with ``n`` outputs (a primitive's output count is a class attribute)."""
    op = _SPLITS.get(n)
    if op is None:
        op = _SPLITS[n] = type(f"Split{n}", (Split,), {"n_outputs": n, "__module__": __name__})
    return op


def split_copies(input, sizes, dim=0):
    """``input`` cut along ``dim`` into pieces of ``sizes`` (which sum to its length), as
    contiguous copies made by one ``Split`` node (see there for when to use it)."""
    d = normalize_dim("split_copies", dim, input.ndim)
    sizes = [int(s) for s in sizes]
    if sum(sizes) != input.shape[d] or any(s < 0 for s in sizes):
        raise InvalidArgument(f"split_copies: sizes {sizes} must be non-negative and sum to "
                              f"{input.shape[d]} (dim {d} of shape {tuple(input.shape)})")
    if len(sizes) == 1:
        return (input,)
    return _split_op(len(sizes)).apply(input, sizes=sizes, dim=d)


class PadConstant(Primitive):
    op_name = "pad"
    @staticmethod
    def forward(ctx, a, widths, value):
        ctx.inner = tuple(slice(lo, lo + n) for (lo, _), n in zip(widths, a.shape))
        return xp_of(a).pad(a, widths, mode="constant", constant_values=value)

    @staticmethod
    def backward(ctx, g):
        return GetItem.apply(g, index=ctx.inner, advanced=False)


# ---------------------------------------------------------------- functions

def reshape(a, *shape):
    return Reshape.apply(a, shape=shape_arg(shape))


def view(a, *shape):
    return Reshape.apply(a, shape=shape_arg(shape), copy=False)


def contiguous(a):
    """``a`` itself when its elements are in row-major order, else a row-major copy
    (recorded, so gradients flow), as PyTorch's ``contiguous``."""
    if a.array.flags.c_contiguous:
        return a
    return Contiguous.apply(a)


def is_contiguous(a):
    """PyTorch's rule, which is NumPy's C-contiguity flag: strides of size-1 dims do not
    matter, and an empty tensor is contiguous."""
    return bool(a.array.flags.c_contiguous)


def stride(a, dim=None):
    """The step, in elements, between neighbours along each dim (or along ``dim``)."""
    item = a.array.dtype.itemsize
    strides = tuple(s // item for s in a.array.strides)
    if dim is None:
        return strides
    return strides[normalize_dim("stride", dim, a.ndim)]


def permute(a, *dims):
    dims = shape_arg(dims)
    if sorted(d % a.ndim if a.ndim else d for d in dims) != list(range(a.ndim)):
        raise InvalidArgument(f"permute: {dims} is not a permutation of the {a.ndim} dimensions "
                              f"of a tensor of shape {a.shape}")
    return Permute.apply(a, dims=tuple(d % a.ndim for d in dims))


def transpose(a, dim0, dim1):
    if a.ndim < 2 and dim0 in (0, -1) and dim1 in (0, -1):
        return a
    dims = list(range(a.ndim))
    d0, d1 = normalize_dim("transpose", dim0, a.ndim), normalize_dim("transpose", dim1, a.ndim)
    dims[d0], dims[d1] = dims[d1], dims[d0]
    return Permute.apply(a, dims=tuple(dims))


def broadcast_to(a, shape):
    shape = tuple(int(s) for s in shape)
    if a.array.shape == shape:
        return a
    return BroadcastTo.apply(a, shape=shape)


def expand(a, *sizes):
    sizes = shape_arg(sizes)
    new = len(sizes) - a.ndim
    if new < 0:
        raise InvalidArgument(f"expand: the number of sizes ({len(sizes)}) must be at least the "
                              f"number of dimensions ({a.ndim})")
    shape = []
    for i, s in enumerate(sizes):
        if s == -1:
            if i < new:
                raise InvalidArgument(f"expand: -1 is not allowed for a new leading dimension "
                                      f"({i})")
            s = a.shape[i - new]
        shape.append(s)
    return broadcast_to(a, shape)


def flatten(a, start_dim=0, end_dim=-1):
    if a.ndim == 0:  # (dims 0 and -1 name a 0-d tensor's one element, as in PyTorch)
        normalize_dim("flatten", start_dim, 1)
        normalize_dim("flatten", end_dim, 1)
        return reshape(a, (1,))
    shape = a.array.shape   # (the array's plain tuple: no Size to build on the way)
    s = normalize_dim("flatten", start_dim, len(shape))
    e = normalize_dim("flatten", end_dim, len(shape))
    if s > e:
        raise InvalidArgument(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    # the flattened size spelled out: -1 is ambiguous when the tensor is empty
    return Reshape.apply(a, shape=shape[:s] + (math.prod(shape[s:e + 1]),) + shape[e + 1:])


def squeeze(a, dim=None, *, axis=None):
    dim = dim_aliases("squeeze", dim, axis)
    if dim is None:
        dims = {i for i, s in enumerate(a.shape) if s == 1}
    else:
        dims = {normalize_dim("squeeze", d, max(a.ndim, 1)) for d in
                ((dim,) if isinstance(dim, numbers.Integral) else dim)}
        dims = {d for d in dims if a.ndim and a.shape[d] == 1}  # PyTorch: other sizes stay
    if not dims:
        return a
    return reshape(a, tuple(s for i, s in enumerate(a.shape) if i not in dims))


def unsqueeze(a, dim=None, *, axis=None):
    dim = dim_aliases("unsqueeze", dim, axis)
    if dim is None:
        raise TypeError("unsqueeze() missing 1 required positional argument: 'dim'")
    d = normalize_dim("unsqueeze", dim, a.ndim + 1)
    shape = a.array.shape
    return reshape(a, shape[:d] + (1,) + shape[d:])


def _index_part(i):
    """One entry of an index as (kind, value, dims it consumes): "int" (selects, removing the
    dim), "basic" (slice, None, Ellipsis) or "adv" (index arrays: a mask becomes one per dim)."""
    if isinstance(i, Tensor):
        i = i.array
    elif isinstance(i, (list, tuple)):
        i = np.asarray(i)
    if isinstance(i, (bool, np.bool_)):
        return "adv", (np.asarray(i),), 0
    if isinstance(i, numbers.Integral):
        return "int", int(i), 1
    if hasattr(i, "dtype") and hasattr(i, "ndim"):
        kind = i.dtype.kind
        if kind == "b":
            return "adv", (tuple(i.nonzero()) if i.ndim else (i,)), i.ndim
        if kind not in "iu":
            raise IndexError(f"getitem: tensors used as indices must be integer or bool, "
                             f"got {i.dtype}")
        if i.ndim == 0:  # PyTorch: a 0-d integer tensor selects like an int
            return "int", int(i), 1
        return "adv", (i,), 1
    return "basic", i, 1


def getitem(a, index):
    """PyTorch's indexing. It differs from NumPy's in one way: ints select (removing their
    dim) before the advanced indices are applied, so they neither count as advanced nor
    separate advanced indices; ``x[1, :, idx]`` has idx's dims where idx stands. Hence two
    steps where ints meet index arrays: the basic part, then the advanced part."""
    if not isinstance(index, tuple):
        index = (index,)
    parts = [_index_part(i) for i in index]
    if not isinstance(a.array, np.ndarray):   # host index arrays follow the data (as PyTorch
        parts = [(k, tuple(backend.move(i, device_of(a.array)) for i in v), n)  # moves CPU
                 if k == "adv" else (k, v, n) for k, v, n in parts]          # indices)
    has_int = any(k == "int" for k, _, _ in parts)
    has_adv = any(k == "adv" for k, _, _ in parts)
    if not (has_int and has_adv):
        flat = []
        for k, v, _ in parts:
            flat.extend(v if k == "adv" else (v,))
        return GetItem.apply(a, index=tuple(flat), advanced=has_adv)
    basic, advanced = [], []
    for k, v, n in parts:
        if k == "int":
            basic.append(v)
        elif k == "basic":
            basic.append(v)
            advanced.append(v if v is Ellipsis else slice(None))
        else:
            basic.extend([slice(None)] * n)
            advanced.extend(v)
    out = GetItem.apply(a, index=tuple(basic), advanced=False)
    return GetItem.apply(out, index=tuple(advanced), advanced=True)


def cat(tensors, dim=0, *, axis=None):
    dim = dim_aliases("cat", None if axis is not None and dim == 0 else dim, axis)
    tensors = list(tensors)
    if not tensors:
        raise InvalidArgument("cat: expected a non-empty sequence of tensors")
    d = normalize_dim("cat", dim, tensors[0].ndim)
    return Cat.apply(*tensors, dim=d)


concat = concatenate = cat


def stack(tensors, dim=0, *, axis=None):
    dim = dim_aliases("stack", None if axis is not None and dim == 0 else dim, axis)
    tensors = list(tensors)
    if not tensors:
        raise InvalidArgument("stack: expected a non-empty sequence of tensors")
    shapes = {t.shape for t in tensors}
    if len(shapes) != 1:
        raise InvalidArgument(f"stack: expected tensors of one shape, got {sorted(shapes)}")
    d = normalize_dim("stack", dim, tensors[0].ndim + 1)
    return cat([unsqueeze(t, d) for t in tensors], d)


# ---------------------------------------------------------------- views by dims

def t(a):
    """The transpose of a matrix; a 0-d or 1-d tensor is returned as it is."""
    if a.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {a.ndim}D")
    return transpose(a, 0, -1) if a.ndim == 2 else a


def mT(a):
    """The last two dims swapped (batches of matrices transposed)."""
    if a.ndim < 2:
        raise RuntimeError(f"tensor.mT is only supported on matrices or batches of matrices. "
                           f"Got {a.ndim}-D tensor.")
    return transpose(a, -2, -1)


def _dim_list(op, dims, ndim, what):
    dims = (dims,) if isinstance(dims, numbers.Integral) else tuple(dims)
    out = [normalize_dim(op, int(d), ndim) for d in dims]
    if len(set(out)) != len(out):
        raise RuntimeError(f"{op}: repeated dim in `{what}` ({list(dims)})")
    return out


def movedim(a, source, destination):
    """Dims ``source`` moved to positions ``destination`` (ints or sequences of one
    length); the other dims keep their order."""
    src = _dim_list("movedim", source, max(a.ndim, 1), "source")
    dst = _dim_list("movedim", destination, max(a.ndim, 1), "destination")
    if len(src) != len(dst):
        raise RuntimeError(f"movedim: Invalid source or destination dims: source ({src} dims) "
                           f"should contain the same number of dims as destination ({dst} "
                           f"dims)")
    if a.ndim == 0:
        return a
    order = [None] * a.ndim
    for s_, d_ in zip(src, dst):
        order[d_] = s_
    rest = iter(k for k in range(a.ndim) if k not in src)
    order = [next(rest) if k is None else k for k in order]
    return permute(a, *order)


def narrow(a, dim=None, start=None, length=None, *, axis=None):
    """The slice ``start:start + length`` of dim ``dim``, a view (``start`` may be negative
    or a 0-d integer tensor)."""
    dim = dim_aliases("narrow", dim, axis)
    if a.ndim == 0:
        raise RuntimeError("narrow() cannot be applied to a 0-dim tensor.")
    d = normalize_dim("narrow", dim, a.ndim)
    n = a.shape[d]
    start, length = int(start), int(length)
    if length < 0:
        raise RuntimeError("narrow(): length must be non-negative.")
    if not -n <= start <= n:
        raise IndexError(f"start out of range (expected to be in range of [{-n}, {n}], but got "
                         f"{start})")
    start = start + n if start < 0 else start
    if start + length > n:
        raise RuntimeError(f"start ({start}) + length ({length}) exceeds dimension size ({n}).")
    return getitem(a, (slice(None),) * d + (slice(start, start + length),))


def unflatten(a, dim, sizes):
    """Dim ``dim`` split into ``sizes`` (one of which may be -1)."""
    sizes = tuple(int(s) for s in sizes)
    if not sizes:
        raise RuntimeError("unflatten: sizes must be non-empty")
    d = normalize_dim("unflatten", dim, a.ndim)
    n = a.shape[d]
    known = math.prod(s for s in sizes if s != -1)
    if sizes.count(-1) > 1:
        raise RuntimeError("unflatten: only one dimension can be inferred (-1)")
    if sizes.count(-1) == 1:
        if known == 0 or n % known:
            raise RuntimeError(f"unflatten: Provided sizes {list(sizes)} don't multiply up to "
                               f"the size of dim {dim} ({n}) in the input tensor")
        sizes = tuple(n // known if s == -1 else s for s in sizes)
    elif known != n:
        raise RuntimeError(f"unflatten: Provided sizes {list(sizes)} don't multiply up to the "
                           f"size of dim {dim} ({n}) in the input tensor")
    return reshape(a, a.shape[:d] + sizes + a.shape[d + 1:])


def unfold(a, dimension, size, step):
    """The windows of ``size`` elements, ``step`` apart, along ``dimension``: that dim
    becomes the number of windows and a new last dim of ``size`` is added. A gather (an
    advanced getitem), so overlapping windows' gradients add up."""
    if step <= 0:
        raise RuntimeError(f"step is {step} but must be > 0")
    if a.ndim == 0:
        normalize_dim("unfold", dimension, 1)
        if size > 1:
            raise RuntimeError(f"maximum size for tensor at dimension 0 is 1 but size is {size}")
        return reshape(a, (1,))
    d = normalize_dim("unfold", dimension, a.ndim)
    n = a.shape[d]
    if size > n:
        raise RuntimeError(f"maximum size for tensor at dimension {d} is {n} but size is {size}")
    if size < 0:
        raise RuntimeError(f"size is {size} but must be >= 0")
    xp = xp_of(a.array)
    windows = (n - size) // step + 1
    index = xp.arange(windows).reshape(-1, 1) * step + xp.arange(size).reshape(1, -1)
    out = GetItem.apply(a, index=(slice(None),) * d + (index,), advanced=True)
    return movedim(out, d + 1, -1) if d + 1 != out.ndim - 1 else out


_PAD_MODES = ("constant", "reflect", "replicate", "circular")


def pad(a, pad, mode="constant", value=None):
    """PyTorch's F.pad: ``pad`` lists (before, after) pairs starting from the last dim."""
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2 or len(pad) // 2 > a.ndim:
        raise InvalidArgument(f"pad: expected an even number of pad sizes, at most 2 per "
                              f"dimension ({2 * a.ndim}), got {len(pad)}")
    if mode not in _PAD_MODES:
        raise InvalidArgument(f"pad: mode must be one of {_PAD_MODES}, got {mode!r}")
    widths = [(0, 0)] * a.ndim
    for i in range(len(pad) // 2):
        widths[a.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    if mode == "constant":
        if any(lo < 0 or hi < 0 for lo, hi in widths):  # negative padding crops
            a = getitem(a, tuple(slice(max(0, -lo), n - max(0, -hi))
                                 for (lo, hi), n in zip(widths, a.shape)))
            widths = [(max(lo, 0), max(hi, 0)) for lo, hi in widths]
        return PadConstant.apply(a, widths=tuple(widths), value=0 if value is None else value)
    if value is not None and value != 0:
        raise InvalidArgument(f"pad: a value is only used with mode='constant', not {mode!r}")
    # PyTorch pads 1, 2 or 3 trailing dims in these modes, of a batched or unbatched input
    k = len(pad) // 2
    if k not in (1, 2, 3) or a.ndim not in (k + 1, k + 2):
        raise NotImplementedError(
            f"pad: padding size {len(pad)} is not supported for {a.ndim}D input with mode "
            f"{mode!r}; supported combinations for non-constant padding: 2D or 3D input with "
            f"padding size 2, 3D or 4D with 4, 4D or 5D with 6")
    for d, (lo, hi) in enumerate(widths):
        if lo == 0 and hi == 0:
            continue
        a = getitem(a, (slice(None),) * d + (_pad_source_index(mode, lo, hi, a.shape[d], d),))
    return a


def _pad_source_index(mode, lo, hi, n, dim):
    """For each output position along a padded dim, the input position it copies (a
    negative width crops, as in PyTorch)."""
    pos = np.arange(-lo, n + hi)
    if pos.size < 1:
        raise InvalidArgument(f"pad: padding ({lo}, {hi}) leaves no elements of dim {dim} "
                              f"(size {n})")
    if mode == "reflect":
        if lo >= n or hi >= n:
            raise InvalidArgument(f"pad: reflect padding ({lo}, {hi}) must be smaller than the "
                                  f"input size {n} of dim {dim}")
        pos = np.abs(pos)
        return np.where(pos >= n, 2 * (n - 1) - pos, pos)
    if mode == "replicate":
        return np.clip(pos, 0, n - 1)
    if lo > n or hi > n:
        raise InvalidArgument(f"pad: circular padding ({lo}, {hi}) must not exceed the input size "
                              f"{n} of dim {dim}")
    return pos % n
