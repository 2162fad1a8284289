"""Weight normalization (Salimans & Kingma, 2016) with ``torch.nn.utils.weight_norm``'s
interface: ``w = g * v / ||v||``, the norm taken over every dimension but ``dim``.

The parameter ``name`` is replaced by ``name_g`` (the magnitudes) and ``name_v`` (the
direction); a forward pre-hook recomputes ``name`` from them before every forward, so its
gradient reaches g and v through the engine (a composite of *, /, sum and sqrt).
"""
from minigrad.nn.parameter import Parameter
from minigrad.tensor import Tensor


def norm_except_dim(v, dim):
    """The 2-norm of ``v`` over every dimension but ``dim``, keeping dimensions (PyTorch's
    ``norm_except_dim``); ``dim=-1`` (PyTorch's convention, also what None becomes) is the
    norm of the whole tensor, 0-d."""
    squares = v * v
    if dim == -1:
        return squares.sum().sqrt()
    if not -v.ndim <= dim < v.ndim:
        raise IndexError(f"Dimension out of range (expected to be in range of "
                         f"[{-v.ndim}, {v.ndim - 1}], but got {dim})")
    dim %= v.ndim
    others = tuple(d for d in range(v.ndim) if d != dim)
    if others:
        squares = squares.sum(dim=others, keepdim=True)
    return squares.sqrt()


def _weight_norm(v, g, dim):
    return v * (g / norm_except_dim(v, dim))


class WeightNorm:
    """The forward pre-hook that recomputes ``module.<name>`` from ``<name>_g`` and
    ``<name>_v``."""

    def __init__(self, name, dim):
        self.name = name
        self.dim = -1 if dim is None else dim

    def compute_weight(self, module):
        return _weight_norm(getattr(module, self.name + "_v"), getattr(module, self.name + "_g"),
                            self.dim)

    @staticmethod
    def apply(module, name, dim):
        for hook in module._forward_pre_hooks.values():
            if isinstance(hook, WeightNorm) and hook.name == name:
                raise RuntimeError(f"Cannot register two weight_norm hooks on the same "
                                   f"parameter {name}")
        fn = WeightNorm(name, dim)
        weight = getattr(module, name)
        if not isinstance(weight, Tensor):
            raise TypeError(f"weight_norm: '{name}' of {type(module).__name__} is not a tensor")
        del module._parameters[name]
        module.register_parameter(name + "_g",
                                  Parameter(norm_except_dim(weight.detach(), fn.dim).array))
        module.register_parameter(name + "_v", Parameter(weight.array))
        setattr(module, name, fn.compute_weight(module))
        module.register_forward_pre_hook(fn)
        return fn

    def remove(self, module):
        weight = self.compute_weight(module)
        delattr(module, self.name)
        del module._parameters[self.name + "_g"]
        del module._parameters[self.name + "_v"]
        setattr(module, self.name, Parameter(weight.array))

    def __call__(self, module, inputs):
        setattr(module, self.name, self.compute_weight(module))


def weight_norm(module, name="weight", dim=0):
    """Reparametrize ``module.<name>`` as ``g * v / ||v||`` (norm over every dimension but
    ``dim``; ``dim=None`` or -1: over the whole tensor, g a scalar). Adds the parameters
    ``<name>_g`` and ``<name>_v`` (state_dict keys too) and returns ``module``."""
    WeightNorm.apply(module, name, dim)
    return module


def remove_weight_norm(module, name="weight"):
    """Undo ``weight_norm``: ``<name>`` becomes a plain parameter again, holding the
    current ``g * v / ||v||``."""
    for key, hook in module._forward_pre_hooks.items():
        if isinstance(hook, WeightNorm) and hook.name == name:
            hook.remove(module)
            del module._forward_pre_hooks[key]
            return module
    raise ValueError(f"weight_norm of '{name}' not found in {module}")
