"""``fastmlp.datasets.read_idx``: every dtype, gzip by content, malformed and corrupt files,
and round trips and corruptions drawn by hypothesis.
"""

from __future__ import annotations

import gzip
import re
import struct
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fastmlp.datasets import (
    read_idx,
)
from tests.support.datasets import (
    IDX_CODES,
    idx_bytes,
    tiny_split,
    write_idx,
)

# ---------------------------------------------------------------------------------------
# IDX
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", list(IDX_CODES))
@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_round_trips_every_dtype(tmp_path, dtype, compress):
    rng = np.random.default_rng(1)
    info = np.iinfo(dtype) if dtype.kind in "iu" else None
    if info is not None:
        array = rng.integers(info.min, info.max, size=(3, 4, 5), dtype=dtype, endpoint=True)
    else:
        array = rng.standard_normal((3, 4, 5)).astype(dtype)
    path = write_idx(tmp_path / "a.idx", array, compress)
    out = read_idx(path)
    assert out.dtype == dtype and out.dtype.isnative
    assert out.shape == (3, 4, 5)
    assert out.flags.writeable
    np.testing.assert_array_equal(out, array)


def test_read_idx_mnist_shapes_and_str_path(tmp_path):
    images, labels = tiny_split(5, 0)
    write_idx(tmp_path / "i", images)
    write_idx(tmp_path / "l", labels)
    assert read_idx(str(tmp_path / "i")).shape == (5, 28, 28)
    assert read_idx(tmp_path / "l").shape == (5,)


def test_read_idx_detects_gzip_by_content_not_name(tmp_path):
    array = np.arange(12, dtype=np.uint8).reshape(3, 4)
    raw_named_gz = write_idx(tmp_path / "raw.gz", array, compress=False)
    gz_named_raw = write_idx(tmp_path / "compressed-ubyte", array, compress=True)
    np.testing.assert_array_equal(read_idx(raw_named_gz), array)
    np.testing.assert_array_equal(read_idx(gz_named_raw), array)


def test_read_idx_empty_dimension(tmp_path):
    out = read_idx(write_idx(tmp_path / "e", np.zeros((0, 28, 28), np.uint8)))
    assert out.shape == (0, 28, 28)


def test_read_idx_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_idx(tmp_path / "nope-idx3-ubyte.gz")


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda b: b"\x01" + b[1:], "two zero bytes"),
        (lambda b: b[:1] + b"\x07" + b[2:], "two zero bytes"),
        (lambda b: b[:2] + b"\x0a" + b[3:], "unknown IDX dtype code 0x0A"),
        (lambda b: b[:2] + b"\xff" + b[3:], "unknown IDX dtype code 0xFF"),
        (lambda b: b[:-1], "truncated IDX payload"),
        (lambda b: b[:20], "truncated IDX payload"),
        (lambda b: b[:10], "truncated IDX header"),
        (lambda b: b[:3], "too short"),
        (lambda b: b"", "too short"),
        (lambda b: b + b"\x00", "1 trailing bytes"),
        (lambda b: b + b"junk", "4 trailing bytes"),
        (lambda b: b[:3] + b"\x00" + b[4:], "0 dimensions"),
    ],
)
@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_rejects_malformed_files(tmp_path, mutate, message, compress):
    data = mutate(idx_bytes(np.zeros((2, 28, 28), np.uint8)))
    path = tmp_path / "bad-idx3-ubyte"
    path.write_bytes(gzip.compress(data) if compress else data)
    with pytest.raises(ValueError, match=re.escape(message)) as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_read_idx_payload_size_counts_item_size(tmp_path):
    # int32 (2, 3) needs 24 payload bytes; 6 bytes (one per item) must be rejected
    data = struct.pack(">BBBBII", 0, 0, 0x0C, 2, 2, 3) + bytes(6)
    (tmp_path / "f").write_bytes(data)
    with pytest.raises(ValueError, match="needs 24 bytes, file has 6"):
        read_idx(tmp_path / "f")


@pytest.mark.parametrize(
    "corrupt",
    [
        lambda z: z[: len(z) // 2],  # cut in the middle
        lambda z: z[:-4],  # missing size trailer
        lambda z: z[:10] + bytes(b ^ 0xFF for b in z[10:30]) + z[30:],  # flipped deflate data
        lambda z: z[:-8] + b"\x00\x00\x00\x00" + z[-4:],  # wrong CRC
        lambda z: z[:2] + b"\x09" + z[3:],  # unknown method
    ],
)
def test_read_idx_rejects_corrupt_gzip(tmp_path, corrupt):
    images, _ = tiny_split(4, 0)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(corrupt(gzip.compress(idx_bytes(images))))
    with pytest.raises(ValueError, match="gzip") as info:
        read_idx(path)
    assert str(path) in str(info.value)


idx_arrays = st.sampled_from(list(IDX_CODES)).flatmap(
    lambda dtype: st.lists(st.integers(0, 5), min_size=1, max_size=3).flatmap(
        lambda shape: st.builds(
            lambda seed: _random_array(dtype, tuple(shape), seed), st.integers(0, 2**32 - 1)
        )
    )
)


def _random_array(dtype: np.dtype, shape: tuple[int, ...], seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if dtype.kind == "f":
        return rng.standard_normal(shape).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, size=shape, dtype=dtype, endpoint=True)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(array=idx_arrays, compress=st.booleans())
def test_property_read_idx_round_trip(array, compress):
    with tempfile.TemporaryDirectory() as tmp:
        path = write_idx(Path(tmp) / "x", array, compress)
        out = read_idx(path)
    assert out.dtype == array.dtype and out.shape == array.shape
    np.testing.assert_array_equal(out, array)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    array=idx_arrays,
    compress=st.booleans(),
    edits=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=4),
    cut=st.one_of(st.none(), st.integers(0, 10_000)),
    extra=st.binary(max_size=8),
)
def test_property_read_idx_corruption_raises_only_value_error(array, compress, edits, cut, extra):
    data = bytearray(idx_bytes(array))
    if compress:
        data = bytearray(gzip.compress(bytes(data)))
    for position, value in edits:
        if data:
            data[position % len(data)] = value
    if cut is not None:
        data = data[: cut % (len(data) + 1)]
    data += extra
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x"
        path.write_bytes(bytes(data))
        try:
            out = read_idx(path)
        except ValueError as exc:
            assert str(path) in str(exc)
        else:
            assert isinstance(out, np.ndarray)
