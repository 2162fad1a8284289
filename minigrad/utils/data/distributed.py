"""``torch.utils.data.distributed`` at its torch path."""
from minigrad.data.distributed import DistributedSampler

__all__ = ["DistributedSampler"]
