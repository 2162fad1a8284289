"""The tape: one ``Node`` per recorded op, in execution order.

``apply`` runs a primitive's forward on raw arrays and, when any input requires grad and
grad mode is on, records a Node holding what backward needs. A node's sequence number is
its position on the tape; ``engine.backward`` replays the reachable nodes in reverse order.

Nodes are owned by the tensors they produced and point only at older nodes, so there is
no global list that grows and no reference cycle: drop the last tensor of a graph and the
whole graph is freed. An op that needs its own output in backward saves the *array*; the
Tensor is rebuilt on demand (``ctx.output``), which is what keeps that cycle-free.
"""
import itertools

import numpy as np

from minigrad.autograd.grad_mode import _state as _grad_state
from minigrad.errors import InvalidArgument, InvalidDtype
from minigrad.tensor import Tensor

_tape_position = itertools.count()


class Node:
    """One op on the tape; also the ``ctx`` its forward and backward see.

    Structural fields live in slots; anything an op saves goes in ``__dict__`` and is
    dropped by ``release()`` after backward unless the graph is retained.
    """

    __slots__ = ("op", "seq", "next", "shapes", "dtypes", "n_out", "released", "__dict__",
                 "__weakref__")

    def __init__(self, op, inputs, n_out=1):
        self.op = op
        self.seq = next(_tape_position)
        # list comprehensions: this runs once per recorded op, and generators cost more
        self.next = tuple([_edge(t) for t in inputs])
        self.shapes = tuple([t.array.shape for t in inputs])
        self.dtypes = tuple([t.array.dtype for t in inputs])
        self.n_out = n_out
        self.released = False

    @property
    def name(self):
        return self.op.__name__ + "Backward"

    def __repr__(self):
        return f"<{self.name} #{self.seq}>"

    @property
    def output(self):
        """The op's output as a tensor that is part of this graph (for create_graph)."""
        if self.released:
            raise _released_error(self)
        return Tensor._make(self._out, self if _grad_state.enabled else None)

    # -- the torch.autograd.Function ctx interface
    def save_for_backward(self, *tensors):
        self.saved = tensors

    @property
    def saved_tensors(self):
        if self.released:
            raise _released_error(self)
        return tuple(self.output_tensor(s.slot) if type(s) is SavedOutput else s
                     for s in self.__dict__.get("saved", ()))

    def output_tensor(self, slot):
        """Output ``slot`` of a multi-output node, rebuilt from its saved array."""
        t = Tensor._make(self._outs[slot], self if _grad_state.enabled else None)
        if t._node is not None and self.n_out > 1:
            t._slot = slot
        return t

    def release(self):
        self.__dict__.clear()
        self.released = True


class SavedOutput:
    """Stands in for a saved tensor that is one of the node's own outputs: keeping the
    tensor would make a cycle (output -> node -> output), so the array is kept instead."""
    __slots__ = ("slot",)

    def __init__(self, slot):
        self.slot = slot


def _edge(t):
    """Where a gradient for ``t`` goes: its node (or (node, slot)), itself if it is a leaf
    that requires grad, else nowhere."""
    node = t._node
    if node is not None:
        return node if t._slot is None else (node, t._slot)
    return t if t.requires_grad else None


def _released_error(node):
    return RuntimeError(
        f"Trying to backward through the graph a second time ({node.name} was already "
        f"freed). Pass retain_graph=True to the first backward() if you need to do this.")


class _Discard:
    """The ctx a primitive's forward gets when nothing is recorded: saves go nowhere."""

    __slots__ = ()

    def __setattr__(self, name, value):
        pass


_DISCARD = _Discard()


class _Added:
    """What a backward rule returns for an input whose gradient it has already added into
    the buffer the engine offered (``ctx.into``): nothing is left to send."""
    __slots__ = ()

    def __repr__(self):
        return "ADDED"


ADDED = _Added()


class Primitive:
    """An op with its own gradient rule.

    ``forward(ctx, *arrays, **attrs)`` computes on raw arrays (NumPy, CuPy, or a kernel)
    and may save arrays on ``ctx``; ``backward(ctx, grad)`` returns one gradient per input,
    written with differentiable tensor ops so that ``create_graph=True`` records it too.
    Subclasses set ``save_inputs``/``save_output`` when backward needs those tensors. An op
    with ``n_outputs > 1`` returns a tuple of arrays; its backward gets one gradient per
    output (None for an output that received none) and can read ``ctx.output_tensor(k)``.
    """

    save_inputs = False
    save_output = False
    is_view = False  # the output may share the input's memory (and so its version counter)
    n_outputs = 1
    # True: in a plain backward the engine may set ``ctx.into`` to the array that already
    # holds the gradient pending for input 0, and the rule may add its own into it in the
    # same pass (returning ADDED for that input) instead of allocating one to be added
    adds_into_input = False
    # True for a collective (distributed all_reduce): every process must run its backward,
    # so when a pass reaches the node but no gradient arrived for its output (shaped like
    # input 0), the engine runs it with a zero gradient instead of skipping it
    collective = False

    @staticmethod
    def forward(ctx, *arrays, **attrs):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, grad):
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs, **attrs):
        """Run the op on tensors ``inputs``; record it when a gradient could flow."""
        if _grad_state.enabled:
            for t in inputs:
                if t.requires_grad:
                    break
            else:
                return _unrecorded(cls, _forward(cls, _DISCARD, inputs, attrs), inputs)
            node = Node(cls, inputs, cls.n_outputs)
            if cls.save_inputs:
                node.inputs = inputs
                for t in inputs:  # (versions all 0, the usual case: nothing to keep)
                    if t._vc is not None and t._vc[0]:
                        node._versions = [0 if u._vc is None else u._vc[0] for u in inputs]
                        break
            out = _forward(cls, node, inputs, attrs)
            if cls.n_outputs > 1:
                node._outs = out
                outs = tuple(node.output_tensor(k) for k in range(cls.n_outputs))
                _saved_outputs(node, outs)
                return outs
            t = Tensor._make(out, node)
            if cls.save_output:
                node._out = out
                t._vc = node._out_versions = [0]  # (the output's counter; its node keeps it)
            elif cls.is_view:
                _share_version(t, inputs[0])
            return t
        return _unrecorded(cls, _forward(cls, _DISCARD, inputs, attrs), inputs)


