"""Activation modules: holders of their functional form's options, printed as PyTorch
prints them. (ReLU, LeakyReLU, Sigmoid, Tanh, GELU and the softmaxes live in ``basic``.)"""
from minigrad.nn import functional as F
from minigrad.nn.modules.module import Module


class _Activation(Module):
    """An activation with an ``inplace`` flag, which PyTorch's repr shows only when set."""

    def __init__(self, inplace=False):
        super().__init__()
        F._no_inplace(type(self).__name__, inplace)
        self.inplace = inplace

    def _options(self):
        return []

    def extra_repr(self):
        return ", ".join(self._options() + (["inplace=True"] if self.inplace else []))


class SiLU(_Activation):
    """x * sigmoid(x)"""

    def forward(self, x):
        return F.silu(x)


class ELU(_Activation):
    def __init__(self, alpha=1.0, inplace=False):
        super().__init__(inplace)
        self.alpha = alpha

    def forward(self, x):
        return F.elu(x, self.alpha)

    def _options(self):
        return [f"alpha={self.alpha}"]


class SELU(_Activation):
    def forward(self, x):
        return F.selu(x)


class CELU(ELU):
    def forward(self, x):
        return F.celu(x, self.alpha)


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
        if min_val > max_val:
            raise ValueError(f"Hardtanh: min_val ({min_val}) cannot be greater than max_val "
                             f"({max_val})")
        self.min_val, self.max_val = min_val, max_val

    def forward(self, x):
        return F.hardtanh(x, self.min_val, self.max_val)

    def _options(self):
        return [f"min_val={self.min_val}", f"max_val={self.max_val}"]


class ReLU6(Hardtanh):
    def __init__(self, inplace=False):
        super().__init__(0.0, 6.0, inplace)

    def _options(self):
        return []


class Hardswish(_Activation):
    def forward(self, x):
        return F.hardswish(x)


class Hardsigmoid(_Activation):
    def forward(self, x):
        return F.hardsigmoid(x)


class Mish(_Activation):
    def forward(self, x):
        return F.mish(x)


class LogSigmoid(Module):
    def forward(self, x):
        return F.logsigmoid(x)


class Softsign(Module):
    def forward(self, x):
        return F.softsign(x)
