"""Datasets and the DataLoader that batches them.

A dataset that can fetch a whole batch at once defines ``__getitems__(indices)`` (the hook
PyTorch's loader also uses) returning a tuple of batched tensors; the loader then does one
array-indexing call per batch and no per-sample Python work. Any other map-style dataset
works through ``__getitem__`` and a collate step that stacks the samples.
"""
import math

import numpy as np

from minigrad import backend, rng
from minigrad.tensor import Tensor


class Dataset:
    """Map-style dataset: subclasses define ``__getitem__`` and ``__len__``."""

    def __getitem__(self, index):
        raise NotImplementedError

    def __len__(self):
        raise NotImplementedError


class TensorDataset(Dataset):
    """Samples are the rows of equally long tensors (or arrays): ``(x[i], y[i], ...)``."""

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor")
        arrays = [t.array if isinstance(t, Tensor) else np.asarray(t) for t in tensors]
        lengths = [a.shape[0] if a.ndim else None for a in arrays]
        if None in lengths or len(set(lengths)) != 1:
            raise ValueError(f"TensorDataset: size mismatch between tensors; their first "
                             f"dimensions are {lengths}")
        self._arrays = arrays

    @property
    def tensors(self):
        return tuple(Tensor(a) for a in self._arrays)

    def __len__(self):
        return self._arrays[0].shape[0]

    def __getitem__(self, index):
        return tuple(Tensor(a[index]) for a in self._arrays)

    def __getitems__(self, indices):
        return tuple(Tensor(a[indices]) for a in self._arrays)


def default_collate(samples):
    """Stack a list of samples into a batch: tensors, arrays and numbers become one tensor
    with a leading batch axis; tuples and dicts are collated field by field."""
    first = samples[0]
    if isinstance(first, (tuple, list)):
        return type(first)(default_collate(list(field)) for field in zip(*samples))
    if isinstance(first, dict):
        return {k: default_collate([s[k] for s in samples]) for k in first}
    if isinstance(first, Tensor):
        return Tensor(backend.of(first.array).xp.stack([s.array for s in samples]))
    if isinstance(first, (bool, np.bool_)):
        return Tensor(np.asarray(samples, dtype=bool))
    if isinstance(first, (int, np.integer)):
        return Tensor(np.asarray(samples, dtype=np.int64))
    if isinstance(first, (float, np.floating)):
        return Tensor(np.asarray(samples, dtype=np.float64 if isinstance(first, float)
                                 else first.dtype))
    if isinstance(first, np.ndarray):
        return Tensor(np.stack(samples))
    raise TypeError(f"default_collate: cannot batch samples of type {type(first).__name__}; "
                    f"expected tensors, arrays, numbers, or tuples/dicts of them")


class DataLoader:
    """Iterate over ``dataset`` in batches of ``batch_size``.

    With ``shuffle=True`` each pass draws a new permutation. ``seed`` makes the sequence of
    passes reproducible (a loader built with the same seed yields the same batches, epoch by
    epoch); without it the permutations come from minigrad's global generator, so
    ``mg.manual_seed`` governs them. ``drop_last`` drops a final batch smaller than
    ``batch_size``. ``sampler`` (an iterable of indices with a length, such as
    ``distributed.DistributedSampler``) gives the order instead; it excludes ``shuffle``.
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False, seed=None,
                 collate_fn=None, sampler=None):
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
                or batch_size <= 0:
            raise ValueError(f"DataLoader: batch_size should be a positive integer, "
                             f"got {batch_size!r}")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle")
        self.dataset = dataset
        self.sampler = sampler
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.seed = seed
        self.collate_fn = collate_fn or default_collate
        self._generator = None if seed is None else np.random.default_rng(seed)

    def __len__(self):
        n = len(self.dataset) if self.sampler is None else len(self.sampler)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self):
        if self.sampler is not None:
            order = np.fromiter(iter(self.sampler), dtype=np.int64)
            n = len(order)
        else:
            n = len(self.dataset)
            order = ((self._generator or rng.generator()).permutation(n) if self.shuffle
                     else np.arange(n))
        stop = n - n % self.batch_size if self.drop_last else n
        batched = hasattr(self.dataset, "__getitems__")
        for start in range(0, stop, self.batch_size):
            indices = order[start:start + self.batch_size]
            if batched:
                yield self.dataset.__getitems__(indices)
            else:
                yield self.collate_fn([self.dataset[int(i)] for i in indices])
