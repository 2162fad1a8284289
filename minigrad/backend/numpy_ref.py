"""The reference backend: the whole contract (``contract.py``) written the obvious way.

It is the oracle every compiled kernel is tested against, and the backend minigrad falls
back to (with a warning) when the compiled kernels are not built. The channel and
elementwise kernels use only the array-API standard's functions of their inputs' namespace;
the convolution and pooling kernels use NumPy's API (which CuPy mirrors) through that
namespace. Either way they allocate on the inputs' device and never touch the host.
"""
import math
import sys

import numpy as np

from minigrad._shapes import channel_axes, window_out_size
from minigrad.errors import InvalidArgument, InvalidDtype

xp = np
name = "reference"
_this = sys.modules[__name__]   # (the default backend of the layer loops below)


def _xp(a):
    return np if isinstance(a, np.ndarray) else a.__array_namespace__()


# ---------------------------------------------------------------- the device: the host

device_type = "cpu"


def device_index(a):
    return None


def to_host(a):
    return a


def from_host(a, index):
    return a


def generator(seed, index):
    return np.random.default_rng(seed)


def synchronize():
    pass


def view(a, shape):
    try:
        return np.reshape(a, shape, copy=False) if isinstance(a, np.ndarray) else \
            _xp(a).reshape(a, shape, copy=False)
    except ValueError:
        raise ValueError(f"view: shape {shape} is incompatible with the input's strides; use "
                         f"reshape() (which may copy)") from None


def is_channel_reduction(a, dims):
    """Every axis but 1 of a non-empty float array with at least 2 axes: BatchNorm's
    reductions, which a backend's channel kernels do in one pass."""
    return (a.ndim >= 2 and a.dtype in (np.float32, np.float64) and len(dims) == a.ndim - 1
            and 1 not in dims and a.size > 0)


def matmul(a, b, out=None, accumulate=False):
    return store(_xp(a).matmul(a, b), out, accumulate)


def store(r, out=None, accumulate=False):
    """``r``, or ``r`` written (or, with ``accumulate``, added) into ``out``: the contract's
    ``out=`` rule, for backends whose GEMM has no ``out`` of its own."""
    if out is None:
        return r
    if accumulate:
        out += r
    else:
        out[...] = r
    return out


def _special(x):
    """SciPy's special functions for host arrays, CuPy's (``cupyx.scipy.special``, the
    same names) for device ones: so ``erf``, ``erfinv`` and ``lgamma`` are defined once
    here, and every backend takes them from the reference."""
    if type(x).__module__.split(".")[0] == "cupy":
        import cupyx.scipy.special as special
    else:
        import scipy.special as special
    return special


def erf(x):
    return _special(x).erf(x)


def erfinv(x):
    return _special(x).erfinv(x)


def lgamma(x):
    return _special(x).gammaln(x)


def relu(x):
    return _xp(x).maximum(x, 0)


def relu_backward(g, y):
    xp_ = _xp(g)
    return xp_.where(y <= 0, xp_.zeros_like(g), g)  # (y NaN: the gradient passes, as in PyTorch)


def add(a, b):
    return a + b


def add_inplace(a, b):
    a += b
    return a


def sgd_step(p, grad, buf, lr, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0,
             maximize=False):
    """One SGD update of ``p`` in place, PyTorch's order (see optim.SGD); ``grad`` is only
    read. Returns the momentum buffer (``buf`` updated in place; a copy of the first
    gradient when ``buf`` is None), or None without momentum."""
    if maximize:
        grad = -grad
    if weight_decay != 0:
        grad = grad + weight_decay * p
    if momentum != 0:
        if buf is None:
            buf = grad.copy()
        else:
            buf *= momentum
            # (without dampening (1 - 0) * grad is grad: skip that pass and temporary)
            buf += grad if dampening == 0 else (1 - dampening) * grad
        grad = grad + momentum * buf if nesterov else buf
    else:
        buf = None
    p -= lr * grad
    return buf


