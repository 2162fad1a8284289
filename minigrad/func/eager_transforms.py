"""``torch.func``'s autodiff transforms: grad, grad_and_value, vjp, jvp, jacrev, jacfwd,
hessian.

Each transform runs ``func`` on fresh stand-ins for the differentiated arguments (a
private leaf when the argument does not require grad, else a differentiable alias of it)
and differentiates with minigrad's engine, always recording the backward pass when the
result must itself be differentiable: when the transform is nested in another one, or
the arguments (or tensors ``func`` captured) require grad. So transforms compose
(``jacfwd(jacrev(f))``, ``grad(grad(f))``, ``vmap(grad(f))``) and their results join
ordinary autograd, as in PyTorch; a result that depends on nothing outside the call is
returned detached, as PyTorch unwraps it. Forward mode (``jvp``, ``jacfwd``) is the
double-vector-Jacobian trick (``autograd.forward_ad``): one backward pass with
``create_graph`` from a dummy gradient, then one backward pass per tangent.
"""
import functools

from minigrad.autograd.engine import _node_of, _reachable, grad as _engine_grad
from minigrad.autograd.forward_ad import tangent_of
from minigrad.autograd.grad_mode import enable_grad, is_grad_enabled
from minigrad.autograd.graph import _edge
from minigrad.creation import zeros, zeros_like
from minigrad.func.pytree import tree_flatten, tree_unflatten
from minigrad.tensor import Tensor

__all__ = ["grad", "grad_and_value", "vjp", "jvp", "jacrev", "jacfwd", "hessian"]


# ---------------------------------------------------------------- argument plumbing

def _validate_and_wrap_argnum(argnum, num_args):
    if not isinstance(argnum, int):
        raise RuntimeError(f"argnum must be int, got: {type(argnum)}")
    if 0 <= argnum < num_args:
        return argnum
    if -num_args <= argnum < 0:
        return argnum + num_args
    raise RuntimeError(f"Got argnum={argnum}, but only {num_args} positional inputs")


def _slice_argnums(args, argnums, as_tuple=True):
    if not isinstance(argnums, (int, tuple)):
        raise RuntimeError(f"argnums must be int or Tuple[int, ...], got: {type(argnums)}")
    if isinstance(argnums, int):
        argnums = _validate_and_wrap_argnum(argnums, len(args))
        return (args[argnums],) if as_tuple else args[argnums]
    argnums = tuple(_validate_and_wrap_argnum(a, len(args)) for a in argnums)
    if len(argnums) == 0:
        raise RuntimeError("argnums must be non-empty")
    if len(set(argnums)) != len(argnums):
        raise RuntimeError(f"argnums elements must be unique, got {argnums}")
    return tuple(args[i] for i in argnums)


def _replace_args(args, new_args, argnums):
    if isinstance(argnums, int):
        argnums = _validate_and_wrap_argnum(argnums, len(args))
        return tuple(new_args[0] if i == argnums else a for i, a in enumerate(args))
    argnums = tuple(_validate_and_wrap_argnum(a, len(args)) for a in argnums)
    return tuple(new_args[argnums.index(i)] if i in argnums else a for i, a in enumerate(args))


def _differentiable(x):
    """A stand-in for ``x`` that this transform differentiates with respect to."""
    from minigrad import ops
    if not isinstance(x, Tensor):
        raise ValueError(f"Thing passed to transform API must be Tensor, got {type(x)}")
    if x.requires_grad:
        return ops.view(x, x.shape)
    return x.detach().requires_grad_()


def _private(stand_ins):
    """ids of the private leaves among ``stand_ins`` (those made for arguments that did not
    require grad)."""
    return {id(t) for t in stand_ins if t._node is None}


