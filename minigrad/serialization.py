"""``mg.save`` / ``mg.load``: nested containers of tensors, arrays and plain values in an
``.npz`` file; flat state dicts in the safetensors format for a ``.safetensors`` name.

Arrays become the archive's members (``a0``, ``a1``, ...); a JSON manifest records the
structure around them — dict keys of any plain type (optimizer state uses ints), lists vs
tuples, tensors vs arrays — so loading rebuilds exactly what was saved without pickle.
Writes go to a temporary file in the target directory that is renamed over the target only
once complete, so a crash never leaves a half-written checkpoint behind (and a later save
removes the temporaries of writers that died).

A path ending in ``.safetensors`` reads and writes the safetensors format (through the
``safetensors`` package's NumPy API: ``pip install 'minigrad[safetensors]'``), which
PyTorch reads and writes with ``safetensors.torch.save_file`` / ``load_file``: weights move
between the two without pickle. The format holds a flat dict of named tensors, nothing
else. ``.pt`` and ``.pth`` names get minigrad's ``.npz`` format, with a warning:
``torch.load`` cannot read it.
"""
import contextlib
import json
import os
import struct
import warnings
import zipfile
from collections import Counter, OrderedDict

import numpy as np

from minigrad import backend
from minigrad._atomic import atomic_open
from minigrad.tensor import Tensor

_FORMAT = "minigrad.save"
_VERSION = 1
_MANIFEST = "__manifest__"


def _encode(obj, arrays, where):
    if isinstance(obj, Tensor):
        arrays.append(backend.to_host(obj.array))
        return {"t": "tensor", "ref": len(arrays) - 1, "requires_grad": obj.requires_grad}
    if isinstance(obj, np.ndarray) or hasattr(obj, "__cuda_array_interface__"):
        array = backend.to_host(obj)
        if array.dtype.hasobject:  # NumPy would pickle it, and load() reads no pickles
            raise TypeError(f"mg.save: the array at {where} has dtype object; save arrays "
                            f"of numbers (or convert the objects to lists and numbers)")
        arrays.append(array)
        return {"t": "array", "ref": len(arrays) - 1}
    if isinstance(obj, np.generic):
        arrays.append(np.asarray(obj))
        return {"t": "scalar", "ref": len(arrays) - 1}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return {"t": "value", "v": obj}
    if isinstance(obj, (list, tuple)):
        return {"t": type(obj).__name__ if type(obj) in (list, tuple) else "list",
                "items": [_encode(v, arrays, f"{where}[{i}]") for i, v in enumerate(obj)]}
    if isinstance(obj, dict):
        kind = "counter" if isinstance(obj, Counter) else \
            "ordereddict" if isinstance(obj, OrderedDict) else "dict"
        return {"t": kind, "items": [[_encode(k, arrays, f"{where} key"),
                                      _encode(v, arrays, f"{where}[{k!r}]")]
                                     for k, v in obj.items()]}
    raise TypeError(f"mg.save: cannot save {type(obj).__name__} at {where}; supported are "
                    f"tensors, arrays, numbers, strings, None, and lists, tuples and dicts "
                    f"of them")


def _decode(node, arrays):
    kind = node["t"]
    if kind == "value":
        return node["v"]
    if kind == "tensor":
        return Tensor(arrays[node["ref"]], requires_grad=node["requires_grad"])
    if kind == "array":
        return arrays[node["ref"]]
    if kind == "scalar":
        return arrays[node["ref"]][()]
    if kind in ("list", "tuple"):
        items = [_decode(v, arrays) for v in node["items"]]
        return items if kind == "list" else tuple(items)
    items = {_decode(k, arrays): _decode(v, arrays) for k, v in node["items"]}
    return {"dict": dict, "ordereddict": OrderedDict, "counter": Counter}[kind](items)


def save(obj, f):
    """Write ``obj`` (typically a state dict) to ``f``, a path or a binary file object; a
    path ending in ``.safetensors`` gets the safetensors format (a flat dict of tensors)."""
    if _suffix(f) == ".safetensors":
        _save_safetensors(obj, f)
        return
    if _suffix(f) in (".pt", ".pth"):
        warnings.warn(f"mg.save: {os.fspath(f)!r} is written in minigrad's .npz format, "
                      f"which torch.load cannot read; to share weights with PyTorch save "
                      f"the state dict to a '.safetensors' name", UserWarning, stacklevel=2)
    arrays = []
    manifest = {"format": _FORMAT, "version": _VERSION, "count": 0,
                "root": _encode(obj, arrays, "obj")}
    manifest["count"] = len(arrays)
    members = {f"a{i}": a for i, a in enumerate(arrays)}
    members[_MANIFEST] = np.frombuffer(json.dumps(manifest).encode(), dtype=np.uint8)
    if not isinstance(f, (str, os.PathLike)):
        np.savez(f, **members)
        return
    with atomic_open(f) as out:
        np.savez(out, **members)


