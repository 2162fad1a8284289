"""In-place updates with PyTorch's semantics: ``+= -= *= /=``, ``t[i] = v``, ``add_``,
``mul_``, ``clamp_``, ``fill_``, ``zero_``, ``copy_``.

An in-place op writes its result into the tensor's own memory, so views and other names
of that memory see it, and bumps the tensor's version counter. Then:

- under ``no_grad`` (or when nothing involved requires grad) that is all;
- on a leaf that requires grad, with grad mode on, it is PyTorch's error (the leaf's value
  is what its gradient is *of*);
- otherwise the update is recorded: the tensor becomes the output of the op, whose input
  is the tensor's previous value (a copy of it when the op's backward needs the values);
- a node that saved the old value and runs backward after the update raises PyTorch's
  "modified by an inplace operation" error (``graph.check_versions``) instead of using
  the new values silently.
"""
import numbers

import numpy as np

from minigrad.autograd.grad_mode import _state as _grad_state
from minigrad.autograd.graph import Primitive, mark_write, version_counter
from minigrad.ops._common import as_tensor, constant, xp_of
from minigrad.tensor import Tensor


def _read_only(a):
    """NumPy's writeable flag; CuPy arrays have none, so there an expanded or broadcast view
    (a zero stride over more than one element, where writes would collide) counts."""
    writeable = getattr(a.flags, "writeable", None)
    if writeable is not None:
        return not writeable
    return any(s == 0 and n > 1 for s, n in zip(a.strides, a.shape))


def update(t, op, compute, needs_old_values=False):
    """Set ``t`` to ``compute(t_old)`` in place (``compute`` is written with ordinary,
    recorded ops); ``needs_old_values``: its backward reads t's old values."""
    if _grad_state.enabled and t.requires_grad and t._node is None:
        raise RuntimeError(f"{op}: a leaf Variable that requires grad is being used in an "
                           f"in-place operation; wrap the update in `with mg.no_grad():`")
    if _read_only(t.array):
        raise RuntimeError(f"{op}: the tensor's memory is read-only (an expanded or "
                           f"broadcast view, or read-only NumPy data); clone() it first")
    old = t
    if t._node is not None:  # t's previous value, at t's place in the graph
        old = Tensor._make(t.array.copy() if needs_old_values else t.array, t._node)
        old._slot = t._slot
    result = compute(old)
    _write(t, result.array, op)
    if result._node is not None:    # recorded: t is now the op's output
        t._node, t._slot, t.requires_grad = result._node, result._slot, True
    return t


def _write(t, values, op):
    dst = t.array
    if values.shape != dst.shape:
        raise RuntimeError(f"{op}: output with shape {list(dst.shape)} doesn't match the "
                           f"broadcast shape {list(values.shape)}")
    if values.dtype != dst.dtype and not np.can_cast(values.dtype, dst.dtype, "same_kind"):
        raise RuntimeError(f"{op}: result type {values.dtype} can't be cast to the desired "
                           f"output type {dst.dtype}")
    if values is not dst:
        xp_of(dst).copyto(dst, values, casting="unsafe")  # (the kind was checked above)
    version_counter(t)[0] += 1
    mark_write()


def replaced(old, value):
    """``value`` broadcast to ``old``'s shape and cast to its dtype, as a function of both:
    the gradient goes to ``value``; ``old`` gets 0 (selected away, so even inf/NaN in the
    old values send nothing back)."""
    from minigrad.ops._common import cast
    from minigrad.ops.arithmetic import where
    from minigrad.ops.shape import broadcast_to
    everywhere = constant(xp_of(old.array).ones(old.shape, dtype=bool))
    return where(everywhere, cast(broadcast_to(value, old.shape), old.dtype), old)


class Clone(Primitive):
    """A copy in new memory; the gradient passes through."""

    @staticmethod
    def forward(ctx, a):
        return a.copy()

    @staticmethod
    def backward(ctx, g):
        return g


def clone(a):
    return Clone.apply(a)


# ---------------------------------------------------------------- t[index] = value

def _is_basic(part):
    return part is None or part is Ellipsis or isinstance(part, (slice, numbers.Integral)) \
        and not isinstance(part, bool)


