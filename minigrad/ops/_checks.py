"""Gradient-check cases for every primitive (and the composites in ``ops``), registered
with ``minigrad.gradcheck``. Shapes are small and include broadcasting, scalars and
non-contiguous inputs; domains keep inputs away from kinks and poles."""
import numpy as np

from minigrad import ops
from minigrad.gradcheck import register

# ---- binary arithmetic, with broadcasting
for name, fn, dom in [("add", ops.add, "real"), ("sub", ops.sub, "real"),
                      ("mul", ops.mul, "real"), ("div", ops.div, ("real", "nonzero"))]:
    register(name, fn, (3, 4), (3, 4), domain=dom)
    register(name, fn, (3, 4), (4,), domain=dom)
    register(name, fn, (2, 1, 4), (3, 1), domain=dom)
    register(name, fn, (3, 4), (), domain=dom)
    register(name, fn, (3, 4), (3, 4), domain=dom, noncontig=True)
register("add scalar", lambda a: a + 2.5, (3, 4))      # (the one-input scalar nodes)
register("radd scalar", lambda a: 2.5 + a, (3, 4))
register("sub scalar", lambda a: a - 0.75, (3, 4))
register("mul scalar", lambda a: a * -1.25, (3, 4))
register("mul scalar", lambda a: 0.5 * a, (2, 1, 4), noncontig=True)
register("div scalar", lambda a: a / 3.5, (3, 4))
register("lerp", lambda a, b, w: ops.lerp(a, b, w), (3, 4), (4,), (3, 4))
register("lerp scalar weight", lambda a, b: ops.lerp(a, b, 0.7), (3, 4), (3, 4))
register("rsub scalar", lambda a: 1.5 - a, (3, 4))
register("rdiv scalar", lambda a: 2.0 / a, (3, 4), domain="nonzero")
register("pow tensor", ops.pow, (3, 4), (3, 4), domain=("positive", "real"))
register("pow tensor", ops.pow, (3, 4), (4,), domain=("positive", "real"))
register("pow scalar", lambda a: a ** 3, (3, 4))
register("pow scalar", lambda a: a ** 2.5, (3, 4), domain="positive")
register("pow scalar", lambda a: a ** -1.5, (3, 4), domain="positive")
register("rpow scalar", lambda a: 2.0 ** a, (3, 4))
register("maximum", ops.maximum, (3, 4), (4,))
register("minimum", ops.minimum, (3, 4), (3, 1))
register("where", lambda a, b: ops.where(a > 0, a, b), (3, 4), (4,))

# ---- unary
for name, fn, dom in [("neg", ops.neg, "real"), ("exp", ops.exp, "real"),
                      ("log", ops.log, "positive"), ("sqrt", ops.sqrt, "positive"),
                      ("rsqrt", ops.rsqrt, "positive"), ("abs", ops.abs, "nonzero"),
                      ("tanh", ops.tanh, "real"), ("sigmoid", ops.sigmoid, "real"),
                      ("relu", ops.relu, "nonzero"), ("erf", ops.erf, "real")]:
    register(name, fn, (3, 4), domain=dom)
    register(name, fn, (4, 3), domain=dom, noncontig=True)
register("rsqrt eps", lambda a: ops.rsqrt_eps(a, 0.1), (3, 4), domain="positive")
register("rsqrt eps weighted", lambda a, w: ops.rsqrt_eps(a, 0.1, w), (5,), (5,),
         domain=("positive", "real"))
register("clamp", lambda a: ops.clamp(a, -0.5, 0.5), (3, 4))
register("clamp", lambda a: ops.clamp(a, min=0.1), (3, 4), domain="nonzero")
register("clamp tensor", lambda a, lo: ops.clamp(a, min=lo), (3, 4), (4,))

