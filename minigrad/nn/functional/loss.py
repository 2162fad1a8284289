"""Losses added beside those in ``nn.functional``: the cosine embedding loss."""
from minigrad import ops
from minigrad.nn.functional import _reduce
from minigrad.ops._common import as_tensor, constant

_EPSILON = 1e-12  # (PyTorch's, added to each squared magnitude)


def cosine_embedding_loss(input1, input2, target, margin=0.0, reduction="mean"):
    """1 - cos(x1, x2) where target is 1, max(0, cos(x1, x2) - margin) where it is -1 (0
    elsewhere), with cos = x1.x2 / sqrt((|x1|^2 + 1e-12)(|x2|^2 + 1e-12)) as in PyTorch.
    Inputs (N, D) with a target (N,), or (D,) with a 0-D target."""
    op = "cosine_embedding_loss"
    target = as_tensor(target)
    t = target.ndim
    if t not in (0, 1):
        raise RuntimeError(f"{op}: 0D or 1D target tensor expected, multi-target not supported")
    if input1.ndim != t + 1 or input2.ndim != t + 1:
        raise RuntimeError(f"{op}: {t}D target tensor expects {t + 1}D input tensors, but found "
                           f"inputs with sizes {list(input1.shape)} and {list(input2.shape)}.")
    dot = (input1 * input2).sum(t)
    cos = dot / ops.sqrt(((input1 * input1).sum(t) + _EPSILON) *
                         ((input2 * input2).sum(t) + _EPSILON))
    y = target.array
    pos = ops.where(constant(y == 1), 1 - cos, 0.0)
    neg = ops.where(constant(y == -1), ops.clamp(cos - margin, min=0.0), 0.0)
    return _reduce(pos + neg, reduction, op)
