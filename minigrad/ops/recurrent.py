"""The fused step of a recurrent cell, and a whole LSTM layer, primitives because the
composites were measured slow.

``lstm_gates`` is an LSTM cell's elementwise part: from the pre-activations (i, f, g, o) and
c_{t-1} to (h_t, c_t). As a composite it is ten recorded ops per time step (a split, three
sigmoids, two tanh, three products and a sum), each a small NumPy pass and a node. For
``nn.LSTM(28, 128)`` over 28 steps at batch 64, forward + backward took 22.3 ms with the
composite and 18.2 ms with this primitive, paired runs (torch's fused native cell: 5.7 ms;
most of what remains is the 86 small GEMMs and NumPy's per-call cost on (64, 128) arrays).
One primitive makes it one node per step forward and one array rule backward. Each is one
pass of a compiled kernel (the backend's ``lstm_gates_forward/backward``; NumPy needed about
15 passes with temporaries): on a (64, 512) float32 step, forward 15-20 us against 55-60 us
and backward 24 us against 50 us, and the whole layer 0.87x of the NumPy version (paired
runs, load ~2.4 on 2 cores). Its differentiable ``backward`` recomputes the gates from its
inputs in tensor ops, so ``create_graph=True`` and higher derivatives stay exact.

``lstm_layer`` runs those steps over a whole sequence whose batch does not shrink (a padded
batch, or packed sequences of one length) as one node: the backend's ``lstm_layer_forward``
and ``lstm_layer_backward`` (per step the recurrent GEMM and the cell, no node recorded;
on the CPU in float32 one kernel whose threads each take a block of batch rows through
every step), with the weight gradient as one GEMM over all steps (28 products and 28
additions into ``W_hh.grad`` before). ``nn.LSTM(28, 128)``, batch 64, 28 steps, forward +
backward: 12.3 ms against 17.4 ms with a node per step when it came in, 7.0 ms with the
fused kernel (idle, 2 threads); where its time goes now is in docs/performance.md. Its
differentiable ``backward`` differentiates the per-step composite (``linear_add`` and
``lstm_gates`` at every step) with ``create_graph=True``, so higher derivatives are those
of the step-by-step definition.
"""
from minigrad import backend
from minigrad.autograd.graph import Primitive
from minigrad.errors import InvalidArgument, InvalidDtype
from minigrad.ops.arithmetic import add, mul, sub
from minigrad.ops.linalg import linear_add
from minigrad.ops.shape import cat, split_copies, stack
from minigrad.ops.transcendental import sigmoid, tanh


class LSTMGates(Primitive):
    """(h, c) = (o * tanh(c'), c') with c' = f * c_prev + i * g, where i, f, o are the
    sigmoids and g the tanh of the four quarters of ``gates`` (PyTorch's gate order)."""
    op_name = "lstm_gates"
    n_outputs = 2
    save_inputs = True

    @staticmethod
    def forward(ctx, gates, c_prev):
        h, c, act, tc = backend.of(gates).lstm_gates_forward(gates, c_prev)
        ctx.saved = (act, tc)
        return h, c

    @staticmethod
    def backward(ctx, gh, gc):
        gates, c_prev = ctx.inputs
        H = c_prev.shape[-1]
        pi, pf, pg, po = split_copies(gates, (H,) * 4, -1)
        i, f, g, o = sigmoid(pi), sigmoid(pf), tanh(pg), sigmoid(po)
        c = add(mul(f, c_prev), mul(i, g))
        tc = tanh(c)
        dc = gc
        if gh is not None:
            through_h = mul(mul(gh, o), sub(1, mul(tc, tc)))
            dc = through_h if dc is None else add(dc, through_h)
        zeros = mul(pi, 0)     # (a gradient of zeros, recorded like the others)
        di = mul(mul(dc, g), mul(i, sub(1, i))) if dc is not None else zeros
        df = mul(mul(dc, c_prev), mul(f, sub(1, f))) if dc is not None else zeros
        dg = mul(mul(dc, i), sub(1, mul(g, g))) if dc is not None else zeros
        do = mul(mul(gh, tc), mul(o, sub(1, o))) if gh is not None else zeros
        return cat([di, df, dg, do], -1), (mul(dc, f) if dc is not None else None)

    @staticmethod
    def backward_arrays(ctx, gh, gc):
        act, tc = ctx.saved
        return backend.of(act).lstm_gates_backward(gh, gc, act, tc, ctx.inputs[1].array)


def lstm_gates(gates, c_prev):
    """(h_t, c_t) of an LSTM cell from its pre-activations ``gates`` (..., 4H), in PyTorch's
    order (i, f, g, o), and c_{t-1} (..., H)."""
    return LSTMGates.apply(gates, c_prev)


