"""``mg.testing.assert_close``: PyTorch's ``torch.testing.assert_close``.

Inputs are compared pair by pair: sequences (not strings) item by item, mappings key by
key, None with None, bools by identity, Python and NumPy numbers as scalars, and
tensor-likes (``mg.Tensor`` with ``mg.Tensor``, NumPy array with NumPy array) by shape,
device and dtype (each check optional but shape), then by value: close where
``|actual - expected| <= atol + rtol * |expected|``; infinities only equal themselves, and
NaNs equal each other only with ``equal_nan``. Unset tolerances come from the dtypes
(the looser of the two): float16 (1e-3, 1e-5), float32 (1.3e-6, 1e-5), float64 (1e-7,
1e-7), 0 for integers and bools. The first failure raises ``AssertionError`` with
PyTorch's message: how many elements mismatch, the greatest absolute and relative
difference and where; ``msg`` (a string, or a function of the generated message)
replaces it.
"""
import cmath
import collections.abc

import numpy as np

from minigrad import backend, dtypes
from minigrad.tensor import Tensor

__all__ = ["assert_close"]

# {numpy dtype: (rtol, atol)}
_PRECISIONS = {np.dtype(np.float16): (0.001, 1e-5), np.dtype(np.float32): (1.3e-6, 1e-5),
               np.dtype(np.float64): (1e-7, 1e-7), np.dtype(np.complex64): (1.3e-6, 1e-5),
               np.dtype(np.complex128): (1e-7, 1e-7)}
_NUMBER_DTYPES = {int: np.dtype(np.int64), float: np.dtype(np.float64),
                  complex: np.dtype(np.complex128)}


class _Failure(Exception):
    """A failed comparison: the exception type to raise, its message, and where (the item
    path into nested sequences and mappings)."""

    def __init__(self, kind, message, where=()):
        super().__init__(message)
        self.kind, self.message, self.where = kind, message, where

    def error(self, msg=None):
        if isinstance(msg, str):
            return self.kind(msg)
        text = self.message
        if self.where:
            text += "\n\nThe failure occurred for item " + "".join(str([k]) for k in self.where)
        return self.kind(msg(text) if callable(msg) else text)


def _tolerances(dtype_list, rtol, atol, where):
    if (rtol is None) != (atol is None):
        raise _Failure(ValueError, f"Both 'rtol' and 'atol' must be either specified or "
                                   f"omitted, but got no {'rtol' if rtol is None else 'atol'}.",
                       where)
    if rtol is not None:
        return rtol, atol
    rtols, atols = zip(*[_PRECISIONS.get(np.dtype(d), (0.0, 0.0)) for d in dtype_list])
    return max(rtols), max(atols)


def _mismatch_message(what, extra, abs_diff, abs_at, atol, rel_diff, rel_at, rtol):
    equality = rtol == 0 and atol == 0
    lines = [f"{what} are not {'equal' if equality else 'close'}!", ""]
    if extra:
        lines.append(extra)
    for kind, diff, at, tol in (("absolute", abs_diff, abs_at, atol),
                                ("relative", rel_diff, rel_at, rtol)):
        line = (f"{kind.title()} difference: {diff}" if at is None
                else f"Greatest {kind} difference: {diff} at index {at}")
        lines.append(line if equality else f"{line} (up to {tol} allowed)")
    return "\n".join(lines)


def _scalar_message(actual, expected, rtol, atol):
    abs_diff = abs(actual - expected)
    rel_diff = float("inf") if expected == 0 else abs_diff / abs(expected)
    return _mismatch_message("Scalars", f"Expected {expected} but got {actual}.", abs_diff,
                             None, atol, rel_diff, None, rtol)


