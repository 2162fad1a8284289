"""Sorting and searching: sort, argsort, topk, nonzero (and where's one-argument form),
unique. Sorted values are a gather, so gradients flow; indices, positions and unique
values are constants (unique's values, as in PyTorch, have no derivative)."""
import collections

import numpy as np

from minigrad.autograd.graph import Primitive
from minigrad.ops._common import constant, dim_aliases, normalize_dim, xp_of
from minigrad.ops.index import gather

sort_result = collections.namedtuple("sort_result", ["values", "indices"])
topk_result = collections.namedtuple("topk_result", ["values", "indices"])


def _argsort(op, input, dim, descending):
    xp = xp_of(input.array)
    if input.ndim == 0:
        return xp.zeros((), dtype=np.int64), 0
    d = normalize_dim(op, dim, input.ndim)
    a = input.array
    if not descending:  # stable, NaN last, like PyTorch's ascending sort
        return xp.argsort(a, axis=d, kind="stable").astype(np.int64), d
    # descending and stable (ties keep their order), NaN first: the ascending sort of the
    # reversed array, reversed
    n = a.shape[d]
    rev = xp.flip(a, axis=d)
    return (n - 1 - xp.flip(xp.argsort(rev, axis=d, kind="stable"), axis=d)).astype(np.int64), d


def sort(input, dim=-1, descending=False, stable=False, *, axis=None):
    dim = dim_aliases("sort", None if axis is not None and dim == -1 else dim, axis)
    """(values, indices); always stable. The values are a gather, so gradients flow."""
    idx, d = _argsort("sort", input, dim, descending)
    return sort_result(gather(input, d, constant(idx)), constant(idx))


def argsort(input, dim=-1, descending=False, stable=False, *, axis=None):
    dim = dim_aliases("argsort", None if axis is not None and dim == -1 else dim, axis)
    return constant(_argsort("argsort", input, dim, descending)[0])


def topk(input, k, dim=-1, largest=True, sorted=True, *, axis=None):
    dim = dim_aliases("topk", None if axis is not None and dim == -1 else dim, axis)
    """The ``k`` largest (smallest) along ``dim``, in sorted order (also for sorted=False)."""
    d = normalize_dim("topk", dim, max(input.ndim, 1))
    n = input.shape[d] if input.ndim else 1
    if not 0 <= k <= n:
        raise RuntimeError("topk: selected index k out of range")
    idx, d = _argsort("topk", input, d, largest)
    if input.ndim:
        idx = idx[(slice(None),) * d + (slice(0, k),)]
    return topk_result(gather(input, d, constant(idx)), constant(idx))


def nonzero(input, *, as_tuple=False):
    """The indices of the nonzero elements: an (n, ndim) int64 tensor, in row-major order,
    or with ``as_tuple`` one 1-D tensor per dim (a 0-d input counts as 1-D there)."""
    xp = xp_of(input.array)
    a = input.array
    if as_tuple:
        return tuple(constant(i.astype(np.int64)) for i in xp.nonzero(a.reshape(-1) if
                                                                      a.ndim == 0 else a))
    return constant(xp.argwhere(a).astype(np.int64))


def argwhere(input):
    return nonzero(input)


class Unique(Primitive):
    """unique's values: a constant function of the input piecewise, but PyTorch defines no
    derivative for it (backward through it raises), and neither do we."""
    op_name = "unique"

    @staticmethod
    def forward(ctx, a, values):
        return values

    @staticmethod
    def backward(ctx, g):
        raise RuntimeError("the derivative for 'unique' is not implemented, as in PyTorch")


def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):
    """The distinct values (with ``dim``, the distinct slices along ``dim``), in ascending
    (lexicographic) order; with ``return_inverse`` each element's position among them (the
    input's shape; with ``dim``, one per slice), with ``return_counts`` how often each
    occurs. Every NaN is distinct, as in PyTorch. ``sorted=False`` allows any order in
    PyTorch; minigrad always sorts."""
    xp = xp_of(input.array)
    a = input.array
    if dim is None:
        values, inverse, counts = xp.unique(a.reshape(-1), return_inverse=True,
                                            return_counts=True, equal_nan=False)
        inverse = inverse.reshape(a.shape)
    else:
        d = normalize_dim("unique", dim, max(a.ndim, 1))
        if a.ndim == 0:
            a = a.reshape(1)
        if a.shape[d] == 0:
            values = a
            inverse, counts = (xp.zeros(0, dtype=np.int64),) * 2
        else:
            values, inverse, counts = xp.unique(a, return_inverse=True, return_counts=True,
                                                axis=d, equal_nan=False)
            inverse = inverse.reshape(-1)
    out = Unique.apply(input, values=values)
    if not (return_inverse or return_counts):
        return out
    result = (out,)
    if return_inverse:
        result += (constant(inverse.astype(np.int64)),)
    if return_counts:
        result += (constant(counts.astype(np.int64)),)
    return result
