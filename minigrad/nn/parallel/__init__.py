"""``minigrad.nn.parallel``: PyTorch's ``torch.nn.parallel`` names. ``DataParallel`` runs
on one device (see its module); ``DistributedDataParallel`` is minigrad's MPI data
parallelism (``minigrad.distributed``), taking PyTorch's arguments."""
from minigrad.nn.parallel.distributed import DistributedDataParallel
from minigrad.nn.parallel.data_parallel import DataParallel, data_parallel

__all__ = ["DataParallel", "DistributedDataParallel", "data_parallel"]
