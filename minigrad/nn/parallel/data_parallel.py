"""``nn.DataParallel``: PyTorch's single-process data parallelism, on one device.

Without an accelerator, PyTorch's ``DataParallel`` keeps no device ids and calls the
module as it is; with one GPU it moves the module there and the inputs to it. minigrad
does the same. Where several GPUs are listed PyTorch splits each batch over them;
minigrad runs the whole batch on ``device_ids[0]`` (it warns once): the outputs and
gradients are the same, except that BatchNorm sees the whole batch instead of each GPU's
share. For training over several processes use ``nn.parallel.DistributedDataParallel``.
"""
import itertools
import warnings

from minigrad import accelerator
from minigrad.device import device as _device
from minigrad.func.pytree import tree_map
from minigrad.nn.modules.module import Module
from minigrad.tensor import Tensor


def _device_index(d):
    if isinstance(d, int):
        return d
    if isinstance(d, str):
        d = _device(d)
    if isinstance(d, _device):
        return 0 if d.index is None else d.index
    raise TypeError(f"DataParallel: a device id must be an int or a device, got "
                    f"{type(d).__name__}")


def _to(obj, device):
    """``obj`` with every tensor in it (in tuples, lists and dicts) moved to ``device``."""
    return tree_map(lambda t: t.to(device) if isinstance(t, Tensor) else t, obj)


def _devices(device_ids, output_device):
    """(the accelerator's device type, device_ids as indices, output_device as an index),
    torch's defaults filled in; None without an accelerator."""
    acc = accelerator.current_accelerator(check_available=True)
    if acc is None:
        return None
    if device_ids is None:
        device_ids = list(range(accelerator.device_count()))
    if not device_ids:
        raise RuntimeError("no available devices were found")
    if output_device is None:
        output_device = device_ids[0]
    return acc.type, [_device_index(d) for d in device_ids], _device_index(output_device)


def _check_on(module, device):
    for t in itertools.chain(module.parameters(), module.buffers()):
        if t.device != device:
            raise RuntimeError(f"module must have its parameters and buffers on device "
                               f"{device} (device_ids[0]) but found one of them on device: "
                               f"{t.device}")


class DataParallel(Module):
    """``DataParallel(module, device_ids=None, output_device=None, dim=0)``: ``.module`` is
    the wrapped module (so ``state_dict`` keys start with ``module.``, as in PyTorch)."""

    def __init__(self, module, device_ids=None, output_device=None, dim=0):
        super().__init__()
        self.module = module
        self.dim = dim
        found = _devices(device_ids, output_device)
        if found is None:
            self.device_ids = []
            self.output_device = None
            return
        kind, self.device_ids, self.output_device = found
        self.src_device_obj = _device(kind, self.device_ids[0])
        if len(self.device_ids) == 1:
            self.module.to(self.src_device_obj)
        else:
            warnings.warn(f"DataParallel: minigrad runs the whole batch on "
                          f"{self.src_device_obj} (device_ids[0]) instead of splitting it "
                          f"over {len(self.device_ids)} GPUs; BatchNorm statistics are those "
                          f"of the whole batch", UserWarning, stacklevel=2)

    def forward(self, *inputs, **kwargs):
        if not self.device_ids:
            return self.module(*inputs, **kwargs)
        _check_on(self.module, self.src_device_obj)
        inputs, kwargs = _to((inputs, kwargs), self.src_device_obj)
        out = self.module(*inputs, **kwargs)
        if len(self.device_ids) > 1 and self.output_device != self.device_ids[0]:
            out = _to(out, _device(self.src_device_obj.type, self.output_device))
        return out


def data_parallel(module, inputs, device_ids=None, output_device=None, dim=0,
                  module_kwargs=None):
    """The functional form: ``module(*inputs, **module_kwargs)`` run as ``DataParallel``
    would run it (without wrapping the module)."""
    if not isinstance(inputs, tuple):
        inputs = (inputs,) if inputs is not None else ()
    module_kwargs = {} if module_kwargs is None else module_kwargs
    found = _devices(device_ids, output_device)
    if found is None:
        return module(*inputs, **module_kwargs)
    kind, device_ids, output_device = found
    src = _device(kind, device_ids[0])
    _check_on(module, src)
    out = module(*_to(inputs, src), **_to(module_kwargs, src))
    return _to(out, _device(kind, output_device))
