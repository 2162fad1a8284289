"""``torch.linalg`` (``mg.linalg``): determinants, inverses, solves, symmetric
eigendecompositions, singular value decompositions, the matrix exponential and norms,
all batched over leading dimensions and differentiable (to second order) where PyTorch's
are. The primitives live in ``ops/matrix.py``, the norms in ``ops/norms.py``.

Not here: ``eig``/``eigvals`` (general matrices have complex eigenvalues, and minigrad
has no complex dtypes) and the complex-only functions."""
from minigrad.ops.matrix import (LinAlgError, det, eigh, eigvalsh, inv, matrix_exp, slogdet,
                                 solve, svd, svdvals)
from minigrad.ops import linalg as _linalg
from minigrad.ops.norms import matrix_norm, norm, vector_norm

__all__ = ["LinAlgError", "det", "slogdet", "inv", "solve", "eigh", "eigvalsh", "svd",
           "svdvals", "matrix_exp", "norm", "vector_norm", "matrix_norm", "cross"]


def cross(input, other, *, dim=-1):
    """The cross product of 3-vectors along ``dim`` (the last by default, unlike
    ``torch.cross``'s first dim of size 3), broadcasting the other dims."""
    return _linalg.cross(input, other, dim)
