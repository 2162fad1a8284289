"""Pooling: the 2-D primitives of ``ops.pool``, and the 1-D, 3-D, adaptive-max and
unpooling forms composed from them (their gradients come from the engine)."""
import math

import numpy as np

from minigrad import ops
from minigrad.errors import InvalidArgument, InvalidDtype
from minigrad.ops._common import constant, xp_of
from minigrad.nn.functional._utils import _n_tuple
from minigrad.ops import adaptive_avg_pool2d, avg_pool2d, max_pool2d  # noqa: F401  (primitives)
from minigrad._shapes import window_out_size
from minigrad.ops.pool import _fixed_windows


def _pool1d_input(op, input):
    if input.ndim not in (2, 3):
        raise ValueError(f"{op}: expected a 2-D (C, L) or 3-D (N, C, L) input, got shape "
                         f"{input.shape}")
    return ops.unsqueeze(input, -2)


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """max_pool2d over a height of 1."""
    if input.array.dtype.kind in "iu" and not return_indices:
        raise InvalidDtype(f"max_pool1d: integer input ({input.dtype!r}) is pooled with "
                           f"return_indices=True only, as in PyTorch")
    k = _n_tuple(kernel_size, 1, "kernel_size", "max_pool1d")[0]
    s = k if stride is None or stride == () else _n_tuple(stride, 1, "stride", "max_pool1d")[0]
    p = _n_tuple(padding, 1, "padding", "max_pool1d")[0]
    d = _n_tuple(dilation, 1, "dilation", "max_pool1d")[0]
    out = max_pool2d(_pool1d_input("max_pool1d", input), (1, k), (1, s), (0, p), (1, d),
                     ceil_mode, return_indices)
    if return_indices:
        return ops.squeeze(out[0], -2), constant(out[1].array.squeeze(-2))
    return ops.squeeze(out, -2)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True):
    """avg_pool2d over a height of 1."""
    k = _n_tuple(kernel_size, 1, "kernel_size", "avg_pool1d")[0]
    s = k if stride is None or stride == () else _n_tuple(stride, 1, "stride", "avg_pool1d")[0]
    p = _n_tuple(padding, 1, "padding", "avg_pool1d")[0]
    out = avg_pool2d(_pool1d_input("avg_pool1d", input), (1, k), (1, s), (0, p), ceil_mode,
                     count_include_pad)
    return ops.squeeze(out, -2)


