"""RMSprop (Hinton's lecture 6e; Graves 2013 for the centered form) with PyTorch's update."""
from minigrad import backend
from minigrad.optim.adam import _lerp_
from minigrad.optim.optimizer import Optimizer, _check_nonnegative
from minigrad.tensor import Tensor


class RMSprop(Optimizer):
    """For each parameter p with gradient g (PyTorch's update, in this order)::

        g = g + weight_decay * p
        v = alpha * v + (1 - alpha) * g * g
        m = lerp(m, g, 1 - alpha);  avg = sqrt(v - m * m)   centered
        avg = sqrt(v)                                       otherwise
        b = momentum * b + g / (avg + eps);  p = p - lr * b   with momentum
        p = p - lr * g / (avg + eps)                          otherwise
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                 centered=False, *, maximize=False):
        _check_nonnegative(lr=lr, eps=eps, momentum=momentum, weight_decay=weight_decay)
        if not 0.0 <= alpha:
            raise ValueError(f"Invalid alpha value: {alpha}")
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered, maximize=maximize))

    def _update(self, p, grad, state, group):
        xp = backend.of(p.array).xp
        if not state:
            state["step"] = 0.0
            state["square_avg"] = Tensor._make(xp.zeros_like(p.array))
            if group["momentum"] > 0:
                state["momentum_buffer"] = Tensor._make(xp.zeros_like(p.array))
            if group["centered"]:
                state["grad_avg"] = Tensor._make(xp.zeros_like(p.array))
        alpha = group["alpha"]
        if group["maximize"]:
            grad = -grad
        state["step"] += 1
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * p.array
        square_avg = state["square_avg"].array
        square_avg *= alpha
        square_avg += (1 - alpha) * grad * grad
        if group["centered"]:
            grad_avg = state["grad_avg"].array
            _lerp_(grad_avg, grad, 1 - alpha)
            avg = xp.sqrt(square_avg - grad_avg * grad_avg)
        else:
            avg = xp.sqrt(square_avg)
        avg += group["eps"]
        if group["momentum"] > 0:
            buf = state["momentum_buffer"].array
            buf *= group["momentum"]
            buf += grad / avg
            p.array -= group["lr"] * buf
        else:
            p.array -= group["lr"] * (grad / avg)
