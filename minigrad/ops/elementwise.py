"""Elementwise primitives. Forward on arrays through the backend's ``xp``; backward in
tensor ops, so every rule here is itself differentiable. Broadcasting needs no care in
backward: the engine sums each gradient back to its input's shape."""
import math
import numbers

import numpy as np

from minigrad import backend, dtypes
from minigrad.autograd.graph import Primitive
from minigrad.errors import InvalidArgument, InvalidDtype
from minigrad.ops._common import as_tensor, cast, constant, pair
from minigrad.ops._common import xp_of as _xp
from minigrad.tensor import Tensor

# ---------------------------------------------------------------- binary

class Add(Primitive):
    @staticmethod
    def forward(ctx, a, b):
        return backend.of(a).add(a, b)

    @staticmethod
    def backward(ctx, g):
        return g, g


class Sub(Primitive):
    @staticmethod
    def forward(ctx, a, b):
        return a - b

    @staticmethod
    def backward(ctx, g):
        return g, (neg(g) if ctx.next[1] is not None else None)


class Mul(Primitive):
    save_inputs = True

    @staticmethod
    def forward(ctx, a, b):
        return a * b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.inputs
        return (mul(g, b) if ctx.next[0] is not None else None,
                mul(g, a) if ctx.next[1] is not None else None)


class Div(Primitive):
    save_inputs = True

    @staticmethod
    def forward(ctx, a, b):
        return a / b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.inputs
        ga = div(g, b)
        return ga, (neg(div(mul(ga, a), b)) if ctx.next[1] is not None else None)


class Pow(Primitive):
    """Tensor exponent, with PyTorch's conventions where the calculus has none:
    d/da a^b = b a^(b-1) is 0 where b == 0 (0^0 included), and d/db a^b = a^b log a is 0
    where a == 0 and b >= 0."""
    save_inputs = True
    save_output = True

    @staticmethod
    def forward(ctx, a, b):
        if a.dtype.kind in "iu" and b.dtype.kind in "iu":
            return _integer_pow(a, b)
        return a ** b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.inputs
        ga = gb = None
        if ctx.next[0] is not None:
            zero_exponent = constant(b.array == 0)
            ga = mul(g, where(zero_exponent, 0, mul(b, pow(a, sub(b, 1)))))
        if ctx.next[1] is not None:
            zero_base = constant((a.array == 0) & (b.array >= 0))
            safe_a = where(zero_base, 1, a)
            gb = mul(g, where(zero_base, 0, mul(ctx.output, log(safe_a))))
        return ga, gb


def _integer_pow(a, b):
    """PyTorch's integer power: a negative exponent gives the truncated 1 / a**|b|, i.e.
    1 for a == 1, +-1 for a == -1, else 0 (NumPy refuses negative integer powers)."""
    xp = _xp(a)
    a, b = xp.broadcast_arrays(a, b)
    negative = b < 0
    out = a ** xp.where(negative, 0, b)
    if negative.any():
        odd = (b % 2) != 0
        small = xp.where(a == 1, 1, xp.where(a == -1, xp.where(odd, -1, 1), 0))
        out = xp.where(negative, small.astype(out.dtype), out)
    return out


class PowScalar(Primitive):
    op_name = "pow"
    save_inputs = True

    @staticmethod
    def forward(ctx, a, exponent):
        ctx.exponent = exponent
        return a ** exponent

    @staticmethod
    def backward(ctx, g):
        p = ctx.exponent
        if p == 0:
            return mul(g, 0)
        (a,) = ctx.inputs
        return mul(g, mul(pow(a, p - 1), p))


class Maximum(Primitive):
    """maximum/minimum, with PyTorch's gradient rule: an input that lost the comparison
    gets 0 (even from a NaN gradient), the other the gradient, halved on ties. Where either
    input is NaN neither lost, so both get the whole gradient."""
    op_name = "maximum/minimum"

    @staticmethod
    def forward(ctx, a, b, take_min=False):
        xp = _xp(a)
        out = xp.minimum(a, b) if take_min else xp.maximum(a, b)
        ctx.a_loses, ctx.b_loses = (a > b, a < b) if take_min else (a < b, a > b)
        ties = a == b
        ctx.tie_scale = (1 - ties * out.dtype.type(0.5)).astype(out.dtype) \
            if ties.any() else None
        return out

    @staticmethod
    def backward(ctx, g):
        if ctx.tie_scale is not None:
            g = mul(g, constant(ctx.tie_scale))
        return (where(constant(ctx.a_loses), 0, g) if ctx.next[0] is not None else None,
                where(constant(ctx.b_loses), 0, g) if ctx.next[1] is not None else None)