def _reaches_outside(tensors, private, outer_grad=None):
    """True when some tensor's graph reaches a leaf that is not one of this call's private
    leaves: the result must then stay differentiable for whoever made that leaf. Never
    when the transform was called under no_grad (``outer_grad``: the grad mode at the
    call, when asked from inside the transform's own enable_grad)."""
    if not (is_grad_enabled() if outer_grad is None else outer_grad):
        return False
    edges = []
    for t in tensors:
        if isinstance(t, Tensor) and t.requires_grad:
            e = _edge(t)
            if _node_of(e) is None:
                if id(e) not in private:
                    return True
            else:
                edges.append(e)
    for node in _reachable(edges):
        for e in node.next:
            if e is not None and _node_of(e) is None and id(e) not in private:
                return True
    return False


def _finish(tree, private):
    """``tree`` with each tensor detached unless it depends on something outside the call
    (PyTorch's unwrapping of a transform's results)."""
    leaves, spec = tree_flatten(tree)
    return tree_unflatten([t.detach() if isinstance(t, Tensor) and t.requires_grad
                           and not _reaches_outside([t], private) else t for t in leaves], spec)


def _grads(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False):
    """``autograd.grad`` over the outputs that require grad; zeros for unreached inputs
    (torch.func's rule)."""
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    pairs = [(o, g) for o, g in zip(outputs, grad_outputs) if o.requires_grad]
    if not pairs:
        return tuple(zeros_like(i) for i in inputs)
    found = _engine_grad([o for o, _ in pairs], list(inputs), [g for _, g in pairs],
                         retain_graph=retain_graph, create_graph=create_graph,
                         allow_unused=True)
    return tuple(zeros_like(i) if g is None else g for g, i in zip(found, inputs))


def _wraps(func):
    return functools.wraps(func) if callable(func) and hasattr(func, "__name__") else \
        (lambda f: f)


# ---------------------------------------------------------------- reverse mode

def grad_and_value(func, argnums=0, has_aux=False):
    """``torch.func.grad_and_value``: a function returning ``(gradient, value)`` of a
    scalar ``func`` (``(gradient, (value, aux))`` with ``has_aux``); the gradient has the
    structure of the argument(s) at ``argnums`` (tensors, or tuples/lists/dicts of them)."""
    @_wraps(func)
    def wrapper(*args, **kwargs):
        outer = is_grad_enabled()
        with enable_grad():
            diff = _slice_argnums(args, argnums, as_tuple=False)
            flat, spec = tree_flatten(diff)
            stand_ins = [_differentiable(t) for t in flat]
            private = _private(stand_ins)
            diff = tree_unflatten(stand_ins, spec)
            output = func(*_replace_args(args, diff if isinstance(argnums, tuple) else (diff,),
                                         argnums), **kwargs)
            aux = None
            if has_aux:
                if not (isinstance(output, tuple) and len(output) == 2):
                    raise RuntimeError("grad_and_value(f)(*args): output of function f should "
                                       "be a tuple: (output, aux) if has_aux is True")
                output, aux = output
            if not isinstance(output, Tensor):
                raise RuntimeError(f"grad_and_value(f)(*args): Expected f(*args) to return a "
                                   f"Tensor, got {type(output)}")
            if output.ndim != 0:
                raise RuntimeError(f"grad_and_value(f)(*args): Expected f(*args) to return a "
                                   f"scalar Tensor, got tensor with {output.ndim} dims. Maybe "
                                   f"you wanted to use the vjp or jacrev APIs instead?")
            keep = _reaches_outside([output], private, outer)
            grads = _grads([output], stand_ins, create_graph=keep)
        grad_input = _finish(tree_unflatten(list(grads), spec), private)
        output = _finish(output, private)
        if has_aux:
            return grad_input, (output, _finish(aux, private))
        return grad_input, output
    return wrapper


def grad(func, argnums=0, has_aux=False):
    """``torch.func.grad``: a function returning the gradient of a scalar ``func`` with
    respect to the argument(s) at ``argnums`` (with ``has_aux``: ``(gradient, aux)``).
    Inputs that the output does not depend on get zero gradients."""
    gv = grad_and_value(func, argnums, has_aux)

    @_wraps(func)
    def wrapper(*args, **kwargs):
        g, value = gv(*args, **kwargs)
        return (g, value[1]) if has_aux else g
    return wrapper


