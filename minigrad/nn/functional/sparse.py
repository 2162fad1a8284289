"""Sparse functions (PyTorch's grouping): embeddings, bags of embeddings and one-hot
encoding."""

import numpy as np

from minigrad import ops
from minigrad.ops._common import constant, xp_of
from minigrad.tensor import Tensor


def embedding(input, weight, padding_idx=None):
    """Rows of ``weight`` picked by the integer ``input``; the ``padding_idx`` row gets no
    gradient (its lookups are constants)."""
    idx = input.array if isinstance(input, Tensor) else np.asarray(input)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"embedding: expected an integer index tensor, got {idx.dtype}")
    if weight.ndim != 2:
        raise ValueError(f"embedding: weight must be 2-D, got shape {weight.shape}")
    n = weight.shape[0]
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise IndexError(f"embedding: index out of range in self (indices must be in "
                         f"[0, {n}), got min {idx.min()} max {idx.max()})")
    out = weight[Tensor._make(idx)]
    if padding_idx is not None:
        if padding_idx < 0:
            padding_idx += n
        mask = xp_of(idx).expand_dims(idx == padding_idx, -1)
        if mask.any():
            out = ops.where(constant(mask), out.detach(), out)
    return out


def one_hot(tensor, num_classes=-1):
    """An int64 tensor of shape ``tensor.shape + (num_classes,)``, 1 at each value's class;
    ``num_classes=-1`` takes the largest value plus one."""
    idx = tensor.array if isinstance(tensor, Tensor) else np.asarray(tensor)
    if idx.dtype != np.int64:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    xp = xp_of(idx)
    if num_classes == -1:
        if idx.size == 0:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
        num_classes = int(idx.max()) + 1
    if idx.size:
        if int(idx.min()) < 0:
            raise RuntimeError("Class values must be non-negative.")
        if int(idx.max()) >= num_classes:
            raise RuntimeError("Class values must be smaller than num_classes.")
    return constant((idx[..., None] == xp.arange(num_classes)).astype(np.int64))


def _bags(op, input, offsets, include_last_offset):
    """(flat indices, bag of each, number of bags) for 2-D input or 1-D input + offsets."""
    idx = input.array if isinstance(input, Tensor) else np.asarray(input)
    if idx.dtype.kind not in "iu":
        raise RuntimeError(f"{op}: Expected tensor for argument #1 'indices' to have one of the "
                           f"following scalar types: Long, Int; but got {idx.dtype} instead")
    xp = xp_of(idx)
    if idx.ndim == 2:
        if offsets is not None:
            raise ValueError(f"{op}: if input is 2D, then offsets has to be None, as input is "
                             f"treated is a mini-batch of fixed length sequences. However, "
                             f"found offsets of type {type(offsets).__name__}")
        B, L = idx.shape
        return idx.reshape(-1), xp.repeat(xp.arange(B), L), B
    if idx.ndim != 1:
        raise ValueError(f"{op}: input has to be 1D or 2D Tensor, but got Tensor of dimension "
                         f"{idx.ndim}")
    if offsets is None:
        raise ValueError(f"{op}: offsets has to be a 1D Tensor but got None")
    off = offsets.array if isinstance(offsets, Tensor) else np.asarray(offsets)
    if off.ndim != 1 or off.dtype.kind not in "iu":
        raise ValueError(f"{op}: offsets has to be a 1D integer Tensor, got shape "
                         f"{tuple(off.shape)} of {off.dtype}")
    N = idx.shape[0]
    if off.size and int(off[0]) != 0:
        raise RuntimeError(f"{op}: offsets[0] has to be 0, i.e., the first sequence in the "
                           f"mini-batch has to start from position 0. However, got "
                           f"{int(off[0])}")
    if off.size and int(off[-1]) > N:
        raise RuntimeError(f"{op}: offsets[-1] can not be greater than input's length {N} but "
                           f"got offsets[-1] of {int(off[-1])}")
    if include_last_offset and (not off.size or int(off[-1]) != N):
        raise ValueError(f"{op}: with include_last_offset=True the last offset ends the last "
                         f"bag and must be the input's length {N}, got offsets "
                         f"{off.tolist()} (PyTorch's results are inconsistent there)")
    if off.size > 1 and bool((off[1:] < off[:-1]).any()):
        raise RuntimeError(f"{op}: offsets must be non-decreasing, got {off.tolist()}")
    B = off.shape[0] - 1 if include_last_offset else off.shape[0]
    bag = xp.searchsorted(off[:B], xp.arange(N), side="right") - 1
    return idx, bag, B


