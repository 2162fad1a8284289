"""Running sums and products along an axis, and the product reduction.

cumsum, cumprod and prod are primitives. Their gradients are exact where the input has
zeros: a product's gradient is then the product of the *other* elements, which dividing
the output by the input (0 / 0) cannot give. Both rules are written with cumsum/cumprod
themselves, so they are differentiable again."""
from minigrad.autograd.graph import Primitive
from minigrad.ops._common import (
    constant,
    dim_aliases,
    normalize_dim,
    normalize_dims,
    reduce_args,
    xp_of,
)
from minigrad.ops.arithmetic import mul, true_divide as div, where
from minigrad.ops.reduce import _expand_back, _finish
from minigrad.ops.reduce import sum as _sum
from minigrad.ops.shape import cat, getitem, permute, reshape, unsqueeze


def _running(scan, a, dim, reverse):
    """``scan`` (cumsum, cumprod) along ``dim``, from the end when ``reverse``."""
    if not reverse:
        return scan(a, axis=dim)
    xp = xp_of(a)
    return xp.flip(scan(xp.flip(a, axis=dim), axis=dim), axis=dim)


class CumSum(Primitive):
    """Running sum along ``dim`` (from the end when ``reverse``); the gradient is the
    running sum of the gradient in the other direction."""
    op_name = "cumsum"

    @staticmethod
    def forward(ctx, a, dim, reverse=False):
        ctx.dim, ctx.reverse = dim, reverse
        return _running(xp_of(a).cumsum, a, dim, reverse)

    @staticmethod
    def backward(ctx, g):
        return CumSum.apply(g, dim=ctx.dim, reverse=not ctx.reverse)


class CumProd(Primitive):
    """Running product along ``dim`` (from the end when ``reverse``).

    d out_k / d x_i = prod_{j <= k, j != i} x_j for k >= i. Without zeros in the input that
    is out_k / x_i, and the gradient is a reverse running sum of g * out, divided by x.
    With zeros, the products of the others are formed directly: an (n, n) matrix per slice
    whose row i is x with x_i replaced by 1 (O(n^2) memory along ``dim``, only then)."""
    op_name = "cumprod"
    save_inputs = True
    save_output = True

    @staticmethod
    def forward(ctx, a, dim, reverse=False):
        ctx.dim, ctx.reverse = dim, reverse
        return _running(xp_of(a).cumprod, a, dim, reverse)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.inputs
        dim, reverse = ctx.dim, ctx.reverse
        xp = xp_of(x.array)
        if not (x.array == 0).any():
            running = CumSum.apply(mul(g, ctx.output), dim=dim, reverse=not reverse)
            return div(running, x)
        last = x.ndim - 1
        order = [d for d in range(x.ndim) if d != dim] + [dim]
        back = [order.index(d) for d in range(x.ndim)]
        xl, gl = permute(x, *order), permute(g, *order)
        n = x.shape[dim]
        eye = constant(xp.eye(n, dtype=bool))
        rows = where(eye, 1, unsqueeze(xl, -2))              # (..., i, j): x_j, 1 at j == i
        others = CumProd.apply(rows, dim=last + 1, reverse=reverse)
        k_from_i = xp.triu(xp.ones((n, n), dtype=x.array.dtype))  # k >= i
        mask = constant(k_from_i.T if reverse else k_from_i)
        gx = _sum(mul(mul(others, mask), unsqueeze(gl, -2)), -1)
        return permute(gx, *back)


class Prod(Primitive):
    """Product over ``dims``. The gradient is g * out / x without zeros in the input, and
    g times the product of the other elements (from exclusive running products) with them."""
    op_name = "prod"
    save_inputs = True
    save_output = True

    @staticmethod
    def forward(ctx, a, dims, keepdim):
        out = xp_of(a).prod(a, axis=dims)
        return _finish(ctx, out, a, dims, keepdim)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.inputs
        g = _expand_back(ctx, g)
        if not (x.array == 0).any():
            return div(mul(g, _expand_back(ctx, ctx.output)), x)
        return mul(g, _product_of_others(x, ctx.dims))


def _product_of_others(x, dims):
    """For each element, the product of the other elements of its slice over ``dims``."""
    if len(dims) != 1:  # the whole tensor (prod over one dim is PyTorch's only other form)
        return reshape(_product_of_others(reshape(x, (-1,)), (0,)), x.shape)
    (d,) = dims
    n = x.shape[d]
    xp = xp_of(x.array)

    def part(t, start, stop):
        return getitem(t, (slice(None),) * d + (slice(start, stop),))

    one = constant(xp.ones(x.shape[:d] + (1,) + x.shape[d + 1:], dtype=x.array.dtype))
    before = cat([one, part(CumProd.apply(x, dim=d), 0, n - 1)], d)   # prod_{j < i} x_j
    after = cat([part(CumProd.apply(x, dim=d, reverse=True), 1, n), one], d)  # j > i
    return mul(before, after)


# ---------------------------------------------------------------- functions

def _integers_as_int64(a):
    """PyTorch sums and multiplies integers and bools in int64."""
    if a.array.dtype.kind in "iub" and a.array.dtype != "int64":
        return constant(a.array.astype("int64"))
    return a


def _scan(op, name, input, dim, axis):
    dim = dim_aliases(name, dim, axis)
    if dim is None:
        raise TypeError(f"{name}() missing 1 required positional argument: 'dim'")
    a = _integers_as_int64(input)
    if a.ndim == 0:  # a 0-d tensor scans as one element along dim 0 or -1
        normalize_dim(name, dim, 1)
        return reshape(op.apply(reshape(a, (1,)), dim=0), ())
    return op.apply(a, dim=normalize_dim(name, dim, a.ndim))


def cumsum(input, dim=None, *, axis=None):
    return _scan(CumSum, "cumsum", input, dim, axis)


def cumprod(input, dim=None, *, axis=None):
    return _scan(CumProd, "cumprod", input, dim, axis)


def prod(input, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """Product of all elements, or over one ``dim`` (an int, as in PyTorch)."""
    dim, keepdim = reduce_args("prod", dim, axis, keepdim, keepdims)
    if dim is not None and not isinstance(dim, int):
        raise TypeError(f"prod: dim must be an int, got {type(dim).__name__} (PyTorch's prod "
                        f"reduces all dimensions or one)")
    a = _integers_as_int64(input)
    return Prod.apply(a, dims=normalize_dims("prod", dim, a.ndim), keepdim=keepdim)
