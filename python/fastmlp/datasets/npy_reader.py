"""Reading ``.npy`` files and ``.npz`` members in memory bounded by what they declare.

``numpy.load`` trusts a file: an ``.npz`` member is decompressed whole whatever its size, and a
``.npy`` header declaring an absurd shape ends in a ``MemoryError``. Here every array is read
in three steps, each a chance to refuse before any data is:

1. the archive's member names (each at most once; the caller decides which are allowed);
2. the ``.npy`` header: version, dtype (never Python objects), shape, order; the caller checks
   the shape and dtype it expects (:class:`NpyHeader`);
3. the declared sizes: the ``.npy`` file's size, or the zip member's uncompressed size, must be
   exactly the header plus ``shape x itemsize`` bytes. Only then is the array allocated, and
   filled chunk by chunk from a stream that decompresses no further than the declared size.

Arrays come back C-ordered, writeable and in native byte order (a big-endian ``>f4`` file
gives ``float32``).
"""

from __future__ import annotations

import math
import os
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np

__all__ = ["NpyError", "NpyHeader", "NpzMembers", "native_order", "read_npy", "read_npy_stream"]

CHUNK_BYTES = 1 << 20
#: The first bytes of every ``.npy`` file.
NPY_MAGIC = b"\x93NUMPY"
#: The errors zipfile and zlib raise for damaged archives and members.
ZIP_ERRORS = (
    OSError,
    EOFError,
    zipfile.BadZipFile,
    zlib.error,
    NotImplementedError,  # an unknown compression method
    RuntimeError,  # an encrypted member
    struct.error,  # a record cut short
)


class NpyError(ValueError):
    """A file or member refused by this module's checks (kept apart from the ``ValueError``
    zipfile raises for damaged archives, which :class:`NpzMembers` rewords)."""


@dataclass(frozen=True)
class NpyHeader:
    """What a ``.npy`` header declares; ``size`` is the header's own length in bytes."""

    shape: tuple[int, ...]
    dtype: np.dtype
    fortran_order: bool
    size: int

    @property
    def data_bytes(self) -> int:
        """Bytes of data the header declares (a Python int: no overflow)."""
        return math.prod(self.shape) * self.dtype.itemsize

    def describe(self) -> str:
        """``"shape (2, 3) of float32"``."""
        return f"shape {self.shape} of {native_order(self.dtype)}"


Check = Callable[[NpyHeader], None]


def native_order(dtype: np.dtype) -> np.dtype:
    """``dtype`` in the machine's byte order (``>f4`` -> ``float32``)."""
    return dtype.newbyteorder("=") if dtype.byteorder in "<>" else dtype


def read_header(stream: IO[bytes], where: str) -> NpyHeader:
    """Read and check a ``.npy`` header from ``stream``; ``ValueError`` naming ``where``."""
    start = stream.tell()
    try:
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(stream)
        elif version in ((2, 0), (3, 0)):  # 3.0 differs only in the header's text encoding
            shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(stream)
        else:
            raise ValueError(f"unsupported .npy format version {version}")
    # NumPy parses the header with tokenize and ast.literal_eval, which raise their own
    # exceptions on malformed text (TokenError, SyntaxError, RecursionError, ...): any
    # failure here means the header is not valid.
    except Exception as error:
        raise NpyError(
            f"{where}: not a valid .npy array ({type(error).__name__}: {error})"
        ) from None
    if any(d < 0 for d in shape):
        raise NpyError(f"{where}: not a valid .npy array (negative dimension in {shape})")
    if dtype.hasobject:
        raise NpyError(
            f"{where}: holds Python objects (dtype {dtype}), which fastmlp never unpickles; "
            "store numbers (e.g. uint8 images, int64 labels)"
        )
    return NpyHeader(tuple(shape), dtype, bool(fortran_order), stream.tell() - start)


