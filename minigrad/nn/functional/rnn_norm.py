"""Recurrent normalization: one step of a normalized LSTM or GRU cell, as composites.

Each step is linear maps, sigmoid, tanh, + and *, around the normalization family's own
functions (``layer_norm``, ``batch_norm`` with its ``mask``, ``batch_layer_norm``): the
gradient comes from the engine. Gates are in PyTorch's order, (i, f, g, o) for the LSTM and
(r, z, n) for the GRU, so weights have ``nn.LSTMCell``'s and ``nn.GRUCell``'s shapes. The
modules in ``nn/modules/rnn_norm.py`` hold the parameters and per-step buffers; their
docstrings say which paper section each formula is and which choices are ours."""
from minigrad import ops
from minigrad.errors import InvalidArgument
from minigrad.nn.functional.linear import linear
from minigrad.nn.functional.normalization import (_mask_weights, batch_layer_norm, batch_norm,
                                                  layer_norm)


def _ln(x, gain, shift, eps):
    """LN over the last axis (the summed inputs of one layer, one training case)."""
    return layer_norm(x, (x.shape[-1],), gain, shift, eps)


def _chunks(x, n):
    size = x.shape[-1] // n
    return [x[:, k * size:(k + 1) * size] for k in range(n)]


def _lstm_update(pre, c):
    """c_t = sigma(f) * c_{t-1} + sigma(i) * tanh(g) from the (N, 4H) pre-activations, and
    sigma(o) for the output: the LSTM's gates, in PyTorch's order (i, f, g, o)."""
    i, f, g, o = _chunks(pre, 4)
    return ops.sigmoid(f) * c + ops.sigmoid(i) * ops.tanh(g), ops.sigmoid(o)


def _slice(p, start, stop):
    return None if p is None else p[start:stop]


def layer_norm_lstm_cell(input, hx, cx, weight_ih, weight_hh, ln_weight_ih, ln_weight_hh,
                         ln_weight_c, ln_bias_ih=None, ln_bias_hh=None, ln_bias_c=None,
                         eps=1e-5):
    """One step of the layer-normalized LSTM (Ba, Kiros & Hinton 2016), returns (h_t, c_t):

        (i, f, g, o) = LN(W_x x_t; a_x, b_x) + LN(W_h h_{t-1}; a_h, b_h)
        c_t = sigma(f) * c_{t-1} + sigma(i) * tanh(g)
        h_t = sigma(o) * tanh(LN(c_t; a_c, b_c))

    each LN over the whole (4H or H) vector of one sample. See ``nn.LayerNormLSTMCell``."""
    pre = _ln(linear(input, weight_ih), ln_weight_ih, ln_bias_ih, eps) \
        + _ln(linear(hx, weight_hh), ln_weight_hh, ln_bias_hh, eps)
    c, o = _lstm_update(pre, cx)
    return o * ops.tanh(_ln(c, ln_weight_c, ln_bias_c, eps)), c


def layer_norm_gru_cell(input, hx, weight_ih, weight_hh, ln_weight_ih, ln_weight_hh,
                        ln_bias_ih=None, ln_bias_hh=None, eps=1e-5):
    """One step of the layer-normalized GRU (the LN-GRU of Ba, Kiros & Hinton 2016's
    experiments), returns h_t. With [.]_rz the (r, z) block (2H) and [.]_n the candidate
    block (H), each normalized on its own, for one sample:

        (r, z) = sigma(LN([W_x x_t]_rz; a_x, b_x) + LN([W_h h_{t-1}]_rz; a_h, b_h))
        n      = tanh(LN([W_x x_t]_n; a_x, b_x) + r * LN([W_h h_{t-1}]_n; a_h, b_h))
        h_t    = (1 - z) * n + z * h_{t-1}

    the gains a and shifts b being the (3H,) vectors sliced the same way. See
    ``nn.LayerNormGRUCell``."""
    H = hx.shape[-1]
    gx, gh = linear(input, weight_ih), linear(hx, weight_hh)

    def ln_block(v, gain, shift, start, stop):
        return _ln(v[:, start:stop], _slice(gain, start, stop), _slice(shift, start, stop), eps)

    rz = ops.sigmoid(ln_block(gx, ln_weight_ih, ln_bias_ih, 0, 2 * H)
                     + ln_block(gh, ln_weight_hh, ln_bias_hh, 0, 2 * H))
    r, z = rz[:, :H], rz[:, H:]
    n = ops.tanh(ln_block(gx, ln_weight_ih, ln_bias_ih, 2 * H, 3 * H)
                 + r * ln_block(gh, ln_weight_hh, ln_bias_hh, 2 * H, 3 * H))
    return (1 - z) * n + z * hx


def _normalize(norm, x, running, gain, shift, training, momentum, eps, mask, batch_size):
    """BN (with ``mask``) or BLN of the (N, D) pre-activations, with this step's running
    statistics ``running`` = (mean, var) or None."""
    rm, rv = (None, None) if running is None else running
    if norm == "bn":
        return batch_norm(x, rm, rv, gain, shift, training, momentum, eps, mask=mask)
    return batch_layer_norm(x, rm, rv, gain, shift, training, momentum, eps, batch_size)


def bn_lstm_cell(input, hx, cx, weight_ih, weight_hh, bias, weight_x, weight_h, weight_c,
                 bias_c, running=None, training=False, momentum=0.1, eps=1e-5, *, mask=None,
                 norm="bn", batch_size=None):
    """One step of the batch-normalized LSTM (Cooijmans et al. 2016, eqs. 6-8), returns
    (h_t, c_t):

        (i, f, g, o) = BN(W_h h_{t-1}; gamma_h, 0) + BN(W_x x_t; gamma_x, 0) + b
        c_t = sigma(f) * c_{t-1} + sigma(i) * tanh(g)
        h_t = sigma(o) * tanh(BN(c_t; gamma_c, beta_c))

    BN over the batch, per feature. ``running``: None, or this step's running statistics,
    three (mean, var) pairs for W_x x, W_h h and c, moved in training and used otherwise.
    ``mask`` (N,): the batch's real rows; the statistics use only them (``batch_norm``'s
    mask), and the padded rows keep their state (h_{t-1}, c_{t-1}). ``norm="bln"``: Batch
    Layer Normalization (``batch_layer_norm``, mini-batch size ``batch_size``) in all three
    places instead of BN; it takes no mask. See ``nn.BNLSTMCell``."""
    if norm not in ("bn", "bln"):
        raise InvalidArgument(f"bn_lstm_cell: norm must be 'bn' or 'bln', got {norm!r}")
    if norm == "bln" and mask is not None:
        raise InvalidArgument("bn_lstm_cell: Batch Layer Normalization takes no mask (its "
                              "layer statistics and mini-batch weight have no masked form here)")
    rx, rh, rc = (None, None, None) if running is None else running
    args = (training, momentum, eps, mask, batch_size)
    pre = _normalize(norm, linear(hx, weight_hh), rh, weight_h, None, *args) \
        + _normalize(norm, linear(input, weight_ih), rx, weight_x, None, *args)
    if bias is not None:
        pre = pre + bias
    c, o = _lstm_update(pre, cx)
    h = o * ops.tanh(_normalize(norm, c, rc, weight_c, bias_c, *args))
    if mask is None:
        return h, c
    keep = _rows(mask, h)
    return h * keep + hx * (1 - keep), c * keep + cx * (1 - keep)


def _rows(mask, like):
    """The (N,) boolean mask as an (N, 1) 0/1 constant of ``like``'s dtype and device."""
    return _mask_weights(like, mask, "bn_lstm_cell")[0]
