"""Linear algebra: matrix products with NumPy's matmul rules (and PyTorch's strict forms
mm, bmm, mv, dot), outer and cross products, norms, einsum, the affine map of a linear
layer, and the matrix structure ops (diag, diagonal, tril, triu).

The matmul primitive handles operands of two or more dimensions (batch dimensions
broadcast); 1-D operands are promoted and demoted around it with reshapes, so their
gradients come from the engine. As in PyTorch, its operands must share one dtype.
``linear`` is one primitive (x @ W^T + b: one GEMM and a bias add forward, two GEMMs and a
column sum backward) because every layer of every MLP runs it: three recorded nodes per
layer would cost more than the GEMMs at small sizes. Everything else here is a composite.
"""
import collections
import math
import numbers

import numpy as np

from minigrad import backend, dtypes
from minigrad.autograd.graph import Primitive
from minigrad.errors import InvalidArgument, InvalidDtype
from minigrad.ops._common import cast, constant, normalize_dim, normalize_dims, pair, xp_of
from minigrad.ops.arithmetic import abs, mul, sign, sub, where
from minigrad.ops.transcendental import pow, sqrt
from minigrad.ops.reduce import amax, amin, sum
from minigrad.ops.shape import (GetItem, IndexAdd, broadcast_to, getitem, permute, reshape,
                                squeeze, stack, transpose, unsqueeze)
from minigrad.tensor import Tensor


