"""``nn.utils.prune``: PyTorch's pruning. Pruning ``module.<name>`` keeps the Parameter as
``<name>_orig``, adds a buffer ``<name>_mask`` (ones where kept, zeros where pruned, in the
parameter's dtype) and makes ``<name>`` the plain attribute ``<name>_mask * <name>_orig``,
recomputed by a forward pre-hook (the pruning method itself) before every call, so the
pruned entries get zero gradient and the optimizer goes on updating ``<name>_orig``.
Pruning again combines the methods in a ``PruningContainer``: each new method acts only
on the entries (or channels) still unpruned. ``remove`` makes the pruning permanent.

A method is a ``BasePruningMethod`` subclass with a ``PRUNING_TYPE`` ("unstructured",
"structured" with a ``dim``, or "global") and ``compute_mask(t, default_mask)``, which
receives and returns Tensors. Random methods draw from minigrad's generator
(``mg.manual_seed``), so for a given seed they prune other entries than PyTorch's; the
number pruned and where they can be (the unpruned ones) are the same.
"""
import numbers
from abc import ABC, abstractmethod
from collections.abc import Iterable

from minigrad import backend, creation, dtypes
from minigrad.autograd.grad_mode import no_grad
from minigrad.tensor import Tensor

__all__ = ["BasePruningMethod", "PruningContainer", "Identity", "RandomUnstructured",
           "L1Unstructured", "RandomStructured", "LnStructured", "CustomFromMask",
           "identity", "random_unstructured", "l1_unstructured", "random_structured",
           "ln_structured", "global_unstructured", "custom_from_mask", "remove", "is_pruned"]


def _xp(t):
    return backend.of(t.array).xp


def _tensor(array):
    return Tensor._make(array)


class BasePruningMethod(ABC):
    """What every pruning method shares: computing the pruned tensor from the mask, adding
    the reparametrization to a module (``apply``), and undoing it (``remove``)."""

    _tensor_name = None

    def __call__(self, module, inputs):
        """The forward pre-hook: ``module.<name> = <name>_mask * <name>_orig``."""
        setattr(module, self._tensor_name, self.apply_mask(module))

    @abstractmethod
    def compute_mask(self, t, default_mask):
        """The mask for ``t`` (importance scores of the tensor's entries), on top of
        ``default_mask`` (ones where nothing is pruned yet)."""

    def apply_mask(self, module):
        """The pruned tensor: the mask times the original (differentiable in the original)."""
        if self._tensor_name is None:
            raise AssertionError(f"Module {module} has to be pruned")
        mask = getattr(module, self._tensor_name + "_mask")
        orig = getattr(module, self._tensor_name + "_orig")
        return mask.to(dtype=orig.dtype) * orig

    @classmethod
    def apply(cls, module, name, *args, importance_scores=None, **kwargs):
        """Prune ``module.<name>`` with ``cls(*args, **kwargs)`` (combined with the methods
        already pruning it) and add the reparametrization and the hook; returns the method
        now in the hook."""
        found = [(k, hook) for k, hook in module._forward_pre_hooks.items()
                 if isinstance(hook, BasePruningMethod) and hook._tensor_name == name]
        if len(found) > 1:
            raise AssertionError(f"Avoid adding multiple pruning hooks to the same tensor "
                                 f"{name} of module {module}. Use a PruningContainer.")
        for k, _ in found:
            del module._forward_pre_hooks[k]
        method = cls(*args, **kwargs)
        method._tensor_name = name
        if found:
            old = found[0][1]
            if isinstance(old, PruningContainer):
                old.add_pruning_method(method)
                method = old
            else:
                container = PruningContainer(old)
                container.add_pruning_method(method)
                method = container
        orig = getattr(module, name)
        if importance_scores is not None:
            if importance_scores.shape != orig.shape:
                raise AssertionError(f"importance_scores should have the same shape as "
                                     f"parameter {name} of {module}, got "
                                     f"{importance_scores.shape} vs {orig.shape}")
        else:
            importance_scores = orig
        first = not isinstance(method, PruningContainer)
        if first:
            module.register_parameter(name + "_orig", orig)
            del module._parameters[name]
            default_mask = _tensor(_xp(orig).ones_like(orig.array))
        else:
            default_mask = _tensor(getattr(module, name + "_mask").array.copy())
        try:
            with no_grad():
                mask = method.compute_mask(importance_scores.detach(), default_mask=default_mask)
            module.register_buffer(name + "_mask", mask)
            setattr(module, name, method.apply_mask(module))
            module.register_forward_pre_hook(method)
        except Exception:
            if first:   # (leave the module as it was)
                orig = getattr(module, name + "_orig")
                module.register_parameter(name, orig)
                del module._parameters[name + "_orig"]
            raise
        return method

    def prune(self, t, default_mask=None, importance_scores=None):
        """``t`` with this method's mask applied (``default_mask``: ones by default)."""
        if importance_scores is not None:
            if importance_scores.shape != t.shape:
                raise AssertionError(f"importance_scores should have the same shape as tensor "
                                     f"t, got {importance_scores.shape} vs {t.shape}")
        else:
            importance_scores = t
        if default_mask is None:
            default_mask = _tensor(_xp(t).ones_like(t.array))
        with no_grad():
            mask = self.compute_mask(importance_scores.detach(), default_mask=default_mask)
        return t * mask

    def remove(self, module):
        """Make the pruning permanent: ``<name>`` becomes a Parameter again (the same object
        as ``<name>_orig``), holding the pruned values; the mask and the original go."""
        if self._tensor_name is None:
            raise AssertionError(f"Module {module} has to be pruned before pruning can be "
                                 f"removed")
        with no_grad():
            weight = self.apply_mask(module)
        if self._tensor_name in module.__dict__:
            delattr(module, self._tensor_name)
        orig = module._parameters[self._tensor_name + "_orig"]
        orig.array = weight.array
        del module._parameters[self._tensor_name + "_orig"]
        del module._buffers[self._tensor_name + "_mask"]
        setattr(module, self._tensor_name, orig)


