"""Utilities at torch's paths (``minigrad.utils.data`` is ``torch.utils.data``). Kept
light: submodules are imported where they are used, not here. The exceptions are
``summary``, torchinfo's layer table, imported here so that ``minigrad.utils.summary`` is
the function (as ``torchinfo.summary`` is), not its module; and ``make_dot`` from
``minigrad.utils.viz`` (torchviz's picture of the tape; it imports graphviz only when
called)."""
from .summary import summary  # noqa: F401
from .viz import make_dot  # noqa: F401
