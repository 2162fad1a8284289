"""Datasets (torch's classes): map-style ``Dataset`` and its wrappers, ``IterableDataset``,
and ``random_split``.

A map-style dataset defines ``__getitem__`` (and usually ``__len__``). As in torch it may
define ``__getitems__(indices)`` returning the *list* of samples, which the DataLoader then
collates. minigrad's own array-backed datasets (``TensorDataset``, ``MNIST``, a ``Subset`` of
either) go one step further: ``_collated_batch(indices)`` returns the batch exactly as
``default_collate`` would build it from ``__getitem__``'s samples, with one array index and
no per-sample Python work. The DataLoader uses it only with ``default_collate`` and only
while the class's ``__getitem__`` is the one it mirrors (see ``batch_fetcher``), so a
subclass that changes ``__getitem__`` is never bypassed.
"""
import bisect
import itertools
import math
import warnings

import numpy as np

from minigrad import rng
from minigrad.tensor import Tensor


class Dataset:
    """Map-style dataset: subclasses define ``__getitem__`` and, where they can,
    ``__len__`` (the base class has none, as in torch). ``a + b`` concatenates."""

    def __getitem__(self, index):
        raise NotImplementedError("Subclasses of Dataset should implement __getitem__.")

    def __add__(self, other):
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """A stream of samples: subclasses define ``__iter__``. With ``num_workers > 0`` every
    worker process iterates its own copy, so a dataset that should not be read several
    times splits the work itself, using ``get_worker_info()`` (its ``id`` and
    ``num_workers``) in ``__iter__`` or in a ``worker_init_fn``. ``a + b`` chains."""

    def __iter__(self):
        raise NotImplementedError("Subclasses of IterableDataset should implement __iter__.")

    def __add__(self, other):
        return ChainDataset([self, other])


def batch_fetcher(dataset):
    """``dataset._collated_batch`` when it can stand in for ``default_collate`` over
    ``__getitem__``: the class that defines it must also be where ``__getitem__`` and
    ``__getitems__`` come from. None otherwise."""
    cls = type(dataset)
    owner = next((k for k in cls.__mro__ if "_collated_batch" in vars(k)), None)
    if owner is None:
        return None
    for name in ("__getitem__", "__getitems__"):
        if getattr(cls, name, None) is not getattr(owner, name, None):
            return None
    return dataset._collated_batch


class TensorDataset(Dataset):
    """Samples are the rows of equally long tensors: ``(t0[i], t1[i], ...)``. NumPy arrays
    are accepted too and become tensors."""

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor")
        tensors = tuple(t if isinstance(t, Tensor) else Tensor(np.asarray(t)) for t in tensors)
        lengths = [t.shape[0] if t.ndim else None for t in tensors]
        if None in lengths or len(set(lengths)) != 1:
            raise _SizeMismatch(f"TensorDataset: size mismatch between tensors; their first "
                                f"dimensions are {lengths}")
        self.tensors = tensors

    def __len__(self):
        return self.tensors[0].shape[0]

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def _collated_batch(self, indices):
        index = np.asarray(indices, dtype=np.int64)
        return [t[index] if t.requires_grad else Tensor(t.array[index]) for t in self.tensors]


class _SizeMismatch(ValueError, AssertionError):
    """torch raises AssertionError here; minigrad's callers catch ValueError: both work."""


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order."""

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = indices
        cls = type(self)
        if cls.__getitem__ is not Subset.__getitem__ and cls.__getitems__ is Subset.__getitems__:
            raise NotImplementedError(
                f"{cls.__name__} overrides __getitem__ but not __getitems__. When subclassing "
                f"Subset and overriding __getitem__, you must also override __getitems__ so "
                f"that the DataLoader uses your __getitem__, e.g.\n\n"
                f"def __getitems__(self, indices):\n"
                f"    return [self.__getitem__(idx) for idx in indices]")

    def __getitem__(self, idx):
        if isinstance(idx, list):
            return self.dataset[[self.indices[i] for i in idx]]
        return self.dataset[self.indices[idx]]

    def __getitems__(self, indices):
        inner = getattr(self.dataset, "__getitems__", None)
        mapped = [self.indices[i] for i in indices]
        if callable(inner):
            return inner(mapped)
        return [self.dataset[i] for i in mapped]

    def __len__(self):
        return len(self.indices)

    def _collated_batch(self, indices):
        fetch = batch_fetcher(self.dataset)
        if fetch is None:
            return None
        return fetch([self.indices[i] for i in indices])


class ConcatDataset(Dataset):
    """The datasets one after another; ``cumulative_sizes[i]`` is where dataset i ends."""

    @staticmethod
    def cumsum(sequence):
        return list(itertools.accumulate(len(d) for d in sequence))

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise AssertionError("datasets should not be an empty iterable")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise AssertionError("ConcatDataset does not support IterableDataset")
        self.cumulative_sizes = self.cumsum(self.datasets)

    def __len__(self):
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx):
        if idx < 0:
            if -idx > len(self):
                raise ValueError("absolute value of index should not exceed dataset length")
            idx += len(self)
        which = bisect.bisect_right(self.cumulative_sizes, idx)
        start = self.cumulative_sizes[which - 1] if which else 0
        return self.datasets[which][idx - start]


class ChainDataset(IterableDataset):
    """Iterable datasets one after another."""

    def __init__(self, datasets):
        self.datasets = datasets

    def __iter__(self):
        for d in self.datasets:
            if not isinstance(d, IterableDataset):
                raise AssertionError("ChainDataset only supports IterableDataset")
            yield from d

    def __len__(self):
        total = 0
        for d in self.datasets:
            if not isinstance(d, IterableDataset):
                raise AssertionError("ChainDataset only supports IterableDataset")
            total += len(d)
        return total


def random_split(dataset, lengths, generator=None):
    """Split ``dataset`` into non-overlapping ``Subset``s of the given ``lengths``: ints that
    sum to ``len(dataset)``, or fractions that sum to 1 (each split gets
    ``floor(frac * len)``, and what remains is handed out one by one, round-robin from the
    first split, as torch does). The permutation comes from ``generator`` (a
    ``mg.Generator``) or the global generator; it differs from torch's for the same seed."""
    n = len(dataset)
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        sizes = []
        for i, frac in enumerate(lengths):
            if frac < 0 or frac > 1:
                raise ValueError(f"Fraction at index {i} is not between 0 and 1")
            sizes.append(math.floor(n * frac))
        for i in range(n - sum(sizes)):
            sizes[i % len(sizes)] += 1
        for i, size in enumerate(sizes):
            if size == 0:
                warnings.warn(f"Length of split at index {i} is 0. This might result in an "
                              f"empty dataset.", stacklevel=2)
        lengths = sizes
    if sum(lengths) != n:
        raise ValueError("Sum of input lengths does not equal the length of the input "
                         "dataset!")
    order = rng.generator(generator=generator).permutation(sum(lengths)).tolist()
    return [Subset(dataset, order[end - size:end])
            for end, size in zip(itertools.accumulate(lengths), lengths)]