class PruningContainer(BasePruningMethod):
    """The pruning methods applied to one tensor, in order; its mask is that of the last
    method, computed on what the earlier ones left: the unpruned entries
    ("unstructured"), the unpruned channels ("structured") or everything ("global")."""

    def __init__(self, *args):
        self._pruning_methods = ()
        if len(args) == 1:
            self._tensor_name = args[0]._tensor_name
            self.add_pruning_method(args[0])
        else:
            for method in args:
                self.add_pruning_method(method)

    def add_pruning_method(self, method):
        if not isinstance(method, BasePruningMethod) and method is not None:
            raise TypeError(f"{type(method)} is not a BasePruningMethod subclass")
        if method is not None:
            if self._tensor_name is None and not self._pruning_methods:
                self._tensor_name = method._tensor_name
            elif self._tensor_name != method._tensor_name:
                raise ValueError(f"Can only add pruning methods acting on the parameter named "
                                 f"'{self._tensor_name}' to PruningContainer {self}. Found "
                                 f"'{method._tensor_name}'")
        self._pruning_methods += (method,)

    def __len__(self):
        return len(self._pruning_methods)

    def __iter__(self):
        return iter(self._pruning_methods)

    def __getitem__(self, idx):
        return self._pruning_methods[idx]

    def compute_mask(self, t, default_mask):
        method = self._pruning_methods[-1]
        mask = default_mask.array.astype(t.array.dtype, copy=False)
        kind = method.PRUNING_TYPE
        if kind == "unstructured":
            where = mask == 1
        elif kind == "structured":
            if not hasattr(method, "dim"):
                raise AttributeError('Pruning methods of PRUNING_TYPE "structured" need to have '
                                     'the attribute `dim` defined.')
            ndim, dim = t.ndim, method.dim
            if dim < 0:
                dim += ndim
            if dim < 0:
                raise IndexError(f"Index is out of bounds for tensor with dimensions {ndim}")
            others = tuple(d for d in range(ndim) if d != dim)
            where = [slice(None)] * ndim
            where[dim] = mask.sum(axis=others) != 0
            where = tuple(where)
        elif kind == "global":
            where = (slice(None),) * t.ndim
        else:
            raise ValueError(f"Unrecognized PRUNING_TYPE {kind}")
        partial = method.compute_mask(_tensor(t.array[where]), default_mask=_tensor(mask[where]))
        mask[where] = partial.array.astype(mask.dtype, copy=False)
        return _tensor(mask)


