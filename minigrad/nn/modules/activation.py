"""Activation modules: holders of their functional form's options, printed as PyTorch
prints them.

``inplace=True`` writes the result into the input's memory and returns the input, by the
rules of every in-place op (see ``minigrad.ops.inplace``)."""
from minigrad.creation import empty
from minigrad.nn import functional as F, init as nn_init
from minigrad.nn.modules.module import Module
from minigrad.nn.parameter import Parameter


class _Activation(Module):
    """An activation with an ``inplace`` flag, which PyTorch's repr shows only when set."""

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def _options(self):
        return []

    def extra_repr(self):
        return ", ".join(self._options() + (["inplace=True"] if self.inplace else []))


class ReLU(_Activation):
    """max(x, 0)"""

    def forward(self, x):
        return F.relu(x, self.inplace)


class LeakyReLU(_Activation):
    def __init__(self, negative_slope=0.01, inplace=False):
        super().__init__(inplace)
        self.negative_slope = negative_slope

    def forward(self, x):
        return F.leaky_relu(x, self.negative_slope, self.inplace)

    def _options(self):
        return [f"negative_slope={self.negative_slope}"]


class SiLU(_Activation):
    """x * sigmoid(x)"""

    def forward(self, x):
        return F.silu(x, self.inplace)


class ELU(_Activation):
    def __init__(self, alpha=1.0, inplace=False):
        super().__init__(inplace)
        self.alpha = alpha

    def forward(self, x):
        return F.elu(x, self.alpha, self.inplace)

    def _options(self):
        return [f"alpha={self.alpha}"]


class SELU(_Activation):
    def forward(self, x):
        return F.selu(x, self.inplace)


class CELU(ELU):
    def forward(self, x):
        return F.celu(x, self.alpha, self.inplace)


class Softplus(Module):
    def __init__(self, beta=1.0, threshold=20.0):
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, x):
        return F.softplus(x, self.beta, self.threshold)

    def extra_repr(self):
        return f"beta={self.beta}, threshold={self.threshold}"


class Hardtanh(_Activation):
    def __init__(self, min_val=-1.0, max_val=1.0, inplace=False):
        super().__init__(inplace)
        if max_val <= min_val:   # (the module is stricter than the function, as in torch)
            raise ValueError(f"Hardtanh: max_val ({max_val}) must be greater than min_val "
                             f"({min_val})")
        self.min_val, self.max_val = min_val, max_val

    def forward(self, x):
        return F.hardtanh(x, self.min_val, self.max_val, self.inplace)

    def _options(self):
        return [f"min_val={self.min_val}", f"max_val={self.max_val}"]


class ReLU6(Hardtanh):
    def __init__(self, inplace=False):
        super().__init__(0.0, 6.0, inplace)

    def _options(self):
        return []


class Hardswish(_Activation):
    def forward(self, x):
        return F.hardswish(x, self.inplace)

    def extra_repr(self):   # PyTorch does not print its inplace flag
        return ""


class Hardsigmoid(Hardswish):
    def forward(self, x):
        return F.hardsigmoid(x, self.inplace)


class Mish(_Activation):
    def forward(self, x):
        return F.mish(x, self.inplace)


class LogSigmoid(Module):
    def forward(self, x):
        return F.logsigmoid(x)


class Softsign(Module):
    def forward(self, x):
        return F.softsign(x)


class Threshold(_Activation):
    """``x`` where x > threshold, else ``value``."""

    def __init__(self, threshold, value, inplace=False):
        super().__init__(inplace)
        self.threshold, self.value = threshold, value

    def forward(self, x):
        return F.threshold(x, self.threshold, self.value, self.inplace)

    def _options(self):
        return [f"threshold={self.threshold}", f"value={self.value}"]


class PReLU(Module):
    """max(0, x) + a * min(0, x) with a learned ``a``: one shared (``num_parameters=1``) or
    one per channel (dim 1), initialized to ``init``."""

    def __init__(self, num_parameters=1, init=0.25, device=None, dtype=None):
        super().__init__()
        self.num_parameters, self.init = num_parameters, init
        self.weight = Parameter(empty(num_parameters, dtype=dtype, device=device))
        self.reset_parameters()

    def reset_parameters(self):
        nn_init.constant_(self.weight, self.init)

    def forward(self, x):
        return F.prelu(x, self.weight)

    def extra_repr(self):
        return f"num_parameters={self.num_parameters}"


def _activation(name, fn, doc):
    cls = type(name, (Module,), {
        "__doc__": doc,
        "forward": lambda self, x: fn(x),
    })
    return cls


Sigmoid = _activation("Sigmoid", F.sigmoid, "1 / (1 + exp(-x))")


Tanh = _activation("Tanh", F.tanh, "tanh(x)")


class GELU(Module):
    def __init__(self, approximate="none"):
        super().__init__()
        self.approximate = approximate

    def forward(self, x):
        return F.gelu(x, self.approximate)

    def extra_repr(self):
        return f"approximate='{self.approximate}'"


class Softmax(Module):
    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return F.softmax(x, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class LogSoftmax(Softmax):
    def forward(self, x):
        return F.log_softmax(x, self.dim)
