"""Copies between devices: the only op that moves data between host and GPU."""
from minigrad import backend
from minigrad.autograd.graph import Primitive
from minigrad.device import device_of


class ToDevice(Primitive):
    """``a`` copied to ``device``; the gradient is copied back to where ``a`` lives."""
    op_name = "to"

    @staticmethod
    def forward(ctx, a, device):
        ctx.source = str(device_of(a))
        return backend.move(a, device)

    @staticmethod
    def backward(ctx, g):
        return ToDevice.apply(g, device=ctx.source)


def to_device(t, device):
    """``t`` on ``device`` (itself when it is there already), recorded so gradients flow
    back across the copy."""
    target = backend.for_device(device)
    if target is backend.of(t.array):
        return t
    return ToDevice.apply(t, device=str(device))