class Where(Primitive):
    @staticmethod
    def forward(ctx, cond, a, b):
        ctx.cond = cond
        return _xp(a).where(cond, a, b)

    @staticmethod
    def backward(ctx, g):
        c = constant(ctx.cond)
        return (None,
                where(c, g, 0) if ctx.next[1] is not None else None,
                where(c, 0, g) if ctx.next[2] is not None else None)


# ---------------------------------------------------------------- unary

class Neg(Primitive):
    @staticmethod
    def forward(ctx, a):
        return -a

    @staticmethod
    def backward(ctx, g):
        return neg(g)


def _float(a):
    """The transcendental functions of an integer or bool array are in the default float
    dtype, as in PyTorch (NumPy would give float64). Such an input never requires grad."""
    return a if a.dtype.kind == "f" else a.astype(dtypes.default_float.np)


class Exp(Primitive):
    save_output = True

    @staticmethod
    def forward(ctx, a):
        return _xp(a).exp(_float(a))

    @staticmethod
    def backward(ctx, g):
        return mul(g, ctx.output)


class Log(Primitive):
    save_inputs = True

    @staticmethod
    def forward(ctx, a):
        return _xp(a).log(_float(a))

    @staticmethod
    def backward(ctx, g):
        return div(g, ctx.inputs[0])


class Sqrt(Primitive):
    save_output = True

    @staticmethod
    def forward(ctx, a):
        return _xp(a).sqrt(_float(a))

    @staticmethod
    def backward(ctx, g):
        return div(g, mul(ctx.output, 2))


class Rsqrt(Primitive):
    save_output = True

    @staticmethod
    def forward(ctx, a):
        xp = _xp(a)
        return xp.reciprocal(xp.sqrt(_float(a)))

    @staticmethod
    def backward(ctx, g):
        out = ctx.output
        return mul(g, mul(pow(out, 3), -0.5))


class Erf(Primitive):
    save_inputs = True

    @staticmethod
    def forward(ctx, a):
        return backend.of(a).erf(_float(a))

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.inputs
        return mul(g, mul(exp(neg(mul(a, a))), 2 / math.sqrt(math.pi)))


class Abs(Primitive):
    save_inputs = True

    @staticmethod
    def forward(ctx, a):
        return _xp(a).abs(a)

    @staticmethod
    def backward(ctx, g):
        return mul(g, sign(ctx.inputs[0]))


class Tanh(Primitive):
    save_output = True

    @staticmethod
    def forward(ctx, a):
        return _xp(a).tanh(_float(a))

    @staticmethod
    def backward(ctx, g):
        out = ctx.output
        return mul(g, sub(1, mul(out, out)))

    @staticmethod
    def backward_arrays(ctx, g):
        o = ctx.output.array
        return g * (1 - o * o)


class Sigmoid(Primitive):
    save_output = True

    @staticmethod
    def forward(ctx, a):
        xp = _xp(a)
        a = _float(a)
        # 1 / (1 + exp(-a)) in place: where exp overflows, 1 / inf = 0 is the right answer
        out = xp.negative(a, out=xp.empty_like(a))  # (out=: a 0-d input stays an array)
        with np.errstate(over="ignore"):
            xp.exp(out, out=out)
        out += 1
        return xp.reciprocal(out, out=out)

    @staticmethod
    def backward(ctx, g):
        out = ctx.output
        return mul(g, mul(out, sub(1, out)))

    @staticmethod
    def backward_arrays(ctx, g):
        o = ctx.output.array
        return g * (o * (1 - o))


class Relu(Primitive):
    """The gradient is 0 where the output is <= 0 (even a NaN gradient), and passes
    elsewhere, a NaN output included: PyTorch's threshold rule."""
    save_output = True

    @staticmethod
    def forward(ctx, a):
        return backend.of(a).relu(a)

    @staticmethod
    def backward(ctx, g):
        return where(constant(ctx.output.array <= 0), 0, g)

    @staticmethod
    def backward_arrays(ctx, g):
        return backend.of(g).relu_backward(g, ctx.output.array)


class Clamp(Primitive):
    """The gradient passes where min <= x <= max (both ends included, as in PyTorch)."""

    @staticmethod
    def forward(ctx, a, min=None, max=None):
        xp = _xp(a)
        mask = None
        if min is not None:
            mask = a >= min
        if max is not None:
            mask = (a <= max) if mask is None else mask & (a <= max)
        ctx.mask = mask
        return xp.clip(a, min, max)

    @staticmethod
    def backward(ctx, g):
        return where(constant(ctx.mask), g, 0)


