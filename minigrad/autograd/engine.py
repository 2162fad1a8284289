"""Reverse-mode replay of the tape.

``_run`` is the one place where gradients are un-broadcast back to each input's shape,
cast back to its dtype, and accumulated: op backward rules only say how a gradient flows,
never how it is summed.
"""

import operator

import numpy as np

from minigrad import backend
from minigrad.autograd import reuse
from minigrad.autograd.anomaly_mode import _state as _anomaly, torch_name, warn_forward_stack
from minigrad.autograd.grad_mode import set_grad_enabled
from minigrad.autograd.graph import (ADDED, Node, _edge, _released_error, _last_write,
                                     check_versions, repack_saved, unpack_saved)
from minigrad.tensor import HOOKED_LEAVES, PostAccumulateGradHook, Tensor


class _adapters:
    """How a gradient is summed back to an input's shape and cast to its dtype: ops, so
    the op library provides them (``register_adapters``) and the engine imports no ops."""
    sum_to = cast = None


def register_adapters(sum_to, cast):
    _adapters.sum_to, _adapters.cast = staticmethod(sum_to), staticmethod(cast)


def backward(tensor, gradient=None, retain_graph=False, create_graph=False, inputs=None):
    """Accumulate d(tensor)/d(leaf) into ``.grad`` of every leaf that requires grad
    (or only of ``inputs`` when given)."""
    if not tensor.requires_grad:
        raise RuntimeError("backward: the tensor does not require grad and has no grad_fn "
                           "(was it computed under no_grad, or from tensors that do not "
                           "require grad?)")
    gradient = _root_gradient(tensor, gradient, "backward")
    targets = None if inputs is None else _as_tuple(inputs)
    _run((tensor,), (gradient,), retain_graph or create_graph, create_graph, targets,
         accumulate=True)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=False):
    """Gradients of ``outputs`` with respect to ``inputs``, returned rather than stored."""
    outputs, inputs = _as_tuple(outputs), _as_tuple(inputs)
    if grad_outputs is None:
        grad_outputs = (None,) * len(outputs)
    grad_outputs = _as_tuple(grad_outputs)
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"grad: got {len(grad_outputs)} grad_outputs for {len(outputs)} outputs")
    for i, t in enumerate(inputs):
        if not t.requires_grad:
            raise RuntimeError(f"grad: input {i} does not require grad")
    for i, t in enumerate(outputs):
        if not t.requires_grad:
            raise RuntimeError(f"grad: output {i} does not require grad and has no grad_fn")
    roots = tuple(_root_gradient(t, g, "grad") for t, g in zip(outputs, grad_outputs))
    if retain_graph is None:
        retain_graph = create_graph
    found = _run(outputs, roots, retain_graph, create_graph, inputs, accumulate=False)
    result = []
    for i, t in enumerate(inputs):
        g = found.get(_key(_edge(t)))
        if g is None and not allow_unused:
            raise RuntimeError(f"grad: input {i} was not used in the graph of the outputs; "
                               f"pass allow_unused=True if that is expected")
        result.append(g)
    return tuple(result)


def _as_tuple(x):
    if isinstance(x, Tensor) or x is None:
        return (x,)
    return tuple(x)


def _root_gradient(tensor, gradient, who):
    if gradient is None:
        if tensor.array.size != 1:
            raise RuntimeError(f"{who}: grad can be implicitly created only for scalar outputs; "
                               f"pass a gradient for the output of shape {tensor.shape}")
        return Tensor._make(backend.of(tensor.array).xp.ones_like(tensor.array))
    if not isinstance(gradient, Tensor):
        gradient = Tensor(gradient)
    if gradient.shape != tensor.shape:
        raise RuntimeError(f"{who}: gradient has shape {gradient.shape} but the output has "
                           f"shape {tensor.shape}")
    if gradient.array.dtype != tensor.array.dtype:  # as PyTorch: cast to the output's dtype
        gradient = Tensor._make(gradient.array.astype(tensor.array.dtype))
    return gradient


def _key(edge):
    """A hashable identity for a gradient destination (leaf tensors by id)."""
    return id(edge) if isinstance(edge, Tensor) else edge


_seq = operator.attrgetter("seq")


def _node_of(edge):
    t = type(edge)
    if t is Node:
        return edge
    if t is tuple:
        return edge[0]
    return None