# ---- reductions; (2, 3, 4, 5) over (0, 2, 3) runs the per-channel kernels
register("sum", lambda a: ops.sum(a), (3, 4))
register("sum", lambda a: ops.sum(a, 1), (3, 4, 2))
register("sum", lambda a: ops.sum(a, (0, 2), keepdim=True), (3, 4, 2))
register("sum", lambda a: ops.sum(a, (0, 2, 3)), (2, 3, 4, 5), label="2x3x4x5 dims 0,2,3")
register("sum", lambda a: ops.sum(a, 0), (5, 3), noncontig=True)
register("mean", lambda a: ops.mean(a, -1), (3, 4))
register("mean", lambda a: ops.mean(a, (0, 2, 3), keepdim=True), (2, 3, 4, 5),
         label="2x3x4x5 dims 0,2,3")
register("var", lambda a: ops.var(a), (3, 4))
register("var", lambda a: ops.var(a, 1, correction=0), (3, 4))
register("var", lambda a: ops.var(a, (0, 2, 3)), (2, 3, 4, 5), label="2x3x4x5 dims 0,2,3")
register("var", lambda a: ops.var(a, 0, keepdim=True), (6, 3), noncontig=True)
register("std", lambda a: ops.std(a, 0), (5, 3))
register("amax", lambda a: ops.amax(a, 1), (3, 4))
register("amax", lambda a: ops.amax(a, (0, 2), keepdim=True), (3, 4, 2))
register("amin", lambda a: ops.amin(a), (3, 4))
register("max", lambda a: ops.max(a, 1).values, (3, 4))
register("min", lambda a: ops.min(a, 0, keepdim=True).values, (3, 4))

# ---- matmul: NumPy's rules, 1-D, batched with broadcasting, transposed views
register("matmul", ops.matmul, (3, 4), (4, 5))
register("matmul", ops.matmul, (4,), (4, 5))
register("matmul", ops.matmul, (3, 4), (4,))
register("matmul", ops.matmul, (4,), (4,))
register("matmul", ops.matmul, (2, 3, 4), (4, 5))
register("matmul", ops.matmul, (2, 1, 3, 4), (3, 4, 2))
register("matmul", ops.matmul, (3, 4), (4, 5), noncontig=True, label="3x4 4x5 transposed views")

# ---- shapes and indexing
register("reshape", lambda a: ops.reshape(a, (4, -1)), (2, 3, 2))
register("view", lambda a: ops.view(a, 6, 2), (2, 3, 2))
register("flatten", lambda a: ops.flatten(a, 1), (2, 3, 2))
register("squeeze", lambda a: ops.squeeze(a, 1), (3, 1, 2))
register("unsqueeze", lambda a: ops.unsqueeze(a, -1), (3, 2))
register("transpose", lambda a: ops.transpose(a, 0, 2), (2, 3, 4))
register("permute", lambda a: ops.permute(a, 2, 0, 1), (2, 3, 4))
register("expand", lambda a: ops.expand(a, 2, -1, 4), (3, 1))
register("contiguous", lambda a: ops.contiguous(ops.transpose(a, 0, 1)) * 2, (3, 4))
register("broadcast_to", lambda a: ops.broadcast_to(a, (2, 3, 4)), (4,))
register("getitem", lambda a: a[1:, ::2], (4, 5), label="4x5 [1:, ::2]")
register("getitem", lambda a: a[None, ..., 1], (3, 4, 2), label="3x4x2 [None, ..., 1]")
register("getitem", lambda a: a[np.array([0, 2, 0, 0])], (3, 4), label="3x4 [[0,2,0,0]]")
register("getitem", lambda a: a[np.array([1, 0]), np.array([2, 2])], (3, 4),
         label="3x4 [[1,0],[2,2]]")
register("getitem", lambda a: a[a > 0.3], (3, 4), label="3x4 [mask]")
register("getitem", lambda a: a[:, np.array([3, 3, 1])], (3, 4), noncontig=True,
         label="3x4 [:, [3,3,1]] strided")
