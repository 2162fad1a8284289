"""In-place updates (ops/inplace.py has the rules): assignment, the ``op_`` forms of the
arithmetic, scatter and index_add, and the in-place reshapes and detach."""
_ops = _inplace = None   # bound by minigrad.tensor (see minigrad._tensor)


class InplaceMixin:
    __slots__ = ()

    def __setitem__(self, index, value): _inplace.setitem(self, index, value)
    def __iadd__(self, other): return self.add_(other)
    def __isub__(self, other): return self.sub_(other)
    def __imul__(self, other): return self.mul_(other)
    def __itruediv__(self, other): return self.div_(other)
    def __iand__(self, other): return self.bitwise_and_(other)
    def __ior__(self, other): return self.bitwise_or_(other)
    def __ixor__(self, other): return self.bitwise_xor_(other)

    # ---- arithmetic
    def add_(self, other, *, alpha=1):
        other = other if alpha == 1 else _ops.mul(other, alpha)
        return _inplace.update(self, "add_", lambda old: _ops.add(old, other))

    def sub_(self, other, *, alpha=1):
        other = other if alpha == 1 else _ops.mul(other, alpha)
        return _inplace.update(self, "sub_", lambda old: _ops.sub(old, other))

    def mul_(self, other):
        return _inplace.update(self, "mul_", lambda old: _ops.mul(old, other),
                               needs_old_values=True)

    def div_(self, other, *, rounding_mode=None):
        return _inplace.update(self, "div_", lambda old: _ops.div(
            old, other, rounding_mode=rounding_mode), needs_old_values=True)

    def addcmul_(self, tensor1, tensor2, *, value=1):
        return _inplace.update(self, "addcmul_", lambda old: _ops.addcmul(
            old, tensor1, tensor2, value=value))

    def addcdiv_(self, tensor1, tensor2, *, value=1):
        return _inplace.update(self, "addcdiv_", lambda old: _ops.addcdiv(
            old, tensor1, tensor2, value=value))

    def clamp_(self, min=None, max=None):
        return _inplace.update(self, "clamp_", lambda old: _ops.clamp(old, min, max),
                               needs_old_values=True)
    clip_ = clamp_

    def pow_(self, exponent):
        return _inplace.update(self, "pow_", lambda old: _ops.pow(old, exponent),
                               needs_old_values=True)

    def lerp_(self, end, weight):
        return _inplace.update(self, "lerp_", lambda old: _ops.lerp(old, end, weight))

    def round_(self, *, decimals=0):
        return _inplace.update(self, "round_", lambda old: _ops.round(old, decimals=decimals))

    def bitwise_and_(self, other):
        return _inplace.update(self, "bitwise_and_", lambda old: _ops.bitwise_and(old, other))

    def bitwise_or_(self, other):
        return _inplace.update(self, "bitwise_or_", lambda old: _ops.bitwise_or(old, other))

    def bitwise_xor_(self, other):
        return _inplace.update(self, "bitwise_xor_", lambda old: _ops.bitwise_xor(old, other))

    # ---- assignment
    def fill_(self, value):
        return _inplace.update(self, "fill_", lambda old: _inplace.replaced(
            old, _inplace.fill_value(value, self)))

    def zero_(self):
        return self.fill_(0)

    def copy_(self, src):
        """Copy ``src`` (broadcast, cast) into this tensor; the gradient flows to ``src``."""
        src = _inplace.as_source(src)
        return _inplace.update(self, "copy_", lambda old: _inplace.replaced(old, src))

    def scatter_(self, dim, index, src=None, *, value=None, reduce=None):
        return _inplace.update(self, "scatter_", lambda old: _ops.scatter(
            old, dim, index, src, value=value, reduce=reduce),
            needs_old_values=reduce == "multiply")

    def scatter_add_(self, dim, index, src):
        return _inplace.update(self, "scatter_add_", lambda old: _ops.scatter_add(
            old, dim, index, src))

    def index_add_(self, dim, index, source, *, alpha=1):
        return _inplace.update(self, "index_add_", lambda old: _ops.index_add(
            old, dim, index, source, alpha=alpha))

    def masked_fill_(self, mask, value):
        return _inplace.update(self, "masked_fill_", lambda old: _ops.masked_fill(
            old, mask, value))

    # ---- shape and graph, in place
    def unsqueeze_(self, dim):
        return _inplace.reshape_(self, "unsqueeze_", _ops.unsqueeze)(dim)

    def squeeze_(self, dim=None):
        return _inplace.reshape_(self, "squeeze_", _ops.squeeze)(dim)

    def t_(self):
        return _inplace.reshape_(self, "t_", _ops.t)()

    def transpose_(self, dim0, dim1):
        return _inplace.reshape_(self, "transpose_", _ops.transpose)(dim0, dim1)

    def detach_(self):
        """Detach this tensor from the graph in place: it becomes a leaf that does not
        require grad. As in PyTorch, a view of a tensor in a graph cannot be."""
        return _inplace.detach_(self)


# The in-place forms of the unary math (``t.exp_()`` is ``t.exp()`` written into ``t``):
# one method each, made from this list. Recorded like every in-place update, with a copy
# of the old values kept for the backward rules that read them.
UNARY_INPLACE = ("neg", "abs", "sign", "sgn", "sqrt", "rsqrt", "square", "reciprocal", "exp",
                 "exp2", "expm1", "log", "log2", "log10", "log1p", "sin", "cos", "tan",
                 "asin", "acos", "atan", "arcsin", "arccos", "arctan", "sinh", "cosh",
                 "tanh", "sigmoid", "relu", "erf", "erfinv", "floor", "ceil", "trunc",
                 "frac")


def _unary_inplace(name):
    def method(self):
        return _inplace.update(self, f"{name}_", getattr(_ops, name), needs_old_values=True)
    method.__name__ = f"{name}_"
    method.__doc__ = f"``{name}``, in place."
    return method


for _name in UNARY_INPLACE:
    setattr(InplaceMixin, f"{_name}_", _unary_inplace(_name))
