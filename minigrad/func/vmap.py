"""``torch.func.vmap`` (also ``mg.vmap``): a function mapped over a batch dimension.

minigrad has no batched tensors, so ``vmap`` is honest about what it does: it slices each
batched argument along its ``in_dims`` (a differentiable indexing op), calls ``func`` once
per batch element, and stacks each output along its ``out_dims``. The cost is ``B`` calls
of ``func`` (plus ``B`` slices per argument and one stack per output): the same work as a
Python loop, not the fused batched kernels PyTorch dispatches to, so it buys
convenience (per-example gradients, ensembles, Jacobians of batched functions), not speed.
Nested ``vmap`` nests the loops. The results, their gradients and the errors for
mismatched ``in_dims``/``out_dims`` are PyTorch's.

``randomness``: "error" (the default) raises when ``func`` draws random numbers, as
PyTorch does; "different" lets each element draw anew from the generators as a loop
would; "same" gives every element the same draws (each element draws from generators
forked from one seed, taken from the global generator; an explicit CPU ``generator=`` is
rewound to its state at the first element). The numbers themselves differ from
PyTorch's for a seed, as all of minigrad's random numbers do.
"""
import functools

import numpy as np

from minigrad import rng
from minigrad.func.pytree import broadcast_prefix, tree_flatten, tree_unflatten
from minigrad.tensor import Tensor

__all__ = ["vmap"]


def _get_name(func):
    if isinstance(func, functools.partial):
        return f"functools.partial({_get_name(func.func)}, ...)"
    return getattr(func, "__name__", repr(func))


def _check_randomness_arg(randomness):
    if randomness not in ("error", "different", "same"):
        raise RuntimeError(f"Only allowed values for randomness are 'error', 'different', or "
                           f"'same'. Got {randomness}")


class _Error:
    def __init__(self, parent):
        self.parent = parent

    def draw(self, device, generator):
        raise RuntimeError("vmap: called random operation while in randomness error mode. "
                           "Please either use the 'same' or 'different' randomness flags on "
                           "vmap or perform the randomness operation out of vmap")


class _Same:
    """Every batch element draws the same numbers: generators forked from one seed (taken
    lazily, through the enclosing scope, so nested modes combine as loops would)."""

    def __init__(self, parent):
        self.parent, self.seed, self.explicit = parent, None, {}
        self.start_element()

    def start_element(self):
        self.forks, self.rewound = {}, set()

    def draw(self, device, generator):
        if generator is not None:
            g = rng._generator_for(device, generator)
            bits = getattr(g, "bit_generator", None)   # (a host generator can be rewound)
            if bits is not None:
                key = id(generator)
                if key not in self.explicit:
                    self.explicit[key] = bits.state
                elif key not in self.rewound:
                    bits.state = self.explicit[key]
                self.rewound.add(key)
            return g
        if self.seed is None:
            source = self.parent.draw(None, None) if self.parent is not None else \
                rng._generator_for(None, None)
            self.seed = int(source.integers(2 ** 63))
        from minigrad import backend
        from minigrad.device import device as _device
        d = _device(device if device is not None else "cpu")
        key = (d.type, d.index or 0)
        g = self.forks.get(key)
        if g is None:
            g = self.forks[key] = (np.random.default_rng(self.seed) if d.type == "cpu" else
                                   backend.for_device(d).generator(self.seed, d.index or 0))
        return g


class _randomness_scope:
    """While a vmapped function runs: "error" and "same" install their scope; "different"
    keeps the enclosing one (plain draws, as a loop makes them)."""

    def __init__(self, mode):
        self.mode = mode
        self.scope = None

    def __enter__(self):
        self.previous = rng.scope
        if self.mode == "error":
            self.scope = _Error(self.previous)
        elif self.mode == "same":
            self.scope = _Same(self.previous)
        else:
            self.scope = self.previous
        rng.scope = self.scope
        return self

    def element(self):
        if self.mode == "same":   # (its own scope, not an enclosing one it kept)
            self.scope.start_element()

    def __exit__(self, *exc):
        rng.scope = self.previous


def _process_batched_inputs(in_dims, args, func):
    if not isinstance(in_dims, (int, tuple)):
        raise ValueError(f"vmap({_get_name(func)}, in_dims={in_dims}, ...)(<inputs>): expected "
                         f"`in_dims` to be int or a (potentially nested) tuple matching the "
                         f"structure of inputs, got: {type(in_dims)}.")
    if len(args) == 0:
        raise ValueError(f"vmap({_get_name(func)})(<inputs>): got no inputs. Maybe you forgot "
                         f"to add inputs, or you are trying to vmap over a function with no "
                         f"inputs. The latter is unsupported.")
    flat_args, args_spec = tree_flatten(args)
    flat_in_dims = broadcast_prefix(in_dims, args_spec)
    if flat_in_dims is None:
        raise ValueError(f"vmap({_get_name(func)}, in_dims={in_dims}, ...)(<inputs>): in_dims "
                         f"is not compatible with the structure of `inputs`. in_dims has "
                         f"structure {tree_flatten(in_dims)[1]} but inputs has structure "
                         f"{args_spec}.")
    for i, (arg, in_dim) in enumerate(zip(flat_args, flat_in_dims)):
        if not isinstance(in_dim, int) and in_dim is not None:
            raise ValueError(f"vmap({_get_name(func)}, in_dims={in_dims}, ...)(<inputs>): Got "
                             f"in_dim={in_dim} for an input but in_dim must be either an "
                             f"integer dimension or None.")
        if isinstance(in_dim, int) and not isinstance(arg, Tensor):
            raise ValueError(f"vmap({_get_name(func)}, in_dims={in_dims}, ...)(<inputs>): Got "
                             f"in_dim={in_dim} for an input but the input is of type "
                             f"{type(arg)}. We cannot vmap over non-Tensor arguments, please "
                             f"use None as the respective in_dim")
        if in_dim is not None and not -arg.ndim <= in_dim < arg.ndim:
            raise ValueError(f"vmap({_get_name(func)}, in_dims={in_dims}, ...)(<inputs>): Got "
                             f"in_dim={in_dim} for some input, but that input is a Tensor of "
                             f"dimensionality {arg.ndim} so expected in_dim to satisfy "
                             f"-{arg.ndim} <= in_dim < {arg.ndim}.")
        if in_dim is not None and in_dim < 0:
            flat_in_dims[i] = in_dim % arg.ndim
    sizes = [arg.shape[d] for d, arg in zip(flat_in_dims, flat_args) if d is not None]
    if not sizes:
        raise ValueError("vmap: Expected at least one Tensor to vmap over")
    if any(s != sizes[0] for s in sizes):
        raise ValueError(f"vmap: Expected all tensors to have the same size in the mapped "
                         f"dimension, got sizes {sizes} for the mapped dimension")
    return sizes[0], flat_in_dims, flat_args, args_spec


