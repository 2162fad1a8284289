"""``torch.autograd.functional``: Jacobian and Hessian products of a function of tensors.

Each function takes ``func`` and ``inputs`` (a tensor or a tuple of tensors), runs
``func`` on fresh copies of the inputs that require grad, and differentiates with the
engine: ``vjp`` is one backward pass, ``jvp`` the double-backward trick (a backward pass
whose result is linear in a dummy gradient ``u``, then the gradient of that with respect
to ``u``), ``vhp`` and ``hvp`` a backward pass with ``create_graph`` and one through it.
Return structures, ``create_graph`` and ``strict`` (with PyTorch's errors) are PyTorch's.
"""
from minigrad.autograd.engine import grad as _grad
from minigrad.autograd.grad_mode import enable_grad, is_grad_enabled, set_grad_enabled
from minigrad.tensor import Tensor

__all__ = ["vjp", "jvp", "jacobian", "hessian", "hvp", "vhp"]


def _as_tuple(inp, arg_name=None, fn_name=None):
    """(was ``inp`` a tuple, ``inp`` as a tuple of tensors), checked when names are given."""
    if arg_name is None:
        return inp if isinstance(inp, tuple) else tuple(inp) if isinstance(inp, list) \
            else (inp,)
    is_tuple = isinstance(inp, tuple)
    if not is_tuple:
        inp = (inp,)
    for i, el in enumerate(inp):
        if not isinstance(el, Tensor):
            where = f"the value at index {i} has type" if is_tuple else \
                f"the given {arg_name} has type"
            raise TypeError(f"The {arg_name} given to {fn_name} must be either a Tensor or a "
                            f"tuple of Tensors but {where} {type(el)}.")
    return is_tuple, inp


def _tuple_postprocess(res, to_unpack):
    """Undo ``_as_tuple``: ``to_unpack`` is one flag, or (outputs, inputs) flags."""
    if isinstance(to_unpack, tuple):
        if not to_unpack[1]:
            res = tuple(el[0] for el in res)
        if not to_unpack[0]:
            res = res[0]
    elif not to_unpack:
        res = res[0]
    return res


def _grad_preprocess(inputs, create_graph, need_graph):
    """New tensor objects for the inputs (so that ``func`` capturing an input is told
    apart from its argument): a differentiable alias when the caller wants gradients to
    flow back to it, else a detached copy that requires grad when ``need_graph``."""
    from minigrad import ops
    return tuple(ops.view(t, t.shape) if create_graph and t.requires_grad
                 else t.detach().requires_grad_(need_graph) for t in inputs)


def _grad_postprocess(inputs, create_graph):
    if isinstance(inputs[0], Tensor):
        return inputs if create_graph else tuple(t.detach() for t in inputs)
    return tuple(_grad_postprocess(t, create_graph) for t in inputs)


def _validate_v(v, other, is_other_tuple):
    if len(other) != len(v):
        if is_other_tuple:
            raise RuntimeError(f"v is a tuple of invalid length: should be {len(other)} but "
                               f"got {len(v)}.")
        raise RuntimeError("The given v should contain a single Tensor.")
    for idx, (el_v, el_other) in enumerate(zip(v, other)):
        if el_v.shape != el_other.shape:
            prepend = f"Entry {idx} in " if is_other_tuple else ""
            raise RuntimeError(f"{prepend}v has invalid size: should be {el_other.shape} but "
                               f"got {el_v.shape}.")