# ---------------------------------------------------------------- the methods
def _validate_amount_init(amount):
    if not isinstance(amount, numbers.Real):
        raise TypeError(f"Invalid type for amount: {amount}. Must be int or float.")
    if (isinstance(amount, numbers.Integral) and amount < 0) or (
            not isinstance(amount, numbers.Integral) and not 0.0 <= float(amount) <= 1.0):
        raise ValueError(f"amount={amount} should either be a float in the range [0, 1] or a "
                         f"non-negative integer")


def _count(amount, size):
    """How many of ``size`` units ``amount`` (a count, or a fraction rounded half to even,
    as Python's round) prunes; a count larger than ``size`` is an error."""
    if isinstance(amount, numbers.Integral):
        if amount > size:
            raise ValueError(f"amount={amount} should be smaller than the number of parameters "
                             f"to prune={size}")
        return int(amount)
    return round(amount * size)


def _check_structured(t, dim):
    if t.ndim <= 1:
        raise ValueError(f"Structured pruning can only be applied to multidimensional "
                         f"tensors. Found tensor of shape {t.shape} with {t.ndim} dims")
    if dim >= t.ndim:
        raise IndexError(f"Invalid index {dim} for tensor of size {t.shape}")


def _channel_mask(t, dim, keep):
    """Ones in the channels ``keep`` (indices or a boolean mask along ``dim``), zeros elsewhere."""
    mask = _xp(t).zeros_like(t.array)
    where = [slice(None)] * t.ndim
    where[dim] = keep
    mask[tuple(where)] = 1
    return mask


class Identity(BasePruningMethod):
    """Prunes nothing: the reparametrization with a mask of ones."""
    PRUNING_TYPE = "unstructured"

    def compute_mask(self, t, default_mask):
        return default_mask

    @classmethod
    def apply(cls, module, name):
        return super().apply(module, name)


class _UnstructuredAmount(BasePruningMethod):
    """A method that prunes ``amount`` (a count or a fraction) of the unpruned entries."""
    PRUNING_TYPE = "unstructured"

    def __init__(self, amount):
        _validate_amount_init(amount)
        self.amount = amount

    @classmethod
    def apply(cls, module, name, amount):
        return super().apply(module, name, amount=amount)


class RandomUnstructured(_UnstructuredAmount):
    """Prunes ``amount`` of the unpruned entries, chosen at random."""

    def compute_mask(self, t, default_mask):
        k = _count(self.amount, t.numel())
        mask = default_mask.array.copy()
        if k:
            draws = creation.rand(t.numel(), dtype=dtypes.float64, device=t.device).array
            mask.reshape(-1)[_xp(t).argsort(draws)[-k:]] = 0
        return _tensor(mask)


class L1Unstructured(_UnstructuredAmount):
    """Prunes ``amount`` of the unpruned entries, those of smallest absolute value."""

    def compute_mask(self, t, default_mask):
        k = _count(self.amount, t.numel())
        mask = default_mask.array.copy()
        if k:
            xp = _xp(t)
            mask.reshape(-1)[xp.argsort(xp.abs(t.array).reshape(-1))[:k]] = 0
        return _tensor(mask)

    @classmethod
    def apply(cls, module, name, amount, importance_scores=None):
        return super(_UnstructuredAmount, cls).apply(module, name, amount=amount,
                                                     importance_scores=importance_scores)


