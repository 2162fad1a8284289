"""Data parallelism: DistributedDataParallel, broadcast_parameters, DistributedSampler."""
import math

import numpy as np

from minigrad.autograd import engine
from minigrad.distributed.comm import (allreduce_array_, broadcast_array_, get_rank,
                                       get_world_size)
from minigrad.nn.modules.module import Module
from minigrad.tensor import Tensor

BUCKET_BYTES = 4 << 20  # gradients are averaged in flat buckets of about this size


def broadcast_parameters(module, src=0):
    """Give every rank ``src``'s parameters and buffers, in place (one Bcast each)."""
    for t in list(module.parameters()) + [b for b in module.buffers() if b is not None]:
        a = t.array
        if a.flags.c_contiguous:
            broadcast_array_(a, src)
        else:
            buf = np.ascontiguousarray(a)
            a[...] = broadcast_array_(buf, src)


class DistributedDataParallel(Module):
    """Wraps ``module``; by the time ``loss.backward()`` returns, every parameter's
    ``.grad`` is the average over ranks (PyTorch's DDP semantics).

    How: forward registers a hook on the output's gradient. When a backward pass reaches
    the output, the hook queues a callback with the engine (``engine.queue_callback``),
    which the engine runs once that pass has accumulated every ``.grad``. The callback
    copies the gradients into flat contiguous buckets (one per dtype, ~4 MB each, in
    reverse parameter order as PyTorch builds them), sums each with one in-place
    ``Allreduce`` on the buffer (no pickling), divides by the world size and copies back.
    A parameter with no gradient on a rank counts as zero there, so every rank sends the
    same buckets. Gradient accumulation over several backward calls works: gradients
    already averaged are equal on all ranks, so averaging them again changes nothing.

    Parameters are broadcast from rank 0 at construction, as PyTorch does.
    """

    def __init__(self, module, broadcast_buffers=True):
        super().__init__()
        self.module = module
        self.broadcast_buffers = broadcast_buffers
        broadcast_parameters(module)
        self._buckets = None

    def forward(self, *args, **kwargs):
        out = self.module(*args, **kwargs)
        if get_world_size() > 1:
            queued = [False]  # once per backward pass, however many outputs it reaches

            def average():
                queued[0] = False
                self._average_gradients()

            def on_output_grad(grad):
                if engine.accumulating() and not queued[0]:
                    queued[0] = True
                    engine.queue_callback(average)

            for t in _tensors(out):
                if t.requires_grad:
                    t.register_hook(on_output_grad)
        return out

    def _make_buckets(self):
        params = [p for p in self.module.parameters() if p.requires_grad][::-1]
        by_dtype = {}
        for p in params:
            by_dtype.setdefault(p.array.dtype, []).append(p)
        buckets = []
        for dtype, group in by_dtype.items():
            current, size = [], 0
            for p in group:
                current.append(p)
                size += p.array.nbytes
                if size >= BUCKET_BYTES:
                    buckets.append(_Bucket(current, dtype))
                    current, size = [], 0
            if current:
                buckets.append(_Bucket(current, dtype))
        return buckets

    def _average_gradients(self):
        if self._buckets is None:
            self._buckets = self._make_buckets()
        world = get_world_size()
        for bucket in self._buckets:
            flat = bucket.gather()
            allreduce_array_(flat)
            flat /= world
            bucket.scatter()


class _Bucket:
    def __init__(self, params, dtype):
        self.params = params
        self.flat = np.empty(sum(p.array.size for p in params), dtype)
        self.views, start = [], 0
        for p in params:
            self.views.append(self.flat[start:start + p.array.size].reshape(p.array.shape))
            start += p.array.size

    def gather(self):
        for p, v in zip(self.params, self.views):
            if p.grad is None:
                v[...] = 0
            else:
                v[...] = p.grad.array
        return self.flat

    def scatter(self):
        for p, v in zip(self.params, self.views):
            if p.grad is not None and p.grad.array.flags.writeable:
                p.grad.array[...] = v
            else:
                p.grad = Tensor._make(v.copy())


def _tensors(out):
    if isinstance(out, Tensor):
        yield out
    elif isinstance(out, (tuple, list)):
        for o in out:
            yield from _tensors(o)
    elif isinstance(out, dict):
        for o in out.values():
            yield from _tensors(o)


class DistributedSampler:
    """The indices of this rank's share of ``dataset`` (PyTorch's DistributedSampler).

    Every epoch, all ranks draw the same permutation (seeded by ``seed + epoch``: call
    ``set_epoch(e)`` before each epoch) and rank r takes every num_replicas-th index from
    r. Without ``drop_last`` the list is padded with its own first indices to a multiple of
    num_replicas, so every rank gets the same number of samples; with it, the tail that
    does not divide evenly is dropped.
    """

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0,
                 drop_last=False):
        num_replicas = get_world_size() if num_replicas is None else num_replicas
        rank = get_rank() if rank is None else rank
        if not 0 <= rank < num_replicas:
            raise ValueError(f"DistributedSampler: invalid rank {rank}, rank should be in "
                             f"the interval [0, {num_replicas - 1}]")
        self.dataset, self.num_replicas, self.rank = dataset, num_replicas, rank
        self.shuffle, self.seed, self.drop_last, self.epoch = shuffle, seed, drop_last, 0
        n = len(dataset)
        if drop_last and n % num_replicas:
            self.num_samples = math.ceil((n - num_replicas) / num_replicas)
        else:
            self.num_samples = math.ceil(n / num_replicas)
        self.total_size = self.num_samples * num_replicas

    def set_epoch(self, epoch):
        self.epoch = epoch

    def __len__(self):
        return self.num_samples

    def __iter__(self):
        n = len(self.dataset)
        if self.shuffle:
            indices = np.random.default_rng(self.seed + self.epoch).permutation(n)
        else:
            indices = np.arange(n)
        if self.drop_last:
            indices = indices[:self.total_size]
        elif self.total_size > n:
            indices = np.concatenate([indices] * math.ceil(self.total_size / n))[:self.total_size]
        return iter(indices[self.rank:self.total_size:self.num_replicas].tolist())
