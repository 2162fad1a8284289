"""Linear algebra: products of matrices and vectors, and the transposes that go with them."""

_ops = _inplace = None   # bound by minigrad.tensor (see minigrad._tensor)


class LinalgMixin:
    __slots__ = ()

    def matmul(self, other): return _ops.matmul(self, other)
    def mm(self, mat2): return _ops.mm(self, mat2)
    def bmm(self, mat2): return _ops.bmm(self, mat2)
    def mv(self, vec): return _ops.mv(self, vec)
    def dot(self, other): return _ops.dot(self, other)
    def outer(self, vec2): return _ops.outer(self, vec2)
    def cross(self, other, dim=None): return _ops.cross(self, other, dim)
    def diag(self, diagonal=0): return _ops.diag(self, diagonal)
    def diagonal(self, offset=0, dim1=0, dim2=1): return _ops.diagonal(self, offset, dim1, dim2)
    def tril(self, diagonal=0): return _ops.tril(self, diagonal)
    def triu(self, diagonal=0): return _ops.triu(self, diagonal)

    # matrix functions and factorizations (ops/matrix.py; their namespace is mg.linalg)
    def det(self): return _ops.det(self)
    def slogdet(self): return _ops.slogdet(self)
    def inverse(self): return _ops.inv(self)
    def matrix_exp(self): return _ops.matrix_exp(self)
    def svd(self, some=True, compute_uv=True): return _ops.legacy_svd(self, some, compute_uv)

    def t(self):
        return _ops.t(self)

    @property
    def T(self):
        return self.permute(*range(self.ndim - 1, -1, -1))

    @property
    def mT(self):
        return _ops.mT(self)

    @property
    def mH(self):
        """The conjugate transpose of the last two dims: mT, minigrad having no complex
        dtypes."""
        return _ops.mT(self)

    @property
    def H(self):
        """The conjugate transpose of a matrix: t() of a 2-D tensor (minigrad has no complex
        dtypes); other ranks raise as in PyTorch."""
        if self.ndim not in (0, 2):
            hint = " For batches of matrices, consider using tensor.mH" if self.ndim > 2 else ""
            raise RuntimeError(f"tensor.H is only supported on matrices (2-D tensors). Got "
                               f"{self.ndim}-D tensor.{hint}")
        return _ops.t(self)
