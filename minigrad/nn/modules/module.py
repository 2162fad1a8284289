"""``Module`` and the containers: parameters, buffers and submodules registered by
attribute assignment, PyTorch's ``state_dict`` naming, train/eval propagation."""
import collections
import warnings

import numpy as np

from minigrad import backend, dtypes
from minigrad.device import check_memory_format, parse_to_args
from minigrad.nn.modules import hooks as _hooks
from minigrad.nn.parameter import Parameter, _Unmaterialized, is_lazy
from minigrad.tensor import Tensor

_IncompatibleKeys = collections.namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class Module:
    def __init__(self):
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_buffers", {})
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "_forward_pre_hooks", _hooks.new_store())
        object.__setattr__(self, "_forward_hooks", _hooks.new_store())
        object.__setattr__(self, "_backward_hooks", _hooks.new_store())
        object.__setattr__(self, "_hooks_with_kwargs", set())   # ids of with_kwargs hooks
        object.__setattr__(self, "_hooks_always_called", set())  # ids of always_call hooks

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} has no forward()")

    def __call__(self, *args, **kwargs):
        d = self.__dict__
        if not (d.get("_forward_pre_hooks") or d.get("_forward_hooks")
                or d.get("_backward_hooks")):
            return self.forward(*args, **kwargs)
        return self._call_with_hooks(args, kwargs)

    def _call_with_hooks(self, args, kwargs):
        """PyTorch's order: forward pre-hooks (may replace the arguments), the backward
        hook's input identity, forward, forward hooks (may replace the output), the
        backward hook's output identity."""
        with_kwargs = self._hooks_with_kwargs
        for key, hook in list(self._forward_pre_hooks.items()):
            if key in with_kwargs:
                r = hook(self, args, kwargs)
                if r is not None:
                    if not (isinstance(r, tuple) and len(r) == 2):
                        raise RuntimeError(f"forward pre-hook must return None or a tuple of "
                                           f"(new_args, new_kwargs), but got {r}.")
                    args, kwargs = r
            else:
                r = hook(self, args)
                if r is not None:
                    args = r if isinstance(r, tuple) else (r,)
        bw_hook = None
        if self._backward_hooks:
            bw_hook = _hooks.BackwardHook(self, self._backward_hooks)
            args = bw_hook.setup_input(args)
        called = set()
        try:
            result = self.forward(*args, **kwargs)
            for key, hook in list(self._forward_hooks.items()):
                called.add(key)
                r = (hook(self, args, kwargs, result) if key in with_kwargs
                     else hook(self, args, result))
                if r is not None:
                    result = r
        except Exception:
            for key, hook in list(self._forward_hooks.items()):
                if key in self._hooks_always_called and key not in called:
                    try:
                        hook(self, args, kwargs, None) if key in with_kwargs else \
                            hook(self, args, None)
                    except Exception as e:
                        warnings.warn(f"forward hook with ``always_call=True`` raised an "
                                      f"exception that was silenced as another error was "
                                      f"raised in forward: {e}")
            raise
        if bw_hook is not None:
            if not isinstance(result, (Tensor, tuple)):
                warnings.warn(f"For backward hooks to be called, module output should be a "
                              f"Tensor or a tuple of Tensors but received {type(result)}")
            else:
                result = bw_hook.setup_output(result)
        return result

    # ------------------------------------------------------------ hooks
    def register_forward_pre_hook(self, hook, *, prepend=False, with_kwargs=False):
        """``hook(module, args)`` (or ``hook(module, args, kwargs)`` with ``with_kwargs``)
        runs before every ``forward``; it may return replacement args (a tuple; a single
        value is wrapped into one), or with kwargs an ``(args, kwargs)`` pair."""
        handle = _hooks.add_hook(self._forward_pre_hooks, hook, prepend,
                                 extra=(self._hooks_with_kwargs,))
        if with_kwargs:
            self._hooks_with_kwargs.add(handle.id)
        return handle

    def register_forward_hook(self, hook, *, prepend=False, with_kwargs=False,
                              always_call=False):
        """``hook(module, args, output)`` (or ``hook(module, args, kwargs, output)``) runs
        after every ``forward``; a returned value replaces the output. ``args`` holds the
        positional arguments only. ``always_call``: also run when forward raised."""
        handle = _hooks.add_hook(self._forward_hooks, hook, prepend,
                                 extra=(self._hooks_with_kwargs, self._hooks_always_called))
        if with_kwargs:
            self._hooks_with_kwargs.add(handle.id)
        if always_call:
            self._hooks_always_called.add(handle.id)
        return handle

    def register_full_backward_hook(self, hook, prepend=False):
        """``hook(module, grad_input, grad_output)`` runs when the gradients with respect
        to the module's positional inputs have been computed; it may return a replacement
        ``grad_input`` tuple. See ``hooks.BackwardHook`` for what the tuples hold."""
        return _hooks.add_hook(self._backward_hooks, hook, prepend)

    # ------------------------------------------------------------ registration
    def __setattr__(self, name, value):
        d = self.__dict__
        if "_parameters" not in d:
            raise AttributeError("cannot assign before Module.__init__() is called")
        params, buffers, modules = d["_parameters"], d["_buffers"], d["_modules"]
        if isinstance(value, Parameter):
            buffers.pop(name, None), modules.pop(name, None), d.pop(name, None)
            params[name] = value
        elif isinstance(value, Module):
            params.pop(name, None), buffers.pop(name, None), d.pop(name, None)
            modules[name] = value
        elif name in params:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} as parameter '{name}' "
                                f"(a Parameter or None is expected)")
            params[name] = None
        elif name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign {type(value).__name__} as buffer '{name}' "
                                f"(a Tensor or None is expected)")
            buffers[name] = value
        elif name in modules:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} as child module '{name}'")
            modules[name] = None
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name):
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            if store in d and name in d[store]:
                return d[store][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        for store in (self._parameters, self._buffers, self._modules):
            if name in store:
                del store[name]
                self._non_persistent.discard(name)
                return
        object.__delattr__(self, name)

    def register_parameter(self, name, param):
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: '{name}' must be a Parameter or None")
        self._parameters[name] = param

    def register_buffer(self, name, tensor, persistent=True):
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer: '{name}' must be a Tensor or None")
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent.discard(name)
        else:
            self._non_persistent.add(name)

    def add_module(self, name, module):
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: '{name}' must be a Module or None")
        self._modules[str(name)] = module

    # ------------------------------------------------------------ traversal
    def named_modules(self, memo=None, prefix=""):
        memo = set() if memo is None else memo
        if id(self) in memo:
            return
        memo.add(id(self))
        yield prefix, self
        for name, child in self._modules.items():
            if child is not None:
                yield from child.named_modules(memo, f"{prefix}.{name}" if prefix else name)

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        seen = set()
        for name, child in self._modules.items():
            if child is not None and id(child) not in seen:
                seen.add(id(child))
                yield name, child

    def children(self):
        for _, c in self.named_children():
            yield c

    def _named_members(self, store, prefix, recurse):
        seen = set()
        mods = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for mod_prefix, mod in mods:
            for name, value in getattr(mod, store).items():
                if value is None or id(value) in seen:
                    continue
                seen.add(id(value))
                yield (f"{mod_prefix}.{name}" if mod_prefix else name), value

    def named_parameters(self, prefix="", recurse=True):
        return self._named_members("_parameters", prefix, recurse)

    def parameters(self, recurse=True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix="", recurse=True):
        return self._named_members("_buffers", prefix, recurse)

    def buffers(self, recurse=True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    # ------------------------------------------------------------ modes
    def train(self, mode=True):
        if not isinstance(mode, bool):
            raise ValueError("train: mode is expected to be a bool")
        self.training = mode
        for child in self.children():
            child.train(mode)
        return self

    def eval(self):
        return self.train(False)

    def requires_grad_(self, requires_grad=True):
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none=True):
        for p in self.parameters():
            if p.grad is not None:
                if set_to_none:
                    p.grad = None
                else:
                    p.grad = Tensor._make(p.grad.array * 0)

    def apply(self, fn):
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    # ------------------------------------------------------------ devices and dtypes
    def _convert(self, fn):
        for mod in self.modules():
            for store in (mod._parameters, mod._buffers):
                for t in store.values():
                    if t is not None:
                        t.array = fn(t.array)
                        if t.grad is not None:
                            t.grad = Tensor._make(fn(t.grad.array))
        return self

    def to(self, *args, dtype=None, device=None, non_blocking=False, memory_format=None):
        """PyTorch's forms: ``to(device)``, ``to(dtype)``, ``to(device, dtype)``,
        ``to(tensor)``; ``non_blocking`` is accepted (copies are synchronous here)."""
        check_memory_format("Module.to", memory_format)
        dtype, device = parse_to_args(args, dtype, device)
        if device is not None:
            backend.for_device(device)   # (a clear error when it is not available)
            self._convert(lambda a: a.moved(device) if type(a) is _Unmaterialized
                          else backend.move(a, device))
        if dtype is not None:
            np_dtype = dtypes.to_numpy_dtype(dtype)
            if np_dtype.kind != "f":
                raise TypeError(f"Module.to only accepts floating point dtypes, got {dtype!r}")
            self._convert(lambda a: a.astype(np_dtype) if a.dtype.kind == "f" else a)
        return self

    def float(self):
        return self.to(dtypes.float32)

    def double(self):
        return self.to(dtypes.float64)

    def cpu(self):
        return self.to("cpu")

    def cuda(self, device=None):
        return self.to("cuda" if device is None else
                       f"cuda:{device}" if isinstance(device, int) else device)

    # ------------------------------------------------------------ state
    def state_dict(self, destination=None, prefix="", keep_vars=False):
        out = collections.OrderedDict() if destination is None else destination
        self._save_to_state_dict(out, prefix, keep_vars)
        for name, child in self._modules.items():
            if child is not None:
                child.state_dict(out, prefix + name + ".", keep_vars)
        return out

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        """This module's own parameters and persistent buffers (a lazy module keeps its
        uninitialized ones as they are)."""
        for name, p in self._parameters.items():
            if p is not None:
                destination[prefix + name] = p if keep_vars else p.detach()
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent:
                destination[prefix + name] = b if keep_vars else b.detach()

    def _load_state_dict_pre(self, state_dict, prefix):
        """Called on every submodule, with its key prefix, before ``load_state_dict``
        compares shapes (a lazy module materializes its parameters here)."""

    def load_state_dict(self, state_dict, strict=True):
        """Copy ``state_dict`` (tensors or arrays) into this module's parameters and buffers.

        Shape mismatches are always errors; missing and unexpected keys are errors when
        ``strict``. Every problem is reported at once, by name.
        """
        for name, mod in self.named_modules():
            mod._load_state_dict_pre(state_dict, name + "." if name else "")
        own = self.state_dict(keep_vars=True)
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        errors = []
        values = {}
        for key, target in own.items():
            if key not in state_dict:
                continue
            value = state_dict[key]
            if is_lazy(target) and is_lazy(value):  # (nothing to copy, as in PyTorch)
                continue
            array = value.array if isinstance(value, Tensor) else np.asarray(value)
            if tuple(array.shape) != tuple(target.shape):
                errors.append(f"size mismatch for {key}: copying a param with shape "
                              f"{tuple(array.shape)} from checkpoint, the shape in current "
                              f"model is {tuple(target.shape)}.")
            else:
                values[key] = array
        if strict:
            if unexpected:
                errors.insert(0, "Unexpected key(s) in state_dict: " +
                              ", ".join(f'"{k}"' for k in unexpected) + ".")
            if missing:
                errors.insert(0, "Missing key(s) in state_dict: " +
                              ", ".join(f'"{k}"' for k in missing) + ".")
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t"
                               + "\n\t".join(errors))
        for key, array in values.items():
            target = own[key]
            target.array[...] = array  # in place, so optimizers holding the tensor see it
        return _IncompatibleKeys(missing, unexpected)

    # ------------------------------------------------------------ printing
    def extra_repr(self):
        return ""

    def __repr__(self):
        lines = []
        for name, child in self._modules.items():
            child_repr = repr(child).replace("\n", "\n  ")
            lines.append(f"({name}): {child_repr}")
        extra = self.extra_repr()
        if not lines:
            return f"{type(self).__name__}({extra})"
        head = f"{type(self).__name__}(" + (f"\n  {extra}" if extra else "")
        return head + "\n  " + "\n  ".join(lines) + "\n)"