def embedding_bag(input, weight, offsets=None, max_norm=None, norm_type=2,
                  scale_grad_by_freq=False, mode="mean", sparse=False, per_sample_weights=None,
                  include_last_offset=False, padding_idx=None):
    """Sums, means or maxima of bags of embedding rows, as PyTorch's: bags are the rows of a
    2-D ``input``, or the slices of a 1-D one that ``offsets`` start; ``per_sample_weights``
    scale the rows (mode 'sum' only); entries equal to ``padding_idx`` are left out (and not
    counted in a mean); an empty bag gives zeros. In 'max' mode the gradient goes to the
    first row holding each maximum. Gathers and scatter-adds, so gradients (weights and
    per_sample_weights) come from the engine."""
    op = "embedding_bag"
    if mode not in ("sum", "mean", "max"):
        raise ValueError("mode has to be one of sum, mean or max")
    if max_norm is not None or scale_grad_by_freq or sparse:
        raise NotImplementedError(f"{op}: max_norm, scale_grad_by_freq and sparse are not "
                                  f"supported")
    if per_sample_weights is not None and mode != "sum":
        raise NotImplementedError(f"{op}: per_sample_weights was not None. per_sample_weights "
                                  f"is only supported for mode='sum' (got mode='{mode}'). "
                                  f"Please open a feature request on the Pytorch GitHub.")
    if weight.ndim != 2:
        raise ValueError(f"{op}: weight has to be a 2D Tensor, but got Tensor of dimension "
                         f"{weight.ndim}")
    idx, bag, B = _bags(op, input, offsets, include_last_offset)
    n, D = weight.shape
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= n):
        bad = int(idx.min()) if int(idx.min()) < 0 else int(idx.max())
        raise IndexError(f"{op}: index {bad} is not in the valid range [0, {n})")
    xp = xp_of(idx)
    keep = bag >= 0
    if padding_idx is not None:
        keep &= idx != (padding_idx % n)
    idx, bag = idx[keep], bag[keep]
    rows = weight[Tensor._make(idx)]                                       # (K, D)
    if per_sample_weights is not None:
        psw = per_sample_weights.reshape(-1)
        if psw.shape[0] != keep.shape[0]:
            raise ValueError(f"{op}: per_sample_weights must have the shape of input "
                             f"({keep.shape[0]} entries), got {tuple(per_sample_weights.shape)}")
        rows = rows * ops.unsqueeze(psw[Tensor._make(xp.nonzero(keep)[0])], -1)
    zeros = constant(xp.zeros((B, D), dtype=weight.array.dtype))
    if mode != "max":
        where = constant(xp.broadcast_to(bag[:, None], (bag.shape[0], D)))
        out = ops.scatter_add(zeros, 0, where, rows)
        if mode == "mean":
            count = xp.bincount(bag, minlength=B)[:B] if bag.size else xp.zeros(B, np.int64)
            out = out / constant(xp.maximum(count, 1).astype(weight.array.dtype)[:, None])
        return out
    if bag.size == 0:
        return zeros
    # max: the first row of each bag holding the maximum of each column, gathered
    order = xp.argsort(bag, kind="stable")
    bag, rows_sorted = bag[order], rows[Tensor._make(order)]
    values = rows_sorted.array
    best = xp.full((B, D), -xp.inf, dtype=values.dtype)
    xp.maximum.at(best, bag, values)
    hit = values == best[bag]
    pos = xp.arange(bag.shape[0])[:, None]
    first = xp.full((B, D), bag.shape[0], dtype=np.int64)
    xp.minimum.at(first, bag, xp.where(hit, pos, bag.shape[0]))
    filled = first < bag.shape[0]
    pick = constant(xp.where(filled, first, 0))
    out = ops.gather(rows_sorted, 0, pick)
    return ops.where(constant(filled), out, 0.0)
