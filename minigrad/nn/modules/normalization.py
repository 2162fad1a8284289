"""Normalization layers: BatchNorm1d/2d/3d (and their lazy forms), BatchRenorm,
SyncBatchNorm, InstanceNorm, LayerNorm, GroupNorm and Batch Layer Normalization, with
PyTorch's constructor arguments, buffers and semantics. Each is a thin module over its
function in ``nn.functional.normalization``, a composite of the channel-wise primitives."""
from minigrad import backend, distributed, ops
from minigrad.autograd.grad_mode import no_grad
from minigrad.creation import empty, ones, tensor, zeros
from minigrad.nn import functional as F
from minigrad.nn.functional.normalization import _check_values_per_channel
from minigrad.nn import init
from minigrad.nn.modules.lazy import LazyModuleMixin
from minigrad.nn.modules.module import Module
from minigrad.nn.parameter import Parameter, UninitializedBuffer, UninitializedParameter


class _NormBase(Module):
    """Parameters and running-statistics buffers shared by BatchNorm and InstanceNorm."""

    def __init__(self, num_features, eps, momentum, affine, track_running_stats, dtype,
                 bias=True):
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = Parameter(empty(num_features, dtype=dtype))
            if bias:
                self.bias = Parameter(empty(num_features, dtype=dtype))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", zeros(num_features, dtype=dtype))
            self.register_buffer("running_var", ones(num_features, dtype=dtype))
            self.register_buffer("num_batches_tracked", tensor(0))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self):
        if self.track_running_stats:
            init.zeros_(self.running_mean)
            init.ones_(self.running_var)
            init.zeros_(self.num_batches_tracked)

    def reset_parameters(self):
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def _check_input(self, x):
        shape = x.array.shape
        if len(shape) not in self._input_dims:
            raise ValueError(f"{type(self).__name__}: expected "
                             f"{' or '.join(f'{d}D' for d in self._input_dims)} input "
                             f"(got {x.ndim}D input)")
        # the channels the statistics or the affine map have (a lazy BatchNorm loaded from a
        # state dict keeps num_features=0, as in PyTorch; one with neither takes any count)
        own = self.running_mean
        if own is None:
            own = self.weight
        C = self.num_features if own is None else own.array.shape[0]
        if (own is not None or C) and shape[1] != C:
            raise ValueError(f"{type(self).__name__}: expected {C} channels "
                             f"(num_features) in dimension 1, got input of shape {x.shape}")

    def _averaging_factor(self):
        """PyTorch's update weight: momentum, or 1/num_batches_tracked when momentum is None
        (a cumulative average). Counts this forward when training with running stats."""
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.array[...] += 1   # (on the array: nothing to record)
            if self.momentum is None:
                factor = 1.0 / int(self.num_batches_tracked.item())
        return factor

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.bias is not None}, "
                f"track_running_stats={self.track_running_stats}")


class _BatchNorm(_NormBase):
    """``virtual_batch_size`` (a minigrad extension, keyword only; Keras's name): Ghost Batch
    Normalization (Hoffer et al. 2017). Where batch statistics are used, they are those of
    virtual sub-batches of that many samples, strided as Keras's (sample i in sub-batch
    i mod N/virtual_batch_size), with gamma, beta and the running statistics shared; it must
    divide the batch size. The running statistics move once per forward toward the
    sub-batches' average mean and unbiased variance. See ``F.batch_norm``."""

    virtual_batch_size = None   # (a class default, so modules pickled before it load)

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, dtype=None, *, bias=True, virtual_batch_size=None):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, dtype, bias)
        self.frozen = False  # set by nn.utils.freeze_batchnorm
        if virtual_batch_size is not None:
            if (isinstance(virtual_batch_size, bool) or not isinstance(virtual_batch_size, int)
                    or virtual_batch_size < 1):
                raise ValueError(f"{type(self).__name__}: virtual_batch_size must be a positive "
                                 f"integer that divides the batch size, got "
                                 f"{virtual_batch_size!r}")
            self.virtual_batch_size = virtual_batch_size

    def train(self, mode=True):
        return super().train(mode and not self.frozen)

    def forward(self, x, mask=None):
        """``mask`` (a minigrad extension): True at the real positions of a padded batch,
        shape (N,) for (N, C) input or (N, L) for (N, C, L); the batch statistics and the
        running update use only those (see ``F.batch_norm``). Every position is normalized
        and returned: mask the loss."""
        self._check_input(x)
        factor = self._averaging_factor()
        use_batch_stats = self.training or self.running_mean is None
        # running stats are updated only when training with them
        track = not self.training or self.track_running_stats
        running_mean = self.running_mean if track else None
        running_var = self.running_var if track else None
        return F.batch_norm(x, running_mean, running_var, self.weight, self.bias,
                            use_batch_stats, factor, self.eps, mask=mask,
                            virtual_batch_size=self.virtual_batch_size)

    def extra_repr(self):
        ghost = self.virtual_batch_size
        return super().extra_repr() + ("" if ghost is None else f", virtual_batch_size={ghost}")


