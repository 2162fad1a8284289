"""RNN, LSTM, GRU, their cells and ``nn.utils.rnn`` against PyTorch in float64: torch's
state_dict loaded into ours, then outputs, final states and every gradient (input, initial
states, parameters) under random upstream gradients; packed sequences, dropout, names,
shapes, initialization and errors. Skipped without torch."""
import itertools
import math

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
from minigrad.nn.utils import rnn as rnn_utils

torch = pytest.importorskip("torch")
tnn = torch.nn
trnn = torch.nn.utils.rnn

RTOL, ATOL = 1e-9, 1e-12

# name -> (our class, torch class, constructor keywords)
KINDS = {
    "rnn_tanh": (nn.RNN, tnn.RNN, {}),
    "rnn_relu": (nn.RNN, tnn.RNN, dict(nonlinearity="relu")),
    "lstm": (nn.LSTM, tnn.LSTM, {}),
    "lstm_proj": (nn.LSTM, tnn.LSTM, dict(proj_size=3)),
    "gru": (nn.GRU, tnn.GRU, {}),
}
IN, HID = 4, 5


def close(a, b, msg=""):
    a = a.detach().numpy() if hasattr(a, "detach") else np.asarray(a)
    b = b.detach().numpy() if hasattr(b, "detach") else np.asarray(b)
    assert a.shape == b.shape, f"{msg}: shapes {a.shape} != {b.shape}"
    np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL, err_msg=msg)


def pair(kind, **kw):
    """A torch module and ours, with torch's state_dict loaded into ours unchanged."""
    ours_cls, theirs_cls, extra = KINDS[kind]
    torch.manual_seed(0)
    theirs = theirs_cls(IN, HID, **extra, **kw).double()
    ours = ours_cls(IN, HID, **extra, **kw).double()
    ours.load_state_dict({k: mg.tensor(v.numpy()) for k, v in theirs.state_dict().items()})
    return ours, theirs


def leaves(*arrays):
    return ([mg.tensor(a, requires_grad=True) for a in arrays],
            [torch.tensor(a, requires_grad=True) for a in arrays])


def states(kind, L, D, B, rng, proj=3):
    """Initial states (h_0[, c_0]) as arrays; B None for unbatched."""
    batch = () if B is None else (B,)
    h = rng.standard_normal((L * D,) + batch + (proj if kind == "lstm_proj" else HID,))
    if kind.startswith("lstm"):
        return [h, rng.standard_normal((L * D,) + batch + (HID,))]
    return [h]


def backward_both(ym, yt, rng):
    """Random upstream gradients into every output of both (output, h_n[, c_n])."""
    lm, lt = 0, 0
    for a, b in zip(ym, yt):
        g = rng.standard_normal(tuple(b.shape))
        lm = lm + (a * mg.tensor(g)).sum()
        lt = lt + (b * torch.tensor(g)).sum()
    lm.backward()
    lt.backward()


def flat(y):
    """(output, h) or (output, (h, c)) as a flat list of tensors."""
    out, h = y
    out = out.data if isinstance(out, (rnn_utils.PackedSequence, trnn.PackedSequence)) else out
    return [out, *h] if isinstance(h, tuple) else [out, h]


def compare(ours, theirs, x, init, rng, call=None):
    """Forward both on x (and initial states ``init``), compare outputs, final states and
    the gradients of the input, the initial states and every parameter."""
    (xm, *sm), (xt, *st) = leaves(x, *init)
    call = call or (lambda mod, x, s: mod(x, (tuple(s) if len(s) == 2 else s[0]) if s else None))
    ym, yt = flat(call(ours, xm, sm)), flat(call(theirs, xt, st))
    for i, (a, b) in enumerate(zip(ym, yt)):
        close(a, b, f"output {i}")
    backward_both(ym, yt, rng)
    close(xm.grad, xt.grad, "input grad")
    for i, (a, b) in enumerate(zip(sm, st)):
        close(a.grad, b.grad, f"initial state {i} grad")
    tparams = dict(theirs.named_parameters())
    names = [n for n, _ in ours.named_parameters()]
    assert names == list(tparams)
    for name, p in ours.named_parameters():
        close(p.grad, tparams[name].grad, f"{name}.grad")
    return ym, yt


