"""Gradient-check cases for the layers, registered with ``minigrad.gradcheck``. Inputs that
a layer takes as parameters (weights, scales) are inputs of the checked function too."""
import numpy as np

import minigrad as mg
from minigrad.gradcheck import register
from minigrad.nn import functional as F


def _running(C, seed=0):
    rng = np.random.default_rng(seed)
    return mg.tensor(rng.standard_normal(C) * 0.3), mg.tensor(rng.uniform(0.5, 2.0, C))


register("linear", F.linear, (4, 5), (3, 5), (3,))
register("linear", F.linear, (2, 4, 5), (3, 5), (3,), label="2x4x5 3x5 3 batched")

for shape in [(2, 3), (2, 3, 4), (2, 3, 2, 2), (2, 3, 2, 2, 2), (5, 3)]:
    C = shape[1]
    rm, rv = _running(C)
    register("batch_norm train", lambda x, w, b: F.batch_norm(x, None, None, w, b, True),
             shape, (C,), (C,))
    register("batch_norm eval", lambda x, w, b, rm=rm, rv=rv: F.batch_norm(
        x, rm.to(x.device, x.dtype), rv.to(x.device, x.dtype), w, b, False),
             shape, (C,), (C,))
    register("batch_norm train no-affine", lambda x: F.batch_norm(x, None, None, training=True),
             shape)

# (masked batch statistics: padded positions are normalized but do not count)
_bn_masks = {(4, 3): np.array([True, False, True, True]),
             (3, 2, 4): np.array([[1, 1, 1, 0], [1, 0, 0, 0], [1, 1, 0, 0]], bool)}
for shape, _m in _bn_masks.items():
    C = shape[1]
    register("batch_norm train masked", lambda x, w, b, m=_m: F.batch_norm(
        x, None, None, w, b, True, mask=m), shape, (C,), (C,))

# (Ghost BN: strided virtual sub-batches of 2, 2 and 3 samples)
for shape, size in [((4, 3), 2), ((6, 2, 3), 2), ((6, 2, 2, 2), 3)]:
    register("batch_norm train ghost", lambda x, w, b, size=size: F.batch_norm(
        x, None, None, w, b, True, virtual_batch_size=size), shape, (shape[1],), (shape[1],))

register("layer_norm", lambda x, w, b: F.layer_norm(x, (3, 4), w, b), (2, 3, 4), (3, 4), (3, 4))
register("group_norm", lambda x, w, b: F.group_norm(x, 2, w, b), (2, 4, 3), (4,), (4,))
register("instance_norm", lambda x, w, b: F.instance_norm(x, weight=w, bias=b), (2, 3, 5), (3,), (3,))
register("instance_norm", lambda x: F.instance_norm(x), (2, 2, 3, 2))


def _renorm(x, w, b, rmax, dmax):
    # r and d carry no gradient by definition, so the engine's gradient is the function's
    # derivative only where they are clipped (locally constant): running statistics far
    # from the batch's put them there
    m = mg.nn.BatchRenorm1d(x.shape[1], rmax=rmax, dmax=dmax, affine=False).to(x.device, x.dtype)
    m.running_mean.array[...] = 10.0
    m.running_var.array[...] = 100.0
    return m(x) * w + b


register("batch_renorm clipped", lambda x, w, b: _renorm(x, w, b, 1.5, 0.5), (4, 3), (3,), (3,))
register("batch_renorm r=1 d=0", lambda x, w, b: _renorm(x, w, b, 1.0, 0.0), (4, 3), (3,), (3,))


register("relu/leaky_relu", lambda x: F.leaky_relu(x, 0.2), (3, 4), domain="nonzero")
register("gelu", F.gelu, (3, 4))
register("gelu tanh", lambda x: F.gelu(x, approximate="tanh"), (3, 4))
register("softmax", lambda x: F.softmax(x, 1), (3, 4))
register("log_softmax", lambda x: F.log_softmax(x, -1), (3, 4))


def _dropout(x):
    mg.manual_seed(0)  # the same mask at every evaluation
    return F.dropout(x, 0.4, training=True)


register("dropout", _dropout, (3, 4))

_t = np.array([0, 2, 1, -100, 3])
_w = np.array([0.5, 1.0, 2.0, 1.5])
register("cross_entropy", lambda x: F.cross_entropy(x, mg.tensor(_t, device=x.device), label_smoothing=0.1), (5, 4))
register("cross_entropy", lambda x: F.cross_entropy(x, mg.tensor(_t, device=x.device), weight=mg.tensor(_w, x.dtype, device=x.device),
                                                    reduction="sum"), (5, 4), label="5x4 weighted")
