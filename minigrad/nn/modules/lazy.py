"""``LazyModuleMixin``: modules whose parameter shapes come from their first input.

Until its first forward a lazy module holds ``UninitializedParameter``s (and
``UninitializedBuffer``s); a forward pre-hook then calls ``initialize_parameters`` with the
input, which materializes them (shape from the input; dtype and device as the module was
given or converted to; the ordinary class's default initialization), removes itself, and
turns the module into its ``cls_to_become`` (``LazyLinear`` becomes ``Linear``). The
parameters stay the same objects, so an optimizer built before the first forward updates
them. A lazy module's ``state_dict`` shows its uninitialized tensors; loading a state dict
of initialized tensors into it materializes them to the stored shapes (as in PyTorch, it
keeps its lazy class until its first forward).
"""
import itertools

from minigrad.nn.parameter import is_lazy


class LazyModuleMixin:
    cls_to_become = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._initialize_hook = self.register_forward_pre_hook(self._infer_parameters,
                                                               with_kwargs=True)

    def initialize_parameters(self, *args, **kwargs):
        """Materialize the parameters from the first input (each lazy class defines it)."""
        raise NotImplementedError(f"initialize_parameters is not implemented for "
                                  f"{type(self).__name__}")

    def has_uninitialized_params(self):
        """Whether any of this module's own parameters or buffers is uninitialized."""
        return any(is_lazy(t) for t in itertools.chain(self._parameters.values(),
                                                      self._buffers.values()))

    def _infer_parameters(self, module, args, kwargs=None):
        """The forward pre-hook: initialize, check, remove the hook, change class."""
        module.initialize_parameters(*args, **(kwargs or {}))
        if module.has_uninitialized_params():
            raise RuntimeError(f"module {type(module).__name__} has not been fully initialized")
        module._initialize_hook.remove()
        del module._initialize_hook
        if module.cls_to_become is not None:
            module.__class__ = module.cls_to_become

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        # uninitialized tensors go in as they are (they have no data to detach)
        for name, t in self._parameters.items():
            if t is not None:
                destination[prefix + name] = t if keep_vars or is_lazy(t) else t.detach()
        for name, t in self._buffers.items():
            if t is not None and name not in self._non_persistent:
                destination[prefix + name] = t if keep_vars or is_lazy(t) else t.detach()

    def _load_state_dict_pre(self, state_dict, prefix):
        """Before loading: an uninitialized tensor whose entry holds an initialized one is
        materialized to that shape, so that the values can be copied in."""
        for name, t in itertools.chain(self._parameters.items(), self._buffers.items()):
            key = prefix + name
            if t is not None and is_lazy(t) and key in state_dict \
                    and not is_lazy(state_dict[key]):
                t.materialize(tuple(state_dict[key].shape))
