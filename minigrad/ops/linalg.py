"""Matrix multiplication with NumPy's matmul rules. The primitive handles operands of two
or more dimensions (batch dimensions broadcast); 1-D operands are promoted and demoted
around it with reshapes, so their gradients come from the engine."""
from minigrad import backend
from minigrad.autograd.graph import Primitive
from minigrad.ops._common import pair
from minigrad.ops.shape import reshape, transpose


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
        raise ValueError(f"matmul: both arguments must have at least one dimension, got "
                         f"shapes {a.shape} and {b.shape}")
    ka = a.shape[-1]
    kb = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if ka != kb:
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape} are not aligned "
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
