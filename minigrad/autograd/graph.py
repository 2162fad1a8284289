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

from minigrad import backend
from minigrad.autograd.anomaly_mode import _state as _anomaly, forward_stack
from minigrad.autograd.grad_mode import _state as _grad_state
from minigrad.errors import InvalidArgument, InvalidDtype
from minigrad.tensor import Tensor

_tape_position = itertools.count()
_new_tensor = object.__new__


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
        if len(inputs) == 1:   # (the commonest case, without the lists; _edge inlined)
            t = inputs[0]
            node, a = t._node, t.array
            self.next = ((node if t._slot is None else (node, t._slot)) if node is not None
                         else (t if t.requires_grad else None),)
            self.shapes, self.dtypes = (a.shape,), (a.dtype,)
        else:   # one loop with _edge inlined: this runs once per recorded op
            edges, shapes, dtypes = [], [], []
            for t in inputs:
                node = t._node
                edges.append((node if t._slot is None else (node, t._slot)) if node is not None
                             else (t if t.requires_grad else None))
                a = t.array
                shapes.append(a.shape)
                dtypes.append(a.dtype)
            self.next, self.shapes, self.dtypes = tuple(edges), tuple(shapes), tuple(dtypes)
        self.n_out = n_out
        self.released = False
        if _anomaly.enabled:   # (the only cost of anomaly mode while it is off)
            self.forward_stack = forward_stack()

    @property
    def name(self):
        return getattr(self.op, "backward_name", None) or self.op.__name__ + "Backward"

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
    """What ``backward_arrays`` returns for an input whose gradient it has already added
    into the buffer the engine offered (``into``): nothing is left to send."""
    __slots__ = ()

    def __repr__(self):
        return "ADDED"


ADDED = _Added()


class Primitive:
    """An op with its own gradient rule.

    ``forward(ctx, *arrays, **attrs)`` computes on raw arrays (NumPy, CuPy, or a kernel)
    and may save arrays on ``ctx``. Subclasses set ``save_inputs``/``save_output`` when a
    gradient rule needs those tensors. An op with ``n_outputs > 1`` returns a tuple of
    arrays; its rules get one gradient per output (None for an output that received none)
    and can read ``ctx.output_tensor(k)``.

    Two gradient rules, and the engine (``engine._run_rule``) alone chooses between them:

    * ``backward(ctx, *grads)``: required. Returns one gradient tensor (or None) per input,
      written with differentiable tensor ops, so it is valid in every backward and is what
      ``create_graph=True`` records: higher derivatives differentiate it.
    * ``backward_arrays(ctx, *grad_arrays)``: optional, the same gradient on raw arrays,
      for a plain backward (nothing recorded), where the tensor form would dispatch several
      ops and temporaries (one fused pass instead). It returns one array (or None) per
      input, or ``NotImplemented`` for a case it has no array form for (then ``backward``
      runs). An op that sets ``adds_into_input`` is called with ``into=``: the array that
      already holds input 0's pending gradient when the engine may write into it (else
      None); the rule may add its gradient into it and return ``ADDED`` for input 0. Only
      this rule is ever offered a buffer.
    """

    save_inputs = False
    save_output = False
    is_view = False  # the output may share the input's memory (and so its version counter)
    n_outputs = 1
    # the array-level rule (see above), or None
    backward_arrays = None
    # True: ``backward_arrays`` takes ``into=`` (see above)
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
                outs = tuple([node.output_tensor(k) for k in range(cls.n_outputs)])
                _saved_outputs(node, outs)
                if saved_tensors_hook_stack:
                    pack_saved(node, outs)
                return outs
            t = _new_tensor(Tensor)     # (Tensor._make, inlined: _forward gave an array)
            t.array, t.requires_grad, t._grad, t._node = out, True, None, node
            t._slot = t._vc = t._hooks = None
            if cls.save_output:
                node._out = out
                t._vc = node._out_versions = [0]  # (the output's counter; its node keeps it)
            elif cls.is_view:
                _share_version(t, inputs[0])
            if saved_tensors_hook_stack:
                pack_saved(node, (t,))
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
    if len(inputs) == 1:   # (no other device to meet)
        arrays = (inputs[0].array,)
    else:
        arrays = [t.array for t in inputs]
        kind = type(arrays[0]) if arrays else None
        for a in arrays:
            if type(a) is not kind:
                check_one_device(getattr(op, "op_name", op.__name__.lower()), inputs)
                break
    try:
        out = op.forward(ctx, *arrays, **attrs) if attrs else op.forward(ctx, *arrays)
    except (ValueError, IndexError, TypeError) as e:
        raise op_error(getattr(op, "op_name", op.__name__.lower()), inputs, e) from None
    if isinstance(out, np.generic):  # NumPy hands back scalars where we want 0-d arrays
        out = np.asarray(out)       # (saved outputs too, so here as well as in _make)
    return out