def _check_out_dims(out_dims, func):
    def ok(x):
        return x is None or isinstance(x, int)
    leaves = tree_flatten(out_dims)[0] if not ok(out_dims) else [out_dims]
    if not all(ok(x) for x in leaves):
        raise ValueError(f"vmap({_get_name(func)}, ..., out_dims={out_dims}): `out_dims` must be "
                         f"an int, None or a python collection of ints representing where in "
                         f"the outputs the vmapped dimension should appear.")


def vmap(func, in_dims=0, out_dims=0, randomness="error", *, chunk_size=None):
    """``torch.func.vmap``: ``func`` mapped over dimension ``in_dims`` of its arguments
    (an int, or a pytree of ints/None matching the arguments), its outputs stacked along
    ``out_dims``. Runs ``func`` once per batch element (see the module docstring for the
    cost and ``randomness``); ``chunk_size`` is checked as in PyTorch and has no other
    effect. Keyword arguments are passed unbatched, as in PyTorch."""
    _check_randomness_arg(randomness)
    if chunk_size is not None and chunk_size <= 0:
        raise ValueError(f"vmap: chunk_size should be None or greater than 0. (got "
                         f"{chunk_size})")
    _check_out_dims(out_dims, func)

    @functools.wraps(func) if hasattr(func, "__name__") else (lambda f: f)
    def wrapped(*args, **kwargs):
        from minigrad import ops
        batch, flat_in_dims, flat_args, args_spec = _process_batched_inputs(in_dims, args, func)
        results = []
        with _randomness_scope(randomness) as scope:
            for b in range(batch):
                scope.element()
                sliced = [a if d is None else ops.getitem(a, (slice(None),) * d + (b,))
                          for a, d in zip(flat_args, flat_in_dims)]
                results.append(func(*tree_unflatten(sliced, args_spec), **kwargs))
        return _stack_outputs(results, out_dims, batch, func, ops)
    return wrapped


def _stack_outputs(results, out_dims, batch, func, ops):
    name = _get_name(func)
    if batch == 0:
        raise ValueError(f"vmap({name}, ...): the batch dimension has size 0; minigrad's "
                         f"vmap calls {name} once per element and cannot infer its outputs "
                         f"from none")
    flat_per_element = []
    spec = None
    for out in results:
        flat, s = tree_flatten(out)
        if spec is None:
            spec = s
        elif s != spec:
            raise ValueError(f"vmap({name}, ...): `{name}` returned outputs of different "
                             f"structures for different batch elements ({spec} and {s})")
        flat_per_element.append(flat)

    def incompatible():
        return ValueError(f"vmap({name}, ..., out_dims={out_dims})(<inputs>): out_dims is not "
                          f"compatible with the structure of `outputs`. out_dims has structure "
                          f"{tree_flatten(out_dims)[1]} but outputs has structure {spec}.")
    if spec.kind == "leaf" and isinstance(results[0], Tensor):
        if isinstance(out_dims, int) or out_dims is None:
            flat_out_dims = [out_dims]
        elif isinstance(out_dims, tuple) and len(out_dims) == 1:
            flat_out_dims = list(out_dims)
        else:
            raise incompatible()
    else:
        flat_out_dims = broadcast_prefix(out_dims, spec)
        if flat_out_dims is None:
            raise incompatible()
    stacked = []
    for j, out_dim in enumerate(flat_out_dims):
        column = [flat[j] for flat in flat_per_element]
        if out_dim is None:
            first = column[0]
            if any(c is not first for c in column[1:]) and not _all_equal(column):
                raise ValueError(f"vmap({name}, ...): `{name}` can not return a BatchedTensor "
                                 f"when out_dim is None")
            stacked.append(first)
            continue
        for c in column:
            if not isinstance(c, Tensor):
                raise ValueError(f"vmap({name}, ...): `{name}` must only return Tensors, got "
                                 f"type {type(c)}. Did you mean to set out_dims= to None for "
                                 f"output?")
        stacked.append(ops.stack(column, out_dim))
    return tree_unflatten(stacked, spec)


def _all_equal(column):
    """An output declared unbatched (out_dims None) must be the same for every element."""
    first = column[0]
    if not isinstance(first, Tensor):
        return all(c == first for c in column[1:])
    from minigrad import backend
    return all(isinstance(c, Tensor) and c.shape == first.shape and bool(
        backend.of(first.array).xp.all(c.array == first.array)) for c in column[1:])
