"""Helpers shared by the families of ``nn.functional``: the ``inplace=True`` path and
the reading of int-or-tuple arguments."""

import numpy as np


def _maybe_inplace(op, input, inplace, compute, needs_old_values=True):
    """``compute(input)``; with ``inplace=True`` (PyTorch's ``relu_``, ``elu_``, ...) the
    result is written into input's own memory and input itself is returned, by the rules
    of every in-place op (``ops.inplace.update``): refused on a leaf that requires grad,
    recorded on a graph tensor, caught at backward if a node had saved the old values.
    ``needs_old_values``: compute's backward reads the input's values (then the recorded
    form keeps a copy of them, as the out-of-place op would)."""
    if not inplace:
        return compute(input)
    from minigrad.ops.inplace import update
    return update(input, f"{op}_", compute, needs_old_values)


def _n_tuple(v, n, name, op):
    v = (int(v),) * n if isinstance(v, (int, np.integer)) else tuple(int(a) for a in v)
    if len(v) != n:
        raise ValueError(f"{op}: {name} must be an int or {n} ints, got {v}")
    return v