class BatchNorm1d(_BatchNorm):
    """Over (N, C) or (N, C, L) input."""
    _input_dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Over (N, C, H, W) input."""
    _input_dims = (4,)


class BatchNorm3d(_BatchNorm):
    """Over (N, C, D, H, W) input."""
    _input_dims = (5,)


class _LazyBatchNorm(LazyModuleMixin):
    """A BatchNorm whose ``num_features`` is its first input's dim 1; until then weight,
    bias, running_mean and running_var are uninitialized (num_batches_tracked is 0)."""

    def __init__(self, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
                 device=None, dtype=None, *, bias=True, virtual_batch_size=None):
        super().__init__(0, eps, momentum, False, False, dtype,
                         virtual_batch_size=virtual_batch_size)
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = UninitializedParameter(device=device, dtype=dtype)
            if bias:
                self.bias = UninitializedParameter(device=device, dtype=dtype)
        if track_running_stats:
            self.running_mean = UninitializedBuffer(device=device, dtype=dtype)
            self.running_var = UninitializedBuffer(device=device, dtype=dtype)
            self.num_batches_tracked = tensor(0, device=device)

    def reset_parameters(self):
        if not self.has_uninitialized_params() and self.num_features != 0:
            super().reset_parameters()

    def initialize_parameters(self, input):
        if not self.has_uninitialized_params():
            return
        self.num_features = input.shape[1]
        shape = (self.num_features,)
        for t in (self.weight, self.bias, self.running_mean, self.running_var):
            if t is not None:
                t.materialize(shape)
        self.reset_parameters()


class LazyBatchNorm1d(_LazyBatchNorm, BatchNorm1d):
    cls_to_become = BatchNorm1d


class LazyBatchNorm2d(_LazyBatchNorm, BatchNorm2d):
    cls_to_become = BatchNorm2d


class LazyBatchNorm3d(_LazyBatchNorm, BatchNorm3d):
    cls_to_become = BatchNorm3d


class _BatchRenorm(_BatchNorm):
    """Batch Renormalization (Ioffe, 2017): x_hat = (x - mu_B) / sigma_B * r + d with
    r = clip(sigma_B / sigma, 1/rmax, rmax) and d = clip((mu_B - mu) / sigma, -dmax, dmax),
    r and d treated as constants. Running statistics follow BatchNorm's rule, so rmax=1,
    dmax=0 is exactly BatchNorm."""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, rmax=3.0, dmax=5.0,
                 dtype=None):
        super().__init__(num_features, eps, momentum, affine, True, dtype)
        if rmax < 1 or dmax < 0:
            raise ValueError(f"{type(self).__name__}: need rmax >= 1 and dmax >= 0, got "
                             f"rmax={rmax}, dmax={dmax}")
        self.rmax, self.dmax = rmax, dmax

    def forward(self, x):
        self._check_input(x)
        if not self.training:
            return F.batch_norm(x, self.running_mean, self.running_var, self.weight,
                                self.bias, False, 0.0, self.eps)
        factor = self._averaging_factor()
        _check_values_per_channel(x, type(self).__name__)
        n, mean, var = F.norm_stats(x)
        invstd = ops.rsqrt_eps(var, self.eps)                       # 1 / sigma_B
        with no_grad():
            xp = backend.of(x.array).xp
            sigma = xp.sqrt(self.running_var.array + self.eps)
            r = xp.clip(1 / (invstd.array * sigma), 1 / self.rmax, self.rmax)
            d = xp.clip((mean.array - self.running_mean.array) / sigma, -self.dmax, self.dmax)
            r, d = (ops.as_tensor(v.astype(x.array.dtype)) for v in (r, d))
        F.update_running_stats(self.running_mean, self.running_var, mean, var, n, factor)
        # gamma ((x - mu_B) * r / sigma_B + d) + beta as one per-channel affine map
        scale, shift = invstd * r, d
        if self.weight is not None:
            scale, shift = scale * self.weight, shift * self.weight + self.bias
        return ops.channel_affine(x, scale, shift, center=mean)

    def extra_repr(self):
        return super().extra_repr() + f", rmax={self.rmax}, dmax={self.dmax}"


class BatchRenorm1d(_BatchRenorm):
    _input_dims = (2, 3)


class BatchRenorm2d(_BatchRenorm):
    _input_dims = (4,)


class _InstanceNorm(_NormBase):
    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=False,
                 track_running_stats=False, dtype=None, *, bias=True):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, dtype, bias)

    def forward(self, x):
        if x.ndim == self._input_dims[0] - 1:  # unbatched, as PyTorch accepts
            return ops.squeeze(self.forward(ops.unsqueeze(x, 0)), 0)
        self._check_input(x)
        # PyTorch's InstanceNorm leaves num_batches_tracked alone; momentum=None means 0.1
        factor = 0.1 if self.momentum is None else self.momentum
        use_input_stats = self.training or not self.track_running_stats
        return F.instance_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                               use_input_stats, factor, self.eps)


class InstanceNorm1d(_InstanceNorm):
    _input_dims = (3,)


class InstanceNorm2d(_InstanceNorm):
    _input_dims = (4,)


class LayerNorm(Module):
    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True,
                 dtype=None):
        super().__init__()
        self.normalized_shape = (normalized_shape,) if isinstance(normalized_shape, int) \
            else tuple(normalized_shape)
        self.eps, self.elementwise_affine = eps, elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(ones(*self.normalized_shape, dtype=dtype))
            if bias:
                self.bias = Parameter(zeros(*self.normalized_shape, dtype=dtype))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, x):
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")


class GroupNorm(Module):
    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, dtype=None):
        super().__init__()
        if num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_channels ({num_channels}) must be divisible by "
                             f"num_groups ({num_groups})")
        self.num_groups, self.num_channels, self.eps, self.affine = \
            num_groups, num_channels, eps, affine
        if affine:
            self.weight = Parameter(ones(num_channels, dtype=dtype))
            self.bias = Parameter(zeros(num_channels, dtype=dtype))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, x):
        if x.ndim < 2 or x.shape[1] != self.num_channels:
            raise ValueError(f"GroupNorm: expected {self.num_channels} channels in dimension 1, "
                             f"got input of shape {x.shape}")
        return F.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}"


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
        return F.batch_layer_norm(x, self.running_mean if track else None,
                                self.running_var if track else None, self.weight, self.bias,
                                use_batch_stats, factor, self.eps, m)


class BatchLayerNorm1d(_BatchLayerNorm):
    __doc__ = _BatchLayerNorm.__doc__.replace(r"(N, C, \*) input", "(N, C) or (N, C, L) input")
    _input_dims = (2, 3)


class BatchLayerNorm2d(_BatchLayerNorm):
    __doc__ = _BatchLayerNorm.__doc__.replace(r"(N, C, \*) input", "(N, C, H, W) input")
    _input_dims = (4,)


class SyncBatchNorm(_BatchNorm):
    """BatchNorm over (N, C, *) inputs with statistics over every rank's batch in training.

    In eval it uses the running statistics with no communication; with world size 1 (no
    launcher, or before ``distributed.init()``) it is exactly BatchNorm. Running statistics
    move toward the global mean and unbiased variance, identically on every rank.
    """

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, process_group=None, dtype=None):
        if process_group is not None:
            raise NotImplementedError("SyncBatchNorm: process groups other than the whole "
                                      "world are not supported")
        super().__init__(num_features, eps, momentum, affine, track_running_stats, dtype)

    def _check_input(self, x):
        if x.ndim < 2:
            raise ValueError(f"expected at least 2D input (got {x.ndim}D input)")
        if x.shape[1] != self.num_features:
            raise ValueError(f"SyncBatchNorm: expected {self.num_features} channels "
                             f"(num_features) in dimension 1, got input of shape {x.shape}")

    def forward(self, x):
        if not self.training or distributed.get_world_size() == 1:
            return super().forward(x)
        self._check_input(x)
        factor = self._averaging_factor()
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                            True, factor, self.eps, reduce=F.all_reduce_stats)

    @classmethod
    def convert_sync_batchnorm(cls, module, process_group=None):
        """``module`` with every BatchNorm1d/2d/3d replaced by a SyncBatchNorm holding the
        same parameters (the same Parameter objects), buffers, mode and dtype."""
        if isinstance(module, (BatchNorm1d, BatchNorm2d, BatchNorm3d)):
            if module.virtual_batch_size is not None:
                raise ValueError(f"convert_sync_batchnorm: {type(module).__name__} has "
                                 f"virtual_batch_size={module.virtual_batch_size}, which "
                                 f"SyncBatchNorm does not support")
            converted = cls(module.num_features, module.eps, module.momentum, module.affine,
                            module.track_running_stats, process_group)
            with no_grad():
                if module.affine:
                    converted.weight, converted.bias = module.weight, module.bias
                for name in ("running_mean", "running_var", "num_batches_tracked"):
                    setattr(converted, name, getattr(module, name))
            converted.frozen = module.frozen
            converted.train(module.training)
            return converted
        for name, child in list(module._modules.items()):
            if child is not None:
                module._modules[name] = cls.convert_sync_batchnorm(child, process_group)
        return module
