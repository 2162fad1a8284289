"""Random sampling beyond the factories in ``creation``: ``normal`` (its four overloads),
``bernoulli``, ``multinomial``, ``randperm``, the ``*_like`` samplers, and the draws behind
the Tensor's in-place fills (``normal_``, ``uniform_``, ``random_``, ``bernoulli_``,
``exponential_``).

Numbers come from the global generator of the tensor's device, or from ``generator=`` (a
``mg.Generator``): a seed gives the same numbers on every run, but not the numbers
PyTorch's generator gives for that seed. Only the generators' ``standard_normal``,
``random`` and ``integers`` are used, so every backend's generator serves.

As in PyTorch, a sample does not depend differentiably on its parameters: ``normal`` and
``bernoulli`` of tensors that require grad give a result in the graph whose gradient to
them is zero (``Sampled``), and an in-place fill gives the old values a zero gradient.
"""
import numbers

import numpy as np

from minigrad import backend, dtypes, rng
from minigrad.autograd.graph import Primitive
from minigrad.creation import _finish, _float_dtype, _size
from minigrad.ops import inplace as _inplace
from minigrad.ops._common import constant, xp_of
from minigrad.tensor import Tensor


class Sampled(Primitive):
    """A sample drawn with parameters ``inputs`` (its array given as ``sample``): PyTorch's
    derivative rule for random functions, a zero gradient to every parameter. (Not in the
    gradcheck registry: the sample's value moves with its parameters, but by definition
    no gradient flows, so finite differences disagree with the rule on purpose.)"""
    op_name = "sample"

    @staticmethod
    def forward(ctx, *params, sample):
        return sample

    @staticmethod
    def backward(ctx, g):
        zeros = constant(xp_of(g.array).zeros(g.shape, dtype=g.array.dtype))
        return (zeros,) * len(ctx.next)


def _generator(t, generator):
    """The generator for tensor ``t``'s device (the host's for a NumPy array)."""
    return rng.generator(None if isinstance(t.array, np.ndarray) else t.device, generator)


def _needs_float(op, t, kernel):
    if t.array.dtype.kind != "f":
        raise NotImplementedError(f'"{kernel}" not implemented for '
                                  f"'{dtypes.scalar_name(t.array.dtype)}' ({op} draws floating "
                                  f"point numbers)")


def _work_dtype(np_dtype):
    """The dtype to draw in: float16 draws in float32 (NumPy's generators have no float16)."""
    return np_dtype if np_dtype in (np.float32, np.float64) else np.dtype(np.float32)


# ---------------------------------------------------------------- the in-place fills

def fill_(t, op, draw, a, b, generator):
    """Fill ``t`` in place with ``draw(t, a, b, gen)`` (an array of t's shape and dtype)."""
    sample = draw(t, a, b, _generator(t, generator))
    return _inplace.update(t, op, lambda old: _inplace.replaced(old, constant(sample)))


def draw_normal(t, mean, std, gen):
    _needs_float("normal_", t, "normal_kernel_cpu")
    if std < 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std:g}")
    dt = t.array.dtype
    z = gen.standard_normal(t.shape, dtype=_work_dtype(dt))
    return (z * std + mean).astype(dt, copy=False)


def draw_uniform(t, low, high, gen):
    _needs_float("uniform_", t, "check_uniform_bounds")
    if low > high:
        raise RuntimeError(f"uniform_ expects to return a [from, to) range, but found "
                           f"from={low} > to={high}")
    dt = t.array.dtype
    u = gen.random(t.shape, dtype=_work_dtype(dt))
    return (u * (high - low) + low).astype(dt, copy=False)


def _dtype_max(np_dtype):
    """random_()'s default upper bound (inclusive): the largest integer the dtype holds
    exactly (2**mantissa bits for floats, as PyTorch)."""
    if np_dtype.kind == "b":
        return 1
    if np_dtype.kind == "f":
        return 2 ** (np.finfo(np_dtype).nmant + 1)
    return int(np.iinfo(np_dtype).max)


def random_bounds(t, args, aliases):
    """random_'s [low, high) from its forms: (), (to), (from, to) and from=/to= keywords
    (to=None: up to the dtype's largest value, inclusive)."""
    args = list(args)
    if "from" in aliases:
        args = [aliases.pop("from")] + args
    if "to" in aliases:
        args = (args or [0]) + [aliases.pop("to")]
    if aliases:
        raise TypeError(f"random_() got an unexpected keyword argument {next(iter(aliases))!r}")
    if len(args) > 2:
        raise TypeError(f"random_() takes at most 2 arguments ({len(args)} given)")
    top = _dtype_max(t.array.dtype) + 1
    if not args:
        return 0, top
    if len(args) == 1:
        return 0, int(args[0])
    low, high = int(args[0]), top if args[1] is None else int(args[1])
    if low >= high:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} "
                           f">= to={high}")
    return low, high


