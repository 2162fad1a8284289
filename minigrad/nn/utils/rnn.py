"""Batches of sequences of different lengths, as ``torch.nn.utils.rnn``: padding them to one
length, and packing them (time-major, each step holding only the sequences still running)
for ``nn.RNN``, ``nn.LSTM`` and ``nn.GRU``. Every function is a composite of differentiable
ops (index_select, getitem, cat), so gradients flow through packing and unpacking."""
from collections import namedtuple
from collections.abc import Iterable

import numpy as np

from minigrad import ops
from minigrad.creation import full
from minigrad.tensor import Tensor

__all__ = ["PackedSequence", "invert_permutation", "pack_padded_sequence",
           "pad_packed_sequence", "pad_sequence", "unpad_sequence", "pack_sequence",
           "unpack_sequence"]


def _int64(values):
    return ops.as_tensor(np.asarray(values, dtype=np.int64))


def _ints(values):
    if isinstance(values, Tensor):
        return [int(v) for v in np.asarray(values.numpy()).reshape(-1)]
    return [int(v) for v in values]


class PackedSequence(namedtuple("PackedSequence_",
                                ["data", "batch_sizes", "sorted_indices", "unsorted_indices"])):
    """A packed batch: ``data`` (sum(batch_sizes), *) holds step 0 of every sequence, then
    step 1 of those still running, ...; ``batch_sizes`` (int64) how many at each step.
    ``sorted_indices[i]`` is the original index of the i-th longest sequence and
    ``unsorted_indices`` its inverse (both None when the batch came sorted). Made by
    ``pack_padded_sequence`` and ``pack_sequence``, not by hand."""

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        if batch_sizes is None:       # torch's legacy form: PackedSequence((data, sizes))
            data, batch_sizes = data
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args, **kwargs):
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        move = (lambda t: None if t is None else t.to(data.device))
        return type(self)(data, self.batch_sizes, move(self.sorted_indices),
                          move(self.unsorted_indices))

    def double(self):
        return self.to(dtype=np.float64)

    def float(self):
        return self.to(dtype=np.float32)

    @property
    def is_cuda(self):
        return self.data.is_cuda

    def is_pinned(self):
        return False


def invert_permutation(permutation):
    """The inverse of a permutation of 0..n-1 (None stays None)."""
    if permutation is None:
        return None
    p = np.asarray(_ints(permutation), dtype=np.int64)
    inverse = np.empty_like(p)
    inverse[p] = np.arange(p.size, dtype=np.int64)
    return _int64(inverse)


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """Stack tensors of shapes (L_i, *) into (max L, B, *) (or (B, max L, *)), filling the
    rest with ``padding_value``, after each sequence (``padding_side="right"``) or before it."""
    if not isinstance(sequences, Iterable):
        raise RuntimeError(f"pad_sequence: Expected iterable for input sequences, but got arg "
                           f"of type: {type(sequences)}")
    sequences = tuple(sequences)
    if padding_side not in ("left", "right"):
        raise ValueError(f"pad_sequence: Expected padding_side to be one of left or right, but "
                         f"got {padding_side}.")
    if not sequences:
        raise RuntimeError("pad_sequence: received an empty list of sequences")
    trailing = sequences[0].shape[1:]
    for s in sequences:
        if s.shape[1:] != trailing:
            raise RuntimeError(f"pad_sequence: every sequence must have the trailing shape "
                               f"{trailing} of the first, got one of shape {s.shape}")
    longest = max(s.shape[0] for s in sequences)
    rows = []
    for s in sequences:
        n = longest - s.shape[0]
        if n:
            fill = full((n,) + tuple(trailing), padding_value, dtype=s.dtype, device=s.device)
            s = ops.cat([s, fill] if padding_side == "right" else [fill, s])
        rows.append(s)
    return ops.stack(rows, 0 if batch_first else 1)


