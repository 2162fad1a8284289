r"""Recurrent normalization: layer-normalized LSTM and GRU cells (Ba, Kiros & Hinton 2016),
the batch-normalized LSTM (Cooijmans, Ballas, Laurent, Gülçehre & Courville 2016), and the
same LSTM with Batch Layer Normalization (Ziaee & Çano 2022) in place of BN.

Thin holders of parameters, per-step buffers and options around the step functions of
``nn.functional.rnn_norm``. Gates are in PyTorch's order, (i, f, g, o) and (r, z, n), and the
weights have ``nn.LSTMCell``'s and ``nn.GRUCell``'s shapes: ``weight_ih`` (G H, input_size),
``weight_hh`` (G H, H). Weights start as PyTorch's cells start theirs, uniform in
(-1/sqrt(H), 1/sqrt(H)); neither paper's initialization of them is reproduced here."""
import math

import numpy as np

from minigrad.creation import empty, ones, tensor, zeros
from minigrad.errors import InvalidArgument
from minigrad.nn import init
from minigrad.nn.functional.rnn_norm import (bn_lstm_cell, layer_norm_gru_cell,
                                             layer_norm_lstm_cell)
from minigrad.nn.modules.module import Module
from minigrad import ops
from minigrad.nn.parameter import Parameter
from minigrad.tensor import Tensor


class _Cell(Module):
    """input_size, hidden_size, ``weight_ih`` and ``weight_hh`` for ``gates`` gates, and the
    zero initial state."""

    def __init__(self, input_size, hidden_size, gates, dtype):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.weight_ih = Parameter(empty(gates * hidden_size, input_size, dtype=dtype))
        self.weight_hh = Parameter(empty(gates * hidden_size, hidden_size, dtype=dtype))

    def _param(self, *shape, value, dtype):
        return Parameter((ones if value == 1 else zeros)(*shape, dtype=dtype))

    def _uniform(self, *params):
        bound = 1 / math.sqrt(self.hidden_size)
        for p in params:
            if p is not None:
                init.uniform_(p, -bound, bound)

    def _check(self, input):
        if input.ndim != 2 or input.shape[1] != self.input_size:
            raise ValueError(f"{type(self).__name__}: expected input of shape (N, "
                             f"{self.input_size}), got {tuple(input.shape)}")

    def _zeros(self, input):
        return zeros(input.shape[0], self.hidden_size, dtype=input.dtype, device=input.device)

    def extra_repr(self):
        return f"{self.input_size}, {self.hidden_size}"


class LayerNormLSTMCell(_Cell):
    r"""The layer-normalized LSTM of Ba, Kiros & Hinton (2016), "Layer Normalization":
    §3.1 (LN of the summed inputs of a recurrent layer, statistics per time step and per
    training case) applied to the LSTM as in the paper's supplementary material and the
    authors' code (``lnlstm_layer`` of github.com/ryankiros/layer-norm):

        (i, f, g, o) = LN(W_x x_t; a_x, b_x) + LN(W_h h_{t-1}; a_h, b_h)
        c_t = sigma(f) * c_{t-1} + sigma(i) * tanh(g)
        h_t = sigma(o) * tanh(LN(c_t; a_c, b_c))

    LN(v; a, b) = a * (v - mean(v)) / sqrt(var(v) + eps) + b over the features of one
    sample, so train and eval compute the same thing and there are no buffers.

    Choices:

    * The two LNs cover the whole 4H vector of pre-activations (one mean and variance over
      the four gates), as in the authors' code, not one LN per gate.
    * c_t itself is not normalized: only the copy that goes through the output tanh (the
      recurrence carries the raw c_t, as in the paper's equations).
    * Biases. W_x x and W_h h have no bias of their own (a bias before an LN is partly
      cancelled by it). Each LN has its own gain and bias (``ln_weight_*``, ``ln_bias_*``,
      initialized to 1 and 0 as in the authors' code); the paper's separate gate bias b is
      left out, being exactly b_x + b_h here. ``bias=False``: no LN biases anywhere.
    * eps = 1e-5 inside the square root (the authors' value).
    """

    def __init__(self, input_size, hidden_size, bias=True, eps=1e-5, dtype=None):
        super().__init__(input_size, hidden_size, 4, dtype)
        self.eps, self.bias = eps, bias
        H = hidden_size
        for name, size in (("ih", 4 * H), ("hh", 4 * H), ("c", H)):
            self.register_parameter(f"ln_weight_{name}", self._param(size, value=1, dtype=dtype))
            self.register_parameter(f"ln_bias_{name}",
                                    self._param(size, value=0, dtype=dtype) if bias else None)
        self.reset_parameters()

    def reset_parameters(self):
        self._uniform(self.weight_ih, self.weight_hh)
        for name in ("ih", "hh", "c"):
            init.ones_(getattr(self, f"ln_weight_{name}"))
            if self.bias:
                init.zeros_(getattr(self, f"ln_bias_{name}"))

    def forward(self, input, hx=None):
        """(h_t, c_t) from x_t (N, input_size) and (h_{t-1}, c_{t-1}) (zeros if None)."""
        self._check(input)
        h, c = (self._zeros(input), self._zeros(input)) if hx is None else hx
        return layer_norm_lstm_cell(input, h, c, self.weight_ih, self.weight_hh,
                                    self.ln_weight_ih, self.ln_weight_hh, self.ln_weight_c,
                                    self.ln_bias_ih, self.ln_bias_hh, self.ln_bias_c, self.eps)


