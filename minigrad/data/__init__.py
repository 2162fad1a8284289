"""Datasets and batching (torch's ``torch.utils.data``, also at ``minigrad.utils.data``),
MNIST/Fashion-MNIST from IDX files, and torchvision-style transforms.

Files: ``dataset.py`` (Dataset, IterableDataset, TensorDataset, Subset, ConcatDataset,
random_split), ``sampler.py`` (the samplers), ``collate.py`` (default_collate,
default_convert), ``loader.py`` (DataLoader), ``fetch.py`` (one batch from a dataset),
``worker.py`` (worker processes, get_worker_info), ``datasets.py`` (MNIST, FashionMNIST),
``transforms.py``, ``idx.py`` (the IDX file format).
"""
from minigrad.data.collate import default_collate, default_convert
from minigrad.data.dataset import (ChainDataset, ConcatDataset, Dataset, IterableDataset, Subset,
                                   TensorDataset, random_split)
from minigrad.data.datasets import MNIST, DatasetError, FashionMNIST
from minigrad.data.idx import IDXError, parse_idx, write_idx
from minigrad.data.loader import DataLoader
from minigrad.data.sampler import (BatchSampler, RandomSampler, Sampler, SequentialSampler,
                                   SubsetRandomSampler, WeightedRandomSampler)
from minigrad.data.worker import WorkerInfo, get_worker_info
from minigrad.data import transforms  # noqa: E402

__all__ = ["MNIST", "FashionMNIST", "DatasetError", "IDXError", "parse_idx", "write_idx",
           "Dataset", "IterableDataset", "TensorDataset", "Subset", "ConcatDataset",
           "ChainDataset", "random_split", "Sampler", "SequentialSampler", "RandomSampler",
           "SubsetRandomSampler", "WeightedRandomSampler", "BatchSampler", "DataLoader",
           "default_collate", "default_convert", "get_worker_info", "WorkerInfo",
           "transforms"]
