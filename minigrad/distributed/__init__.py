"""Data-parallel training over MPI, with PyTorch's ``torch.distributed`` names.

Launch with ``mpiexec -n 4 python train.py`` (needs ``pip install 'minigrad[mpi]'``) and
call ``init_process_group("mpi")`` (or minigrad's ``init()``) first; a plain
``python train.py`` is a world of one process and works unchanged. The collectives
(``all_reduce``, ``broadcast``, ``all_gather``, ``barrier``) work in place as PyTorch's;
``distributed.nn.functional.all_reduce`` is the differentiable one. See
docs/distributed.md.
"""
from minigrad.distributed.comm import (destroy_process_group, get_backend, get_rank,
                                       get_world_size, init, init_process_group, is_available,
                                       is_initialized, stats)
from minigrad.distributed.collectives import (ReduceOp, Work, all_gather, all_reduce, barrier,
                                              broadcast)
from minigrad.distributed import nn
from minigrad.distributed.nn.functional import AllReduce

__all__ = ["init", "init_process_group", "destroy_process_group", "is_available",
           "is_initialized", "get_backend", "get_rank", "get_world_size", "ReduceOp", "Work",
           "all_reduce", "broadcast", "all_gather", "barrier", "AllReduce", "nn",
           "broadcast_parameters", "DistributedDataParallel", "DistributedSampler", "stats"]


# DistributedDataParallel wraps Modules and DistributedSampler feeds loaders, so both live
# with their families, above this package (``nn.parallel``, ``data``), and are looked up
# here on first use: importing ``minigrad.distributed`` never imports ``nn``.
_ABOVE = {"DistributedDataParallel": "minigrad.nn.parallel.distributed",
          "broadcast_parameters": "minigrad.nn.parallel.distributed",
          "DistributedSampler": "minigrad.data.distributed"}


def __getattr__(name):
    if name in _ABOVE:
        import importlib
        return getattr(importlib.import_module(_ABOVE[name]), name)
    raise AttributeError(f"module 'minigrad.distributed' has no attribute '{name}'")


def __dir__():
    return sorted(set(globals()) | set(_ABOVE))
