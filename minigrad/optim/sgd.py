"""Stochastic gradient descent with PyTorch's momentum, dampening, weight decay and Nesterov rule."""
from minigrad import backend
from minigrad.optim.optimizer import Optimizer, _check_nonnegative
from minigrad.tensor import Tensor


class SGD(Optimizer):
    """For each parameter p with gradient g (PyTorch's update, in this order)::

        g = g + weight_decay * p
        b = g                                   on the first step
        b = momentum * b + (1 - dampening) * g  afterwards
        g = g + momentum * b if nesterov else b
        p = p - lr * g
    """

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0,
                 nesterov=False, *, maximize=False):
        _check_nonnegative(lr=lr, momentum=momentum, weight_decay=weight_decay)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov,
                                      maximize=maximize))

    def _update(self, p, grad, state, group):
        buf = state.get("momentum_buffer")
        new = backend.of(p.array).sgd_step(
            p.array, grad, None if buf is None else buf.array, group["lr"], group["momentum"],
            group["dampening"], group["nesterov"], group["weight_decay"], group["maximize"])
        if buf is None and new is not None:
            state["momentum_buffer"] = Tensor._make(new)