def _reachable(edges):
    """Every node reachable from ``edges``, iteratively (graphs can be 10,000s deep)."""
    seen = set()
    stack = [n for n in map(_node_of, edges) if n is not None]
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        for e in node.next:   # (_node_of, inlined: once per edge of the graph)
            t = type(e)
            if t is Node:
                if e not in seen:
                    stack.append(e)
            elif t is tuple and e[0] not in seen:
                stack.append(e[0])
    return seen


# One frame per backward pass in progress (passes can nest: a hook may call grad()):
# [accumulates into .grad, callbacks to run when the pass has finished]
_passes = []


def queue_callback(fn):
    """Run ``fn()`` once the backward pass now in progress has finished, every ``.grad``
    accumulated (PyTorch's ``Variable._execution_engine.queue_callback``). Only valid while
    a pass runs, i.e. from a hook; DistributedDataParallel averages gradients this way."""
    if not _passes:
        raise RuntimeError("queue_callback: no backward pass is running (call it from a "
                           "hook, during backward)")
    _passes[-1][1].append(fn)


def accumulating():
    """True while a backward() pass runs that accumulates into ``.grad`` (not grad())."""
    return bool(_passes) and _passes[-1][0]


def _run(roots, root_grads, retain_graph, create_graph, targets, accumulate):
    frame = [accumulate and targets is None, []]
    _passes.append(frame)
    try:
        found = _replay(roots, root_grads, retain_graph, create_graph, targets, accumulate)
    finally:
        _passes.pop()
    for fn in frame[1]:
        fn()
    return found


def _replay(roots, root_grads, retain_graph, create_graph, targets, accumulate):
    """Send ``root_grads`` back through the graph in reverse tape order.

    targets None: every leaf that requires grad accumulates ``.grad``. Otherwise only the
    targets receive gradients: into ``.grad`` when ``accumulate``, else into the returned
    dict, and nodes that lead to no target are not run at all.
    """
    target_keys = None if targets is None else {_key(_edge(t)) for t in targets}
    found = {}
    pending = {}
    callers = {id(g.array) for g in root_grads}  # arrays the caller still holds

    def send(edge, g):
        t = type(edge)
        if t is not Node and t is not tuple:   # a leaf: a Tensor, or a subclass (Parameter)
            if held is not None and id(edge) in held:
                sent = held[id(edge)]          # (its hooks see the sum, once: deliver_held)
                sent[1] = g if sent[1] is None else sent[1] + g
            else:
                deliver(edge, g)
            return
        if target_keys is not None:
            k = _key(edge)
            if k in target_keys:
                found[k] = g if k not in found else found[k] + g
        if t is Node:
            prev = pending.get(edge)
            pending[edge] = g if prev is None else add_into(prev, g)
        elif t is tuple:
            node, slot = edge
            slots = pending.get(node)
            if slots is None:
                slots = pending[node] = [None] * node.n_out
            slots[slot] = g if slots[slot] is None else add_into(slots[slot], g)

    def deliver(leaf, g):
        """A leaf's whole gradient from this pass: through its hooks, into .grad or the
        returned dict. A leaf that autograd.grad was not asked about gets nothing, and its
        hooks do not run (as in PyTorch)."""
        if target_keys is not None:
            k = _key(leaf)
            if k not in target_keys:
                return
            if leaf._hooks:
                g = _leaf_hooks(leaf, g)
            found[k] = g if k not in found else found[k] + g
            if accumulate:
                _accumulate_leaf(leaf, g, create_graph, callers)
            return
        if leaf._hooks:
            g = _leaf_hooks(leaf, g)
        _accumulate_leaf(leaf, g, create_graph, callers)

    def deliver_held(node):
        """Leaves with gradient hooks whose last contribution came from ``node`` (None: only
        the roots): as in PyTorch, the hooks run once, on the sum of the contributions."""
        for key in held_after.pop(node, ()):
            leaf, g = held.pop(key)
            if g is not None:
                deliver(leaf, g)

    def buffer_for(edge):
        """The array holding the gradient pending for ``edge``, when a backward rule may add
        into it: the engine's alone (a node's pending gradient, or a leaf's .grad in a plain
        backward()), else None."""
        if not reuse.is_enabled():
            return None
        t = type(edge)
        if t is Node:
            p = pending.get(edge)
            # references to p: the pending slot, this name, _exclusive's argument, getrefcount's
            return p.array if p is not None and reuse.exclusive(p, callers, 4) else None
        if t is tuple or edge is None or target_keys is not None or edge.grad is None:
            return None
        a = edge.grad.array
        return a if id(a) not in callers and reuse.unshared(a, 2) and a.flags.writeable else None

    def add_into(prev, g):
        """prev + g, in place into prev's array when nothing else can see it."""
        if not create_graph and reuse.exclusive(prev, callers, 5) \
                and prev.array.shape == g.array.shape:
            backend.of(prev.array).add_inplace(prev.array, g.array)
            return prev
        return prev + g

    root_edges = [_edge(t) for t in roots]
    order = sorted(_reachable(root_edges), key=_seq, reverse=True)
    if target_keys is not None:
        order = _leading_to(order, target_keys)

    # {node (None: the roots): leaves whose gradient is complete once it has run}, for
    # post-accumulate hooks and for leaves whose gradient hooks wait for the sum
    post = held = held_after = None
    if HOOKED_LEAVES:
        last = _last_senders(root_edges, order)
        if accumulate:
            post = _post_accumulate_schedule(last, target_keys)
        held, held_after = _held_leaves(last, target_keys)

    anomaly = _anomaly.enabled   # (read once a pass: off, the loop pays one local test)
    plain = target_keys is None   # (send's node case needs no target bookkeeping)
    with set_grad_enabled(create_graph):
        for edge, g in zip(root_edges, root_grads):
            if edge is not None:
                send(edge, g)
        previous = None
        for node in order:
            if held:
                deliver_held(previous)
            if post:
                _run_post_accumulate(post, previous)
            previous = node
            g = pending.pop(node, None)
            if g is None:
                if not node.op.collective:
                    continue
                # every process must join the collective: a zero gradient, not a skip
                g = Tensor._make(np.zeros(node.shapes[0], node.dtypes[0]))
            if node.released:
                raise _released_error(node)
            extras = node.__dict__
            if node.seq < _last_write[0]:  # an in-place write came after this node
                check_versions(node)
            if "_hooks" in extras:
                g = _run_hooks(node, g)
            packed = "_packed" in extras   # (saved under saved_tensors_hooks)
            if packed:
                unpack_saved(node)
            if anomaly:
                grads = _run_rule_checked(node, g, create_graph)
            else:
                grads = _run_rule(node, g, create_graph, buffer_for)
            # let go of the node's own gradient (and what it saved) before passing results
            # on: views of it (reshape's) are then the only holders of its memory, which the
            # receivers may take and add into in place
            g = None
            if not retain_graph:
                extras.clear()          # (node.release(), inlined: once per node)
                node.released = True
            elif packed:
                repack_saved(node)
            for edge, gi, shape, dtype in zip(node.next, grads, node.shapes, node.dtypes):
                if edge is None or gi is None or gi is ADDED:
                    continue
                if gi.array.shape != shape:
                    gi = _adapters.sum_to(gi, shape)
                if gi.array.dtype != dtype:
                    gi = _adapters.cast(gi, dtype)
                if plain and type(edge) is Node:   # send's commonest case, inlined
                    prev = pending.get(edge)
                    pending[edge] = gi if prev is None else add_into(prev, gi)
                else:
                    send(edge, gi)
        if held:
            deliver_held(previous)
        if post:
            _run_post_accumulate(post, previous)
    return found


