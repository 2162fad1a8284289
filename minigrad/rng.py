"""The global random generators behind ``mg.randn``/``rand``/``randint``, dropout and
layer init, as ``torch.random``: ``default_generator`` on the host, and one per device
drawing on the device itself (no host draw and copy per call). ``manual_seed`` reseeds
all of them. As in PyTorch, a process starts from a seed of its own (``initial_seed``),
so runs differ until ``manual_seed`` is called."""
import contextlib

import numpy as np

_device_generators = {}


def manual_seed(seed):
    """Reseed every global generator with ``seed`` (an integer in [-2**63, 2**64); a
    negative one is taken modulo 2**64, as in torch) and return ``default_generator``."""
    default_generator.manual_seed(seed)
    _device_generators.clear()
    return default_generator


def seed():
    """Reseed every global generator from the operating system's entropy; return the seed."""
    new = default_generator.seed()
    _device_generators.clear()
    return new


def initial_seed():
    """The seed the host generator was last seeded with."""
    return default_generator.initial_seed()


def get_rng_state():
    """The host generator's state, a uint8 tensor for ``set_rng_state``."""
    return default_generator.get_state()


def set_rng_state(new_state):
    """Restore the host generator to a state from ``get_rng_state``."""
    default_generator.set_state(new_state)


@contextlib.contextmanager
def fork_rng(devices=None, enabled=True, device_type="cuda"):
    """Run a block and then put the host generator back as it was (torch's
    ``torch.random.fork_rng``). Device generators are left alone: ``devices`` and
    ``device_type`` are accepted for PyTorch code, and only the host state is forked."""
    if not enabled:
        yield
        return
    state = get_rng_state()
    try:
        yield
    finally:
        set_rng_state(state)


# While ``func.vmap`` runs a function, its randomness mode decides where draws come from
# (an object with ``draw(device, generator)``); None otherwise.
scope = None


def generator(device=None, generator=None):
    """The generator to draw from: ``generator``'s when one is given (a ``mg.Generator``),
    else the global one for ``device`` (a ``mg.device``, a name such as "cuda:0", or None
    for the host)."""
    if scope is not None:
        return scope.draw(device, generator)
    return _generator_for(device, generator)


def _generator_for(device, generator):
    if generator is not None:
        if not isinstance(generator, Generator):
            raise TypeError(f"generator: expected a minigrad.Generator, got "
                            f"{type(generator).__name__}")
        if device is not None and _device_type(device) != generator.device.type:
            raise RuntimeError(f"Expected a '{_device_type(device)}' device type for "
                               f"generator but found '{generator.device.type}'")
        return generator._draw
    if device is None:
        return default_generator._draw
    from minigrad.device import device as _device
    device = _device(device)
    if device.type == "cpu":
        return default_generator._draw
    key = (device.type, device.index or 0)
    gen = _device_generators.get(key)
    if gen is None:
        from minigrad import backend
        be = backend.for_device(device)   # (a clear error when there is no usable GPU)
        gen = _device_generators[key] = be.generator(default_generator.initial_seed(), key[1])
    return gen


def _device_type(device):
    from minigrad.device import device as _device
    return _device(device).type


_DEFAULT_SEED = 67280421310721   # what a new torch.Generator reports as its initial seed


class Generator:
    """PyTorch's ``torch.Generator``: a random generator of one's own, to pass as
    ``generator=`` to the random functions, samplers, ``random_split`` and ``DataLoader``
    instead of drawing from the global one. ``manual_seed`` returns the generator itself,
    so ``mg.Generator().manual_seed(42)`` reads as in torch.

    It wraps a NumPy (or, on a GPU, CuPy) generator, so a seed gives the same numbers on
    every run, but not the numbers torch's Mersenne Twister gives for that seed.
    """

    def __init__(self, device="cpu"):
        from minigrad.device import device as _device
        self.device = _device(device)
        self.manual_seed(_DEFAULT_SEED)

    def manual_seed(self, seed):
        seed = int(seed)
        if not -(2 ** 63) <= seed < 2 ** 64:
            raise ValueError(f"Generator.manual_seed: seed must be within [-2**63, 2**64), "
                             f"got {seed}")
        self._seed = seed % 2 ** 64
        if self.device.type == "cpu":
            self._draw = np.random.default_rng(self._seed)
        else:
            from minigrad import backend
            self._draw = backend.for_device(self.device).generator(
                self._seed, self.device.index or 0)
        return self

    def seed(self):
        """Reseed from the operating system's entropy; return the new seed."""
        new = int(np.random.SeedSequence().generate_state(1, np.uint64)[0])
        self.manual_seed(new)
        return new

    def initial_seed(self):
        return self._seed

    def get_state(self):
        """The generator's state, as a uint8 tensor (torch's form) to give ``set_state``."""
        import json
        from minigrad.tensor import Tensor
        if self.device.type != "cpu":
            raise RuntimeError("Generator.get_state: only CPU generators can be saved")
        state = json.dumps(self._draw.bit_generator.state).encode()
        return Tensor(np.frombuffer(state, dtype=np.uint8).copy())

    def set_state(self, new_state):
        import json
        from minigrad.tensor import Tensor
        if self.device.type != "cpu":
            raise RuntimeError("Generator.set_state: only CPU generators can be restored")
        array = new_state.array if isinstance(new_state, Tensor) else np.asarray(new_state)
        if array.dtype != np.uint8 or array.ndim != 1:
            raise RuntimeError(f"Generator.set_state: expected a 1-d uint8 tensor from "
                               f"get_state(), got dtype {array.dtype} and shape {array.shape}")
        try:
            state = json.loads(array.tobytes().decode())
            self._draw.bit_generator.state = state
        except (ValueError, TypeError, KeyError) as e:
            raise RuntimeError(f"Generator.set_state: not a state from get_state() ({e})") \
                from None
        return self

    def __repr__(self):
        return f"<minigrad.Generator object on {self.device}>"


default_generator = Generator()
default_generator.seed()
