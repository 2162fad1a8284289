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


_CHUNK = 1 << 20   # gzip data is inflated this much at a time


def gunzip(data, name, max_size=None):
    """The decompressed bytes of a gzip'd IDX file (a bytearray), checked while they are
    inflated.

    The IDX header comes first and is checked before anything else is inflated; then at
    most the bytes it declares (plus one, to tell trailing data), and never more than
    ``max_size`` when the caller knows how large the file should be (MNIST's files). Data
    is inflated a chunk at a time into one buffer, so memory follows the bytes actually
    inflated, up to what a genuine file of that header needs: a gzip bomb, a header that
    claims gigabytes, or a stream that does not end costs nothing to refuse. Any of these
    is an ``IDXError`` naming the file.
    """
    state = {"d": zlib.decompressobj(wbits=31), "pending": data}
    out = bytearray()

    def take(n):
        """Inflate up to ``n`` more bytes into ``out`` (fewer where the stream ends). A
        max_length of 0 means 'no limit' to zlib, so n == 0 must not reach it."""
        d = state["d"]
        while n > 0:
            chunk = d.decompress(state["pending"], min(n, _CHUNK))
            state["pending"] = d.unconsumed_tail
            if not chunk:          # input used up, or the stream ended
                return
            out.extend(chunk)
            n -= len(chunk)

    try:
        take(4)
        _check_magic(out, name)
        take(4 * out[3])
        header = 4 + 4 * out[3]
        if len(out) < header:
            raise IDXError(f"{name}: truncated header ({len(out)} bytes, a {out[3]}-d IDX "
                           f"header needs {header})")
        size = _declared_size(bytes(out[:header]), name)
        _check_expected_size(size, out, header, name, max_size)
        take(size - len(out))
        take(1)
        d = state["d"]
        if len(out) > size or d.unused_data:
            raise IDXError(f"{name}: has trailing bytes: the header says shape "
                           f"{_shape(out, header)}, {size} bytes in all, but the gzip data "
                           f"hold more")
        if len(out) < size and d.eof:
            raise IDXError(f"{name}: truncated: the header says shape {_shape(out, header)}"
                           f", {size} bytes in all, but the gzip data hold only {len(out)}")
        if not d.eof:
            raise EOFError("the gzip stream ends early")
    except (EOFError, zlib.error) as e:
        raise IDXError(f"{name}: corrupt or truncated gzip data ({e})") from e
    return out   # (not bytes(out): that would be a second copy of the whole file)


def _check_magic(data, name):
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _TYPES:
        raise IDXError(f"{name}: not an IDX file (starts with "
                       f"{bytes(data[:4]).hex() or 'nothing'}; expected 0000, a type code in "
                       f"{{{', '.join(f'{t:02x}' for t in _TYPES)}}}, and the number of "
                       f"dimensions)")


def _shape(data, header):
    return tuple(int(d) for d in np.frombuffer(bytes(data[4:header]), ">u4"))


def _check_expected_size(size, data, header, name, max_size):
    if max_size is not None and size != max_size:
        raise IDXError(f"{name}: the header says shape {_shape(data, header)}, {size} bytes "
                       f"in all, but this file should have {max_size} bytes")


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


def parse_idx(data, name="IDX data", max_size=None):
    """The array stored in ``data`` (the bytes of an IDX file, gzip-compressed or not).
    ``max_size``: the size the (decompressed) file must have, where the caller knows it."""
    if is_gzip(data):
        data = gunzip(data, name, max_size)
    _check_magic(data, name)
    dtype, ndim = _TYPES[data[2]], data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise IDXError(f"{name}: truncated header ({len(data)} bytes, a {ndim}-d IDX header "
                       f"needs {header})")
    shape = _shape(data, header)
    expected = _declared_size(data[:header], name)
    _check_expected_size(expected, data, header, name, max_size)
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
