"""Vision functions (PyTorch's grouping): resizing (``interpolate``), pixel (un)shuffling,
and sampling an image on a grid (``affine_grid``, ``grid_sample``). All are composites of
gathers, reshapes and weighted sums, so their gradients come from the engine."""
import warnings

import numpy as np

from minigrad import backend, ops
from minigrad.errors import InvalidDtype
from minigrad.ops import pad  # noqa: F401  (a primitive)
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


def _bilinear_float(input, out_hw, scales, align_corners, two_d):
    """Bilinear resizing of float input, accumulated in float32 for float16 (ATen's opmath).
    ATen has two kernels, chosen by output size, whose roundings differ in float16: for
    small 2-D outputs (height + width <= 128) each output sums its four pixels times
    products of float32 weights; otherwise (and in 1-D) it interpolates along the width,
    then the height, with the weights rounded to the input's type. Both are followed."""
    dt = input.array.dtype
    opmath = np.float64 if dt == np.float64 else np.float32
    x = cast(input, opmath) if dt != opmath else input
    xp = xp_of(input.array)
    H, W = input.shape[-2:]
    per_pixel = two_d and out_hw[0] + out_hw[1] <= 128
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
                        align_corners, two_d=False)
        return ops.squeeze(out, 2)
    return _resize2d(input, out_hw, scales, mode, align_corners)


def _resize2d(input, out_hw, scales, mode, align_corners, two_d=True):
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
    return _bilinear_float(input, out_hw, scales, align_corners, two_d)


# ---------------------------------------------------------------- pixel shuffle

def _shuffle_check(op, input, factor, name):
    if input.ndim < 3:
        raise RuntimeError(f"{op} expects input to have at least 3 dimensions, but got input "
                           f"with {input.ndim} dimension(s)")
    if int(factor) <= 0:
        raise RuntimeError(f"{op} expects a positive {name}, but got {factor}")
    return int(factor)


