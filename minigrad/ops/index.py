"""PyTorch's indexing and rearranging ops, composed from the shape primitives.

gather, scatter_add, index_add, index_select, repeat_interleave and masked_select are index
arrays handed to ``GetItem``/``IndexAdd`` (each the other's gradient); repeat, flip, roll,
split and meshgrid are reshapes, broadcasts, slices and concatenations; masked_fill is
``where``. Only ``scatter`` has its own primitive: last-write-wins assignment is not a sum
of the others. Index computations (masks) are constants. (Sorting and searching are in
``search.py``; the matrix structure ops, diagonal, tril, triu, in ``linalg.py``.)
"""
import math
import numbers

import numpy as np

from minigrad import backend
from minigrad.autograd.graph import Primitive
from minigrad.device import device_of
from minigrad.errors import InvalidArgument, InvalidDtype
from minigrad.ops._common import (
    as_tensor,
    cast,
    constant,
    dim_aliases,
    normalize_dim,
    shape_arg,
    xp_of,
)
from minigrad.ops.arithmetic import add, mul, where
from minigrad.ops.shape import (
    GetItem,
    IndexAdd,
    broadcast_to,
    cat,
    getitem,
    reshape,
)
from minigrad.tensor import Tensor

def _index_array(op, index, like):
    """``index`` as an integer array on ``like``'s device: host data (a list or NumPy array)
    is copied there; an index tensor must already be there, as in PyTorch."""
    if isinstance(index, Tensor):
        arr = index.array
        if type(arr) is not type(like.array) and device_of(arr) != device_of(like.array):
            raise RuntimeError(f"{op}(): expected the index on the input's device, "
                               f"{device_of(like.array)}, but it is on {device_of(arr)}")
    else:
        arr = backend.move(np.asarray(index), device_of(like.array))
    if arr.dtype.kind not in "iu":
        raise RuntimeError(f"{op}(): Expected dtype int64 for index, got {arr.dtype}")
    return arr


def _along(op, a_shape, dim, index, limit_shapes=()):
    """The full advanced index that reads ``a[..., index[i, j, k], ...]`` at position
    (i, j, k) of ``index`` along ``dim`` (gather's and scatter's addressing)."""
    ndim = len(a_shape)
    if index.ndim != max(ndim, 1) and not (ndim == 0 and index.ndim == 0):
        raise RuntimeError(f"{op}(): Index tensor must have the same number of dimensions as "
                           f"input tensor (index {index.shape}, input {tuple(a_shape)})")
    if ndim == 0:
        return (), index.reshape(())
    d = normalize_dim(op, dim, ndim)
    too_big = any(index.shape[k] > a_shape[k] for k in range(ndim) if k != d) or any(
        index.shape[k] > shape[k] for _, shape in limit_shapes for k in range(ndim))
    if too_big:
        names = " and ".join(f"{name} {tuple(shape)}" for name, shape in limit_shapes)
        raise RuntimeError(f"{op}(): Expected index {tuple(index.shape)} to be no larger than "
                           f"self {tuple(a_shape)} apart from dimension {d}"
                           + (f" and to be no larger than {names}" if names else ""))
    n = a_shape[d]
    if index.size and (index.min() < 0 or index.max() >= n):  # (no negative indices)
        bad = index[(index < 0) | (index >= n)].flat[0]
        raise RuntimeError(f"{op}(): index {bad} is out of bounds for dimension {d} with "
                           f"size {n}")
    xp = xp_of(index)
    parts = []
    for k in range(ndim):
        if k == d:
            parts.append(index)
        else:
            shape = [1] * ndim
            shape[k] = index.shape[k]
            parts.append(xp.arange(index.shape[k]).reshape(shape))
    return tuple(parts), None


def gather(input, dim=None, index=None, *, axis=None):
    dim = dim_aliases("gather", dim, axis)
    """``out[i][j][k] = input[i][index[i][j][k]][k]`` (dim 1): an advanced getitem."""
    idx = _index_array("gather", index, input)
    parts, scalar = _along("gather", input.shape, dim, idx)
    if scalar is not None:
        return GetItem.apply(input, index=(), advanced=False)
    return GetItem.apply(input, index=parts, advanced=True)