@pytest.mark.parametrize("kind,num_layers,bidirectional,batch_first,train",
                         list(itertools.product(KINDS, [1, 2], [False, True], [False, True],
                                                [True, False])))
def test_matches_torch(kind, num_layers, bidirectional, batch_first, train):
    ours, theirs = pair(kind, num_layers=num_layers, bidirectional=bidirectional,
                        batch_first=batch_first)
    ours.train(train)
    theirs.train(train)
    rng = np.random.default_rng(num_layers * 4 + bidirectional * 2 + batch_first)
    T, B = 6, 3
    x = rng.standard_normal((B, T, IN) if batch_first else (T, B, IN))
    D = 2 if bidirectional else 1
    compare(ours, theirs, x, states(kind, num_layers, D, B, rng), rng)


@pytest.mark.parametrize("kind", KINDS)
def test_default_initial_state_unbatched_and_no_bias(kind):
    rng = np.random.default_rng(1)
    ours, theirs = pair(kind, num_layers=2, bidirectional=True)
    compare(ours, theirs, rng.standard_normal((5, 2, IN)), [], rng)        # zeros for h_0
    ours, theirs = pair(kind, num_layers=2, bidirectional=True)
    compare(ours, theirs, rng.standard_normal((5, IN)), states(kind, 2, 2, None, rng), rng)
    ours, theirs = pair(kind, num_layers=2, bidirectional=True, batch_first=True)
    compare(ours, theirs, rng.standard_normal((5, IN)), [], rng)          # unbatched ignores it
    ours, theirs = pair(kind, bias=False)
    assert not any("bias" in n for n, _ in ours.named_parameters())
    compare(ours, theirs, rng.standard_normal((4, 3, IN)), states(kind, 1, 1, 3, rng), rng)


# ---------------------------------------------------------------- packed sequences

@pytest.mark.parametrize("kind,enforce_sorted,bidirectional,batch_first",
                         list(itertools.product(KINDS, [True, False], [False, True],
                                                [False, True])))
def test_packed_matches_torch(kind, enforce_sorted, bidirectional, batch_first):
    rng = np.random.default_rng(7)
    ours, theirs = pair(kind, num_layers=2, bidirectional=bidirectional, batch_first=batch_first)
    lengths = [6, 4, 4, 2, 1] if enforce_sorted else [2, 6, 1, 4, 3]
    T, B = 6, len(lengths)
    x = rng.standard_normal((B, T, IN) if batch_first else (T, B, IN))
    D = 2 if bidirectional else 1

    def call(mod, x, s, lib):
        packed = lib.pack_padded_sequence(x, lengths, batch_first=batch_first,
                                          enforce_sorted=enforce_sorted)
        out, h = mod(packed, (tuple(s) if len(s) == 2 else s[0]))
        padded, lens = lib.pad_packed_sequence(out, batch_first=batch_first)
        assert list(np.asarray(lens)) == lengths
        return (padded, h)

    ym, yt = compare(ours, theirs, x, states(kind, 2, D, B, rng),
                     rng, call=lambda mod, x, s: call(mod, x, s, rnn_utils if mod is ours
                                                      else trnn))
    # the padding of the output is zeros, as torch's, and h_n is each sequence's own last step
    out = ym[0].detach().numpy()
    for b, n in enumerate(lengths):
        sl = (b, slice(n, None)) if batch_first else (slice(n, None), b)
        assert not out[sl].any()


def test_packed_output_is_a_packed_sequence_in_callers_order():
    rng = np.random.default_rng(3)
    ours, theirs = pair("gru", bidirectional=True)
    lengths = [3, 5, 1]
    x = rng.standard_normal((5, 3, IN))
    pm = rnn_utils.pack_padded_sequence(mg.tensor(x), mg.tensor(np.array(lengths)),
                                        enforce_sorted=False)
    pt = trnn.pack_padded_sequence(torch.tensor(x), torch.tensor(lengths), enforce_sorted=False)
    out, h = ours(pm)
    tout, th = theirs(pt)
    assert isinstance(out, rnn_utils.PackedSequence)
    close(out.data, tout.data)
    close(h, th)
    for a, b in zip(out[1:], tout[1:]):
        assert np.array_equal(a.numpy(), b.numpy())
    # h_n per sequence equals running that sequence alone, unpadded
    for b, n in enumerate(lengths):
        _, hb = ours(mg.tensor(x[:n, b:b + 1]))
        close(h[:, b:b + 1], hb, f"sequence {b}")


