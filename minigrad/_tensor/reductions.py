"""Reductions: sums, means, spreads, extremes, products, scans, truth values, norms."""

_ops = _inplace = None   # bound by minigrad.tensor (see minigrad._tensor)


class ReductionMixin:
    __slots__ = ()

    def sum(self, dim=None, keepdim=False, **aliases): return _ops.sum(self, dim, keepdim, **aliases)
    def mean(self, dim=None, keepdim=False, **aliases):
        return _ops.mean(self, dim, keepdim, **aliases)
    def var(self, dim=None, keepdim=False, *, correction=1, unbiased=None, **aliases):
        return _ops.var(self, dim, keepdim, correction=correction, unbiased=unbiased, **aliases)
    def std(self, dim=None, keepdim=False, *, correction=1, unbiased=None, **aliases):
        return _ops.std(self, dim, keepdim, correction=correction, unbiased=unbiased, **aliases)
    def amax(self, dim=None, keepdim=False, **aliases):
        return _ops.amax(self, dim, keepdim, **aliases)
    def amin(self, dim=None, keepdim=False, **aliases):
        return _ops.amin(self, dim, keepdim, **aliases)
    def max(self, dim=None, keepdim=False, **aliases): return _ops.max(self, dim, keepdim, **aliases)
    def min(self, dim=None, keepdim=False, **aliases): return _ops.min(self, dim, keepdim, **aliases)
    def argmax(self, dim=None, keepdim=False, **aliases):
        return _ops.argmax(self, dim, keepdim, **aliases)
    def argmin(self, dim=None, keepdim=False, **aliases):
        return _ops.argmin(self, dim, keepdim, **aliases)
    def prod(self, dim=None, keepdim=False, **aliases):
        return _ops.prod(self, dim, keepdim, **aliases)
    def cumsum(self, dim=None, **aliases): return _ops.cumsum(self, dim, **aliases)
    def cumprod(self, dim=None, **aliases): return _ops.cumprod(self, dim, **aliases)
    def logsumexp(self, dim=None, keepdim=False, **aliases):
        return _ops.logsumexp(self, dim, keepdim, **aliases)
    def all(self, dim=None, keepdim=False, **aliases): return _ops.all(self, dim, keepdim, **aliases)
    def any(self, dim=None, keepdim=False, **aliases): return _ops.any(self, dim, keepdim, **aliases)
    def norm(self, p="fro", dim=None, keepdim=False, dtype=None):
        return _ops.norm(self, p, dim, keepdim, dtype=dtype)
    def dist(self, other, p=2): return _ops.dist(self, other, p)
