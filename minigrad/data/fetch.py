"""Fetching one batch from a dataset: what the DataLoader does per step, in the main
process or in a worker (torch's fetchers).

A map-style fetcher turns a list of indices into a batch: through the dataset's own
collated batch when it has one and the collate function is ``default_collate`` (one array
index, see ``dataset.batch_fetcher``), else through ``__getitems__`` (torch's hook: a list
of samples) or ``__getitem__`` per index, then ``collate_fn``. Without batching
(``batch_size=None``) it fetches the single sample and applies ``collate_fn`` (by default
``default_convert``) to it. An iterable fetcher draws ``len(indices)`` samples from the
dataset's iterator, and raises StopIteration when the stream is done (or, with
``drop_last``, too short for a full batch).
"""
from minigrad.data.collate import default_collate
from minigrad.data.dataset import batch_fetcher


class MapFetcher:
    def __init__(self, dataset, auto_collation, collate_fn, drop_last):
        self.dataset = dataset
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn
        self.batched = batch_fetcher(dataset) if collate_fn is default_collate else None
        getitems = getattr(dataset, "__getitems__", None)
        self.getitems = getitems if callable(getitems) else None

    def fetch(self, index):
        if not self.auto_collation:
            return self.collate_fn(self.dataset[index])
        if self.batched is not None:
            batch = self.batched(index)
            if batch is not None:
                return batch
        if self.getitems is not None:
            samples = self.getitems(index)
        else:
            samples = [self.dataset[i] for i in index]
        return self.collate_fn(samples)


class IterableFetcher:
    def __init__(self, dataset, auto_collation, collate_fn, drop_last):
        self.iterator = iter(dataset)
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn
        self.drop_last = drop_last
        self.ended = False

    def fetch(self, index):
        if self.ended:
            raise StopIteration
        if not self.auto_collation:
            return self.collate_fn(next(self.iterator))
        samples = []
        for _ in index:
            try:
                samples.append(next(self.iterator))
            except StopIteration:
                self.ended = True
                break
        if not samples or (self.drop_last and len(samples) < len(index)):
            raise StopIteration
        return self.collate_fn(samples)


def make_fetcher(iterable, dataset, auto_collation, collate_fn, drop_last):
    kind = IterableFetcher if iterable else MapFetcher
    return kind(dataset, auto_collation, collate_fn, drop_last)
