"""``mg.save`` / ``mg.load``: nested containers of tensors, arrays and plain values in an
``.npz`` file.

Arrays become the archive's members (``a0``, ``a1``, ...); a JSON manifest records the
structure around them — dict keys of any plain type (optimizer state uses ints), lists vs
tuples, tensors vs arrays — so loading rebuilds exactly what was saved without pickle.
Writes go to a temporary file in the target directory that is renamed over the target only
once complete, so a crash never leaves a half-written checkpoint behind (and a later save
removes the temporaries of writers that died).
"""
import json
import os
import zipfile
from collections import Counter, OrderedDict

import numpy as np

from minigrad._atomic import atomic_open
from minigrad.tensor import Tensor

_FORMAT = "minigrad.save"
_VERSION = 1
_MANIFEST = "__manifest__"


def _encode(obj, arrays, where):
    if isinstance(obj, Tensor):
        arrays.append(_to_numpy(obj.array))
        return {"t": "tensor", "ref": len(arrays) - 1, "requires_grad": obj.requires_grad}
    if isinstance(obj, np.ndarray) or hasattr(obj, "__cuda_array_interface__"):
        array = _to_numpy(obj)
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


def _to_numpy(array):
    return array if isinstance(array, np.ndarray) else array.get()  # CuPy -> host


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
    """Write ``obj`` (typically a state dict) to ``f``, a path or a binary file object."""
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
    "... is not a complete minigrad checkpoint", naming the file."""
    name = repr(os.fspath(f)) if isinstance(f, (str, os.PathLike)) else "the file object"
    try:
        archive = np.load(f, allow_pickle=False)
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


__all__ = ["save", "load"]
