"""The Tensor's methods by family, as mixins that ``minigrad.tensor.Tensor`` inherits.

Each module holds one family (arithmetic, reductions, shape, indexing, in-place updates,
random in-place fills, linear algebra, creation of new tensors like this one); every
method only forwards to ``minigrad.ops`` (or the family module of the top-level
function). The mixins have empty ``__slots__``, so the Tensor keeps its slots, and method
lookup through the MRO is cached by CPython's type attribute cache: no per-call cost.

``minigrad.ops`` imports ``Tensor``, so the mixins cannot import it at their top; the
tensor module binds ``_ops``/``_inplace`` in each of them (``bind``) once ops exist.
"""
from minigrad._tensor import (arithmetic, creation, indexing, inplace, linalg, random,
                              reductions, shape)

MODULES = (arithmetic, creation, indexing, inplace, linalg, random, reductions, shape)


def bind(ops, inplace_ops):
    for module in MODULES:
        module._ops = ops
        module._inplace = inplace_ops
