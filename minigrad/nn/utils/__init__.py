"""Utilities around trained models: folding BatchNorm into the layer before it, freezing
BatchNorm for fine-tuning, and gradient clipping."""
import copy
import math

import numpy as np

from minigrad import backend
from minigrad.nn.modules.linear import Linear
from minigrad.nn.modules.conv import _ConvNd
from minigrad.nn.modules.normalization import _BatchNorm
from minigrad.nn.parameter import Parameter
from minigrad.tensor import Tensor
from minigrad.nn.weight_norm import remove_weight_norm, weight_norm  # noqa: F401
from minigrad.nn.utils import parametrize, prune, rnn  # noqa: E402,F401


def _fold(weight, bias, bn):
    """W' = W * gamma / sqrt(var + eps) per output channel; b' = (b - mean) * that + beta."""
    xp = backend.of(weight.array).xp
    var = bn.running_var.array.astype(np.float64)
    scale = 1.0 / xp.sqrt(var + bn.eps)
    if bn.weight is not None:
        scale = scale * bn.weight.array
    shift = -bn.running_mean.array * scale
    if bn.bias is not None:
        shift = shift + bn.bias.array
    b = xp.zeros(weight.shape[0]) if bias is None else bias.array.astype(np.float64)
    dtype = weight.array.dtype
    new_w = weight.array * scale.reshape((-1,) + (1,) * (weight.ndim - 1))
    return new_w.astype(dtype), (b * scale + shift).astype(dtype)


def _check_fusable(layer, bn, what):
    if layer.training or bn.training:
        raise RuntimeError(f"{what}: fusion is only defined for inference; call .eval() on "
                           f"both modules first")
    if bn.running_mean is None:
        raise ValueError(f"{what}: the BatchNorm layer has no running statistics "
                         f"(track_running_stats=False) to fold")
    if bn.num_features != layer.weight.shape[0]:
        raise ValueError(f"{what}: BatchNorm has {bn.num_features} features but the layer has "
                         f"{layer.weight.shape[0]} outputs")


def _fused_copy(layer, bn, what):
    _check_fusable(layer, bn, what)
    fused = copy.deepcopy(layer)
    w, b = _fold(layer.weight, layer.bias, bn)
    fused.weight = Parameter(w, requires_grad=layer.weight.requires_grad)
    fused.bias = Parameter(b, requires_grad=layer.weight.requires_grad)
    return fused


def fuse_conv_bn_eval(conv, bn):
    """A copy of ``conv`` that computes ``bn(conv(x))`` of the eval-mode pair in one layer."""
    if not isinstance(conv, _ConvNd):
        raise TypeError(f"fuse_conv_bn_eval: expected a Conv1d or Conv2d, got "
                        f"{type(conv).__name__}")
    return _fused_copy(conv, bn, "fuse_conv_bn_eval")


def fuse_linear_bn_eval(linear, bn):
    """A copy of ``linear`` that computes ``bn(linear(x))`` of the eval-mode pair in one layer."""
    if not isinstance(linear, Linear):
        raise TypeError(f"fuse_linear_bn_eval: expected a Linear, got {type(linear).__name__}")
    return _fused_copy(linear, bn, "fuse_linear_bn_eval")


def freeze_batchnorm(module):
    """Put every BatchNorm layer in ``module`` in eval mode for good: running statistics stop
    moving and the affine parameters stop training, even after ``module.train()``."""
    for m in module.modules():
        if isinstance(m, _BatchNorm):
            m.frozen = True
            m.train(False)
            for p in m.parameters(recurse=False):
                p.requires_grad_(False)
    return module


def unfreeze_batchnorm(module):
    """Undo ``freeze_batchnorm``: BatchNorm layers follow train()/eval() and train again."""
    for m in module.modules():
        if isinstance(m, _BatchNorm):
            m.frozen = False
            m.train(module.training)
            for p in m.parameters(recurse=False):
                p.requires_grad_(True)
    return module


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False):
    """Scale gradients in place so their joint norm is at most ``max_norm``; returns the
    norm before clipping (PyTorch's rule: scale by min(1, max_norm / (norm + 1e-6)))."""
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return Tensor(np.asarray(0.0, dtype=np.float32))
    norm_type = float(norm_type)
    if math.isinf(norm_type):
        total = max(float(abs(g.array).max()) for g in grads)
    else:
        total = sum(float((abs(g.array.astype(np.float64)) ** norm_type).sum())
                    for g in grads) ** (1.0 / norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"clip_grad_norm_: the total norm of order {norm_type} of the "
                           f"gradients is non-finite ({total})")
    coef = min(1.0, max_norm / (total + 1e-6))
    for g in grads:
        g.array[...] = g.array * g.array.dtype.type(coef)
    return Tensor(backend.of(grads[0].array).xp.asarray(total, dtype=grads[0].array.dtype))


def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamp every gradient in place to [-clip_value, clip_value] (NaN stays NaN)."""
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    clip_value = float(clip_value)
    for p in parameters:
        if p.grad is not None:
            g = p.grad.array
            g[...] = g.clip(-clip_value, clip_value)