# ---------------------------------------------------------------- dropout

def test_dropout_one_zeroes_between_layers_as_torch():
    rng = np.random.default_rng(5)
    for kind in KINDS:
        ours, theirs = pair(kind, num_layers=3, dropout=1.0, bidirectional=True)
        compare(ours, theirs, rng.standard_normal((4, 2, IN)), [], rng)


def test_dropout_between_layers_is_inverted_bernoulli_in_training_only():
    # layer 2 is relu(dropout(out_1)) exactly: identity input weights, no recurrence, no
    # bias, and out_1 >= 0; so layer 2's output shows the mask and its scale.
    p, H, T, B = 0.3, 4, 50, 40
    m = nn.RNN(H, H, num_layers=2, nonlinearity="relu", dropout=p).double()
    with mg.no_grad():
        m.weight_ih_l1.array[...] = np.eye(H)
        m.weight_hh_l1.array[...] = 0
        m.bias_ih_l1.array[...] = 0
        m.bias_hh_l1.array[...] = 0
        m.bias_ih_l0.array[...] = 1.0     # out_1 > 0 mostly
    x = mg.tensor(np.random.default_rng(0).standard_normal((T, B, H)))
    m.eval()
    ref = m(x)[0].detach().numpy()
    assert (ref > 0).mean() > 0.5
    m.train()
    mg.manual_seed(1)
    out = m(x)[0].detach().numpy()
    mg.manual_seed(1)
    np.testing.assert_array_equal(m(x)[0].detach().numpy(), out)   # same seed, same mask
    live = ref > 0
    kept = out[live] != 0
    np.testing.assert_allclose(out[live][kept], ref[live][kept] / (1 - p), rtol=1e-12)
    n = live.sum()
    assert abs((~kept).mean() - p) < 5 * math.sqrt(p * (1 - p) / n)   # ~5 sigma
    # eval mode and dropout=0 ignore dropout; num_layers=1 warns as torch
    m.eval()
    np.testing.assert_array_equal(m(x)[0].detach().numpy(), ref)
    with pytest.warns(UserWarning, match="num_layers greater than 1"):
        nn.LSTM(3, 4, dropout=0.5)


# ---------------------------------------------------------------- cells

CELLS = {"rnn_tanh": (nn.RNNCell, tnn.RNNCell, {}),
         "rnn_relu": (nn.RNNCell, tnn.RNNCell, dict(nonlinearity="relu")),
         "lstm": (nn.LSTMCell, tnn.LSTMCell, {}), "gru": (nn.GRUCell, tnn.GRUCell, {})}


@pytest.mark.parametrize("kind,batched,with_state,bias",
                         list(itertools.product(CELLS, [True, False], [True, False],
                                                [True, False])))
def test_cells_match_torch(kind, batched, with_state, bias):
    ours_cls, theirs_cls, extra = CELLS[kind]
    theirs = theirs_cls(IN, HID, bias=bias, **extra).double()
    ours = ours_cls(IN, HID, bias=bias, **extra).double()
    ours.load_state_dict({k: mg.tensor(v.numpy()) for k, v in theirs.state_dict().items()})
    rng = np.random.default_rng(2)
    batch = (3,) if batched else ()
    x = rng.standard_normal(batch + (IN,))
    init = states(kind, 1, 1, 3 if batched else None, rng)
    init = [s[0] for s in init] if with_state else []

    def call(mod, x, s):
        out = mod(x, (tuple(s) if len(s) == 2 else s[0]) if s else None)
        return (out[0], (out[1],)) if isinstance(out, tuple) else (out, ())

    compare(ours, theirs, x, init, rng, call)


def test_cell_functions_are_module_level_and_not_in_F():
    from minigrad.nn.functional import rnn as R
    for name in ("rnn_tanh_cell", "rnn_relu_cell", "lstm_cell", "gru_cell", "rnn"):
        assert callable(getattr(R, name))
        assert not hasattr(mg.nn.functional, name) or name == "rnn"


# ---------------------------------------------------------------- parameters and repr