class LayerNormGRUCell(_Cell):
    r"""The layer-normalized GRU of Ba, Kiros & Hinton (2016), "Layer Normalization": §3.1
    applied to a GRU. The paper's GRU experiments (order embeddings, skip-thoughts) use the
    authors' ``lngru_layer`` (github.com/ryankiros/layer-norm); its equations are not in the
    paper's text. We follow that code:

        (r, z) = sigma(LN([W_x x_t]_rz) + LN([W_h h_{t-1}]_rz))
        n      = tanh(LN([W_x x_t]_n) + r * LN([W_h h_{t-1}]_n))
        h_t    = (1 - z) * n + z * h_{t-1}

    Choices:

    * Blocks. The (r, z) gates (2H) and the candidate (H) are normalized separately, on
      both the input and the recurrent side: four LNs, as in that code. The gains and
      biases are stored as (3H,) vectors (``ln_weight_ih``, ``ln_bias_ih``, ``ln_weight_hh``,
      ``ln_bias_hh``), sliced per block.
    * The reset gate multiplies the normalized recurrent candidate term (after W_h and
      its LN), as in that code and in PyTorch's GRU (b_hn inside r * (.)): here the
      recurrent LN bias of the candidate block sits inside r * (.).
    * Biases: no bias on W_x x or W_h h (the code adds one to W_x x before the LN; it is
      partly cancelled and we leave it out); the LN biases, initialized to 0, are the only
      ones. ``bias=False``: none.
    * h_t = (1 - z) n + z h_{t-1}: the code's u h_{t-1} + (1 - u) h~, PyTorch's convention.
    """

    def __init__(self, input_size, hidden_size, bias=True, eps=1e-5, dtype=None):
        super().__init__(input_size, hidden_size, 3, dtype)
        self.eps, self.bias = eps, bias
        for name in ("ih", "hh"):
            self.register_parameter(f"ln_weight_{name}",
                                    self._param(3 * hidden_size, value=1, dtype=dtype))
            self.register_parameter(f"ln_bias_{name}", self._param(
                3 * hidden_size, value=0, dtype=dtype) if bias else None)
        self.reset_parameters()

    def reset_parameters(self):
        self._uniform(self.weight_ih, self.weight_hh)
        for name in ("ih", "hh"):
            init.ones_(getattr(self, f"ln_weight_{name}"))
            if self.bias:
                init.zeros_(getattr(self, f"ln_bias_{name}"))

    def forward(self, input, hx=None):
        """h_t from x_t (N, input_size) and h_{t-1} (zeros if None)."""
        self._check(input)
        h = self._zeros(input) if hx is None else hx
        return layer_norm_gru_cell(input, h, self.weight_ih, self.weight_hh, self.ln_weight_ih,
                                   self.ln_weight_hh, self.ln_bias_ih, self.ln_bias_hh, self.eps)


class BNLSTMCell(_Cell):
    r"""The batch-normalized LSTM of Cooijmans et al. (2016), "Recurrent Batch
    Normalization", §3 (eqs. 6-8), one time step:

        (i, f, g, o) = BN(W_h h_{t-1}; gamma_h, 0) + BN(W_x x_t; gamma_x, 0) + b
        c_t = sigma(f) * c_{t-1} + sigma(i) * tanh(g)
        h_t = sigma(o) * tanh(BN(c_t; gamma_c, beta_c))

    BN(v; gamma, beta) = gamma * (v - mu_B) / sqrt(sigma_B^2 + eps) + beta per feature, over
    the mini-batch. The shifts of the two pre-activation BNs are 0 (redundant with b, as
    in the paper); ``bias`` is b (4H), ``bias_c`` is beta_c (H).

    * Statistics per time step (§3): the module keeps running estimates for each step
      t = 0 .. max_length - 1 (buffers ``running_mean_x``/``running_var_x``, ``_h`` (each
      (max_length, 4H)) and ``_c`` ((max_length, H))), moved in training with PyTorch's
      rule (``momentum``, unbiased variance) and used in eval. ``forward`` takes the step
      index ``step``.
    * Steps beyond the longest seen (§3: "When at test time we need to generalize beyond
      T_max, we use the population statistic of time T_max for all time steps beyond it").
      ``steps_tracked`` is T_max, the longest sequence seen in training (the largest step
      index + 1); in eval, step t >= T_max uses step T_max - 1's statistics. Before any
      training every step uses its own (initial: mean 0, variance 1) slot. Steps at or
      beyond ``max_length`` (the buffers' capacity, our addition) share the last slot, in
      training too (its estimate then moves toward each such step's statistics in turn).
    * gamma_x, gamma_h, gamma_c start at 0.1 (§4, "Parameter initialization": gamma = 1
      saturates the tanh/sigmoid and the gradient vanishes through time), beta_c and b at 0.
      ``gamma`` sets another start value.
    * h_0 = 0 gives W_h h_0 = 0 with zero batch variance: its BN is 0 (the eps keeps it
      finite), so step 0 is driven by the input alone.
    * ``mask`` (N,) of booleans: the real rows of a variable-length batch at this step.
      The statistics use only them (``F.batch_norm``'s mask) and the padded rows keep their
      state: h_t = h_{t-1}, c_t = c_{t-1} there (the paper does not treat variable lengths).
      A training step with fewer than two real rows has no batch variance: it is
      normalized with the running statistics (as in eval) and moves none of them.
    * ``norm="bln"``: ``BLNLSTMCell``.
    """

    norm = "bn"

    def __init__(self, input_size, hidden_size, bias=True, max_length=100, momentum=0.1,
                 eps=1e-5, gamma=0.1, dtype=None):
        super().__init__(input_size, hidden_size, 4, dtype)
        if max_length < 1:
            raise ValueError(f"{type(self).__name__}: max_length must be positive, got "
                             f"{max_length}")
        self.max_length, self.momentum, self.eps, self.gamma = max_length, momentum, eps, gamma
        H = hidden_size
        self.register_parameter("bias", self._param(4 * H, value=0, dtype=dtype) if bias
                                else None)
        for name, size in (("x", 4 * H), ("h", 4 * H), ("c", H)):
            self.register_parameter(f"weight_{name}", self._param(size, value=1, dtype=dtype))
        self.bias_c = self._param(H, value=0, dtype=dtype)
        for name, size in (("x", 4 * H), ("h", 4 * H), ("c", H)):
            self.register_buffer(f"running_mean_{name}", zeros(max_length, size, dtype=dtype))
            self.register_buffer(f"running_var_{name}", ones(max_length, size, dtype=dtype))
        self.register_buffer("steps_tracked", tensor(0))
        if self.norm == "bln":
            self.register_buffer("batch_size", tensor(0))
        self.reset_parameters()

    def reset_running_stats(self):
        for name in ("x", "h", "c"):
            init.zeros_(getattr(self, f"running_mean_{name}"))
            init.ones_(getattr(self, f"running_var_{name}"))
        self.steps_tracked.array[...] = 0
        if self.norm == "bln":
            self.batch_size.array[...] = 0

    def reset_parameters(self):
        self._uniform(self.weight_ih, self.weight_hh)
        for name in ("x", "h", "c"):
            init.constant_(getattr(self, f"weight_{name}"), self.gamma)
        init.zeros_(self.bias_c)
        if self.bias is not None:
            init.zeros_(self.bias)
        self.reset_running_stats()

    def _slot(self, step, training):
        """The running-statistics row step ``step`` uses (see the class docstring)."""
        last = self.max_length - 1
        seen = int(self.steps_tracked.item())
        if training or seen == 0:
            return min(step, last)
        return min(step, last, seen - 1)

    def _running(self, slot):
        # views of one row of each buffer: the update moves the buffer itself
        return tuple((Tensor(getattr(self, f"running_mean_{n}").array[slot]),
                      Tensor(getattr(self, f"running_var_{n}").array[slot]))
                     for n in ("x", "h", "c"))

    def forward(self, input, hx=None, step=0, mask=None):
        """(h_t, c_t) from x_t (N, input_size), (h_{t-1}, c_{t-1}) (zeros if None), the time
        step ``step`` (0-based: which statistics) and the optional (N,) ``mask``."""
        self._check(input)
        if step < 0:
            raise InvalidArgument(f"{type(self).__name__}: step must be >= 0, got {step}")
        h, c = (self._zeros(input), self._zeros(input)) if hx is None else hx
        training = self.training
        if training and mask is not None and int(_array(mask).sum()) < 2:
            training = False                       # no batch variance: the running statistics
        if training:
            self.steps_tracked.array[...] = max(int(self.steps_tracked.item()), step + 1)
        batch_size = None
        if self.norm == "bln":
            if self.training:
                self.batch_size.array[...] = input.shape[0]
            m = int(self.batch_size.item())
            batch_size = input.shape[0] if training or m == 0 else m
        return bn_lstm_cell(input, h, c, self.weight_ih, self.weight_hh, self.bias,
                            self.weight_x, self.weight_h, self.weight_c, self.bias_c,
                            self._running(self._slot(step, training)), training,
                            self.momentum, self.eps, mask=mask, norm=self.norm,
                            batch_size=batch_size)

    def extra_repr(self):
        return (f"{self.input_size}, {self.hidden_size}, max_length={self.max_length}, "
                f"momentum={self.momentum}, eps={self.eps}")


class BLNLSTMCell(BNLSTMCell):
    r"""``BNLSTMCell`` with Batch Layer Normalization (Ziaee & Çano 2022; see
    ``nn.BatchLayerNorm1d`` and ``F.batch_layer_norm``) in the three places where the
    batch-normalized LSTM of Cooijmans et al. (2016) has BN:

        (i, f, g, o) = BLN(W_h h_{t-1}; gamma_h, 0) + BLN(W_x x_t; gamma_x, 0) + b
        c_t = sigma(f) * c_{t-1} + sigma(i) * tanh(g)
        h_t = sigma(o) * tanh(BLN(c_t; gamma_c, beta_c))

    with BLN(v) = gamma * ((1/m) LN-normalized v + (1 - 1/m) BN-normalized v) + beta, m the
    mini-batch size. The BLN paper applies its layer to recurrent networks without fixing
    where in a cell; we choose the BN-LSTM's places, so the two cells differ only in the
    normalization. Everything else is ``BNLSTMCell``'s: per-step running statistics of the
    batch part (the layer part needs none) with the same T_max rule, gammas starting at
    0.1. In eval m is the last training mini-batch's size (the buffer ``batch_size``, as
    ``BatchLayerNorm1d``'s). It takes no ``mask``.
    """

    norm = "bln"


class BatchNormLSTM(Module):
    r"""A batch-normalized LSTM layer over a sequence (Cooijmans et al. 2016): ``cell``, a
    ``BNLSTMCell`` (``norm="bn"``) or ``BLNLSTMCell`` (``norm="bln"``), run over the time
    axis, step t using the statistics of step t (see ``BNLSTMCell`` for the formulas, the
    T_max rule and the initialization).

    ``forward(input, hx=None, mask=None)``: ``input`` (T, N, input_size), or (N, T,
    input_size) with ``batch_first``; ``hx`` = (h_0, c_0), each (1, N, H), zeros if None;
    ``mask`` (T, N) (or (N, T) with ``batch_first``) of booleans, True at real steps.
    Returns ``output`` (T, N, H) (or (N, T, H)) and (h_n, c_n), each (1, N, H), as
    ``nn.LSTM`` with one layer. With a mask the statistics of step t use only the
    sequences still running at t, and a finished sequence keeps its last state: its
    ``output`` at padded steps repeats its last real h, and (h_n, c_n) are each sequence's
    state at its own last real step. Mask the loss at padded steps.
    """

    def __init__(self, input_size, hidden_size, bias=True, batch_first=False, max_length=100,
                 momentum=0.1, eps=1e-5, gamma=0.1, norm="bn", dtype=None):
        super().__init__()
        if norm not in ("bn", "bln"):
            raise ValueError(f"BatchNormLSTM: norm must be 'bn' or 'bln', got {norm!r}")
        self.batch_first, self.norm = batch_first, norm
        cell = BNLSTMCell if norm == "bn" else BLNLSTMCell
        self.cell = cell(input_size, hidden_size, bias, max_length, momentum, eps, gamma, dtype)

    def forward(self, input, hx=None, mask=None):
        if input.ndim != 3:
            raise ValueError(f"BatchNormLSTM: expected 3D input, got shape {tuple(input.shape)}")
        if self.batch_first:
            input = ops.transpose(input, 0, 1)
        if mask is not None:
            mask = _array(mask)
            mask = mask.T if self.batch_first else mask
            if mask.shape != tuple(input.shape[:2]):
                want = tuple(input.shape[:2])[::-1 if self.batch_first else 1]
                raise InvalidArgument(f"BatchNormLSTM: mask must have shape {want}, got "
                                      f"{tuple(mask.T.shape if self.batch_first else mask.shape)}")
        state = None if hx is None else (ops.squeeze(hx[0], 0), ops.squeeze(hx[1], 0))
        outputs = []
        for t in range(input.shape[0]):
            state = self.cell(input[t], state, step=t, mask=None if mask is None else mask[t])
            outputs.append(state[0])
        output = ops.stack(outputs, 1 if self.batch_first else 0)
        return output, (ops.unsqueeze(state[0], 0), ops.unsqueeze(state[1], 0))

    def extra_repr(self):
        return f"norm={self.norm!r}, batch_first={self.batch_first}"


def _array(a):
    return a.array if isinstance(a, Tensor) else np.asarray(a)
