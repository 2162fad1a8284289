"""``torch.random``'s names: the global generator and its seed and state."""
from minigrad.rng import (Generator, default_generator, fork_rng, get_rng_state,
                          initial_seed, manual_seed, seed, set_rng_state)

__all__ = ["Generator", "default_generator", "fork_rng", "get_rng_state", "initial_seed",
           "manual_seed", "seed", "set_rng_state"]
