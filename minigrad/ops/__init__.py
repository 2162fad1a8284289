"""Every differentiable primitive and the composites built directly on them.

Primitives (classes deriving ``Primitive``) own a gradient rule; everything else here is
written in terms of them, so its gradient comes from the engine."""
from minigrad import backend
from minigrad.autograd import engine
from minigrad.ops._common import as_tensor, backend_of, cast
from minigrad.ops.compare import argmax, argmin, eq, ge, gt, le, logical_not, lt, ne
from minigrad.ops.compare import (bitwise_and, bitwise_not, bitwise_or, bitwise_xor, isfinite,
                                  isinf, isnan)
from minigrad.ops.arithmetic import (abs, add, addcdiv, addcmul, ceil, clamp, div, floor,
                                     floor_divide, fmod, frac, lerp, maximum, minimum, mul, neg,
                                     reciprocal, relu, remainder, round, sgn, sign, sub, trunc,
                                     where)
from minigrad.ops.transcendental import (acos, arccos, arcsin, arctan, asin, atan, atan2, cos,
                                         cosh, erf, erfinv, exp, exp2, expm1, log, log10, log1p,
                                         log2, pow, rsqrt, rsqrt_eps, sigmoid, sin, sinh, sqrt,
                                         square, tan, tanh)
from minigrad.ops.channel import channel_affine, channel_moments, values_per_channel
from minigrad.ops.conv import conv1d, conv2d
from minigrad.ops.conv import conv_transpose2d
from minigrad.ops.inplace import clone
from minigrad.ops.linalg import (bmm, cross, diag, diagonal, dist, dot, einsum, linear,
                                 linear_add, matmul,
                                 mm, mv, norm, outer, tril, triu, vector_norm)
from minigrad.ops.loss import cross_entropy
from minigrad.ops.pool import adaptive_avg_pool2d, avg_pool2d, max_pool2d
from minigrad.ops.reduce import amax, amin, max, mean, min, std, sum, sum_to, var
from minigrad.ops.reduce import log_softmax, softmax, std_mean, var_mean
from minigrad.ops.shape import (broadcast_to, cat, split_copies, concat, concatenate, contiguous, expand,
                                flatten, getitem, is_contiguous, movedim, narrow, pad, permute,
                                reshape, squeeze, stack, stride, t, mT, transpose, unflatten,
                                unfold, unsqueeze, view)
from minigrad.ops.index import (chunk, flip, gather, index_add, index_select, masked_fill,
                                masked_select, meshgrid, repeat, repeat_interleave, roll,
                                scatter, scatter_add, split, tile, unbind)
from minigrad.ops.search import argsort, argwhere, nonzero, sort, topk, unique
from minigrad.ops.reduce import logsumexp
from minigrad.ops.recurrent import lstm_gates, lstm_layer
from minigrad.ops.scan import cumprod, cumsum, prod
from minigrad.ops.logical import all, allclose, any, equal, isclose
from minigrad.ops.loss import binary_cross_entropy

engine.register_adapters(sum_to, cast)


from minigrad.ops.device import to_device  # noqa: E402
from minigrad.ops.matrix import det, inv, legacy_svd, matrix_exp, slogdet  # noqa: E402
