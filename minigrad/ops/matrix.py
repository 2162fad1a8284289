"""Functions of (batches of) square matrices and matrix factorizations: det, slogdet, inv,
solve, eigh, svd, matrix_exp (``torch.linalg``'s differentiable core).

Each primitive's forward is the array library's LAPACK call (``xp.linalg``; the matrix
exponential is written here, scaling and squaring with a [13/13] Pade approximant) over
any leading batch dimensions; each backward is written with these same differentiable
ops (inv, solve, svd, matrix_exp, matmul), so second derivatives come from the engine.
The rules are PyTorch's (``FunctionsManual.cpp``: linalg_det_backward, svd_backward,
linalg_eig_backward for the Hermitian case, the block-matrix rule for matrix functions),
rewritten here with minigrad's ops. Real dtypes only: minigrad has no complex tensors,
so there is no ``eig`` (a real matrix's eigenvalues may be complex).
"""
import collections

import numpy as np

from minigrad.autograd.graph import Primitive
from minigrad.dtypes import scalar_name
from minigrad.errors import InvalidArgument, InvalidDtype
from minigrad.ops._common import constant, xp_of
from minigrad.ops.arithmetic import mul, where
from minigrad.ops.linalg import matmul
from minigrad.ops.shape import cat, transpose

slogdet_result = collections.namedtuple("slogdet", ["sign", "logabsdet"])
eigh_result = collections.namedtuple("eigh", ["eigenvalues", "eigenvectors"])
svd_result = collections.namedtuple("svd", ["U", "S", "Vh"])
legacy_svd_result = collections.namedtuple("svd", ["U", "S", "V"])


class LinAlgError(RuntimeError):
    """PyTorch's ``torch.linalg.LinAlgError``: a matrix the factorization cannot handle
    (a singular matrix for inv and solve)."""


def _mT(a):
    return transpose(a, -1, -2)


def _eye_like(a, n):
    return xp_of(a.array).eye(n, dtype=a.array.dtype)


def check_square(op, a, square=True):
    if a.ndim < 2:
        raise InvalidArgument(f"{op}: The input tensor A must have at least 2 dimensions.")
    if a.array.dtype.kind != "f":
        raise InvalidDtype(f"{op}: Expected a floating point or complex tensor as input. Got "
                           f"{scalar_name(a.array.dtype)}")
    if square and a.shape[-1] != a.shape[-2]:
        raise InvalidArgument(f"{op}: A must be batches of square matrices, but they are "
                              f"{a.shape[-2]} by {a.shape[-1]} matrices")


def _linalg(a):
    return xp_of(a).linalg


def _lapack(op, fn, *arrays, **kw):
    """``fn(*arrays)``, a LAPACK failure reported as PyTorch's LinAlgError."""
    try:
        return fn(*arrays, **kw)
    except Exception as e:
        if type(e).__name__ != "LinAlgError":
            raise
        raise LinAlgError(f"{op}: {_LINALG_MESSAGES.get(op, 'the factorization failed')} "
                          f"({e})") from None


_LINALG_MESSAGES = {
    "linalg.inv": "the inversion could not be completed because the input matrix is singular.",
    "linalg.solve": "The solver failed because the input matrix is singular.",
}


# ---------------------------------------------------------------- determinants

class Det(Primitive):
    save_inputs = True
    save_output = True
    op_name = "linalg.det"

    @staticmethod
    def forward(ctx, a):
        return _linalg(a).det(a)

    @staticmethod
    def backward(ctx, g):
        """d det(A) = tr(adj(A) dA): the gradient is g adj(A)^T. Where every determinant is
        nonzero, adj(A) = det(A) A^-1; otherwise from an SVD A = U S V^T, adj(A)^T =
        det(U) det(V) U diag(prod_{j != i} s_j) V^T (PyTorch's singular-case rule; its
        first-order backward returns zeros for an exactly singular matrix instead)."""
        (a,) = ctx.inputs
        d = ctx.output
        if bool(xp_of(d.array).all(d.array != 0)):
            return mul(mul(g, d).unsqueeze(-1).unsqueeze(-1), _mT(inv(a)))
        u, s, vh = svd(a, full_matrices=False)
        n = s.shape[-1]
        others = where(constant(xp_of(s.array).eye(n, dtype=bool)), 1.0,
                       s.unsqueeze(-2).expand(*s.shape[:-1], n, n))
        from minigrad.ops.scan import prod
        alpha = mul(g, det(u) * det(vh))
        return alpha.unsqueeze(-1).unsqueeze(-1) * matmul(u * prod(others, -1).unsqueeze(-2),
                                                          vh)


