"""Recurrent layers as functions of tensors: one step of each cell (Elman RNN with tanh or
ReLU, LSTM with an optional projection, GRU), and ``rnn``, which runs a cell over a padded
or packed sequence, layer by layer and in both directions, as ``nn.RNN/LSTM/GRU`` do.

Everything is a composite of ``linear``, ``sigmoid``, ``tanh``, ``relu``, ``*``, ``+``,
``split`` and ``cat``, so gradients (of every order) come from the engine. Gate order and
formulas are PyTorch's:

- LSTM: ``i, f, g, o`` = the four quarters of ``W_ih x + b_ih + W_hh h + b_hh``;
  ``c' = sigmoid(f) c + sigmoid(i) tanh(g)``, ``h' = sigmoid(o) tanh(c')``, then
  ``h' = W_hr h'`` when there is a projection (``proj_size > 0``).
- GRU: ``r, z, n`` thirds of each projection; ``r = sigmoid(x_r + h_r)``,
  ``z = sigmoid(x_z + h_z)``, ``n = tanh(x_n + r * h_n)``, ``h' = (1 - z) n + z h``
  (the reset gate multiplies ``W_hn h + b_hn``, bias included).

torch has none of these in ``torch.nn.functional``; they are module-level functions here
and ``nn.functional`` does not re-export them.
"""
from minigrad import ops
from minigrad.nn.functional.dropout import dropout as _dropout


def _recurrent_sum(gi, hx, w_hh, b_hh):
    """gi + W_hh h + b_hh, the pre-activations of a step: one node when ``b_hh`` is None
    (the layers fold it into the input projection, ``gi``, once for all steps)."""
    if b_hh is not None:
        gi = gi + b_hh
    return ops.linear_add(hx, w_hh, gi)


def _rnn_tanh_step(gi, hx, w_hh, b_hh):
    return ops.tanh(_recurrent_sum(gi, hx, w_hh, b_hh))


def _rnn_relu_step(gi, hx, w_hh, b_hh):
    return ops.relu(_recurrent_sum(gi, hx, w_hh, b_hh))


def _lstm_step(gi, state, w_hh, b_hh, w_hr=None):
    hx, cx = state
    h, c = ops.lstm_gates(_recurrent_sum(gi, hx, w_hh, b_hh), cx)   # (one fused primitive)
    if w_hr is not None:
        h = ops.linear(h, w_hr)
    return h, c


def _gru_step(gi, hx, w_hh, b_hh):
    H = hx.shape[-1]
    x_r, x_z, x_n = ops.split_copies(gi, (H,) * 3, -1)
    h_r, h_z, h_n = ops.split_copies(ops.linear(hx, w_hh, b_hh), (H,) * 3, -1)
    r = ops.sigmoid(x_r + h_r)
    z = ops.sigmoid(x_z + h_z)
    n = ops.tanh(x_n + r * h_n)
    return n + z * (hx - n)          # (1 - z) n + z h


def _batched(input, hx, fn):
    """A cell on 1-D (unbatched) input as on a batch of one, as torch's cells."""
    if input.ndim == 1:
        hx = tuple(h.unsqueeze(0) for h in hx) if isinstance(hx, tuple) else hx.unsqueeze(0)
        out = fn(input.unsqueeze(0), hx)
        return tuple(o.squeeze(0) for o in out) if isinstance(out, tuple) else out.squeeze(0)
    return fn(input, hx)


def rnn_tanh_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One Elman step: ``tanh(W_ih x + b_ih + W_hh h + b_hh)``."""
    return _batched(input, hx, lambda x, h: _rnn_tanh_step(ops.linear(x, w_ih, b_ih), h,
                                                           w_hh, b_hh))


def rnn_relu_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One Elman step with ReLU: ``relu(W_ih x + b_ih + W_hh h + b_hh)``."""
    return _batched(input, hx, lambda x, h: _rnn_relu_step(ops.linear(x, w_ih, b_ih), h,
                                                           w_hh, b_hh))


def lstm_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None, w_hr=None):
    """One LSTM step; ``hx`` is ``(h, c)``; returns ``(h', c')``. ``w_hr`` (proj_size,
    hidden_size) projects ``h'`` as ``nn.LSTM(proj_size=...)`` does."""
    return _batched(input, tuple(hx), lambda x, s: _lstm_step(ops.linear(x, w_ih, b_ih), s,
                                                              w_hh, b_hh, w_hr))


