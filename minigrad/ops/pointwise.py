"""More elementwise math: trigonometry (and its inverses, and the hyperbolic sine and
cosine), logarithms and exponentials in other bases, rounding, the remainders and rounded
divisions, and the fused multiply-adds addcmul/addcdiv. Each differentiable function that has no exact
composite is a primitive here (``log2(x)`` as ``log(x) / log(2)`` is off in the last bit,
``log1p(x)`` as ``log(1 + x)`` loses x below 1e-16); the rounding family has PyTorch's zero
gradient. Integer inputs to the floating-point functions give float32, as in PyTorch."""
import math

import numpy as np

from minigrad import dtypes
from minigrad.autograd.graph import Primitive
from minigrad.ops._common import cast, constant, pair
from minigrad.ops._common import xp_of as _xp
from minigrad.ops.compare import lt
from minigrad.ops.elementwise import abs as absolute, add, exp, mul, neg, pow, rsqrt, sub, where
from minigrad.ops.elementwise import div as true_div

_LN2, _LN10 = math.log(2.0), math.log(10.0)


def _floating(a):
    """``a`` as a float tensor: integer and bool inputs become the default float dtype."""
    return a if a.array.dtype.kind == "f" else cast(a, dtypes.default_float)


# ---------------------------------------------------------------- unary functions

class Sin(Primitive):
    save_inputs = True

    @staticmethod
    def forward(ctx, a):
        return _xp(a).sin(a)

    @staticmethod
    def backward(ctx, g):
        return mul(g, cos(ctx.inputs[0]))


class Cos(Primitive):
    save_inputs = True

    @staticmethod
    def forward(ctx, a):
        return _xp(a).cos(a)

    @staticmethod
    def backward(ctx, g):
        return mul(g, neg(sin(ctx.inputs[0])))


class Tan(Primitive):
    """d tan x = 1 + tan^2 x, from the saved output."""
    save_output = True

    @staticmethod
    def forward(ctx, a):
        return _xp(a).tan(a)

    @staticmethod
    def backward(ctx, g):
        out = ctx.output
        return mul(g, add(mul(out, out), 1))


class Log2(Primitive):
    save_inputs = True

    @staticmethod
    def forward(ctx, a):
        return _xp(a).log2(a)

    @staticmethod
    def backward(ctx, g):
        return true_div(g, mul(ctx.inputs[0], _LN2))


class Log10(Primitive):
    save_inputs = True

    @staticmethod
    def forward(ctx, a):
        return _xp(a).log10(a)

    @staticmethod
    def backward(ctx, g):
        return true_div(g, mul(ctx.inputs[0], _LN10))


class Exp2(Primitive):
    save_output = True

    @staticmethod
    def forward(ctx, a):
        return _xp(a).exp2(a)

    @staticmethod
    def backward(ctx, g):
        return mul(g, mul(ctx.output, _LN2))


class Log1p(Primitive):
    save_inputs = True

    @staticmethod
    def forward(ctx, a):
        return _xp(a).log1p(a)

    @staticmethod
    def backward(ctx, g):
        return true_div(g, add(ctx.inputs[0], 1))


class Expm1(Primitive):
    save_output = True

    @staticmethod
    def forward(ctx, a):
        return _xp(a).expm1(a)

    @staticmethod
    def backward(ctx, g):
        return mul(g, add(ctx.output, 1))