def draw_integers(t, low, high, gen):
    dt = t.array.dtype
    if dt.kind in "iu" and (high - 1 > np.iinfo(dt).max or low < np.iinfo(dt).min):
        raise RuntimeError(f"random_: [{low}, {high}) is out of bounds for {t.dtype!r}")
    if high > 2 ** 63:   # (the int64 generator's limit; the dtype's whole range)
        return gen.integers(low, 2 ** 63 - 1, size=t.shape, dtype=np.int64,
                            endpoint=True).astype(dt)
    return gen.integers(low, high, size=t.shape, dtype=np.int64).astype(dt)


def draw_bernoulli(t, p, _, gen):
    if isinstance(p, Tensor):
        probs = p.array
        if probs.size and (probs.min() < 0 or probs.max() > 1):
            raise RuntimeError("bernoulli_: expected every p in [0, 1]")
    else:
        if not 0 <= p <= 1:
            raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={p}")
        probs = p
    u = gen.random(t.shape, dtype=np.float64)
    return (u < probs).astype(t.array.dtype)


def draw_exponential(t, lambd, _, gen):
    _needs_float("exponential_", t, "exponential_cpu")
    if lambd <= 0:
        raise RuntimeError(f"exponential_ expects lambda > 0.0, but found lambda={lambd}")
    dt = t.array.dtype
    u = gen.random(t.shape, dtype=np.float64)
    return (-xp_of(u).log1p(-u) / lambd).astype(dt)


# ---------------------------------------------------------------- functions

def _sampled(sample, params):
    """The sample as a tensor; in the graph (with a zero gradient) when a parameter
    requires grad."""
    params = [p for p in params if isinstance(p, Tensor)]
    if any(p.requires_grad for p in params):
        return Sampled.apply(*params, sample=sample)
    return Tensor._make(sample)


def normal(mean=0.0, std=1.0, size=None, *, generator=None, dtype=None, device=None,
           requires_grad=False):
    """Normal samples, PyTorch's overloads: ``normal(mean_tensor, std_tensor)`` (broadcast;
    mean's dtype), ``normal(mean_tensor, std=1.0)``, ``normal(mean, std_tensor)``, and
    ``normal(mean, std, size)`` of numbers (the default float dtype, or ``dtype``)."""
    mt, st = isinstance(mean, Tensor), isinstance(std, Tensor)
    if not mt and not st:
        if size is None:
            raise TypeError("normal(): with a number mean and std, a size is required: "
                            "normal(mean, std, size)")
        if std < 0:
            raise RuntimeError(f"normal expects std >= 0.0, but found std {std:g}")
        np_dtype = _float_dtype(dtype)
        draw = rng.generator(device, generator)
        z = draw.standard_normal(_size((size,), "normal"), dtype=_work_dtype(np_dtype))
        return _finish((z * std + mean).astype(np_dtype, copy=False), None, requires_grad,
                       device)
    like = mean if mt else std
    _needs_float("normal", like, "normal_kernel_cpu")
    if st:
        if std.array.size and std.array.min() < 0:
            raise RuntimeError("normal expects all elements of std >= 0.0")
    elif std < 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std:g}")
    m, s = (mean.array if mt else mean), (std.array if st else std)
    shape = np.broadcast_shapes(np.shape(m) if mt else (), np.shape(s) if st else ())
    np_dtype = like.array.dtype
    z = _generator(like, generator).standard_normal(shape, dtype=_work_dtype(np_dtype))
    sample = (z * s + m).astype(np_dtype, copy=False)
    return _sampled(sample, (mean, std))


def bernoulli(input, p=None, *, generator=None):
    """1 with probability ``input`` (or ``p``, for every element), else 0; input's shape
    and (float) dtype."""
    if input.array.dtype.kind != "f":
        raise NotImplementedError(f'"bernoulli_tensor_cpu_p_" not implemented for '
                                  f"'{dtypes.scalar_name(input.array.dtype)}'")
    if p is None:
        probs = input.array
        if probs.size and not (probs.min() >= 0 and probs.max() <= 1):
            raise RuntimeError(f"bernoulli: expected every probability in [0, 1], got values "
                               f"from {float(probs.min())} to {float(probs.max())}")
    else:
        if not 0 <= p <= 1:
            raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={p}")
        probs = p
    u = _generator(input, generator).random(input.shape, dtype=np.float64)
    return _sampled((u < probs).astype(input.array.dtype), (input,))


