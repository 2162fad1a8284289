"""Transcendental primitives: powers, exponentials and logarithms (in every base, and the
exact ``log1p``/``expm1``), square roots, erf and its inverse, tanh and the sigmoid, and
trigonometry (its inverses, ``atan2``, the hyperbolic sine and cosine). Each differentiable
function that has no exact composite is a primitive here (``log2(x)`` as ``log(x) / log(2)``
is off in the last bit, ``log1p(x)`` as ``log(1 + x)`` loses x below 1e-16). Integer
inputs to the floating-point functions give float32, as in PyTorch. Their rules are
written with the arithmetic of ``ops/arithmetic.py``."""
import math
import numbers

import numpy

import numpy as np

from minigrad import backend, dtypes
from minigrad.autograd.graph import Primitive
from minigrad.errors import InvalidArgument
from minigrad.ops._common import cast, constant, pair, xp_of as _xp
from minigrad.ops.arithmetic import add, mul, neg, sub, true_divide, where
from minigrad.tensor import Tensor


# ---------------------------------------------------------------- powers

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


def square(input):
    """``input ** 2``; integer dtypes stay integers and bool becomes int64, as in PyTorch."""
    if input.array.dtype.kind == "b":
        input = cast(input, "int64")
    return pow(input, 2)


# ---------------------------------------------------------------- exponentials, logarithms, roots, erf, tanh, sigmoid

def _float(a):
    """The transcendental functions of an integer or bool array are in the default float
    dtype, as in PyTorch (NumPy would give float64). Such an input never requires grad."""
    return a if a.dtype.kind == "f" else a.astype(dtypes.default_float.np)


def _elementary(name, numpy_name, saves, rule, doc=None):
    """A unary primitive from one table row: forward the backend's ``numpy_name`` function
    (of an integer or bool array in the default float dtype), backward ``rule(g, v)`` in
    differentiable ops, v the saved input (``saves="input"``) or output ("output")."""
    if saves == "input":
        def backward(ctx, g):
            return rule(g, ctx.inputs[0])
    else:
        def backward(ctx, g):
            return rule(g, ctx.output)

    def forward(ctx, a):
        return getattr(_xp(a), numpy_name)(_float(a))
    return type(name, (Primitive,), {
        "__doc__": doc, "__module__": __name__, "save_inputs": saves == "input",
        "save_output": saves == "output", "forward": staticmethod(forward),
        "backward": staticmethod(backward)})


# (the rows of the trigonometric and other-base functions are further down)
Exp = _elementary("Exp", "exp", "output", lambda g, y: mul(g, y))
Log = _elementary("Log", "log", "input", lambda g, x: true_divide(g, x))
Sqrt = _elementary("Sqrt", "sqrt", "output", lambda g, y: true_divide(g, mul(y, 2)))


class Rsqrt(Primitive):
    """1 / sqrt(a + eps); ``eps`` (0 for ``torch.rsqrt``) is how the normalization layers
    write 1 / sqrt(sigma^2 + eps) as one node: d/da is -(a + eps)^(-3/2) / 2 = -out^3 / 2
    either way."""
    save_output = True

    @staticmethod
    def forward(ctx, a, eps=0.0):
        xp = _xp(a)
        a = _float(a)
        return xp.reciprocal(xp.sqrt(a + a.dtype.type(eps) if eps else a))

    @staticmethod
    def backward(ctx, g):
        out = ctx.output
        return mul(g, mul(pow(out, 3), -0.5))

    @staticmethod
    def backward_arrays(ctx, g):
        o = ctx.output.array
        return g * (o ** 3 * -0.5)


class RsqrtEps(Primitive):
    """w / sqrt(a + eps), as ``w * rsqrt(a + eps)`` computes it (the same rounding): the
    per-channel scale gamma / sigma of a batch norm as one node instead of two."""
    op_name = "rsqrt_eps"
    save_inputs = True

    @staticmethod
    def forward(ctx, a, w, eps=0.0):
        xp = _xp(a)
        r = xp.reciprocal(xp.sqrt(a + a.dtype.type(eps) if eps else a))
        ctx.r, ctx.eps = r, eps
        return r * w

    @staticmethod
    def backward(ctx, g):
        a, w = ctx.inputs
        r = rsqrt_eps(a, ctx.eps)       # (recomputed in tensor ops: differentiable)
        return (mul(mul(g, w), mul(pow(r, 3), -0.5)) if ctx.next[0] is not None else None,
                mul(g, r) if ctx.next[1] is not None else None)

    @staticmethod
    def backward_arrays(ctx, g):
        r, w = ctx.r, ctx.inputs[1].array
        return ((g * w) * (r ** 3 * -0.5) if ctx.next[0] is not None else None,
                g * r if ctx.next[1] is not None else None)