class SetItem(Primitive):
    """``a`` with the positions ``flat`` (flat indices, from getitem's own rules) set to
    ``v`` broadcast to their shape. Gradient: 0 at the written positions for ``a``; the
    gradient there, gathered, for ``v`` (the engine sums it down to v's shape)."""
    op_name = "setitem"

    @staticmethod
    def forward(ctx, a, v, flat):
        xp = xp_of(a)
        out = a.copy()
        out.reshape(-1)[flat.reshape(-1)] = xp.broadcast_to(v, flat.shape).reshape(-1)
        ctx.flat = flat
        return out

    @staticmethod
    def backward(ctx, g):
        from minigrad.ops.arithmetic import where
        from minigrad.ops.shape import getitem, reshape
        flat = constant(ctx.flat)
        ga = gv = None
        if ctx.next[0] is not None:
            written = xp_of(g.array).zeros(g.array.size, dtype=bool)
            written[ctx.flat.reshape(-1)] = True
            ga = where(constant(written.reshape(g.shape)), 0, g)
        if ctx.next[1] is not None:
            gv = getitem(reshape(g, (-1,)), flat)
        return ga, gv


def setitem(t, index, value):
    """``t[index] = value`` with PyTorch's indexing rules (those of ``t[index]``)."""
    from minigrad.ops.shape import getitem
    parts = index if isinstance(index, tuple) else (index,)
    v = value if isinstance(value, Tensor) else as_tensor(value, t)
    recording = _grad_state.enabled and (t.requires_grad or v.requires_grad)
    if not recording and all(_is_basic(p) for p in parts):
        # the common case (t[0] = 1.0, t[:, 2:] = v): NumPy's basic indexing is PyTorch's
        dst = t.array[index]
        if not _fits(dst.shape, v.shape):
            raise RuntimeError(f"setitem: shape mismatch: value tensor of shape "
                               f"{list(v.shape)} cannot be broadcast to indexing result of "
                               f"shape {list(dst.shape)}")
        return update(t, "setitem", lambda old: _set_basic(old, index, v))
    # the positions t[index] reads, in its order and shape: written by the same rules
    positions = xp_of(t.array).arange(t.array.size).reshape(t.shape)
    flat = getitem(constant(positions), index).array
    if not _fits(flat.shape, v.shape):
        raise RuntimeError(f"setitem: shape mismatch: value tensor of shape {list(v.shape)} "
                           f"cannot be broadcast to indexing result of shape {list(flat.shape)}")
    if v.array.dtype != t.array.dtype:
        from minigrad.ops._common import cast
        v = cast(v, t.dtype)
    return update(t, "setitem", lambda old: SetItem.apply(old, v, flat=flat))


def _fits(shape, value_shape):
    try:
        return np.broadcast_shapes(shape, value_shape) == shape
    except ValueError:
        return False


def _set_basic(old, index, v):
    """Untracked basic-index assignment: write into old's memory directly (no copy;
    ``update`` checked that it is writable)."""
    old.array[index] = v.array
    return old


# ---------------------------------------------------------------- helpers of the Tensor's in-place methods

def fill_value(value, like):
    """``fill_``'s value: a 0-d tensor (its gradient flows) or a number, on like's device."""
    if isinstance(value, Tensor):
        if value.ndim:
            raise RuntimeError(f"fill_ only supports 0-dimension value tensor but got tensor "
                               f"with {value.ndim} dimensions")
        return value
    return as_tensor(value, like)


def as_source(src):
    """``copy_``'s source as a tensor (lists and arrays are converted)."""
    return src if isinstance(src, Tensor) else Tensor(src)


def reshape_(t, op, reshape):
    """``t.unsqueeze_``/``squeeze_``/``t_``/``transpose_``: ``t`` takes the reshaped array
    (a view of its own memory) and, when recorded, the reshape's place in the graph. As in
    PyTorch, a leaf that requires grad refuses, with grad mode on."""
    def run(*args):
        if _grad_state.enabled and t.requires_grad and t._node is None:
            raise RuntimeError("a leaf Variable that requires grad is being used in an "
                               "in-place operation.")
        out = reshape(t, *args)
        t.array = out.array
        if out._node is not None:
            t._node, t._slot = out._node, out._slot
        return t
    return run


def detach_(t):
    """Make ``t`` a leaf that does not require grad, in place. A view of a tensor in a
    graph refuses (PyTorch: "Can't detach views in-place")."""
    if t._node is not None and getattr(t._node.op, "is_view", False) \
            and getattr(t.array, "base", None) is not None:
        raise RuntimeError("Can't detach views in-place. Use detach() instead.")
    t._node = t._slot = None
    t.requires_grad = False
    return t
