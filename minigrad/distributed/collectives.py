"""PyTorch's ``torch.distributed`` collectives on tensors, through MPI: ``all_reduce``,
``broadcast``, ``all_gather`` and ``barrier``, in place as in PyTorch and outside autograd
(``minigrad.distributed.nn.functional.all_reduce`` is the differentiable one).

MPI works on host memory: a tensor on a GPU is copied to the host and back. The
reduction ops are those of PyTorch's gloo backend (its CPU collectives): SUM, PRODUCT,
MIN, MAX, AVG (floating tensors), and BAND, BOR, BXOR (integer and bool tensors).
``group`` must be None (minigrad has one group: every rank). With ``async_op=True`` the
call still completes before it returns, and returns a finished ``Work``.
"""
import enum

import numpy as np

from minigrad import backend
from minigrad.autograd.graph import mark_write, version_counter
from minigrad.distributed.comm import (allgather_array, allreduce_array_, barrier_,
                                       broadcast_array_, get_rank, get_world_size)
from minigrad.tensor import Tensor


class ReduceOp(enum.Enum):
    """How ``all_reduce`` combines the ranks' values (PyTorch's ``ReduceOp``)."""
    SUM = 0
    AVG = 1
    PRODUCT = 2
    MIN = 3
    MAX = 4
    BAND = 5
    BOR = 6
    BXOR = 7

    def __repr__(self):
        return f"<RedOpType.{self.name}: {self.value}>"


ReduceOp.RedOpType = ReduceOp   # (PyTorch's spelling ReduceOp.RedOpType.SUM)

_MPI_OPS = {ReduceOp.SUM: "SUM", ReduceOp.AVG: "SUM", ReduceOp.PRODUCT: "PROD",
            ReduceOp.MIN: "MIN", ReduceOp.MAX: "MAX", ReduceOp.BAND: "BAND",
            ReduceOp.BOR: "BOR", ReduceOp.BXOR: "BXOR"}


class Work:
    """A finished collective: what ``async_op=True`` returns (minigrad's collectives
    complete before returning)."""

    def wait(self, timeout=None):
        return True

    def is_completed(self):
        return True

    def is_success(self):
        return True


def _check(what, tensor, group):
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{what}: expected a Tensor, got {type(tensor).__name__}")
    if group is not None:
        raise ValueError(f"{what}: minigrad has one process group (every rank); pass "
                         f"group=None")


def _done(async_op):
    return Work() if async_op else None


def _host_copy(tensor):
    """A C-contiguous host copy of ``tensor``'s values (MPI reads host memory)."""
    return np.array(backend.to_host(tensor.array), order="C")


def _write(tensor, host):
    """Store ``host`` into ``tensor`` in place, on the tensor's device, off the tape (as
    any in-place write, it bumps the version: a saved value it changes is detected)."""
    a = tensor.array
    if not isinstance(a, np.ndarray):
        host = backend.move(host, tensor.device)
    a[...] = host
    version_counter(tensor)[0] += 1
    mark_write()


def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduce ``tensor`` over all ranks with ``op``, in place: afterwards every rank holds
    the same result. Returns None (a finished ``Work`` with ``async_op``)."""
    _check("all_reduce", tensor, group)
    if not isinstance(op, ReduceOp):
        raise TypeError(f"all_reduce: op must be a ReduceOp, got {op!r}")
    kind = tensor.array.dtype.kind
    if op in (ReduceOp.BAND, ReduceOp.BOR, ReduceOp.BXOR) and kind not in "biu":
        raise RuntimeError(f"Cannot use ReduceOp.{op.name} with non-integral dtype")
    if op is ReduceOp.AVG and kind != "f":
        raise RuntimeError(f"all_reduce: ReduceOp.AVG needs a floating point tensor, got "
                           f"{tensor.dtype!r}")
    if get_world_size() == 1:
        return _done(async_op)
    buf = _host_copy(tensor)
    if kind == "b":   # (as 0/1 bytes: sum and max are "or", product and min "and")
        reduced = allreduce_array_(buf.astype(np.uint8), _MPI_OPS[op]) != 0
    else:
        reduced = allreduce_array_(buf, _MPI_OPS[op])
    if op is ReduceOp.AVG:
        reduced /= get_world_size()
    _write(tensor, reduced)
    return _done(async_op)


def broadcast(tensor, src, group=None, async_op=False, group_src=None):
    """Give every rank the ``src`` rank's values of ``tensor``, in place."""
    _check("broadcast", tensor, group)
    src = src if group_src is None else group_src
    if not 0 <= src < get_world_size():
        raise ValueError(f"broadcast: src {src} is not a rank of this world of "
                         f"{get_world_size()}")
    if get_world_size() > 1:
        _write(tensor, broadcast_array_(_host_copy(tensor), src))
    return _done(async_op)


def all_gather(tensor_list, tensor, group=None, async_op=False):
    """Fill ``tensor_list`` (one tensor per rank, each of ``tensor``'s shape and dtype)
    with every rank's ``tensor``, in rank order, on every rank."""
    _check("all_gather", tensor, group)
    world = get_world_size()
    if len(tensor_list) != world:
        raise RuntimeError(f"all_gather: invalid output tensor list (expected length {world}, "
                           f"got {len(tensor_list)})")
    for i, t in enumerate(tensor_list):
        if not isinstance(t, Tensor):
            raise TypeError(f"all_gather: tensor_list[{i}] is a {type(t).__name__}, not a "
                            f"Tensor")
        if t.shape != tensor.shape or t.dtype != tensor.dtype:
            raise RuntimeError(f"all_gather: invalid tensor at index {i} (expected shape "
                               f"{tuple(tensor.shape)} and dtype {tensor.dtype!r}, got "
                               f"{tuple(t.shape)} and {t.dtype!r})")
    gathered = allgather_array(_host_copy(tensor))
    for t, values in zip(tensor_list, gathered):
        _write(t, values)
    return _done(async_op)


def barrier(group=None, async_op=False, device_ids=None):
    """Wait until every rank has reached this call."""
    if group is not None:
        raise ValueError("barrier: minigrad has one process group (every rank); pass "
                         "group=None")
    barrier_()
    return _done(async_op)


__all__ = ["ReduceOp", "Work", "all_gather", "all_reduce", "barrier", "broadcast",
           "get_rank"]
