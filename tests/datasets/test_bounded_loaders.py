"""Crafted files cannot make a loader allocate much more than the data they declare and may
hold: names, ``.npy`` headers and declared sizes are checked before any data is read, and
compressed data is decompressed only as far as the declared size.

Each test builds a small file that expands to far more than it declares (a deflated member of
zeros, a gzip stream of zeros) and measures the loader's peak memory with ``tracemalloc``
(NumPy reports its array buffers to it; zlib's output is Python bytes): a bound, not a timing.
"""

from __future__ import annotations

import gzip
import io
import json
import struct
import tracemalloc
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from fastmlp import MLP, datasets
from fastmlp.cli.predict import read_numpy

BOMB_BYTES = 96 << 20  # what each crafted member or stream expands to
PEAK_LIMIT = 16 << 20  # what a loader may use on these small files, far below BOMB_BYTES
CHUNK = b"\0" * (1 << 20)


@contextmanager
def peak_memory() -> Iterator[list[int]]:
    """Measure the peak of traced allocations inside the block: ``result[0]`` in bytes."""
    result = [0]
    tracemalloc.start()
    try:
        yield result
    finally:
        result[0] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()


def assert_bounded(load: Callable[[], object], match: str) -> None:
    with peak_memory() as peak, pytest.raises(ValueError, match=match):
        load()
    assert peak[0] < PEAK_LIMIT, f"peak {peak[0] >> 20} MiB"


def add_zeros_member(path: Path, name: str, header: bytes = b"", size: int = BOMB_BYTES) -> None:
    """Append a deflated member ``name``: ``header`` then ``size`` zero bytes."""
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open(name, "w", force_zip64=True) as member:
            member.write(header)
            for _ in range(size // len(CHUNK)):
                member.write(CHUNK)


def npy_header(shape: tuple[int, ...], descr: str = "|u1") -> bytes:
    """A version 1.0 ``.npy`` header for ``shape`` and ``descr``."""
    stream = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        stream, {"descr": descr, "fortran_order": False, "shape": shape}
    )
    return stream.getvalue()  # the magic string, the version and the header


# ---- model files -------------------------------------------------------------------------------


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    return MLP([12, 8, 3], seed=0).save(tmp_path / "model.npz")


def test_model_with_an_extra_deflated_member(model_file: Path) -> None:
    add_zeros_member(model_file, "junk.npy", npy_header((BOMB_BYTES,)))
    assert_bounded(lambda: MLP.load(model_file), r"junk")
    assert model_file.stat().st_size < BOMB_BYTES // 100  # a small file


def _rewrite_member(path: Path, name: str, header: bytes) -> None:
    """Rewrite ``path`` with member ``name`` replaced by ``header`` + zeros (deflated)."""
    with zipfile.ZipFile(path) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    path.unlink()
    with zipfile.ZipFile(path, "w") as archive:
        for member, content in members.items():
            if member != name:
                archive.writestr(member, content)
    add_zeros_member(path, name, header)


def test_model_member_longer_than_its_header_declares(model_file: Path) -> None:
    _rewrite_member(model_file, "W0.npy", npy_header((12, 8), "<f4"))
    assert_bounded(lambda: MLP.load(model_file), r"W0")


