"""Adagrad (Duchi, Hazan & Singer 2011) with PyTorch's update and learning-rate decay."""
from minigrad import backend
from minigrad.optim.optimizer import Optimizer, _check_nonnegative
from minigrad.tensor import Tensor


class Adagrad(Optimizer):
    """For each parameter p with gradient g, at step t (PyTorch's update, in this order)::

        g = g + weight_decay * p
        s = s + g * g                     (s starts at initial_accumulator_value)
        p = p - lr / (1 + (t - 1) * lr_decay) * g / (sqrt(s) + eps)

    As in PyTorch, each parameter's state exists from construction on.
    """

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
                 eps=1e-10, *, maximize=False):
        _check_nonnegative(lr=lr, eps=eps, weight_decay=weight_decay)
        if lr_decay < 0.0:
            raise ValueError(f"Invalid lr_decay value: {lr_decay}")
        if initial_accumulator_value < 0.0:
            raise ValueError(f"Invalid initial_accumulator_value value: "
                             f"{initial_accumulator_value}")
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, eps=eps,
                                      weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value,
                                      maximize=maximize))
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(p, group)

    def _init_state(self, p, group):
        xp = backend.of(p.array).xp
        self.state[p] = {"step": 0.0, "sum": Tensor._make(
            xp.full_like(p.array, group["initial_accumulator_value"]))}

    def _update(self, p, grad, state, group):
        if not state:  # a parameter group added after construction
            self._init_state(p, group)
            state = self.state[p]
        xp = backend.of(p.array).xp
        state["step"] += 1
        step = state["step"]
        if group["maximize"]:
            grad = -grad
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * p.array
        clr = group["lr"] / (1 + (step - 1) * group["lr_decay"])
        total = state["sum"].array
        total += grad * grad
        std = xp.sqrt(total)
        std += group["eps"]
        p.array -= clr * (grad / std)
