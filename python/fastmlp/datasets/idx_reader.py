"""Reading IDX files, the format MNIST and Fashion-MNIST are published in.

An IDX file is a 4-byte magic number -- two zero bytes, a dtype code, the number of
dimensions -- then one big-endian uint32 per dimension, then the values in C order,
big-endian. Files may be gzip-compressed; compression is detected from the content
(the gzip magic bytes 1f 8b), not from the file name.
"""

from __future__ import annotations

import gzip
import math
import os
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, cast

import numpy as np

#: IDX dtype code -> big-endian NumPy dtype, as listed in the IDX specification.
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

GZIP_MAGIC = b"\x1f\x8b"
CHUNK_BYTES = 1 << 20
#: Trailing bytes after a gzip payload are counted up to this many, then read no further.
TAIL_BYTES = 1 << 16
#: What gzip and zlib raise for corrupt or truncated compressed data.
GZIP_ERRORS = (OSError, EOFError, zlib.error)


@contextmanager
def open_maybe_gzip(path: str | os.PathLike[str]) -> Iterator[tuple[IO[bytes], int | None]]:
    """``(stream, size)``: the file's content, decompressed as it is read if it starts with
    the gzip magic bytes; ``size`` is the raw file's size, ``None`` for gzip data (unknown
    until read). Errors from corrupt gzip data become a ``ValueError`` naming the file."""
    name = os.fspath(path)
    with open(path, "rb") as raw:
        if raw.read(2) != GZIP_MAGIC:
            raw.seek(0)
            yield raw, os.fstat(raw.fileno()).st_size
            return
        raw.seek(0)
        try:
            with gzip.GzipFile(fileobj=raw, mode="rb") as stream:
                yield cast(IO[bytes], stream), None
        except GZIP_ERRORS as exc:
            raise ValueError(f"{name}: corrupt or truncated gzip data ({exc})") from None


def read_exactly(stream: IO[bytes], size: int) -> bytes:
    """Up to ``size`` bytes (fewer only at the end of the data), a chunk at a time."""
    parts = bytearray()
    while len(parts) < size:
        chunk = stream.read(min(CHUNK_BYTES, size - len(parts)))
        if not chunk:
            break
        parts += chunk
    return bytes(parts)


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file (raw or gzip-compressed) into a NumPy array.

    The header is read first; a raw file's size must then match the declared shape before
    any data is read, and gzip data is decompressed only up to the declared size (plus one
    byte, to detect trailing data), so a crafted file cannot make it use more memory than
    the array it declares.

    Args:
        path: the file, e.g. ``train-images-idx3-ubyte.gz`` or ``t10k-labels.idx1-ubyte``.

    Returns:
        A writeable, native-byte-order array whose shape is the file's dimensions and
        whose dtype follows the dtype code: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
        0x0D float32, 0x0E float64. MNIST images come out as uint8 (n, 28, 28), labels as
        uint8 (n,).

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: bad magic number, unknown dtype code, truncated header or payload,
            trailing bytes after the payload, or corrupt gzip data; the message names the
            file and the problem.
    """
    name = os.fspath(path)
    with open_maybe_gzip(path) as (stream, size):
        return _read_idx_stream(stream, size, name)


def _read_idx_stream(stream: IO[bytes], size: int | None, name: str) -> np.ndarray:
    magic = read_exactly(stream, 4)
    if len(magic) < 4:
        raise ValueError(
            f"{name}: not an IDX file: {len(magic)} bytes, too short for the 4-byte magic number"
        )
    if magic[0] != 0 or magic[1] != 0:
        raise ValueError(
            f"{name}: not an IDX file: the magic number must start with two zero bytes, "
            f"got {magic[:4].hex(' ')}"
        )
    code, ndim = magic[2], magic[3]
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in IDX_DTYPES)
        raise ValueError(f"{name}: unknown IDX dtype code 0x{code:02X} (known: {known})")
    if ndim == 0:
        raise ValueError(f"{name}: IDX header declares 0 dimensions")
    header_size = 4 + 4 * ndim
    dims = read_exactly(stream, 4 * ndim)
    if len(dims) < 4 * ndim:
        raise ValueError(
            f"{name}: truncated IDX header: {ndim} dimensions need {header_size} bytes, "
            f"file has {4 + len(dims)}"
        )
    shape = tuple(int(d) for d in np.frombuffer(dims, dtype=">u4"))
    dtype = IDX_DTYPES[code]
    expected = dtype.itemsize * math.prod(shape)
    # A raw file's size says how much data it holds: compare before reading any. Gzip data
    # is read up to the declared size plus a little, which tells whether more follows.
    payload = read_exactly(stream, expected + TAIL_BYTES + 1) if size is None else b""
    actual = size - header_size if size is not None else len(payload)
    if actual < expected:
        raise ValueError(
            f"{name}: truncated IDX payload: shape {shape} of {dtype.newbyteorder('=')} "
            f"needs {expected} bytes, file has {actual}"
        )
    if actual > expected:
        extra = actual - expected
        count = f"more than {TAIL_BYTES}" if extra > TAIL_BYTES and size is None else f"{extra}"
        raise ValueError(
            f"{name}: {count} trailing bytes after the IDX payload "
            f"(shape {shape} of {dtype.newbyteorder('=')} needs {expected} bytes)"
        )
    if size is not None:
        payload = read_exactly(stream, expected)
        if len(payload) < expected:  # the file shrank while being read
            raise ValueError(f"{name}: truncated IDX payload: the file changed while read")
    try:
        values = np.frombuffer(payload, dtype=dtype).reshape(shape)
    except ValueError as exc:
        # More than NumPy's 64 dimensions, or a zero-size shape whose other dimensions
        # multiply past the index range: NumPy's own message does not name the file.
        raise ValueError(f"{name}: NumPy cannot make an array of shape {shape} ({exc})") from None
    return values.astype(dtype.newbyteorder("="))
