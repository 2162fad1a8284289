"""Adadelta (Zeiler 2012, "ADADELTA: An Adaptive Learning Rate Method") with PyTorch's update."""
from minigrad import backend
from minigrad.optim.optimizer import Optimizer, _check_nonnegative
from minigrad.tensor import Tensor


class Adadelta(Optimizer):
    """For each parameter p with gradient g (PyTorch's update, in this order)::

        g = g + weight_decay * p
        v = rho * v + (1 - rho) * g * g                  (state "square_avg")
        delta = sqrt(u + eps) / sqrt(v + eps) * g
        u = rho * u + (1 - rho) * delta * delta          (state "acc_delta")
        p = p - lr * delta

    ``lr`` scales the step (default 1.0, as in the paper, which has no learning rate).
    The state per parameter is PyTorch's: ``step``, ``square_avg``, ``acc_delta``.
    ``foreach`` is accepted and has no effect (minigrad has one implementation);
    ``capturable`` and ``differentiable`` exist only as False.
    """

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *,
                 capturable=False, maximize=False, differentiable=False):
        _check_nonnegative(lr=lr, eps=eps, weight_decay=weight_decay)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        # foreach picks one of PyTorch's implementations of the same update (minigrad has one)
        for name, value in (("capturable", capturable), ("differentiable", differentiable)):
            if value:
                raise ValueError(f"Adadelta: {name}=True is not supported by minigrad "
                                 f"(CUDA-graph capture / a step recorded by autograd)")
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay,
                                      maximize=maximize, capturable=capturable,
                                      foreach=foreach, differentiable=differentiable))

    def _update(self, p, grad, state, group):
        xp = backend.of(p.array).xp
        if not state:
            state["step"] = 0.0
            state["square_avg"] = Tensor._make(xp.zeros_like(p.array))
            state["acc_delta"] = Tensor._make(xp.zeros_like(p.array))
        rho, eps = group["rho"], group["eps"]
        state["step"] += 1
        if group["maximize"]:
            grad = -grad
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * p.array
        square_avg, acc_delta = state["square_avg"].array, state["acc_delta"].array
        square_avg *= rho
        square_avg += (1 - rho) * (grad * grad)
        delta = xp.sqrt(acc_delta + eps)
        delta /= xp.sqrt(square_avg + eps)
        delta *= grad
        acc_delta *= rho
        acc_delta += (1 - rho) * (delta * delta)
        p.array -= group["lr"] * delta
