"""Module hooks: the removable handle and the machinery behind full backward hooks.

A full backward hook needs the gradients with respect to a module's inputs *and* outputs,
delivered together once per call. As in PyTorch, the module's tensor inputs and outputs are
each passed through one multi-tensor identity, a tape node of its own: the output
identity's backward runs first and remembers the gradients of the outputs; the input
identity's backward runs once the gradients of every input are summed, calls the hooks and
passes on what they return. No new primitive: the engine sees two identity nodes.
"""
import collections
import itertools
import warnings

from minigrad import backend
from minigrad.autograd.grad_mode import is_grad_enabled
from minigrad.autograd.graph import Node
from minigrad.tensor import Tensor


class RemovableHandle:
    """What ``register_*_hook`` returns: ``remove()`` unregisters the hook; usable as a
    context manager that removes it on exit. ``id`` is the hook's key."""

    _next_id = itertools.count()

    def __init__(self, hooks, extra=()):
        self.hooks = hooks
        self.extra = tuple(extra)  # other stores keyed by the same id (with_kwargs, ...)
        self.id = next(RemovableHandle._next_id)

    def remove(self):
        self.hooks.pop(self.id, None)
        for store in self.extra:
            store.discard(self.id) if isinstance(store, set) else store.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def add_hook(hooks, hook, prepend=False, extra=()):
    handle = RemovableHandle(hooks, extra)
    hooks[handle.id] = hook
    if prepend:
        hooks.move_to_end(handle.id, last=False)
    return handle


def new_store():
    return collections.OrderedDict()


class _IdentityBackward:
    """The engine's view of the identity below: its backward hands the gradients of the
    outputs (None where none arrived) to ``on_grads`` and sends on what that returns."""

    backward_arrays = None
    adds_into_input = False
    __name__ = "BackwardHookFunction"

    def __init__(self, on_grads):
        self.on_grads = on_grads

    def backward(self, ctx, *grads):
        return tuple(self.on_grads(grads))


def _identity(on_grads, tensors):
    """``tensors`` unchanged, as new tensors recorded on one multi-output tape node."""
    node = Node(_IdentityBackward(on_grads), tensors, len(tensors))
    node._outs = tuple(t.array for t in tensors)
    return tuple(node.output_tensor(k) for k in range(len(tensors)))


def _tensor_positions(values):
    return [i for i, v in enumerate(values) if isinstance(v, Tensor)]


class BackwardHook:
    """One module call's full backward hooks (PyTorch's ``BackwardHook``).

    ``grad_input`` has one entry per positional argument (None for non-tensors; zeros for a
    tensor that received no gradient), ``grad_output`` one per output (None for a
    non-tensor or an output that received no gradient). When no input requires grad the
    hooks fire as soon as the output gradients are known, with ``grad_input`` all None.
    """

    def __init__(self, module, hooks):
        self.module, self.hooks = module, hooks
        self.grad_outputs = None
        self.n_inputs = 0
        self.input_positions = None  # None: no input is wrapped

    def setup_input(self, args):
        self.n_inputs = len(args)
        positions = _tensor_positions(args)
        if not (is_grad_enabled() and any(args[i].requires_grad for i in positions)):
            return args
        self.input_positions = positions
        self._input_arrays = [args[i].array for i in positions]
        wrapped = _identity(self._on_input_grads, [args[i] for i in positions])
        args = list(args)
        for i, w in zip(positions, wrapped):
            if args[i].requires_grad:  # (the others stay as they are: nothing flows to them)
                args[i] = w
        return tuple(args)

    def setup_output(self, result):
        single = not isinstance(result, tuple)
        outs = (result,) if single else result
        positions = _tensor_positions(outs)
        if not (is_grad_enabled() and any(outs[i].requires_grad for i in positions)):
            return result
        self.n_outputs = len(outs)
        grads_of = [i for i in positions if outs[i].requires_grad]
        self.output_grad_positions = grads_of
        wrapped = _identity(self._on_output_grads, [outs[i] for i in grads_of])
        outs = list(outs)
        for i, w in zip(grads_of, wrapped):
            outs[i] = w
        return outs[0] if single else tuple(outs)

    def _pack(self, positions, values, n):
        packed = [None] * n
        for i, v in zip(positions, values):
            packed[i] = v
        return tuple(packed)

    def _on_output_grads(self, grads):
        self.grad_outputs = self._pack(self.output_grad_positions, grads, self.n_outputs)
        if self.input_positions is None:
            warnings.warn("Full backward hook is firing when gradients are computed with "
                          "respect to module outputs since no inputs require gradients.",
                          UserWarning, stacklevel=2)
            grad_inputs = (None,) * self.n_inputs
            for hook in list(self.hooks.values()):
                r = hook(self.module, grad_inputs, self.grad_outputs)
                if r is not None and not (isinstance(r, tuple) and all(x is None for x in r)):
                    raise RuntimeError("Backward hook for Modules where no input requires "
                                       "gradient should always return None or None for all "
                                       "gradients.")
            self.grad_outputs = None
        return grads

    def _on_input_grads(self, grads):
        if self.grad_outputs is None:
            # the gradient reached the inputs without passing through the outputs
            return grads
        # PyTorch shows zeros for a tensor input that received no gradient
        grads = [g if g is not None else Tensor._make(backend.of(a).xp.zeros_like(a))
                 for g, a in zip(grads, self._input_arrays)]
        res = self._pack(self.input_positions, grads, self.n_inputs)
        for hook in list(self.hooks.values()):
            out = hook(self.module, res, self.grad_outputs)
            if out is None:
                continue
            if not isinstance(out, tuple):
                out = (out,)
            if len(out) != len(res):
                raise RuntimeError(f"Backward hook returned an invalid number of grad_input, "
                                   f"got {len(out)}, but expected {len(res)}")
            res = out
        self.grad_outputs = None
        return tuple(res[i] for i in self.input_positions)