class RandomStructured(BasePruningMethod):
    """Prunes ``amount`` of the channels along ``dim``, chosen at random."""
    PRUNING_TYPE = "structured"

    def __init__(self, amount, dim=-1):
        _validate_amount_init(amount)
        self.amount, self.dim = amount, dim

    def compute_mask(self, t, default_mask):
        _check_structured(t, self.dim)
        channels = t.shape[self.dim]
        k = _count(self.amount, channels)
        if k == 0:
            return default_mask
        draws = creation.rand(channels, dtype=dtypes.float64, device=t.device).array
        keep = _xp(t).argsort(draws)[k:]
        mask = _channel_mask(t, self.dim, keep)
        mask *= default_mask.array.astype(mask.dtype, copy=False)
        return _tensor(mask)

    @classmethod
    def apply(cls, module, name, amount, dim=-1):
        return super().apply(module, name, amount=amount, dim=dim)


def _norm(t, n, dim):
    """The L``n`` norm of each channel along ``dim`` (over every other dimension), with
    ``torch.norm``'s choices of ``n``: a number (0 counts nonzeros), ``inf``, ``-inf``,
    'fro', or 'nuc' (when two dimensions remain)."""
    xp = _xp(t)
    a = xp.moveaxis(t.array, dim, 0)
    rest = tuple(range(1, a.ndim))
    if n == "nuc":
        if len(rest) != 2:
            raise RuntimeError(f"ln_structured: the nuclear norm needs exactly two dimensions "
                               f"besides dim; the tensor has shape {t.shape}")
        return xp.linalg.norm(a, "nuc", axis=rest)
    if n == "fro":
        if len(rest) > 2:
            raise RuntimeError(f"linalg.matrix_norm: dim must be a 2-tuple. Got "
                               f"{' '.join(str(d) for d in range(t.ndim) if d != dim % t.ndim)}"
                               f" (the Frobenius norm of ln_structured, as torch.norm's, "
                               f"takes one or two dimensions besides dim)")
        n = 2
    if not isinstance(n, numbers.Real):
        raise ValueError(f"ln_structured: unsupported norm n={n!r}; expected a number, inf, "
                         f"-inf, 'fro' or 'nuc'")
    absolute = xp.abs(a)
    if n == float("inf"):
        return absolute.max(axis=rest)
    if n == float("-inf"):
        return absolute.min(axis=rest)
    if n == 0:
        return (absolute != 0).sum(axis=rest).astype(a.dtype)
    if n == 1:
        return absolute.sum(axis=rest)
    if n == 2:
        return xp.sqrt((absolute * absolute).sum(axis=rest))
    return (absolute ** n).sum(axis=rest) ** (1.0 / n)


class LnStructured(BasePruningMethod):
    """Prunes ``amount`` of the channels along ``dim``, those of smallest L``n`` norm."""
    PRUNING_TYPE = "structured"

    def __init__(self, amount, n, dim=-1):
        _validate_amount_init(amount)
        self.amount, self.n, self.dim = amount, n, dim

    def compute_mask(self, t, default_mask):
        _check_structured(t, self.dim)
        channels = t.shape[self.dim]
        k = _count(self.amount, channels)
        norms = _norm(t, self.n, self.dim)
        if k == 0:
            return default_mask
        keep = _xp(t).argsort(-norms)[:channels - k]
        mask = _channel_mask(t, self.dim, keep)
        mask *= default_mask.array.astype(mask.dtype, copy=False)
        return _tensor(mask)

    @classmethod
    def apply(cls, module, name, amount, n, dim, importance_scores=None):
        return super().apply(module, name, amount=amount, n=n, dim=dim,
                             importance_scores=importance_scores)


class CustomFromMask(BasePruningMethod):
    """Prunes where the given ``mask`` is 0."""
    PRUNING_TYPE = "global"

    def __init__(self, mask):
        self.mask = mask

    def compute_mask(self, t, default_mask):
        if default_mask.shape != self.mask.shape:
            raise AssertionError(f"default_mask shape {default_mask.shape} must match "
                                 f"self.mask shape {self.mask.shape}")
        return default_mask * self.mask.to(dtype=default_mask.dtype)

    @classmethod
    def apply(cls, module, name, mask):
        return super().apply(module, name, mask=mask)