def test_model_member_declaring_another_shape(model_file: Path) -> None:
    # W0's header says (BOMB_BYTES / 4,) floats: refused by its header, before reading data
    _rewrite_member(model_file, "W0.npy", npy_header((BOMB_BYTES // 4,), "<f4"))
    assert_bounded(lambda: MLP.load(model_file), r"W0: should be float32 of shape \(12, 8\)")


def test_model_metadata_declaring_a_huge_string(model_file: Path) -> None:
    _rewrite_member(model_file, "metadata.npy", npy_header((), f"<U{BOMB_BYTES // 4}"))
    assert_bounded(lambda: MLP.load(model_file), r"metadata")


def test_model_with_duplicate_members(model_file: Path) -> None:
    with zipfile.ZipFile(model_file) as archive:
        w0 = archive.read("W0.npy")
    with pytest.warns(UserWarning, match="Duplicate name"):  # zipfile's own warning
        with zipfile.ZipFile(model_file, "a") as archive:
            archive.writestr("W0.npy", w0)
    with pytest.raises(ValueError, match=r"W0\.npy.*more than once"):
        MLP.load(model_file)


# ---- IDX files --------------------------------------------------------------------------------


def idx_header(shape: tuple[int, ...]) -> bytes:
    return bytes([0, 0, 0x08, len(shape)]) + struct.pack(f">{len(shape)}I", *shape)


def gzip_zeros(path: Path, header: bytes) -> Path:
    with gzip.open(path, "wb", compresslevel=1) as stream:
        stream.write(header)
        for _ in range(BOMB_BYTES // len(CHUNK)):
            stream.write(CHUNK)
    return path


def test_idx_gz_is_decompressed_only_to_its_declared_size(tmp_path: Path) -> None:
    path = gzip_zeros(tmp_path / "images.gz", idx_header((2, 28, 28)))
    assert_bounded(lambda: datasets.read_idx(path), r"images\.gz: more than \d+ trailing bytes")


def test_idx_gz_declaring_more_than_it_holds(tmp_path: Path) -> None:
    path = tmp_path / "short.gz"
    path.write_bytes(gzip.compress(idx_header((60000, 28, 28)) + b"\0" * 1000))
    with pytest.raises(ValueError, match=r"short\.gz: truncated IDX payload"):
        datasets.read_idx(path)


def test_raw_idx_declaring_an_absurd_shape_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "absurd-idx3-ubyte"
    path.write_bytes(idx_header((4_000_000_000, 4_000_000_000, 28)) + b"\0" * 100)
    assert_bounded(lambda: datasets.read_idx(path), r"truncated IDX payload")


def test_raw_idx_with_a_large_tail_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "tail-idx1-ubyte"
    with open(path, "wb") as stream:
        stream.write(idx_header((3,)) + b"\1\2\3")
        stream.seek(BOMB_BYTES)  # a sparse file: large, but nothing to decompress
        stream.write(b"\0")
    assert_bounded(lambda: datasets.read_idx(path), r"trailing bytes")


# ---- keras-style .npz and predict's NumPy inputs ------------------------------------------------


def keras_file(path: Path) -> Path:
    np.savez(
        path,
        x_train=np.zeros((4, 28, 28), np.uint8),
        y_train=np.arange(4),
        x_test=np.zeros((2, 28, 28), np.uint8),
        y_test=np.arange(2),
    )
    return path


def test_keras_npz_member_longer_than_declared(tmp_path: Path) -> None:
    path = keras_file(tmp_path / "data.npz")
    _rewrite_member(path, "x_train.npy", npy_header((4, 28, 28)))
    assert_bounded(lambda: datasets.load(path), r"x_train")


def test_keras_npz_extra_member_is_never_read(tmp_path: Path) -> None:
    path = keras_file(tmp_path / "data.npz")
    add_zeros_member(path, "extra.npy", npy_header((BOMB_BYTES,)))
    with peak_memory() as peak:
        data = datasets.load(path)
    assert peak[0] < PEAK_LIMIT and len(data.x_train) == 4


def test_keras_npz_with_an_object_array(tmp_path: Path) -> None:
    path = tmp_path / "objects.npz"
    images = np.empty(2, dtype=object)
    np.savez(path, x_train=images, y_train=np.arange(2), x_test=images, y_test=np.arange(2))
    with pytest.raises(ValueError, match=r"x_train.*object"):
        datasets.load(path)


def test_predict_npz_member_longer_than_declared(tmp_path: Path) -> None:
    path = keras_file(tmp_path / "data.npz")
    _rewrite_member(path, "x_test.npy", npy_header((2, 28, 28)))
    with peak_memory() as peak, pytest.raises(Exception, match=r"x_test"):
        read_numpy(path)
    assert peak[0] < PEAK_LIMIT


def test_npy_declaring_an_absurd_shape_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "absurd.npy"
    path.write_bytes(npy_header((10**12, 28, 28)) + b"\0" * 100)
    with peak_memory() as peak, pytest.raises(Exception, match=r"absurd\.npy.*declares"):
        read_numpy(path)
    assert peak[0] < PEAK_LIMIT


# ---- CSV ---------------------------------------------------------------------------------------


def test_csv_gz_of_one_endless_line(tmp_path: Path) -> None:
    path = tmp_path / "bomb.csv.gz"
    with gzip.open(path, "wb", compresslevel=1) as stream:
        for _ in range(BOMB_BYTES // len(CHUNK)):
            stream.write(b"1" * len(CHUNK))
    assert_bounded(lambda: datasets.read_csv(path), r"bomb\.csv\.gz, line 1")


def test_csv_gz_reads_rows_in_bounded_memory(tmp_path: Path) -> None:
    """Memory is a small multiple of the images it holds, not of the text's size."""
    rows = 4000
    row = ("7," + ",".join(["255"] * 784) + "\n").encode()
    path = tmp_path / "many.csv.gz"
    path.write_bytes(gzip.compress(row * rows, compresslevel=1))
    with peak_memory() as peak:
        images, labels = datasets.read_csv(path)
    assert images.shape == (rows, 28, 28) and (labels == 7).all()
    assert peak[0] < 4 * images.nbytes + (4 << 20), f"peak {peak[0] >> 20} MiB"


def test_json_metadata_bomb_is_bounded(model_file: Path) -> None:
    """A metadata string of the allowed size but deeply nested: a ValueError, not json's
    RecursionError."""
    with zipfile.ZipFile(model_file) as archive:
        members = {i.filename: archive.read(i) for i in archive.infolist()}
    text = str(np.load(io.BytesIO(members["metadata.npy"])))
    nested = text[:-1] + ', "extra": ' + "[" * 100_000 + "]" * 100_000 + "}"
    json.loads(text)  # the original parses
    buffer = io.BytesIO()
    np.save(buffer, np.array(nested))
    members["metadata.npy"] = buffer.getvalue()
    with zipfile.ZipFile(model_file, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    with pytest.raises(ValueError, match="metadata is nested too deeply"):
        MLP.load(model_file)


def test_zlib_is_what_the_bombs_use() -> None:
    """The crafted members really are small: deflate shrinks zeros about 1000 times."""
    assert len(zlib.compress(CHUNK)) < len(CHUNK) // 500
