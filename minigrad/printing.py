"""How tensors print: PyTorch's layout rules and ``set_printoptions``.

Floats print with ``precision`` digits after the point, all in one width; a tensor whose
finite values are all whole prints them as ``1.``; scientific notation is used when the
nonzero magnitudes span more than 1000x, exceed 1e8 or fall below 1e-4 (or as
``sci_mode`` says). More than ``threshold`` elements print as ``edgeitems`` at each end of
each dim with ``...`` between; lines wrap at ``linewidth``. (The layout is NumPy's
``array2string`` with PyTorch's element formats, so spacing can differ from PyTorch's in
corner cases.)
"""
import math

import numpy as np

_PROFILES = {"default": dict(precision=4, threshold=1000, edgeitems=3, linewidth=80),
             "short": dict(precision=2, threshold=1000, edgeitems=2, linewidth=80),
             "full": dict(precision=4, threshold=math.inf, edgeitems=3, linewidth=80)}
_options = dict(_PROFILES["default"], sci_mode=None)


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None,
                     profile=None, sci_mode=None):
    """PyTorch's print options: ``precision`` (digits after the point, 4), ``threshold``
    (elements before summarizing, 1000), ``edgeitems`` (per end when summarized, 3),
    ``linewidth`` (80), ``profile`` ("default", "short" or "full": sets the first four;
    the others given win), ``sci_mode`` (True/False forces scientific notation on/off;
    None decides per tensor). As in PyTorch, ``sci_mode`` is set by every call."""
    if profile is not None:
        if profile not in _PROFILES:
            raise ValueError(f"set_printoptions: profile must be one of {sorted(_PROFILES)}, "
                             f"got {profile!r}")
        _options.update(_PROFILES[profile])
    for name, value in (("precision", precision), ("threshold", threshold),
                        ("edgeitems", edgeitems), ("linewidth", linewidth)):
        if value is not None:
            _options[name] = value
    _options["sci_mode"] = sci_mode


def get_printoptions():
    """The current print options, as a dict (PyTorch's ``torch._tensor_str.PRINT_OPTS``)."""
    return dict(_options)


def _float_formatter(values, precision, sci_mode):
    """The element format for float ``values`` (all of them, or the summarized ones)."""
    finite = values[np.isfinite(values)]
    nonzero = np.abs(finite[finite != 0]).astype(np.float64)
    whole = bool(np.all(np.ceil(finite) == finite))
    sci = sci_mode
    if sci is None:
        sci = False
        if nonzero.size:
            lo, hi = nonzero.min(), nonzero.max()
            sci = hi / lo > 1000.0 or hi > 1e8 or (not whole and lo < 1e-4)
    if sci:
        fmt = f"{{:.{precision}e}}"
    elif whole:
        fmt = "{:.0f}."
    else:
        fmt = f"{{:.{precision}f}}"

    def text(x):
        if np.isnan(x):
            return "nan"
        if np.isinf(x):
            return "inf" if x > 0 else "-inf"
        return fmt.format(float(x))
    # as PyTorch, the column width comes from the finite values alone: nan and inf are
    # padded to it but never widen it
    width = max((len(text(x)) for x in finite.reshape(-1)), default=0)
    return lambda x: text(x).rjust(width)


def _summarized(a, edge):
    """The elements that a summarized print shows (for the common width)."""
    if a.ndim == 0:
        return a.reshape(1)
    for d in range(a.ndim):
        if a.shape[d] > 2 * edge:
            a = np.concatenate([np.take(a, range(edge), d),
                                np.take(a, range(a.shape[d] - edge, a.shape[d]), d)], d)
    return a


def array_text(host, prefix="tensor("):
    """The body of a tensor's repr for the host array ``host``."""
    o = _options
    threshold = sys_max if o["threshold"] == math.inf else int(o["threshold"])
    summarize = host.size > threshold
    kwargs = dict(separator=", ", prefix=prefix, max_line_width=o["linewidth"],
                  threshold=threshold, edgeitems=o["edgeitems"])
    if host.dtype.kind == "f" and host.size:
        values = _summarized(host, o["edgeitems"]) if summarize else host
        kwargs["formatter"] = {"float_kind": _float_formatter(values, o["precision"],
                                                              o["sci_mode"])}
    return np.array2string(host, **kwargs)


sys_max = 2 ** 62