# ---------------------------------------------------------------- pairs
def _pairs(actual, expected, options, where=()):
    """The comparisons (callables) of the leaves of ``actual`` and ``expected``."""
    sequence = collections.abc.Sequence
    if (isinstance(actual, sequence) and not isinstance(actual, str)
            and isinstance(expected, sequence) and not isinstance(expected, str)):
        if len(actual) != len(expected):
            raise _Failure(AssertionError, f"The length of the sequences mismatch: "
                                           f"{len(actual)} != {len(expected)}", where)
        for i in range(len(actual)):
            yield from _pairs(actual[i], expected[i], options, where + (i,))
        return
    mapping = collections.abc.Mapping
    if isinstance(actual, mapping) and isinstance(expected, mapping):
        keys, expected_keys = set(actual.keys()), set(expected.keys())
        if keys != expected_keys:
            raise _Failure(AssertionError,
                           f"The keys of the mappings do not match:\n"
                           f"Missing keys in the actual mapping: "
                           f"{sorted(expected_keys - keys)}\n"
                           f"Additional keys in the actual mapping: "
                           f"{sorted(keys - expected_keys)}", where)
        try:
            keys = sorted(keys)
        except TypeError:
            pass
        for key in keys:
            yield from _pairs(actual[key], expected[key], options, where + (key,))
        return
    for make in (_none_pair, _bool_pair, _number_pair, _tensor_pair):
        compare = make(actual, expected, options, where)
        if compare is not None:
            yield compare
            return
    raise _Failure(TypeError, f"No comparison pair was able to handle inputs of type "
                              f"{type(actual)} and {type(expected)}.", where)


def _none_pair(actual, expected, options, where):
    if actual is not None and expected is not None:
        return None

    def compare():
        if not (actual is None and expected is None):
            raise _Failure(AssertionError, f"None mismatch: {actual} is not {expected}", where)
    return compare


def _bool_pair(actual, expected, options, where):
    if not all(isinstance(v, (bool, np.bool_)) for v in (actual, expected)):
        return None
    a, e = bool(actual), bool(expected)

    def compare():
        if a is not e:
            raise _Failure(AssertionError, f"Booleans mismatch: {a} is not {e}", where)
    return compare


def _number_pair(actual, expected, options, where):
    kinds = (int, float, complex, np.number)
    if not all(isinstance(v, kinds) for v in (actual, expected)):
        return None
    a, e = (v.item() if isinstance(v, np.number) else v for v in (actual, expected))
    rtol, atol = _tolerances([_NUMBER_DTYPES.get(type(v), np.int64) for v in (a, e)],
                             options["rtol"],
                             options["atol"], where)

    def compare():
        if options["check_dtype"] and type(a) is not type(e):
            raise _Failure(AssertionError, f"The (d)types do not match: {type(a)} != "
                                           f"{type(e)}.", where)
        if a == e or (options["equal_nan"] and cmath.isnan(a) and cmath.isnan(e)):
            return
        diff = abs(a - e)
        if cmath.isfinite(diff) and diff <= atol + rtol * abs(e):
            return
        raise _Failure(AssertionError, _scalar_message(a, e, rtol, atol), where)
    return compare


def _tensor_pair(actual, expected, options, where):
    if not (isinstance(actual, type(expected)) or isinstance(expected, type(actual))):
        return None
    if not options["allow_subclasses"] and type(actual) is not type(expected):
        return None
    if not all(isinstance(v, (Tensor, np.ndarray)) for v in (actual, expected)):
        return None
    a, e = (v.array if isinstance(v, Tensor) else v for v in (actual, expected))
    if a.dtype.hasobject or e.dtype.hasobject:
        return None
    rtol, atol = _tolerances([a.dtype, e.dtype], options["rtol"], options["atol"], where)

    def compare():
        _compare_attributes(a, e, options, where)
        _compare_values(*_equalize(a, e), rtol, atol, options["equal_nan"], where)
    return compare


def _device(array):
    from minigrad.device import device_of
    return device_of(array)


def _dtype_name(np_dtype):
    try:
        return str(dtypes.from_numpy_dtype(np_dtype))
    except (KeyError, TypeError, ValueError):
        return str(np_dtype)