def _vjp_with_argnums(func, *primals, argnums=None, has_aux=False):
    with enable_grad():
        diff = primals if argnums is None else _slice_argnums(primals, argnums, as_tuple=False)
        flat_diff, primals_spec = tree_flatten(diff)
        stand_ins = [_differentiable(t) for t in flat_diff]
        private = _private(stand_ins)
        diff = tree_unflatten(stand_ins, primals_spec)
        if argnums is None:
            call_args = diff
        else:
            call_args = _replace_args(primals, diff if isinstance(argnums, tuple) else (diff,),
                                      argnums)
        out = func(*call_args)
        aux = None
        if has_aux:
            if not (isinstance(out, tuple) and len(out) == 2):
                raise RuntimeError("vjp(f, *primals): output of function f should be a tuple: "
                                   "(output, aux) if has_aux is True")
            out, aux = out
            aux = _finish(aux, private)
        flat_out, out_spec = tree_flatten(out)
        _assert_non_empty_tensor_output(flat_out, "vjp(f, *primals)")
        for o in flat_out:
            if not o.is_floating_point():
                raise RuntimeError(f"vjp(f, ...): All outputs of f must be floating-point or "
                                   f"complex Tensors, got Tensor with dtype {o.dtype}")

    def vjp_fn(cotangents, retain_graph=True, create_graph=None):
        if create_graph is None:
            create_graph = is_grad_enabled()
        flat_cot, cot_spec = tree_flatten(cotangents)
        if cot_spec != out_spec:
            raise RuntimeError(f"Expected pytree structure of cotangents to be the same as "
                               f"pytree structure of outputs to the function. cotangents: "
                               f"{cot_spec}, primal output: {out_spec}")
        keep = create_graph and (_reaches_outside(flat_out, private) or any(
            isinstance(c, Tensor) and c.requires_grad for c in flat_cot))
        with enable_grad():
            result = _grads(flat_out, stand_ins, flat_cot, retain_graph=retain_graph,
                            create_graph=keep)
        return _finish(tree_unflatten(list(result), primals_spec), private)

    out = _finish(out, private)
    return (out, vjp_fn, aux) if has_aux else (out, vjp_fn)


def vjp(func, *primals, has_aux=False):
    """``torch.func.vjp``: ``(func(*primals), vjp_fn)`` (and ``aux``); ``vjp_fn(cotangents)``
    (cotangents shaped like the output's pytree) returns a tuple with one gradient per
    primal, and may be called again (the graph is kept)."""
    return _vjp_with_argnums(func, *primals, has_aux=has_aux)


def _assert_non_empty_tensor_output(output, api):
    if (len(output) == 1 and output[0] is None) or len(output) < 1:
        raise RuntimeError(f"{api}: Expected f to be a function that has non-empty output "
                           f"(got output = {output})")
    for o in output:
        if not isinstance(o, Tensor):
            raise RuntimeError(f"{api}: expected f(*primals) to return only tensors, got "
                               f"unsupported type {type(o)}")


def _one_hot(t, k):
    e = zeros(t.shape, dtype=t.dtype, device=t.device)
    e.array.reshape(-1)[k] = 1
    return e


