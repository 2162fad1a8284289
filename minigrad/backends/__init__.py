"""``mg.backends``: the switches of PyTorch's ``torch.backends`` that scripts set or test
(``cudnn``, ``mps``), so those scripts run unchanged. minigrad has neither cuDNN nor
Metal: each module says what its switches do here. (Not to be confused with
``minigrad.backend``, the array libraries that run minigrad's kernels.)"""
from minigrad.backends import cudnn, mps

__all__ = ["cudnn", "mps"]