class Sequential(Module):
    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], collections.OrderedDict):
            for name, m in modules[0].items():
                self.add_module(name, m)
        else:
            for i, m in enumerate(modules):
                self.add_module(str(i), m)

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x

    def __getitem__(self, index):
        items = list(self._modules.items())
        if isinstance(index, slice):
            return Sequential(collections.OrderedDict(items[index]))
        return items[_checked_index(index, len(items))][1]

    def __setitem__(self, index, module):
        key = list(self._modules)[_checked_index(index, len(self._modules))]
        self.add_module(key, module)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def append(self, module):
        self.add_module(str(len(self)), module)
        return self


def _checked_index(i, n):
    if not -n <= i < n:
        raise IndexError(f"index {i} is out of range for a container of {n} modules")
    return i % n


class ModuleList(Module):
    def __init__(self, modules=None):
        super().__init__()
        for m in modules or ():
            self.append(m)

    def _items(self):
        return list(self._modules.values())

    def __getitem__(self, index):
        if isinstance(index, slice):
            return ModuleList(self._items()[index])
        return self._items()[_checked_index(index, len(self))]

    def __setitem__(self, index, module):
        self.add_module(str(_checked_index(index, len(self))), module)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._items())

    def append(self, module):
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules):
        for m in modules:
            self.append(m)
        return self

    def insert(self, index, module):
        items = self._items()
        items.insert(index, module)
        self._modules.clear()
        for i, m in enumerate(items):
            self.add_module(str(i), m)


class ModuleDict(Module):
    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key):
        return self._modules[key]

    def __setitem__(self, key, module):
        self.add_module(key, module)

    def __delitem__(self, key):
        del self._modules[key]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def __contains__(self, key):
        return key in self._modules

    def keys(self):
        return self._modules.keys()

    def values(self):
        return self._modules.values()

    def items(self):
        return self._modules.items()

    def update(self, modules):
        items = modules.items() if hasattr(modules, "items") else modules
        for k, m in items:
            self[k] = m