def jacrev(func, argnums=0, *, has_aux=False, chunk_size=None, _preallocate_and_copy=False):
    """``torch.func.jacrev``: the Jacobian of ``func`` with respect to the argument(s) at
    ``argnums`` by reverse mode, one vector-Jacobian product per output element (the
    backward graph is recorded once and replayed). Leaves of the result have shape
    ``output.shape + input.shape``, nested as the output's pytree, then the inputs'.
    ``chunk_size`` is checked as in PyTorch; rows are computed one at a time either way."""
    if not (chunk_size is None or chunk_size > 0):
        raise ValueError("jacrev: `chunk_size` should be greater than 0.")

    @_wraps(func)
    def wrapper(*args):
        from minigrad import ops
        vjp_out = _vjp_with_argnums(func, *args, argnums=argnums, has_aux=has_aux)
        output, vjp_fn = vjp_out[:2]
        flat_output, output_spec = tree_flatten(output)
        primals = _slice_argnums(args, argnums)
        flat_primals, primals_spec = tree_flatten(primals)
        rows = [[[] for _ in flat_primals] for _ in flat_output]   # [output][input]
        for i, out in enumerate(flat_output):
            for k in range(out.numel()):
                basis = [_one_hot(o, k) if j == i else zeros_like(o)
                         for j, o in enumerate(flat_output)]
                flat_result, _ = tree_flatten(vjp_fn(tree_unflatten(basis, output_spec)))
                for j, g in enumerate(flat_result):
                    rows[i][j].append(g)
        per_output = []
        for i, out in enumerate(flat_output):
            jac_ins = [ops.reshape(ops.stack(rows[i][j], 0), out.shape + p.shape)
                       if rows[i][j] else zeros(out.shape + p.shape, dtype=p.dtype)
                       for j, p in enumerate(flat_primals)]
            jac_ins = tree_unflatten(jac_ins, primals_spec)
            per_output.append(jac_ins[0] if isinstance(argnums, int) else jac_ins)
        result = tree_unflatten(per_output, output_spec)
        return (result, vjp_out[2]) if has_aux else result
    return wrapper


# ---------------------------------------------------------------- forward mode

def _jvp_with_argnums(func, primals, tangents, argnums=None, *, strict=False, has_aux=False):
    jvp_str = "jvp(f, primals, tangents)"
    if not isinstance(primals, tuple):
        raise RuntimeError(f"{jvp_str}: Expected primals to be a tuple. E.g. it should be "
                           f"valid to call f(*primals).")
    diff_args = primals if argnums is None else _slice_argnums(primals, argnums)
    flat_primals, primals_spec = tree_flatten(diff_args)
    flat_tangents, tangents_spec = tree_flatten(tangents)
    if primals_spec != tangents_spec:
        raise RuntimeError(
            f"{jvp_str}: Expected primals and tangents to have the same python structure. For "
            f"example, if primals is a tuple of 3 tensors, tangents also must be. Got primals "
            f"with structure {primals_spec} and tangents with structure {tangents_spec}")
    for name, flat in (("primals", flat_primals), ("tangents", flat_tangents)):
        if len(flat) == 0:
            raise RuntimeError(f"{jvp_str}: Expected {name} to contain at least one Tensor.")
        for t in flat:
            if not isinstance(t, Tensor):
                raise RuntimeError(f"{jvp_str}: Expected {name} to only contain Tensors, got "
                                   f"{type(t)}")
    for p, t in zip(flat_primals, flat_tangents):
        if p.shape != t.shape:
            raise RuntimeError(
                f"Trying to set a forward gradient that has a different size than that of the "
                f"original Tensor, this is not supported. Tensor is of size {list(p.shape)} "
                f"while the given forward gradient is of size {list(t.shape)}.")
    outer = is_grad_enabled()
    with enable_grad():
        stand_ins = [_differentiable(p) for p in flat_primals]
        private = _private(stand_ins)
        duals = tree_unflatten(stand_ins, primals_spec)
        if argnums is not None:
            duals = _replace_args(primals, duals, argnums)
        result = func(*duals)
        aux = None
        if has_aux:
            if not (isinstance(result, tuple) and len(result) == 2):
                raise RuntimeError(f"{jvp_str}: output of function f should be a tuple: "
                                   f"(output, aux) if has_aux is True")
            result, aux = result
        flat_out, spec = tree_flatten(result)
        _assert_non_empty_tensor_output(flat_out, jvp_str)
        keep = _reaches_outside(flat_out, private, outer) or outer and any(
            t.requires_grad for t in flat_tangents)
        outs = tangent_of(flat_out, stand_ins, flat_tangents, create_graph=keep)
    tangents_out = []
    for o, t in zip(flat_out, outs):
        if t is None:
            if strict:
                raise RuntimeError("jvp(f, primals, tangents, strict=True): The output of f is "
                                   "independent of the inputs. This is not allowed with "
                                   "strict=True.")
            t = zeros_like(o)
        tangents_out.append(t)
    primals_out = _finish(tree_unflatten(flat_out, spec), private)
    tangents_out = _finish(tree_unflatten(tangents_out, spec), private)
    if has_aux:
        return primals_out, tangents_out, _finish(aux, private)
    return primals_out, tangents_out


