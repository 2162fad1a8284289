"""Arithmetic primitives: + - * / and negation, absolute value, sign, maximum/minimum,
where, clamp and relu, casts, the fused multiply-adds (addcmul, addcdiv, lerp), rounding,
and the remainders and rounded divisions (PyTorch's ``div(rounding_mode=)``, ``fmod``,
``remainder``). Forward on arrays through the backend's ``xp``; backward in tensor ops, so
every rule here is itself differentiable (a plain backward may use a rule's array form,
``backward_arrays``). Broadcasting needs no care in backward: the engine sums each gradient
back to its input's shape. The rounding family has PyTorch's zero gradient."""
import numbers

import numpy

import numpy as np

from minigrad import backend, dtypes
from minigrad.autograd.graph import Primitive
from minigrad.errors import InvalidArgument, InvalidDtype
from minigrad.ops._common import as_tensor, cast, constant, pair, xp_of as _xp
from minigrad.ops.compare import lt
from minigrad.tensor import Tensor


# ---------------------------------------------------------------- binary and unary arithmetic

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

    @staticmethod
    def backward_arrays(ctx, g):
        return g, (-g if ctx.next[1] is not None else None)


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

    @staticmethod
    def backward_arrays(ctx, g):   # (the same products, without two recorded-op calls)
        a, b = ctx.inputs
        return (g * b.array if ctx.next[0] is not None else None,
                g * a.array if ctx.next[1] is not None else None)


class Div(Primitive):
    save_inputs = True

    @staticmethod
    def forward(ctx, a, b):
        return a / b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.inputs
        ga = true_divide(g, b)
        return ga, (neg(true_divide(mul(ga, a), b)) if ctx.next[1] is not None else None)

    @staticmethod
    def backward_arrays(ctx, g):
        a, b = ctx.inputs
        ga = g / b.array
        return ga, (-((ga * a.array) / b.array) if ctx.next[1] is not None else None)


# A float tensor and a Python float (x * 0.5, x + 1e-3, x / 255.0): the number stays an
# attribute of a one-input node rather than becoming a constant 0-d tensor, an edge and a
# saved input. NumPy computes ``a * s`` as ``a * asarray(s, a.dtype)`` (a Python float is
# "weak" in its promotion, as in PyTorch's), so the bits are those of the tensor form. The
# nodes are named as PyTorch names them (MulBackward0 is x * 2.0's too), and, as in
# PyTorch, x * 2.0 does not keep x: changing x in place afterwards is no error.

class AddScalar(Primitive):
    op_name, backward_name = "add", "AddBackward"

    @staticmethod
    def forward(ctx, a, scalar):
        return a + scalar

    @staticmethod
    def backward(ctx, g):
        return g


class SubScalar(AddScalar):   # (the same gradient)
    op_name, backward_name = "sub", "SubBackward"

    @staticmethod
    def forward(ctx, a, scalar):
        return a - scalar


class MulScalar(Primitive):
    op_name, backward_name = "mul", "MulBackward"

    @staticmethod
    def forward(ctx, a, scalar):
        ctx.scalar = scalar
        return a * scalar

    @staticmethod
    def backward(ctx, g):
        return mul(g, ctx.scalar)

    @staticmethod
    def backward_arrays(ctx, g):
        return g * ctx.scalar


class DivScalar(Primitive):
    op_name, backward_name = "div", "DivBackward"

    @staticmethod
    def forward(ctx, a, scalar):
        ctx.scalar = scalar
        return a / scalar

    @staticmethod
    def backward(ctx, g):
        return true_divide(g, ctx.scalar)

    @staticmethod
    def backward_arrays(ctx, g):
        return g / ctx.scalar


def _float_tensor(a):
    """True for a floating point tensor (the scalar ops' other operand)."""
    if not isinstance(a, Tensor):
        return False
    arr = a.array
    if type(arr) is not np.ndarray:
        backend.of(arr)   # (every op's first step: an uninitialized parameter raises here)
    return arr.dtype.kind == "f"


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


class Neg(Primitive):
    @staticmethod
    def forward(ctx, a):
        return -a

    @staticmethod
    def backward(ctx, g):
        return neg(g)

    @staticmethod
    def backward_arrays(ctx, g):
        return -g


class Abs(Primitive):
    save_inputs = True

    @staticmethod
    def forward(ctx, a):
        return _xp(a).abs(a)

    @staticmethod
    def backward(ctx, g):
        return mul(g, sign(ctx.inputs[0]))


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
    if type(b) is float and _float_tensor(a):
        return AddScalar.apply(a, scalar=b)
    if type(a) is float and _float_tensor(b):
        return AddScalar.apply(b, scalar=a)
    return Add.apply(*pair(a, b))


def sub(a, b):
    if type(b) is float and _float_tensor(a):
        return SubScalar.apply(a, scalar=b)
    return Sub.apply(*pair(a, b))


def mul(a, b):
    if type(b) is float and _float_tensor(a):
        return MulScalar.apply(a, scalar=b)
    if type(a) is float and _float_tensor(b):
        return MulScalar.apply(b, scalar=a)
    return Mul.apply(*pair(a, b))


def true_divide(a, b):
    """a / b; integers divide as floats (true division, as in PyTorch)."""
    if type(b) is float and _float_tensor(a):
        return DivScalar.apply(a, scalar=b)
    a, b = pair(a, b)
    if a.array.dtype.kind != "f" and b.array.dtype.kind != "f":  # true division, as in PyTorch
        a, b = cast(a, dtypes.default_float), cast(b, dtypes.default_float)
    return Div.apply(a, b)


neg, abs, relu = Neg.apply, Abs.apply, Relu.apply


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


# ---------------------------------------------------------------- fused multiply-adds

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
    quot = true_divide(tensor1, tensor2) if value == 1 else true_divide(mul(tensor1, value), tensor2)
    return add(input, quot)


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
        return (add(input, mul(diff, weight)) if -0.5 < weight < 0.5 else
                sub(end, mul(diff, 1.0 - weight)))
    low = add(input, mul(diff, weight))
    high = sub(end, mul(diff, sub(1.0, weight)))
    return where(lt(abs(weight), 0.5), low, high)


# ---------------------------------------------------------------- rounding, remainders and rounded division

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
    return true_divide(1, input)


def round(input, *, decimals=0):
    if input.array.dtype.kind != "f":
        if decimals:
            raise NotImplementedError("round: decimals for an integer tensor is not supported")
        return constant(input.array.copy())
    return Rounding.apply(input, how="round", decimals=int(decimals))


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
        return true_divide(input, other)
    if rounding_mode not in ("trunc", "floor"):
        raise ValueError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' "
                         f"but found '{rounding_mode}'")
    return RoundedDiv.apply(*pair(input, other), rounding_mode=rounding_mode)


def floor_divide(input, other):
    return div(input, other, rounding_mode="floor")