def _src_part(src, shape):
    """The leading ``shape`` block of ``src``: scatter reads src only where index is."""
    if src.shape == tuple(shape):
        return src
    return getitem(src, tuple(slice(0, s) for s in shape))


def scatter_add(input, dim, index, src):
    """``input`` plus ``src`` added at gather's addresses (repeated ones accumulate)."""
    idx = _index_array("scatter_add", index, input)
    src = as_tensor(src, input)
    parts, scalar = _along("scatter_add", input.shape, dim, idx, (("src", src.shape),))
    if scalar is not None:
        return input + src
    added = IndexAdd.apply(_src_part(src, idx.shape), index=parts, advanced=True,
                           shape=input.shape)
    return input + added


class Scatter(Primitive):
    """``input`` with ``src`` written at ``index`` (where an address repeats, one write wins,
    as PyTorch leaves unspecified). A primitive: assignment is not a sum of the others."""
    op_name = "scatter"

    @staticmethod
    def forward(ctx, a, src, index):
        ctx.index = index
        out = a.copy()
        out[index] = src
        return out

    @staticmethod
    def backward(ctx, g):
        xp = xp_of(g.array)
        written = xp.zeros(g.shape, dtype=bool)
        written[ctx.index] = True
        return (where(constant(written), 0.0, g) if ctx.next[0] is not None else None,
                GetItem.apply(g, index=ctx.index, advanced=True)
                if ctx.next[1] is not None else None)


class ScatterMultiply(Primitive):
    """``input`` with each address multiplied by every ``src`` value sent to it. Like
    PyTorch's ``scatter(reduce='multiply')``, it has no derivative."""
    op_name = "scatter"

    @staticmethod
    def forward(ctx, a, src, index):
        out = a.copy()
        xp_of(a).multiply.at(out, index, src)
        return out

    @staticmethod
    def backward(ctx, g):
        raise RuntimeError("scatter(reduce='multiply'): the derivative is not implemented, "
                           "as in PyTorch")


def scatter(input, dim, index, src=None, *, value=None, reduce=None):
    """``input`` with ``src`` (a tensor) or ``value`` (a number) written at gather's
    addresses along ``dim``; with ``reduce='add'`` or ``'multiply'``, combined with what is
    there instead (repeated addresses accumulate). ``'add'`` is ``scatter_add``, and so
    differentiable; ``'multiply'`` is not, as in PyTorch."""
    if src is None and value is None:
        raise InvalidDtype("scatter(): expected a src tensor or a value")
    if value is None and not isinstance(src, Tensor):
        src, value = None, src
    if reduce not in (None, "add", "multiply"):
        raise InvalidArgument(f"scatter(): reduce argument must be either add or multiply, "
                              f"got {reduce!r}")
    if reduce is not None:
        if src is None:
            idx = _index_array("scatter", index, input)
            src = constant(xp_of(input.array).full(idx.shape, value, dtype=input.array.dtype))
        if reduce == "add":
            return scatter_add(input, dim, index, src)
        idx = _index_array("scatter", index, input)
        parts, scalar = _along("scatter", input.shape, dim, idx, (("src", src.shape),))
        if scalar is not None:
            return input * src
        return ScatterMultiply.apply(input, _src_part(src, idx.shape), index=parts)
    idx = _index_array("scatter", index, input)
    limits = (("src", src.shape),) if src is not None else ()
    parts, scalar = _along("scatter", input.shape, dim, idx, limits)
    if scalar is not None:
        parts = ()
    if src is None:
        xp = xp_of(input.array)
        mask = xp.zeros(input.shape, dtype=bool)
        mask[parts] = True
        return where(constant(mask), as_tensor(value, input), input)
    if src.array.dtype != input.array.dtype:
        raise RuntimeError(f"scatter(): Expected self.dtype to be equal to src.dtype "
                           f"({input.dtype!r} vs {src.dtype!r})")
    return Scatter.apply(input, _src_part(src, idx.shape), index=parts)


