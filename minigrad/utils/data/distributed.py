"""``torch.utils.data.distributed`` at its torch path."""
from minigrad.distributed.parallel import DistributedSampler

__all__ = ["DistributedSampler"]
