"""Finite-difference checks of the engine's gradients, for users and for our own tests.

Both checks contract the outputs with a fixed random upstream gradient ``v`` and compare
the engine's vector-Jacobian product with float64 central differences of <v, f(x)>. A
random ``v`` matters: with ``v`` all ones (a plain ``sum()``), BatchNorm's input gradient
is identically zero and a wrong rule would pass.
"""
import numpy as np

from minigrad import backend
from minigrad.autograd.engine import grad as _grad
from minigrad.autograd.grad_mode import enable_grad, no_grad
from minigrad.device import device_of
from minigrad.tensor import Tensor


class GradcheckError(RuntimeError):
    pass


def _as_tuple(x):
    return (x,) if isinstance(x, Tensor) else tuple(x)


def _host(array):
    """``array`` as float64 on the host (a copy from a device), for the differences."""
    return np.asarray(backend.to_host(array), dtype=np.float64)


def _on_device_of(values, like):
    """Host ``values`` as an array on the device of the array ``like``, in its dtype."""
    return backend.move(np.asarray(values, dtype=like.dtype), device_of(like))


def _float_outputs(outs):
    return [o for o in outs if isinstance(o, Tensor) and o.array.dtype.kind == "f"]


def compare(fn, inputs, eps=1e-6, seed=0, upstream=None):
    """Analytic and numeric gradients of <v, fn(*inputs)> for each input that requires
    grad: a list of ``(input position, analytic array, numeric array)``."""
    inputs = _as_tuple(inputs)
    diff = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    if not diff:
        raise ValueError("gradcheck: no input requires grad")
    for i in diff:
        if inputs[i].array.dtype != np.float64:
            raise TypeError(f"gradcheck: input {i} is {inputs[i].dtype!r}; finite differences "
                            f"need float64 inputs (use .double())")
    outs = _float_outputs(_as_tuple(fn(*inputs)))
    if upstream is None:
        # a stream of its own: drawn from ``seed`` alone, the upstream would repeat inputs
        # drawn from the same seed, and <x, f(x)> has a zero gradient for any f that is
        # scale-invariant in x (normalizations), which would make the check vacuous
        rng = np.random.default_rng((seed, 0x75))
        upstream = [rng.standard_normal(o.shape) for o in outs]

    tracked = [(o, v) for o, v in zip(outs, upstream) if o.requires_grad]
    if tracked:
        analytic = _grad([o for o, _ in tracked], [inputs[i] for i in diff],
                         [Tensor._make(_on_device_of(v, o.array)) for o, v in tracked],
                         allow_unused=True)
    else:
        analytic = [None] * len(diff)

    def contracted():
        with no_grad():
            now = _float_outputs(_as_tuple(fn(*inputs)))
        return sum(float(np.sum(_host(o.array) * v))
                   for o, v in zip(now, upstream))

    results = []
    for i, a in zip(diff, analytic):
        x = inputs[i].array
        numeric = np.zeros(x.shape)
        for idx in np.ndindex(*x.shape):
            orig = x[idx]
            x[idx] = orig + eps
            plus = contracted()
            x[idx] = orig - eps
            minus = contracted()
            x[idx] = orig
            numeric[idx] = (plus - minus) / (2 * eps)
        a = np.zeros(x.shape) if a is None else _host(a.array)
        results.append((i, a, numeric))
    return results


def _verdict(results, atol, rtol, what):
    for i, a, n in results:
        bad = np.abs(a - n) > atol + rtol * np.abs(n)
        if bad.any():
            idx = tuple(int(k) for k in np.argwhere(bad)[0])
            return (f"{what}: mismatch for input {i} at index {idx}: analytic {a[idx]!r} vs "
                    f"numeric {n[idx]!r} (abs error {abs(a[idx] - n[idx]):.3e}, allowed "
                    f"{atol:g} + {rtol:g} * |numeric|)")
    return None


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, seed=0):
    """Check ``fn``'s gradient with respect to every input that requires grad."""
    failure = _verdict(compare(fn, inputs, eps, seed), atol, rtol, "gradcheck")
    if failure and raise_exception:
        raise GradcheckError(failure)
    return failure is None


def first_derivative_fn(fn, inputs, seed=0):
    """The function (x..., v...) -> d<v, fn(x)>/dx with its graph recorded, and the inputs
    (x..., v...) to check it at: second derivatives are first derivatives of this."""
    inputs = _as_tuple(inputs)
    diff = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    outs = _float_outputs(_as_tuple(fn(*inputs)))
    outs = [o for o in outs if o.requires_grad]
    rng = np.random.default_rng(seed + 1)
    vs = [Tensor(_on_device_of(rng.standard_normal(o.shape), o.array), requires_grad=True)
          for o in outs]

    def first(*args):
        xs, v = args[:len(inputs)], args[len(inputs):]
        with enable_grad():  # a derivative is computed even when the caller records nothing
            now = [o for o in _float_outputs(_as_tuple(fn(*xs))) if o.requires_grad]
            gs = _grad(now, [xs[i] for i in diff], list(v), create_graph=True,
                       allow_unused=True)
        return tuple(g for g in gs if g is not None)

    return first, tuple(inputs) + tuple(vs)


def gradgradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, seed=0):
    """Check second derivatives: the gradient of ``fn``'s gradient, by finite differences."""
    first, args = first_derivative_fn(fn, inputs, seed)
    failure = _verdict(compare(first, args, eps, seed + 2), atol, rtol, "gradgradcheck")
    if failure and raise_exception:
        raise GradcheckError(failure)
    return failure is None
