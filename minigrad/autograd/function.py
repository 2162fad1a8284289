"""``mg.autograd.Function``: user-defined ops with their own gradient, PyTorch's interface.

``forward(ctx, *args)`` receives tensors (with grad mode off) and returns a tensor or a
tuple of tensors; ``backward(ctx, *grads)`` returns one gradient per forward argument
(None for non-tensors). The ``ctx`` is the tape node itself.
"""
import functools

from minigrad import backend
from minigrad.autograd.grad_mode import _state as _grad_state, no_grad
from minigrad.autograd.graph import (Node, Primitive, SavedOutput, pack_saved,
                                     saved_tensors_hook_stack)
from minigrad.tensor import Tensor


class _Ctx:
    """The ctx for a call that records nothing: it accepts saves and forgets them."""

    def save_for_backward(self, *tensors):
        pass


class _FunctionBackward:
    """Adapts a Function subclass to the engine's ``op.backward(node, *grads)``."""

    backward_arrays = None
    adds_into_input = False

    def __init__(self, fn, positions, n_args):
        self.fn, self.positions, self.n_args = fn, positions, n_args
        self.__name__ = fn.__name__

    def backward(self, ctx, *grads):
        filled = []
        for slot, g in enumerate(grads):
            if g is None:  # an output that received no gradient contributes zeros
                out = ctx._outs[slot]
                g = Tensor._make(backend.of(out).xp.zeros_like(out))
            filled.append(g)
        result = self.fn.backward(ctx, *filled)
        if not isinstance(result, tuple):
            result = (result,)
        if len(result) != self.n_args:
            raise RuntimeError(f"{self.fn.__name__}.backward returned {len(result)} gradients, "
                               f"expected {self.n_args} (one per forward argument)")
        picked = []
        for i, pos in enumerate(self.positions):
            g = result[pos]
            if g is not None:
                if not isinstance(g, Tensor):
                    g = Tensor(g)
                if g.shape != ctx.shapes[i]:
                    raise RuntimeError(
                        f"{self.fn.__name__}.backward returned a gradient of shape {g.shape} "
                        f"for argument {pos}, expected {ctx.shapes[i]}")
            picked.append(g)
        return tuple(picked)


class Function:
    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("a Function subclass must define forward")

    @staticmethod
    def backward(ctx, *grads):
        raise NotImplementedError("a Function subclass must define backward")

    @classmethod
    def apply(cls, *args):
        positions = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        tensors = [args[i] for i in positions]
        record = _grad_state.enabled and any(t.requires_grad for t in tensors)
        if record:
            ctx = Node(_FunctionBackward(cls, positions, len(args)), tensors)
        else:
            ctx = _Ctx()
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        with no_grad():
            out = cls.forward(ctx, *args)
        if not record:
            return out
        single = isinstance(out, Tensor)
        outs = (out,) if single else tuple(out)
        if not all(isinstance(o, Tensor) for o in outs):
            raise TypeError(f"{cls.__name__}.forward must return a tensor or a tuple of tensors")
        ctx.n_out = len(outs)
        ctx._outs = tuple(o.array for o in outs)
        saved = ctx.__dict__.get("saved")
        if saved:
            ctx.saved = tuple(
                next((SavedOutput(k) for k, o in enumerate(outs) if s is o), s) for s in saved)
        results = tuple(ctx.output_tensor(k) for k in range(len(outs)))
        if saved_tensors_hook_stack:
            pack_saved(ctx, results, function_outputs=results)
        return results[0] if single else results


class _DifferentiatedOnce(Primitive):
    """The output of a ``once_differentiable`` backward, when it was recorded: a node whose
    own backward (a second derivative through it) is an error."""
    op_name = "once_differentiable"

    @staticmethod
    def forward(ctx, *inputs, value):
        return value

    @staticmethod
    def backward(ctx, g):
        raise RuntimeError("trying to differentiate twice a function that was marked with "
                           "@once_differentiable")


def once_differentiable(fn):
    """Decorate a Function's ``backward`` that is not itself differentiable: it runs with
    grad mode off, and when a double backward (``create_graph=True``) would go through its
    result, that second differentiation raises instead of giving a wrong (zero) answer."""
    @functools.wraps(fn)
    def wrapper(ctx, *args):
        with no_grad():
            outputs = fn(ctx, *args)
        if not _grad_state.enabled:
            return outputs
        recorded = [a for a in args if isinstance(a, Tensor) and a.requires_grad]
        if not recorded:
            return outputs
        single = not isinstance(outputs, tuple)
        outs = tuple(_DifferentiatedOnce.apply(*recorded, value=o.array)
                     if isinstance(o, Tensor) else o for o in ((outputs,) if single else outputs))
        return outs[0] if single else outs
    return wrapper