def index_select(input, dim=None, index=None, *, axis=None):
    dim = dim_aliases("index_select", dim, axis)
    idx = _index_array("index_select", index, input)
    if idx.ndim > 1:
        raise IndexError("index_select(): Index is supposed to be a vector")
    d = normalize_dim("index_select", dim, max(input.ndim, 1))
    if input.ndim == 0:
        return getitem(input, ())
    n = input.shape[d]
    if idx.size and (idx.min() < -n or idx.max() >= n):
        raise IndexError(f"index_select(): index out of range in self (dim {d} of size {n})")
    return GetItem.apply(input, index=(slice(None),) * d + (idx.reshape(-1),), advanced=True)


def index_add(input, dim=None, index=None, source=None, *, alpha=1, axis=None):
    """``input`` plus ``alpha * source`` added along ``dim`` at the positions ``index``
    (a vector, one entry per slice of ``source``; repeated positions accumulate)."""
    dim = dim_aliases("index_add", dim, axis)
    idx = _index_array("index_add", index, input)
    if idx.ndim > 1:
        raise IndexError("index_add_(): Index is supposed to be a vector")
    if not isinstance(source, Tensor):
        source = as_tensor(source, input)
    if source.array.dtype != input.array.dtype:
        raise RuntimeError(f"index_add_(): self ({input.dtype!r}) and source "
                           f"({source.dtype!r}) must have the same scalar type")
    d = normalize_dim("index_add", dim, max(input.ndim, 1))
    if input.ndim == 0:
        return add(input, mul(reshape(source, ()), alpha) if alpha != 1 else reshape(source, ()))
    expected = input.shape[:d] + (idx.size,) + input.shape[d + 1:]
    if source.ndim != input.ndim or source.shape != expected:
        raise RuntimeError(f"index_add_(): source tensor shape must match self tensor shape, "
                           f"excluding the specified dimension. Got self.shape = "
                           f"{list(input.shape)} source.shape = {list(source.shape)}")
    n = input.shape[d]
    if idx.size and (idx.min() < -n or idx.max() >= n):
        raise IndexError(f"index_add_(): index out of range in self (dim {d} of size {n})")
    if alpha != 1:
        source = mul(source, alpha)
    added = IndexAdd.apply(source, index=(slice(None),) * d + (idx.reshape(-1),),
                           advanced=True, shape=input.shape)
    return add(input, added)


def repeat_interleave(input, repeats=None, dim=None, *, output_size=None, axis=None):
    """Each element (each slice along ``dim``; of the flattened tensor when None) repeated
    ``repeats`` times (an int, or one count per element). ``repeat_interleave(counts)``
    alone gives the indices 0, 1, ... each repeated its count. An index_select, so
    gradients of the repeats add up."""
    dim = dim_aliases("repeat_interleave", dim, axis)
    if repeats is None:   # torch.repeat_interleave(repeats)
        counts = _repeat_counts(input, None)
        xp = xp_of(input.array)
        return constant(xp.repeat(xp.arange(counts.size, dtype=np.int64), counts))
    if dim is None:
        input = reshape(input, (-1,))
        dim = 0
    d = normalize_dim("repeat_interleave", dim, max(input.ndim, 1))
    if input.ndim == 0:
        input = reshape(input, (1,))
    n = input.shape[d]
    counts = _repeat_counts(repeats, n, like=input)
    xp = xp_of(input.array)
    index = xp.repeat(xp.arange(n, dtype=np.int64), counts)
    if output_size is not None and index.size != output_size:
        raise RuntimeError(f"repeat_interleave: allocated size does not match required size "
                           f"(output_size={output_size}, needed {index.size})")
    return GetItem.apply(input, index=(slice(None),) * d + (index,), advanced=True)


