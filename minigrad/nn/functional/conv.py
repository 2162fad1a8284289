"""Convolutions: the 1-D and 2-D primitives of ``ops.conv`` (and the transposed 2-D one),
and 3-D convolution as a composite of 2-D ones."""
from minigrad._shapes import window_out_size
from minigrad import ops
from minigrad.nn.functional._utils import _n_tuple
from minigrad.ops import conv1d, conv2d, conv_transpose2d  # noqa: F401  (primitives)


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """A composite: one conv2d per depth tap of the kernel, over all output depths at once
    (the depth slices a tap reads, batched into conv2d's N), summed over the taps. Slower
    than a 3-D kernel, exact and differentiable to any order."""
    op = "conv3d"
    if input.ndim == 4:
        return ops.squeeze(conv3d(ops.unsqueeze(input, 0), weight, bias, stride, padding,
                                  dilation, groups), 0)
    if input.ndim != 5 or weight.ndim != 5:
        raise ValueError(f"{op}: expected a 5-D input and weight, got shapes {input.shape} "
                         f"and {weight.shape}")
    s, d = _n_tuple(stride, 3, "stride", op), _n_tuple(dilation, 3, "dilation", op)
    k = weight.shape[2:]
    if isinstance(padding, str):
        if padding == "valid":
            p = (0, 0, 0)
        elif padding == "same":
            if s != (1, 1, 1):
                raise ValueError(f"{op}: padding='same' needs stride 1, got {s}")
            total = [dd * (kk - 1) for dd, kk in zip(d, k)]
            input = ops.pad(input, sum(((t // 2, t - t // 2) for t in reversed(total)), ()))
            p = (0, 0, 0)
        else:
            raise ValueError(f"{op}: padding must be an int, a triple, 'same' or 'valid', got "
                             f"{padding!r}")
    else:
        p = _n_tuple(padding, 3, "padding", op)
    if min(s) < 1 or min(d) < 1 or min(p) < 0:
        raise ValueError(f"{op}: stride {s} and dilation {d} must be positive, padding {p} "
                         f"not negative")
    N, C, D, H, W = input.shape
    K = weight.shape[0]
    Do = window_out_size(D, k[0], s[0], p[0], d[0])
    if Do < 1 or min(k) < 1:
        raise ValueError(f"{op}: input depth {D} with padding {p[0]} is smaller than the "
                         f"dilated kernel depth {k[0]} (dilation {d[0]})")
    x = ops.pad(input, (0, 0, 0, 0, p[0], p[0])) if p[0] else input
    out = None
    for t in range(k[0]):
        start = t * d[0]
        xt = x[:, :, start:start + (Do - 1) * s[0] + 1:s[0]]  # (N, C, Do, H, W)
        xt = ops.reshape(ops.permute(xt, 0, 2, 1, 3, 4), (N * Do, C, H, W))
        yt = conv2d(xt, weight[:, :, t], None, s[1:], p[1:], d[1:], groups)
        out = yt if out is None else out + yt
    out = ops.permute(ops.reshape(out, (N, Do) + out.shape[1:]), 0, 2, 1, 3, 4)
    if bias is not None:
        if bias.shape != (K,):
            raise ValueError(f"{op}: bias must have shape ({K},), got {bias.shape}")
        out = out + ops.reshape(bias, (1, K, 1, 1, 1))
    return out