register("cat", lambda a, b: ops.cat([a, b], 1), (2, 3), (2, 2))
register("stack", lambda a, b: ops.stack([a, b], -1), (2, 3), (2, 3))
register("pad constant", lambda a: ops.pad(a, (1, 2, 0, 1), value=0.5), (2, 3, 4))
register("pad constant", lambda a: ops.pad(a, (-1, 2)), (3, 4), label="3x4 crop")
for mode in ("reflect", "replicate", "circular"):
    register(f"pad {mode}", lambda a, m=mode: ops.pad(a, (2, 1, 1, 0), mode=m), (2, 3, 4))

# ---- a composite chain, to exercise accumulation through shared inputs
register("composite", lambda a, b: ops.tanh(a @ b + a.sum(1, keepdim=True)) * a.mean(),
         (3, 4), (4, 4))

# ---- channel-wise primitives (what the normalization layers are made of); a tuple output
# is checked through a random combination of its parts
register("channel_moments", lambda x: ops.channel_moments(x), (4, 3, 2, 2))
register("channel_moments", lambda x: ops.channel_moments(x), (5, 3), noncontig=True)
register("channel_moments mean only", lambda x: ops.channel_moments(x)[0] * 1.0, (4, 3, 5))
register("channel_moments var only", lambda x: ops.channel_moments(x)[1] * 1.0, (4, 3, 5))
register("channel_affine", lambda x, s, b: ops.channel_affine(x, s, b), (4, 3, 2, 2), (3,), (3,))
register("channel_affine", lambda x, s, b: ops.channel_affine(x, s, b), (5, 3), (3,), (3,),
         noncontig=True)
register("channel_moments as rows", lambda x: ops.channel_moments(x, as_shape=(1, -1, 4)),
         (3, 2, 4))
register("channel_affine as rows", lambda x, s, b, c: ops.channel_affine(
    x, s, b, center=c, as_shape=(1, -1, 3)), (2, 2, 3), (4,), (4,), (4,))
register("channel_affine as columns", lambda x, s, b: ops.channel_affine(
    x, s, b, as_shape=(-1, 3)), (4, 3), (3,), (3,), noncontig=True)
register("channel_affine centred", lambda x, s, b, c: ops.channel_affine(x, s, b, center=c),
         (2, 3, 4), (3,), (3,), (3,))

# ---- indexing, gathers, scatters, repeats, sorting and einsum
_IDX = np.array([[0, 3, 3, 1], [2, 2, 0, 1]])
register("getitem int+adv", lambda a: a[1, :, np.array([2, 0, 2])], (2, 3, 4),
         label="2x3x4 [1, :, [2,0,2]]")
register("gather", lambda a: ops.gather(a, 1, _IDX), (2, 4))
register("scatter", lambda a, s: ops.scatter(a, 1, np.array([[0, 2], [3, 1]]), s), (2, 4), (2, 3),
         label="2x4 src 2x3")
register("scatter value", lambda a: ops.scatter(a, 0, np.array([[1, 0]]), 0.5), (2, 2))
register("scatter_add", lambda a, s: ops.scatter_add(a, 1, _IDX, s), (2, 4), (2, 4))
register("index_select", lambda a: ops.index_select(a, 0, np.array([2, 0, 2])), (3, 2))
register("masked_fill", lambda a, v: ops.masked_fill(a, a > 0, v), (3, 4), ())
register("masked_select", lambda a: ops.masked_select(a, np.array([True, False, True])), (2, 3))
register("repeat", lambda a: ops.repeat(a, 2, 1, 3), (2, 2))
register("tile", lambda a: ops.tile(a, (2,)), (2, 3))
register("flip", lambda a: ops.flip(a, (0, 1)), (2, 3))
register("roll", lambda a: ops.roll(a, (1, -1), (0, 1)), (3, 4))
register("tril", lambda a: ops.tril(a, -1), (3, 4))
register("triu", lambda a: ops.triu(a, 1), (2, 3, 3))
register("diagonal", lambda a: ops.diagonal(a, 1, 0, 2), (3, 2, 4))
register("sort", lambda a: ops.sort(a, 0, descending=True).values, (4, 3))
register("topk", lambda a: ops.topk(a, 2).values, (3, 5))
register("split", lambda a: ops.split(a, [1, 2], 1)[1] * ops.chunk(a, 3, 1)[0], (2, 3))
register("unbind", lambda a: ops.unbind(a, 1)[2], (2, 3))
register("meshgrid", lambda a, b: ops.meshgrid(a, b, indexing="xy")[0] * ops.meshgrid(a, b)[1].T,
         (3,), (2,))
