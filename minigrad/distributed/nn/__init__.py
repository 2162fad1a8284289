"""``minigrad.distributed.nn``: PyTorch's ``torch.distributed.nn`` (differentiable
collectives)."""
from minigrad.distributed.nn import functional

__all__ = ["functional"]
