"""``DistributedSampler``: each rank's share of a dataset (PyTorch's
``torch.utils.data.distributed.DistributedSampler``; also ``minigrad.distributed``'s)."""
import math

import numpy as np

from minigrad.data.sampler import Sampler
from minigrad.distributed.comm import get_rank, get_world_size


class DistributedSampler(Sampler):
    """The indices of this rank's share of ``dataset`` (PyTorch's DistributedSampler; also
    ``minigrad.utils.data.DistributedSampler``).

    ``num_replicas`` and ``rank`` default to the MPI world's (a world of one process when
    MPI is not initialized); given explicitly, they need no MPI at all.

    Every epoch, all ranks draw the same permutation (seeded by ``seed + epoch``: call
    ``set_epoch(e)`` before each epoch) and rank r takes every num_replicas-th index from
    r. Without ``drop_last`` the list is padded with its own first indices to a multiple of
    num_replicas, so every rank gets the same number of samples; with it, the tail that
    does not divide evenly is dropped. The permutation for a seed differs from torch's
    (minigrad's generators are NumPy's); the split and the padding are torch's.
    """

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0,
                 drop_last=False):
        num_replicas = get_world_size() if num_replicas is None else num_replicas
        rank = get_rank() if rank is None else rank
        if not 0 <= rank < num_replicas:
            raise ValueError(f"DistributedSampler: invalid rank {rank}, rank should be in "
                             f"the interval [0, {num_replicas - 1}]")
        self.dataset, self.num_replicas, self.rank = dataset, num_replicas, rank
        self.shuffle, self.seed, self.drop_last, self.epoch = shuffle, seed, drop_last, 0
        n = len(dataset)
        if drop_last and n % num_replicas:
            self.num_samples = math.ceil((n - num_replicas) / num_replicas)
        else:
            self.num_samples = math.ceil(n / num_replicas)
        self.total_size = self.num_samples * num_replicas

    def set_epoch(self, epoch):
        self.epoch = epoch

    def __len__(self):
        return self.num_samples

    def __iter__(self):
        n = len(self.dataset)
        if self.shuffle:
            indices = np.random.default_rng(self.seed + self.epoch).permutation(n)
        else:
            indices = np.arange(n)
        if self.drop_last:
            indices = indices[:self.total_size]
        elif self.total_size > n:
            indices = np.concatenate([indices] * math.ceil(self.total_size / n))[:self.total_size]
        return iter(indices[self.rank:self.total_size:self.num_replicas].tolist())