def _check_requires_grad(inputs, input_type, strict):
    if not strict:
        return
    for i, inp in enumerate(inputs):
        if inp is None:
            raise RuntimeError(f"The output of the user-provided function is independent of "
                               f"input {i}. This is not allowed in strict mode.")
        if inp.requires_grad:
            continue
        if input_type == "hessian":
            raise RuntimeError(
                f"The hessian of the user-provided function with respect to input {i} is "
                f"independent of the input. This is not allowed in strict mode. You should "
                f"ensure that your function is thrice differentiable and that the hessian "
                f"depends on the inputs.")
        if input_type == "jacobian":
            raise RuntimeError(
                f"While computing the hessian, found that the jacobian of the user-provided "
                f"function with respect to input {i} is independent of the input. This is not "
                f"allowed in strict mode. You should ensure that your function is twice "
                f"differentiable and that the jacobian depends on the inputs (this would be "
                f"violated by a linear function for example).")
        if input_type == "grad_inputs":
            raise RuntimeError(
                f"The gradient with respect to input {i} is independent of the inputs of the "
                f"user-provided function. This is not allowed in strict mode.")
        raise RuntimeError(
            f"Output {i} of the user-provided function does not require gradients. The "
            f"outputs must be computed in a differentiable manner from the input when running "
            f"in strict mode.")


def _autograd_grad(outputs, inputs, grad_outputs=None, create_graph=False,
                   retain_graph=None):
    """``autograd.grad`` over the outputs that require grad (None for the others), with
    None for inputs the outputs do not reach."""
    if grad_outputs is None:
        grad_outputs = (None,) * len(outputs)
    pairs = [(o, g) for o, g in zip(outputs, grad_outputs) if o is not None and o.requires_grad]
    if not pairs:
        return (None,) * len(inputs)
    return _grad([o for o, _ in pairs], inputs, [g for _, g in pairs], allow_unused=True,
                 create_graph=create_graph, retain_graph=retain_graph)


_STAGE_ERRORS = {
    "back": "The output of the user-provided function is independent of input {i}. This is "
            "not allowed in strict mode.",
    "back_trick": "The gradient with respect to the input is independent of entry {i} in the "
                  "grad_outputs when using the double backward trick to compute forward mode "
                  "gradients. This is not allowed in strict mode.",
    "double_back": "The jacobian of the user-provided function is independent of input {i}. "
                   "This is not allowed in strict mode.",
    "double_back_trick": "The hessian of the user-provided function is independent of entry "
                         "{i} in the grad_jacobian. This is not allowed in strict mode as it "
                         "prevents from using the double backward trick to replace forward "
                         "mode AD.",
}


def _fill_in_zeros(grads, refs, strict, create_graph, stage):
    from minigrad.creation import zeros_like
    res = []
    for i, g in enumerate(grads):
        if g is None:
            if strict:
                raise RuntimeError(_STAGE_ERRORS[stage].format(i=i))
            g = zeros_like(refs[i])
        elif strict and create_graph and not g.requires_grad:
            what = "hessian" if "double" in stage else "jacobian"
            raise RuntimeError(f"The {what} of the user-provided function is independent of "
                               f"input {i}. This is not allowed in strict mode when "
                               f"create_graph=True.")
        res.append(g)
    return tuple(res)


def _prepare(fn_name, func, inputs, v, create_graph, strict, v_like):
    """Inputs prepared, outputs computed and ``v`` checked against ``v_like`` ("inputs"
    or "outputs"), as every product below begins."""
    is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", fn_name)
    inputs = _grad_preprocess(inputs, create_graph=create_graph, need_graph=True)
    if v_like == "inputs":
        v = _prepare_v(fn_name, v, inputs, is_inputs_tuple, create_graph,
                       "The vector v can only be None if the input to the user-provided "
                       "function is a single Tensor with a single element.")
    outputs = func(*inputs)
    is_outputs_tuple, outputs = _as_tuple(outputs, "outputs of the user-provided function",
                                          fn_name)
    _check_requires_grad(outputs, "outputs", strict=strict)
    if v_like == "outputs":
        v = _prepare_v(fn_name, v, outputs, is_outputs_tuple, create_graph,
                       "The vector v can only be None if the user-provided function returns "
                       "a single Tensor with a single element.")
    return is_inputs_tuple, inputs, is_outputs_tuple, outputs, v


