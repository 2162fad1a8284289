"""``minigrad.nn.functional``: layers as functions, PyTorch's names and semantics.

One module per family, as ``nn/modules``: ``linear``, ``activation``, ``dropout``, ``loss``,
``normalization``, ``rnn_norm``, ``attention``, ``conv``, ``pooling``, ``sparse``, ``distance``
and ``vision``. Everything is composed from primitives in ``minigrad.ops`` (convolution and
pooling are primitives themselves), so gradients come from the engine. This module only
gathers their names, and tells the profiler to record each call of them as a range.
"""
# flake8: noqa: F401  (re-exports)
from minigrad.nn.functional.linear import linear
from minigrad.nn.functional.activation import (celu, celu_, elu, elu_, gelu, hardsigmoid,
                                               hardswish, hardtanh, hardtanh_, leaky_relu,
                                               leaky_relu_, log_softmax, logsigmoid, mish,
                                               prelu, relu, relu6, relu_, selu, selu_, sigmoid,
                                               silu, softmax, softplus, softsign, tanh,
                                               threshold, threshold_)
from minigrad.nn.functional.dropout import (dropout, dropout2d)
from minigrad.nn.functional.loss import (binary_cross_entropy,
                                         binary_cross_entropy_with_logits,
                                         cosine_embedding_loss, cross_entropy, kl_div, l1_loss,
                                         mse_loss, nll_loss, smooth_l1_loss)
from minigrad.nn.functional.normalization import (all_reduce_stats, batch_layer_norm,
                                                  batch_norm, group_norm, instance_norm,
                                                  layer_norm, norm_stats, update_running_stats)
from minigrad.nn.functional.rnn_norm import (bn_lstm_cell, layer_norm_gru_cell,
                                              layer_norm_lstm_cell)
from minigrad.nn.functional.conv import conv1d, conv2d, conv3d, conv_transpose2d
from minigrad.nn.functional.pooling import (adaptive_avg_pool1d, adaptive_avg_pool2d,
                                            adaptive_max_pool2d, avg_pool2d, max_pool2d,
                                            avg_pool1d, avg_pool3d, max_pool1d, max_pool3d,
                                            max_unpool2d)
from minigrad.nn.functional.sparse import (embedding, embedding_bag, one_hot)
from minigrad.nn.functional.distance import (cosine_similarity, pairwise_distance)
from minigrad.nn.functional.attention import (multi_head_attention_forward,
                                               scaled_dot_product_attention)
from minigrad.nn.functional.vision import (affine_grid, grid_sample, interpolate, pad,
                                           pixel_shuffle, pixel_unshuffle)


import sys as _sys
import types as _types

from minigrad.autograd.profiler import register_ranges as _register_ranges


@_register_ranges
def _profiled_functions():
    """While a profile records, each call of a function of this namespace (``F.batch_norm``)
    is a range named ``F.batch_norm`` around the ops it runs (PyTorch's ``aten::batch_norm``
    row). Only calls through the namespace: a composite's own inner calls are plain."""
    module = _sys.modules[__name__]
    return [(module, name, "F." + name) for name, fn in vars(module).items()
            if not name.startswith("_") and isinstance(fn, _types.FunctionType)]