def dropout_threshold(op, like, p, seed):
    """The contract's checks for ``dropout_mask``, and its threshold: an element keeps when
    its 32-bit draw is >= round(p * 2**32), probability 1 - p to within 2**-33."""
    if like.dtype not in (np.float32, np.float64):
        raise InvalidDtype(f"{op}: expected a float32 or float64 array, got {like.dtype}")
    if not 0 < p < 1:
        raise InvalidArgument(f"{op}: p must be in (0, 1), got {p}")
    if not 0 <= seed < 2 ** 64:
        raise InvalidArgument(f"{op}: seed must be in [0, 2**64), got {seed}")
    return round(p * 2 ** 32)


def dropout_mask(like, p, seed):
    """SplitMix64 (Steele, Lea & Flood 2014) on the counter k + 1 for elements 2k and
    2k + 1: the high 32 bits of draw k decide element 2k, the low 32 bits element 2k + 1.
    Unsigned 64-bit arithmetic wraps, in NumPy as in C (``_kernels/_dropout.h``)."""
    threshold = dropout_threshold("dropout_mask", like, p, seed)
    xp_ = _xp(like)
    n = math.prod(like.shape)

    def u64(v):   # (a 0-d array on like's device: no host scalar meets a device array)
        return xp_.asarray(v, dtype=xp_.uint64)
    k = xp_.arange(1, (n + 1) // 2 + 1, dtype=xp_.uint64)
    z = u64(seed) + k * u64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> u64(30))) * u64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> u64(27))) * u64(0x94D049BB133111EB)
    z = z ^ (z >> u64(31))
    draws = xp_.stack([z >> u64(32), z & u64(0xFFFFFFFF)], axis=1)
    keep = xp_.reshape(draws, (-1,))[:n] >= u64(threshold)
    scale = xp_.asarray(1 / (1 - p), dtype=like.dtype)
    return xp_.reshape(xp_.where(keep, scale, xp_.zeros_like(scale)), like.shape)


def check_lstm(op, gates, c_prev, *others):
    """The contract's errors for the LSTM entries: float arrays of one dtype, ``gates`` and
    ``act`` (..., 4H) over c_prev's (..., H), the other (name, array) pairs c_prev's shape."""
    arrays = [("gates", gates), ("c_prev", c_prev)] + [o for o in others if o[1] is not None]
    dtypes_ = [a.dtype for _, a in arrays]
    if dtypes_[0] not in (np.float32, np.float64) or any(d != dtypes_[0] for d in dtypes_):
        raise InvalidDtype(f"{op}: expected float32 or float64 arrays of one dtype, got "
                           + ", ".join(f"{n} {a.dtype}" for n, a in arrays))
    H = c_prev.shape[-1] if c_prev.ndim else 0
    want = {"gates": tuple(c_prev.shape[:-1]) + (4 * H,)}
    for name, a in arrays:
        if c_prev.ndim == 0 or tuple(a.shape) != want.get(name, tuple(c_prev.shape)):
            raise InvalidArgument(f"{op}: shapes do not fit: " + ", ".join(
                f"{n} {tuple(a.shape)}" for n, a in arrays) + "; expected (..., 4H) for "
                "gates and act, (..., H) for the others")


def lstm_gates_forward(gates, c_prev):
    check_lstm("lstm_gates_forward", gates, c_prev)
    xp_ = _xp(gates)
    H = c_prev.shape[-1]
    with np.errstate(over="ignore"):      # (exp(-x) = inf: the sigmoid is 0, rightly)
        act = 1 / (1 + xp_.exp(-gates))
    act[..., 2 * H:3 * H] = xp_.tanh(gates[..., 2 * H:3 * H])
    i, f, g, o = (act[..., k * H:(k + 1) * H] for k in range(4))
    c = f * c_prev + i * g
    tc = xp_.tanh(c)
    return o * tc, c, act, tc


def lstm_gates_backward(gh, gc, act, tc, c_prev):
    check_lstm("lstm_gates_backward", act, c_prev, ("gh", gh), ("gc", gc), ("tc", tc))
    xp_ = _xp(act)
    H = c_prev.shape[-1]
    i, f, g, o = (act[..., k * H:(k + 1) * H] for k in range(4))
    dc = xp_.zeros_like(c_prev) if gc is None else gc
    if gh is not None:
        dc = dc + gh * o * (1 - tc * tc)
    do = gh * tc * o * (1 - o) if gh is not None else xp_.zeros_like(o)
    dgates = xp_.concatenate([dc * g * i * (1 - i), dc * c_prev * f * (1 - f),
                              dc * i * (1 - g * g), do], axis=-1)
    return dgates, dc * f


def lstm_layer_forward(gi, h0, c0, w_hh, reverse=False, be=None):
    """The layer step by step on backend ``be``'s GEMM and cell (this module's when None):
    the definition the CPU backend's fused kernel reproduces bit for bit."""
    be = _this if be is None else be
    xp_ = _xp(gi)
    T, B = gi.shape[:2]
    hs, cs, tcs = (xp_.empty((T,) + tuple(h0.shape), dtype=h0.dtype) for _ in range(3))
    acts = xp_.empty(gi.shape, dtype=gi.dtype)
    w_t = w_hh.T
    h, c = h0, c0
    for t in (range(T - 1, -1, -1) if reverse else range(T)):
        pre = be.matmul(h, w_t)        # as linear_add: h W^T, then + gi[t]
        pre += gi[t]
        h, c, acts[t], tcs[t] = be.lstm_gates_forward(pre, c)
        hs[t], cs[t] = h, c
    return hs, h, c, (acts, tcs, cs)


def lstm_layer_backward(g_hs, g_h, g_c, h0, c0, w_hh, saved, reverse=False, be=None):
    """``lstm_layer_forward``'s backward, step by step backwards (see the contract)."""
    be = _this if be is None else be
    acts, tcs, cs = saved
    T = acts.shape[0]
    dgates = _xp(acts).empty(acts.shape, dtype=acts.dtype)
    dh, dc = g_h, g_c
    for t in (range(T) if reverse else range(T - 1, -1, -1)):
        if g_hs is not None:
            dh = g_hs[t] if dh is None else dh + g_hs[t]
        before = t + 1 if reverse else t - 1       # the step the forward ran before t
        c_prev = c0 if before < 0 or before >= T else cs[before]
        dgates[t], dc = be.lstm_gates_backward(dh, dc, acts[t], tcs[t], c_prev)
        dh = be.matmul(dgates[t], w_hh)    # the gradient of the h this step read
    return dgates, dh, dc


def _per_channel(v, x):
    """A per-channel vector broadcastable against x, in float64 (or x's float dtype where
    the namespace has no float64 on that device)."""
    xp_ = _xp(x)
    v = xp_.zeros(x.shape[1], dtype=x.dtype) if v is None else v
    return xp_.reshape(xp_.astype(v, xp_.float64), (1, -1) + (1,) * (x.ndim - 2))


def channel_moments(x):
    xp_ = _xp(x)
    axes = channel_axes(x.ndim)
    x64 = xp_.astype(x, xp_.float64)
    mean = xp_.mean(x64, axis=axes, keepdims=True)
    var = xp_.mean(xp_.square(x64 - mean), axis=axes)
    return xp_.astype(xp_.reshape(mean, (-1,)), x.dtype), xp_.astype(var, x.dtype)


def channel_sum(x):
    xp_ = _xp(x)
    return xp_.astype(xp_.sum(xp_.astype(x, xp_.float64), axis=channel_axes(x.ndim)), x.dtype)


def channel_affine(x, scale, shift, center=None, out=None):
    xp_ = _xp(x)
    y = (xp_.astype(x, xp_.float64) - _per_channel(center, x)) * _per_channel(scale, x) \
        + _per_channel(shift, x)
    if out is not None:   # added into out itself, as the contract says
        out[...] = xp_.astype(y + out, x.dtype)
        return out
    return xp_.astype(y, x.dtype)