def check_one_device(name, inputs):
    """PyTorch's error for op ``name`` whose tensors live on different devices (nothing is
    ever copied between devices implicitly)."""
    devices = []
    for t in inputs:
        if t.device not in devices:
            devices.append(t.device)
    if len(devices) > 1:
        raise RuntimeError(f"{name}: expected all tensors to be on the same device, but found "
                           f"at least two devices, {devices[0]} and {devices[1]}")


def op_error(name, inputs, e):
    """Name the op and the input shapes in an error raised inside its forward (a
    primitive's, or the array call of an op without a gradient)."""
    msg = str(e)
    if not msg.startswith(name + ":"):
        shapes = ", ".join(str(tuple(t.shape)) for t in inputs)
        msg = f"{name}: {msg} (input shapes {shapes})"
    # NumPy's ValueError/TypeError (and their subclasses, such as its no-ufunc-loop
    # errors) become ours, which are RuntimeErrors too (as PyTorch's)
    if isinstance(e, TypeError):
        return InvalidDtype(msg)
    if isinstance(e, ValueError):
        return InvalidArgument(msg)
    return type(e)(msg)


# ---------------------------------------------------------------- saved-tensor hooks
# PyTorch's ``saved_tensors_hooks``: while a (pack, unpack) pair is active, what a node
# keeps for its backward is handed to ``pack`` when the node is recorded, and the node
# keeps pack's result instead; ``unpack`` turns it back into a tensor each time backward
# runs the node (the engine asks, one dict lookup per node). What a node keeps: its saved
# inputs (``save_inputs``), its saved outputs, the tensors a Function saves with
# ``save_for_backward``, and any array an op's forward put on its ctx (masks, indices,
# softmax values; also inside a tuple). The stack is empty unless a context is active,
# and recording only tests that it is empty.

saved_tensors_hook_stack = []   # (pack_hook, unpack_hook) pairs; the innermost applies

_STRUCTURAL = frozenset(("_hooks", "_packed", "needs_input_grad", "n_out"))


class _Packed:
    """A value ``pack_hook`` returned; ``as_array``: the node kept an array there;
    ``edge``: where the packed tensor sat in the graph (as PyTorch keeps a saved tensor's
    grad_fn beside what the hooks keep), so that a create_graph backward can
    differentiate through the unpacked value even when ``pack`` detached it."""
    __slots__ = ("value", "unpack", "as_array", "slot", "edge")

    def __init__(self, value, unpack, as_array, slot, edge):
        self.value, self.unpack, self.as_array, self.slot = value, unpack, as_array, slot
        self.edge = edge


class _SavedLeaf(Primitive):
    """An unpacked stand-in for a saved leaf: its gradient goes to the leaf."""

    @staticmethod
    def backward(ctx, g):
        return g


def pack_saved(node, outputs, function_outputs=None):
    """Pass every value ``node`` keeps for backward through the innermost pack hook.
    ``outputs``: the tensors the node produced (pack receives them for its saved
    outputs); ``function_outputs``: the same for a Function node, whose ``saved`` tuple
    is what it keeps (its output arrays stay: backward needs their shapes)."""
    top = saved_tensors_hook_stack[-1]
    if top is None:   # (inside a pack hook)
        return
    pack, unpack = top
    extras = node.__dict__
    packed = {}

    def one(t, as_array, slot=None):
        """pack(t); ``as_array``: the node kept t's array (else t itself)."""
        version = t._version
        # (a pack hook that runs ops must not pack what they save: no hooks inside it)
        saved_tensors_hook_stack.append(None)
        try:
            result = pack(t)
        finally:
            saved_tensors_hook_stack.pop()
        if t._version != version:
            raise RuntimeError(
                "A saved tensor pack hook is modifying its input in place. Tensors provided as "
                "input to pack hook cannot be modified by in-place operations as this can lead "
                "to unexpected side-effects. Please open an issue if you need to perform "
                "in-place operations on the input to a pack hook.")
        return _Packed(result, unpack, as_array, slot, None if as_array else _edge(t))

    def array(a):
        return one(Tensor._make(a), True)

    for name, value in list(extras.items()):
        if name in _STRUCTURAL:
            continue
        if name == "inputs":
            packed[name] = tuple(one(t, False) for t in value)
        elif name == "_out":
            packed[name] = one(outputs[0], True)
        elif name == "_outs":
            if function_outputs is not None:
                continue
            packed[name] = tuple(one(t, True) for t in outputs)
        elif name == "saved" and function_outputs is not None:
            packed[name] = tuple(
                one(function_outputs[s.slot], False, s.slot) if type(s) is SavedOutput
                else one(s, False) if isinstance(s, Tensor) else s for s in value)
        elif backend.is_array(value):
            packed[name] = array(value)
        elif type(value) in (tuple, list) and any(backend.is_array(v) for v in value):
            packed[name] = type(value)(array(v) if backend.is_array(v) else v for v in value)
        else:
            continue
        del extras[name]
    if packed:
        extras["_packed"] = packed
        # as in PyTorch, what went through the hooks is not checked against later in-place
        # writes: the hooks decide what is kept
        extras.pop("_versions", None)
        extras.pop("_out_versions", None)