def load(f):
    """Read what :func:`save` wrote; tensors come back on the CPU. Anything else (a
    truncated or damaged file, a plain .npy, another program's .npz) raises RuntimeError
    "... is not a complete minigrad checkpoint", naming the file. A path ending in
    ``.safetensors`` is read as safetensors: a dict of tensors."""
    if _suffix(f) == ".safetensors":
        return _load_safetensors(f)
    name = repr(os.fspath(f)) if isinstance(f, (str, os.PathLike)) else "the file object"
    kind = _pickle_kind(f)
    if kind is not None:
        raise RuntimeError(f"mg.load: {name} is {kind}, which minigrad does not read (a "
                           f"pickle can run code); in PyTorch, save the state dict with "
                           f"safetensors.torch.save_file(model.state_dict(), "
                           f"'model.safetensors') and mg.load that file")
    try:
        # opened here, so that the file is closed whatever np.load makes of its bytes
        with open(f, "rb") if isinstance(f, (str, os.PathLike)) else contextlib.nullcontext(f) \
                as file:
            archive = np.load(file, allow_pickle=False)
            if not isinstance(archive, np.lib.npyio.NpzFile):
                raise ValueError(f"a {type(archive).__name__}, not an .npz archive")
            with archive:
                manifest = json.loads(bytes(archive[_MANIFEST]).decode())
                if not isinstance(manifest, dict) or manifest.get("format") != _FORMAT:
                    raise ValueError("no minigrad manifest")
                if manifest["version"] > _VERSION:
                    raise _NewerFormat(manifest["version"])
                arrays = [archive[f"a{i}"] for i in range(manifest["count"])]
        return _decode(manifest["root"], arrays)
    except (FileNotFoundError, PermissionError, MemoryError):
        raise  # not the file's fault
    except _NewerFormat as e:
        raise RuntimeError(f"mg.load: {name} was written by a newer minigrad (format version "
                           f"{e.args[0]}, this one reads {_VERSION})") from None
    except Exception as e:  # every way a damaged file or manifest can fail to decode
        raise RuntimeError(f"mg.load: {name} is not a complete minigrad checkpoint "
                           f"(truncated, corrupt, or written by something else): "
                           f"{type(e).__name__}: {e}") from e


class _NewerFormat(Exception):
    pass


def _suffix(f):
    if not isinstance(f, (str, os.PathLike)):
        return ""
    return os.path.splitext(os.fspath(f))[1].lower()


def _pickle_kind(f):
    """What a path holds if it is torch.save's output (a zip with a ``data.pkl`` member) or
    another pickle; None otherwise (mg.load never reads pickles)."""
    if not isinstance(f, (str, os.PathLike)) or not os.path.isfile(f):
        return None
    try:
        with open(f, "rb") as fh:
            head = fh.read(2)
        if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
            return "a pickle (such as torch.save's legacy format)"
        if zipfile.is_zipfile(f):
            with zipfile.ZipFile(f) as z:
                if any(n == "data.pkl" or n.endswith("/data.pkl") for n in z.namelist()):
                    return "a PyTorch checkpoint (torch.save's zip of pickles)"
    except (OSError, zipfile.BadZipFile):
        return None
    return None


# ---------------------------------------------------------------- safetensors
_SAFETENSORS_DTYPES = {"F64", "F32", "F16", "I64", "U64", "I32", "U32", "I16", "U16", "I8",
                       "U8", "BOOL"}


def _safetensors_numpy(what):
    try:
        import safetensors.numpy
    except ImportError:
        raise ImportError(f"{what}: .safetensors files need the safetensors package: "
                          f"pip install 'minigrad[safetensors]'") from None
    return safetensors.numpy


def _save_safetensors(obj, path):
    st = _safetensors_numpy("mg.save")
    if not isinstance(obj, dict):
        raise TypeError(f"mg.save: a .safetensors file holds a flat dict of named tensors "
                        f"(a state dict); got {type(obj).__name__}")
    arrays = {}
    for key, value in obj.items():
        if not isinstance(key, str):
            raise TypeError(f"mg.save: safetensors names must be strings; got the key "
                            f"{key!r} ({type(key).__name__})")
        if isinstance(value, Tensor):
            value = value.array
        if not (isinstance(value, np.ndarray) or backend.is_array(value)):
            hint = (" (nested containers, such as an optimizer's state dict, need minigrad's "
                    ".npz format: save to another name)"
                    if isinstance(value, (dict, list, tuple)) else "")
            raise TypeError(f"mg.save: a .safetensors file holds tensors only; {key!r} is a "
                            f"{type(value).__name__}{hint}")
        array = np.asarray(backend.to_host(value), order="C")   # (the writer reads raw memory)
        if array.dtype.hasobject or array.dtype.kind == "c":
            raise TypeError(f"mg.save: {key!r} has dtype {array.dtype}, which safetensors' "
                            f"NumPy API cannot store")
        arrays[key] = array
    data = st.save(arrays)
    with atomic_open(path) as out:
        out.write(data)


def _safetensors_header(path):
    with open(path, "rb") as fh:
        size_bytes = fh.read(8)
        if len(size_bytes) < 8:
            raise ValueError("shorter than a safetensors header")
        (size,) = struct.unpack("<Q", size_bytes)
        header = json.loads(fh.read(size))
    return {k: v for k, v in header.items() if k != "__metadata__"}


def _load_safetensors(path):
    st = _safetensors_numpy("mg.load")
    name = repr(os.fspath(path))
    try:
        header = _safetensors_header(path)
    except (FileNotFoundError, PermissionError):
        raise
    except Exception as e:
        raise RuntimeError(f"mg.load: {name} is not a complete safetensors file: "
                           f"{type(e).__name__}: {e}") from e
    unsupported = sorted(f"{k} ({v.get('dtype')})" for k, v in header.items()
                         if v.get("dtype") not in _SAFETENSORS_DTYPES)
    if unsupported:
        raise TypeError(f"mg.load: {name} has tensors of dtypes minigrad has no NumPy type "
                        f"for: {', '.join(unsupported)}; convert them before saving (in "
                        f"PyTorch: {{k: v.float() for k, v in state_dict.items()}})")
    try:
        arrays = st.load_file(os.fspath(path))
    except Exception as e:
        raise RuntimeError(f"mg.load: {name} is not a complete safetensors file: "
                           f"{type(e).__name__}: {e}") from e
    return {k: Tensor(a if a.flags.writeable else a.copy()) for k, a in arrays.items()}


__all__ = ["save", "load"]
