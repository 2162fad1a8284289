"""minigrad: a small tape-based autograd framework for understanding batch normalization.

    import minigrad as mg
    x = mg.randn(3, 4, requires_grad=True)
    (x * x).sum().backward()
"""
from minigrad import _malloc

_malloc.tune()

from minigrad._version import __version__  # noqa: E402
from minigrad.tensor import Tensor
from minigrad.dtypes import bool_ as bool, float32, float64, int64  # noqa: A001
from minigrad.dtypes import float16, int8, int16, int32, uint8
from minigrad.dtypes import float16 as half, float32 as float, float64 as double  # noqa: A001
from minigrad.dtypes import int16 as short, int32 as int, int64 as long  # noqa: A001
from minigrad.dtypes import dtype
from minigrad.device import device
from minigrad import autograd, cuda, errors
from minigrad.autograd import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from minigrad.config import get_num_threads, set_num_threads, show_config
from minigrad.creation import (arange, empty, eye, from_numpy, full, full_like, ones, ones_like,
                               rand, randint, randn, tensor, zeros, zeros_like)
from minigrad.rng import Generator, manual_seed
from minigrad.ops import (abs, add, amax, amin, argmax, argmin, broadcast_to, cat, clamp, div,
                          eq, erf, exp, expand, flatten, ge, gt, le, log, lt, matmul, max, maximum,
                          mean, min, minimum, mul, ne, neg, pad, permute, pow, relu, reshape,
                          rsqrt, sigmoid, sign, sqrt, squeeze, stack, std, sub, sum, tanh,
                          transpose, unsqueeze, var, where)
from minigrad.ops import (argsort, bitwise_not, chunk, diagonal, einsum, flip, gather,
                          index_select, masked_fill, masked_select, meshgrid, repeat, roll,
                          scatter, scatter_add, sort, split, tile, topk, tril, triu, unbind)
from minigrad.creation import linspace
from minigrad.ops import (all, allclose, any, atan2, ceil, cos, cumprod, cumsum, exp2, expm1,
                          floor, floor_divide, fmod, isclose, log1p, log2, log10, logsumexp,
                          prod, remainder, round, sin, tan, trunc)

clip = clamp
from minigrad.serialization import load, save
from minigrad import nn, optim  # noqa: E402  (mg.nn, as torch.nn after import torch)
from minigrad import data  # noqa: E402
