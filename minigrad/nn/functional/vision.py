"""Vision functions (PyTorch's grouping): resizing (``interpolate``), pixel (un)shuffling,
and sampling an image on a grid (``affine_grid``, ``grid_sample``). All are composites of
gathers, reshapes and weighted sums, so their gradients come from the engine."""
import math

import numpy as np

from minigrad import ops
from minigrad.errors import InvalidArgument, InvalidDtype
from minigrad.ops._common import cast, constant, xp_of

# ---------------------------------------------------------------- interpolate
#
# Index and weight arithmetic follows ATen's CPU kernels step by step, in the type they use
# (float32 for float16/float32 input, float64 for float64; float64 for uint8), so that the
# chosen pixels, and the weights, are PyTorch's to the last bit.

_INTERPOLATING = ("linear", "bilinear", "bicubic", "trilinear", "lanczos")


def _scale(n_in, n_out, align_corners, scale, dt):
    """ATen's area_pixel_compute_scale: the source step per output step."""
    if align_corners:
        return dt(n_in - 1) / dt(n_out - 1) if n_out > 1 else dt(0)
    if scale is not None and scale > 0:
        return dt(1.0 / scale)
    return dt(n_in) / dt(n_out)


def _nearest_index(n_in, n_out, scale, exact=False):
    """PyTorch's nearest source index: floor(i * step) in float32, clipped to the input,
    with two shortcuts whatever the scale: a copy when the sizes agree, a halving when
    the output is twice the input. 'nearest-exact': floor((i + 0.5) * step), the product
    in float64 and floored in float32, without shortcuts."""
    i = np.arange(n_out)
    step = _scale(n_in, n_out, False, scale, np.float32)
    if exact:
        pos = ((i + 0.5) * np.float64(step)).astype(np.float32)
    elif n_out == n_in:
        return i
    elif n_out == 2 * n_in:
        return i >> 1
    else:
        pos = i.astype(np.float32) * step
    return np.minimum(np.floor(pos).astype(np.int64), n_in - 1)


def _source_positions(n_in, n_out, scale, align_corners, dt):
    """Real source coordinate of each output position (ATen's
    area_pixel_compute_source_index, linear modes), and its floor clipped to the input."""
    i = np.arange(n_out).astype(dt)
    step = _scale(n_in, n_out, align_corners, scale, dt)
    if align_corners:
        real = step * i
    else:
        real = step * (i + dt(0.5)) - dt(0.5)
        real = np.where(real < 0, dt(0), real).astype(dt)
    # (ATen floors with floorf, so the coordinate passes through float32 first)
    i0 = np.minimum(np.floor(real.astype(np.float32)).astype(np.int64), n_in - 1)
    lam = np.clip(real - i0.astype(dt), dt(0), dt(1)).astype(dt)
    return i0, lam


def _linear_taps(n_in, n_out, scale, align_corners, opmath, store):
    """(i0, i1, w0, w1): the two source positions of each output and their weights,
    computed in ``opmath`` and stored (rounded) in ``store``, the input's type."""
    if n_out == n_in:  # a copy, whatever the scale
        i = np.arange(n_out)
        return i, i, np.ones(n_out, store), np.zeros(n_out, store)
    i0, w1 = _source_positions(n_in, n_out, scale, align_corners, opmath)
    w1 = w1.astype(store)
    i1 = i0 + (i0 < n_in - 1)
    return i0, i1, (opmath(1) - w1.astype(opmath)).astype(store), w1


def _bilinear_float(input, out_hw, scales, align_corners):
    """Bilinear resizing of float input, accumulated in float32 for float16 (ATen's opmath).
    ATen has two kernels, chosen by output size, whose roundings differ in float16: for
    small outputs (height + width <= 128) each output sums its four pixels times products
    of float32 weights; otherwise it interpolates along the width, then the height, with
    the weights rounded to the input's type. Both are followed."""
    dt = input.array.dtype
    opmath = np.float64 if dt == np.float64 else np.float32
    x = cast(input, opmath) if dt != opmath else input
    xp = xp_of(input.array)
    H, W = input.shape[-2:]
    per_pixel = out_hw[0] + out_hw[1] <= 128
    store = opmath if per_pixel else dt.type
    h0, h1, lh0, lh1 = _linear_taps(H, out_hw[0], scales[0], align_corners, opmath, store)
    w0, w1, lw0, lw1 = _linear_taps(W, out_hw[1], scales[1], align_corners, opmath, store)

    def weight(w):
        return constant(xp.asarray(w.astype(opmath)))
    if per_pixel:
        r0, r1 = x[..., h0, :], x[..., h1, :]
        out = (r0[..., w0] * weight(np.outer(lh0, lw0))
               + r0[..., w1] * weight(np.outer(lh0, lw1))
               + r1[..., w0] * weight(np.outer(lh1, lw0))
               + r1[..., w1] * weight(np.outer(lh1, lw1)))
    else:
        cols = x[..., w0] * weight(lw0) + x[..., w1] * weight(lw1)
        out = cols[..., h0, :] * weight(lh0[:, None]) + cols[..., h1, :] * weight(lh1[:, None])
    return cast(out, dt) if dt != opmath else out