def _prepare_v(fn_name, v, like, is_like_tuple, create_graph, none_message):
    if v is None:
        if len(like) != 1 or like[0].numel() != 1:
            raise RuntimeError(none_message)
        return None
    _, v = _as_tuple(v, "v", fn_name)
    v = _grad_preprocess(v, create_graph=create_graph, need_graph=False)
    _validate_v(v, like, is_like_tuple)
    return v


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), v^T J)``: one backward pass. ``v`` may be None when ``func``
    returns a single one-element tensor."""
    with enable_grad():
        is_in, inputs, is_out, outputs, v = _prepare("vjp", func, inputs, v, create_graph,
                                                     strict, "outputs")
    with set_grad_enabled(True if create_graph else is_grad_enabled()):
        res = _autograd_grad(outputs, inputs, v, create_graph=create_graph)
        res = _fill_in_zeros(res, inputs, strict, create_graph, "back")
    return (_tuple_postprocess(_grad_postprocess(outputs, create_graph), is_out),
            _tuple_postprocess(_grad_postprocess(res, create_graph), is_in))


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), J v)`` by the double-backward trick, as PyTorch's: a backward pass
    with ``create_graph`` from a dummy gradient ``u`` (zeros) gives ``J^T u``, linear in
    ``u``, and the gradient of ``<J^T u, v>`` with respect to ``u`` is ``J v``. Cost: the
    forward pass and two backward passes."""
    from minigrad.creation import zeros_like
    with enable_grad():
        is_in, inputs, is_out, outputs, v = _prepare("jvp", func, inputs, v, create_graph,
                                                     strict, "inputs")
        dummies = tuple(zeros_like(o, requires_grad=True) for o in outputs)
        grad_inputs = _autograd_grad(outputs, inputs, dummies, create_graph=True)
        _check_requires_grad(grad_inputs, "grad_inputs", strict=strict)
    with set_grad_enabled(True if create_graph else is_grad_enabled()):
        res = _autograd_grad(grad_inputs, dummies, v, create_graph=create_graph)
        res = _fill_in_zeros(res, outputs, strict, create_graph, "back_trick")
    return (_tuple_postprocess(_grad_postprocess(outputs, create_graph), is_out),
            _tuple_postprocess(_grad_postprocess(res, create_graph), is_out))