def channel_affine_backward(g, x, scale, center=None, want_dx=True):
    xp_ = _xp(x)
    axes = channel_axes(x.ndim)
    g64 = xp_.astype(g, xp_.float64)
    dx = xp_.astype(g64 * _per_channel(scale, x), x.dtype) if want_dx else None
    centered = xp_.astype(x, xp_.float64) - _per_channel(center, x)
    return (dx, xp_.astype(xp_.sum(g64, axis=axes), x.dtype),
            xp_.astype(xp_.sum(g64 * centered, axis=axes), x.dtype))


# ---------------------------------------------------------------- threads (there are none)

def openmp_enabled():
    return False


def get_num_threads():
    return 1


def set_num_threads(n):
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"set_num_threads: expected a positive thread count, got {n}")


def threads_note():
    return "none (reference backend)"


def blas_info():
    return "NumPy's (reference backend: minigrad's compiled kernels are not built)"


# ---------------------------------------------------------------- convolution, as a sum over
# kernel offsets: y = sum_ij W[:, :, i, j] applied to the input shifted by (i*dh, j*dw)

def _offsets(w_shape, stride, dilation, Ho, Wo):
    for i in range(w_shape[2]):
        for j in range(w_shape[3]):
            hi, wj = i * dilation[0], j * dilation[1]
            yield i, j, (slice(hi, hi + stride[0] * (Ho - 1) + 1, stride[0]),
                         slice(wj, wj + stride[1] * (Wo - 1) + 1, stride[1]))


def _padded(x, padding):
    return _xp(x).pad(x, ((0, 0), (0, 0), (padding[0],) * 2, (padding[1],) * 2))


def conv2d_forward(x, w, stride, padding, dilation, groups):
    xp_ = _xp(x)
    K, Cg = w.shape[:2]
    Ho = window_out_size(x.shape[2], w.shape[2], stride[0], padding[0], dilation[0])
    Wo = window_out_size(x.shape[3], w.shape[3], stride[1], padding[1], dilation[1])
    xpad = _padded(x, padding)
    y = xp_.zeros((x.shape[0], K, Ho, Wo), dtype=xp_.float64)
    Kg = K // groups
    for g in range(groups):
        xs = xpad[:, g * Cg:(g + 1) * Cg]
        for i, j, (hs, ws) in _offsets(w.shape, stride, dilation, Ho, Wo):
            y[:, g * Kg:(g + 1) * Kg] += xp_.einsum("nchw,kc->nkhw", xs[:, :, hs, ws],
                                                    w[g * Kg:(g + 1) * Kg, :, i, j])
    return y.astype(x.dtype)


def conv2d_backward_input(dy, w, x_shape, stride, padding, dilation, groups):
    xp_ = _xp(dy)
    K, Cg = w.shape[:2]
    Ho, Wo = dy.shape[2:]
    dxp = xp_.zeros(tuple(x_shape[:2]) + (x_shape[2] + 2 * padding[0], x_shape[3] + 2 * padding[1]))
    Kg = K // groups
    for g in range(groups):
        for i, j, (hs, ws) in _offsets(w.shape, stride, dilation, Ho, Wo):
            dxp[:, g * Cg:(g + 1) * Cg, hs, ws] += xp_.einsum(
                "nkhw,kc->nchw", dy[:, g * Kg:(g + 1) * Kg], w[g * Kg:(g + 1) * Kg, :, i, j])
    H, W = x_shape[2:]
    return dxp[:, :, padding[0]:padding[0] + H, padding[1]:padding[1] + W].astype(dy.dtype)


