"""Differentiable collectives (PyTorch's ``torch.distributed.nn.functional``).

``all_reduce`` returns the sum over ranks as a new tensor, recorded on the tape: for
``y = sum_r x_r`` (the same on every rank) and a total loss ``sum_r L_r``,
``d(sum_r L_r)/dx_q = sum_r dL_r/dy``, so its backward is the all-reduce of the incoming
gradient, written with ``all_reduce`` itself (second derivatives work). The primitive is
marked ``collective``: the engine runs its backward on every rank, with a zero gradient
where none arrived, so the collectives always match.
"""
from minigrad import backend
from minigrad.autograd.graph import Primitive
from minigrad.distributed.collectives import ReduceOp
from minigrad.distributed.comm import allreduce_array_
from minigrad.errors import InvalidArgument
from minigrad.tensor import Tensor


class AllReduce(Primitive):
    """Sum over ranks; the same result on every rank. Backward: all_reduce(g)."""
    op_name = "all_reduce"
    collective = True

    @staticmethod
    def forward(ctx, x):
        return allreduce_array_(backend.of(x).xp.array(x, order="C"))  # a copy, summed

    @staticmethod
    def backward(ctx, g):
        return all_reduce(g)


def all_reduce(tensor, op=ReduceOp.SUM, group=None):
    """The sum of ``tensor`` over all ranks, as a new tensor (differentiable); ``tensor``
    is unchanged. Only ``ReduceOp.SUM``, whose gradient rule is exact (PyTorch applies
    the same rule to every op, which is wrong for the others)."""
    if not isinstance(tensor, Tensor):
        raise InvalidArgument(f"all_reduce: expected a Tensor, got {type(tensor).__name__}")
    if op is not ReduceOp.SUM:
        raise InvalidArgument(f"distributed.nn.functional.all_reduce: only ReduceOp.SUM is "
                              f"differentiable here, got {op!r}")
    if group is not None:
        raise InvalidArgument("all_reduce: minigrad has one process group (every rank); pass "
                              "group=None")
    return AllReduce.apply(tensor)


__all__ = ["all_reduce"]