def pixel_shuffle(input, upscale_factor):
    """(*, C r^2, H, W) -> (*, C, H r, W r): each group of r^2 channels becomes an r x r
    block of pixels (a reshape and a permutation)."""
    op = "pixel_shuffle"
    r = _shuffle_check(op, input, upscale_factor, "upscale_factor")
    *lead, C, H, W = input.shape
    if C % (r * r):
        raise RuntimeError(f"{op} expects its input's 'channel' dimension to be divisible by "
                           f"the square of upscale_factor, but input.size(-3)={C} is not "
                           f"divisible by {r * r}")
    k = len(lead)
    x = ops.reshape(input, tuple(lead) + (C // (r * r), r, r, H, W))
    x = ops.permute(x, *range(k), k, k + 3, k + 1, k + 4, k + 2)
    return ops.reshape(x, tuple(lead) + (C // (r * r), H * r, W * r))


def pixel_unshuffle(input, downscale_factor):
    """(*, C, H r, W r) -> (*, C r^2, H, W), the inverse of ``pixel_shuffle``."""
    op = "pixel_unshuffle"
    r = _shuffle_check(op, input, downscale_factor, "downscale_factor")
    *lead, C, H, W = input.shape
    if H % r or W % r:
        dim, n = ("height", H) if H % r else ("width", W)
        raise RuntimeError(f"{op} expects {dim} to be divisible by downscale_factor, but "
                           f"input.size({-2 if dim == 'height' else -1})={n} is not divisible "
                           f"by {r}")
    k = len(lead)
    x = ops.reshape(input, tuple(lead) + (C, H // r, r, W // r, r))
    x = ops.permute(x, *range(k), k, k + 2, k + 4, k + 1, k + 3)
    return ops.reshape(x, tuple(lead) + (C * r * r, H // r, W // r))


# ---------------------------------------------------------------- sampling on a grid

_ALIGN_WARNING = ("Default grid_sample and affine_grid behavior has changed to "
                  "align_corners=False since 1.3.0. Please specify align_corners=True if the "
                  "old behavior is desired. See the documentation of grid_sample for details.")


def _base_coords(n, align_corners, dtype):
    """ATen's normalized pixel centres: linspace(-1, 1, n), scaled by (n - 1) / n unless
    ``align_corners``; 0 for a single pixel."""
    if n <= 1:
        return np.zeros(n, dtype)
    c = np.linspace(-1, 1, n).astype(dtype)
    return c if align_corners else (c * (n - 1) / n).astype(dtype)


def affine_grid(theta, size, align_corners=None):
    """The sampling grid of a batch of affine maps: (N, H, W, 2) for 2-D maps theta
    (N, 2, 3) and size (N, C, H, W), or (N, D, H, W, 3) for 3-D ones (N, 3, 4). Each grid
    point is theta applied to the normalized (x, y[, z], 1) of an output pixel; the
    gradient flows to theta."""
    if align_corners is None:
        warnings.warn(_ALIGN_WARNING, stacklevel=2)
        align_corners = False
    if theta.array.dtype.kind != "f":
        raise ValueError(f"Expected theta to have floating point type, but got {theta.dtype}")
    size = [int(n) for n in size]
    k = len(size) - 2
    if k not in (2, 3):
        raise NotImplementedError(f"affine_grid only supports 4D and 5D sizes, for 2D and 3D "
                                  f"affine transforms, respectively. Got size {size}.")
    if theta.ndim != 3 or theta.shape[-2:] != (k, k + 1):
        raise ValueError(f"Expected a batch of {k}D affine matrices of shape Nx{k}x{k + 1} for "
                         f"size {size}. Got {tuple(theta.shape)}.")
    spatial = size[2:]
    if align_corners and min(spatial) == 1:
        warnings.warn("Since version 1.3.0, affine_grid behavior has changed for unit-size "
                      "grids when align_corners=True. This is not an intended use case of "
                      "affine_grid. See the documentation of affine_grid for details.",
                      stacklevel=2)
    elif min(size) <= 0:
        raise ValueError(f"Expected non-zero, positive output size. Got {size}")
    if theta.shape[0] != size[0]:
        raise ValueError(f"affine_grid: theta holds {theta.shape[0]} maps for a batch of "
                         f"{size[0]}")
    dt = theta.array.dtype
    axes = [_base_coords(n, align_corners, dt) for n in reversed(spatial)]  # x, y[, z]
    mesh = np.meshgrid(*reversed(axes), indexing="ij")                     # [z,] y, x
    base = np.stack(list(reversed(mesh)) + [np.ones_like(mesh[0])], -1)    # x, y[, z], 1
    base = constant(xp_of(theta.array).asarray(base.reshape(1, -1, k + 1)))
    grid = ops.matmul(base, ops.transpose(theta, 1, 2))                     # (N, P, k)
    return ops.reshape(grid, (size[0],) + tuple(spatial) + (k,))


def _unnormalize(coord, size, align_corners):
    if align_corners:
        return (coord + 1) / 2 * (size - 1)
    return ((coord + 1) * size - 1) / 2


def _reflect(coord, twice_low, twice_high):
    """ATen's reflect_coordinates: fold ``coord`` into [low, high] by reflections."""
    if twice_low == twice_high:
        return coord * 0
    low, span = twice_low / 2, (twice_high - twice_low) / 2
    dist = ops.abs(coord - low)
    flips = ops.floor(dist.detach() / span)
    extra = dist - flips * span
    even = constant(flips.array % 2 == 0)
    return ops.where(even, extra + low, span - extra + low)


def _source_coords(coord, size, padding_mode, align_corners):
    coord = _unnormalize(coord, size, align_corners)
    if padding_mode == "reflection":
        coord = _reflect(coord, 0, 2 * (size - 1)) if align_corners else \
            _reflect(coord, -1, 2 * size - 1)
    if padding_mode != "zeros":  # (ATen's clip: no gradient at or beyond either bound)
        inside = constant((coord.array > 0) & (coord.array < size - 1))
        coord = ops.where(inside, coord, ops.clamp(coord.detach(), 0, size - 1))
    return coord


def grid_sample(input, grid, mode="bilinear", padding_mode="zeros", align_corners=None):
    """PyTorch's grid_sample for 4-D input (N, C, H, W) and grid (N, Ho, Wo, 2) of (x, y) in
    [-1, 1]: modes 'bilinear' and 'nearest' (ties to even), padding 'zeros', 'border' or
    'reflection'. Corner values are gathered and weighted, so the gradient reaches both the
    input and (bilinear) the grid; outside the input, 'zeros' samples 0."""
    if mode not in ("bilinear", "nearest", "bicubic"):
        raise ValueError(f"nn.functional.grid_sample(): expected mode to be 'bilinear', "
                         f"'nearest' or 'bicubic', but got: '{mode}'")
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError(f"nn.functional.grid_sample(): expected padding_mode to be 'zeros', "
                         f"'border', or 'reflection', but got: '{padding_mode}'")
    if align_corners is None:
        warnings.warn(_ALIGN_WARNING, stacklevel=2)
        align_corners = False
    if input.ndim == 5:
        raise NotImplementedError("grid_sample: 5-D (volumetric) input is not supported")
    if mode == "bicubic":
        raise NotImplementedError("grid_sample: mode 'bicubic' is not supported")
    if input.ndim != 4 or grid.ndim != 4:
        raise RuntimeError(f"grid_sampler(): expected 4D input and grid with same number of "
                           f"dimensions, but got input with sizes {list(input.shape)} and "
                           f"grid with sizes {list(grid.shape)}")
    N, C, H, W = input.shape
    if grid.shape[0] != N or grid.shape[-1] != 2:
        raise RuntimeError(f"grid_sampler(): expected grid of shape (N={N}, H_out, W_out, 2), "
                           f"got {list(grid.shape)}")
    if input.array.dtype != grid.array.dtype or input.array.dtype.kind != "f":
        raise RuntimeError(f"grid_sampler(): expected input and grid to have the same floating "
                           f"point dtype, but input has {input.dtype} and grid has "
                           f"{grid.dtype}")
    Ho, Wo = grid.shape[1:3]
    xp = xp_of(input.array)
    ix = _source_coords(grid[..., 0], W, padding_mode, align_corners)        # (N, Ho, Wo)
    iy = _source_coords(grid[..., 1], H, padding_mode, align_corners)
    flat = ops.reshape(input, (N, C, H * W))

    def sample(cx, cy):
        """input at integer coordinates (arrays), 0 outside; (N, C, Ho*Wo)."""
        inside = (cx >= 0) & (cx < W) & (cy >= 0) & (cy < H)
        at = np.where(inside, cy * W + cx, 0).reshape(N, 1, Ho * Wo)
        values = ops.gather(flat, 2, constant(xp.asarray(np.broadcast_to(at, (N, C, Ho * Wo)))))
        return values, constant(xp.asarray(inside.reshape(N, 1, Ho * Wo)))

    def host(t):
        return np.asarray(backend.to_host(t.array))

    if mode == "nearest":
        cx = np.rint(host(ix)).astype(np.int64)  # (round half to even, as nearbyint)
        cy = np.rint(host(iy)).astype(np.int64)
        values, inside = sample(cx, cy)
        out = ops.where(inside, values, 0.0)
    else:
        x0 = np.floor(host(ix)).astype(np.int64)
        y0 = np.floor(host(iy)).astype(np.int64)
        fx = ops.reshape(ix - constant(xp.asarray(x0.astype(ix.array.dtype))), (N, 1, -1))
        fy = ops.reshape(iy - constant(xp.asarray(y0.astype(iy.array.dtype))), (N, 1, -1))
        out = None
        for dx, dy, w in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)),
                          (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
            values, inside = sample(x0 + dx, y0 + dy)
            term = ops.where(inside, values * w, 0.0)
            out = term if out is None else out + term
    return ops.reshape(out, (N, C, Ho, Wo))