def _repeat_counts(repeats, n, like=None):
    """``repeats`` as one count per element (``n`` of them; None: as many as given)."""
    if isinstance(repeats, Tensor):
        counts = repeats.array
        if counts.dtype.kind not in "iu":
            raise RuntimeError(f"repeat_interleave: repeats has to be Long or Int tensor, got "
                               f"{repeats.dtype!r}")
        if counts.ndim > 1:
            raise RuntimeError("repeat_interleave only accept 1D vector as repeat")
        if like is not None:
            counts = backend.move(counts, device_of(like.array))
    else:
        counts = np.asarray(int(repeats)) if like is None else \
            xp_of(like.array).asarray(int(repeats))
    if counts.size and counts.min() < 0:
        raise RuntimeError("repeat_interleave: repeats can not be negative")
    if n is None:
        return counts.reshape(-1)
    if counts.ndim == 0 or counts.size == 1:
        return xp_of(counts).full(n, int(counts.reshape(-1)[0]), dtype=np.int64)
    if counts.size != n:
        raise RuntimeError(f"repeat_interleave: repeats must have the same size as input along "
                           f"dim, but got repeats.size(0) = {counts.size} and input.size(0) = "
                           f"{n}")
    return counts


def _bool_mask(op, mask):
    mask = as_tensor(mask)
    if mask.array.dtype.kind != "b":
        raise RuntimeError(f"{op} only supports boolean masks, but got mask with dtype "
                           f"{mask.dtype!r}")
    return mask


def masked_fill(input, mask, value):
    """``value`` where ``mask`` (broadcast to ``input``'s shape) is True; a 0-d tensor value
    receives the gradient of the positions it fills."""
    mask = _bool_mask("masked_fill", mask)
    if isinstance(value, Tensor):
        if value.ndim:
            raise RuntimeError(f"masked_fill only supports a 0-dimensional value tensor, but "
                               f"got tensor with {value.ndim} dimension(s).")
        value = cast(value, input.dtype)
    else:
        value = Tensor._make(xp_of(input.array).asarray(value).astype(input.array.dtype))
    shape = np.broadcast_shapes(input.shape, mask.shape)
    if tuple(shape) != input.shape:
        raise RuntimeError(f"masked_fill: mask of shape {mask.shape} does not broadcast to "
                           f"the input's shape {input.shape}")
    return where(mask, value, input)


def masked_select(input, mask):
    """The elements where ``mask`` is True, as a 1-D tensor (input and mask broadcast)."""
    mask = _bool_mask("masked_select", mask)
    shape = tuple(np.broadcast_shapes(input.shape, mask.shape))
    return getitem(broadcast_to(input, shape), constant(xp_of(mask.array).broadcast_to(
        mask.array, shape)))


def repeat(input, *sizes):
    sizes = shape_arg(sizes)
    if len(sizes) < input.ndim:
        raise RuntimeError("repeat: Number of dimensions of repeat dims can not be smaller "
                           "than number of dimensions of tensor")
    if any(s < 0 for s in sizes):
        raise RuntimeError(f"repeat: repeats must be non-negative, got {sizes}")
    shape = (1,) * (len(sizes) - input.ndim) + input.shape
    # (s0, s1) -> (1, s0, 1, s1) -> (r0, s0, r1, s1) -> (r0 * s0, r1 * s1)
    a = reshape(input, sum(((1, s) for s in shape), ()))
    a = broadcast_to(a, sum(((r, s) for r, s in zip(sizes, shape)), ()))
    return reshape(a, tuple(r * s for r, s in zip(sizes, shape)))


def tile(input, dims):
    dims = shape_arg((dims,)) if not isinstance(dims, numbers.Integral) else (int(dims),)
    return repeat(input, (1,) * (input.ndim - len(dims)) + dims)


def flip(input, dims):
    dims = (dims,) if isinstance(dims, numbers.Integral) else tuple(dims)
    axes = {normalize_dim("flip", d, max(input.ndim, 1)) for d in dims}
    if len(axes) != len(dims):
        raise RuntimeError(f"flip: dims {dims} has duplicates")
    if input.ndim == 0:
        return getitem(input, ())
    return getitem(input, tuple(slice(None, None, -1) if k in axes else slice(None)
                                for k in range(input.ndim)))


