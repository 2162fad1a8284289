"""``torch.func.functional_call`` and ``stack_module_state``: a module called with
parameters and buffers given as arguments, and many modules' state stacked for ``vmap``."""
from minigrad.tensor import Tensor

__all__ = ["functional_call", "stack_module_state"]

_MISSING = object()


def _named_tensors(module, prefix=""):
    """Every (name, tensor) of the module's parameters and buffers, tied ones under each of
    their names (PyTorch's ``remove_duplicate=False``)."""
    for store in ("_parameters", "_buffers"):
        for name, t in getattr(module, store).items():
            if t is not None:
                yield prefix + name, t
    for name, child in module._modules.items():
        if child is not None:
            yield from _named_tensors(child, f"{prefix}{name}.")


def _submodule(module, path):
    for attr in path.split(".") if path else ():
        try:
            child = getattr(module, attr)
        except AttributeError:
            raise AttributeError(f"{type(module).__name__} has no attribute `{attr}`") from None
        from minigrad.nn.modules.module import Module
        if not isinstance(child, Module):
            raise TypeError(f"submodule `{path}`: {child} is not an instance of "
                            f"minigrad.nn.Module")
        module = child
    return module


def _swap(module, name, tensor):
    """Put ``tensor`` at ``name`` (a dotted path); returns what was there (``_MISSING``)."""
    prefix, _, attr = name.rpartition(".")
    owner = _submodule(module, prefix)
    for store in (owner._parameters, owner._buffers):
        if attr in store:
            orig = store[attr]
            store[attr] = tensor
            return orig
    orig = getattr(owner, attr, _MISSING)
    if orig is not _MISSING and orig is not None and not isinstance(orig, Tensor):
        raise TypeError(f"attribute `{attr}`: {orig} is not an instance of minigrad.Tensor")
    if tensor is _MISSING:
        if hasattr(owner, attr):
            delattr(owner, attr)
    else:
        setattr(owner, attr, tensor)
    return orig


def _untie(module, given):
    """``given`` with every name tied to a given one (the same tensor registered twice)
    filled in; two different values for one tied tensor are an error."""
    names_of = {}
    for name, t in _named_tensors(module):
        names_of.setdefault(id(t), set()).add(name)
    tied = {n: names for names in names_of.values() if len(names) > 1 for n in names}
    given_tied = [n for n in given if n in tied]
    for n in given_tied:
        names = tied[n]
        values = {id(given[m]) for m in names if m in given}
        if len(names & set(given_tied)) > 1 and len(values) != 1:
            raise ValueError(f"functional_call got multiple values for keys {sorted(names)}, "
                             f"which are tied. Consider using tie_weights=False")
    untied = dict(given)
    for n in given_tied:
        for m in tied[n]:
            untied[m] = given[n]
    return untied


def functional_call(module, parameter_and_buffer_dicts, args=None, kwargs=None, *,
                    tie_weights=True, strict=False):
    """Call ``module(*args, **kwargs)`` with its parameters and buffers replaced, for the
    duration of the call, by the tensors in ``parameter_and_buffer_dicts`` (a dict from
    state-dict names to tensors, or a sequence of dicts with distinct keys); the module is
    left as it was. ``args`` that is not a tuple is one argument. ``tie_weights``: a tensor
    registered under several names is replaced under all of them. ``strict``: the names
    must be exactly the module's. As in PyTorch, what the module assigns to a replaced name
    during the call is written back into the dict."""
    if isinstance(parameter_and_buffer_dicts, dict):
        given = parameter_and_buffer_dicts
    elif isinstance(parameter_and_buffer_dicts, (list, tuple)):
        if not all(isinstance(d, dict) for d in parameter_and_buffer_dicts):
            raise ValueError("Expected all elements of parameter_and_buffer_dicts to be "
                             "dictionaries")
        counts = {}
        for d in parameter_and_buffer_dicts:
            for k in d:
                counts[k] = counts.get(k, 0) + 1
        repeated = [k for k, n in counts.items() if n > 1]
        if repeated:
            raise ValueError(f"{repeated} appeared in multiple dictionaries; behavior of "
                             f"functional call is ambiguous")
        given = {k: v for d in parameter_and_buffer_dicts for k, v in d.items()}
    else:
        raise ValueError(f"Expected parameter_and_buffer_dicts to be a dict, or a list/tuple "
                         f"of dicts, but got {type(parameter_and_buffer_dicts)}")
    kwargs = {} if kwargs is None else kwargs
    args = () if args is None else args if isinstance(args, tuple) else (args,)
    untied = _untie(module, given) if tie_weights else given
    if strict:
        valid = {name for name, _ in _named_tensors(module)}
        missing, unexpected = sorted(valid - set(untied)), sorted(set(untied) - valid)
        errors = []
        if unexpected:
            errors.append(f"Unexpected key(s): {', '.join(map(repr, unexpected))}.")
        if missing:
            errors.append(f"Missing key(s): {', '.join(map(repr, missing))}.")
        if errors:
            raise RuntimeError("Error(s) in reparametrizing for {}:\n\t{}".format(
                type(module).__name__, "\n\t".join(errors)))
    originals = {}
    try:
        for name, t in untied.items():
            originals[name] = _swap(module, name, t)
        return module(*args, **kwargs)
    finally:
        now = {name: _swap(module, name, orig) for name, orig in originals.items()}
        given.update({k: now[k] for k in given if k in now})


def stack_module_state(models):
    """``(params, buffers)``: for each state-dict name of ``models`` (modules of one class,
    all in training or all in eval mode), the models' tensors stacked along a new first
    dimension, for ``vmap(functional_call ...)`` ensembles. Stacked parameters are new
    leaves that require grad (when the models' do), unrelated to the originals."""
    if len(models) == 0:
        raise RuntimeError("stack_module_state: Expected at least one model, got 0.")
    if not (all(m.training for m in models) or all(not m.training for m in models)):
        raise RuntimeError("stack_module_state: Expected all models to have the same "
                           "training/eval mode.")
    if not all(type(m) is type(models[0]) for m in models):
        raise RuntimeError("stack_module_state: Expected all models to be of the same class.")
    all_params = [dict(m.named_parameters()) for m in models]
    all_buffers = [dict(m.named_buffers()) for m in models]
    params = {k: _stacked_leaf([p[k] for p in all_params], k) for k in all_params[0]}
    buffers = {k: _stacked_leaf([b[k] for b in all_buffers], k) for k in all_buffers[0]}
    return params, buffers


def _stacked_leaf(tensors, name):
    from minigrad import ops
    all_grad = all(t.requires_grad for t in tensors)
    if not all_grad and any(t.requires_grad for t in tensors):
        raise RuntimeError(f"Expected {name} from each model to have the same .requires_grad")
    result = ops.stack([t.detach() for t in tensors])
    return result.requires_grad_() if all_grad else result