def jvp(func, primals, tangents, *, strict=False, has_aux=False):
    """``torch.func.jvp``: ``(func(*primals), J @ tangents)`` (and ``aux``). Computed by the
    double-vector-Jacobian trick: the forward pass and two backward passes."""
    return _jvp_with_argnums(func, primals, tangents, strict=strict, has_aux=has_aux)


def jacfwd(func, argnums=0, has_aux=False, *, randomness="error"):
    """``torch.func.jacfwd``: the Jacobian by forward mode, one Jacobian-vector product per
    input element, as the same structure ``jacrev`` returns. ``func`` runs once (PyTorch
    vmaps it over the basis): its backward pass is recorded once with a dummy gradient,
    then each column is one backward pass through it. ``randomness``: "error" refuses
    random draws inside ``func`` as PyTorch does; with "same" or "different" every column
    sees the one draw ``func`` made."""
    from minigrad.func.vmap import _check_randomness_arg, _randomness_scope
    _check_randomness_arg(randomness)

    @_wraps(func)
    def wrapper(*args):
        from minigrad import ops
        primals = _slice_argnums(args, argnums)
        flat_primals, primals_spec = tree_flatten(primals)
        outer = is_grad_enabled()
        with enable_grad():
            stand_ins = [_differentiable(p) for p in flat_primals]
            private = _private(stand_ins)
            call_args = _replace_args(args, tree_unflatten(stand_ins, primals_spec), argnums)
            with _randomness_scope(randomness if randomness == "error" else "different"):
                result = func(*call_args)
            aux = None
            if has_aux:
                if not (isinstance(result, tuple) and len(result) == 2):
                    raise RuntimeError("jvp(f, primals, tangents): output of function f should "
                                       "be a tuple: (output, aux) if has_aux is True")
                result, aux = result
            flat_out, spec = tree_flatten(result)
            _assert_non_empty_tensor_output(flat_out, "jvp(f, primals, tangents)")
            keep = _reaches_outside(flat_out, private, outer)
            live = [o for o in flat_out if o.requires_grad]
            dummies = [zeros_like(o).requires_grad_() for o in live]
            back = _engine_grad(live, stand_ins, dummies, create_graph=True, retain_graph=True,
                                allow_unused=True) if live else [None] * len(stand_ins)
        columns = [[[] for _ in flat_primals] for _ in flat_out]   # [output][input]
        for j, (g, p) in enumerate(zip(back, stand_ins)):
            for k in range(p.numel()):
                if g is None or not g.requires_grad:
                    jv = [None] * len(live)
                else:
                    with enable_grad():
                        jv = _engine_grad([g], dummies, [_one_hot(p, k)], retain_graph=True,
                                          create_graph=keep, allow_unused=True)
                it = iter(jv)
                for i, o in enumerate(flat_out):
                    col = next(it) if o.requires_grad else None
                    columns[i][j].append(zeros_like(o) if col is None else col)
        per_output = []
        for i, o in enumerate(flat_out):
            jac_ins = [ops.reshape(ops.stack(columns[i][j], -1), o.shape + p.shape)
                       if columns[i][j] else zeros(o.shape + p.shape, dtype=o.dtype)
                       for j, p in enumerate(flat_primals)]
            jac_ins = tree_unflatten(jac_ins, primals_spec)
            per_output.append(jac_ins[0] if isinstance(argnums, int) else jac_ins)
        result = _finish(tree_unflatten(per_output, spec), private)
        return (result, _finish(aux, private)) if has_aux else result
    return wrapper


def hessian(func, argnums=0):
    """``torch.func.hessian``: ``jacfwd(jacrev(func, argnums), argnums)``, as in PyTorch."""
    return jacfwd(jacrev(func, argnums), argnums)