register("cross_entropy", lambda x: F.cross_entropy(x, mg.tensor(np.array([[0, 1], [2, 3]]), device=x.device)),
         (2, 4, 2), label="2x4x2 spatial")
register("cross_entropy", lambda x: F.cross_entropy(x, mg.tensor(_t, device=x.device)), (5, 4), label="5x4 mean")
register("cross_entropy", lambda x: F.cross_entropy(x, mg.tensor(_t, device=x.device), reduction="none"), (5, 4),
         label="5x4 none")
register("nll_loss", lambda x: F.nll_loss(x, mg.tensor(_t, device=x.device)), (5, 4))
register("mse_loss", F.mse_loss, (3, 4), (3, 4))
register("bce_with_logits", lambda x, y: F.binary_cross_entropy_with_logits(
    x, y, pos_weight=mg.tensor([1.0, 2.0, 0.5, 3.0], x.dtype, device=x.device)), (3, 4), (3, 4))


# ---- convolution and pooling: stride, padding, dilation, groups, 1x1, conv1d
register("conv2d", lambda x, w, b: F.conv2d(x, w, b), (2, 3, 5, 4), (4, 3, 3, 2), (4,))
register("conv2d", lambda x, w: F.conv2d(x, w, stride=2, padding=1), (2, 2, 5, 5), (3, 2, 3, 3),
         label="2x2x5x5 3x2x3x3 s2 p1")
register("conv2d", lambda x, w: F.conv2d(x, w, dilation=(2, 1), padding=(2, 0), groups=2),
         (1, 4, 5, 4), (4, 2, 2, 2), label="1x4x5x4 4x2x2x2 d(2,1) g2")
register("conv2d", lambda x, w: F.conv2d(x, w), (2, 3, 3, 3), (2, 3, 1, 1), label="2x3x3x3 1x1")
register("conv2d", lambda x, w: F.conv2d(x, w, padding="same"), (1, 2, 4, 4), (2, 2, 2, 2),
         label="1x2x4x4 2x2x2x2 same")
register("conv1d", lambda x, w, b: F.conv1d(x, w, b, stride=2, padding=1), (2, 3, 7), (2, 3, 3), (2,))
register("max_pool2d", lambda x: F.max_pool2d(x, 2), (2, 2, 4, 4))
register("max_pool2d", lambda x: F.max_pool2d(x, 3, 2, 1, dilation=1, ceil_mode=True), (1, 2, 5, 6),
         label="1x2x5x6 k3 s2 p1 ceil")
register("max_pool2d", lambda x: F.max_pool2d(x, 2, 1, dilation=2), (1, 1, 5, 5),
         label="1x1x5x5 k2 s1 d2")
register("avg_pool2d", lambda x: F.avg_pool2d(x, 2), (2, 2, 4, 4))
register("avg_pool2d", lambda x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False),
         (1, 2, 5, 6), label="1x2x5x6 k3 s2 p1 ceil excl")
register("adaptive_avg_pool2d", lambda x: F.adaptive_avg_pool2d(x, (2, 3)), (2, 2, 5, 7))

# ---- transposed and 3-D convolution, interpolation, embedding, 1-D/3-D/adaptive pooling
register("conv_transpose2d",
         lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1,
                                             groups=2), (1, 4, 3, 2), (4, 1, 3, 2), (2,))
register("conv_transpose2d", lambda x, w: F.conv_transpose2d(x, w, dilation=2), (2, 1, 2, 2),
         (1, 2, 2, 1))
register("conv3d", lambda x, w, b: F.conv3d(x, w, b, stride=(2, 1, 1), padding=1),
         (1, 2, 3, 3, 2), (2, 2, 2, 2, 1), (2,))
register("interpolate nearest", lambda x: F.interpolate(x, size=(3, 5)), (1, 2, 2, 3))
register("interpolate bilinear", lambda x: F.interpolate(x, scale_factor=1.5, mode="bilinear"),
         (1, 2, 2, 3))
register("interpolate bilinear",
         lambda x: F.interpolate(x, size=(3, 2), mode="bilinear", align_corners=True),
         (1, 1, 2, 3), label="1x1x2x3 align_corners")