def _compare_attributes(a, e, options, where):
    def differ(name, x, y):
        raise _Failure(AssertionError, f"The values for attribute '{name}' do not match: "
                                       f"{x} != {y}.", where)
    if a.shape != e.shape:
        differ("shape", a.shape, e.shape)
    if options["check_stride"]:
        sa = tuple(s // a.itemsize for s in a.strides)
        se = tuple(s // e.itemsize for s in e.strides)
        if sa != se:
            differ("stride()", sa, se)
    if options["check_device"] and _device(a) != _device(e):
        differ("device", _device(a), _device(e))
    if options["check_dtype"] and a.dtype != e.dtype:
        differ("dtype", _dtype_name(a.dtype), _dtype_name(e.dtype))


def _promote(x, y):
    """PyTorch's promotion: a floating dtype wins over integers and bools whatever their
    size; within a kind, the larger."""
    def category(d):
        return 2 if d.kind in "fc" else 1 if d.kind in "iu" else 0
    if category(x) != category(y):
        return x if category(x) > category(y) else y
    return np.promote_types(x, y)


def _equalize(a, e):
    """Both arrays on the host (values are compared there) in a common dtype."""
    a, e = backend.to_host(a), backend.to_host(e)
    if a.dtype != e.dtype:
        common = _promote(a.dtype, e.dtype)
        a, e = a.astype(common), e.astype(common)
    return a, e


def _close(a, e, rtol, atol, equal_nan):
    if rtol == 0 and atol == 0 and a.dtype.kind not in "fc":
        return a == e
    with np.errstate(invalid="ignore", over="ignore"):
        return np.isclose(a, e, rtol=rtol, atol=atol, equal_nan=equal_nan)


def _compare_values(a, e, rtol, atol, equal_nan, where):
    matches = _close(a, e, rtol, atol, equal_nan)
    if matches.all():
        return
    if a.shape == ():
        raise _Failure(AssertionError, _scalar_message(a.item(), e.item(), rtol, atol), where)
    total = matches.size
    wrong = total - int(matches.sum())
    extra = f"Mismatched elements: {wrong} / {total} ({wrong / total:.1%})"
    af, ef, mf = a.reshape(-1), e.reshape(-1), matches.reshape(-1)
    integral = a.dtype.kind not in "fc"
    if integral:   # (PyTorch: differences in int64, relative ones in float32)
        af, ef = af.astype(np.int64), ef.astype(np.int64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        abs_diff = np.abs(af - ef)
        abs_diff[mf] = 0
        rel_diff = abs_diff / np.abs(ef)
        if integral:
            rel_diff = rel_diff.astype(np.float32)
        rel_diff[mf] = 0
    i, j = int(np.argmax(abs_diff)), int(np.argmax(rel_diff))

    def index(flat):
        return tuple(int(k) for k in np.unravel_index(flat, a.shape))
    raise _Failure(AssertionError, _mismatch_message(
        "Tensor-likes", extra, abs_diff[i].item(), index(i), atol, rel_diff[j].item(),
        index(j), rtol), where)


def assert_close(actual, expected, *, allow_subclasses=True, rtol=None, atol=None,
                 equal_nan=False, check_device=True, check_dtype=True, check_layout=True,
                 check_stride=False, msg=None):
    """Raise ``AssertionError`` unless ``actual`` and ``expected`` are close (see the
    module's description). ``check_layout`` is accepted: minigrad has one layout."""
    __tracebackhide__ = True
    options = dict(allow_subclasses=allow_subclasses, rtol=rtol, atol=atol,
                   equal_nan=equal_nan, check_device=check_device, check_dtype=check_dtype,
                   check_stride=check_stride)
    try:
        comparisons = list(_pairs(actual, expected, options))
    except _Failure as failure:
        raise failure.error() from None
    for compare in comparisons:
        try:
            compare()
        except _Failure as failure:
            raise failure.error(msg) from None
