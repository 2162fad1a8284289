"""PyTorch's shape rules that every layer needs, from the backends up (so this module
imports nothing): the per-channel axes of an (N, C, ...) array, and the output size of a
sliding window (convolution and pooling)."""


def channel_axes(ndim):
    """The axes a per-channel statistic reduces over in an (N, C, ...) array: all but 1."""
    return (0,) + tuple(range(2, ndim))


def window_out_size(n, k, s, p, d=1, ceil_mode=False):
    """How many windows of size ``k`` (dilation ``d``) fit along an axis of length ``n``
    padded by ``p`` on each side, at stride ``s``: floor((n + 2p - d(k - 1) - 1) / s) + 1,
    or with ``ceil_mode`` (pooling) rounded up, except that the last window must start
    inside the input or its left padding."""
    out = (n + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= n + p:
        out -= 1
    return out
