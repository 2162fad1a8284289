"""The CUDA backend's contract functions, written once against an array namespace ``xp``
and a kernel runner ``run``.

On a GPU ``xp`` is CuPy and ``run`` launches the kernels compiled from ``kernels/*.cu``.
In the tests ``xp`` is NumPy and ``run`` calls the same element functions compiled for
the host (``tests/cuda/host_harness.cpp``), so everything here but the launch itself is
checked against the reference backend on a machine without a GPU.

``run(source, kernel, dtype, work, *args)``: ``work`` is the number of elements of a
grid-stride kernel, or ``("blocks", n)`` for a kernel that runs one block per channel.
Scalars are passed typed (``np.int64`` for the kernels' ``idx_t``, ``np.int32`` for
``int``), as a CUDA launch needs them.
"""
import math

import numpy as np

from minigrad._shapes import window_out_size
from minigrad.backend.numpy_ref import (dropout_mask, is_channel_reduction,
                                        lstm_gates_backward, lstm_gates_forward,
                                        lstm_layer_backward, lstm_layer_forward, sgd_step,
                                        store)
from minigrad.errors import InvalidArgument, InvalidDtype

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
# im2col buffers are split over the batch so one never passes this many bytes
_COLS_BYTES = 1 << 29


def _i64(*values):
    return tuple(np.int64(v) for v in values)


def _i32(*values):
    return tuple(np.int32(v) for v in values)