def _one_hot(t, k):
    from minigrad.creation import zeros
    e = zeros(t.shape, dtype=t.dtype, device=t.device)
    e.array.reshape(-1)[k] = 1   # (a fresh contiguous array: reshape is a view of it)
    return e


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False,
             strategy="reverse-mode"):
    """The Jacobian of ``func`` at ``inputs``: a tensor of shape ``output.shape +
    input.shape``, or a tuple (over outputs) of tuples (over inputs) of them, as in PyTorch.

    ``strategy="reverse-mode"``: one backward pass per output element (each from a one-hot
    gradient). ``strategy="forward-mode"``: one Jacobian-vector product per input element,
    each by the double-backward trick through a single backward pass recorded once (so
    the forward pass and that pass run once, then one pass per column); as in PyTorch it
    requires ``vectorize=True`` and refuses ``create_graph`` and ``strict``.
    ``vectorize`` is accepted with PyTorch's checks, but minigrad has no batched
    backward: rows (or columns) are computed one at a time either way, with the same
    results."""
    if strategy not in ("forward-mode", "reverse-mode"):
        raise AssertionError(
            'Expected strategy to be either "forward-mode" or "reverse-mode". Hint: If your '
            'function has more outputs than inputs, "forward-mode" tends to be more '
            'performant. Otherwise, prefer to use "reverse-mode".')
    if strategy == "forward-mode":
        if create_graph:
            raise NotImplementedError(
                'torch.autograd.functional.jacobian: `create_graph=True` and '
                '`strategy="forward-mode"` are not supported together (yet). Please either '
                'set `create_graph=False` or `strategy="reverse-mode"`.')
        return _jacfwd(func, inputs, strict, vectorize)
    from minigrad import ops
    from minigrad.creation import zeros_like
    with enable_grad():
        is_in, inputs = _as_tuple(inputs, "inputs", "jacobian")
        inputs = _grad_preprocess(inputs, create_graph=create_graph, need_graph=True)
        outputs = func(*inputs)
        is_out, outputs = _as_tuple(outputs, "outputs of the user-provided function",
                                    "jacobian")
        _check_requires_grad(outputs, "outputs", strict=strict)
        if vectorize and strict:
            raise RuntimeError(
                "torch.autograd.functional.jacobian: `strict=True` and `vectorized=True` are "
                "not supported together. Please either set `strict=False` or "
                "`vectorize=False`.")
        jac = []
        for i, out in enumerate(outputs):
            rows = [[] for _ in inputs]
            for k in range(out.numel()):
                vj = _autograd_grad((out,), inputs, (_one_hot(out, k),), retain_graph=True,
                                    create_graph=create_graph)
                for j, (row, g, inp) in enumerate(zip(rows, vj, inputs)):
                    if g is not None:
                        if strict and create_graph and not g.requires_grad:
                            raise RuntimeError(
                                f"The jacobian of the user-provided function is independent "
                                f"of input {i}. This is not allowed in strict mode when "
                                f"create_graph=True.")
                        row.append(g)
                    else:
                        if strict:
                            raise RuntimeError(
                                f"Output {i} of the user-provided function is independent of "
                                f"input {j}. This is not allowed in strict mode.")
                        row.append(zeros_like(inp))
            jac.append(tuple(ops.reshape(ops.stack(row, 0), out.shape + inp.shape)
                             if row else zeros_like(inp).reshape(out.shape + inp.shape)
                             for row, inp in zip(rows, inputs)))
        jac = _grad_postprocess(tuple(jac), create_graph)
        return _tuple_postprocess(jac, (is_out, is_in))


def _jacfwd(func, inputs, strict, vectorize):
    if strict:
        raise RuntimeError(
            'torch.autograd.functional.jacobian: `strict=True` and `strategy="forward-mode"` '
            'are not supported together (yet). Please either set `strict=False` or '
            '`strategy="reverse-mode"`.')
    if not vectorize:
        raise NotImplementedError(
            "Computing Jacobian using forward-AD or forward-over-reverse Hessian is only "
            "implemented for `vectorize=True`.")
    from minigrad import ops
    from minigrad.creation import zeros_like
    is_in, inputs = _as_tuple(inputs, "inputs", "jacobian")
    with enable_grad():
        inputs = _grad_preprocess(inputs, create_graph=False, need_graph=True)
        is_out, outputs = _as_tuple(func(*inputs), "outputs")
        dummies = tuple(zeros_like(o, requires_grad=True) for o in outputs)
        grad_inputs = _autograd_grad(outputs, inputs, dummies, create_graph=True)
    columns = [[[] for _ in inputs] for _ in outputs]   # [output][input]: J e_k, k = 0, 1..
    for j, (g, inp) in enumerate(zip(grad_inputs, inputs)):
        for k in range(inp.numel()):
            # d<J^T u, e_k>/du = J e_k: the k-th column, for every output at once
            jv = (None,) * len(outputs) if g is None or not g.requires_grad else \
                _grad([g], dummies, [_one_hot(inp, k)], allow_unused=True, retain_graph=True)
            for i, (col, out) in enumerate(zip(jv, outputs)):
                columns[i][j].append(zeros_like(out) if col is None else col)
    # (lists, not tuples: PyTorch's forward-mode jacobian returns them)
    jac = [[ops.reshape(ops.stack(cols, -1), out.shape + inp.shape).detach()
            if cols else zeros_like(out).reshape(out.shape + inp.shape)
            for cols, inp in zip(per_input, inputs)]
           for per_input, out in zip(columns, outputs)]
    return _tuple_postprocess(jac, (is_out, is_in))


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False,
            outer_jacobian_strategy="reverse-mode"):
    """The Hessian of a scalar ``func``: the Jacobian (``outer_jacobian_strategy``) of its
    reverse-mode gradient, as PyTorch builds it; a tensor of shape ``input.shape * 2``, or
    a tuple of tuples over pairs of inputs."""
    is_in, inputs = _as_tuple(inputs, "inputs", "hessian")
    if outer_jacobian_strategy not in ("forward-mode", "reverse-mode"):
        raise AssertionError('Expected strategy to be either "forward-mode" or '
                             '"reverse-mode".')

    def ensure_single_output_function(*inp):
        out = func(*inp)
        is_out_tuple, t_out = _as_tuple(out, "outputs of the user-provided function", "hessian")
        _check_requires_grad(t_out, "outputs", strict=strict)
        if is_out_tuple or not isinstance(out, Tensor):
            raise RuntimeError("The function given to hessian should return a single Tensor")
        if out.numel() != 1:
            raise RuntimeError("The Tensor returned by the function given to hessian should "
                               "contain a single element")
        return out.squeeze()

    def jac_func(*inp):
        if outer_jacobian_strategy == "forward-mode":
            inp = tuple(t.requires_grad_(True) for t in inp)
        jac = jacobian(ensure_single_output_function, inp, create_graph=True)
        _check_requires_grad(jac, "jacobian", strict=strict)
        return jac

    res = jacobian(jac_func, inputs, create_graph=create_graph, strict=strict,
                   vectorize=vectorize, strategy=outer_jacobian_strategy)
    return _tuple_postprocess(res, (is_in, is_in))


