"""``torch.utils.model_zoo``: ``load_url`` is ``minigrad.hub.load_state_dict_from_url``."""
from minigrad.hub import load_state_dict_from_url as load_url  # noqa: F401
