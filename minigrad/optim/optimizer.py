"""The optimizer base: parameter groups, per-parameter state, and the state-dict format.

The state dict has PyTorch's layout, ``{"state": {index: {...}}, "param_groups": [{...,
"params": [index, ...]}]}``, with parameters numbered in group order, so a checkpoint refers
to parameters by position rather than identity and loads into a freshly built model.
Updates work in place on the parameters' raw arrays (NumPy or CuPy), outside the tape.
"""
import collections
import copy

import numpy as np

from minigrad import backend
from minigrad.autograd.grad_mode import enable_grad
from minigrad.autograd.profiler import register_ranges
from minigrad.tensor import Tensor


class _Required:
    def __repr__(self):
        return "<required parameter>"


required = _Required()
_SET_MESSAGE = ("optimizer parameters need to be organized in ordered collections, but the "
                "ordering of tensors in sets changes between runs; use a list")


class Optimizer:
    def __init__(self, params, defaults):
        self.defaults = defaults
        self.state = collections.defaultdict(dict)   # (torch's: state[p] starts empty)
        self.param_groups = []
        if isinstance(params, Tensor):
            raise TypeError(f"{type(self).__name__}: params should be an iterable of tensors "
                            f"or dicts, got a single Tensor")
        if isinstance(params, set):
            raise TypeError(_SET_MESSAGE)
        groups = list(params)
        if not groups:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {group[k]}" for k in sorted(group) if k != "params"]
        return "\n".join(lines) + "\n)"

    def add_param_group(self, param_group):
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, got {type(param_group).__name__}")
        group = dict(param_group)
        params = group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError(_SET_MESSAGE)
        params = list(params)
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, got {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor")
            if not p.is_floating_point():
                raise TypeError(f"optimizer can only optimize floating point tensors, "
                                f"got {p.dtype!r}")
        if len({id(p) for p in params}) != len(params):
            raise ValueError("optimizer parameter group contains the same parameter twice")
        group["params"] = params
        for name, default in self.defaults.items():
            if default is required and name not in group:
                raise ValueError(f"parameter group didn't specify a value of required "
                                 f"optimization parameter {name}")
            group.setdefault(name, default)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in params):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(group)

    def zero_grad(self, set_to_none=True):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad = Tensor._make(p.grad.array) if p.grad._node is not None else p.grad
                    p.grad.array[...] = 0

    def step(self, closure=None):
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    self._update(p, p.grad.array, self.state.setdefault(p, {}), group)
        return loss

    def _update(self, p, grad, state, group):
        """Update ``p.array`` in place from ``grad`` (a raw array); ``state`` is p's own dict."""
        raise NotImplementedError

    # ------------------------------------------------------------ checkpoints
    def state_dict(self):
        index = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            packed["params"] = [index.setdefault(id(p), len(index)) for p in group["params"]]
            groups.append(packed)
        state = {index[id(p)]: dict(s) for p, s in self.state.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"loaded state dict has {len(saved_groups)} parameter groups, "
                             f"the optimizer has {len(self.param_groups)}")
        for i, (saved, group) in enumerate(zip(saved_groups, self.param_groups)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(f"loaded state dict's parameter group {i} has "
                                 f"{len(saved['params'])} parameters, the optimizer's has "
                                 f"{len(group['params'])}")
        by_index = {}
        for saved, group in zip(saved_groups, self.param_groups):
            by_index.update(zip(saved["params"], group["params"]))
        self.state = collections.defaultdict(dict)
        for key, values in state_dict["state"].items():
            p = by_index.get(int(key))
            if p is None:
                raise ValueError(f"loaded state dict has state for parameter {key}, "
                                 f"which no parameter group lists")
            self.state[p] = {name: self._restore_state(name, v, p)
                             for name, v in values.items()}
        self.param_groups = [
            {**copy.deepcopy({k: v for k, v in saved.items() if k != "params"}),
             "params": group["params"]}
            for saved, group in zip(saved_groups, self.param_groups)]

    def _restore_state(self, name, value, param):
        """One saved state entry for ``param`` (optimizers whose state is not shaped like
        their parameters override this)."""
        return _restore(name, value, param)


def _restore(name, value, param):
    """A private copy of one saved state entry, on the parameter's device and dtype."""
    if name == "step":
        return float(value.item() if hasattr(value, "item") else value)
    if isinstance(value, Tensor):
        value = value.array
    if isinstance(value, np.ndarray) or hasattr(value, "__cuda_array_interface__"):
        if value.shape != param.shape:
            raise ValueError(f"loaded optimizer state {name!r} has shape {value.shape}, "
                             f"its parameter has shape {param.shape}")
        xp = backend.of(param.array).xp
        return Tensor(xp.array(value, dtype=param.array.dtype))
    return copy.deepcopy(value)


def _check_nonnegative(**values):
    names = {"lr": "learning rate", "eps": "epsilon value", "momentum": "momentum value",
             "weight_decay": "weight_decay value"}
    for name, value in values.items():
        if value < 0.0:
            raise ValueError(f"Invalid {names[name]}: {value}")


def _step_range(optimizer):
    return f"Optimizer.step#{type(optimizer).__name__}.step"


def _zero_grad_range(optimizer):
    return f"Optimizer.zero_grad#{type(optimizer).__name__}.zero_grad"


@register_ranges
def _profiled_methods():
    """While a profile records, ``step`` and ``zero_grad`` of every optimizer are ranges,
    named as PyTorch names them (``Optimizer.step#SGD.step``): the update works on arrays,
    outside the ops, so it would be no one's time otherwise."""
    classes, todo = [], [Optimizer]
    while todo:
        cls = todo.pop()
        classes.append(cls)
        todo.extend(cls.__subclasses__())
    return [(cls, method, name) for cls in classes
            for method, name in (("step", _step_range), ("zero_grad", _zero_grad_range))
            if method in cls.__dict__]