class MatMul(Primitive):
    save_inputs = True

    @staticmethod
    def forward(ctx, a, b):
        return backend.of(a).matmul(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.inputs
        return (matmul(g, transpose(b, -1, -2)) if ctx.next[0] is not None else None,
                matmul(transpose(a, -1, -2), g) if ctx.next[1] is not None else None)


def _same_dtype(a, b, kind):
    """PyTorch's dtype rule for products: one dtype (no promotion), and not bool. ``kind``
    names the kernel PyTorch would run, whose message this raises."""
    da, db = a.array.dtype, b.array.dtype
    if da != db:
        if kind == "dot":
            msg = (f"dot : expected both vectors to have same dtype, but found "
                   f"{dtypes.scalar_name(da)} and {dtypes.scalar_name(db)}")
        elif kind == "mv":
            msg = (f"addmv input tensors must have the same dtype, but got "
                   f"{dtypes.scalar_name(db)}, {dtypes.scalar_name(da)}, and "
                   f"{dtypes.scalar_name(db)}")
        elif kind == "mm":
            msg = (f"expected m1 and m2 to have the same dtype, but got: {dtypes.c_name(da)} "
                   f"!= {dtypes.c_name(db)}")
        else:
            msg = (f"expected scalar type {dtypes.scalar_name(da)} but found "
                   f"{dtypes.scalar_name(db)}")
        raise InvalidDtype(msg)
    if da.kind == "b":
        raise NotImplementedError(f"{kind}: not implemented for 'Bool' tensors (as in PyTorch); "
                                  f"convert them to an integer or float dtype first")


def _matmul_kind(a, b):
    """Which of PyTorch's kernels torch.matmul runs for these ranks (for its messages)."""
    if a.ndim == 1 and b.ndim == 1:
        return "dot"
    if b.ndim == 1:
        return "mv"
    if b.ndim == 2 and a.ndim >= 1:
        return "mm"
    return "bmm"


def matmul(a, b):
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        a, b = pair(a, b)
    if a.ndim == 0 or b.ndim == 0:
        raise InvalidArgument(f"matmul: both arguments must have at least one dimension, got "
                              f"shapes {a.shape} and {b.shape}")
    if a.array.dtype != b.array.dtype or a.array.dtype.kind == "b":
        _same_dtype(a, b, _matmul_kind(a, b))
    sa, sb = a.array.shape, b.array.shape   # (plain tuples: this runs on every product)
    ka = sa[-1]
    kb = sb[0] if b.ndim == 1 else sb[-2]
    if ka != kb:
        raise InvalidArgument(f"matmul: shapes {a.shape} and {b.shape} are not aligned "
                              f"({ka} != {kb})")
    vec_a, vec_b = a.ndim == 1, b.ndim == 1
    if vec_a:
        a = reshape(a, (1, ka))
    if vec_b:
        b = reshape(b, (kb, 1))
    out = MatMul.apply(a, b)
    if vec_a or vec_b:
        so = out.array.shape
        shape = so[:-2] + (() if vec_a else so[-2:-1]) + (() if vec_b else so[-1:])
        out = reshape(out, shape)
    return out


class Linear(Primitive):
    """y = x @ W^T (+ b) over x's last axis; x is (..., in), W (out, in), b (out,), or b of
    y's own shape (``linear_add``: an addend, whose gradient is y's)."""
    save_inputs = True

    @staticmethod
    def forward(ctx, x, w, b=None):
        y = backend.of(x).matmul(x, w.T)   # a transposed view: BLAS reads it as it is
        if b is not None:
            y += b
        return y

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.inputs[:2]
        want_x, want_w = ctx.next[0] is not None, ctx.next[1] is not None
        want_b = len(ctx.next) > 2 and ctx.next[2] is not None
        n = math.prod(x.shape[:-1])  # (spelled out: -1 is ambiguous when x is empty)
        rows, x_rows = (n, g.shape[-1]), (n, x.shape[-1])
        g2, x2 = reshape(g, rows), reshape(x, x_rows)
        return (matmul(g, w) if want_x else None,
                matmul(transpose(g2, 0, 1), x2) if want_w else None,
                (g if ctx.shapes[2] == g.shape else sum(g2, 0)) if want_b else None)

    @staticmethod
    def backward_arrays(ctx, g):
        x, w = ctx.inputs[:2]
        want_x, want_w = ctx.next[0] is not None, ctx.next[1] is not None
        want_b = len(ctx.next) > 2 and ctx.next[2] is not None
        n = math.prod(x.shape[:-1])
        be = backend.of(g)
        g2, x2 = g.reshape(n, g.shape[-1]), x.array.reshape(n, x.shape[-1])
        return (be.matmul(g, w.array) if want_x else None,
                be.matmul(g2.T, x2) if want_w else None,
                (g if ctx.shapes[2] == g.shape else be.xp.sum(g2, axis=0)) if want_b
                else None)


def linear(x, weight, bias=None):
    """``x @ weight.T + bias`` as one recorded op (x: (..., in), weight: (out, in))."""
    if x.ndim == 0 or weight.ndim != 2 or x.array.shape[-1] != weight.array.shape[1]:
        raise InvalidArgument(f"linear: input of shape {x.shape} and weight of shape "
                              f"{weight.shape} do not fit; expected input (..., {weight.shape[-1]}) "
                              f"and weight (out_features, in_features)")
    if bias is not None and bias.array.shape != (weight.array.shape[0],):
        raise InvalidArgument(f"linear: bias must have shape ({weight.shape[0]},), got "
                              f"{bias.shape}")
    x, w = pair(x, weight)
    if x.array.dtype != w.array.dtype or (bias is not None and bias.array.dtype != w.array.dtype):
        raise InvalidDtype(f"linear: input {x.dtype!r}, weight {weight.dtype!r} and bias must "
                           f"share one dtype")
    if x.array.ndim == 1:      # one sample, (in,) -> (out,), as in PyTorch
        return squeeze(linear(unsqueeze(x, 0), w, bias), 0)
    if bias is None:
        return Linear.apply(x, w)
    return Linear.apply(x, w, bias)


def linear_add(x, weight, addend):
    """``x @ weight.T + addend`` as one recorded op, ``addend`` of the result's shape: a
    recurrent layer's step, the hidden state's product plus the step's input projection
    (which holds both biases), without a node and a pass for the addition."""
    x, w = pair(x, weight)
    shape = tuple(x.shape[:-1]) + (w.shape[0],)
    if x.ndim != 2 or w.ndim != 2 or x.shape[1] != w.shape[1] or tuple(addend.shape) != shape:
        raise InvalidArgument(f"linear_add: input {tuple(x.shape)}, weight {tuple(w.shape)} "
                              f"and addend {tuple(addend.shape)} do not fit; expected (N, in), "
                              f"(out, in) and (N, out)")
    if not x.array.dtype == w.array.dtype == addend.array.dtype:
        raise InvalidDtype(f"linear_add: input {x.dtype!r}, weight {w.dtype!r} and addend "
                           f"{addend.dtype!r} must share one dtype")
    return Linear.apply(x, w, addend)


# ---------------------------------------------------------------- PyTorch's strict products

def mm(input, mat2):
    """The product of two matrices (no broadcasting, one dtype)."""
    if input.ndim != 2:
        raise RuntimeError("self must be a matrix")
    if mat2.ndim != 2:
        raise RuntimeError("mat2 must be a matrix")
    if input.shape[1] != mat2.shape[0]:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied "
                           f"({input.shape[0]}x{input.shape[1]} and "
                           f"{mat2.shape[0]}x{mat2.shape[1]})")
    _same_dtype(input, mat2, "mm")
    return MatMul.apply(input, mat2)