def unpack_saved(node):
    """Before ``node``'s backward runs: its packed values through the unpack hook, back
    under their own names (``repack_saved`` undoes this when the graph is retained)."""
    extras = node.__dict__
    for name, entry in extras["_packed"].items():
        extras[name] = _unpack_entry(node, entry)


def repack_saved(node):
    extras = node.__dict__
    for name in extras["_packed"]:
        extras.pop(name, None)


def _unpack_entry(node, entry):
    if type(entry) in (tuple, list):
        return type(entry)(_unpack_entry(node, e) for e in entry)
    if type(entry) is not _Packed:
        return entry
    t = entry.unpack(entry.value)
    if not isinstance(t, Tensor):
        raise TypeError(f"Output of saved tensor unpack_hook expected to be a Tensor but got "
                        f"result of type {type(t).__name__}")
    if entry.as_array:
        return t.array
    if entry.slot is not None:   # a Function's own output: part of its graph again
        edge = node if node.n_out == 1 else (node, entry.slot)
    else:
        edge = entry.edge
    if edge is None or not _grad_state.enabled:
        return t
    now = _edge(t)
    if now is edge or type(now) is tuple and type(edge) is tuple and now[0] is edge[0] \
            and now[1] == edge[1]:
        return t
    if type(edge) is Node:
        return Tensor._make(t.array, edge)
    if type(edge) is tuple:
        out = Tensor._make(t.array, edge[0])
        out._slot = edge[1]
        return out
    return Tensor._make(t.array, Node(_SavedLeaf, (edge,)))


class saved_tensors_hooks:
    """PyTorch's ``torch.autograd.graph.saved_tensors_hooks(pack_hook, unpack_hook)``: a
    context manager under which every value a recorded op keeps for its backward goes
    through ``pack_hook(tensor) -> object`` when the op runs, and ``unpack_hook(object) ->
    tensor`` when backward needs it (each time a backward pass runs that op). Nested
    contexts: only the innermost pair applies. What minigrad's nodes keep is listed above
    ``pack_saved``; a Function packs exactly its ``save_for_backward`` tensors, as in
    PyTorch. As in PyTorch: a pack hook must not modify its input in place (a
    RuntimeError), what went through the hooks is not checked against later in-place
    writes, and returning the input itself from ``pack_hook`` makes a reference cycle for
    saved outputs (``lambda x: x.detach()`` avoids it). Ops a pack hook runs save nothing
    through the hooks."""

    def __init__(self, pack_hook, unpack_hook):
        self.pack_hook = pack_hook
        self.unpack_hook = unpack_hook

    def __enter__(self):
        saved_tensors_hook_stack.append((self.pack_hook, self.unpack_hook))

    def __exit__(self, *args):
        saved_tensors_hook_stack.pop()


class save_on_cpu(saved_tensors_hooks):
    """PyTorch's ``save_on_cpu(pin_memory=False, device_type="cuda")``: what the forward
    pass saves is kept on the host and copied back to its device when backward needs it;
    a host tensor is kept as it is (no copy). ``pin_memory=True`` always keeps a fresh
    host copy, as PyTorch does, but minigrad does not page-lock it (so the copy back is
    not asynchronous)."""

    def __init__(self, pin_memory=False, device_type="cuda"):
        def pack_to_cpu(tensor):
            host = tensor.detach().cpu()
            if pin_memory and host.array is tensor.array:
                host = Tensor._make(host.array.copy())
            return tensor.device, host

        def unpack_from_cpu(packed):
            device, tensor = packed
            return tensor.to(device)

        super().__init__(pack_to_cpu, unpack_from_cpu)
