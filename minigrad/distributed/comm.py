"""The process group: MPI's COMM_WORLD, or a world of one process when there is no launcher.

``init()`` imports mpi4py (which initializes MPI) and installs an excepthook that aborts
the whole job on an uncaught exception, so a failure on one rank never leaves the others
waiting forever in a collective. Without mpi4py, or before ``init()``, the world is this
one process: ``get_world_size()`` is 1 and every collective is the identity.

``all_reduce`` is a differentiable primitive: for ``y = sum_r x_r`` (the same on every
rank) and a total loss ``sum_r L_r``, ``d(sum_r L_r)/dx_q = sum_r dL_r/dy``, so its
backward is the all-reduce of the incoming gradient, written with ``all_reduce`` itself
(second derivatives work). It is marked ``collective``: the engine runs its backward on
every rank, with a zero gradient where none arrived, so the collectives always match.
"""
import os
import sys
import time
import traceback

import numpy as np

from minigrad import backend
from minigrad.autograd.graph import Primitive
from minigrad.errors import InvalidArgument
from minigrad.tensor import Tensor

_state = {"comm": None, "MPI": None, "rank": 0, "size": 1}


class stats:
    """Time spent inside MPI collectives (waiting for slower ranks included), for
    benchmarks: ``stats.seconds`` and ``stats.calls`` since the last ``stats.reset()``."""
    seconds = 0.0
    calls = 0

    @classmethod
    def reset(cls):
        cls.seconds, cls.calls = 0.0, 0


# launchers set one of these; with one of them > 1 and no mpi4py we must not go on alone
_LAUNCHER_SIZES = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MPI_LOCALNRANKS")


def init():
    """Join the MPI job (idempotent). Returns nothing; see ``get_rank``/``get_world_size``."""
    if _state["comm"] is not None:
        return
    try:
        from mpi4py import MPI
    except ImportError:
        if any(int(os.environ.get(k, "1")) > 1 for k in _LAUNCHER_SIZES):
            raise ImportError("minigrad.distributed.init: launched by mpiexec but mpi4py is "
                              "not installed; pip install 'minigrad[mpi]'") from None
        _state["comm"] = False  # a world of one process
        return
    comm = MPI.COMM_WORLD
    _state.update(comm=comm, MPI=MPI, rank=comm.Get_rank(), size=comm.Get_size())
    if _state["size"] > 1:
        sys.excepthook = _abort_on_exception


def _abort_on_exception(kind, value, tb):
    """Show the traceback, then end every rank (as ``python -m mpi4py`` does)."""
    rank = _state["rank"]
    sys.stderr.write(f"[rank {rank}] uncaught exception; aborting the MPI job\n")
    sys.stderr.write("".join(traceback.format_exception(kind, value, tb)))
    sys.stderr.flush()
    _state["comm"].Abort(1)


def is_initialized():
    return _state["comm"] is not None


def get_rank():
    return _state["rank"]


def get_world_size():
    return _state["size"]


def _comm():
    return _state["comm"] if _state["size"] > 1 else None


def allreduce_array_(a):
    """Sum the NumPy array ``a`` (C-contiguous) over ranks, in place, with no pickling."""
    comm = _comm()
    if comm is None:
        return a
    if not (isinstance(a, np.ndarray) and a.flags.c_contiguous):
        raise InvalidArgument("all_reduce: needs a C-contiguous NumPy buffer (MPI works on "
                              "host memory here)")
    start = time.perf_counter()
    comm.Allreduce(_state["MPI"].IN_PLACE, a, op=_state["MPI"].SUM)
    stats.seconds += time.perf_counter() - start
    stats.calls += 1
    return a


def broadcast_array_(a, src=0):
    comm = _comm()
    if comm is not None:
        comm.Bcast(a, root=src)
    return a


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


def all_reduce(tensor):
    """The sum of ``tensor`` over all ranks, as a new tensor (differentiable). Unlike
    PyTorch's in-place ``dist.all_reduce``, it returns the result: the tape needs the
    input's value unchanged."""
    if not isinstance(tensor, Tensor):
        raise InvalidArgument(f"all_reduce: expected a Tensor, got {type(tensor).__name__}")
    return AllReduce.apply(tensor)