def _run_rule(node, g, create_graph, buffer_for):
    """``node``'s input gradients from its output gradient(s) ``g``, as a tuple: the one
    place the engine chooses between a primitive's two rules. A plain backward uses the
    array-level rule when the op has one (nothing is recorded, so nothing needs the
    differentiable form); ``create_graph=True`` always runs the differentiable
    ``backward``, whose ops are then recorded for higher derivatives."""
    op = node.op
    fast = op.backward_arrays
    if fast is not None and not create_graph:
        if node.n_out == 1:
            arrays = (g.array,)
        else:
            arrays = [None if gk is None else gk.array for gk in g]
        if op.adds_into_input:
            out = fast(node, *arrays, into=buffer_for(node.next[0]))
        else:
            out = fast(node, *arrays)
        if out is not NotImplemented:
            if type(out) is not tuple:
                return (Tensor._make(out),) if out is not None and out is not ADDED else (out,)
            return tuple([a if a is None or a is ADDED else Tensor._make(a) for a in out])
    grads = op.backward(node, g) if node.n_out == 1 else op.backward(node, *g)
    return grads if type(grads) is tuple else (grads,)


def _no_buffer(edge):
    return None


def _run_rule_checked(node, g, create_graph):
    """``_run_rule`` under anomaly mode: an error in the rule, or (``check_nan``) a NaN in
    what it returns, first warns with the stack of the forward call that made the node.
    No buffer is offered, so every result is an array of its own that can be checked."""
    try:
        grads = _run_rule(node, g, create_graph, _no_buffer)
    except Exception:
        warn_forward_stack(node)
        raise
    if _anomaly.check_nan:
        for i, gi in enumerate(grads):
            if gi is not None and backend.of(gi.array).xp.isnan(gi.array).any():
                warn_forward_stack(node)
                raise RuntimeError(f"Function '{torch_name(node)}' returned nan values in its "
                                   f"{i}th output.")
    return grads