def _unrecorded(op, out, inputs):
    if op.n_outputs > 1:
        return tuple(Tensor._make(o) for o in out)
    t = Tensor._make(out)
    if op.is_view:
        _share_version(t, inputs[0])
    return t


# ---------------------------------------------------------------- version counters
# An in-place op bumps its tensor's counter; a node records the counters of the tensors it
# saved, and backward refuses to run on values that changed since (PyTorch's rule: an error,
# never a silently wrong gradient). Views share their base's counter, as they share memory.

def version_counter(t):
    c = t._vc
    if c is None:
        c = t._vc = [0]
    return c


def _share_version(view, base):
    a, b = view.array, base.array
    if getattr(a, "base", None) is not None and np.may_share_memory(a, b):  # (or a copy)
        view._vc = version_counter(base)


def _saved_outputs(node, outs):
    """The node keeps its outputs' arrays, not the tensors (that would be a cycle): it keeps
    their version counters, fresh at 0, instead (one list: [count] for a single output)."""
    counters = []
    for t in outs:
        t._vc = c = [0]
        counters.append(c)
    node._out_versions = counters


_last_write = [-1]  # the tape position of the latest in-place write


def mark_write():
    """Called by every in-place write: nodes recorded before it must check their saves."""
    _last_write[0] = next(_tape_position)


def check_versions(node):
    """Raise PyTorch's error when a tensor ``node`` saved was modified in place since: its
    saved inputs (``_versions``: their versions when saved) or outputs (counters at 0). The
    engine asks only when some in-place write came after the node (``_last_write``)."""
    extras = node.__dict__
    inputs = extras.get("inputs", ())
    saved = extras.get("_versions") or [0] * len(inputs)   # (absent: all were at 0)
    now = [(i, v, t._version) for i, (v, t) in enumerate(zip(saved, inputs))]
    outs = extras.get("_out_versions", ())
    if outs and not isinstance(outs[0], list):  # a single output's counter itself
        outs = [outs]
    now += [(-1 - k, 0, c[0]) for k, c in enumerate(outs)]
    for i, saved, current in now:
        if current != saved:
            what = (f"input {i} of shape {node.shapes[i]} ({node.dtypes[i]})" if i >= 0
                    else f"output {-1 - i}")
            raise RuntimeError(
                f"one of the variables needed for gradient computation has been modified by "
                f"an inplace operation: {what} of {node.name}, saved at version {saved}, "
                f"is now at version {current}. Hint: compute the value out of place "
                f"(x = x + 1 instead of x += 1), or clone() it before modifying it.")


def _forward(op, ctx, inputs, attrs):
    if len(inputs) > 1:
        kind = type(inputs[0].array)
        for t in inputs:
            if type(t.array) is not kind:
                _check_one_device(op, inputs)
                break
    try:
        out = op.forward(ctx, *[t.array for t in inputs], **attrs)
    except (ValueError, IndexError, TypeError) as e:
        raise _op_error(op, inputs, e) from None
    if isinstance(out, np.generic):  # NumPy hands back scalars where we want 0-d arrays
        out = np.asarray(out)       # (saved outputs too, so here as well as in _make)
    return out


def _check_one_device(op, inputs):
    """PyTorch's error for an op whose tensors live on different devices (nothing is ever
    copied between devices implicitly)."""
    devices = []
    for t in inputs:
        if t.device not in devices:
            devices.append(t.device)
    if len(devices) > 1:
        name = getattr(op, "op_name", op.__name__.lower())
        raise RuntimeError(f"{name}: expected all tensors to be on the same device, but found "
                           f"at least two devices, {devices[0]} and {devices[1]}")


def _op_error(op, inputs, e):
    """Name the op and the input shapes in an error raised inside its forward."""
    name = getattr(op, "op_name", op.__name__.lower())
    msg = str(e)
    if not msg.startswith(name + ":"):
        shapes = ", ".join(str(tuple(t.shape)) for t in inputs)
        msg = f"{name}: {msg} (input shapes {shapes})"
    # NumPy's ValueError/TypeError become ours, which are RuntimeErrors too (as PyTorch's)
    cls = {ValueError: InvalidArgument, TypeError: InvalidDtype}.get(type(e), type(e))
    return cls(msg)
