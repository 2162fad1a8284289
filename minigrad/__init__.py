"""minigrad: a small tape-based autograd framework for understanding batch normalization.

    import minigrad as mg
    x = mg.randn(3, 4, requires_grad=True)
    (x * x).sum().backward()
"""
import math

from minigrad import _malloc

_malloc.tune()

from minigrad._version import __version__  # noqa: E402
from minigrad.tensor import Tensor
from minigrad.dtypes import bool_ as bool, float32, float64, int64  # noqa: A001
from minigrad.dtypes import float16, int8, int16, int32, uint8
from minigrad.dtypes import float16 as half, float32 as float, float64 as double  # noqa: A001
from minigrad.dtypes import int16 as short, int32 as int, int64 as long  # noqa: A001
from minigrad.dtypes import dtype
from minigrad.device import (channels_last, channels_last_3d, contiguous_format, device,
                             memory_format, preserve_format)
from minigrad import autograd, cuda, errors
from minigrad import accelerator, backends, testing
from minigrad.autograd import (enable_grad, inference_mode, is_grad_enabled, no_grad,
                               set_grad_enabled)
from minigrad.autograd.anomaly_mode import (is_anomaly_check_nan_enabled, is_anomaly_enabled,
                                            set_anomaly_enabled)
from minigrad.config import get_num_threads, set_num_threads, show_config
from minigrad.config import (are_deterministic_algorithms_enabled,
                             is_deterministic_algorithms_warn_only_enabled,
                             use_deterministic_algorithms)
from minigrad.creation import (arange, empty, eye, from_numpy, full, full_like, ones, ones_like,
                               rand, randint, randn, tensor, zeros, zeros_like)
from minigrad.rng import (Generator, default_generator, get_rng_state, initial_seed,
                         manual_seed, seed, set_rng_state)
from minigrad import random
from minigrad.ops import (abs, add, amax, amin, argmax, argmin, broadcast_to, cat, clamp, div,
                          eq, erf, exp, expand, flatten, ge, gt, le, log, lt, matmul, max, maximum,
                          mean, min, minimum, mul, ne, neg, pad, permute, pow, relu, reshape,
                          rsqrt, sigmoid, sign, sqrt, squeeze, stack, std, sub, sum, tanh,
                          transpose, unsqueeze, var, where)
from minigrad.ops import frac, reciprocal, sgn
from minigrad.ops import (argsort, bitwise_not, chunk, diagonal, einsum, flip, gather,
                          index_select, masked_fill, masked_select, meshgrid, repeat, roll,
                          scatter, scatter_add, sort, split, tile, topk, tril, triu, unbind)
from minigrad.creation import as_tensor, empty_like, linspace
from minigrad.dtypes import get_default_dtype, set_default_dtype
from minigrad.printing import set_printoptions
from minigrad.sampling import (bernoulli, multinomial, normal, rand_like, randint_like,
                               randn_like, randperm)
from minigrad.size import Size
from minigrad.tensor_types import (BoolTensor, ByteTensor, CharTensor, DoubleTensor, FloatTensor,
                                   HalfTensor, IntTensor, LongTensor, ShortTensor)
from minigrad.ops import (acos, addcdiv, addcmul, arccos, arcsin, arctan, argwhere, asin, atan,
                          bitwise_and, bitwise_or, bitwise_xor, bmm, concat, concatenate, cosh,
                          cross, diag, dist, dot, equal, index_add, isfinite, isinf, isnan,
                          log_softmax, mm, movedim, mv, narrow, nonzero, norm, outer,
                          repeat_interleave, sinh, softmax, square, std_mean, unflatten, unique,
                          var_mean)
from minigrad._functions import (INPLACE_FUNCTIONS, detach_, is_tensor, squeeze_, swapaxes,
                                 swapdims, t, unsqueeze_)

moveaxis = movedim
pi, e, inf, nan = math.pi, math.e, math.inf, math.nan
from minigrad.ops import (all, allclose, any, atan2, ceil, cos, cumprod, cumsum, exp2, expm1,
                          floor, floor_divide, fmod, isclose, log1p, log2, log10, logsumexp,
                          prod, remainder, round, sin, tan, trunc)

from minigrad.ops import erfinv, lerp
from minigrad.ops.matrix import det, inv as inverse, legacy_svd as svd, matrix_exp, slogdet

clip = clamp
from minigrad import _functions  # noqa: E402
for _name in INPLACE_FUNCTIONS:
    globals()[_name] = getattr(_functions, _name)
from minigrad.serialization import load, save
from minigrad import nn, optim  # noqa: E402  (mg.nn, as torch.nn after import torch)
from minigrad import data  # noqa: E402
from minigrad import distributions, func, linalg  # noqa: E402  (torch's names)
from minigrad.func import vmap  # noqa: E402  (torch.vmap)
import minigrad.utils.data  # noqa: E402  (mg.utils.data, as torch.utils.data)
from minigrad import hub  # noqa: E402  (mg.hub, as torch.hub)
from minigrad import profiler  # noqa: E402  (mg.profiler, as torch.profiler)