def _pool3d_args(op, input, kernel_size, stride, padding, dilation, ceil_mode):
    if input.ndim not in (4, 5):
        raise ValueError(f"{op}: expected a 4-D (C, D, H, W) or 5-D (N, C, D, H, W) input, "
                         f"got shape {input.shape}")
    k = _n_tuple(kernel_size, 3, "kernel_size", op)
    s = k if stride is None or stride == () else _n_tuple(stride, 3, "stride", op)
    p, d = _n_tuple(padding, 3, "padding", op), _n_tuple(dilation, 3, "dilation", op)
    if min(k) < 1 or min(s) < 1 or min(d) < 1:
        raise ValueError(f"{op}: kernel_size {k}, stride {s} and dilation {d} must be positive")
    if any(pp < 0 or pp > kk // 2 for pp, kk in zip(p, k)):
        raise ValueError(f"{op}: padding {p} should be at most half of the kernel size {k}")
    D = input.shape[-3]
    Do = window_out_size(D, k[0], s[0], p[0], d[0], ceil_mode)
    if Do < 1:
        raise ValueError(f"{op}: input depth {D} is too small for kernel {k} with padding {p}")
    return k, s, p, d, Do


def _planes(input, fn):
    """Apply a 2-D pool to every depth plane of (N, C, D, H, W) at once."""
    N, C, D, H, W = input.shape
    out = fn(ops.reshape(input, (N, C * D, H, W)))
    return ops.reshape(out, (N, C, D) + out.shape[-2:])


def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """A composite: max_pool2d over each depth plane, then, per window, the depth tap holding
    the maximum (max is separable). Ties go where PyTorch sends them: to the first maximum in
    (depth, height, width) order (the first winning tap, and the 2-D pool's first maximum
    in that plane), which is also what the returned flat D*H*W indices name."""
    if input.ndim == 4:
        out = max_pool3d(ops.unsqueeze(input, 0), kernel_size, stride, padding, dilation,
                         ceil_mode, return_indices)
        if return_indices:
            return ops.squeeze(out[0], 0), constant(out[1].array[0])
        return ops.squeeze(out, 0)
    k, s, p, d, Do = _pool3d_args("max_pool3d", input, kernel_size, stride, padding, dilation,
                                  ceil_mode)
    dtype = input.array.dtype
    if dtype.kind not in "fiu":
        raise TypeError(f"max_pool3d: expected a floating point or integer input, got "
                        f"{input.dtype!r}")
    integer = dtype.kind != "f"
    N, C, D, H, W = input.shape
    planes, where2d = max_pool2d(ops.reshape(input, (N, C * D, H, W)), k[1:], s[1:], p[1:],
                                 d[1:], ceil_mode, return_indices=True)
    Ho, Wo = planes.shape[-2:]
    planes = ops.reshape(planes, (N, C, D, Ho, Wo))
    need = (Do - 1) * s[0] + d[0] * (k[0] - 1) + 1  # padded depth the windows read
    depth_pad = (p[0], max(0, need - D - p[0]))
    lowest = np.iinfo(dtype).min if integer else -math.inf
    planes = ops.pad(planes, (0, 0, 0, 0) + depth_pad, value=lowest)
    taps = [slice(t * d[0], t * d[0] + (Do - 1) * s[0] + 1, s[0]) for t in range(k[0])]
    stacked = ops.stack([planes[:, :, tap] for tap in taps], 0)     # (k_d, N, C, Do, Ho, Wo)
    xp = xp_of(input.array)
    in_plane = xp.pad(where2d.array.reshape(N, C, D, Ho, Wo),
                      ((0, 0), (0, 0), depth_pad, (0, 0), (0, 0)), constant_values=-1)
    in_plane = xp.stack([in_plane[:, :, tap] for tap in taps], 0)
    if integer:
        # an input element equal to the type's lowest value must beat a padding tap
        # holding the same value: the first tap reading the input that holds the maximum
        valid = in_plane >= 0
        best = xp.max(xp.where(valid, stacked.array, lowest), axis=0)
        winner = xp.argmax(valid & (stacked.array == best), axis=0)[None]
    else:
        winner = xp.argmax(stacked.array, axis=0)[None]   # the first tap holding the maximum
    out = ops.squeeze(ops.gather(stacked, 0, constant(winner)), 0)
    if not return_indices:
        return out
    # the flat index: the winning tap's depth, times H*W, plus the 2-D index in that plane
    depth = xp.arange(Do).reshape(Do, 1, 1) * s[0] + winner[0] * d[0] - p[0]
    in_plane = xp.take_along_axis(in_plane, winner, 0)[0]
    index = xp.where(in_plane < 0, -1, depth * (H * W) + in_plane)
    return out, constant(index)


def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """A composite: avg_pool2d over each depth plane, then a linear map over depth whose
    row i averages depth window i. PyTorch's divisors are products of per-dim window sizes,
    so the separable average is exact."""
    if input.ndim == 4:
        return ops.squeeze(avg_pool3d(ops.unsqueeze(input, 0), kernel_size, stride, padding,
                                      ceil_mode, count_include_pad, divisor_override), 0)
    k, s, p, _, Do = _pool3d_args("avg_pool3d", input, kernel_size, stride, padding, 1,
                                  ceil_mode)
    if divisor_override is not None and divisor_override <= 0:
        raise ValueError(f"avg_pool3d: divisor_override must be positive, got {divisor_override}")
    plane_div = None if divisor_override is None else 1
    planes = _planes(input, lambda x: avg_pool2d(x, k[1:], s[1:], p[1:], ceil_mode,
                                                 count_include_pad, plane_div))
    D = input.shape[2]
    starts, ends, sizes = _fixed_windows(D, k[0], s[0], p[0], Do, count_include_pad)
    A = np.zeros((D, Do), dtype=input.array.dtype)
    for o in range(Do):
        A[starts[o]:ends[o], o] = 1.0 / (sizes[o] if divisor_override is None else
                                         divisor_override)
    out = ops.matmul(ops.permute(planes, 0, 1, 3, 4, 2), constant(xp_of(input.array).asarray(A)))
    return ops.permute(out, 0, 1, 4, 2, 3)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Output cell (i, j) is the maximum over rows floor(i*H/Ho) .. ceil((i+1)*H/Ho) and the
    same columns, as in PyTorch: the argmax of each window (first one; NaN wins) is found on
    the arrays, and the values gathered there, so the gradient goes to that element only."""
    if input.ndim not in (3, 4):
        raise ValueError(f"adaptive_max_pool2d: expected a 3-D or 4-D input, got shape "
                         f"{input.shape}")
    if input.array.dtype.kind != "f":
        raise TypeError(f"adaptive_max_pool2d: expected a float input, got {input.dtype!r}")
    H, W = input.shape[-2:]
    if isinstance(output_size, (int, np.integer)):
        output_size = (output_size, output_size)
    Ho, Wo = (n if o is None else int(o) for n, o in zip((H, W), output_size))
    if Ho < 1 or Wo < 1 or H < 1 or W < 1:
        raise ValueError(f"adaptive_max_pool2d: output size {(Ho, Wo)} and input size "
                         f"{(H, W)} must be positive")
    xp = xp_of(input.array)
    lead = input.shape[:-2]
    a = input.array
    index = xp.empty(lead + (Ho, Wo), dtype=np.int64)
    for i in range(Ho):
        h0, h1 = (i * H) // Ho, -(-((i + 1) * H) // Ho)
        for j in range(Wo):
            w0, w1 = (j * W) // Wo, -(-((j + 1) * W) // Wo)
            win = a[..., h0:h1, w0:w1].reshape(lead + (-1,))
            best = xp.argmax(win, axis=-1)  # (NumPy's argmax takes the first NaN, as torch)
            index[..., i, j] = (h0 + best // (w1 - w0)) * W + w0 + best % (w1 - w0)
    flat = ops.reshape(input, lead + (H * W,))
    out = ops.reshape(ops.gather(flat, -1, constant(index.reshape(lead + (Ho * Wo,)))),
                      lead + (Ho, Wo))
    return (out, constant(index)) if return_indices else out


def adaptive_avg_pool1d(input, output_size):
    """Output cell i averages input positions floor(i*L/Lo) .. ceil((i+1)*L/Lo): the 2-D
    adaptive average over a height of 1."""
    if input.ndim not in (2, 3):
        raise InvalidArgument(f"adaptive_avg_pool1d: expected a 2-D (C, L) or 3-D (N, C, L) "
                              f"input, got shape {input.shape}")
    size = _n_tuple(output_size, 1, "output_size", "adaptive_avg_pool1d")[0]
    out = ops.adaptive_avg_pool2d(ops.unsqueeze(input, -2), (1, size))
    return ops.squeeze(out, -2)


def _unpool_size(input, kernel, stride, padding, output_size):
    """PyTorch's rule: (L - 1) * stride + kernel - 2 * padding, or ``output_size`` (the
    spatial sizes, or with N and C in front) within a stride of it."""
    default = [(n - 1) * s + k - 2 * p
               for n, k, s, p in zip(input.shape[-2:], kernel, stride, padding)]
    if output_size is None:
        return default
    size = [int(v) for v in output_size]
    if len(size) == 4:
        size = size[2:]
    if len(size) != 2:
        raise ValueError(f"output_size should be a sequence containing 2 or 4 elements, but it "
                         f"has a length of '{len(size)}'")
    for d in range(2):
        lo, hi = default[d] - stride[d], default[d] + stride[d]
        if not lo < size[d] < hi:
            raise ValueError(f'invalid output_size "{list(output_size)}" (dim {d} must be '
                             f'between {lo} and {hi})')
    return size


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """The partial inverse of ``max_pool2d(..., return_indices=True)``: zeros, with each
    value written at its flat index ``ih * W + iw`` in its plane (where an index repeats,
    one write wins, as in PyTorch). The gradient with respect to ``input`` gathers the
    output's gradient at the indices."""
    op = "max_unpool2d"
    if input.ndim not in (3, 4):
        raise InvalidArgument(f"Input to max_unpooling2d should be a 3d or 4d Tensor, but got "
                              f"a tensor with {input.ndim} dimensions.")
    if input.array.dtype.kind != "f":
        raise InvalidDtype(f"{op}: expected a floating point input, got {input.dtype!r}")
    idx = indices.array if hasattr(indices, "array") else indices
    if idx.dtype.kind not in "iu" or idx.dtype.itemsize != 8:
        raise InvalidDtype(f"{op}: elements in indices should be type int64 but got: "
                           f"{idx.dtype}")
    if tuple(idx.shape) != tuple(input.shape):
        raise InvalidArgument(f"{op}: Expected shape of indices to be same as that of the "
                              f"input tensor ({list(input.shape)}) but got indices tensor "
                              f"with shape: {list(idx.shape)}")
    kernel = _n_tuple(kernel_size, 2, "kernel_size", op)
    stride = kernel if stride is None else _n_tuple(stride, 2, "stride", op)
    padding = _n_tuple(padding, 2, "padding", op)
    Ho, Wo = _unpool_size(input, kernel, stride, padding, output_size)
    if Ho < 0 or Wo < 0:
        raise ValueError(f"max_unpooling: output_size must contain non-negative spatial "
                         f"dimensions, got {(Ho, Wo)}")
    if idx.size and (idx.min() < 0 or idx.max() >= Ho * Wo):
        bad = idx.min() if idx.min() < 0 else idx.max()
        raise RuntimeError(f"{op}: Found an invalid max index: {int(bad)} (output volumes are "
                           f"of size {Ho}x{Wo})")
    lead = input.shape[:-2]
    flat = ops.reshape(input, lead + (-1,))
    xp = xp_of(input.array)
    zeros = constant(xp.zeros(lead + (Ho * Wo,), dtype=input.array.dtype))
    out = ops.scatter(zeros, -1, constant(idx.reshape(lead + (-1,))), flat)
    return ops.reshape(out, lead + (Ho, Wo))
