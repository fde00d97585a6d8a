"""Property-based tests (hypothesis) of the CSV and IDX readers on random files, and the inputs
the fuzzer found (``fuzz/regressions``), which must raise a ``ValueError`` naming the file.
"""

from __future__ import annotations

import gzip
import re
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fastmlp
from fastmlp.datasets import read_csv, read_idx
from tests.support.searches import search_settings

# ==== readers =================================================================================

READER_SETTINGS = search_settings(150)


def csv_file(
    images: np.ndarray,
    labels: np.ndarray,
    *,
    header: bool,
    last: bool,
    spelling: str,
    newline: str,
    blank_lines: bool,
) -> str:
    def field(value: int) -> str:
        return {"plain": str(value), "float": f"{value}.0", "padded": f" {value} "}[spelling]

    rows = []
    if header:
        names = [f"{r}x{c}" for r in range(1, 29) for c in range(1, 29)]
        rows.append(",".join([*names, "label"] if last else ["label", *names]))
    for image, label in zip(images.reshape(len(images), -1), labels, strict=True):
        pixels = [field(int(v)) for v in image]
        rows.append(",".join([*pixels, field(int(label))] if last else [field(label), *pixels]))
        if blank_lines:
            rows.append("")
    return newline.join(rows) + newline


@st.composite
def csv_contents(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    n = draw(st.integers(1, 4), label="images")
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1), label="seed"))
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    images[rng.random((n, 28, 28)) < draw(st.sampled_from([0.0, 0.8, 1.0]))] = 0
    labels = np.array(draw(st.lists(st.integers(0, 2**53 - 1), min_size=n, max_size=n)))
    style = {
        "header": draw(st.booleans(), label="header"),
        "last": draw(st.booleans(), label="label last"),
        "spelling": draw(st.sampled_from(["plain", "float", "padded"]), label="spelling"),
        "newline": draw(st.sampled_from(["\n", "\r\n"]), label="newline"),
        "blank_lines": draw(st.booleans(), label="blank lines"),
    }
    return images, labels, style


@READER_SETTINGS
@given(content=csv_contents(), compress=st.booleans())
def test_read_csv_round_trips_random_files(content, compress, tmp_path_factory) -> None:
    images, labels, style = content
    data = csv_file(images, labels, **style).encode()
    path = tmp_path_factory.mktemp("csv") / "data.csv"
    path.write_bytes(gzip.compress(data) if compress else data)
    x, y = read_csv(path, label_column="last" if style["last"] else "first")
    assert x.dtype == np.uint8 and x.shape == images.shape
    assert y.dtype == np.int64 and y.shape == labels.shape
    np.testing.assert_array_equal(x, images)
    np.testing.assert_array_equal(y, labels)


@READER_SETTINGS
@given(
    content=csv_contents(),
    compress=st.booleans(),
    edits=st.lists(
        st.tuples(st.integers(0, 2**20), st.sampled_from(list(b"0123456789,.-+eE \n\rx\x00\xff"))),
        min_size=1,
        max_size=4,
    ),
    cut=st.one_of(st.none(), st.integers(0, 2**20)),
    insert=st.one_of(st.none(), st.tuples(st.integers(0, 2**20), st.binary(max_size=6))),
)
def test_read_csv_on_corrupt_files_raises_only_value_error(
    content, compress, edits, cut, insert, tmp_path_factory
) -> None:
    images, labels, style = content
    data = bytearray(csv_file(images, labels, **style).encode())
    for position, value in edits:
        data[position % len(data)] = value
    if insert is not None:
        position, extra = insert
        data[position % len(data) : position % len(data)] = extra
    if compress:
        data = bytearray(gzip.compress(bytes(data)))
    if cut is not None:
        data = data[: cut % (len(data) + 1)]
    path = tmp_path_factory.mktemp("csv") / "data.csv"
    path.write_bytes(bytes(data))
    try:
        x, y = read_csv(path, label_column="last" if style["last"] else "first")
    except ValueError as error:
        assert str(path) in str(error), error
        return
    assert x.dtype == np.uint8 and x.ndim == 3 and x.shape[1:] == (28, 28) and len(x) >= 1
    assert y.dtype == np.int64 and y.shape == (len(x),) and (y >= 0).all()


IDX_CODES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


@READER_SETTINGS
@given(
    code=st.sampled_from(sorted(IDX_CODES)),
    dims=st.lists(st.sampled_from([0, 1, 2, 3, 2**16, 2**31 - 1, 2**32 - 1]), max_size=80),
    payload=st.one_of(st.none(), st.binary(max_size=64)),
)
def test_read_idx_on_any_header_returns_its_shape_or_names_the_file(
    code, dims, payload, tmp_path_factory
) -> None:
    """Random dimension lists (up to 80, some huge, some zero) with the payload they need or
    random bytes: the array of that shape, or a ValueError naming the file."""
    count = int(np.prod(dims, dtype=object)) if dims else 0
    itemsize = np.dtype(IDX_CODES[code]).itemsize
    if payload is None:
        payload = bytes(count * itemsize) if count * itemsize <= 4096 else b""
    data = bytes([0, 0, code, len(dims)]) + struct.pack(f">{len(dims)}I", *dims) + payload
    path = tmp_path_factory.mktemp("idx") / "file.idx"
    path.write_bytes(data)
    try:
        array = read_idx(path)
    except ValueError as error:
        assert str(path) in str(error), error
        return
    assert array.shape == tuple(dims) and array.dtype == np.dtype(IDX_CODES[code]).newbyteorder("=")
    assert array.dtype.isnative and array.flags.writeable


FUZZ_REGRESSIONS = Path(__file__).resolve().parents[2] / "fuzz" / "regressions"


@pytest.mark.parametrize(
    "path",
    sorted(FUZZ_REGRESSIONS.glob("*/*")) if FUZZ_REGRESSIONS.is_dir() else [],
    ids=lambda p: f"{p.parent.name}/{p.name[:20]}",
)
def test_inputs_the_fuzzer_found_raise_a_value_error_naming_the_file(path: Path, tmp_path):
    copy = tmp_path / "input"
    copy.write_bytes(path.read_bytes())
    reader = {"idx": read_idx, "csv": read_csv, "model": fastmlp.MLP.load}[path.parent.name]
    with pytest.raises(ValueError, match=re.escape(str(copy))):
        reader(copy)