# (padding_idx is left out: its row's gradient is zero by definition, not by derivative)
register("embedding", lambda w: F.embedding(np.array([[0, 2], [2, 1]]), w), (3, 2))
register("max_pool1d", lambda x: F.max_pool1d(x, 2, 1), (2, 2, 5))
register("avg_pool1d", lambda x: F.avg_pool1d(x, 3, 2, 1), (2, 2, 5))
register("max_pool3d", lambda x: F.max_pool3d(x, 2, 1), (1, 2, 3, 3, 2))
register("avg_pool3d", lambda x: F.avg_pool3d(x, 2, 1, 1, count_include_pad=False),
         (1, 2, 3, 3, 2))
register("adaptive_max_pool2d", lambda x: F.adaptive_max_pool2d(x, (2, 3)), (2, 1, 3, 4))

# ---- activations (away from their kinks at 0, +-1, +-3 and 6) and losses
for name, fn in [("silu", F.silu), ("gelu tanh", lambda x: F.gelu(x, "tanh")),
                 ("elu", lambda x: F.elu(x, 0.7)), ("selu", F.selu),
                 ("celu", lambda x: F.celu(x, 1.5)), ("softplus", F.softplus),
                 ("softplus threshold", lambda x: F.softplus(x * 2, 2.0, 1.5)),
                 ("hardtanh", lambda x: F.hardtanh(x * 0.7 + 0.05)),
                 ("relu6", lambda x: F.relu6(x * 4)), ("hardswish", lambda x: F.hardswish(x * 2)),
                 ("hardsigmoid", lambda x: F.hardsigmoid(x * 2)), ("mish", F.mish),
                 ("logsigmoid", F.logsigmoid), ("softsign", F.softsign)]:
    register(name, fn, (3, 4), domain="nonzero")
register("binary_cross_entropy", lambda p, y, w: F.binary_cross_entropy(
    mg.sigmoid(p), mg.sigmoid(y), w), (3, 4), (3, 4), (4,))
register("l1_loss", lambda x, y: F.l1_loss(x, y, "sum"), (3, 4), (3, 4))
register("smooth_l1_loss", lambda x, y: F.smooth_l1_loss(x, y, beta=0.8), (3, 4), (3, 4))
register("kl_div", lambda x, t: F.kl_div(x, t, "batchmean"), (3, 4), (3, 4),
         domain=("real", "positive"))
register("kl_div log_target", lambda x, t: F.kl_div(x, t, "sum", log_target=True), (3, 4), (3, 4))

# ---- Batch Layer Normalization: train and eval, 1d (N,C), (N,C,L), 2d
from minigrad.nn.functional import batch_layer_norm  # noqa: E402

for shape in [(4, 3), (3, 2, 4), (2, 3, 2, 2)]:
    C = shape[1]
    rm, rv = _running(C)
    register("batch_layer_norm train", lambda x, w, b: batch_layer_norm(x, None, None, w, b, True),
             shape, (C,), (C,))
    register("batch_layer_norm eval", lambda x, w, b, rm=rm, rv=rv: batch_layer_norm(
        x, rm.to(x.device, x.dtype), rv.to(x.device, x.dtype), w, b, False, batch_size=5), shape, (C,), (C,))
# (the registry's upstream gradient is drawn from the same seed as the first input, so it
# equals x; a scale-invariant output would then have a zero input gradient: mix it first)
_mix = mg.tensor(np.random.default_rng(7).standard_normal((3, 4)))
register("batch_layer_norm train no-affine",
         lambda x: batch_layer_norm(x, None, None, training=True) * _mix.to(x.device, x.dtype), (3, 4))
# (weight normalization: w = g v / ||v||, per dim, whole tensor, transposed dim)
from minigrad.nn.weight_norm import _weight_norm  # noqa: E402

# (g first: the upstream gradient equals the first input, and w is scale-invariant in v)
register("weight_norm dim=0", lambda g, v: _weight_norm(v, g, 0), (3, 1, 1), (3, 2, 2))
register("weight_norm dim=1", lambda g, v: _weight_norm(v, g, 1), (1, 2, 1), (3, 2, 2))
register("weight_norm dim=None", lambda g, v: _weight_norm(v, g, -1), (), (3, 4))

# ---- census layers: activations, distances, losses, bags, vision, pooling
register("prelu", lambda x, w: F.prelu(x, w), (2, 3, 4), (3,), domain=("nonzero", "real"))
register("prelu", lambda x, w: F.prelu(x, w), (5,), (1,), domain=("nonzero", "real"),
         label="5 1 shared")