def det(a):
    """``torch.linalg.det``: the determinant of each matrix in ``(*, n, n)``."""
    check_square("linalg.det", a)
    return Det.apply(a)


class Slogdet(Primitive):
    n_outputs = 2
    save_inputs = True
    op_name = "linalg.slogdet"

    @staticmethod
    def forward(ctx, a):
        sign, logabsdet = _linalg(a).slogdet(a)
        xp = xp_of(a)
        return xp.asarray(sign, dtype=a.dtype), xp.asarray(logabsdet, dtype=a.dtype)

    @staticmethod
    def backward(ctx, g_sign, g_logabsdet):
        """d log|det A| = tr(A^-1 dA); the sign is piecewise constant (no gradient)."""
        if g_logabsdet is None:
            return None
        (a,) = ctx.inputs
        try:
            a_inv = inv(a)
        except LinAlgError:
            raise LinAlgError("linalg.slogdet: backward through a singular matrix: log|det A| "
                              "is -inf there and its gradient is not finite (PyTorch returns "
                              "infinities)") from None
        return g_logabsdet.unsqueeze(-1).unsqueeze(-1) * _mT(a_inv)


def slogdet(a):
    """``torch.linalg.slogdet``: ``(sign, logabsdet)`` of each matrix."""
    check_square("linalg.slogdet", a)
    sign, logabsdet = Slogdet.apply(a)
    return slogdet_result(sign, logabsdet)


# ---------------------------------------------------------------- inverse, solve

class Inv(Primitive):
    save_output = True
    op_name = "linalg.inv"

    @staticmethod
    def forward(ctx, a):
        return _lapack("linalg.inv", _linalg(a).inv, a)

    @staticmethod
    def backward(ctx, g):
        """d(A^-1) = -A^-1 dA A^-1, so the gradient is -A^-T g A^-T."""
        y = _mT(ctx.output)
        return -matmul(matmul(y, g), y)


def inv(a):
    """``torch.linalg.inv``: the inverse of each matrix; a singular one raises
    ``LinAlgError``."""
    check_square("linalg.inv", a)
    return Inv.apply(a)


class Solve(Primitive):
    """X with A X = B, for A (*, n, n) and B (*, n, k), batch dimensions broadcast."""
    save_inputs = True
    save_output = True
    op_name = "linalg.solve"

    @staticmethod
    def forward(ctx, a, b):
        batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        xp = xp_of(a)
        a = xp.broadcast_to(a, batch + a.shape[-2:])
        b = xp.broadcast_to(b, batch + b.shape[-2:])
        return _lapack("linalg.solve", _linalg(a).solve, a, b)

    @staticmethod
    def backward(ctx, g):
        """gB = A^-T g, gA = -gB X^T (the engine sums broadcast batch dimensions back)."""
        a = ctx.inputs[0]
        gb = Solve.apply(_mT(a), g)
        want_a = ctx.next[0] is not None
        return (-matmul(gb, _mT(ctx.output)) if want_a else None,
                gb if ctx.next[1] is not None else None)


def solve(a, b, *, left=True):
    """``torch.linalg.solve``: X with ``A X = B`` (``X A = B`` with ``left=False``). ``B``
    is a batch of vectors when it is 1-D or shaped like A without its last dimension, as
    in PyTorch; batch dimensions broadcast."""
    check_square("linalg.solve", a)
    if b.array.dtype != a.array.dtype:
        raise InvalidDtype(f"linalg.solve: Expected A and B to have the same dtype, but found A "
                           f"of type {scalar_name(a.array.dtype)} and B of type "
                           f"{scalar_name(b.array.dtype)} instead")
    if not left:
        return _mT(solve(_mT(a), _mT(b)))
    vector = b.ndim == 1 or (b.ndim == a.ndim - 1 and b.shape == a.shape[:-1])
    if vector:
        b = b.unsqueeze(-1)
    if b.ndim < 2 or b.shape[-2] != a.shape[-1]:
        rows = b.shape[-2] if b.ndim >= 2 else b.shape[-1]
        cols = b.shape[-1] if b.ndim >= 2 else 1
        raise InvalidArgument(f"linalg.solve: Incompatible shapes of A and B for the equation "
                              f"AX = B ({a.shape[-2]}x{a.shape[-1]} and {rows}x{cols})")
    try:
        np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    except ValueError:
        raise InvalidArgument(f"linalg.solve: the batch dimensions of A {a.shape} and B "
                              f"{b.shape} do not broadcast") from None
    x = Solve.apply(a, b)
    return x.squeeze(-1) if vector else x


# ---------------------------------------------------------------- eigh, svd

