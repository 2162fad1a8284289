"""Batch Layer Normalization (Ziaee & Cano, 2022, arXiv 2209.08898): a mini-batch-size
weighted mix of batch normalization and layer normalization.

Sources: the paper's abstract and the authors' published Keras layer
(github.com/A2Amir/Batch-Layer-Normalization, ``helpers/bln_layer.py`` and
``helpers/bln_callback.py``). The formula below is the one that code computes, restated in
PyTorch's (N, C, ...) layout; where our choices differ from that code, the docstring of
``BatchLayerNorm1d`` says so.
"""
from minigrad import ops
from minigrad.creation import tensor
from minigrad.errors import InvalidArgument
from minigrad.nn import functional as F
from minigrad.nn.modules.normalization import _NormBase
from minigrad.ops._common import constant, xp_of


def batch_layer_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
                     momentum=0.1, eps=1e-5, batch_size=None):
    """y = gamma * (w * x_hat_L + (1 - w) * x_hat_B) + beta, with w = 1 / m (see
    ``BatchLayerNorm1d`` for every term). ``batch_size`` is m; None: the input's N. In
    training the batch statistics are the input's and the running ones move toward them
    (``momentum`` is the weight of the new value); otherwise the running ones are used."""
    if input.ndim < 2:
        raise InvalidArgument(f"batch_layer_norm: expected an input with at least 2 dimensions "
                              f"(N, C, ...), got shape {input.shape}")
    N = input.shape[0]
    m = N if batch_size is None else int(batch_size)
    if m < 1:
        raise InvalidArgument(f"batch_layer_norm: the mini-batch size must be positive, got {m} "
                              f"(input shape {input.shape})")
    w = 1.0 / m
    if training:
        count, mean_B, var_B = F.norm_stats(input)                 # mu_B, sigma_B^2 per channel
        if count > 1:  # one value per channel has no unbiased variance: nothing to track
            F.update_running_stats(running_mean, running_var, mean_B, var_B, count, momentum)
    else:
        if running_mean is None or running_var is None:
            raise InvalidArgument("batch_layer_norm: running_mean and running_var are needed "
                                  "when not training")
        mean_B, var_B = running_mean, running_var
    x_hat_B = ops.channel_affine(input, ops.rsqrt(var_B + eps), center=mean_B)
    # per-sample statistics over (C, ...): each sample seen as one channel of a (1, N, -1) view
    per_sample = ops.reshape(input, (1, N, -1))
    _, mean_L, var_L = F.norm_stats(per_sample)                   # mu_L, sigma_L^2 per sample
    x_hat_L = ops.reshape(ops.channel_affine(per_sample, ops.rsqrt(var_L + eps), center=mean_L),
                          input.shape)
    x_hat = x_hat_L * w + x_hat_B * (1.0 - w)
    if weight is None and bias is None:
        return x_hat
    if weight is None:
        weight = constant(xp_of(input.array).ones(input.shape[1], input.array.dtype))
    return ops.channel_affine(x_hat, weight, bias)


class _BatchLayerNorm(_NormBase):
    r"""Batch Layer Normalization (Ziaee & Cano, 2022) over (N, C, \*) input.

    Training, for a mini-batch of m = N samples:

        mu_B[c], sigma_B^2[c]  mean and biased variance of channel c over (N, \*)
        mu_L[n], sigma_L^2[n]  mean and biased variance of sample n over (C, \*)
        x_hat_B = (x - mu_B) / sqrt(sigma_B^2 + eps)                    batch normalization
        x_hat_L = (x - mu_L) / sqrt(sigma_L^2 + eps)                    layer normalization
        x_hat   = (1/m) * x_hat_L + (1 - 1/m) * x_hat_B
        y       = gamma[c] * x_hat + beta[c]

    so one sample is pure layer normalization and large batches approach batch
    normalization. Eval: the same formula with mu_B, sigma_B^2 replaced by the running
    statistics, mu_L, sigma_L^2 still the sample's own (they need no population estimate),
    and m the size of the last training mini-batch (the buffer ``batch_size``; the input's
    N before any training). ``track_running_stats=False``: batch statistics always.

    The paper's text was not available to us; this is the computation of the authors'
    layer (``bn_training`` / ``bln_inference`` in their ``bln_layer.py``, in its default
    configuration: population batch statistics and the sample's own feature statistics at
    inference). Choices, where that code or the paper leave them open or where we differ:

    * Axes. Their code is channels-last and takes batch statistics over the batch axis
      only (one per position and channel) and feature statistics over the channel axis
      only (one per sample and position). We take BatchNorm's per-channel statistics over
      (N, \*) and LayerNorm's per-sample statistics over (C, \*), so buffers are (C,) and do
      not depend on the spatial size. For (N, C) input both readings agree.
    * Weights. Exactly 1/m and 1 - 1/m; their code shifts them by 1e-4 each
      (1/m - 1e-4 and 1 - 1/m - 1e-4) and divides the mix by sqrt(C), which we do not.
      Their m is a fixed constructor argument; ours is the mini-batch's N.
    * Running statistics. PyTorch's BatchNorm convention: running = (1 - momentum) *
      running + momentum * batch, with the *unbiased* batch variance (theirs too), and
      ``momentum=None`` a cumulative average. Their code keeps a cumulative average reset
      at every epoch: ``momentum=None`` with ``reset_running_stats()`` at each epoch's start
      reproduces it. With one value per channel (N = 1 on (N, C) input) the running
      statistics are left as they are (no unbiased variance exists), and the batch term's
      weight is 0 anyway.
    * eps inside both square roots, default 1e-5 (theirs: 1e-3).
    * Affine parameters gamma, beta of shape (C,) (theirs: one per channel too), initialized
      to 1 and 0.

    A composite: per-channel moments and the per-channel affine map (the primitives
    BatchNorm uses), rsqrt, reshape, + and *; the gradient comes from the engine.
    """

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, dtype=None):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, dtype)
        self.register_buffer("batch_size", tensor(0))

    def reset_running_stats(self):
        super().reset_running_stats()
        if "batch_size" in self._buffers:
            self.batch_size.array[...] = 0

    def forward(self, x):
        self._check_input(x)
        use_batch_stats = self.training or self.running_mean is None
        m = x.shape[0] if use_batch_stats or int(self.batch_size.item()) == 0 \
            else int(self.batch_size.item())
        factor = 0.0
        if self.training:
            self.batch_size.array[...] = x.shape[0]
            if ops.values_per_channel(x.shape) > 1:
                factor = self._averaging_factor()
        track = not self.training or self.track_running_stats
        return batch_layer_norm(x, self.running_mean if track else None,
                                self.running_var if track else None, self.weight, self.bias,
                                use_batch_stats, factor, self.eps, m)


class BatchLayerNorm1d(_BatchLayerNorm):
    __doc__ = _BatchLayerNorm.__doc__.replace(r"(N, C, \*) input", "(N, C) or (N, C, L) input")
    _input_dims = (2, 3)


class BatchLayerNorm2d(_BatchLayerNorm):
    __doc__ = _BatchLayerNorm.__doc__.replace(r"(N, C, \*) input", "(N, C, H, W) input")
    _input_dims = (4,)