class KernelBackend:
    def __init__(self, xp, run, name):
        self.xp, self.run, self.name = xp, run, name

    # ------------------------------------------------------------ checks, before any launch
    def _float(self, op, *arrays):
        for a in arrays:
            if a.dtype not in _FLOATS:
                raise InvalidDtype(f"{op}: expected float32 or float64 arrays, got {a.dtype}")
        if any(a.dtype != arrays[0].dtype for a in arrays):
            raise InvalidDtype(f"{op}: operands must share one dtype, got "
                               f"{[str(a.dtype) for a in arrays]}")
        return [self.xp.ascontiguousarray(a) for a in arrays]

    # ------------------------------------------------------------ array policy
    def view(self, a, shape):
        v = a.view()
        try:
            v.shape = shape
        except AttributeError:
            raise ValueError(f"view: shape {shape} is incompatible with the input's strides; "
                             f"use reshape() (which may copy)") from None
        return v

    is_channel_reduction = staticmethod(is_channel_reduction)   # (the reference's rule)

    # ------------------------------------------------------------ linear algebra, elementwise
    def matmul(self, a, b, out=None, accumulate=False):
        return store(self.xp.matmul(a, b), out, accumulate)   # cuBLAS through CuPy

    def relu(self, x):
        return self.xp.maximum(x, 0)   # (NaN stays NaN)

    def relu_backward(self, g, y):
        return self.xp.where(y <= 0, self.xp.zeros((), dtype=g.dtype), g)

    def add(self, a, b):
        return a + b

    def add_inplace(self, a, b):
        a += b
        return a

    # ------------------------------------------------------------ the LSTM cell
    # (one fused elementwise kernel each way would save passes; these are the reference's
    # xp compositions, a few CuPy ufunc launches per step)
    def lstm_gates_forward(self, gates, c_prev):
        return lstm_gates_forward(gates, c_prev)

    def lstm_gates_backward(self, gh, gc, act, tc, c_prev):
        return lstm_gates_backward(gh, gc, act, tc, c_prev)

    def lstm_layer_forward(self, gi, h0, c0, w_hh, reverse=False):
        return lstm_layer_forward(gi, h0, c0, w_hh, reverse, be=self)   # (the step loop)

    def lstm_layer_backward(self, g_hs, g_h, g_c, h0, c0, w_hh, saved, reverse=False):
        return lstm_layer_backward(g_hs, g_h, g_c, h0, c0, w_hh, saved, reverse, be=self)

    def sgd_step(self, p, grad, buf, lr, momentum=0.0, dampening=0.0, nesterov=False,
                 weight_decay=0.0, maximize=False):
        """The reference's xp composition (a few CuPy ufunc launches per parameter)."""
        return sgd_step(p, grad, buf, lr, momentum, dampening, nesterov, weight_decay,
                        maximize)

    def dropout_mask(self, like, p, seed):
        """The reference's xp composition (unsigned 64-bit array arithmetic, which CuPy's
        ufuncs wrap as NumPy's do): the same bits as the host's mask."""
        return dropout_mask(like, p, seed)

    # ------------------------------------------------------------ per channel
    def _channels(self, op, x):
        if x.ndim < 2:
            raise InvalidArgument(f"{op}: expected an (N, C, ...) array, got shape {x.shape}")
        (x,) = self._float(op, x)
        return x, _i64(x.shape[0], x.shape[1], math.prod(x.shape[2:]))

    def _per_channel(self, v, x, op, name):
        C = x.shape[1]
        if v is None:
            return self.xp.zeros(C, dtype=np.float64)
        if v.shape != (C,):
            raise InvalidArgument(f"{op}: {name} must have shape ({C},), got {v.shape}")
        return self.xp.ascontiguousarray(v, dtype=np.float64)

    def channel_moments(self, x):
        x, shape = self._channels("channel_moments", x)
        mean = self.xp.empty(x.shape[1], dtype=x.dtype)
        var = self.xp.empty(x.shape[1], dtype=x.dtype)
        self.run("channel", "channel_moments", x.dtype, ("blocks", x.shape[1]),
                 x, mean, var, *shape)
        return mean, var

    def channel_sum(self, x):
        x, shape = self._channels("channel_sum", x)
        out = self.xp.empty(x.shape[1], dtype=x.dtype)
        self.run("channel", "channel_sum", x.dtype, ("blocks", x.shape[1]), x, out, *shape)
        return out

    def channel_affine(self, x, scale, shift, center=None, out=None):
        op = "channel_affine"
        x, shape = self._channels(op, x)
        args = [self._per_channel(v, x, op, n)
                for v, n in ((scale, "scale"), (shift, "shift"), (center, "center"))]
        if out is not None and (out.shape != x.shape or out.dtype != x.dtype
                                or not out.flags.c_contiguous):
            raise InvalidArgument(f"{op}: out must be a contiguous {x.dtype} array of shape "
                                  f"{x.shape}, got {out.dtype} {out.shape}")
        y = self.xp.empty_like(x) if out is None else out
        self.run("channel", op, x.dtype, x.size, x, y, *args, np.int32(out is not None), *shape)
        return y

    def channel_affine_backward(self, g, x, scale, center=None, want_dx=True):
        op = "channel_affine_backward"
        g, x = self._float(op, g, x)
        if g.shape != x.shape:
            raise InvalidArgument(f"{op}: gradient {g.shape} and input {x.shape} differ")
        x, shape = self._channels(op, x)
        sum_g = self.xp.empty(x.shape[1], dtype=x.dtype)
        sum_gx = self.xp.empty(x.shape[1], dtype=x.dtype)
        self.run("channel", "channel_affine_sums", x.dtype, ("blocks", x.shape[1]), g, x,
                 self._per_channel(center, x, op, "center"), sum_g, sum_gx, *shape)
        dx = None
        if want_dx:
            s = self._per_channel(scale, x, op, "scale").reshape((1, -1) + (1,) * (x.ndim - 2))
            dx = (g * s).astype(x.dtype, copy=False)
        return dx, sum_g, sum_gx

    # ------------------------------------------------------------ convolution
    def _geometry(self, x_shape, w_shape, stride, padding, dilation):
        N, C, H, W = x_shape
        kh, kw = w_shape[2:]
        Ho = window_out_size(H, kh, stride[0], padding[0], dilation[0])
        Wo = window_out_size(W, kw, stride[1], padding[1], dilation[1])
        return N, C, H, W, Ho, Wo, kh, kw

    def _batches(self, N, per_sample):
        """Slices of the batch whose im2col buffers stay under _COLS_BYTES."""
        step = max(1, _COLS_BYTES // max(per_sample, 1))
        return [slice(i, min(i + step, N)) for i in range(0, N, step)]

    def _im2col(self, x, geometry, stride, padding, dilation):
        N, C, H, W, Ho, Wo, kh, kw = geometry
        cols = self.xp.empty((N, C * kh * kw, Ho * Wo), dtype=x.dtype)
        self.run("conv", "im2col", x.dtype, cols.size, x, cols,
                 *_i64(N, C, H, W, Ho, Wo), *_i32(kh, kw, *stride, *padding, *dilation))
        return cols

    def conv2d_forward(self, x, w, stride, padding, dilation, groups):
        x, w = self._float("conv2d", x, w)
        N, C, H, W, Ho, Wo, kh, kw = self._geometry(x.shape, w.shape, stride, padding, dilation)
        K = w.shape[0]
        y = self.xp.empty((N, K, Ho * Wo), dtype=x.dtype)
        wg = w.reshape(groups, K // groups, -1)                      # (G, Kg, Cg*kh*kw)
        for part in self._batches(N, C * kh * kw * Ho * Wo * x.itemsize):
            n = part.stop - part.start
            cols = self._im2col(x[part], (n, C, H, W, Ho, Wo, kh, kw), stride, padding, dilation)
            cols = cols.reshape(n, groups, -1, Ho * Wo)              # (n, G, Cg*kh*kw, L)
            y[part] = self.xp.matmul(wg, cols).reshape(n, K, Ho * Wo)
        return y.reshape(N, K, Ho, Wo)

    def conv2d_backward_input(self, dy, w, x_shape, stride, padding, dilation, groups):
        dy, w = self._float("conv2d backward", dy, w)
        N, C, H, W, Ho, Wo, kh, kw = self._geometry(x_shape, w.shape, stride, padding, dilation)
        K = w.shape[0]
        wt = w.reshape(groups, K // groups, -1).transpose(0, 2, 1)  # (G, Cg*kh*kw, Kg)
        dx = self.xp.empty((N, C, H, W), dtype=dy.dtype)
        for part in self._batches(N, C * kh * kw * Ho * Wo * dy.itemsize):
            n = part.stop - part.start
            g = dy[part].reshape(n, groups, K // groups, Ho * Wo)
            dcols = self.xp.ascontiguousarray(self.xp.matmul(wt, g).reshape(n, -1, Ho * Wo))
            out = self.xp.empty((n, C, H, W), dtype=dy.dtype)
            self.run("conv", "col2im", dy.dtype, out.size, dcols, out,
                     *_i64(n, C, H, W, Ho, Wo), *_i32(kh, kw, *stride, *padding, *dilation))
            dx[part] = out
        return dx

    def conv2d_backward_weight(self, x, dy, w_shape, stride, padding, dilation, groups):
        x, dy = self._float("conv2d backward", x, dy)
        N, C, H, W, Ho, Wo, kh, kw = self._geometry(x.shape, w_shape, stride, padding, dilation)
        K = w_shape[0]
        dw = self.xp.zeros((groups, K // groups, C // groups * kh * kw), dtype=x.dtype)
        for part in self._batches(N, C * kh * kw * Ho * Wo * x.itemsize):
            n = part.stop - part.start
            cols = self._im2col(x[part], (n, C, H, W, Ho, Wo, kh, kw), stride, padding, dilation)
            cols = cols.reshape(n, groups, -1, Ho * Wo)              # (n, G, Cg*kh*kw, L)
            g = dy[part].reshape(n, groups, K // groups, Ho * Wo)    # (n, G, Kg, L)
            dw += self.xp.matmul(g, cols.transpose(0, 1, 3, 2)).sum(axis=0)
        return dw.reshape(w_shape)

    # ------------------------------------------------------------ pooling
    def _planes(self, x, op):
        (x,) = self._float(op, x)
        return x.reshape(math.prod(x.shape[:-2]), *x.shape[-2:])

    def max_pool2d(self, x, kernel, stride, padding, dilation, out_hw):
        planes = self._planes(x, "max_pool2d")
        P, H, W = planes.shape
        out = self.xp.empty((P,) + tuple(out_hw), dtype=x.dtype)
        index = self.xp.empty(out.shape, dtype=np.int64)
        self.run("pool", "max_pool", x.dtype, out.size, planes, out, index,
                 *_i64(P, H, W, *out_hw), *_i32(*kernel, *stride, *padding, *dilation))
        shape = x.shape[:-2] + tuple(out_hw)
        return out.reshape(shape), index.reshape(shape)

    def max_pool2d_backward(self, grad, index, x_shape, window):
        """Each input pixel sums the gradients of the windows (of the pool's geometry,
        ``window``) that picked it: a gather, so no atomics and the same sums every run."""
        g = self._planes(grad, "max_pool2d backward")
        P, Ho, Wo = g.shape
        index = self.xp.ascontiguousarray(index, dtype=np.int64).reshape(g.shape)
        H, W = x_shape[-2:]
        kernel, stride, padding, dilation = window
        dx = self.xp.empty((P, H, W), dtype=grad.dtype)
        self.run("pool", "max_pool_backward", grad.dtype, dx.size, g, index, dx,
                 *_i64(P, H, W, Ho, Wo), *_i32(*kernel, *stride, *padding, *dilation))
        return dx.reshape(x_shape)

    def _windows(self, windows):
        hs, he, ws, we, div = windows
        to = self.xp.asarray   # small geometry arrays: an explicit host-to-device copy
        return (to(np.ascontiguousarray(hs, dtype=np.int64)),
                to(np.ascontiguousarray(he, dtype=np.int64)),
                to(np.ascontiguousarray(ws, dtype=np.int64)),
                to(np.ascontiguousarray(we, dtype=np.int64)),
                to(np.ascontiguousarray(div, dtype=np.float64)))

    def avg_pool2d(self, x, windows):
        planes = self._planes(x, "avg_pool2d")
        P, H, W = planes.shape
        hs, he, ws, we, div = self._windows(windows)
        out = self.xp.empty((P, len(hs), len(ws)), dtype=x.dtype)
        self.run("pool", "avg_pool", x.dtype, out.size, planes, out, hs, he, ws, we, div,
                 *_i64(P, H, W, len(hs), len(ws)), *_i32(0, 0, 0, 0, 0, 0, 0, 0))
        return out.reshape(x.shape[:-2] + out.shape[1:])

    def avg_pool2d_backward(self, grad, windows, x_shape):
        g = self._planes(grad, "avg_pool2d backward")
        P, Ho, Wo = g.shape
        hs, he, ws, we, div = self._windows(windows)
        H, W = x_shape[-2:]
        dx = self.xp.empty((P, H, W), dtype=grad.dtype)
        self.run("pool", "avg_pool_backward", grad.dtype, dx.size, g, dx, hs, he, ws, we, div,
                 *_i64(P, H, W, Ho, Wo), *_i32(0, 0, 0, 0, 0, 0, 0, 0))
        return dx.reshape(x_shape)
