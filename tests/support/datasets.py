"""Helpers of the dataset tests: a tiny IDX writer (independent of the reader), tiny
datasets, and a fake network for the downloader."""

from __future__ import annotations

import gzip
import io
import struct
import urllib.error
from pathlib import Path

import numpy as np

IDX_CODES = {
    np.dtype("uint8"): 0x08,
    np.dtype("int8"): 0x09,
    np.dtype("int16"): 0x0B,
    np.dtype("int32"): 0x0C,
    np.dtype("float32"): 0x0D,
    np.dtype("float64"): 0x0E,
}


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode ``array`` as IDX: 0, 0, dtype code, ndim, big-endian u32 dims, big-endian data."""
    code = IDX_CODES[array.dtype]
    header = struct.pack(">BBBB", 0, 0, code, array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_idx(path: Path, array: np.ndarray, compress: bool = False) -> Path:
    data = idx_bytes(array)
    path.write_bytes(gzip.compress(data, mtime=0) if compress else data)
    return path


def tiny_split(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = (np.arange(n) % 10).astype(np.uint8)
    return images, labels


def keras_arrays(n_train: int = 5, n_test: int = 2) -> dict[str, np.ndarray]:
    """A Keras-style npz's four arrays of tiny splits."""
    x_train, y_train = tiny_split(n_train, 1)
    x_test, y_test = tiny_split(n_test, 2)
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


def write_idx_dataset(
    directory: Path,
    n_train: int = 6,
    n_test: int = 3,
    *,
    compress: bool = True,
    dotted: bool = False,
    seed: int = 0,
) -> Path:
    """Write the four IDX files of a tiny dataset; n_train identifies it in assertions."""
    directory.mkdir(parents=True, exist_ok=True)
    ext = ".gz" if compress else ""
    sep = "." if dotted else "-"
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images, labels = tiny_split(n, seed)
        write_idx(directory / f"{prefix}-images{sep}idx3-ubyte{ext}", images, compress)
        write_idx(directory / f"{prefix}-labels{sep}idx1-ubyte{ext}", labels, compress)
    return directory


class FakeResponse(io.BytesIO):
    """What urlopen returns: a readable body with headers, usable as a context manager."""

    def __init__(
        self,
        body: bytes,
        declared: int | None = None,
        fail_after: int | None = None,
        error: BaseException | None = None,
    ) -> None:
        super().__init__(body)
        length = len(body) if declared is None else declared
        self.headers = {"Content-Length": str(length)}
        self.fail_after = fail_after
        self.error = error

    def read(self, size: int = -1) -> bytes:
        if self.fail_after is not None and self.tell() >= self.fail_after:
            raise self.error or ConnectionResetError("connection reset by peer")
        if self.fail_after is not None:
            size = self.fail_after - self.tell()
        return super().read(size)


class FakeNetwork:
    """Replaces urlopen: serves ``routes[url]`` (bytes, a FakeResponse factory, or an error)."""

    def __init__(self, routes: dict[str, object]) -> None:
        self.routes = routes
        self.requests: list[object] = []

    def __call__(self, request, timeout=None):
        self.requests.append(request)
        route = self.routes.get(request.full_url)
        if route is None:
            raise urllib.error.URLError("name resolution failed (simulated)")
        if isinstance(route, BaseException):
            raise route
        if callable(route):
            return route()
        return FakeResponse(route)

    @property
    def urls(self) -> list[str]:
        return [r.full_url for r in self.requests]


MIRRORS = ("https://mirror-a.test/mnist/", "https://mirror-b.test/mnist/")


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []
