"""Recurrent layers: ``RNN``, ``LSTM``, ``GRU`` and their one-step cells, with PyTorch's
constructor arguments, parameter names, shapes, initialization and semantics (padded,
batch-first, unbatched or packed input; optional initial states). Each is a thin holder of
parameters over ``nn.functional.rnn``."""
import math
import numbers
import warnings

from minigrad import ops
from minigrad.creation import empty, zeros
from minigrad.errors import InvalidArgument
from minigrad.nn import init
from minigrad.nn.functional import rnn as R
from minigrad.nn.modules.module import Module
from minigrad.nn.parameter import Parameter
from minigrad.nn.utils.rnn import PackedSequence

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _check_input(module, x, dims, size_message):
    """x has one of ``dims`` dimensions and ``module.input_size`` features in the last;
    ``size_message(got)`` says what torch says when the features do not fit."""
    name = type(module).__name__
    if x.ndim not in dims:
        raise ValueError(f"{name}: Expected input to be {' or '.join(f'{d}D' for d in dims)}, "
                         f"got {x.ndim}D input instead (shape {x.shape})")
    if x.shape[-1] != module.input_size:
        raise InvalidArgument(f"{name}: {size_message(x.shape[-1])} (input of shape "
                              f"{x.shape})")


def _uniform_init(module):
    """Every weight and bias uniform(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), as torch."""
    bound = 1.0 / math.sqrt(module.hidden_size) if module.hidden_size > 0 else 0
    for p in module.parameters():
        init.uniform_(p, -bound, bound)


class RNNBase(Module):
    """What RNN, LSTM and GRU share: the stacked, possibly bidirectional parameters and the
    checks of input and states. ``mode`` is ``"RNN_TANH"``, ``"RNN_RELU"``, ``"LSTM"`` or
    ``"GRU"``."""

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, proj_size=0,
                 device=None, dtype=None):
        super().__init__()
        name = type(self).__name__
        if (not isinstance(dropout, numbers.Number) or isinstance(dropout, bool)
                or not 0 <= dropout <= 1):
            raise ValueError("dropout should be a number in range [0, 1] representing the "
                             "probability of an element being zeroed")
        if dropout > 0 and num_layers == 1:
            warnings.warn(f"dropout option adds dropout after all but last recurrent layer, so "
                          f"non-zero dropout expects num_layers greater than 1, but got "
                          f"dropout={dropout} and num_layers={num_layers}")
        for what, v in (("hidden_size", hidden_size), ("num_layers", num_layers)):
            if not isinstance(v, int) or isinstance(v, bool):
                raise TypeError(f"{name}: {what} should be of type int, got: "
                                f"{type(v).__name__}")
            if v <= 0:
                raise ValueError(f"{name}: {what} must be greater than zero, got {v}")
        if proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to disable "
                             "projections")
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        if proj_size and mode != "LSTM":
            raise ValueError(f"{name}: proj_size argument is only supported for LSTM, not "
                             f"RNN or GRU")
        self.mode, self.input_size, self.hidden_size = mode, input_size, hidden_size
        self.num_layers, self.bias, self.batch_first = num_layers, bias, batch_first
        self.dropout, self.bidirectional = float(dropout), bidirectional
        self.proj_size = proj_size
        D = 2 if bidirectional else 1
        gate_size = _GATES[mode] * hidden_size
        real_hidden = proj_size if proj_size > 0 else hidden_size
        self._flat_weights_names = []
        for layer in range(num_layers):
            for d in range(D):
                layer_input = input_size if layer == 0 else real_hidden * D
                suffix = f"_l{layer}" + ("_reverse" if d == 1 else "")
                shapes = [("weight_ih", (gate_size, layer_input)),
                          ("weight_hh", (gate_size, real_hidden))]
                if bias:
                    shapes += [("bias_ih", (gate_size,)), ("bias_hh", (gate_size,))]
                if proj_size > 0:
                    shapes.append(("weight_hr", (proj_size, hidden_size)))
                for stem, shape in shapes:
                    setattr(self, stem + suffix, Parameter(empty(*shape, dtype=dtype,
                                                                 device=device)))
                    self._flat_weights_names.append(stem + suffix)
        self.reset_parameters()

    def reset_parameters(self):
        _uniform_init(self)

    def flatten_parameters(self):
        """(cuDNN's contiguous weight buffer in torch; nothing to do here.)"""

    @property
    def _flat_weights(self):
        return [getattr(self, n) for n in self._flat_weights_names]

    @property
    def all_weights(self):
        per = len(self._flat_weights_names) // (self.num_layers * (2 if self.bidirectional else 1))
        w = self._flat_weights
        return [w[i:i + per] for i in range(0, len(w), per)]

    def _weights(self):
        """(w_ih, w_hh, b_ih, b_hh[, w_hr]) per layer and direction, biases None if absent."""
        out = []
        D = 2 if self.bidirectional else 1
        for layer in range(self.num_layers):
            for d in range(D):
                s = f"_l{layer}" + ("_reverse" if d == 1 else "")
                w = [getattr(self, "weight_ih" + s), getattr(self, "weight_hh" + s)]
                w += ([getattr(self, "bias_ih" + s), getattr(self, "bias_hh" + s)]
                      if self.bias else [None, None])
                if self.proj_size > 0:
                    w.append(getattr(self, "weight_hr" + s))
                out.append(tuple(w))
        return out

    # ---------------------------------------------------------------- checks

    def _check_input(self, x, packed):
        _check_input(self, x, (2,) if packed else (2, 3), lambda got: (
            f"input.size(-1) must be equal to input_size. Expected {self.input_size}, "
            f"got {got}"))

    def _check_state(self, h, expected, what):
        if tuple(h.shape) != tuple(expected):
            raise InvalidArgument(f"{type(self).__name__}: Expected {what} size "
                                  f"{tuple(expected)}, got {list(h.shape)}")

    def _state_shapes(self, batch):
        D = 2 if self.bidirectional else 1
        h = self.proj_size if self.proj_size > 0 else self.hidden_size
        return (self.num_layers * D, batch, h), (self.num_layers * D, batch, self.hidden_size)

    # ---------------------------------------------------------------- forward

    def forward(self, input, hx=None):
        name = type(self).__name__
        lstm = self.mode == "LSTM"
        packed = isinstance(input, PackedSequence)
        if packed:
            data, batch_sizes = input.data, [int(b) for b in input.batch_sizes.numpy()]
            self._check_input(data, True)
            batch, unbatched = batch_sizes[0], False
        else:
            self._check_input(input, False)
            unbatched = input.ndim == 2
            x = input.unsqueeze(1) if unbatched else (
                input.transpose(0, 1) if self.batch_first else input)
            T, batch = x.shape[0], x.shape[1]
            data, batch_sizes = x.reshape(T * batch, x.shape[2]), [batch] * T
        h_shape, c_shape = self._state_shapes(batch)
        if hx is None:
            h0 = zeros(*h_shape, dtype=data.dtype, device=data.device)
            hx = (h0, zeros(*c_shape, dtype=data.dtype, device=data.device)) if lstm else h0
        else:
            if lstm and not (isinstance(hx, (tuple, list)) and len(hx) == 2):
                raise TypeError(f"{name}: hx must be a tuple (h_0, c_0), got "
                                f"{type(hx).__name__}")
            if not lstm and isinstance(hx, (tuple, list)):
                raise TypeError(f"{name}: hx must be a tensor h_0, got a {type(hx).__name__}")
            states = tuple(hx) if lstm else (hx,)
            if unbatched:
                for s in states:
                    if s.ndim != 2:
                        raise InvalidArgument(f"{name}: For unbatched 2-D input, hx should also "
                                              f"be 2-D but got {s.ndim}-D tensor (shape "
                                              f"{s.shape})")
                states = tuple(s.unsqueeze(1) for s in states)
            elif not packed:
                for s in states:
                    if s.ndim != 3:
                        raise InvalidArgument(f"{name}: For batched 3-D input, hx should also "
                                              f"be 3-D but got {s.ndim}-D tensor (shape "
                                              f"{s.shape})")
            if packed and input.sorted_indices is not None:
                states = tuple(ops.index_select(s, 1, input.sorted_indices) for s in states)
            self._check_state(states[0], h_shape, "hidden")
            if lstm:
                self._check_state(states[1], c_shape, "cell")
            hx = states if lstm else states[0]
        out, hn = R.rnn(self.mode, data, batch_sizes, hx, self._weights(), self.num_layers,
                        self.dropout, self.training, self.bidirectional)
        states = hn if lstm else (hn,)
        if packed:
            if input.unsorted_indices is not None:
                states = tuple(ops.index_select(s, 1, input.unsorted_indices) for s in states)
            output = PackedSequence(out, input.batch_sizes, input.sorted_indices,
                                    input.unsorted_indices)
        else:
            output = out.reshape(T, batch, out.shape[-1])
            if unbatched:
                output = output.squeeze(1)
                states = tuple(s.squeeze(1) for s in states)
            elif self.batch_first:
                output = output.transpose(0, 1)
        return (output, states) if lstm else (output, states[0])

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s


class RNN(RNNBase):
    """Elman RNN: h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh) (or ReLU). Arguments as
    torch's, positional order ``input_size, hidden_size, num_layers, nonlinearity, bias,
    batch_first, dropout, bidirectional``."""

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or "
                             f"'relu'.")
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size,
                         hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device=device, dtype=dtype)
        self.nonlinearity = nonlinearity   # (torch's repr does not show it)


class LSTM(RNNBase):
    """Long short-term memory, gates (i, f, g, o); ``proj_size > 0`` projects h_t to
    ``proj_size`` features with ``weight_hr_l{k}``. Returns ``(output, (h_n, c_n))``."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, proj_size, device, dtype)


class GRU(RNNBase):
    """Gated recurrent unit, gates (r, z, n), n = tanh(W_in x + b_in + r (W_hn h + b_hn))."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, device=None, dtype=None):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, device=device, dtype=dtype)


# ---------------------------------------------------------------- cells

class RNNCellBase(Module):
    def __init__(self, input_size, hidden_size, bias, num_chunks, device=None, dtype=None):
        super().__init__()
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        kw = dict(dtype=dtype, device=device)
        self.weight_ih = Parameter(empty(num_chunks * hidden_size, input_size, **kw))
        self.weight_hh = Parameter(empty(num_chunks * hidden_size, hidden_size, **kw))
        if bias:
            self.bias_ih = Parameter(empty(num_chunks * hidden_size, **kw))
            self.bias_hh = Parameter(empty(num_chunks * hidden_size, **kw))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self):
        _uniform_init(self)

    def _check(self, input, states):
        """Check the input and each state; zeros for a missing state."""
        name = type(self).__name__
        _check_input(self, input, (1, 2), lambda got: (
            f"input has inconsistent input_size: got {got} expected {self.input_size}"))
        want = input.shape[:-1] + (self.hidden_size,)
        out = []
        for s in states:
            if s is None:
                s = zeros(*want, dtype=input.dtype, device=input.device)
            elif tuple(s.shape) != tuple(want):
                raise InvalidArgument(f"{name}: Expected hidden state of shape {tuple(want)} "
                                      f"for input of shape {tuple(input.shape)}, got "
                                      f"{tuple(s.shape)}")
            out.append(s)
        return out

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s


class RNNCell(RNNCellBase):
    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None,
                 dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity: {nonlinearity}")
        super().__init__(input_size, hidden_size, bias, 1, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        (hx,) = self._check(input, [hx])
        fn = R.rnn_tanh_cell if self.nonlinearity == "tanh" else R.rnn_relu_cell
        return fn(input, hx, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)


class LSTMCell(RNNCellBase):
    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 4, device, dtype)

    def forward(self, input, hx=None):
        h, c = self._check(input, [None, None] if hx is None else list(hx))
        return R.lstm_cell(input, (h, c), self.weight_ih, self.weight_hh, self.bias_ih,
                           self.bias_hh)


class GRUCell(RNNCellBase):
    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 3, device, dtype)

    def forward(self, input, hx=None):
        (hx,) = self._check(input, [hx])
        return R.gru_cell(input, hx, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
