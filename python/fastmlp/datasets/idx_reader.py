"""Reading IDX files, the format MNIST and Fashion-MNIST are published in.

An IDX file is a 4-byte magic number -- two zero bytes, a dtype code, the number of
dimensions -- then one big-endian uint32 per dimension, then the values in C order,
big-endian. Files may be gzip-compressed; compression is detected from the content
(the gzip magic bytes 1f 8b), not from the file name.
"""

from __future__ import annotations

import gzip
import os
import zlib

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


def read_file_bytes(path: str | os.PathLike[str]) -> bytes:
    """Return the content of ``path``, decompressed if it starts with the gzip magic bytes.

    Raises ``FileNotFoundError`` if the file is missing and ``ValueError`` naming the file
    if the gzip data is corrupt or truncated.
    """
    with open(path, "rb") as stream:
        data = stream.read()
    if data[:2] != GZIP_MAGIC:
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise ValueError(f"{os.fspath(path)}: corrupt or truncated gzip data ({exc})") from exc


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file (raw or gzip-compressed) into a NumPy array.

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
    data = read_file_bytes(path)
    if len(data) < 4:
        raise ValueError(
            f"{name}: not an IDX file: {len(data)} bytes, too short for the 4-byte magic number"
        )
    if data[0] != 0 or data[1] != 0:
        raise ValueError(
            f"{name}: not an IDX file: the magic number must start with two zero bytes, "
            f"got {data[:4].hex(' ')}"
        )
    code, ndim = data[2], data[3]
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in IDX_DTYPES)
        raise ValueError(f"{name}: unknown IDX dtype code 0x{code:02X} (known: {known})")
    if ndim == 0:
        raise ValueError(f"{name}: IDX header declares 0 dimensions")
    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise ValueError(
            f"{name}: truncated IDX header: {ndim} dimensions need {header_size} bytes, "
            f"file has {len(data)}"
        )
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = IDX_DTYPES[code]
    expected = dtype.itemsize
    for d in shape:
        expected *= d
    actual = len(data) - header_size
    if actual < expected:
        raise ValueError(
            f"{name}: truncated IDX payload: shape {shape} of {dtype.newbyteorder('=')} "
            f"needs {expected} bytes, file has {actual}"
        )
    if actual > expected:
        raise ValueError(
            f"{name}: {actual - expected} trailing bytes after the IDX payload "
            f"(shape {shape} of {dtype.newbyteorder('=')} needs {expected} bytes)"
        )
    try:
        values = np.frombuffer(data, dtype=dtype, offset=header_size).reshape(shape)
    except ValueError as exc:
        # More than NumPy's 64 dimensions, or a zero-size shape whose other dimensions
        # multiply past the index range: NumPy's own message does not name the file.
        raise ValueError(f"{name}: NumPy cannot make an array of shape {shape} ({exc})") from None
    return values.astype(dtype.newbyteorder("="))
