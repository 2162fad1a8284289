"""When the engine may reuse a gradient's memory instead of allocating: the one place
that reads reference counts.

A backward rule may hand one array to several inputs (add does) or pass a view of its own
gradient on (reshape does), and a leaf's ``.grad`` must never change behind another
holder's back. But a gradient that nothing else can see may be taken as it is, or added
into in place, as PyTorch does. So, in a plain backward (never under ``create_graph``):

* a leaf's first gradient becomes its ``.grad`` without a copy (``owned``);
* a second gradient for a pending slot is added into the first one's array
  (``exclusive``), and an op that declares ``adds_into_input`` may write its result into
  the pending array of its input (the engine's ``buffer_for``).

"Nothing else can see it" is decided from ``sys.getrefcount``: at most the references the
caller accounts for, no caller-held array (``callers``: the ids of the arrays passed as
root gradients), and either its own memory or a whole-array view of a base that nothing
else references.

``set_enabled(False)`` (or ``MINIGRAD_REUSE_GRAD_BUFFERS=0`` in the environment) turns all
of it off: every gradient is then a fresh array, at the cost of a copy per parameter and
an allocation per accumulation; the results are identical. Accumulating into an existing
``.grad`` in place is not part of this switch: it is PyTorch's semantics (a reference to
the ``.grad`` tensor sees the sum), and happens whenever ``.grad``'s array is not shared.
"""
import os
import sys

import numpy as np

_enabled = os.environ.get("MINIGRAD_REUSE_GRAD_BUFFERS", "1") != "0"


def set_enabled(on):
    """Turn buffer reuse on or off (process-wide); returns the previous setting."""
    global _enabled
    previous, _enabled = _enabled, bool(on)
    return previous


def is_enabled():
    return _enabled


def exclusive(t, callers, refs):
    """True when the engine may add into ``t``'s array in place: a pending gradient that no
    other pending slot, leaf ``.grad``, caller or view shares (backward rules may hand one
    tensor to several inputs, as add does, or pass views on, as reshape does). ``refs``:
    the references to ``t`` the caller accounts for (pending slot, names, this argument,
    getrefcount's); any other one means someone else holds the tensor."""
    if not _enabled:
        return False
    a = t.array
    # references to the array: the Tensor's slot, this frame's name (and _unshared's own)
    return (sys.getrefcount(t) <= refs and id(a) not in callers and unshared(a, 2)
            and a.flags.writeable)


def unshared(a, refs):
    """True when nothing but its holder sees ``a``'s memory: at most ``refs`` references to
    ``a`` besides this function's own two (its argument, getrefcount's), and ``a`` owns its
    data or is a whole-array view (a reshape) of an array that nothing else references."""
    if type(a) is not np.ndarray or sys.getrefcount(a) > refs + 2:
        return False
    base = a.base
    if base is None:
        return True
    # references to base: a's base slot, this frame's name, getrefcount's argument
    return (type(base) is np.ndarray and base.base is None and base.size == a.size
            and sys.getrefcount(base) <= 3)


def owned(array):
    """``array`` itself when nothing else can see it, else a copy. An op's backward may
    hand the same array to several inputs (add) or pass a view of its own gradient on
    (reshape), and a leaf's .grad must never change behind another's back; but a freshly
    computed gradient that only its Tensor references can be taken as it is (as PyTorch
    does), saving a full copy per parameter per backward. (The caller's own gradient
    arrays are excluded before this is asked.)"""
    # references: the Tensor's slot and this frame's argument
    if _enabled and unshared(array, 2):
        return array
    return array.copy()
