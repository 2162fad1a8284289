"""Data-parallel training over MPI (PyTorch's ``torch.distributed`` names where they exist).

Launch with ``mpiexec -n 4 python train.py`` (needs ``pip install 'minigrad[mpi]'``) and
call ``init()`` first; a plain ``python train.py`` is a world of one process and works
unchanged. See the README section "Data-parallel training over MPI".
"""
from minigrad.distributed.comm import (AllReduce, all_reduce, get_rank, get_world_size, init,
                                       is_initialized, stats)
from minigrad.distributed.parallel import (DistributedDataParallel, DistributedSampler,
                                           broadcast_parameters)

__all__ = ["init", "is_initialized", "get_rank", "get_world_size", "all_reduce", "AllReduce",
           "broadcast_parameters", "DistributedDataParallel", "DistributedSampler", "stats"]