def bmm(input, mat2):
    """Batches of matrix products: (b, n, m) @ (b, m, p) -> (b, n, p), no broadcasting."""
    if input.ndim != 3:
        raise RuntimeError("batch1 must be a 3D tensor")
    if mat2.ndim != 3:
        raise RuntimeError("batch2 must be a 3D tensor")
    expect = [input.shape[0], input.shape[2]]
    if list(mat2.shape[:2]) != expect:
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                           f"{expect} but got: {list(mat2.shape[:2])}.")
    _same_dtype(input, mat2, "bmm")
    return MatMul.apply(input, mat2)


def mv(input, vec):
    """A matrix times a vector."""
    if input.ndim != 2 or vec.ndim != 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got 1, {input.ndim}, "
                           f"{vec.ndim}")
    if input.shape[1] != vec.shape[0]:
        raise RuntimeError(f"size mismatch, got input ({input.shape[0]}), mat "
                           f"({input.shape[0]}x{input.shape[1]}), vec ({vec.shape[0]})")
    _same_dtype(input, vec, "mv")
    return matmul(input, vec)


def dot(input, other):
    """The inner product of two vectors of one length and dtype."""
    if input.ndim != 1 or other.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {input.ndim}D and {other.ndim}D "
                           f"tensors")
    if input.shape[0] != other.shape[0]:
        raise RuntimeError(f"inconsistent tensor size, expected tensor [{input.shape[0]}] and "
                           f"src [{other.shape[0]}] to have the same number of elements, but "
                           f"got {input.shape[0]} and {other.shape[0]} elements respectively")
    _same_dtype(input, other, "dot")
    return matmul(input, other)


inner_product = dot


def outer(input, vec2):
    """The outer product of two vectors, ``input[i] * vec2[j]`` (dtypes promote)."""
    for name, v in (("self", input), ("vec2", vec2)):
        if v.ndim != 1:
            raise RuntimeError(f"outer: Expected 1-D argument {name}, but got {v.ndim}-D")
    return mul(reshape(input, (-1, 1)), vec2)


ger = outer


def cross(input, other, dim=None):
    """The cross product of 3-vectors along ``dim`` (broadcasting the other dims). Without
    ``dim``, the first dim of size 3, as torch.cross's deprecated default (PyTorch warns)."""
    if input.ndim != other.ndim:
        raise RuntimeError("linalg.cross: inputs must have the same number of dimensions.")
    if input.array.dtype != other.array.dtype:
        _same_dtype(input, other, "cross")
    shape = tuple(np.broadcast_shapes(input.shape, other.shape))
    if dim is None:
        dim = next((k for k, n in enumerate(shape) if n == 3), None)
        if dim is None:
            raise RuntimeError("no dimension of size 3 in input")
    d = normalize_dim("cross", dim, len(shape))
    na, nb = (t.shape[d - len(shape) + t.ndim] if d - len(shape) + t.ndim >= 0 else 1
              for t in (input, other))
    if na != 3 or nb != 3:
        raise RuntimeError(f"linalg.cross: inputs dimension {d} must have length 3. Got {na} "
                           f"and {nb}")
    a, b = broadcast_to(input, shape), broadcast_to(other, shape)
    head = (slice(None),) * d
    x = [getitem(a, head + (k,)) for k in range(3)]
    y = [getitem(b, head + (k,)) for k in range(3)]
    return stack([sub(mul(x[1], y[2]), mul(x[2], y[1])),
                  sub(mul(x[2], y[0]), mul(x[0], y[2])),
                  sub(mul(x[0], y[1]), mul(x[1], y[0]))], d)


# ---------------------------------------------------------------- norms

