"""Indexing: reading (getitem, gather, index_select, masks, nonzero), writing out of place
(scatter, index_add), sorting and set operations."""

_ops = _inplace = None   # bound by minigrad.tensor (see minigrad._tensor)


class IndexingMixin:
    __slots__ = ()

    def __getitem__(self, index): return _ops.getitem(self, index)
    def gather(self, dim=None, index=None, **aliases):
        return _ops.gather(self, dim, index, **aliases)
    def index_select(self, dim=None, index=None, **aliases):
        return _ops.index_select(self, dim, index, **aliases)
    def masked_fill(self, mask, value): return _ops.masked_fill(self, mask, value)
    def masked_select(self, mask): return _ops.masked_select(self, mask)
    def nonzero(self, *, as_tuple=False): return _ops.nonzero(self, as_tuple=as_tuple)
    def scatter(self, dim, index, src=None, *, value=None, reduce=None):
        return _ops.scatter(self, dim, index, src, value=value, reduce=reduce)
    def scatter_add(self, dim, index, src): return _ops.scatter_add(self, dim, index, src)
    def index_add(self, dim=None, index=None, source=None, *, alpha=1, **aliases):
        return _ops.index_add(self, dim, index, source, alpha=alpha, **aliases)
    def repeat_interleave(self, repeats=None, dim=None, *, output_size=None, **aliases):
        return _ops.repeat_interleave(self, repeats, dim, output_size=output_size, **aliases)
    def sort(self, dim=-1, descending=False, stable=False, **aliases):
        return _ops.sort(self, dim, descending, stable, **aliases)
    def argsort(self, dim=-1, descending=False, stable=False, **aliases):
        return _ops.argsort(self, dim, descending, stable, **aliases)
    def topk(self, k, dim=-1, largest=True, sorted=True, **aliases):
        return _ops.topk(self, k, dim, largest, sorted, **aliases)
    def unique(self, sorted=True, return_inverse=False, return_counts=False, dim=None):
        return _ops.unique(self, sorted, return_inverse, return_counts, dim)
