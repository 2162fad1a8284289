"""``torch.utils.data`` at its torch path: ``from minigrad.utils.data import DataLoader``.

The implementation lives in ``minigrad.data`` (datasets, samplers, collate, the loader
and its workers, ``DistributedSampler`` in ``minigrad.data.distributed``). See
``minigrad.data`` for the files.
"""
from minigrad.data.collate import default_collate, default_convert
from minigrad.data.dataset import (ChainDataset, ConcatDataset, Dataset, IterableDataset, Subset,
                                   TensorDataset, random_split)
from minigrad.data.loader import DataLoader
from minigrad.data.sampler import (BatchSampler, RandomSampler, Sampler, SequentialSampler,
                                   SubsetRandomSampler, WeightedRandomSampler)
from minigrad.data.worker import WorkerInfo, get_worker_info
from minigrad.data.distributed import DistributedSampler

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "Subset", "ConcatDataset",
           "ChainDataset", "random_split", "Sampler", "SequentialSampler", "RandomSampler",
           "SubsetRandomSampler", "WeightedRandomSampler", "BatchSampler",
           "DistributedSampler", "DataLoader", "default_collate", "default_convert",
           "get_worker_info", "WorkerInfo"]