register("threshold", lambda x: F.threshold(x * 3, 0.1, -2.0), (3, 4), domain="nonzero")
register("cosine_similarity", lambda a, b: F.cosine_similarity(a, b), (3, 4), (3, 4))
register("cosine_similarity", lambda a, b: F.cosine_similarity(a, b, dim=-1), (2, 3, 4), (3, 4),
         label="2x3x4 3x4 broadcast")
register("pairwise_distance", lambda a, b: F.pairwise_distance(a, b), (3, 4), (3, 4))
register("pairwise_distance", lambda a, b: F.pairwise_distance(a, b, p=3.0, keepdim=True),
         (3, 4), (4,), label="3x4 4 p=3")
_y = np.array([1, -1, 1, -1, 0])
register("cosine_embedding_loss", lambda a, b: F.cosine_embedding_loss(
    a, b, mg.tensor(_y, device=a.device), margin=-0.5), (5, 3), (5, 3))
_bag_idx, _bag_off = np.array([1, 2, 4, 5, 4, 3, 2, 9]), np.array([0, 3, 3, 5])
register("embedding_bag sum", lambda w, psw: F.embedding_bag(
    mg.tensor(_bag_idx, device=w.device), w, mg.tensor(_bag_off, device=w.device), mode="sum",
    per_sample_weights=psw), (10, 3), (8,))
register("embedding_bag mean", lambda w: F.embedding_bag(
    mg.tensor(_bag_idx, device=w.device), w, mg.tensor(_bag_off, device=w.device),
    padding_idx=4), (10, 3))
register("embedding_bag max", lambda w: F.embedding_bag(
    mg.tensor(_bag_idx.reshape(2, 4), device=w.device), w, mode="max"), (10, 3))
register("pixel_shuffle", lambda x: F.pixel_shuffle(x, 2), (2, 8, 2, 3))
register("pixel_unshuffle", lambda x: F.pixel_unshuffle(x, 2), (2, 2, 4, 6))
register("pad reflect 2d crop", lambda x: F.pad(x, (2, -1, 1, 2), mode="reflect"), (2, 3, 4, 4))
register("adaptive_avg_pool1d", lambda x: F.adaptive_avg_pool1d(x, 3), (2, 3, 7))
_unpool_at = np.array([[[[0, 3], [9, 14]]]]).repeat(2, 0)
register("max_unpool2d", lambda x: F.max_unpool2d(x, mg.tensor(_unpool_at, device=x.device), 2),
         (2, 1, 2, 2))
for _align in (False, True):
    register("interpolate bilinear", lambda x, a=_align: F.interpolate(
        x, size=(5, 3), mode="bilinear", align_corners=a), (2, 2, 3, 4), label=f"align={_align}")
register("affine_grid", lambda t: F.affine_grid(t, (2, 1, 3, 4), align_corners=False), (2, 2, 3))
for _pad in ("zeros", "border", "reflection"):
    for _align in (False, True):
        # (the grid spans past [-1, 1] so that every padding rule is exercised)
        register("grid_sample bilinear", lambda x, g, p=_pad, a=_align: F.grid_sample(
            x, g * 1.3, padding_mode=p, align_corners=a), (2, 2, 3, 4), (2, 3, 2, 2),
            label=f"{_pad} align={_align}")
register("grid_sample nearest", lambda x: F.grid_sample(
    x, mg.tensor(np.random.default_rng(3).uniform(-1.2, 1.2, (2, 3, 2, 2)), x.dtype,
                 device=x.device), mode="nearest", align_corners=False), (2, 2, 3, 4))

# ---- the differentiable all_reduce (SyncBatchNorm's statistics go through it)
# (in one process all_reduce is the identity; tests/test_distributed.py checks it under
# mpiexec -n 2, where its backward is the all-reduce of the gradient)
from minigrad.distributed.nn.functional import all_reduce as _all_reduce  # noqa: E402

register("all_reduce", lambda a, b: _all_reduce(a * b) * a, (3, 4), (3, 4))


# ---- recurrent layers: the cells, and whole sequences (2 layers, both directions, packed
# with batch sizes 2, 2, 1) with every weight and the initial states as inputs
from minigrad.nn.functional import rnn as R  # noqa: E402

register("rnn_tanh_cell", R.rnn_tanh_cell, (2, 3), (2, 2), (2, 3), (2, 2), (2,), (2,))
register("rnn_relu_cell", R.rnn_relu_cell, (2, 3), (2, 2), (2, 3), (2, 2), (2,), (2,))
register("lstm_cell", lambda x, h, c, *w: R.lstm_cell(x, (h, c), *w),
         (2, 3), (2, 2), (2, 2), (8, 3), (8, 2), (8,), (8,))
