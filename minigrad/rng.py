"""The global random generators behind ``mg.randn``/``rand``/``randint``, dropout and
layer init: NumPy's on the host, and one per device drawing on the device itself (no host
draw and copy per call). ``mg.manual_seed`` reseeds all of them."""
import numpy as np

_generator = np.random.default_rng()
_seed = None
_device_generators = {}


def manual_seed(seed):
    """Reseed the global generators; the same seed gives the same numbers afterwards."""
    global _generator, _seed
    _seed = int(seed)
    _generator = np.random.default_rng(_seed)
    _device_generators.clear()


def generator(device=None):
    """The generator for ``device`` (a ``mg.device``, a name such as "cuda:0", or None
    for the host)."""
    if device is None:
        return _generator
    from minigrad.device import device as _device
    device = _device(device)
    if device.type == "cpu":
        return _generator
    key = (device.type, device.index or 0)
    gen = _device_generators.get(key)
    if gen is None:
        from minigrad import backend
        be = backend.for_device(device)   # (a clear error when there is no usable GPU)
        seed = _seed if _seed is not None else int(_generator.integers(2 ** 63))
        gen = _device_generators[key] = be.generator(seed, key[1])
    return gen