def _uint8_weights(n_in, n_out, scale, align_corners):
    """ATen's integer weights for uint8 resizing: the triangle filter's two taps (computed
    in float64, the out-of-range tap folded onto the last pixel), scaled to int16 with the
    most bits that keep the largest weight below 2**15. Returns (i0, w0, w1, bits)."""
    i0, lam = _source_positions(n_in, n_out, scale, align_corners, np.float64)

    def tri(t):
        t = np.abs(t)
        return np.where(t < 1.0, 1.0 - t, 0.0)
    w0, w1 = tri(-lam), tri(1.0 - lam)
    last = i0 >= n_in - 1  # one pixel left: both taps land on it
    w0, w1 = np.where(last, w0 + w1, w0), np.where(last, 0.0, w1)
    w_max = max(float(w0.max()), float(w1.max()))
    bits = 0
    while bits < 22 and int(0.5 + w_max * (1 << (bits + 1))) < (1 << 15):
        bits += 1

    def to_int16(w):
        v = w * (1 << bits)
        return np.trunc(np.where(v < 0, v - 0.5, v + 0.5)).astype(np.int32)
    return i0, to_int16(w0), to_int16(w1), bits


def _bilinear_uint8(a, out_hw, scales, align_corners):
    """PyTorch's uint8 bilinear resize (Pillow's arithmetic): separable, width first, each
    pass an integer weighted sum rounded back to uint8 (so the intermediate is rounded),
    a dimension whose size is unchanged is left alone."""
    xp = xp_of(a)
    for axis, n_out, scale in ((-1, out_hw[1], scales[1]), (-2, out_hw[0], scales[0])):
        n_in = a.shape[axis]
        if n_in == n_out:
            continue
        i0, w0, w1, bits = _uint8_weights(n_in, n_out, scale, align_corners)
        i1 = np.minimum(i0 + 1, n_in - 1)
        shape = [1] * a.ndim
        shape[axis] = n_out
        w0, w1 = (xp.asarray(w.reshape(shape)) for w in (w0, w1))
        wide = a.astype(np.int32)
        acc = (1 << (bits - 1)) + xp.take(wide, xp.asarray(i0), axis=axis) * w0 \
            + xp.take(wide, xp.asarray(i1), axis=axis) * w1
        a = xp.clip(acc >> bits, 0, 255).astype(np.uint8)
    return a


