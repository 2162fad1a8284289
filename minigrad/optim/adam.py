"""Adam (Kingma & Ba) and AdamW (Loshchilov & Hutter) with PyTorch's exact update rules."""
from minigrad import backend
from minigrad.optim.optimizer import Optimizer, _check_nonnegative
from minigrad.tensor import Tensor


def _lerp_(start, end, weight):
    """start += weight * (end - start), in the form PyTorch's lerp uses for this weight."""
    if abs(weight) < 0.5:
        start += weight * (end - start)
    else:
        start[...] = end - (end - start) * (1 - weight)


class Adam(Optimizer):
    """For each parameter p with gradient g, at step t (PyTorch's update, in this order)::

        g = g + weight_decay * p        (Adam; AdamW instead decays p *= 1 - lr * weight_decay)
        m = lerp(m, g, 1 - beta1)
        v = beta2 * v + (1 - beta2) * g * g
        v_hat = max(v_hat, v) if amsgrad else v
        p = p - lr / (1 - beta1**t) * m / (sqrt(v_hat) / sqrt(1 - beta2**t) + eps)
    """

    _decoupled_weight_decay = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 amsgrad=False, *, maximize=False):
        _check_nonnegative(lr=lr, eps=eps, weight_decay=weight_decay)
        for i, beta in enumerate(betas):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"Invalid beta parameter at index {i}: {beta}")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay, amsgrad=amsgrad,
                                      maximize=maximize))

    def _update(self, p, grad, state, group):
        xp = backend.of(p.array).xp
        if not state:
            state["step"] = 0.0
            state["exp_avg"] = Tensor._make(xp.zeros_like(p.array))
            state["exp_avg_sq"] = Tensor._make(xp.zeros_like(p.array))
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = Tensor._make(xp.zeros_like(p.array))
        beta1, beta2 = group["betas"]
        lr, wd = group["lr"], group["weight_decay"]
        if group["maximize"]:
            grad = -grad
        state["step"] += 1
        step = state["step"]
        if wd != 0:
            if self._decoupled_weight_decay:
                p.array *= 1 - lr * wd
            else:
                grad = grad + wd * p.array
        exp_avg, exp_avg_sq = state["exp_avg"].array, state["exp_avg_sq"].array
        _lerp_(exp_avg, grad, 1 - beta1)
        exp_avg_sq *= beta2
        exp_avg_sq += (1 - beta2) * grad * grad
        if group["amsgrad"]:
            second = state["max_exp_avg_sq"].array
            xp.maximum(second, exp_avg_sq, out=second)
        else:
            second = exp_avg_sq
        step_size = lr / (1 - beta1 ** step)
        denom = xp.sqrt(second)
        denom /= (1 - beta2 ** step) ** 0.5
        denom += group["eps"]
        p.array += -step_size * exp_avg / denom


class AdamW(Adam):
    """Adam with decoupled weight decay: ``p *= 1 - lr * weight_decay`` before the Adam step."""

    _decoupled_weight_decay = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize)