class Atan2(Primitive):
    """atan2(a, b): d/da = b / (a^2 + b^2), d/db = -a / (a^2 + b^2), and 0 for both where
    a^2 + b^2 is 0 (at the origin, or where it underflows), as in PyTorch."""
    save_inputs = True

    @staticmethod
    def forward(ctx, a, b):
        return _xp(a).arctan2(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.inputs
        denom = add(mul(a, a), mul(b, b))
        at_zero = constant(denom.array == 0)
        recip = where(at_zero, 0, true_div(1, where(at_zero, 1, denom)))
        return (mul(mul(g, b), recip) if ctx.next[0] is not None else None,
                mul(mul(g, neg(a)), recip) if ctx.next[1] is not None else None)


class Asin(Primitive):
    """d asin x = 1 / sqrt(1 - x^2)."""
    save_inputs = True

    @staticmethod
    def forward(ctx, a):
        return _xp(a).arcsin(a)

    @staticmethod
    def backward(ctx, g):
        a = ctx.inputs[0]
        return mul(g, rsqrt(sub(1, mul(a, a))))


class Acos(Primitive):
    """d acos x = -1 / sqrt(1 - x^2)."""
    save_inputs = True

    @staticmethod
    def forward(ctx, a):
        return _xp(a).arccos(a)

    @staticmethod
    def backward(ctx, g):
        a = ctx.inputs[0]
        return mul(neg(g), rsqrt(sub(1, mul(a, a))))


class Atan(Primitive):
    """d atan x = 1 / (1 + x^2)."""
    save_inputs = True

    @staticmethod
    def forward(ctx, a):
        return _xp(a).arctan(a)

    @staticmethod
    def backward(ctx, g):
        a = ctx.inputs[0]
        return true_div(g, add(mul(a, a), 1))


class Sinh(Primitive):
    save_inputs = True

    @staticmethod
    def forward(ctx, a):
        return _xp(a).sinh(a)

    @staticmethod
    def backward(ctx, g):
        return mul(g, cosh(ctx.inputs[0]))


class Cosh(Primitive):
    save_inputs = True

    @staticmethod
    def forward(ctx, a):
        return _xp(a).cosh(a)

    @staticmethod
    def backward(ctx, g):
        return mul(g, sinh(ctx.inputs[0]))


class Erfinv(Primitive):
    """The inverse error function on (-1, 1) (+-inf at +-1, NaN outside); its derivative
    is sqrt(pi)/2 exp(erfinv(x)^2)."""
    save_output = True

    @staticmethod
    def forward(ctx, x):
        from minigrad import backend
        return backend.of(x).erfinv(x)

    @staticmethod
    def backward(ctx, g):
        out = ctx.output
        return mul(g, mul(exp(mul(out, out)), math.sqrt(math.pi) / 2))


def _unary(op):
    def fn(input):
        return op.apply(_floating(input))
    fn.__name__ = op.__name__.lower()
    fn.__doc__ = f"{fn.__name__}(input), elementwise; integer inputs give float32."
    return fn


sin, cos, tan = _unary(Sin), _unary(Cos), _unary(Tan)
log2, log10, exp2 = _unary(Log2), _unary(Log10), _unary(Exp2)
log1p, expm1 = _unary(Log1p), _unary(Expm1)
asin, acos, atan = _unary(Asin), _unary(Acos), _unary(Atan)
arcsin, arccos, arctan = asin, acos, atan
sinh, cosh = _unary(Sinh), _unary(Cosh)


def square(input):
    """``input ** 2``; integer dtypes stay integers and bool becomes int64, as in PyTorch."""
    if input.array.dtype.kind == "b":
        input = cast(input, "int64")
    return pow(input, 2)


def addcmul(input, tensor1, tensor2, *, value=1):
    """``input + value * tensor1 * tensor2`` (broadcast; dtypes promote). As in PyTorch,
    ``value`` takes the operands' dtype: integers truncate it."""
    if all(t.array.dtype.kind in "iub" for t in (input, tensor1, tensor2)):
        value = int(value)
    prod = mul(tensor1, tensor2) if value == 1 else mul(mul(tensor1, value), tensor2)
    return add(input, prod)


def addcdiv(input, tensor1, tensor2, *, value=1):
    """``input + value * tensor1 / tensor2``. As in PyTorch, integer division is refused
    (use true division of floats)."""
    if tensor1.array.dtype.kind in "iub" and tensor2.array.dtype.kind in "iub":
        raise RuntimeError("Integer division with addcdiv is no longer supported, and in a "
                           "future release addcdiv will perform a true division of tensor1 "
                           "and tensor2. The historic addcdiv behavior can be implemented as "
                           "(input + value * torch.trunc(tensor1 / tensor2)).to(input.dtype) "
                           "for integer inputs and as (input + value * tensor1 / tensor2) for "
                           "float inputs. The future addcdiv behavior is just the latter "
                           "implementation: (input + value * tensor1 / tensor2), for all "
                           "dtypes.")
    quot = true_div(tensor1, tensor2) if value == 1 else true_div(mul(tensor1, value), tensor2)
    return add(input, quot)
erfinv = _unary(Erfinv)


def lerp(input, end, weight):
    """``input + weight * (end - input)``, written as PyTorch computes it: from ``end``
    when ``weight >= 0.5`` (``end - (end - input) * (1 - weight)``), so ``weight=1`` gives
    ``end`` exactly. ``end`` and a tensor ``weight`` must have ``input``'s floating dtype."""
    from minigrad.tensor import Tensor
    for name, t in (("end", end), ("weight", weight)):
        if isinstance(t, Tensor) and t.array.dtype != input.array.dtype:
            raise RuntimeError(f"lerp: expected dtype {dtypes.c_name(input.array.dtype)} "
                               f"for `{name}` but got dtype {dtypes.c_name(t.array.dtype)}")
    if input.array.dtype.kind != "f":
        raise RuntimeError(f"lerp: not implemented for "
                           f"'{dtypes.scalar_name(input.array.dtype)}' (floating dtypes only)")
    diff = sub(end, input)
    if not isinstance(weight, Tensor):
        weight = float(weight)
        return (add(input, mul(diff, weight)) if abs(weight) < 0.5 else
                sub(end, mul(diff, 1.0 - weight)))
    low = add(input, mul(diff, weight))
    high = sub(end, mul(diff, sub(1.0, weight)))
    return where(lt(absolute(weight), 0.5), low, high)


def atan2(input, other):
    a, b = pair(input, other)
    return Atan2.apply(_floating(a), _floating(b))


# ---------------------------------------------------------------- rounding

class Rounding(Primitive):
    """round/floor/ceil/trunc of a float tensor: piecewise constant, so the gradient is 0
    everywhere (PyTorch's convention, steps included). round halves to even, as PyTorch."""
    op_name = "rounding"

    @staticmethod
    def forward(ctx, a, how, decimals=0):
        xp = _xp(a)
        if how == "round":
            return xp.round(a, decimals)
        return getattr(xp, how)(a)

    @staticmethod
    def backward(ctx, g):
        return constant(_xp(g.array).zeros_like(g.array))


def _rounding(how):
    def fn(input):
        if input.array.dtype.kind != "f":  # integers are already whole: a copy, as in PyTorch
            return constant(input.array.copy())
        return Rounding.apply(input, how=how)
    fn.__name__ = how
    return fn


floor, ceil, trunc = _rounding("floor"), _rounding("ceil"), _rounding("trunc")


def frac(input):
    """input - trunc(input) (the fractional part, with the input's sign); gradient 1."""
    return sub(input, trunc(input))


def reciprocal(input):
    """1 / input; an integer tensor gives the default float dtype, as in PyTorch."""
    return true_div(1, input)


def round(input, *, decimals=0):
    if input.array.dtype.kind != "f":
        if decimals:
            raise NotImplementedError("round: decimals for an integer tensor is not supported")
        return constant(input.array.copy())
    return Rounding.apply(input, how="round", decimals=int(decimals))


# ---------------------------------------------------------------- remainders and rounded division

def _check_integer_divisor(op, a, b):
    if b.dtype.kind in "iub" and a.dtype.kind in "iub" and not b.all():
        raise RuntimeError(f"{op}: integer division by zero (ZeroDivisionError)")


class Remainder(Primitive):
    """fmod (``trunc=True``: the sign of the dividend, C's fmod) or remainder (the sign of
    the divisor, Python's %): a - q * b with q = trunc(a / b) or floor(a / b). The gradient
    is 1 for a and -q for b (q is piecewise constant), as in PyTorch."""
    op_name = "fmod/remainder"
    save_inputs = True

    @staticmethod
    def forward(ctx, a, b, trunc=False):
        op = "fmod" if trunc else "remainder"
        _check_integer_divisor(op, a, b)
        xp = _xp(a)
        ctx.trunc = trunc
        with np.errstate(invalid="ignore", divide="ignore"):
            return xp.fmod(a, b) if trunc else xp.remainder(a, b)

    @staticmethod
    def backward(ctx, g):
        gb = None
        if ctx.next[1] is not None:
            a, b = ctx.inputs
            q = _rounded_quotient(a.array, b.array, "trunc" if ctx.trunc else "floor")
            gb = mul(g, constant(-q))
        return g, gb


def _rounded_quotient(a, b, rounding_mode):
    xp = _xp(a)
    if a.dtype.kind in "iub" and b.dtype.kind in "iub":
        q = xp.floor_divide(a, b)
        if rounding_mode == "trunc":  # floor rounds a negative inexact quotient one too low
            q = q + ((xp.remainder(a, b) != 0) & ((a < 0) != (b < 0)))
        return q
    with np.errstate(invalid="ignore", divide="ignore"):
        # floor_divide is CPython's (and PyTorch's) floor division: exact for a = q * b + r
        return xp.trunc(a / b) if rounding_mode == "trunc" else xp.floor_divide(a, b)


class RoundedDiv(Primitive):
    """a / b rounded toward zero ("trunc") or down ("floor"); zero gradient for both
    inputs, as in PyTorch."""
    op_name = "div"

    @staticmethod
    def forward(ctx, a, b, rounding_mode):
        _check_integer_divisor("div", a, b)
        return _rounded_quotient(a, b, rounding_mode)

    @staticmethod
    def backward(ctx, g):
        zeros = constant(_xp(g.array).zeros_like(g.array))
        return zeros, zeros


def fmod(input, other):
    return Remainder.apply(*pair(input, other), trunc=True)


def remainder(input, other):
    return Remainder.apply(*pair(input, other))


def div(input, other, *, rounding_mode=None):
    """True division (integers give float32), or with ``rounding_mode`` "trunc" / "floor"
    the rounded quotient in the operands' promoted dtype (integers stay integers)."""
    if rounding_mode is None:
        return true_div(input, other)
    if rounding_mode not in ("trunc", "floor"):
        raise ValueError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' "
                         f"but found '{rounding_mode}'")
    return RoundedDiv.apply(*pair(input, other), rounding_mode=rounding_mode)


def floor_divide(input, other):
    return div(input, other, rounding_mode="floor")