class Eigh(Primitive):
    n_outputs = 2
    op_name = "linalg.eigh"

    @staticmethod
    def forward(ctx, a, uplo):
        return tuple(_linalg(a).eigh(a, UPLO=uplo))

    @staticmethod
    def backward(ctx, g_values, g_vectors):
        """gA = V (diag(gL) + skew(V^T gV) / E) V^T with E_ij = l_j - l_i (PyTorch's rule;
        the result is symmetric, as PyTorch returns it)."""
        values, vectors = ctx.output_tensor(0), ctx.output_tensor(1)
        n = values.shape[-1]
        eye = constant(_eye_like(values, n))
        if g_vectors is not None:
            vgv = matmul(_mT(vectors), g_vectors)
            skew = (vgv - _mT(vgv)) * 0.5
            gaps = values.unsqueeze(-2) - values.unsqueeze(-1) + eye   # 1 on the diagonal
            inner = skew / gaps
            if g_values is not None:
                inner = inner + g_values.unsqueeze(-1) * eye
        else:
            inner = g_values.unsqueeze(-1) * eye
        return matmul(matmul(vectors, inner), _mT(vectors))


def eigh(a, UPLO="L"):
    """``torch.linalg.eigh``: ``(eigenvalues, eigenvectors)`` of symmetric matrices (from
    the ``UPLO`` triangle), eigenvalues ascending. Eigenvectors are determined up to sign:
    LAPACK's choice here may differ from PyTorch's."""
    check_square("linalg.eigh", a)
    if UPLO not in ("L", "U"):
        raise InvalidArgument(f"Expected UPLO argument to be 'L' or 'U', but got {UPLO}")
    values, vectors = Eigh.apply(a, uplo=UPLO)
    return eigh_result(values, vectors)


def eigvalsh(a, UPLO="L"):
    """``torch.linalg.eigvalsh``: the eigenvalues of symmetric matrices, ascending."""
    check_square("linalg.eigvalsh", a)
    if UPLO not in ("L", "U"):
        raise InvalidArgument(f"Expected UPLO argument to be 'L' or 'U', but got {UPLO}")
    return Eigh.apply(a, uplo=UPLO)[0]


class Svd(Primitive):
    n_outputs = 3
    op_name = "linalg.svd"

    @staticmethod
    def forward(ctx, a, full_matrices):
        ctx.full_matrices = full_matrices
        return tuple(_linalg(a).svd(a, full_matrices=full_matrices))

    @staticmethod
    def backward(ctx, g_u, g_s, g_vh):
        """PyTorch's svd_backward for real matrices (k = min(m, n), E_jk = s_k^2 - s_j^2):
        gA = U [(skew(U^T gU) S + S skew(V^T gV)) / E + diag(gS)] V^T, plus the parts of
        gU and gV outside the spans of U and V when A is not square."""
        m, n = ctx.shapes[0][-2:]
        k = min(m, n)
        u, s, vh = (ctx.output_tensor(i) for i in range(3))
        if ctx.full_matrices and m != n:
            # U's (or Vh's) columns past k complete a basis arbitrarily: as PyTorch does,
            # only the first k take part (their gradients are dropped)
            u, vh = u[..., :k], vh[..., :k, :]
            g_u = None if g_u is None else g_u[..., :k]
            g_vh = None if g_vh is None else g_vh[..., :k, :]
        if g_u is None and g_vh is None:
            return matmul(u * g_s.unsqueeze(-2), vh)
        v = _mT(vh)
        g_v = None if g_vh is None else _mT(g_vh)
        s2 = s * s
        gaps = s2.unsqueeze(-2) - s2.unsqueeze(-1) + constant(_eye_like(s, k))

        def skew(x):
            return x - _mT(x)
        if g_u is not None and g_v is not None:
            inner = (skew(matmul(_mT(u), g_u)) * s.unsqueeze(-2)
                     + s.unsqueeze(-1) * skew(matmul(_mT(v), g_v))) / gaps
        elif g_u is not None:
            inner = skew(matmul(_mT(u), g_u)) / gaps * s.unsqueeze(-2)
        else:
            inner = s.unsqueeze(-1) * (skew(matmul(_mT(v), g_v)) / gaps)
        if g_s is not None:
            inner = inner + g_s.unsqueeze(-1) * constant(_eye_like(s, k))
        if m > n and g_u is not None:
            g_u_sinv = g_u / s.unsqueeze(-2)
            ga = matmul(u, inner) + g_u_sinv - matmul(u, matmul(_mT(u), g_u_sinv))
            return matmul(ga, vh)
        if m < n and g_v is not None:
            sinv_g_vh = _mT(g_v) / s.unsqueeze(-1)
            ga = matmul(inner, vh) + sinv_g_vh - matmul(matmul(sinv_g_vh, v), vh)
            return matmul(u, ga)
        return matmul(u, matmul(inner, vh))