register("lstm_cell", lambda x, h, c, *w: R.lstm_cell(x, (h, c), *w),
         (3,), (1,), (2,), (8, 3), (8, 1), (8,), (8,), (1, 2), label="unbatched projected")
register("gru_cell", R.gru_cell, (2, 3), (2, 2), (6, 3), (6, 2), (6,), (6,))


def _sequence(mode, gates, proj=0, H=2, IN=3):
    """A 2-layer bidirectional ``R.rnn`` over packed data (5, IN) as a function of x, h_0
    (and c_0) and the 4 (or 5) weights of each of the 4 layer-directions."""
    Ho = proj or H
    per = 5 if proj else 4
    lstm = mode == "LSTM"

    def fn(x, h0, *rest):
        hx = (h0, rest[0]) if lstm else h0
        w = rest[1:] if lstm else rest
        weights = [tuple(w[k * per:(k + 1) * per]) for k in range(4)]
        out, hn = R.rnn(mode, x, [2, 2, 1], hx, weights, 2, bidirectional=True)
        return (out, *hn) if lstm else (out, hn)

    shapes = [(5, IN), (4, 2, Ho)] + ([(4, 2, H)] if lstm else [])
    for layer in range(2):
        for _ in range(2):
            shapes += [(gates * H, IN if layer == 0 else 2 * Ho), (gates * H, Ho),
                       (gates * H,), (gates * H,)] + ([(proj, H)] if proj else [])
    return fn, shapes


for _mode, _gates, _proj in [("RNN_TANH", 1, 0), ("RNN_RELU", 1, 0), ("LSTM", 4, 0),
                             ("LSTM", 4, 1), ("GRU", 3, 0)]:
    _fn, _shapes = _sequence(_mode, _gates, _proj)
    # (second order for the plain RNNs only: the LSTM's and GRU's cells, and lstm_gates,
    # are registered at second order above, and a whole LSTM sequence at second order
    # takes ~5 s)
    register(f"{_mode.lower()} sequence", _fn, *_shapes,
             label="2 layers bidirectional packed" + (" projected" if _proj else ""),
             second_order=_mode.startswith("RNN"))

# ---- recurrent normalization: one step of each cell, every parameter an input (N=3,
# input 3, hidden 2; the outputs (3, 2) differ in shape from the first input, so the
# registry's upstream gradient is not the input itself)
from minigrad.nn.functional import rnn_norm as _rn  # noqa: E402

_N, _I, _H = 3, 3, 2
register("layer_norm_lstm_cell", lambda x, h, c, wi, wh, gx, gh, gc, bx, bh, bc:
         _rn.layer_norm_lstm_cell(x, h, c, wi, wh, gx, gh, gc, bx, bh, bc),
         (_N, _I), (_N, _H), (_N, _H), (4 * _H, _I), (4 * _H, _H), (4 * _H,), (4 * _H,), (_H,),
         (4 * _H,), (4 * _H,), (_H,), label="N3 I3 H2")
register("layer_norm_gru_cell", lambda x, h, wi, wh, gx, gh, bx, bh:
         _rn.layer_norm_gru_cell(x, h, wi, wh, gx, gh, bx, bh),
         (_N, _I), (_N, _H), (3 * _H, _I), (3 * _H, _H), (3 * _H,), (3 * _H,), (3 * _H,),
         (3 * _H,), label="N3 I3 H2")


def _bn_lstm(norm, training, mask=None, running=False, batch_size=None):
    def fn(x, h, c, wi, wh, b, gx, gh, gc, bc):
        stats = None
        if running:  # fixed running statistics of one step (eval)
            rng = np.random.default_rng(5)
            stats = tuple((mg.tensor(rng.standard_normal(n) * 0.3, x.dtype, device=x.device),
                           mg.tensor(rng.uniform(0.5, 2.0, n), x.dtype, device=x.device))
                          for n in (4 * _H, 4 * _H, _H))
        return _rn.bn_lstm_cell(x, h, c, wi, wh, b, gx, gh, gc, bc, stats, training,
                                mask=mask, norm=norm, batch_size=batch_size)
    return fn


_bn_shapes = ((4, _I), (4, _H), (4, _H), (4 * _H, _I), (4 * _H, _H), (4 * _H,), (4 * _H,),
              (4 * _H,), (_H,), (_H,))