def multinomial(input, num_samples, replacement=False, *, generator=None):
    """``num_samples`` category indices per row of the weights ``input`` (1-D, or 2-D: one
    distribution per row), drawn with or without replacement; int64. Without replacement,
    categories of weight 0 come only after all the others (as in PyTorch); with it they
    never do."""
    a = input.array
    if a.ndim not in (1, 2):
        raise RuntimeError("prob_dist must be 1 or 2 dim")
    if a.dtype.kind != "f":
        raise RuntimeError(f"multinomial only supports floating-point dtypes for input, got: "
                           f"{dtypes.scalar_name(a.dtype)}")
    n = int(num_samples)
    if n <= 0:
        raise RuntimeError("cannot sample n_sample <= 0 samples")
    k = a.shape[-1]
    if not replacement and n > k:
        raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without "
                           "replacement")
    xp = xp_of(a)
    w = a.reshape(-1, k).astype(np.float64)
    if w.size and not bool(xp.all(xp.isfinite(w)) and xp.all(w >= 0)):
        raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
    totals = w.sum(axis=1)
    if w.shape[0] and bool(xp.any(totals <= 0)):
        raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
    gen = _generator(input, generator)
    rows = w.shape[0]
    if replacement:
        cdf = xp.cumsum(w, axis=1) / totals[:, None]
        u = gen.random((rows, n), dtype=np.float64)
        last = k - 1 - xp.argmax(w[:, ::-1] > 0, axis=1)   # the last category with weight
        out = xp.stack([xp.searchsorted(cdf[r], u[r], side="right") for r in range(rows)]) \
            if rows else xp.zeros((0, n), dtype=np.int64)
        out = xp.minimum(out, last[:, None])
    else:
        # the n largest of w / E (E exponential): a draw without replacement proportional
        # to w (the exponential-race form of sequential sampling); weight 0 ranks last
        e = -xp.log1p(-gen.random((rows, k), dtype=np.float64))
        keys = xp.where(w > 0, w / e, -e)
        out = xp.argsort(-keys, axis=1, kind="stable")[:, :n]
    out = out.astype(np.int64)
    return constant(out.reshape(n) if a.ndim == 1 else out)


def randperm(n, *, generator=None, dtype=None, device=None, requires_grad=False):
    """A random permutation of 0 .. n - 1 (int64 unless ``dtype`` says otherwise)."""
    n = int(n)
    if n < 0:
        raise RuntimeError(f"Trying to create tensor with negative dimension {n}: [{n}]")
    gen = rng.generator(device, generator)
    perm = gen.permutation(n) if hasattr(gen, "permutation") else \
        backend.of(gen.random(1)).xp.argsort(gen.random(n))
    return _finish(perm.astype(np.int64), dtype, requires_grad, device)


def _like_args(input, dtype, device):
    np_dtype = input.array.dtype if dtype is None else dtypes.to_numpy_dtype(dtype)
    return np_dtype, (input.device if device is None else device)


def randn_like(input, *, generator=None, dtype=None, device=None, requires_grad=False):
    np_dtype, device = _like_args(input, dtype, device)
    if np_dtype.kind != "f":
        raise NotImplementedError(f'"normal_kernel_cpu" not implemented for '
                                  f"'{dtypes.scalar_name(np_dtype)}'")
    z = rng.generator(device, generator).standard_normal(input.shape,
                                                         dtype=_work_dtype(np_dtype))
    return _finish(z.astype(np_dtype, copy=False), None, requires_grad, device)


def rand_like(input, *, generator=None, dtype=None, device=None, requires_grad=False):
    np_dtype, device = _like_args(input, dtype, device)
    if np_dtype.kind != "f":
        raise NotImplementedError(f'"check_uniform_bounds" not implemented for '
                                  f"'{dtypes.scalar_name(np_dtype)}'")
    u = rng.generator(device, generator).random(input.shape, dtype=_work_dtype(np_dtype))
    return _finish(u.astype(np_dtype, copy=False), None, requires_grad, device)


def randint_like(input, low=0, high=None, *, generator=None, dtype=None, device=None,
                 requires_grad=False):
    """Integers from [low, high) in input's shape and dtype: ``randint_like(input, high)``
    or ``randint_like(input, low, high)``."""
    if high is None:
        low, high = 0, low
    if not isinstance(low, numbers.Integral) or not isinstance(high, numbers.Integral):
        raise TypeError("randint_like(): low and high must be integers")
    if low >= high:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} "
                           f">= to={high}")
    np_dtype, device = _like_args(input, dtype, device)
    draw = rng.generator(device, generator).integers(low, high, size=input.shape,
                                                     dtype=np.int64)
    return _finish(draw.astype(np_dtype), None, requires_grad, device)