def svd(a, full_matrices=True):
    """``torch.linalg.svd``: ``(U, S, Vh)`` with ``A = U diag(S) Vh``, S descending.
    Singular vectors are determined up to sign: LAPACK's choice here may differ from
    PyTorch's. With ``full_matrices`` and a non-square A, the columns of U (rows of Vh)
    past min(m, n) are an arbitrary completion: as in PyTorch, gradients reaching them are
    dropped."""
    check_square("linalg.svd", a, square=False)
    u, s, vh = Svd.apply(a, full_matrices=bool(full_matrices))
    return svd_result(u, s, vh)


def svdvals(a):
    """``torch.linalg.svdvals``: the singular values, descending."""
    check_square("linalg.svdvals", a, square=False)
    return Svd.apply(a, full_matrices=False)[1]


def legacy_svd(a, some=True, compute_uv=True):
    """``torch.svd`` (the older API): ``(U, S, V)`` with ``A = U diag(S) V^T`` (V, not
    V^T), reduced when ``some``. With ``compute_uv=False`` only S is computed, and U and V
    are zero matrices of shapes (*, m, m) and (*, n, n), as in PyTorch."""
    check_square("svd", a, square=False)
    if compute_uv:
        u, s, vh = Svd.apply(a, full_matrices=not some)
        return legacy_svd_result(u, s, _mT(vh))
    s = svdvals(a)
    xp = xp_of(a.array)
    m, n = a.shape[-2:]
    zeros = [constant(xp.zeros(a.shape[:-2] + (k, k), dtype=a.array.dtype)) for k in (m, n)]
    return legacy_svd_result(zeros[0], s, zeros[1])


# ---------------------------------------------------------------- matrix exponential

# Higham (2005), "The scaling and squaring method for the matrix exponential revisited":
# the [13/13] Pade approximant is accurate to unit roundoff for ||A||_1 <= theta_13
_THETA_13 = 5.371920351148152
_PADE_13 = (64764752532480000., 32382376266240000., 7771770303897600., 1187353796428800.,
            129060195264000., 10559470521600., 670442572800., 33522128640., 1323241920.,
            40840800., 960960., 16380., 182., 1.)


def _expm(a):
    """exp of each matrix of ``a`` (*, n, n): scale by 2^-s so that the 1-norm is at most
    theta_13 (s per matrix), Pade [13/13], then square s times."""
    xp = xp_of(a)
    n = a.shape[-1]
    norms = xp.abs(a).sum(axis=-2).max(axis=-1) if n else xp.zeros(a.shape[:-2])
    ratio = norms / _THETA_13
    s = xp.where(ratio > 1, xp.ceil(xp.log2(xp.where(ratio > 1, ratio, 1.0))), 0).astype(int)
    a = a / (2.0 ** s)[..., None, None].astype(a.dtype)
    b = _PADE_13
    eye = xp.broadcast_to(xp.eye(n, dtype=a.dtype), a.shape)
    a2 = a @ a
    a4 = a2 @ a2
    a6 = a4 @ a2
    u = a @ (a6 @ (b[13] * a6 + b[11] * a4 + b[9] * a2) + b[7] * a6 + b[5] * a4 + b[3] * a2
             + b[1] * eye)
    v = a6 @ (b[12] * a6 + b[10] * a4 + b[8] * a2) + b[6] * a6 + b[4] * a4 + b[2] * a2 \
        + b[0] * eye
    r = xp.linalg.solve(v - u, v + u)
    steps = int(s.max()) if s.size else 0
    for j in range(steps):
        squared = r @ r
        r = xp.where((s > j)[..., None, None], squared, r)
    return r


class MatrixExp(Primitive):
    op_name = "linalg.matrix_exp"
    save_inputs = True

    @staticmethod
    def forward(ctx, a):
        return _expm(a)

    @staticmethod
    def backward(ctx, g):
        """The Frechet derivative's adjoint, from one exponential of a block matrix:
        exp([[A^T, G], [0, A^T]]) holds it in its upper right block (PyTorch's rule)."""
        (a,) = ctx.inputs
        n = a.shape[-1]
        at = _mT(a)
        zeros = constant(xp_of(a.array).zeros(a.shape, dtype=a.array.dtype))
        block = cat([cat([at, g], -1), cat([zeros, at], -1)], -2)
        return matrix_exp(block)[..., :n, n:]


def matrix_exp(a):
    """``torch.linalg.matrix_exp``: the exponential of each square matrix."""
    check_square("linalg.matrix_exp", a)
    return MatrixExp.apply(a)
