"""Samplers: the order in which a DataLoader visits a map-style dataset (torch's classes).

A sampler is an iterable of indices (``BatchSampler``: of lists of indices) with a length.
The random ones draw from ``generator=`` (a ``mg.Generator``) when given, else from
minigrad's global generator, so ``mg.manual_seed`` governs them. The numbers differ from
torch's for the same seed (minigrad's generators are NumPy's PCG64, torch's is a Mersenne
Twister); the distributions and every other behaviour are torch's.
"""
import itertools

import numpy as np

from minigrad import rng
from minigrad.tensor import Tensor


class Sampler:
    """Base class: subclasses define ``__iter__`` (indices, or lists of indices for a
    batch sampler) and, where they can, ``__len__``."""

    def __iter__(self):
        raise NotImplementedError


class SequentialSampler(Sampler):
    """``0, 1, ..., len(data_source) - 1``, always in that order."""

    def __init__(self, data_source):
        self.data_source = data_source

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self):
        return len(self.data_source)

    def _index_arrays(self):
        yield np.arange(len(self.data_source))


def _draw(generator):
    """The NumPy generator to draw from: ``generator``'s, else a fresh one seeded from the
    global generator (as torch's samplers seed a new generator from the global one, so
    that each pass draws one number from the global stream)."""
    if generator is not None:
        return rng.generator(generator=generator)
    return np.random.default_rng(int(rng.generator().integers(2 ** 63)))


class RandomSampler(Sampler):
    """A random order. Without replacement: a new permutation each pass (several, cut to
    ``num_samples``, when that exceeds the dataset); with it, ``num_samples`` independent
    uniform draws."""

    def __init__(self, data_source, replacement=False, num_samples=None, generator=None):
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        if not isinstance(replacement, bool):
            raise TypeError(f"replacement should be a boolean value, but got "
                            f"replacement={replacement}")
        if not isinstance(self.num_samples, int) or isinstance(self.num_samples, bool) \
                or self.num_samples <= 0:
            raise ValueError(f"num_samples should be a positive integer value, but got "
                             f"num_samples={self.num_samples}")

    @property
    def num_samples(self):
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self):
        for indices in self._index_arrays():
            yield from indices.tolist()

    def _index_arrays(self):
        """The indices as arrays, each drawn only when the one before is used up (as
        torch draws them)."""
        n, count = len(self.data_source), self.num_samples
        draw = _draw(self.generator)
        if self.replacement:
            yield draw.integers(0, n, count)
            return
        for _ in range(count // n):
            yield draw.permutation(n)
        yield draw.permutation(n)[:count % n]

    def __len__(self):
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given ``indices`` in a random order (a new permutation each pass)."""

    def __init__(self, indices, generator=None):
        self.indices = indices
        self.generator = generator

    def __iter__(self):
        draw = rng.generator(generator=self.generator)
        for i in draw.permutation(len(self.indices)).tolist():
            yield self.indices[i]

    def __len__(self):
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """``num_samples`` indices into ``weights``, each drawn with probability proportional
    to its weight (``torch.multinomial``'s rules: with ``replacement=False`` an index is
    drawn at most once, and zero-weight indices only after all the others)."""

    def __init__(self, weights, num_samples, replacement=True, generator=None):
        if not isinstance(num_samples, int) or isinstance(num_samples, bool) \
                or num_samples <= 0:
            raise ValueError(f"num_samples should be a positive integer value, but got "
                             f"num_samples={num_samples}")
        if not isinstance(replacement, bool):
            raise ValueError(f"replacement should be a boolean value, but got "
                             f"replacement={replacement}")
        array = np.asarray(weights.numpy() if isinstance(weights, Tensor) else weights,
                           dtype=np.float64)
        if array.ndim != 1:
            raise ValueError(f"weights should be a 1d sequence but given weights have shape "
                             f"{tuple(array.shape)}")
        self.weights = Tensor(array)
        self.num_samples = num_samples
        self.replacement = replacement
        self.generator = generator

    def __iter__(self):
        from minigrad.sampling import multinomial
        yield from multinomial(self.weights, self.num_samples, self.replacement,
                               generator=self.generator).tolist()

    def __len__(self):
        return self.num_samples


class BatchSampler(Sampler):
    """Lists of ``batch_size`` indices from ``sampler`` (the last one shorter unless
    ``drop_last``)."""

    def __init__(self, sampler, batch_size, drop_last):
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
            raise ValueError(f"batch_size should be a positive integer value, but got "
                             f"batch_size={batch_size}")
        if not isinstance(drop_last, bool):
            raise ValueError(f"drop_last should be a boolean value, but got "
                             f"drop_last={drop_last}")
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = drop_last

    def __iter__(self):
        arrays = _index_arrays(self.sampler)
        if arrays is not None:
            yield from self._slices(arrays)
            return
        indices = iter(self.sampler)
        while True:
            batch = list(itertools.islice(indices, self.batch_size))
            if not batch or (self.drop_last and len(batch) < self.batch_size):
                return
            yield batch

    def _slices(self, arrays):
        """The batches cut from index arrays: the same lists as iterating the sampler,
        without a Python step per index."""
        size, rest = self.batch_size, np.empty(0, np.int64)
        for indices in arrays:
            indices = np.concatenate([rest, indices]) if len(rest) else indices
            full = len(indices) - len(indices) % size
            for start in range(0, full, size):
                yield indices[start:start + size].tolist()
            rest = indices[full:]
        if len(rest) and not self.drop_last:
            yield rest.tolist()

    def __len__(self):
        if self.drop_last:
            return len(self.sampler) // self.batch_size
        return (len(self.sampler) + self.batch_size - 1) // self.batch_size


def _index_arrays(sampler):
    """``sampler``'s indices as a stream of arrays, where it is one of ours whose
    ``__iter__`` is not overridden; else None."""
    cls = type(sampler)
    for base in (SequentialSampler, RandomSampler):
        if isinstance(sampler, base) and cls.__iter__ is base.__iter__ \
                and cls._index_arrays is base._index_arrays:
            return sampler._index_arrays()
    return None