def conv2d_backward_weight(x, dy, w_shape, stride, padding, dilation, groups):
    xp_ = _xp(x)
    K, Cg = w_shape[:2]
    Ho, Wo = dy.shape[2:]
    xpad = _padded(x, padding)
    dw = xp_.zeros(w_shape)
    Kg = K // groups
    for g in range(groups):
        for i, j, (hs, ws) in _offsets(w_shape, stride, dilation, Ho, Wo):
            dw[g * Kg:(g + 1) * Kg, :, i, j] = xp_.einsum(
                "nkhw,nchw->kc", dy[:, g * Kg:(g + 1) * Kg], xpad[:, g * Cg:(g + 1) * Cg, hs, ws])
    return dw.astype(x.dtype)


# ---------------------------------------------------------------- pooling, one output at a time

def max_pool2d(x, kernel, stride, padding, dilation, out_hw):
    xp_ = _xp(x)
    H, W = x.shape[-2:]
    floating = x.dtype.kind == "f"
    # a window of padding only gives -inf, or an integer type's lowest value (PyTorch's)
    lowest = -math.inf if floating else np.iinfo(x.dtype).min
    out = xp_.empty(x.shape[:-2] + tuple(out_hw), dtype=x.dtype)
    index = xp_.empty(out.shape, dtype=xp_.int64)
    flat = x.reshape(x.shape[:-2] + (H * W,))
    for oh in range(out_hw[0]):
        for ow in range(out_hw[1]):
            cells = [(ih, iw) for i in range(kernel[0]) for j in range(kernel[1])
                     for ih in [oh * stride[0] - padding[0] + i * dilation[0]]
                     for iw in [ow * stride[1] - padding[1] + j * dilation[1]]
                     if 0 <= ih < H and 0 <= iw < W]
            if not cells:  # a window of padding only: the index -1
                index[..., oh, ow], out[..., oh, ow] = -1, lowest
                continue
            idx = xp_.asarray([ih * W + iw for ih, iw in cells])
            vals = flat[..., idx]
            if not floating:  # the first maximum
                pick = vals.argmax(-1)
                index[..., oh, ow] = idx[pick]
                out[..., oh, ow] = xp_.take_along_axis(vals, pick[..., None], -1)[..., 0]
                continue
            # the first maximum, or the last NaN (PyTorch's CPU rule)
            nans = xp_.isnan(vals)
            last_nan = len(cells) - 1 - nans[..., ::-1].argmax(-1)
            pick = xp_.where(nans.any(-1), last_nan, xp_.where(nans, -math.inf, vals).argmax(-1))
            index[..., oh, ow] = idx[pick]
            out[..., oh, ow] = xp_.take_along_axis(vals, pick[..., None], -1)[..., 0]
    return out, index


def max_pool2d_backward(grad, index, x_shape, window=None):
    xp_ = _xp(grad)
    dx = xp_.zeros(x_shape[:-2] + (x_shape[-2] * x_shape[-1],), dtype=grad.dtype)
    g = grad.reshape(-1, grad.shape[-2] * grad.shape[-1])
    i = index.reshape(g.shape)
    flat = dx.reshape(-1, dx.shape[-1])
    for p in range(flat.shape[0]):
        keep = i[p] >= 0  # (-1: a window of padding only)
        xp_.add.at(flat[p], i[p][keep], g[p][keep])
    return dx.reshape(x_shape)


def avg_pool2d(x, windows):
    hs, he, ws, we, div = windows
    out = _xp(x).empty(x.shape[:-2] + (len(hs), len(ws)), dtype=x.dtype)
    for oh in range(len(hs)):
        for ow in range(len(ws)):
            out[..., oh, ow] = x[..., hs[oh]:he[oh], ws[ow]:we[ow]].sum((-2, -1)) / div[oh, ow]
    return out


def avg_pool2d_backward(grad, windows, x_shape):
    hs, he, ws, we, div = windows
    dx = _xp(grad).zeros(x_shape, dtype=grad.dtype)
    for oh in range(len(hs)):
        for ow in range(len(ws)):
            dx[..., hs[oh]:he[oh], ws[ow]:we[ow]] += (grad[..., oh, ow] / div[oh, ow])[..., None, None]
    return dx