def unpad_sequence(padded_sequences, lengths, batch_first=False):
    """The list of sequences ``pad_sequence`` padded (right-padded)."""
    if not batch_first:
        padded_sequences = padded_sequences.transpose(0, 1)
    return [padded_sequences[i, :n] for i, n in enumerate(_ints(lengths))]


def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    """Pack a padded batch (T, B, *) (or (B, T, *)) whose sequence b has ``lengths[b]`` real
    steps. With ``enforce_sorted`` the lengths must be non-increasing; otherwise the batch is
    sorted by decreasing length and the order kept in ``sorted_indices``."""
    lengths = np.asarray(_ints(lengths), dtype=np.int64)
    if batch_first:
        input = input.transpose(0, 1)
    if lengths.ndim != 1 or lengths.size != input.shape[1]:
        raise RuntimeError(f"pack_padded_sequence: expected {input.shape[1]} lengths (one per "
                           f"sequence of the batch), got {lengths.size}")
    if enforce_sorted:
        if np.any(lengths[1:] > lengths[:-1]):
            raise RuntimeError("`lengths` array must be sorted in decreasing order when "
                               "`enforce_sorted` is True. You can pass `enforce_sorted=False` "
                               "to pack_padded_sequence and/or pack_sequence to sidestep this "
                               "requirement if you do not need ONNX exportability.")
        sorted_indices = None
    else:
        order = np.argsort(-lengths, kind="stable")
        lengths = lengths[order]
        sorted_indices = _int64(order)
        input = ops.index_select(input, 1, sorted_indices)
    if lengths.size and lengths[-1] <= 0:
        raise RuntimeError("Length of all samples has to be greater than 0, but found an "
                           "element in 'lengths' that is <= 0")
    if lengths.size and lengths[0] > input.shape[0]:
        raise RuntimeError(f"pack_padded_sequence: the longest length, {lengths[0]}, exceeds "
                           f"the {input.shape[0]} steps of the padded input")
    batch_sizes = [int((lengths > t).sum()) for t in range(int(lengths[0]) if lengths.size else 0)]
    data = ops.cat([input[t, :bs] for t, bs in enumerate(batch_sizes)])
    return PackedSequence(data, _int64(batch_sizes), sorted_indices, None)


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    """The inverse of ``pack_padded_sequence``: (padded batch, lengths), in the original
    order of the batch, padded with ``padding_value`` to ``total_length`` steps if given."""
    batch_sizes = _ints(sequence.batch_sizes)
    T, B = len(batch_sizes), batch_sizes[0]
    if total_length is not None:
        if total_length < T:
            raise ValueError(f"Expected total_length to be at least the length of the longest "
                             f"sequence in input, but got total_length={total_length} and "
                             f"max sequence length being {T}")
        T = total_length
    data = sequence.data
    trailing = tuple(data.shape[1:])
    steps = list(ops.split(data, batch_sizes, 0))
    for t, bs in enumerate(batch_sizes):
        if bs < B:
            fill = full((B - bs,) + trailing, padding_value, dtype=data.dtype,
                            device=data.device)
            steps[t] = ops.cat([steps[t], fill])
    steps += [full((B,) + trailing, padding_value, dtype=data.dtype, device=data.device)
              for _ in range(T - len(batch_sizes))]
    padded = ops.stack(steps, 0)
    sizes = np.asarray(batch_sizes)
    lengths = np.array([int((sizes > b).sum()) for b in range(B)], dtype=np.int64)
    if sequence.unsorted_indices is not None:
        padded = ops.index_select(padded, 1, sequence.unsorted_indices)
        lengths = lengths[np.asarray(_ints(sequence.unsorted_indices))]
    if batch_first:
        padded = padded.transpose(0, 1)
    return padded, _int64(lengths)


def pack_sequence(sequences, enforce_sorted=True):
    """Pack a list of tensors (L_i, *) (``pad_sequence`` then ``pack_padded_sequence``)."""
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences):
    """The list of tensors ``pack_sequence`` packed."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
