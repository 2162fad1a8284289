"""The IDX file format of MNIST and Fashion-MNIST (LeCun et al.), gzip-compressed or raw.

A file is a 4-byte magic number (two zero bytes, a type code, the number of dimensions), one
big-endian uint32 per dimension, then the values, big-endian, in C order. The parser checks
each part against the file's length, so a truncated or foreign file is an error, never an
array of garbage.
"""
import gzip
import zlib

import numpy as np

_TYPES = {0x08: np.dtype("u1"), 0x09: np.dtype("i1"), 0x0B: np.dtype(">i2"),
          0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
_GZIP_MAGIC = b"\x1f\x8b"


class IDXError(ValueError):
    """A file that is not a complete IDX file."""


def is_gzip(data):
    return data[:2] == _GZIP_MAGIC


def gunzip(data, name):
    try:
        return gzip.decompress(data)
    except (EOFError, OSError, zlib.error) as e:
        raise IDXError(f"{name}: corrupt or truncated gzip data ({e})") from e


def parse_idx(data, name="IDX data"):
    """The array stored in ``data`` (the bytes of an IDX file, gzip-compressed or not)."""
    if is_gzip(data):
        data = gunzip(data, name)
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _TYPES:
        raise IDXError(f"{name}: not an IDX file (starts with {data[:4].hex() or 'nothing'}; "
                       f"expected 0000, a type code in "
                       f"{{{', '.join(f'{t:02x}' for t in _TYPES)}}}, and the number of "
                       f"dimensions)")
    dtype, ndim = _TYPES[data[2]], data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise IDXError(f"{name}: truncated header ({len(data)} bytes, a {ndim}-d IDX header "
                       f"needs {header})")
    shape = tuple(int(d) for d in np.frombuffer(data, ">u4", count=ndim, offset=4))
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "has trailing bytes"
        raise IDXError(f"{name}: {what}: the header says shape {shape} of {dtype.name}, "
                       f"{expected} bytes in all, but the file has {len(data)}")
    array = np.frombuffer(data, dtype, offset=header).reshape(shape)
    return array.astype(dtype.newbyteorder("="))


def write_idx(path, array):
    """Write ``array`` as an uncompressed IDX file (used by tests and for exporting)."""
    array = np.asarray(array)
    codes = {v.newbyteorder("=").str[1:]: k for k, v in _TYPES.items()}
    code = codes.get(array.dtype.newbyteorder("=").str[1:])
    if code is None:
        raise TypeError(f"write_idx: IDX cannot hold {array.dtype}; use one of "
                        f"{sorted(t.name for t in _TYPES.values())}")
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    with open(path, "wb") as f:
        f.write(header + array.astype(_TYPES[code]).tobytes())
