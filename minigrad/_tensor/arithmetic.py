"""Arithmetic and elementwise math: operators, unary functions, comparisons, bitwise and
the floating-point classification tests (isnan, isinf, isfinite)."""

_ops = _inplace = None   # bound by minigrad.tensor (see minigrad._tensor)


class ArithmeticMixin:
    __slots__ = ()

    # ---- operators
    def __add__(self, other): return _ops.add(self, other)
    def __radd__(self, other): return _ops.add(other, self)
    def __sub__(self, other): return _ops.sub(self, other)
    def __rsub__(self, other): return _ops.sub(other, self)
    def __mul__(self, other): return _ops.mul(self, other)
    def __rmul__(self, other): return _ops.mul(other, self)
    def __truediv__(self, other): return _ops.div(self, other)
    def __rtruediv__(self, other): return _ops.div(other, self)
    def __floordiv__(self, other): return _ops.floor_divide(self, other)
    def __rfloordiv__(self, other): return _ops.floor_divide(other, self)
    def __mod__(self, other): return _ops.remainder(self, other)
    def __rmod__(self, other): return _ops.remainder(other, self)
    def __pow__(self, other): return _ops.pow(self, other)
    def __rpow__(self, other): return _ops.pow(other, self)
    def __matmul__(self, other): return _ops.matmul(self, other)
    def __rmatmul__(self, other): return _ops.matmul(other, self)
    def __neg__(self): return _ops.neg(self)
    def __pos__(self): return self
    def __abs__(self): return _ops.abs(self)

    def __eq__(self, other): return _ops.eq(self, other)
    def __ne__(self, other): return _ops.ne(self, other)
    def __lt__(self, other): return _ops.lt(self, other)
    def __le__(self, other): return _ops.le(self, other)
    def __gt__(self, other): return _ops.gt(self, other)
    def __ge__(self, other): return _ops.ge(self, other)

    def __invert__(self): return _ops.bitwise_not(self)
    def __and__(self, other): return _ops.bitwise_and(self, other)
    def __rand__(self, other): return _ops.bitwise_and(other, self)
    def __or__(self, other): return _ops.bitwise_or(self, other)
    def __ror__(self, other): return _ops.bitwise_or(other, self)
    def __xor__(self, other): return _ops.bitwise_xor(self, other)
    def __rxor__(self, other): return _ops.bitwise_xor(other, self)

    # ---- binary
    def add(self, other, *, alpha=1):
        return _ops.add(self, other if alpha == 1 else _ops.mul(other, alpha))
    def sub(self, other, *, alpha=1):
        return _ops.sub(self, other if alpha == 1 else _ops.mul(other, alpha))
    def mul(self, other): return _ops.mul(self, other)
    def div(self, other, *, rounding_mode=None):
        return _ops.div(self, other, rounding_mode=rounding_mode)
    def pow(self, exponent): return _ops.pow(self, exponent)
    def lerp(self, end, weight): return _ops.lerp(self, end, weight)
    def maximum(self, other): return _ops.maximum(self, other)
    def minimum(self, other): return _ops.minimum(self, other)
    def atan2(self, other): return _ops.atan2(self, other)
    def fmod(self, other): return _ops.fmod(self, other)
    def remainder(self, other): return _ops.remainder(self, other)
    def floor_divide(self, other): return _ops.floor_divide(self, other)
    def addcmul(self, tensor1, tensor2, *, value=1):
        return _ops.addcmul(self, tensor1, tensor2, value=value)
    def addcdiv(self, tensor1, tensor2, *, value=1):
        return _ops.addcdiv(self, tensor1, tensor2, value=value)

    # ---- unary
    def neg(self): return _ops.neg(self)
    def exp(self): return _ops.exp(self)
    def log(self): return _ops.log(self)
    def sqrt(self): return _ops.sqrt(self)
    def rsqrt(self): return _ops.rsqrt(self)
    def square(self): return _ops.square(self)
    def abs(self): return _ops.abs(self)
    def sign(self): return _ops.sign(self)
    def sgn(self): return _ops.sgn(self)
    def reciprocal(self): return _ops.reciprocal(self)
    def frac(self): return _ops.frac(self)
    def tanh(self): return _ops.tanh(self)
    def sigmoid(self): return _ops.sigmoid(self)
    def relu(self): return _ops.relu(self)
    def erf(self): return _ops.erf(self)
    def clamp(self, min=None, max=None): return _ops.clamp(self, min, max)
    clip = clamp
    def sin(self): return _ops.sin(self)
    def cos(self): return _ops.cos(self)
    def tan(self): return _ops.tan(self)
    def asin(self): return _ops.asin(self)
    def acos(self): return _ops.acos(self)
    def atan(self): return _ops.atan(self)
    arcsin, arccos, arctan = asin, acos, atan
    def sinh(self): return _ops.sinh(self)
    def cosh(self): return _ops.cosh(self)
    def log2(self): return _ops.log2(self)
    def log10(self): return _ops.log10(self)
    def exp2(self): return _ops.exp2(self)
    def log1p(self): return _ops.log1p(self)
    def expm1(self): return _ops.expm1(self)
    def erfinv(self): return _ops.erfinv(self)
    def round(self, *, decimals=0): return _ops.round(self, decimals=decimals)
    def floor(self): return _ops.floor(self)
    def ceil(self): return _ops.ceil(self)
    def trunc(self): return _ops.trunc(self)

    def softmax(self, dim=None, dtype=None, **aliases):
        return _ops.softmax(self, dim, dtype, **aliases)
    def log_softmax(self, dim=None, dtype=None, **aliases):
        return _ops.log_softmax(self, dim, dtype, **aliases)

    # ---- comparisons, classification, bitwise (constants: never part of a graph)
    def eq(self, other): return _ops.eq(self, other)
    def ne(self, other): return _ops.ne(self, other)
    def lt(self, other): return _ops.lt(self, other)
    def le(self, other): return _ops.le(self, other)
    def gt(self, other): return _ops.gt(self, other)
    def ge(self, other): return _ops.ge(self, other)
    def equal(self, other): return _ops.equal(self, other)
    def isclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        return _ops.isclose(self, other, rtol, atol, equal_nan)
    def allclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        return _ops.allclose(self, other, rtol, atol, equal_nan)
    def isnan(self): return _ops.isnan(self)
    def isinf(self): return _ops.isinf(self)
    def isfinite(self): return _ops.isfinite(self)
    def bitwise_not(self): return _ops.bitwise_not(self)
    def bitwise_and(self, other): return _ops.bitwise_and(self, other)
    def bitwise_or(self, other): return _ops.bitwise_or(self, other)
    def bitwise_xor(self, other): return _ops.bitwise_xor(self, other)