def _scalar_output(fn_name, is_outputs_tuple, outputs):
    if is_outputs_tuple or not isinstance(outputs[0], Tensor):
        raise RuntimeError(f"The function given to {fn_name} should return a single Tensor")
    if outputs[0].numel() != 1:
        raise RuntimeError(f"The Tensor returned by the function given to {fn_name} should "
                           f"contain a single element")


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), v^T H)`` for a scalar ``func``: a backward pass with
    ``create_graph`` (the gradient), then one backward pass through it from ``v``."""
    return _vector_hessian("vhp", func, inputs, v, create_graph, strict, ("jacobian",),
                           "double_back")


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), H v)`` for a scalar ``func``. The Hessian of a function the engine
    differentiates twice is symmetric, so ``H v = (v^T H)^T`` and minigrad computes it as
    ``vhp`` does: the forward pass, one backward pass with ``create_graph`` and one
    backward pass through it (PyTorch's hvp adds a third pass, the double-backward trick;
    the results agree to rounding). The cost is a small constant times one backward pass,
    independent of the number of inputs."""
    return _vector_hessian("hvp", func, inputs, v, create_graph, strict,
                           ("jacobian", "hessian"), "double_back_trick")


def _vector_hessian(name, func, inputs, v, create_graph, strict, strict_stages, stage):
    """vhp and hvp: ``strict_stages`` name the strict checks on the gradient, ``stage`` the
    one on the result (torch's error messages differ between the two)."""
    with enable_grad():
        is_in, inputs, is_out, outputs, v = _prepare(name, func, inputs, v, create_graph,
                                                     strict, "inputs")
        _scalar_output(name, is_out, outputs)
        jac = _autograd_grad(outputs, inputs, create_graph=True)
        for check in strict_stages:
            _check_requires_grad(jac, check, strict=strict)
    with set_grad_enabled(True if create_graph else is_grad_enabled()):
        res = _autograd_grad(jac, inputs, v, create_graph=create_graph)
        res = _fill_in_zeros(res, inputs, strict, create_graph, stage)
    return (_tuple_postprocess(_grad_postprocess(outputs, create_graph), is_out),
            _tuple_postprocess(_grad_postprocess(res, create_graph), is_in))
