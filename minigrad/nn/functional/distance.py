"""Distances between vectors: cosine similarity and the p-norm distance, composites."""
import math

from minigrad import dtypes, ops
from minigrad.ops._common import cast, pair


def _as_float(x):
    return x if x.array.dtype.kind == "f" else cast(x, dtypes.default_float)


def _norm(x, dim):
    """The 2-norm along ``dim`` (kept), with PyTorch's zero gradient at a zero vector."""
    s = (x * x).sum(dim, keepdim=True)
    nonzero = s > 0
    return ops.where(nonzero, ops.sqrt(ops.where(nonzero, s, 1.0)), 0.0)


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """sum(x1 / max(|x1|, eps) * x2 / max(|x2|, eps)) along ``dim`` (the inputs broadcast).
    As in PyTorch, each norm is clamped without that clamp reaching the gradient."""
    x1, x2 = pair(_as_float(x1), _as_float(x2))
    x1, x2 = ops.broadcast_to(x1, _broadcast(x1, x2)), ops.broadcast_to(x2, _broadcast(x1, x2))
    n1, n2 = _norm(x1, dim), _norm(x2, dim)
    n1 = n1 + (ops.clamp(n1, min=eps) - n1).detach()
    n2 = n2 + (ops.clamp(n2, min=eps) - n2).detach()
    return ((x1 / n1) * (x2 / n2)).sum(dim)


def _broadcast(a, b):
    import numpy as np
    try:
        return np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise ValueError(f"cosine_similarity: shapes {a.shape} and {b.shape} do not "
                         f"broadcast") from None


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """The p-norm of ``x1 - x2 + eps`` over the last dim."""
    d = x1 - x2 + eps
    dim = max(x1.ndim, x2.ndim, 1) - 1
    if d.ndim == 0:
        d = ops.reshape(d, (1,))
    a = ops.abs(d)
    if p == math.inf:
        out = ops.amax(a, dim, keepdim)
    elif p == -math.inf:
        out = ops.amin(a, dim, keepdim)
    elif p == 0:
        out = cast((a != 0), d.dtype).sum(dim, keepdim)
    elif p == 1:
        out = a.sum(dim, keepdim)
    elif p == 2:
        out = ops.squeeze(_norm(d, dim), dim) if not keepdim else _norm(d, dim)
    else:
        out = ((a ** p).sum(dim, keepdim)) ** (1.0 / p)
    return out
