"""Utilities at torch's paths (``minigrad.utils.data`` is ``torch.utils.data``). Kept
light: submodules are imported where they are used, not here."""