class LSTMLayer(Primitive):
    """(hs, h_T, c_T) of an LSTM layer: for t in order (reversed when ``reverse``),
    (h, c) = lstm_gates(h @ W_hh^T + gi[t], c), hs[t] = h, from (h0, c0). ``gi`` (T, B, 4H)
    is the input projection with both biases, W_hh (4H, H)."""
    op_name = "lstm_layer"
    n_outputs = 3
    save_inputs = True

    @staticmethod
    def forward(ctx, gi, h0, c0, w_hh, reverse=False):
        hs, h, c, ctx.saved = backend.of(gi).lstm_layer_forward(gi, h0, c0, w_hh, reverse)
        ctx.reverse = reverse
        return hs, h, c

    @staticmethod
    def backward(ctx, g_hs, g_h, g_c):
        from minigrad.autograd import grad
        inputs = ctx.inputs
        outs = _lstm_layer_steps(*inputs, ctx.reverse)
        pairs = [(o, g) for o, g in zip(outs, (g_hs, g_h, g_c)) if g is not None]
        wanted = [k for k, e in enumerate(ctx.next) if e is not None]
        found = grad([o for o, _ in pairs], [inputs[k] for k in wanted],
                     [g for _, g in pairs], create_graph=True, allow_unused=True)
        result = [None] * 4
        for k, gk in zip(wanted, found):
            result[k] = gk
        return tuple(result)

    @staticmethod
    def backward_arrays(ctx, g_hs, g_h, g_c):
        gi, h0, c0, w_hh = (t.array for t in ctx.inputs)
        be, reverse = backend.of(gi), ctx.reverse
        dgates, dh, dc = be.lstm_layer_backward(g_hs, g_h, g_c, h0, c0, w_hh, ctx.saved,
                                                reverse)
        dw = None
        if ctx.next[3] is not None:   # sum over steps of dgates[t]^T h_in[t], one GEMM
            hs = ctx._outs[0]
            h_in = be.xp.concatenate([hs[1:], h0[None]] if reverse else [h0[None], hs[:-1]])
            H = h0.shape[-1]
            dw = be.matmul(dgates.reshape(-1, 4 * H).T, h_in.reshape(-1, H))
        return dgates, dh, dc, dw


def _lstm_layer_steps(gi, h0, c0, w_hh, reverse):
    """The layer step by step in recorded ops: what ``LSTMLayer`` computes, as a composite."""
    T = gi.shape[0]
    h, c, hs = h0, c0, [None] * T
    for t in (range(T - 1, -1, -1) if reverse else range(T)):
        h, c = lstm_gates(linear_add(h, w_hh, gi[t]), c)
        hs[t] = h
    return stack(hs), h, c


def lstm_layer(gi, h0, c0, w_hh, reverse=False):
    """(hs, h_T, c_T) of an LSTM layer over ``gi`` (T, B, 4H), the input projection with
    both biases, from (h0, c0) (B, H) with recurrent weight ``w_hh`` (4H, H); ``reverse``
    runs from the last step to the first (the backward direction)."""
    if gi.ndim != 3 or h0.ndim != 2 or w_hh.ndim != 2:
        raise InvalidArgument(f"lstm_layer: expected gi (T, B, 4H), h0 and c0 (B, H), w_hh "
                              f"(4H, H), got {tuple(gi.shape)}, {tuple(h0.shape)}, "
                              f"{tuple(c0.shape)}, {tuple(w_hh.shape)}")
    T, B, G = gi.shape
    H = h0.shape[1]
    if T == 0 or G != 4 * H or h0.shape != c0.shape or h0.shape[0] != B \
            or tuple(w_hh.shape) != (4 * H, H):
        raise InvalidArgument(f"lstm_layer: shapes do not fit: gi {tuple(gi.shape)}, h0 "
                              f"{tuple(h0.shape)}, c0 {tuple(c0.shape)}, w_hh "
                              f"{tuple(w_hh.shape)}; expected (T >= 1, B, 4H), (B, H), (B, H), "
                              f"(4H, H)")
    dtypes = {t.array.dtype for t in (gi, h0, c0, w_hh)}
    if len(dtypes) != 1 or next(iter(dtypes)).kind != "f":
        raise InvalidDtype(f"lstm_layer: expected one floating point dtype, got gi "
                           f"{gi.dtype!r}, h0 {h0.dtype!r}, c0 {c0.dtype!r}, w_hh "
                           f"{w_hh.dtype!r}")
    return LSTMLayer.apply(gi, h0, c0, w_hh, reverse=reverse)
