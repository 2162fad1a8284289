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

# PyTorch's names in its error messages: scalar types ("expected scalar type Float") and
# C types ("but got: float != double")
SCALAR_NAMES = {"float16": "Half", "float32": "Float", "float64": "Double", "uint8": "Byte",
                "int8": "Char", "int16": "Short", "int32": "Int", "int64": "Long",
                "bool": "Bool"}
C_NAMES = {"float16": "c10::Half", "float32": "float", "float64": "double",
           "uint8": "unsigned char", "int8": "signed char", "int16": "short int",
           "int32": "int", "int64": "long int", "bool": "bool"}


def scalar_name(np_dtype):
    return SCALAR_NAMES.get(np.dtype(np_dtype).name, np.dtype(np_dtype).name)


def c_name(np_dtype):
    return C_NAMES.get(np.dtype(np_dtype).name, np.dtype(np_dtype).name)


def get_default_dtype():
    """The dtype Python floats and the float factories (zeros, randn, ...) give, and that
    integer tensors become in true division: float32 unless ``set_default_dtype`` said."""
    return default_float


def set_default_dtype(d):
    """Make ``d`` (float32, float64 or float16) the default float dtype, as
    ``torch.set_default_dtype``."""
    global default_float
    if not isinstance(d, dtype):
        raise TypeError(f"set_default_dtype(): argument 'd' must be minigrad.dtype, not "
                        f"{type(d).__name__}")
    if not d.is_floating_point:
        raise TypeError(f"only floating-point types are supported as the default type, got "
                        f"{d!r}")
    default_float = d


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
