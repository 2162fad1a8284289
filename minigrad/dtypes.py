"""minigrad's dtypes: thin names over NumPy dtypes, printed the way PyTorch prints them."""
import numpy as np


class dtype:
    __slots__ = ("name", "np", "is_floating_point")

    def __init__(self, name, np_dtype):
        self.name = name
        self.np = np.dtype(np_dtype)
        self.is_floating_point = self.np.kind == "f"

    def __repr__(self):
        return f"minigrad.{self.name}"

    def __reduce__(self):
        return (from_numpy_dtype, (self.np,))


float32 = dtype("float32", np.float32)
float64 = dtype("float64", np.float64)
int64 = dtype("int64", np.int64)
bool_ = dtype("bool", np.bool_)
_BY_NP = {d.np: d for d in (float32, float64, int64, bool_)}
_ALIASES = {"float": float32, "double": float64, "long": int64, "bool": bool_}

default_float = float32


def from_numpy_dtype(np_dtype):
    """The minigrad dtype for a NumPy dtype (other NumPy dtypes get a name on first sight)."""
    d = _BY_NP.get(np_dtype)
    if d is None:
        np_dtype = np.dtype(np_dtype)
        d = _BY_NP.setdefault(np_dtype, dtype(np_dtype.name, np_dtype))
    return d


def to_numpy_dtype(d):
    """Accept a minigrad dtype, a NumPy dtype or type, or a name; return a NumPy dtype."""
    if isinstance(d, dtype):
        return d.np
    if isinstance(d, str) and d in _ALIASES:
        return _ALIASES[d].np
    try:
        return np.dtype(d)
    except TypeError:
        raise TypeError(f"not a dtype: {d!r}") from None


def infer_numpy_dtype(np_dtype):
    """The dtype a tensor gets for data of this NumPy dtype: floats keep float32/float64,
    integers become int64, booleans stay bool (the rules of ``torch.tensor``)."""
    if np_dtype == np.float32 or np_dtype == np.float64 or np_dtype == np.bool_:
        return np_dtype
    if np_dtype.kind in "iu":
        return np.dtype(np.int64)
    if np_dtype.kind == "f":
        return np.dtype(default_float.np)
    raise TypeError(f"tensor: unsupported data type {np_dtype}")
