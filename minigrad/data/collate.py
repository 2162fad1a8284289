"""Turning samples into batches: ``default_collate`` and ``default_convert`` (torch's).

``default_collate`` stacks a list of samples along a new leading axis, recursing into
mappings and sequences; ``default_convert`` (used when ``batch_size=None`` turns batching
off) only turns NumPy arrays into tensors. Output types follow PyTorch's table: tensors,
NumPy arrays and numbers become tensors, strings and bytes stay lists, a mapping keeps its
type, a namedtuple stays that namedtuple, and a plain tuple becomes a **list** (as in torch:
``for x, y in loader`` unpacks a list of two tensors).
"""
import collections.abc
import copy

import numpy as np

from minigrad import backend
from minigrad.tensor import Tensor

_ERROR = ("default_collate: batch must contain tensors, numpy arrays, numbers, dicts or "
          "lists; found {}")


def _unsupported_array(array):
    # strings, bytes and objects (NumPy kinds U, S, O) have no tensor dtype
    return array.dtype.kind in "USOV"


def _stack(arrays, what):
    shapes = [a.shape for a in arrays]
    for i, shape in enumerate(shapes):
        if shape != shapes[0]:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got "
                               f"{list(shapes[0])} at entry 0 and {list(shape)} at entry {i} "
                               f"(default_collate, batching {what})")
    return Tensor(backend.of(arrays[0]).xp.stack(arrays))


def default_collate(batch):
    """Collate a list of samples into a batch, as ``torch.utils.data.default_collate``.

    * Tensor -> Tensor with a leading batch dimension (all samples the same shape, else a
      RuntimeError as ``torch.stack`` raises);
    * NumPy array -> Tensor, likewise; NumPy scalar -> Tensor of its dtype;
    * ``float`` -> float64 Tensor; ``int`` -> int64 Tensor; ``bool`` -> bool Tensor;
    * ``str``/``bytes`` -> the batch unchanged (a tuple when it comes from a sequence of
      fields, as in torch);
    * Mapping -> the same mapping type, collated key by key;
    * namedtuple -> the same namedtuple, field by field; other tuple -> list;
      other sequence -> the same sequence type (all samples of equal length, else a
      RuntimeError).
    """
    elem = batch[0]
    if isinstance(elem, Tensor):
        return _stack([s.array for s in batch], "tensors")
    if isinstance(elem, np.ndarray):
        if _unsupported_array(elem):
            raise TypeError(_ERROR.format(elem.dtype))
        return _stack([np.asarray(s) for s in batch], "NumPy arrays")
    if isinstance(elem, (np.bool_, np.number)):
        return Tensor(np.asarray(batch))
    if isinstance(elem, float):
        return Tensor(np.asarray(batch, dtype=np.float64))
    if isinstance(elem, bool):
        return Tensor(np.asarray(batch, dtype=np.bool_))
    if isinstance(elem, int):
        return Tensor(np.asarray(batch, dtype=np.int64))
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, collections.abc.Mapping):
        return _same_mapping(elem, {key: default_collate([d[key] for d in batch])
                                    for key in elem})
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):          # namedtuple
        return type(elem)(*(default_collate(s) for s in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if any(len(s) != size for s in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        fields = [default_collate(s) for s in zip(*batch)]   # (strings stay tuples: torch)
        if isinstance(elem, tuple):
            return fields                                  # torch: a tuple becomes a list
        return _same_sequence(elem, fields)
    raise TypeError(_ERROR.format(type(elem)) + f" (cannot batch samples of type "
                                                f"{type(elem).__name__})")


def default_convert(data):
    """Turn NumPy arrays (and NumPy scalars) in ``data`` into tensors, recursing into
    mappings and sequences as ``default_collate`` does, without batching: the collate step
    of a DataLoader with ``batch_size=None`` (``torch.utils.data.default_convert``).
    Everything else is returned unchanged."""
    if isinstance(data, Tensor):
        return data
    if isinstance(data, np.ndarray):
        return data if _unsupported_array(data) else Tensor(data)
    if isinstance(data, (np.bool_, np.number)):
        return Tensor(np.asarray(data))
    if isinstance(data, collections.abc.Mapping):
        return _same_mapping(data, {key: default_convert(data[key]) for key in data})
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        return _same_sequence(data, [default_convert(d) for d in data])
    return data


def _same_mapping(elem, converted):
    """``converted`` in ``elem``'s mapping type where that type can be rebuilt."""
    try:
        if isinstance(elem, collections.abc.MutableMapping):
            clone = copy.copy(elem)
            clone.update(converted)
            return clone
        return type(elem)(converted)
    except TypeError:
        return converted


def _same_sequence(elem, converted):
    try:
        if isinstance(elem, collections.abc.MutableSequence):
            clone = copy.copy(elem)
            for i, value in enumerate(converted):
                clone[i] = value
            return clone
        return type(elem)(converted)
    except TypeError:
        return converted