def vector_norm(x, p, dims, keepdim):
    """The p-norm over ``dims`` (a tuple) as a composite whose gradient is PyTorch's: 0
    where the norm is 0 (the 2-norm's square root is taken only where its argument is
    positive), the max-norm's shared evenly among ties."""
    xp = xp_of(x.array)
    if p == 2:
        s = sum(mul(x, x), dims, keepdim)
        zero = constant(s.array == 0)
        return where(zero, 0.0, sqrt(where(zero, 1.0, s)))
    if p == math.inf or p == -math.inf:
        if x.array.size == 0:
            raise RuntimeError(f"linalg.vector_norm cannot compute the {p} norm on an empty "
                               f"tensor because the operation does not have an identity")
        return (amax if p > 0 else amin)(abs(x), dims, keepdim)
    if p == 0:
        count = sum(cast(constant(x.array != 0), x.dtype), dims, keepdim)
        # (a zero gradient, as PyTorch's, through sign's)
        return count if not x.requires_grad else count + mul(sum(sign(x), dims, keepdim), 0)
    if p == 1:
        return sum(abs(x), dims, keepdim)
    s = sum(pow(abs(x), p), dims, keepdim)
    zero = constant(s.array == 0) if p > 0 else None
    if zero is None or not xp.any(zero.array):
        return pow(s, 1.0 / p)
    return where(zero, 0.0, pow(where(zero, 1.0, s), 1.0 / p))


def norm(input, p="fro", dim=None, keepdim=False, dtype=None):
    """torch.norm: the vector p-norm (p a number, inf or -inf) of the whole tensor or over
    ``dim`` (an int or tuple); "fro" is the 2-norm over ``dim`` (at most two dims); "nuc"
    the nuclear norm (``linalg.matrix_norm``) over two dims."""
    if not isinstance(input, Tensor) or input.array.dtype.kind != "f":
        name = dtypes.scalar_name(input.array.dtype) if isinstance(input, Tensor) else \
            type(input).__name__
        raise RuntimeError(f"linalg.vector_norm: Expected a floating point or complex tensor "
                           f"as input. Got {name}")
    if dtype is not None:
        input = cast(input, dtype)
    if isinstance(dim, numbers.Integral):
        dim = (dim,)
    if isinstance(p, str):
        if p == "nuc":   # (as torch.norm: a matrix norm over dim, or over all of a matrix)
            from minigrad.ops.norms import matrix_norm
            return matrix_norm(input, p, tuple(range(input.ndim)) if dim is None else dim,
                               keepdim)
        if p != "fro":
            raise RuntimeError(f"linalg.matrix_norm: Order {p} not supported.")
        if dim is not None and len(dim) > 2:
            raise RuntimeError(f"linalg.matrix_norm: dim must be a 2-tuple. Got "
                               f"{' '.join(str(d) for d in dim)}")
        p = 2
    dims = normalize_dims("norm", dim, input.ndim)
    return vector_norm(input, float(p), dims, keepdim)


def dist(input, other, p=2):
    """The p-norm of ``input - other`` (broadcast)."""
    if input.array.dtype.kind != "f" or other.array.dtype.kind != "f":
        bad = input if input.array.dtype.kind != "f" else other
        raise RuntimeError(f"norm(): input dtype should be either floating point or complex. "
                           f"Got {dtypes.scalar_name(bad.array.dtype)} instead.")
    return norm(sub(input, other), p)


# ---------------------------------------------------------------- matrix structure

def diag(input, diagonal=0):
    """A vector's square matrix with it on the ``diagonal``-th diagonal, or a matrix's
    ``diagonal``-th diagonal as a vector."""
    if input.ndim == 2:
        return _diagonal_of(input, diagonal, 0, 1)
    if input.ndim != 1:
        raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {input.ndim}D")
    n, k = input.shape[0], diagonal if diagonal >= 0 else -diagonal
    xp = xp_of(input.array)
    i = xp.arange(n)
    rows, cols = (i, i + k) if diagonal >= 0 else (i + k, i)
    return IndexAdd.apply(input, index=(rows, cols), advanced=True, shape=(n + k, n + k))


def _triangle(op, input, diagonal, lower):
    if input.ndim < 2:
        raise RuntimeError(f"{op}: input tensor must have at least 2 dimensions")
    xp = xp_of(input.array)
    rows, cols = input.shape[-2:]
    r = xp.arange(rows).reshape(-1, 1)
    c = xp.arange(cols).reshape(1, -1)
    keep = (c - r <= diagonal) if lower else (c - r >= diagonal)
    zero = constant(xp.zeros((), dtype=input.array.dtype))   # (bool stays bool, as in torch)
    return where(constant(keep), input, zero)


def tril(input, diagonal=0):
    return _triangle("tril", input, diagonal, True)


def triu(input, diagonal=0):
    return _triangle("triu", input, diagonal, False)


