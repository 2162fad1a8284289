"""Matrix multiplication with NumPy's matmul rules, and the affine map of a linear layer.

The matmul primitive handles operands of two or more dimensions (batch dimensions
broadcast); 1-D operands are promoted and demoted around it with reshapes, so their
gradients come from the engine. ``linear`` is one primitive (x @ W^T + b: one GEMM and a
bias add forward, two GEMMs and a column sum backward) because every layer of every MLP
runs it: three recorded nodes per layer would cost more than the GEMMs at small sizes.
"""
import math

from minigrad import backend
from minigrad.autograd.grad_mode import _state as _grad_state
from minigrad.autograd.graph import Primitive
from minigrad.errors import InvalidArgument, InvalidDtype
from minigrad.ops._common import pair
from minigrad.ops.reduce import sum
from minigrad.ops.shape import reshape, transpose
from minigrad.tensor import Tensor


class MatMul(Primitive):
    save_inputs = True

    @staticmethod
    def forward(ctx, a, b):
        return backend.of(a).matmul(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.inputs
        return (matmul(g, transpose(b, -1, -2)) if ctx.next[0] is not None else None,
                matmul(transpose(a, -1, -2), g) if ctx.next[1] is not None else None)


def matmul(a, b):
    a, b = pair(a, b)
    if a.ndim == 0 or b.ndim == 0:
        raise InvalidArgument(f"matmul: both arguments must have at least one dimension, got "
                              f"shapes {a.shape} and {b.shape}")
    ka = a.shape[-1]
    kb = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if ka != kb:
        raise InvalidArgument(f"matmul: shapes {a.shape} and {b.shape} are not aligned "
                              f"({ka} != {kb})")
    vec_a, vec_b = a.ndim == 1, b.ndim == 1
    if vec_a:
        a = reshape(a, (1, ka))
    if vec_b:
        b = reshape(b, (kb, 1))
    out = MatMul.apply(a, b)
    if vec_a or vec_b:
        shape = out.shape[:-2] + (() if vec_a else out.shape[-2:-1]) + (() if vec_b else out.shape[-1:])
        out = reshape(out, shape)
    return out


class Linear(Primitive):
    """y = x @ W^T (+ b) over x's last axis; x is (..., in), W (out, in), b (out,)."""
    save_inputs = True

    @staticmethod
    def forward(ctx, x, w, b=None):
        y = backend.of(x).matmul(x, w.T)   # a transposed view: BLAS reads it as it is
        if b is not None:
            y += b
        return y

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.inputs[:2]
        want_x, want_w = ctx.next[0] is not None, ctx.next[1] is not None
        want_b = len(ctx.next) > 2 and ctx.next[2] is not None
        n = math.prod(x.shape[:-1])  # (spelled out: -1 is ambiguous when x is empty)
        rows, x_rows = (n, g.shape[-1]), (n, x.shape[-1])
        if not _grad_state.enabled:
            be, ga = backend.of(g.array), g.array
            g2, x2 = ga.reshape(rows), x.array.reshape(x_rows)
            return (Tensor._make(be.matmul(ga, w.array)) if want_x else None,
                    Tensor._make(be.matmul(g2.T, x2)) if want_w else None,
                    Tensor._make(be.xp.sum(g2, axis=0)) if want_b else None)
        g2, x2 = reshape(g, rows), reshape(x, x_rows)
        return (matmul(g, w) if want_x else None,
                matmul(transpose(g2, 0, 1), x2) if want_w else None,
                sum(g2, 0) if want_b else None)


def linear(x, weight, bias=None):
    """``x @ weight.T + bias`` as one recorded op (x: (..., in), weight: (out, in))."""
    if x.ndim == 0 or weight.ndim != 2 or x.shape[-1] != weight.shape[1]:
        raise InvalidArgument(f"linear: input of shape {x.shape} and weight of shape "
                              f"{weight.shape} do not fit; expected input (..., {weight.shape[-1]}) "
                              f"and weight (out_features, in_features)")
    if bias is not None and bias.shape != (weight.shape[0],):
        raise InvalidArgument(f"linear: bias must have shape ({weight.shape[0]},), got "
                              f"{bias.shape}")
    x, w = pair(x, weight)
    if x.array.dtype != w.array.dtype or (bias is not None and bias.array.dtype != w.array.dtype):
        raise InvalidDtype(f"linear: input {x.dtype!r}, weight {weight.dtype!r} and bias must "
                           f"share one dtype")
    if bias is None:
        return Linear.apply(x, w)
    return Linear.apply(x, w, bias)