class Cast(Primitive):
    @staticmethod
    def forward(ctx, a, dtype):
        return a.astype(dtype)

    @staticmethod
    def backward(ctx, g):
        return g  # the engine casts it back to the input's dtype


# ---------------------------------------------------------------- functions

def add(a, b):
    return Add.apply(*pair(a, b))


def sub(a, b):
    return Sub.apply(*pair(a, b))


def mul(a, b):
    return Mul.apply(*pair(a, b))


def div(a, b):
    a, b = pair(a, b)
    if a.array.dtype.kind != "f" and b.array.dtype.kind != "f":  # true division, as in PyTorch
        a, b = cast(a, dtypes.default_float), cast(b, dtypes.default_float)
    return Div.apply(a, b)


def pow(a, exponent):
    if isinstance(a, Tensor) and isinstance(exponent, numbers.Number) \
            and not isinstance(exponent, bool):
        if a.array.dtype.kind in "iub":
            if not isinstance(exponent, numbers.Integral):  # int ** 0.5: the default float
                a = cast(a, dtypes.default_float.np)
            elif exponent < 0:
                raise InvalidArgument("pow: Integers to negative integer powers are not "
                                      "allowed.")
        return PowScalar.apply(a, exponent=exponent)
    return Pow.apply(*pair(a, exponent))


# unary primitives need no conversion of their argument: the functions are their apply
neg, exp, log, sqrt, rsqrt = Neg.apply, Exp.apply, Log.apply, Sqrt.apply, Rsqrt.apply
abs, tanh, sigmoid, relu, erf = Abs.apply, Tanh.apply, Sigmoid.apply, Relu.apply, Erf.apply


class Sign(Primitive):
    """sign, with sign(NaN) = 0 as in PyTorch (so abs passes no gradient through a NaN).
    Its gradient is 0 (everywhere but the jump at 0, where PyTorch also says 0)."""

    @staticmethod
    def forward(ctx, a):
        xp = _xp(a)
        if a.dtype.kind == "b":           # (PyTorch: a bool's sign is itself)
            return a.copy()
        s = xp.sign(a)
        return xp.where(s != s, s.dtype.type(0), s) if s.dtype.kind == "f" else s

    @staticmethod
    def backward(ctx, g):
        return constant(_xp(g.array).zeros_like(g.array))


def sign(a):
    return Sign.apply(a)


sgn = sign   # (torch.sgn: sign, extended to complex numbers, which minigrad does not have)


def clamp(a, min=None, max=None):
    if min is None and max is None:
        raise InvalidArgument("clamp: at least one of min and max must be given")
    if a.array.dtype.kind in "iub" and any(isinstance(v, float) for v in (min, max)):
        a = cast(a, dtypes.default_float)        # an integer tensor meets a float bound
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        out = a
        if min is not None:
            out = maximum(out, min)
        if max is not None:
            out = minimum(out, max)
        return out
    return Clamp.apply(a, min=min, max=max)


def maximum(a, b):
    return Maximum.apply(*pair(a, b))


def minimum(a, b):
    return Maximum.apply(*pair(a, b), take_min=True)


def where(cond, a=None, b=None):
    """``a`` where ``cond`` is True, else ``b`` (broadcast; tensors or numbers, two numbers
    giving the default float dtype, int64 or bool as in PyTorch). ``where(cond)`` alone is
    ``nonzero(cond, as_tuple=True)``."""
    if a is None and b is None:
        from minigrad.ops.search import nonzero
        return nonzero(as_tensor(cond), as_tuple=True)
    cond = as_tensor(cond)
    if cond.array.dtype.kind != "b":
        raise InvalidDtype(f"where: condition must be a bool tensor, got {cond.dtype!r}")
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        if not all(isinstance(v, numbers.Number) for v in (a, b)):
            raise InvalidDtype(f"where: expected tensors or numbers as the values, got "
                               f"{type(a).__name__} and {type(b).__name__}")
        kinds = {type(v) for v in (a, b)}
        dt = (dtypes.default_float.np if any(issubclass(k, float) for k in kinds) else
              np.dtype(np.bool_) if kinds == {bool} else np.dtype(np.int64))
        xp = _xp(cond.array)
        a, b = Tensor._make(xp.asarray(a, dtype=dt)), Tensor._make(xp.asarray(b, dtype=dt))
    a, b = pair(a, b)
    return Where.apply(cond, a, b)