@pytest.mark.parametrize("kind", KINDS)
def test_names_shapes_init_and_repr_as_torch(kind):
    ours_cls, theirs_cls, extra = KINDS[kind]
    kw = dict(num_layers=2, bidirectional=True, batch_first=True, dropout=0.25)
    ours, theirs = ours_cls(IN, HID, **extra, **kw), theirs_cls(IN, HID, **extra, **kw)
    assert ([(n, tuple(p.shape)) for n, p in ours.named_parameters()]
            == [(n, tuple(p.shape)) for n, p in theirs.named_parameters()])
    assert list(ours.state_dict()) == list(theirs.state_dict())
    bound = 1 / math.sqrt(HID)
    values = np.concatenate([p.detach().numpy().ravel() for p in ours.parameters()])
    assert values.min() >= -bound and values.max() <= bound
    assert values.std() > 0.8 * bound / math.sqrt(3)          # spread over the range
    assert repr(ours) == repr(theirs)
    assert ours._flat_weights_names == theirs._flat_weights_names
    assert [[tuple(w.shape) for w in ws] for ws in ours.all_weights] == \
           [[tuple(w.shape) for w in ws] for ws in theirs.all_weights]


def test_cell_names_shapes_init_and_repr():
    for kind, (ours_cls, theirs_cls, extra) in CELLS.items():
        for bias in (True, False):
            ours, theirs = ours_cls(IN, HID, bias=bias, **extra), theirs_cls(IN, HID, bias=bias, **extra)
            assert ([(n, tuple(p.shape)) for n, p in ours.named_parameters()]
                    == [(n, tuple(p.shape)) for n, p in theirs.named_parameters()])
            assert repr(ours) == repr(theirs)
            for p in ours.parameters():
                assert np.abs(p.detach().numpy()).max() <= 1 / math.sqrt(HID)


def test_positional_arguments_as_torch():
    m = nn.RNN(3, 4, 2, "relu", False, True)
    assert (m.num_layers, m.nonlinearity, m.bias, m.batch_first) == (2, "relu", False, True)
    m = nn.LSTM(3, 4, 2, True, True, 0.0, True, 2)
    assert (m.bidirectional, m.proj_size) == (True, 2)


# ---------------------------------------------------------------- errors

def test_errors_name_the_layer_shapes_and_expectation():
    lstm = nn.LSTM(IN, HID, num_layers=2)
    with pytest.raises(RuntimeError, match=r"LSTM: input.size\(-1\) must be equal to "
                                           r"input_size. Expected 4, got 3"):
        lstm(mg.randn(5, 2, 3))
    with pytest.raises(ValueError, match="GRU: Expected input to be 2D or 3D, got 4D"):
        nn.GRU(IN, HID)(mg.randn(5, 2, 1, IN))
    with pytest.raises(RuntimeError, match=r"LSTM: Expected hidden size \(2, 2, 5\), "
                                           r"got \[1, 2, 5\]"):
        lstm(mg.randn(5, 2, IN), (mg.zeros(1, 2, HID), mg.zeros(2, 2, HID)))
    with pytest.raises(RuntimeError, match=r"LSTM: Expected cell size \(2, 2, 5\), "
                                           r"got \[2, 2, 3\]"):
        lstm(mg.randn(5, 2, IN), (mg.zeros(2, 2, HID), mg.zeros(2, 2, 3)))
    with pytest.raises(RuntimeError, match=r"RNN: Expected hidden size \(2, 3, 5\)"):
        nn.RNN(IN, HID, bidirectional=True)(mg.randn(5, 3, IN), mg.zeros(1, 3, HID))
    with pytest.raises(RuntimeError, match="RNN: For unbatched 2-D input, hx should also be "
                                           "2-D but got 3-D"):
        nn.RNN(IN, HID)(mg.randn(5, IN), mg.zeros(1, 1, HID))
    with pytest.raises(RuntimeError, match="GRUCell: input has inconsistent input_size: got 3 "
                                           "expected 4"):
        nn.GRUCell(IN, HID)(mg.randn(2, 3))
    with pytest.raises(RuntimeError, match=r"LSTMCell: Expected hidden state of shape \(2, 5\)"):
        nn.LSTMCell(IN, HID)(mg.randn(2, IN), (mg.zeros(3, HID), mg.zeros(3, HID)))
    with pytest.raises(ValueError, match="RNNCell: Expected input to be 1D or 2D, got 3D"):
        nn.RNNCell(IN, HID)(mg.randn(1, 2, IN))
    with pytest.raises(ValueError, match="Unknown nonlinearity 'gelu'"):
        nn.RNN(IN, HID, nonlinearity="gelu")
    with pytest.raises(ValueError, match="proj_size has to be smaller than hidden_size"):
        nn.LSTM(IN, HID, proj_size=HID)
    with pytest.raises(ValueError, match="only supported for LSTM"):
        nn.RNNBase("GRU", IN, HID, proj_size=2)
    with pytest.raises(ValueError, match="dropout should be a number in range"):
        nn.GRU(IN, HID, dropout=1.5)


