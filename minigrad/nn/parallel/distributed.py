"""``torch.nn.parallel.DistributedDataParallel`` on minigrad's MPI engine
(``minigrad.distributed``), and ``broadcast_parameters``. Also reachable as
``minigrad.distributed.DistributedDataParallel``."""
import contextlib

import numpy as np

from minigrad.autograd import engine
from minigrad.autograd.grad_mode import is_grad_enabled
from minigrad.distributed.comm import allreduce_array_, broadcast_array_, get_world_size
from minigrad.nn.modules.module import Module
from minigrad.tensor import Tensor

BUCKET_BYTES = 4 << 20  # gradients are averaged in flat buckets of about this size


def broadcast_parameters(module, src=0):
    """Give every rank ``src``'s parameters and buffers, in place (one Bcast each)."""
    _broadcast_tensors(list(module.parameters()) + [b for b in module.buffers() if b is not None],
                       src)


class DistributedDataParallel(Module):
    """Wraps ``module``; by the time ``loss.backward()`` returns, every parameter's
    ``.grad`` is the average over ranks (PyTorch's DDP semantics). Also
    ``torch.nn.parallel.DistributedDataParallel``'s name in ``minigrad.nn.parallel``.

    How: forward registers a hook on the output's gradient. When a backward pass reaches
    the output, the hook queues a callback with the engine (``engine.queue_callback``),
    which the engine runs once that pass has accumulated every ``.grad``. The callback
    copies the gradients into flat contiguous buckets (one per dtype, ``bucket_cap_mb``
    each, in reverse parameter order as PyTorch builds them), sums each with one in-place
    ``Allreduce`` on the buffer (no pickling), divides by the world size and copies back.
    A parameter with no gradient on a rank counts as zero there, so every rank sends the
    same buckets (PyTorch's ``find_unused_parameters=True``, always on here); one with no
    gradient on any rank keeps ``.grad`` None, as in PyTorch. Gradient accumulation over
    several backward calls works: gradients already averaged are equal on all ranks, so
    averaging them again changes nothing; ``no_sync()`` skips the averaging for the
    forward and backward passes in its block, so local gradients accumulate until the
    next synchronized backward.

    As in PyTorch, parameters and buffers are broadcast from rank 0 at construction
    (``init_sync``), and with ``broadcast_buffers`` the buffers again before each forward
    that follows a training forward.

    PyTorch's other arguments: ``device_ids`` and ``output_device`` must be None (or
    empty) for a CPU module, as in PyTorch; minigrad averages through MPI on host memory,
    so the module must be on the CPU. ``dim`` only matters to PyTorch's single-process
    multi-device mode. ``find_unused_parameters``, ``check_reduction``,
    ``gradient_as_bucket_view`` and ``static_graph`` tune how PyTorch finds and stores
    gradients and change no result; they are accepted and kept. ``process_group`` must
    be None (the one group, all ranks); ``mixed_precision``, ``device_mesh``,
    ``delay_all_reduce_named_params`` and ``param_to_hook_all_reduce`` exist only unset.
    """

    def __init__(self, module, device_ids=None, output_device=None, dim=0,
                 broadcast_buffers=True, init_sync=True, process_group=None,
                 bucket_cap_mb=None, find_unused_parameters=False, check_reduction=False,
                 gradient_as_bucket_view=False, static_graph=False,
                 delay_all_reduce_named_params=None, param_to_hook_all_reduce=None,
                 mixed_precision=None, device_mesh=None, skip_all_reduce_unused_params=False):
        super().__init__()
        devices = {t.device.type for t in list(module.parameters()) + list(module.buffers())}
        if devices - {"cpu"}:
            raise ValueError(f"DistributedDataParallel: minigrad averages gradients through "
                             f"MPI on host memory; the module's parameters are on "
                             f"{sorted(devices)}: keep the module on the CPU")
        if device_ids or output_device is not None:
            raise ValueError(f"DistributedDataParallel device_ids and output_device arguments "
                             f"only work with single-device/multiple-device GPU modules or "
                             f"CPU modules, but got device_ids {device_ids}, output_device "
                             f"{output_device}, and module parameters {{device(type='cpu')}}.")
        if process_group is not None or device_mesh is not None:
            raise ValueError("DistributedDataParallel: minigrad has one process group (all "
                             "ranks of the MPI job); pass process_group=None")
        for name, value in (("mixed_precision", mixed_precision),
                            ("delay_all_reduce_named_params", delay_all_reduce_named_params),
                            ("param_to_hook_all_reduce", param_to_hook_all_reduce)):
            if value is not None:
                raise ValueError(f"DistributedDataParallel: {name} is not supported by "
                                 f"minigrad")
        self.module = module
        self.device_ids = None
        self.output_device = None
        self.dim = dim
        self.broadcast_buffers = broadcast_buffers
        self.find_unused_parameters = find_unused_parameters
        self.gradient_as_bucket_view = gradient_as_bucket_view
        self.static_graph = static_graph
        self.bucket_bytes = (BUCKET_BYTES if bucket_cap_mb is None
                             else max(1, int(bucket_cap_mb * 1024 * 1024)))
        self.require_backward_grad_sync = True
        self.require_forward_param_sync = True
        if init_sync:
            broadcast_parameters(module)
        self._buckets = None

    @contextlib.contextmanager
    def no_sync(self):
        """Within the block, forward and backward passes accumulate gradients locally; the
        first synchronized backward after it averages the accumulated gradients."""
        previous = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = previous

    def forward(self, *args, **kwargs):
        world = get_world_size()
        if world > 1 and self.broadcast_buffers and self.require_forward_param_sync:
            _broadcast_tensors([b for b in self.module.buffers() if b is not None])
        out = self.module(*args, **kwargs)
        sync = is_grad_enabled() and self.require_backward_grad_sync
        self.require_forward_param_sync = sync
        if world > 1 and sync:
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
                if size >= self.bucket_bytes:
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
            bucket.values /= world
            bucket.scatter()


class _Bucket:
    """Flat storage for the gradients of ``params``, followed by one entry per parameter
    that counts the ranks where it has a gradient (summed along with the values)."""

    def __init__(self, params, dtype):
        self.params = params
        n = sum(p.array.size for p in params)
        self.flat = np.empty(n + len(params), dtype)
        self.values, self.used = self.flat[:n], self.flat[n:]
        self.views, start = [], 0
        for p in params:
            self.views.append(self.values[start:start + p.array.size].reshape(p.array.shape))
            start += p.array.size

    def gather(self):
        for i, (p, v) in enumerate(zip(self.params, self.views)):
            if p.grad is None:
                v[...] = 0
                self.used[i] = 0
            else:
                v[...] = p.grad.array
                self.used[i] = 1
        return self.flat

    def scatter(self):
        for p, v, used in zip(self.params, self.views, self.used):
            if p.grad is not None and p.grad.array.flags.writeable:
                p.grad.array[...] = v
            elif used > 0:   # (no rank has a gradient for it: it keeps None)
                p.grad = Tensor._make(v.copy())


def _broadcast_tensors(tensors, src=0):
    """Give every rank ``src``'s values of ``tensors``, in place (one Bcast each)."""
    for t in tensors:
        a = t.array
        if a.flags.c_contiguous:
            broadcast_array_(a, src)
        else:
            a[...] = broadcast_array_(np.ascontiguousarray(a), src)


def _tensors(out):
    if isinstance(out, Tensor):
        yield out
    elif isinstance(out, (tuple, list)):
        for o in out:
            yield from _tensors(o)
    elif isinstance(out, dict):
        for o in out.values():
            yield from _tensors(o)