def diagonal(input, offset=0, dim1=0, dim2=1):
    """The diagonal of the (dim1, dim2) planes as the last dim: an advanced getitem."""
    d1 = normalize_dim("diagonal", dim1, input.ndim)
    d2 = normalize_dim("diagonal", dim2, input.ndim)
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    rest = [k for k in range(input.ndim) if k not in (d1, d2)]
    a = permute(input, *rest, d1, d2)
    n1, n2 = input.shape[d1], input.shape[d2]
    xp = xp_of(input.array)
    length = max(0, min(n1 + min(offset, 0), n2 - max(offset, 0)))
    i = xp.arange(length)
    return GetItem.apply(a, index=(Ellipsis, i - min(offset, 0), i + max(offset, 0)),
                         advanced=True)


# ---------------------------------------------------------------- einsum

def _parse_einsum(equation, operands):
    eq = equation.replace(" ", "")
    if "->" in eq:
        lhs, rhs = eq.split("->")
    else:
        lhs, rhs = eq, None
    terms = lhs.split(",")
    if len(terms) != len(operands):
        raise InvalidArgument(f"einsum(): {len(terms)} operand subscripts in {equation!r} for "
                              f"{len(operands)} operands")
    ell_dims = 0
    for term, op in zip(terms, operands):
        if "..." in term:
            ell_dims = max(ell_dims, op.ndim - (len(term) - 3))
    ell = "".join(chr(0x100 + k) for k in range(ell_dims))  # letters no subscript uses
    parsed = []
    for k, (term, op) in enumerate(zip(terms, operands)):
        if "..." in term:
            n = op.ndim - (len(term) - 3)
            term = term.replace("...", ell[ell_dims - n:] if n else "")
        if not all(c.isalpha() for c in term):
            raise InvalidArgument(f"einsum(): invalid subscript in {equation!r}")
        if len(term) != op.ndim:
            raise InvalidArgument(f"einsum(): the number of subscripts in the equation "
                                  f"({len(term)}) does not match the number of dimensions "
                                  f"({op.ndim}) for operand {k}")
        parsed.append(term)
    if rhs is None:  # implicit output: the letters used once, alphabetically
        counts = collections.Counter("".join(parsed))
        rhs = ell + "".join(sorted(c for c in counts if counts[c] == 1 and c not in ell))
    else:
        rhs = rhs.replace("...", ell)
    return parsed, rhs


def einsum(equation, *operands):
    """Einstein summation as a composite: take each operand's diagonals for repeated
    subscripts, line all operands up on one order of subscripts (size-1 where absent),
    multiply with broadcasting and sum the subscripts the output lacks. Exact and
    differentiable; memory is the product of all subscript sizes."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    terms, out = _parse_einsum(equation, operands)
    sizes = {}
    aligned_ops = []
    for k, (term, op) in enumerate(zip(terms, operands)):
        while len(set(term)) != len(term):  # a repeated subscript: its diagonal
            c = next(c for c in term if term.count(c) > 1)
            i, j = term.index(c), term.index(c, term.index(c) + 1)
            if op.shape[i] != op.shape[j]:
                raise RuntimeError(f"einsum(): subscript {c} is repeated for operand {k} but "
                                   f"the sizes don't match, {op.shape[i]} != {op.shape[j]}")
            op = diagonal(op, 0, i, j)
            term = term[:i] + term[i + 1:j] + term[j + 1:] + c
        for c, s in zip(term, op.shape):
            if c in sizes and sizes[c] != s and s != 1 and sizes[c] != 1:
                raise RuntimeError(f"einsum(): subscript {c} has size {s} for operand {k} "
                                   f"which does not broadcast with previously seen size "
                                   f"{sizes[c]}")
            sizes[c] = s if sizes.get(c, 1) == 1 else sizes[c]
        aligned_ops.append((term, op))
    for c in out:
        if c not in sizes:
            raise InvalidArgument(f"einsum(): output subscript {c} does not appear in the "
                                  f"equation for any input operand")
    letters = list(out) + sorted(set(sizes) - set(out))
    result = None
    for term, op in aligned_ops:
        present = [c for c in letters if c in term]
        op = permute(op, *[term.index(c) for c in present]) if op.ndim > 1 else op
        op = reshape(op, tuple(op.shape[present.index(c)] if c in term else 1
                               for c in letters))
        result = op if result is None else mul(result, op)
    shape = tuple(sizes[c] for c in letters)
    if result.shape != shape:
        result = broadcast_to(result, shape)
    summed = tuple(range(len(out), len(letters)))
    return sum(result, summed) if summed else result


_diagonal_of = diagonal   # (diag's argument is named diagonal, as in PyTorch)