def _sizes(input, size, scale_factor, recompute_scale_factor, mode):
    """PyTorch's output size and scales (None where the size alone decides)."""
    dim = input.ndim - 2
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    if size is not None:
        if isinstance(size, (list, tuple)):
            if len(size) != dim:
                raise ValueError(
                    f"Input and output must have the same number of spatial dimensions, but "
                    f"got input with spatial dimensions of {list(input.shape[2:])} and output "
                    f"size of {size}. Please provide input tensor in (N, C, d1, d2, ...,dK) "
                    f"format and output size in (o1, o2, ...,oK) format.")
            if not all(isinstance(v, (int, np.integer)) for v in size):
                raise TypeError(f"expected size to be one of int or Tuple[int] or Tuple[int, "
                                f"int] or Tuple[int, int, int], but got size with types "
                                f"{[type(v) for v in size]}")
            out = [int(v) for v in size]
        else:
            out = [int(size)] * dim
        scales = [None] * dim
    elif scale_factor is not None:
        if isinstance(scale_factor, (list, tuple)):
            if len(scale_factor) != dim:
                raise ValueError(
                    f"Input and scale_factor must have the same number of spatial dimensions,"
                    f" but got input with spatial dimensions of {list(input.shape[2:])} and "
                    f"scale_factor of shape {scale_factor}. Please provide input tensor in "
                    f"(N, C, d1, d2, ...,dK) format and scale_factor in (s1, s2, ...,sK) "
                    f"format.")
            scales = [float(s) for s in scale_factor]
        else:
            scales = [float(scale_factor)] * dim
        out = [int(n * s) for n, s in zip(input.shape[2:], scales)]
    else:
        raise ValueError("either size or scale_factor should be defined")
    if recompute_scale_factor and size is not None:
        raise ValueError("recompute_scale_factor is not meaningful with an explicit size.")
    if recompute_scale_factor or mode == "area":
        scales = [None] * dim
    return out, scales


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """PyTorch's F.interpolate for 3-D (N, C, L) and 4-D (N, C, H, W) input: modes
    'nearest' and 'nearest-exact' (float or uint8), 'linear'/'bilinear' (float; bilinear
    also uint8) and 'area' (float). Nearest modes gather; linear modes are weighted gathers
    (so gradients come from getitem's scatter-add); uint8 bilinear uses PyTorch's integer
    arithmetic and has no gradient; area is adaptive average pooling. Not supported (a
    clear error): 5-D input, 'bicubic', 'trilinear', 'lanczos', ``antialias=True``."""
    op = "interpolate"
    if mode in ("nearest", "area", "nearest-exact"):
        if align_corners is not None:
            raise ValueError("align_corners option can only be set with the interpolating "
                             "modes: linear | bilinear | bicubic | trilinear")
    elif align_corners is None:
        align_corners = False
    if input.ndim < 3:
        raise NotImplementedError(f"Input Error: Only 3D, 4D and 5D input Tensors supported "
                                  f"(got {input.ndim}D) for the modes: nearest | linear | "
                                  f"bilinear | bicubic | trilinear | area | nearest-exact "
                                  f"(got {mode})")
    out_hw, scales = _sizes(input, size, scale_factor, recompute_scale_factor, mode)
    if antialias:
        if not (mode in ("bilinear", "bicubic", "lanczos") and input.ndim == 4):
            raise ValueError("Anti-alias option is restricted to bilinear, bicubic, and lanczos "
                             "modes and requires a 4-D tensor as input")
        raise NotImplementedError(f"{op}: antialias=True is not supported")
    needs = {"linear": 3, "bilinear": 4, "bicubic": 4, "lanczos": 4, "trilinear": 5}
    if mode in needs and input.ndim != needs[mode]:
        raise ValueError(f"Got {input.ndim}D input, but {mode} mode needs {needs[mode]}D input")
    if mode not in ("nearest", "nearest-exact", "linear", "bilinear", "area") \
            or input.ndim not in (3, 4):
        raise NotImplementedError(f"{op}: mode {mode!r} on {input.ndim}-D input is not "
                                  f"supported (3-D: nearest, nearest-exact, linear, area; "
                                  f"4-D: nearest, nearest-exact, bilinear, area)")
    if min(out_hw) < 1 or min(input.shape[2:]) < 1:
        sizes = ", ".join(f"{n}" for n in input.shape[2:])
        raise ValueError(f"{op}: input and output sizes should be greater than 0, but got "
                         f"input ({sizes}) and output {tuple(out_hw)}")
    if input.ndim == 3:  # (N, C, L) as (N, C, 1, L): the height is a copy
        out = _resize2d(ops.unsqueeze(input, 2), [1] + out_hw, [None] + scales, mode,
                        align_corners)
        return ops.squeeze(out, 2)
    return _resize2d(input, out_hw, scales, mode, align_corners)


def _resize2d(input, out_hw, scales, mode, align_corners):
    dt = input.array.dtype
    if mode == "area":
        return ops.adaptive_avg_pool2d(input, tuple(out_hw))
    if not (dt.kind == "f" or dt == np.uint8 and mode != "linear"):
        raise InvalidDtype(f"interpolate: mode {mode!r} needs a floating point"
                           f"{'' if mode == 'linear' else ' or uint8'} input, got {dt}")
    H, W = input.shape[2:]
    if mode in ("nearest", "nearest-exact"):
        exact = mode == "nearest-exact"
        hi = _nearest_index(H, out_hw[0], scales[0], exact)
        wi = _nearest_index(W, out_hw[1], scales[1], exact)
        return input[:, :, hi[:, None], wi[None, :]]
    if dt == np.uint8:
        return constant(_bilinear_uint8(input.array, out_hw, scales, align_corners))
    return _bilinear_float(input, out_hw, scales, align_corners)
