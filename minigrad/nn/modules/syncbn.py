"""SyncBatchNorm: BatchNorm whose batch statistics are those of the whole batch across all
MPI ranks (``minigrad.distributed``), PyTorch's ``nn.SyncBatchNorm``.

It is ``F.batch_norm`` with one thing swapped: the per-channel statistics go through
``all_reduce_stats`` before normalizing. Everything else, the gradient included, comes
from the BatchNorm composite and the engine: the statistics reach the output through the
differentiable ``all_reduce``, whose backward all-reduces the incoming gradient, so each
rank's input gradient is that of the loss summed over ranks. Gradients of gamma and beta
stay local (DistributedDataParallel averages them).
"""
import numpy as np

from minigrad import distributed, ops
from minigrad.autograd.grad_mode import no_grad
from minigrad.errors import InvalidArgument
from minigrad.nn import functional as F
from minigrad.nn.modules.normalization import BatchNorm1d, BatchNorm2d, BatchNorm3d, _BatchNorm


def all_reduce_stats(count, mean, var):
    """Combine each rank's (count, mean, biased variance) per channel into the whole
    batch's, on every rank, with one Allreduce.

    Each rank writes (count, mean, variance) into its own row of a zero (world, 3, C)
    table; summing the tables over ranks (``all_reduce``) gives every rank all rows, and
    the rows combine exactly (Chan et al.): with weights w_r = n_r / N, the mean is
    sum_r w_r m_r and the variance sum_r w_r (v_r + (m_r - mean)^2), a sum of non-negative
    terms, in float64. Each v_r is centred on its own rank's mean, so float32 inputs with a
    large mean keep an accurate variance (no E[x^2] - E[x]^2 anywhere). The count comes
    from the reduced table, so unequal shards, and empty ones (w_r = 0), are exact.
    """
    world, rank = distributed.get_world_size(), distributed.get_rank()
    C = mean.shape[0]
    zeros = ops.as_tensor(np.zeros((3, C), mean.array.dtype))
    n = ops.as_tensor(np.full(C, count, mean.array.dtype))
    mine = ops.stack([n, mean, var])
    table = distributed.nn.functional.all_reduce(
        ops.stack([mine if r == rank else zeros for r in range(world)]))
    counts = table.array[:, 0, 0].astype(np.float64)
    total = int(round(counts.sum()))
    if total <= 1:
        raise InvalidArgument(f"SyncBatchNorm: Expected more than 1 value per channel when "
                              f"training, got {total} over {world} ranks")
    table = table.double()                                     # combine in float64
    w = ops.as_tensor((counts / total)[:, None])
    means, variances = table[:, 1], table[:, 2]
    global_mean = ops.sum(means * w, 0)
    global_var = ops.sum((variances + (means - global_mean) ** 2) * w, 0)
    dtype = mean.dtype
    return total, global_mean.to(dtype), global_var.to(dtype)


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
                            True, factor, self.eps, reduce=all_reduce_stats)

    @classmethod
    def convert_sync_batchnorm(cls, module, process_group=None):
        """``module`` with every BatchNorm1d/2d/3d replaced by a SyncBatchNorm holding the
        same parameters (the same Parameter objects), buffers, mode and dtype."""
        if isinstance(module, (BatchNorm1d, BatchNorm2d, BatchNorm3d)):
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
