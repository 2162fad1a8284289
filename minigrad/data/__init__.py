"""Datasets and batching: MNIST/Fashion-MNIST from IDX files, TensorDataset, DataLoader."""
from minigrad.data.datasets import MNIST, DatasetError, FashionMNIST
from minigrad.data.idx import IDXError, parse_idx, write_idx
from minigrad.data.loader import DataLoader, Dataset, TensorDataset, default_collate

__all__ = ["MNIST", "FashionMNIST", "DatasetError", "IDXError", "parse_idx", "write_idx",
           "Dataset", "TensorDataset", "DataLoader", "default_collate"]