register("einsum", lambda a, b: ops.einsum("bij,bjk->bik", a, b), (2, 3, 4), (2, 4, 2))
register("einsum", lambda a: ops.einsum("ii->", a), (3, 3))
# ---- more elementwise math, rounding and division, products, scans
# (prod and cumprod also through a mask of zeros, which runs their gradients' zero path; a
# masked element's own gradient is 0 here, so tests/test_ops_math.py checks that one
# against PyTorch)
_ZERO_MASK = np.array([[1.0, 0.0, 1.0, 1.0], [0.0, 1.0, 0.0, 1.0], [1.0, 1.0, 1.0, 1.0]])
for name, fn, dom in [("sin", ops.sin, "real"), ("cos", ops.cos, "real"),
                      ("tan", lambda a: ops.tan(a * 0.5), "real"), ("log2", ops.log2, "positive"),
                      ("log10", ops.log10, "positive"), ("exp2", ops.exp2, "real"),
                      ("log1p", ops.log1p, "positive"), ("expm1", ops.expm1, "real")]:
    register(name, fn, (3, 4), domain=dom)
    register(name, fn, (4, 3), domain=dom, noncontig=True)
register("erfinv", lambda a: ops.erfinv(ops.tanh(a)), (3, 4))
register("erfinv", lambda a: ops.erfinv(a * 0.45), (4, 3), domain="nonzero", noncontig=True)
register("atan2", ops.atan2, (3, 4), (4,), domain=("real", "nonzero"))
register("atan2", ops.atan2, (3, 4), (3, 4), domain=("nonzero", "real"), noncontig=True)
register("rounding", lambda a: ops.round(a) + ops.floor(a) + ops.ceil(a) + ops.trunc(a) + a,
         (3, 4), second_order=False)
register("fmod", lambda a, b: ops.fmod(a * 3, b), (3, 4), (4,), domain=("real", "nonzero"))
register("remainder", lambda a, b: ops.remainder(a * 3, b), (3, 4), (3, 1),
         domain=("real", "nonzero"))
register("div rounded", lambda a, b: ops.div(a * 3, b, rounding_mode="floor") * a
         + ops.div(a * 3, b, rounding_mode="trunc") * b, (3, 4), (4,), domain=("real", "nonzero"))
register("prod", lambda a: ops.prod(a), (3, 4), domain="nonzero")
register("prod", lambda a: ops.prod(a, 1, keepdim=True), (3, 4), domain="nonzero")
register("prod", lambda a: ops.prod(a, 0), (4, 3), domain="nonzero", noncontig=True)
register("prod zeros", lambda a: ops.prod(a * ops.as_tensor(_ZERO_MASK).to(a.device, a.dtype), 1), (3, 4),
         domain="nonzero")
register("cumsum", lambda a: ops.cumsum(a, 1), (3, 4))
register("cumsum", lambda a: ops.cumsum(a, 0), (4, 3), noncontig=True)
register("cumprod", lambda a: ops.cumprod(a, 1), (3, 4), domain="nonzero")
register("cumprod", lambda a: ops.cumprod(a, 0), (4, 3), domain="nonzero", noncontig=True)
register("cumprod zeros", lambda a: ops.cumprod(a * ops.as_tensor(_ZERO_MASK).to(a.device, a.dtype), 1), (3, 4),
         domain="nonzero")