# ---------------------------------------------------------------- nn.utils.rnn

def _pair_tensors(arrays):
    return ([mg.tensor(a, requires_grad=True) for a in arrays],
            [torch.tensor(a, requires_grad=True) for a in arrays])


@pytest.mark.parametrize("batch_first,padding_side", list(itertools.product(
    [False, True], ["right", "left"])))
def test_pad_sequence_as_torch(batch_first, padding_side):
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal((n, 2, 3)) for n in (3, 5, 1)]
    ms, ts = _pair_tensors(arrays)
    ym = rnn_utils.pad_sequence(ms, batch_first, -1.5, padding_side)
    yt = trnn.pad_sequence(ts, batch_first, -1.5, padding_side)
    close(ym, yt)
    backward_both([ym], [yt], rng)
    for a, b in zip(ms, ts):
        close(a.grad, b.grad)


def test_pack_and_pad_round_trip_as_torch():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 4, 2))          # batch_first
    for lengths, enforce in [([4, 2, 1], True), ([1, 4, 2], False), ([2, 2, 3], False)]:
        for as_tensor in (False, True):
            lm = mg.tensor(np.array(lengths)) if as_tensor else lengths
            lt = torch.tensor(lengths) if as_tensor else lengths
            (xm,), (xt,) = _pair_tensors([x])
            pm = rnn_utils.pack_padded_sequence(xm, lm, True, enforce)
            pt = trnn.pack_padded_sequence(xt, lt, True, enforce)
            close(pm.data, pt.data)
            for a, b in zip(pm[1:], pt[1:]):
                assert (a is None) == (b is None)
                if a is not None:
                    assert np.array_equal(a.numpy(), b.numpy())
            for total in (None, 6):
                ym, lens_m = rnn_utils.pad_packed_sequence(pm, True, 0.5, total)
                yt, lens_t = trnn.pad_packed_sequence(pt, True, 0.5, total)
                close(ym, yt)
                assert np.array_equal(lens_m.numpy(), lens_t.numpy())
            backward_both([ym], [yt], rng)
            close(xm.grad, xt.grad)


def test_pack_sequence_unpack_and_errors():
    rng = np.random.default_rng(2)
    arrays = [rng.standard_normal((n, 3)) for n in (2, 5, 3)]
    pm = rnn_utils.pack_sequence([mg.tensor(a) for a in arrays], enforce_sorted=False)
    pt = trnn.pack_sequence([torch.tensor(a) for a in arrays], enforce_sorted=False)
    close(pm.data, pt.data)
    for a, b in zip(rnn_utils.unpack_sequence(pm), trnn.unpack_sequence(pt)):
        close(a, b)
    assert np.array_equal(rnn_utils.invert_permutation(mg.tensor(np.array([2, 0, 1]))).numpy(),
                          [1, 2, 0])
    with pytest.raises(RuntimeError, match="must be sorted in decreasing order"):
        rnn_utils.pack_padded_sequence(mg.randn(5, 3, 2), [2, 5, 3])
    with pytest.raises(RuntimeError, match="Length of all samples has to be greater than 0"):
        rnn_utils.pack_padded_sequence(mg.randn(5, 3, 2), [5, 3, 0])
    with pytest.raises(ValueError, match="total_length=2 and max sequence length being 5"):
        rnn_utils.pad_packed_sequence(pm, total_length=2)
    assert mg.nn.utils.rnn is rnn_utils
