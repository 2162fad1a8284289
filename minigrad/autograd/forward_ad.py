"""``torch.autograd.forward_ad``: dual tensors and their tangents (directional derivatives).

minigrad has no forward-mode engine. A dual tensor is an ordinary tensor on the tape
(a differentiable alias of the primal, or a fresh leaf when the primal does not require
grad), and the level remembers its tangent. ``unpack_dual(y)`` computes y's tangent
J v from the graph recorded between the duals and ``y`` by the double-vector-Jacobian
trick: a backward pass with ``create_graph`` from a dummy gradient ``u`` gives J^T u
(linear in u) for every dual, and one backward pass of <J^T u, v> with respect to u gives
J v. So each ``unpack_dual`` of a computed tensor costs two backward passes through the
graph since the duals; the results are PyTorch's (its forward-mode rules compute the
same derivatives).

Differences from PyTorch, all consequences of the above: a tensor computed from a dual
requires grad (it is on the tape) even when its primal did not, and gradients reach a
user's leaf through a dual only when that leaf required grad when ``make_dual`` ran.
Only one level exists at a time, as in PyTorch.
"""
from typing import NamedTuple

from minigrad.tensor import Tensor

__all__ = ["UnpackedDualTensor", "enter_dual_level", "exit_dual_level", "make_dual",
           "unpack_dual", "dual_level"]

_current_level = -1
_duals = []        # (dual tensor, tangent) made at the current level


class UnpackedDualTensor(NamedTuple):
    """What ``unpack_dual`` returns: the primal and the tangent (None if it has none)."""
    primal: Tensor
    tangent: Tensor | None


def enter_dual_level():
    """Enter the forward-AD level (there is only one); returns its number, 0."""
    global _current_level
    if _current_level >= 0:
        raise RuntimeError("Nested forward mode AD is not supported at the moment")
    _current_level = 0
    return _current_level


def exit_dual_level(*, level=None):
    """Leave the level: every tangent made in it is forgotten."""
    global _current_level
    if level is None:
        level = _current_level
    if level != _current_level:
        raise RuntimeError("Trying to exit a forward AD level that was not the last one that "
                           "was created. This is not supported.")
    _duals.clear()
    _current_level = level - 1


class dual_level:
    """Context manager (and decorator) for forward AD: ``make_dual`` and ``unpack_dual``
    work inside it; leaving it deletes the tangents."""

    def __enter__(self):
        return enter_dual_level()

    def __exit__(self, *exc):
        exit_dual_level()

    def __call__(self, fn):
        import functools

        @functools.wraps(fn)
        def wrapped(*args, **kwargs):
            with dual_level():
                return fn(*args, **kwargs)
        return wrapped


def _level(level):
    return _current_level if level is None else level


def _dual_index(t):
    for i, (d, _) in enumerate(_duals):
        if d is t:
            return i
    return None


def _depends_on_duals(t):
    """True when ``t``'s graph reaches one of the level's duals."""
    from minigrad.autograd.engine import _node_of, _reachable
    from minigrad.autograd.graph import _edge
    if not _duals or not t.requires_grad:
        return False
    targets = {id(_edge(d)) if d._node is None else id(d._node) for d, _ in _duals}
    if id(_edge(t)) in targets:
        return True
    for node in _reachable([_edge(t)]):
        if id(node) in targets:
            return True
        for e in node.next:
            if e is not None and _node_of(e) is None and id(e) in targets:
                return True
    return False


def make_dual(tensor, tangent, *, level=None):
    """A dual tensor: ``tensor``'s values with ``tangent`` attached at the level. It is
    backward differentiable (gradients reach ``tensor`` when it requires grad)."""
    from minigrad import ops
    if _level(level) < 0:
        raise RuntimeError("Trying to create a dual Tensor for forward AD but no level exists, "
                           "make sure to enter_dual_level() first.")
    if not tensor.is_floating_point():
        raise ValueError(f"Expected primal to be floating point or complex, but got: "
                         f"{tensor.dtype}")
    if not tangent.is_floating_point():
        raise ValueError(f"Expected tangent to be floating point or complex, but got: "
                         f"{tangent.dtype}")
    if tangent.shape != tensor.shape:
        raise RuntimeError(
            f"Trying to set a forward gradient that has a different size than that of the "
            f"original Tensor, this is not supported. Tensor is of size {list(tensor.shape)} "
            f"while the given forward gradient is of size {list(tangent.shape)}.")
    if tangent.device != tensor.device:
        raise RuntimeError(f"make_dual: the tangent is on {tangent.device} but the primal is "
                           f"on {tensor.device}; they must be on the same device")
    if _dual_index(tensor) is not None or _depends_on_duals(tensor):
        raise RuntimeError(f"Making a dual Tensor based on a Tensor that already has a forward "
                           f"gradient at the same level {_level(level)} is not supported.")
    dual = ops.view(tensor, tensor.shape) if tensor.requires_grad else \
        tensor.detach().requires_grad_()
    _duals.append((dual, tangent))
    return dual


def unpack_dual(tensor, *, level=None):
    """``(primal, tangent)`` of ``tensor``: the tangent is the directional derivative of
    ``tensor`` along the duals' tangents (None when it does not depend on a dual, or
    outside the level). Computed on each call, by two backward passes (see the module)."""
    from minigrad import ops
    if _level(level) < 0:
        return UnpackedDualTensor(tensor, None)
    i = _dual_index(tensor)
    if i is not None:
        return UnpackedDualTensor(ops.view(tensor, tensor.shape), _duals[i][1])
    primal = ops.view(tensor, tensor.shape) if tensor.requires_grad else tensor
    if not tensor.is_floating_point() or not _depends_on_duals(tensor):
        return UnpackedDualTensor(primal, None)
    return UnpackedDualTensor(primal, tangent_of((tensor,), [d for d, _ in _duals],
                                                 [t for _, t in _duals])[0])


def tangent_of(outputs, inputs, tangents, create_graph=False):
    """J v for each of ``outputs`` (None where an output does not depend on ``inputs``)
    by the double-vector-Jacobian trick; ``tangents`` pairs with ``inputs``."""
    from minigrad.autograd.engine import grad
    from minigrad.autograd.grad_mode import enable_grad
    from minigrad.creation import zeros_like
    live = [k for k, o in enumerate(outputs) if o.requires_grad]
    result = [None] * len(outputs)
    if not live:
        return result
    with enable_grad():
        dummies = [zeros_like(outputs[k], requires_grad=True) for k in live]
        back = grad([outputs[k] for k in live], list(inputs), dummies, create_graph=True,
                    retain_graph=True, allow_unused=True)
        used = [(g, v) for g, v in zip(back, tangents) if g is not None and g.requires_grad]
        if not used:
            return result
        forward = grad([g for g, _ in used], dummies, [v for _, v in used],
                       create_graph=create_graph, allow_unused=True)
    for k, f in zip(live, forward):
        result[k] = f
    return result