class Erf(Primitive):
    save_inputs = True

    @staticmethod
    def forward(ctx, a):
        return backend.of(a).erf(_float(a))

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.inputs
        return mul(g, mul(exp(neg(mul(a, a))), 2 / math.sqrt(math.pi)))


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


exp, log, sqrt, rsqrt = Exp.apply, Log.apply, Sqrt.apply, Rsqrt.apply
tanh, sigmoid, erf = Tanh.apply, Sigmoid.apply, Erf.apply


def rsqrt_eps(a, eps, weight=None):
    """``rsqrt(a + eps)`` as one recorded op (the normalization layers' 1 / sigma), times
    ``weight`` when given (gamma / sigma, still one op)."""
    if weight is None:
        return Rsqrt.apply(a, eps=eps)
    if weight.array.dtype != a.array.dtype or a.array.dtype.kind != "f":
        raise InvalidArgument(f"rsqrt_eps: the variance is {a.dtype!r} and the weight "
                              f"{weight.dtype!r}; expected one floating point dtype")
    return RsqrtEps.apply(a, weight, eps=eps)


# ---------------------------------------------------------------- trigonometry, other bases, erfinv

_LN2, _LN10 = math.log(2.0), math.log(10.0)


def _floating(a):
    """``a`` as a float tensor: integer and bool inputs become the default float dtype."""
    return a if a.array.dtype.kind == "f" else cast(a, dtypes.default_float)


# The elementary functions, one row each: (class, NumPy's name, what the rule reads, the
# rule from the upstream gradient g and the saved input x or output y)
Sin = _elementary("Sin", "sin", "input", lambda g, x: mul(g, cos(x)))
Cos = _elementary("Cos", "cos", "input", lambda g, x: mul(g, neg(sin(x))))
Tan = _elementary("Tan", "tan", "output", lambda g, y: mul(g, add(mul(y, y), 1)),
                  "d tan x = 1 + tan^2 x, from the saved output.")
Log2 = _elementary("Log2", "log2", "input", lambda g, x: true_divide(g, mul(x, _LN2)))
Log10 = _elementary("Log10", "log10", "input", lambda g, x: true_divide(g, mul(x, _LN10)))
Exp2 = _elementary("Exp2", "exp2", "output", lambda g, y: mul(g, mul(y, _LN2)))
Log1p = _elementary("Log1p", "log1p", "input", lambda g, x: true_divide(g, add(x, 1)))
Expm1 = _elementary("Expm1", "expm1", "output", lambda g, y: mul(g, add(y, 1)))
Asin = _elementary("Asin", "arcsin", "input", lambda g, x: mul(g, rsqrt(sub(1, mul(x, x)))),
                   "d asin x = 1 / sqrt(1 - x^2).")
Acos = _elementary("Acos", "arccos", "input",
                   lambda g, x: mul(neg(g), rsqrt(sub(1, mul(x, x)))),
                   "d acos x = -1 / sqrt(1 - x^2).")
Atan = _elementary("Atan", "arctan", "input", lambda g, x: true_divide(g, add(mul(x, x), 1)),
                   "d atan x = 1 / (1 + x^2).")
Sinh = _elementary("Sinh", "sinh", "input", lambda g, x: mul(g, cosh(x)))
Cosh = _elementary("Cosh", "cosh", "input", lambda g, x: mul(g, sinh(x)))


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
        recip = where(at_zero, 0, true_divide(1, where(at_zero, 1, denom)))
        return (mul(mul(g, b), recip) if ctx.next[0] is not None else None,
                mul(mul(g, neg(a)), recip) if ctx.next[1] is not None else None)


class Erfinv(Primitive):
    """The inverse error function on (-1, 1) (+-inf at +-1, NaN outside); its derivative
    is sqrt(pi)/2 exp(erfinv(x)^2)."""
    save_output = True

    @staticmethod
    def forward(ctx, x):
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


erfinv = _unary(Erfinv)


def atan2(input, other):
    a, b = pair(input, other)
    return Atan2.apply(_floating(a), _floating(b))