# ---------------------------------------------------------------- the functions
def identity(module, name):
    """Add the pruning reparametrization to ``module.<name>`` without pruning anything."""
    Identity.apply(module, name)
    return module


def random_unstructured(module, name, amount):
    """Prune ``amount`` of ``module.<name>``'s unpruned entries at random."""
    RandomUnstructured.apply(module, name, amount)
    return module


def l1_unstructured(module, name, amount, importance_scores=None):
    """Prune ``amount`` of ``module.<name>``'s unpruned entries, the smallest in absolute
    value (of ``importance_scores`` when given)."""
    L1Unstructured.apply(module, name, amount=amount, importance_scores=importance_scores)
    return module


def random_structured(module, name, amount, dim):
    """Prune ``amount`` of ``module.<name>``'s channels along ``dim`` at random."""
    RandomStructured.apply(module, name, amount, dim)
    return module


def ln_structured(module, name, amount, n, dim, importance_scores=None):
    """Prune ``amount`` of ``module.<name>``'s channels along ``dim``, those of smallest
    L``n`` norm."""
    LnStructured.apply(module, name, amount, n, dim, importance_scores=importance_scores)
    return module


def global_unstructured(parameters, pruning_method, importance_scores=None, **kwargs):
    """Prune the ``(module, name)`` tensors together: ``pruning_method(**kwargs)`` (an
    "unstructured" method such as ``L1Unstructured`` with ``amount=``) decides over all
    their unpruned entries at once, then each tensor gets its share of the mask."""
    if not isinstance(parameters, Iterable):
        raise TypeError("global_unstructured(): parameters is not an Iterable")
    parameters = list(parameters)
    importance_scores = {} if importance_scores is None else importance_scores
    if not isinstance(importance_scores, dict):
        raise TypeError("global_unstructured(): importance_scores must be of type dict")
    tensors = [getattr(module, name) for module, name in parameters]
    if not tensors:
        raise ValueError("global_unstructured(): no parameters to prune")
    xp = _xp(tensors[0])
    scores = xp.concatenate([importance_scores.get((m, n), t).array.reshape(-1)
                             for (m, n), t in zip(parameters, tensors)])
    masks = xp.concatenate([getattr(m, n + "_mask").array.reshape(-1).astype(t.array.dtype)
                            if hasattr(m, n + "_mask") else xp.ones(t.numel(), t.array.dtype)
                            for (m, n), t in zip(parameters, tensors)])
    container = PruningContainer()
    container._tensor_name = "temp"
    method = pruning_method(**kwargs)
    method._tensor_name = "temp"
    if method.PRUNING_TYPE != "unstructured":
        raise TypeError(f'Only "unstructured" PRUNING_TYPE supported for the '
                        f'`pruning_method`. Found method {pruning_method} of type '
                        f'{method.PRUNING_TYPE}')
    container.add_pruning_method(method)
    with no_grad():
        final = container.compute_mask(_tensor(scores), _tensor(masks)).array
    start = 0
    for (module, name), t in zip(parameters, tensors):
        n = t.numel()
        custom_from_mask(module, name, mask=_tensor(final[start:start + n].reshape(t.shape)))
        start += n


def custom_from_mask(module, name, mask):
    """Prune ``module.<name>`` where ``mask`` is 0."""
    CustomFromMask.apply(module, name, mask)
    return module


def remove(module, name):
    """Make the pruning of ``module.<name>`` permanent and drop its hook (the pruned
    entries stay zero)."""
    for key, hook in module._forward_pre_hooks.items():
        if isinstance(hook, BasePruningMethod) and hook._tensor_name == name:
            hook.remove(module)
            del module._forward_pre_hooks[key]
            return module
    raise ValueError(f"Parameter '{name}' of module {module} has to be pruned before pruning "
                     f"can be removed")


def is_pruned(module):
    """Whether ``module`` or any submodule has a pruning hook."""
    return any(isinstance(hook, BasePruningMethod)
               for m in module.modules() for hook in m._forward_pre_hooks.values())