def gru_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One GRU step (see the module docstring for the formulas)."""
    return _batched(input, hx, lambda x, h: _gru_step(ops.linear(x, w_ih, b_ih), h,
                                                      w_hh, b_hh))


_STEPS = {"RNN_TANH": _rnn_tanh_step, "RNN_RELU": _rnn_relu_step, "LSTM": _lstm_step,
          "GRU": _gru_step}


def _direction(step, data, batch_sizes, state, weights, reverse):
    """Run one direction of one layer over packed ``data`` (sum(batch_sizes), features).

    ``state`` (a tensor, or (h, c) for an LSTM) holds every sequence of the batch, sorted
    by decreasing length. At time t only the first ``batch_sizes[t]`` rows are updated; the
    rest keep their state. Forward, those are sequences that have ended (so the final state
    is each one's last real step); in reverse, those that have not started yet (so each
    starts from its initial state at its own last step).

    An LSTM without a projection whose batch never shrinks runs as one ``lstm_layer`` node
    (its GEMMs and cell kernels, without a node per step). Otherwise each step's rows of
    the projection come from one ``split_copies`` node (its backward is
    one concatenation; slices would each scatter into zeros of the whole projection, T^2
    traffic), and a step that updates every row reads the state without a slice."""
    w_ih, w_hh, b_ih, b_hh, *w_hr = weights
    if step is not _gru_step and b_hh is not None:   # (the GRU's b_hh sits inside r * (...))
        b_ih, b_hh = (b_hh if b_ih is None else b_ih + b_hh), None   # both biases, added once
    lstm = isinstance(state, tuple)
    full = state[0].shape[0] if lstm else state.shape[0]
    if lstm and not w_hr and batch_sizes and all(bs == full for bs in batch_sizes):
        # every step updates the whole batch: the layer is one node (ops.lstm_layer)
        gi = ops.reshape(ops.linear(data, w_ih, b_ih), (len(batch_sizes), full, -1))
        hs, h, c = ops.lstm_layer(gi, state[0], state[1], w_hh, reverse=reverse)
        return ops.reshape(hs, (-1, hs.shape[-1])), (h, c)
    gi = ops.split_copies(ops.linear(data, w_ih, b_ih), batch_sizes, 0)   # one GEMM for all steps
    outputs = [None] * len(batch_sizes)
    order = range(len(batch_sizes) - 1, -1, -1) if reverse else range(len(batch_sizes))
    for t in order:
        bs = batch_sizes[t]
        if bs == full:
            parts = state
        else:
            parts = tuple(s[:bs] for s in state) if lstm else state[:bs]
        new = step(gi[t], parts, w_hh, b_hh, *w_hr) if lstm else step(gi[t], parts, w_hh, b_hh)
        outputs[t] = new[0] if lstm else new
        if bs < full:
            rest = tuple(s[bs:] for s in state) if lstm else state[bs:]
            new = (tuple(ops.cat([n, r]) for n, r in zip(new, rest)) if lstm
                   else ops.cat([new, rest]))
        state = new
    return ops.cat(outputs), state


def rnn(mode, data, batch_sizes, hx, weights, num_layers, dropout=0.0, training=False,
        bidirectional=False):
    """The multi-layer recurrence of ``nn.RNN``, ``nn.LSTM`` and ``nn.GRU``.

    ``mode``: ``"RNN_TANH"``, ``"RNN_RELU"``, ``"LSTM"`` or ``"GRU"``. ``data``: packed input
    (sum(batch_sizes), input_size), rows of step t after those of step t-1 (a padded
    (T, B, F) input is this with ``batch_sizes = [B] * T``). ``batch_sizes``: a
    non-increasing list of ints. ``hx``: (L*D, B, H_out), or a pair (h, c) for an LSTM.
    ``weights``: for each layer and direction (layer-major), ``(w_ih, w_hh, b_ih, b_hh)``
    plus ``w_hr`` for a projected LSTM; biases may be None. Dropout with probability
    ``dropout`` is applied to each layer's output but the last, in training.

    Returns the packed output (sum(batch_sizes), D * H_out) and the final state in hx's
    layout (for a packed input, each sequence's state at its own last step)."""
    step = _STEPS[mode]
    lstm = mode == "LSTM"
    D = 2 if bidirectional else 1
    finals = []
    for layer in range(num_layers):
        if layer and dropout and training:
            data = _dropout(data, dropout, True)
        outs = []
        for d in range(D):
            k = layer * D + d
            state = (hx[0][k], hx[1][k]) if lstm else hx[k]
            out, state = _direction(step, data, batch_sizes, state, weights[k], d == 1)
            outs.append(out)
            finals.append(state)
        data = outs[0] if D == 1 else ops.cat(outs, 1)
    if lstm:
        return data, (ops.stack([h for h, _ in finals]), ops.stack([c for _, c in finals]))
    return data, ops.stack(finals)
