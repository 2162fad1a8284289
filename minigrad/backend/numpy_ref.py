"""The pure-NumPy oracle: the same kernel API as ``cpu``, written the obvious way.

Tests compare every compiled kernel against these functions; nothing else calls them.
"""
import numpy as np

xp = np


def matmul(a, b):
    return np.matmul(a, b)


def erf(x):
    from scipy.special import erf as _erf
    return _erf(x)


def relu(x):
    return np.maximum(x, 0)


def relu_backward(g, y):
    return np.where(y > 0, g, g.dtype.type(0))


def add_inplace(a, b):
    a += b
    return a


def _channel_axes(x):
    return (0,) + tuple(range(2, x.ndim))


def _per_channel(v, x):
    v = np.zeros(x.shape[1]) if v is None else v
    return np.asarray(v, np.float64).reshape((1, -1) + (1,) * (x.ndim - 2))


def channel_moments(x):
    axes = _channel_axes(x)
    mean = x.mean(axes, dtype=np.float64, keepdims=True)
    var = np.square(x - mean).mean(axes, dtype=np.float64)
    return mean.reshape(-1).astype(x.dtype), var.astype(x.dtype)


def channel_sum(x):
    return x.sum(_channel_axes(x), dtype=np.float64).astype(x.dtype)


def channel_affine(x, scale, shift, center=None, out=None):
    y = (x - _per_channel(center, x)) * _per_channel(scale, x) + _per_channel(shift, x)
    if out is not None:
        y = out + y
    return y.astype(x.dtype)


def channel_affine_backward(g, x, scale, center=None, want_dx=True):
    axes = _channel_axes(x)
    dx = (g * _per_channel(scale, x)).astype(x.dtype) if want_dx else None
    centered = x.astype(np.float64) - _per_channel(center, x)
    return (dx, g.sum(axes, dtype=np.float64).astype(x.dtype),
            (g * centered).sum(axes, dtype=np.float64).astype(x.dtype))


# ---------------------------------------------------------------- convolution, as a sum over
# kernel offsets: y = sum_ij W[:, :, i, j] applied to the input shifted by (i*dh, j*dw)

def _offsets(w_shape, stride, dilation, Ho, Wo):
    for i in range(w_shape[2]):
        for j in range(w_shape[3]):
            hi, wj = i * dilation[0], j * dilation[1]
            yield i, j, (slice(hi, hi + stride[0] * (Ho - 1) + 1, stride[0]),
                         slice(wj, wj + stride[1] * (Wo - 1) + 1, stride[1]))


def _padded(x, padding):
    return np.pad(x, ((0, 0), (0, 0), (padding[0],) * 2, (padding[1],) * 2))


def conv2d_forward(x, w, stride, padding, dilation, groups):
    K, Cg = w.shape[:2]
    Ho = (x.shape[2] + 2 * padding[0] - dilation[0] * (w.shape[2] - 1) - 1) // stride[0] + 1
    Wo = (x.shape[3] + 2 * padding[1] - dilation[1] * (w.shape[3] - 1) - 1) // stride[1] + 1
    xp_ = _padded(x, padding)
    y = np.zeros((x.shape[0], K, Ho, Wo), dtype=np.float64)
    Kg = K // groups
    for g in range(groups):
        xs = xp_[:, g * Cg:(g + 1) * Cg]
        for i, j, (hs, ws) in _offsets(w.shape, stride, dilation, Ho, Wo):
            y[:, g * Kg:(g + 1) * Kg] += np.einsum("nchw,kc->nkhw", xs[:, :, hs, ws],
                                                   w[g * Kg:(g + 1) * Kg, :, i, j])
    return y.astype(x.dtype)


def conv2d_backward_input(dy, w, x_shape, stride, padding, dilation, groups):
    K, Cg = w.shape[:2]
    Ho, Wo = dy.shape[2:]
    dxp = np.zeros(tuple(x_shape[:2]) + (x_shape[2] + 2 * padding[0], x_shape[3] + 2 * padding[1]))
    Kg = K // groups
    for g in range(groups):
        for i, j, (hs, ws) in _offsets(w.shape, stride, dilation, Ho, Wo):
            dxp[:, g * Cg:(g + 1) * Cg, hs, ws] += np.einsum(
                "nkhw,kc->nchw", dy[:, g * Kg:(g + 1) * Kg], w[g * Kg:(g + 1) * Kg, :, i, j])
    H, W = x_shape[2:]
    return dxp[:, :, padding[0]:padding[0] + H, padding[1]:padding[1] + W].astype(dy.dtype)


def conv2d_backward_weight(x, dy, w_shape, stride, padding, dilation, groups):
    K, Cg = w_shape[:2]
    Ho, Wo = dy.shape[2:]
    xp_ = _padded(x, padding)
    dw = np.zeros(w_shape)
    Kg = K // groups
    for g in range(groups):
        for i, j, (hs, ws) in _offsets(w_shape, stride, dilation, Ho, Wo):
            dw[g * Kg:(g + 1) * Kg, :, i, j] = np.einsum(
                "nkhw,nchw->kc", dy[:, g * Kg:(g + 1) * Kg], xp_[:, g * Cg:(g + 1) * Cg, hs, ws])
    return dw.astype(x.dtype)


# ---------------------------------------------------------------- pooling, one output at a time

def max_pool2d(x, kernel, stride, padding, dilation, out_hw):
    H, W = x.shape[-2:]
    out = np.empty(x.shape[:-2] + tuple(out_hw), dtype=x.dtype)
    index = np.empty(out.shape, dtype=np.int64)
    flat = x.reshape(x.shape[:-2] + (H * W,))
    for oh in range(out_hw[0]):
        for ow in range(out_hw[1]):
            cells = [(ih, iw) for i in range(kernel[0]) for j in range(kernel[1])
                     for ih in [oh * stride[0] - padding[0] + i * dilation[0]]
                     for iw in [ow * stride[1] - padding[1] + j * dilation[1]]
                     if 0 <= ih < H and 0 <= iw < W]
            idx = np.array([ih * W + iw for ih, iw in cells])
            vals = flat[..., idx]
            pick = vals.argmax(-1)
            index[..., oh, ow] = idx[pick]
            out[..., oh, ow] = np.take_along_axis(vals, pick[..., None], -1)[..., 0]
    return out, index


def max_pool2d_backward(grad, index, x_shape):
    dx = np.zeros(x_shape[:-2] + (x_shape[-2] * x_shape[-1],), dtype=grad.dtype)
    g = grad.reshape(-1, grad.shape[-2] * grad.shape[-1])
    i = index.reshape(g.shape)
    flat = dx.reshape(-1, dx.shape[-1])
    for p in range(flat.shape[0]):
        np.add.at(flat[p], i[p], g[p])
    return dx.reshape(x_shape)


def avg_pool2d(x, windows):
    hs, he, ws, we, div = windows
    out = np.empty(x.shape[:-2] + (len(hs), len(ws)), dtype=x.dtype)
    for oh in range(len(hs)):
        for ow in range(len(ws)):
            out[..., oh, ow] = x[..., hs[oh]:he[oh], ws[ow]:we[ow]].sum((-2, -1)) / div[oh, ow]
    return out


def avg_pool2d_backward(grad, windows, x_shape):
    hs, he, ws, we, div = windows
    dx = np.zeros(x_shape, dtype=grad.dtype)
    for oh in range(len(hs)):
        for ow in range(len(ws)):
            dx[..., hs[oh]:he[oh], ws[ow]:we[ow]] += (grad[..., oh, ow] / div[oh, ow])[..., None, None]
    return dx