register("logsumexp", lambda a: ops.logsumexp(a, 1), (3, 4))
register("logsumexp", lambda a: ops.logsumexp(a, (0, 2), keepdim=True), (2, 3, 4))
# ---- inverse trigonometry, hyperbolic functions, fused multiply-adds
for name, fn, dom in [("asin", ops.asin, "unit"), ("acos", ops.acos, "unit"),
                      ("atan", ops.atan, "real"), ("sinh", ops.sinh, "real"),
                      ("cosh", ops.cosh, "real"), ("square", ops.square, "real")]:
    register(name, fn, (3, 4), domain=dom)
    register(name, fn, (4, 3), domain=dom, noncontig=True)
register("addcmul", lambda a, b, c: ops.addcmul(a, b, c, value=0.5), (3, 4), (4,), (3, 1))
register("addcdiv", lambda a, b, c: ops.addcdiv(a, b, c, value=-2.0), (3, 4), (3, 4), (4,),
         domain=("real", "real", "nonzero"))
# ---- products, norms, matrix structure (composites on matmul, mul, sum, sqrt, where)
register("mm", ops.mm, (3, 4), (4, 2))
register("bmm", ops.bmm, (2, 3, 4), (2, 4, 2), noncontig=True)
register("mv", ops.mv, (3, 4), (4,))
register("dot", ops.dot, (4,), (4,))
register("outer", ops.outer, (3,), (4,))
register("cross", lambda a, b: ops.cross(a, b, dim=1), (2, 3), (1, 3))
register("norm", lambda a: ops.norm(a), (3, 4), domain="nonzero")
register("norm", lambda a: ops.norm(a, 3, dim=1, keepdim=True), (3, 4), domain="nonzero")
register("norm", lambda a: ops.norm(a, 1, dim=0), (3, 4), domain="nonzero")
register("norm", lambda a: ops.norm(a, float("inf"), dim=(0, 1)), (3, 4), domain="nonzero")
register("dist", lambda a, b: ops.dist(a, b, 2.5), (3, 4), (4,))
register("diag", lambda a: ops.diag(a, -1), (3,))
register("diag", lambda a: ops.diag(a, 1), (3, 4))
# ---- views and gathers by dims
register("narrow", lambda a: ops.narrow(a, 1, -3, 2), (3, 4))
register("movedim", lambda a: ops.movedim(a, (0, 1), (2, 0)), (2, 3, 4))
register("unflatten", lambda a: ops.unflatten(a, 1, (2, -1)), (3, 4))
register("unfold", lambda a: ops.unfold(a, 1, 3, 2) * ops.unfold(a, 1, 3, 2), (2, 7))
register("t", lambda a: ops.t(a) @ a, (3, 2))
register("mT", lambda a: ops.mT(a), (2, 3, 4), noncontig=True)
_REPEATS = np.array([2, 0, 1])
register("repeat_interleave", lambda a: ops.repeat_interleave(a, ops.as_tensor(_REPEATS), 0),
         (3, 2))
register("repeat_interleave", lambda a: ops.repeat_interleave(a, 2), (2, 2))
register("index_add", lambda a, s: ops.index_add(a, 1, np.array([0, 2, 0]), s, alpha=1.5),
         (2, 4), (2, 3))
register("std_mean", lambda a: ops.std_mean(a, 1), (3, 4))
# ---- the fused LSTM step (ops/recurrent.py): both outputs, each alone
register("lstm_gates", lambda g, c: ops.lstm_gates(g, c), (2, 8), (2, 2))
register("lstm_gates", lambda g, c: ops.lstm_gates(g, c)[0], (3, 4), (3, 1), label="3x4 3x1 h only")
register("lstm_gates", lambda g, c: ops.lstm_gates(g, c)[1], (2, 8), (2, 2), label="2x8 2x2 c only")
# ---- the whole LSTM layer (ops/recurrent.py): every output, both directions, one alone
register("lstm_layer", lambda gi, h, c, w: ops.lstm_layer(gi, h, c, w), (3, 2, 8), (2, 2),
         (2, 2), (8, 2))