def _last_senders(root_edges, order):
    """{id(leaf): (the last node in replay order that sends it a gradient, or None when
    only a root does, leaf)}. Built only while some leaf has hooks."""
    last = {}
    for edge in root_edges:
        if type(edge) is not Node and type(edge) is not tuple and edge is not None:
            last[id(edge)] = (None, edge)
    for node in order:
        for edge in node.next:
            if edge is not None and type(edge) is not Node and type(edge) is not tuple:
                last[id(edge)] = (node, edge)
    return last


def _held_leaves(last, target_keys):
    """The leaves with gradient hooks (among the targets, if any), whose contributions are
    summed before the hooks run: ({id(leaf): [leaf, sum so far]}, {last sender: [id(leaf),
    ...]})."""
    held, after = {}, {}
    for node, leaf in last.values():
        if target_keys is not None and id(leaf) not in target_keys:
            continue
        if leaf._hooks and any(type(h) is not PostAccumulateGradHook for h in leaf._hooks):
            held[id(leaf)] = [leaf, None]
            after.setdefault(node, []).append(id(leaf))
    return held, after


def _post_accumulate_schedule(last, target_keys):
    """For each leaf with post-accumulate-grad hooks that this pass accumulates into: the
    last node (in replay order) that sends it a gradient, after which its .grad is final
    (None: only a root sends it one). Only built while such hooks exist."""
    schedule = {}
    for node, leaf in last.values():
        if leaf._hooks and (target_keys is None or id(leaf) in target_keys) and any(
                type(h) is PostAccumulateGradHook for h in leaf._hooks):
            schedule.setdefault(node, []).append(leaf)
    return schedule


def _run_post_accumulate(schedule, node):
    for leaf in schedule.pop(node, ()):
        for hook in list(leaf._hooks):
            if type(hook) is PostAccumulateGradHook:
                r = hook.fn(leaf)
                if r is not None:
                    raise TypeError(f"a post accumulate grad hook must return None, but hook "
                                    f"returned '{type(r).__name__}'")


def _run_hooks(node, g):
    """The gradient of ``node``'s output(s) after the hooks registered on them
    (``Tensor.register_hook``, ``retain_grad``); a hook may return a replacement."""
    for slot, hook in node._hooks:
        if node.n_out == 1:
            r = hook(g)
            g = g if r is None else r
        elif g[slot] is not None:
            r = hook(g[slot])
            if r is not None:
                g[slot] = r
    return g


def _leaf_hooks(leaf, g):
    for hook in leaf._hooks:
        if type(hook) is PostAccumulateGradHook:   # (run once .grad is final, not here)
            continue
        r = hook(g)
        g = g if r is None else r
    return g


def _leading_to(order, target_keys):
    """The nodes of ``order`` (newest first) from which some target can be reached."""
    useful = set()
    for node in reversed(order):  # oldest first: inputs are decided before their users
        for e in node.next:
            if e is None:
                continue
            child = _node_of(e)
            if _key(e) in target_keys or (child is not None and child in useful):
                useful.add(node)
                break
    return [n for n in order if n in useful]


def _accumulate_leaf(leaf, g, create_graph, callers):
    if create_graph:
        leaf.grad = g if leaf.grad is None else leaf.grad + g
    elif leaf.grad is None:
        leaf.grad = Tensor._make(g.array.copy() if id(g.array) in callers else reuse.owned(g.array))
    elif reuse.unshared(leaf.grad.array, 1) and leaf.grad.array.flags.writeable \
            and leaf.grad.array.shape == g.array.shape and leaf.grad.array.dtype == g.array.dtype:
        # in place, as PyTorch accumulates .grad (a reference to the .grad tensor sees it)
        backend.of(g.array).add_inplace(leaf.grad.array, g.array)
    else:  # (asarray: NumPy turns a sum of 0-d arrays into a scalar; .grad stays an array)
        leaf.grad = Tensor._make(backend.of(g.array).xp.asarray(leaf.grad.array + g.array))
