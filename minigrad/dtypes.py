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


float16 = dtype("float16", np.float16)   # storage; the float kernels (conv, pools, norms)
float32 = dtype("float32", np.float32)   # refuse it by name, elementwise ops compute in it
float64 = dtype("float64", np.float64)
uint8 = dtype("uint8", np.uint8)
int8 = dtype("int8", np.int8)
int16 = dtype("int16", np.int16)
int32 = dtype("int32", np.int32)
int64 = dtype("int64", np.int64)
bool_ = dtype("bool", np.bool_)
_BY_NP = {d.np: d for d in (float16, float32, float64, uint8, int8, int16, int32, int64, bool_)}
_ALIASES = {"float": float32, "double": float64, "half": float16, "long": int64, "int": int32,
            "short": int16, "bool": bool_}

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
    """The dtype a tensor gets for array data of this NumPy dtype: its own when minigrad has
    it (float16/32/64, uint8, int8/16/32/64, bool, as ``torch.tensor`` keeps them), else a
    TypeError: data is never converted silently."""
    np_dtype = np.dtype(np_dtype)
    if np_dtype in _BY_NP:
        return np_dtype
    raise TypeError(f"tensor: unsupported data type {np_dtype}; minigrad has "
                    f"{', '.join(sorted(d.name for d in _BY_NP.values()))} (convert with "
                    f"astype first)")