def roll(input, shifts, dims=None):
    """Elements shifted along ``dims`` (the flattened tensor when None), wrapping around:
    two slices concatenated per dim."""
    shifts = (shifts,) if isinstance(shifts, numbers.Integral) else tuple(shifts)
    if dims is None:
        if len(shifts) != 1:
            raise RuntimeError(f"roll: shifts and dimensions must align. shifts: "
                               f"{len(shifts)}, dims: 0")
        return reshape(roll(reshape(input, (-1,)), shifts, 0), input.shape)
    dims = (dims,) if isinstance(dims, numbers.Integral) else tuple(dims)
    if len(shifts) != len(dims):
        raise RuntimeError(f"roll: shifts and dimensions must align. shifts: {len(shifts)}, "
                           f"dims: {len(dims)}")
    out = input
    for s, d in zip(shifts, dims):
        d = normalize_dim("roll", d, max(input.ndim, 1))
        n = input.shape[d] if input.ndim else 1
        s = s % n if n else 0
        if s == 0 or input.ndim == 0:
            continue
        head = (slice(None),) * d
        out = cat([getitem(out, head + (slice(n - s, None),)),
                   getitem(out, head + (slice(0, n - s),))], d)
    return out


def split(input, split_size_or_sections, dim=0):
    d = normalize_dim("split", dim, input.ndim)
    n = input.shape[d]
    if isinstance(split_size_or_sections, numbers.Integral):
        size = int(split_size_or_sections)
        if size < 0 or size == 0 and n:
            raise RuntimeError(f"split: split_size can only be 0 if dimension size is 0, but "
                               f"got split_size {size} and dimension size {n}")
        sizes = [min(size, n - s) for s in range(0, n, size)] if n else [0]
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if sum(sizes) != n or any(s < 0 for s in sizes):
            raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {n} "
                               f"(input tensor's size at dimension {d}), but got "
                               f"split_sizes={sizes}")
    out, start = [], 0
    for s in sizes:
        out.append(getitem(input, (slice(None),) * d + (slice(start, start + s),)))
        start += s
    return tuple(out)


def chunk(input, chunks, dim=0, *, axis=None):
    dim = dim_aliases("chunk", None if axis is not None and dim == 0 else dim, axis)
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    d = normalize_dim("chunk", dim, input.ndim)
    n = input.shape[d]
    return split(input, max(1, math.ceil(n / chunks)) if n else 0, d)


def unbind(input, dim=0, *, axis=None):
    dim = dim_aliases("unbind", None if axis is not None and dim == 0 else dim, axis)
    d = normalize_dim("unbind", dim, input.ndim)
    return tuple(getitem(input, (slice(None),) * d + (i,)) for i in range(input.shape[d]))


def meshgrid(*tensors, indexing="ij"):
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing not in ("ij", "xy"):
        raise InvalidArgument(f"meshgrid: indexing must be 'ij' or 'xy', got {indexing!r}")
    if not tensors:
        raise RuntimeError("meshgrid expects a non-empty TensorList")
    for t in tensors:
        if t.ndim > 1:
            raise RuntimeError(f"meshgrid: Expected 0D or 1D tensor in the tensor list but "
                               f"got a tensor of shape {t.shape}")
        if t.dtype != tensors[0].dtype:
            raise RuntimeError("meshgrid expects all tensors to have the same dtype")
    sizes = [t.numel() for t in tensors]
    order = list(range(len(tensors)))
    if indexing == "xy" and len(tensors) >= 2:
        order[0], order[1] = 1, 0
    shape = tuple(sizes[k] for k in order)
    out = []
    for k, t in enumerate(tensors):
        view_shape = [1] * len(tensors)
        view_shape[order.index(k)] = sizes[k]
        out.append(broadcast_to(reshape(t, tuple(view_shape)), shape))
    return tuple(out)