register("lstm_layer", lambda gi, h, c, w: ops.lstm_layer(gi, h, c, w, reverse=True),
         (3, 2, 8), (2, 2), (2, 2), (8, 2), label="reverse")
register("lstm_layer", lambda gi, h, c, w: ops.lstm_layer(gi, h, c, w)[2], (2, 1, 4), (1, 1),
         (1, 1), (4, 1), label="c_T only")
# ---- linear algebra (ops/matrix.py, ops/norms.py). Symmetric inputs as a + a^T; singular
# vectors and eigenvectors (defined up to sign) through sign-invariant functions of them
from minigrad.ops import matrix as _M, norms as _N  # noqa: E402


def _sym(a):
    return a + ops.transpose(a, -1, -2)


def _svd_parts(a):
    u, s, vh = _M.svd(a, full_matrices=False)
    return s, u * u, vh * vh, u @ vh


register("det", _M.det, (3, 3))
register("det", _M.det, (2, 4, 4), noncontig=True)
register("slogdet", lambda a: _M.slogdet(a).logabsdet, (2, 3, 3))
register("inv", _M.inv, (3, 3))
register("inv", _M.inv, (2, 3, 3), noncontig=True)
register("solve", _M.solve, (3, 3), (3, 2))
register("solve", _M.solve, (2, 3, 3), (3,), label="2x3x3 vector 3")
register("solve", _M.solve, (2, 3, 3), (1, 3, 2), label="2x3x3 batch-broadcast 1x3x2")
register("solve", lambda a, b: _M.solve(a, b, left=False), (3, 3), (2, 3), label="left=False")
register("eigh", lambda a: (lambda r: (r.eigenvalues, r.eigenvectors ** 2))(_M.eigh(_sym(a))),
         (3, 3))
register("eigh", lambda a: _M.eigh(_sym(a), UPLO="U").eigenvalues, (2, 4, 4))
register("eigvalsh", lambda a: _M.eigvalsh(_sym(a)), (3, 3))
register("svd", _svd_parts, (4, 3))
register("svd", _svd_parts, (3, 5))
register("svd", _svd_parts, (2, 3, 3))
register("svd full_matrices", lambda a: (lambda r: (r.S, r.U[:, :2] ** 2, r.Vh ** 2))(
    _M.svd(a)), (4, 2))
register("svdvals", _M.svdvals, (2, 4, 3))
register("legacy svd", lambda a: (lambda r: (r.S, r.U @ ops.transpose(r.V, -1, -2)))(
    _M.legacy_svd(a)), (4, 3))
register("matrix_exp", _M.matrix_exp, (3, 3))
register("matrix_exp", lambda a: _M.matrix_exp(a * 3), (2, 3, 3), label="2x3x3 scaled")
# (vector_norm shares torch.norm's composite, registered above as "norm")
register("vector_norm", lambda a: _N.vector_norm(a, -1.5, dim=0), (3, 4), domain="nonzero")
for _ord in ("fro", "nuc", 2, -2, 1, -1, float("inf"), float("-inf")):
    register(f"matrix_norm {_ord}", lambda a, o=_ord: _N.matrix_norm(a, o), (2, 3, 4))
register("linalg.norm", lambda a: _N.norm(a, dim=(0, 2), keepdim=True), (3, 2, 4))
# ---- saved-tensor hooks: what a detaching pack hook kept is reattached to the graph when
# unpacked (the _SavedLeaf stand-in for a saved leaf), so second derivatives go through it
from minigrad.autograd.graph import saved_tensors_hooks as _hooks  # noqa: E402


def _through_hooks(a, b):
    with _hooks(lambda t: t.detach(), lambda t: t):
        return (a * b).tanh() * a.exp()


register("saved_tensors_hooks", _through_hooks, (3, 4), (4,))

# ---- a recurrent step's pre-activations: x @ W^T + an addend of the result's shape
register("linear_add", ops.linear_add, (4, 5), (3, 5), (4, 3))
