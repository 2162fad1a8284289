"""Utilities at torch's paths (``minigrad.utils.data`` is ``torch.utils.data``). Kept
light: submodules are imported where they are used, not here. The one exception is
``summary``, torchinfo's layer table: imported here so that ``minigrad.utils.summary`` is
the function (as ``torchinfo.summary`` is), not its module."""
from .summary import summary  # noqa: F401
