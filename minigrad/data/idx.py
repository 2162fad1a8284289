"""The IDX file format of MNIST and Fashion-MNIST (LeCun et al.), gzip-compressed or raw.

A file is a 4-byte magic number (two zero bytes, a type code, the number of dimensions), one
big-endian uint32 per dimension, then the values, big-endian, in C order. The parser checks
each part against the file's length, so a truncated or foreign file is an error, never an
array of garbage.
"""
import math
import zlib

import numpy as np

_TYPES = {0x08: np.dtype("u1"), 0x09: np.dtype("i1"), 0x0B: np.dtype(">i2"),
          0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
_GZIP_MAGIC = b"\x1f\x8b"


class IDXError(ValueError):
    """A file that is not a complete IDX file."""


def is_gzip(data):
    return data[:2] == _GZIP_MAGIC


# No IDX file minigrad reads comes near this; a header that declares more is damaged or
# crafted, and is refused before anything that size is allocated or decompressed.
MAX_IDX_BYTES = 1 << 32


def gunzip(data, name):
    """The decompressed bytes of a gzip'd IDX file, never more than its header declares
    (plus one byte, to tell trailing data): a gzip bomb costs nothing to refuse."""
    d = zlib.decompressobj(wbits=31)
    try:
        out = d.decompress(data, 4)
        if len(out) == 4 and out[0] == 0 and out[1] == 0:
            out += d.decompress(d.unconsumed_tail, 4 * out[3])
            limit = _declared_size(out, name) if len(out) == 4 + 4 * out[3] else len(out)
        else:  # not IDX inside: parse_idx will say so from these bytes
            limit = 4
        out += d.decompress(d.unconsumed_tail, limit + 1 - len(out))
        if len(out) <= limit and not d.eof:
            raise EOFError("the gzip stream ends early")
    except (EOFError, zlib.error) as e:
        raise IDXError(f"{name}: corrupt or truncated gzip data ({e})") from e
    return out


def _declared_size(header, name):
    """Bytes of the whole file that an IDX ``header`` declares, checked against the limit."""
    shape = [int(d) for d in np.frombuffer(header, ">u4", count=header[3], offset=4)]
    itemsize = _TYPES[header[2]].itemsize if header[2] in _TYPES else 1
    size = len(header) + math.prod(shape) * itemsize   # Python ints: no wrap-around
    if size > MAX_IDX_BYTES:
        raise IDXError(f"{name}: the header declares shape {tuple(shape)}, {size} bytes, "
                       f"more than any IDX file minigrad reads ({MAX_IDX_BYTES}); the file "
                       f"is damaged or not an IDX file")
    return size


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
    expected = _declared_size(data[:header], name)
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
