"""Pooling forms beyond the primitives in ``ops.pool``: 1-D adaptive averaging and max
unpooling, both composites (their gradients come from the engine)."""
from minigrad import ops
from minigrad.errors import InvalidArgument, InvalidDtype
from minigrad.ops._common import constant, xp_of
from minigrad.nn.functional import _n_tuple


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