register("bn_lstm_cell train", _bn_lstm("bn", True), *_bn_shapes, label="N4 I3 H2")
register("bn_lstm_cell train masked", _bn_lstm("bn", True, np.array([1, 0, 1, 1], bool)),
         *_bn_shapes, label="N4 I3 H2 mask 1011")
register("bn_lstm_cell eval", _bn_lstm("bn", False, running=True), *_bn_shapes, label="N4 I3 H2")
register("bln_lstm_cell train", _bn_lstm("bln", True), *_bn_shapes, label="N4 I3 H2")
register("bln_lstm_cell eval", _bn_lstm("bln", False, running=True, batch_size=5), *_bn_shapes,
         label="N4 I3 H2 m=5")

# ---- attention: scaled_dot_product_attention (masks, causal, a fully masked row, dropout),
# multi_head_attention_forward (parameters as inputs), TransformerEncoderLayer
_keep = np.random.default_rng(11).random((3, 4)) > 0.3
_keep[:, 0] = True
_dead = _keep.copy()
_dead[1] = False   # a row with every key masked: zeros, and no NaN in any gradient
for _label, _mask in (("bool mask", _keep), ("fully masked row", _dead)):
    register("scaled_dot_product_attention",
             lambda q, k, v, m=_mask: F.scaled_dot_product_attention(
                 q, k, v, attn_mask=mg.tensor(m, device=q.device)),
             (2, 3, 2), (2, 4, 2), (2, 4, 3), label=_label)
register("scaled_dot_product_attention", lambda q, k, v, m: F.scaled_dot_product_attention(
    q, k, v, attn_mask=m, scale=0.7), (2, 1, 3, 2), (2, 2, 4, 2), (2, 2, 4, 2), (3, 4),
    label="float mask, broadcast, scale")
register("scaled_dot_product_attention", lambda q, k, v: F.scaled_dot_product_attention(
    q, k, v, is_causal=True), (2, 4, 2), (2, 3, 2), (2, 3, 2), label="causal L>S")


def _sdpa_dropout(q, k, v):
    mg.manual_seed(0)  # the same mask at every evaluation
    return F.scaled_dot_product_attention(q, k, v, dropout_p=0.3)


register("scaled_dot_product_attention", _sdpa_dropout, (2, 3, 2), (2, 4, 2), (2, 4, 2),
         label="dropout")


def _mha(need_weights, kdim=4):
    _pad = mg.tensor(np.array([[0.0, 0.0, -np.inf], [0.0, 0.0, 0.0]]))
    _attn = mg.tensor(np.array([[0.0, -0.5, 0.3]] * 2))

    def fn(q, kv, w_in, b_in, w_out, b_out):
        w = (w_in[:4], w_in[4:8, :kdim], w_in[8:, :kdim])
        out = F.multi_head_attention_forward(
            q, kv, kv * 0.5, 4, 2, None, b_in, None, None, False, 0.0, w_out, b_out,
            key_padding_mask=_pad.to(q.device, q.dtype), attn_mask=_attn.to(q.device, q.dtype),
            need_weights=need_weights, average_attn_weights=False,
            use_separate_proj_weight=True, q_proj_weight=w[0], k_proj_weight=w[1],
            v_proj_weight=w[2])
        return out if need_weights else out[0]
    return fn


for _nw in (True, False):
    register("MultiheadAttention multi_head_attention_forward", _mha(_nw, 3), (2, 2, 4),
             (3, 2, 3), (12, 4), (12,), (4, 4), (4,),
             label=f"L2 S3 N2 E4 kdim3 h2 need_weights={_nw}")


def _encoder_layer(norm_first):
    from minigrad.func import functional_call
    layer = mg.nn.TransformerEncoderLayer(4, 2, 6, dropout=0.0, activation="gelu",
                                          norm_first=norm_first).double()
    names = [n for n, _ in layer.named_parameters()]
    shapes = [tuple(p.shape) for _, p in layer.named_parameters()]
    causal = np.triu(np.full((3, 3), -np.inf), 1)

    def fn(x, *params):
        layer.to(x.device)
        return functional_call(layer, dict(zip(names, params)), (x,),
                               dict(src_mask=mg.tensor(causal, x.dtype, device=x.device)))
    return fn, shapes


for _nf in (False, True):
    _fn, _shapes = _encoder_layer(_nf)
    register("TransformerEncoderLayer self-attention", _fn, (3, 2, 4), *_shapes,
             label=f"S3 N2 E4 ff6 gelu causal norm_first={_nf}")