def read_npy_stream(
    stream: IO[bytes],
    where: str,
    declared_bytes: int | None,
    check: Check | None = None,
) -> np.ndarray:
    """Read one array from ``stream``: header, ``check(header)``, then exactly its data.

    ``check`` raises a ``ValueError`` saying what is wrong (the message gets ``where`` in
    front). ``declared_bytes``: the size the container declares for the whole ``.npy`` (file size,
    zip member size), compared with the header's before anything is allocated; ``None`` when
    unknown (then the data is read in chunks, as far as it goes, and must end exactly there).
    """
    header = read_header(stream, where)
    if check is not None:
        try:
            check(header)
        except ValueError as error:
            raise NpyError(f"{where}: {error}") from None
    expected = header.size + header.data_bytes
    if declared_bytes is not None and declared_bytes != expected:
        problem = "truncated" if declared_bytes < expected else "longer than its header says"
        raise NpyError(
            f"{where}: {problem}: the header declares {header.describe()} "
            f"({expected:,} bytes with the header), the file holds {declared_bytes:,}"
        )
    array = _allocate(header, where)
    _fill(stream, array, header, where)
    if declared_bytes is None and stream.read(1):
        raise NpyError(f"{where}: trailing bytes after {header.describe()}")
    if header.fortran_order:
        array = np.ascontiguousarray(array.reshape(header.shape[::-1]).T)
    else:
        array = array.reshape(header.shape)
    if array.dtype != native_order(array.dtype):
        array.byteswap(inplace=True)
        array = array.view(native_order(array.dtype))
    return array


def _allocate(header: NpyHeader, where: str) -> np.ndarray:
    try:
        return np.empty(math.prod(header.shape), dtype=header.dtype)
    except (MemoryError, ValueError, OverflowError):
        raise MemoryError(
            f"{where}: declares {header.describe()} ({header.data_bytes:,} bytes), more than "
            "can be allocated"
        ) from None


def _fill(stream: IO[bytes], array: np.ndarray, header: NpyHeader, where: str) -> None:
    """Read ``array.nbytes`` bytes into ``array``, at most a chunk at a time."""
    view = memoryview(array.reshape(-1).view(np.uint8).data) if array.nbytes else memoryview(b"")
    done = 0
    while done < array.nbytes:
        got = stream.readinto(view[done : done + CHUNK_BYTES])  # type: ignore[attr-defined]
        if not got:
            raise NpyError(
                f"{where}: truncated: {header.describe()} needs {array.nbytes:,} bytes of data, "
                f"found {done:,}"
            )
        done += got


def read_npy(path: str | os.PathLike[str], check: Check | None = None) -> np.ndarray:
    """A ``.npy`` file as an array, checked by ``check(header)`` and by its size first."""
    where = os.fspath(path)
    with open(path, "rb") as stream:
        return read_npy_stream(stream, where, os.fstat(stream.fileno()).st_size, check)


def damaged_archive(detail: str) -> str:
    """The default wording for an archive zipfile cannot read."""
    return f"not a readable .npz file ({detail})"


class NpzMembers:
    """The arrays of an ``.npz`` archive, read one by one on request (a context manager).

    ``names`` are the members without their ``.npy`` suffix. ``damaged`` words the message
    for archives and members zipfile or zlib cannot read (``f"{where}: {damaged(detail)}"``).
    """

    def __init__(
        self, path: str | os.PathLike[str], damaged: Callable[[str], str] = damaged_archive
    ) -> None:
        self.where = os.fspath(path)
        self._damaged = damaged
        with self._reading():
            self._archive = zipfile.ZipFile(Path(path))
        infos = self._archive.infolist()
        seen: set[str] = set()
        for info in infos:
            if info.filename in seen:
                self._archive.close()
                raise NpyError(f"{self.where}: the member {info.filename} appears more than once")
            seen.add(info.filename)
        self._infos = {_array_name(info.filename): info for info in infos}

    @property
    def names(self) -> list[str]:
        return list(self._infos)

    def read(self, name: str, check: Check | None = None) -> np.ndarray:
        """Member ``name`` as an array (see :func:`read_npy_stream`); ``KeyError`` if absent."""
        info = self._infos[name]
        where = f"{self.where}: {name}"
        if not info.filename.endswith(".npy"):
            raise NpyError(f"{where}: not a .npy array (the member is {info.filename})")
        with self._reading(), self._archive.open(info) as stream:
            return read_npy_stream(stream, where, info.file_size, check)

    @contextmanager
    def _reading(self) -> Iterator[None]:
        """Turn zipfile's and zlib's errors into a ``ValueError`` naming the file."""
        try:
            yield
        except (FileNotFoundError, NpyError):
            raise
        except (*ZIP_ERRORS, ValueError) as error:  # e.g. a member name that is not UTF-8
            raise NpyError(f"{self.where}: {self._damaged(str(error))}") from None

    def close(self) -> None:
        self._archive.close()

    def __enter__(self) -> NpzMembers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _array_name(filename: str) -> str:
    return filename[: -len(".npy")] if filename.endswith(".npy") else filename
