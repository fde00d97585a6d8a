"""Tests for fastmlp.datasets: formats, lookup order, downloads, encoding, the bundled sample.

Every file is written by the tests under tmp_path, the network is simulated by replacing
``fastmlp.datasets.downloader.urlopen``, and the environment (FASTMLP_DATA, XDG_CACHE_HOME,
HOME) is redirected, so nothing outside tmp_path is read or written -- except the bundled
sample and, when installed, Debian's Fashion-MNIST in /usr/share/datasets/fashion-mnist.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import http.client
import importlib.util
import io
import re
import struct
import tempfile
import urllib.error
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fastmlp import datasets
from fastmlp.datasets import (
    Dataset,
    DatasetNotFoundError,
    DownloadError,
    downloader,
    load,
    one_hot,
    prepare,
    read_csv,
    read_idx,
    read_npz,
    sources,
)

REPO = Path(__file__).resolve().parent.parent
DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")

# ---------------------------------------------------------------------------------------
# helpers: a tiny IDX writer (independent of the reader), tiny datasets, a fake network
# ---------------------------------------------------------------------------------------

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


@pytest.fixture
def env(tmp_path, monkeypatch):
    """Isolate lookup: no FASTMLP_DATA, HOME and the cache under tmp_path, no system dir."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.delenv("FASTMLP_DATA", raising=False)
    system = tmp_path / "system" / "mnist"
    mnist = dataclasses.replace(sources.MNIST, system_dirs=(str(system),))
    monkeypatch.setattr(sources, "DATASETS", MappingProxyType({"mnist": mnist}))
    net = FakeNetwork({})
    monkeypatch.setattr(downloader, "urlopen", net)
    return {"home": home, "system": system, "net": net, "tmp": tmp_path}


@pytest.fixture
def served(tmp_path, monkeypatch, env):
    """A fake mirror pair serving a tiny "mnist" whose published MD5s match."""
    files = write_idx_dataset(tmp_path / "served", n_train=8, n_test=4)
    md5 = {}
    blobs = {}
    for name in sources.MNIST.download_names():
        blob = (files / name).read_bytes()
        md5[name] = hashlib.md5(blob).hexdigest()
        blobs[name] = blob
    mnist = dataclasses.replace(
        sources.MNIST,
        system_dirs=(str(env["system"]),),
        mirrors=MIRRORS,
        md5=MappingProxyType(md5),
    )
    monkeypatch.setattr(sources, "DATASETS", MappingProxyType({"mnist": mnist}))
    env["net"].routes.update({MIRRORS[0] + name: blob for name, blob in blobs.items()})
    return {**env, "blobs": blobs, "md5": md5}


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


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


# ---------------------------------------------------------------------------------------
# npz
# ---------------------------------------------------------------------------------------


def keras_arrays(n_train: int = 5, n_test: int = 2) -> dict[str, np.ndarray]:
    x_train, y_train = tiny_split(n_train, 1)
    x_test, y_test = tiny_split(n_test, 2)
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


def test_read_npz_keras_style(tmp_path):
    arrays = keras_arrays()
    np.savez(tmp_path / "mnist.npz", **arrays, extra=np.zeros(3))
    data = read_npz(tmp_path / "mnist.npz")
    assert isinstance(data, Dataset)
    assert data.name == "mnist" and data.source == str(tmp_path / "mnist.npz")
    assert data.x_train.dtype == np.uint8 and data.x_train.shape == (5, 28, 28)
    assert data.y_train.dtype == np.int64 and data.y_test.shape == (2,)
    np.testing.assert_array_equal(data.x_test, arrays["x_test"])
    high = max(arrays["y_train"].max(), arrays["y_test"].max())
    assert data.classes == tuple(str(c) for c in range(high + 1))  # from the labels


def test_read_npz_accepts_flat_images_and_wider_integers(tmp_path):
    arrays = keras_arrays()
    arrays["x_train"] = arrays["x_train"].reshape(5, 784).astype(np.int64)
    np.savez_compressed(tmp_path / "flat.npz", **arrays)
    data = read_npz(tmp_path / "flat.npz")
    assert data.x_train.shape == (5, 28, 28) and data.x_train.dtype == np.uint8


def test_read_npz_missing_keys_named(tmp_path):
    arrays = keras_arrays()
    del arrays["y_train"], arrays["x_test"]
    path = tmp_path / "partial.npz"
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match=r"missing key\(s\) y_train, x_test") as info:
        read_npz(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"x_train": np.zeros((5, 28, 28), np.float32)}, "x_train: expected integer pixels"),
        ({"x_test": np.zeros((2, 27, 28), np.uint8)}, "x_test: expected images of shape"),
        ({"x_train": np.full((5, 28, 28), 300, np.int64)}, "must lie in 0..255"),
        ({"y_train": np.zeros(4, np.int64)}, "x_train has 5 images but y_train has 4"),
        ({"y_test": np.array([0, -1])}, "labels must be >= 0"),
        ({"y_test": np.zeros((2, 1), np.uint8)}, "expected labels of shape (n,)"),
        ({"y_train": np.zeros(5, np.float64)}, "expected integer labels"),
    ],
)
def test_read_npz_rejects_bad_arrays(tmp_path, change, message):
    path = tmp_path / "bad.npz"
    np.savez(path, **{**keras_arrays(), **change})
    with pytest.raises(ValueError, match=re.escape(message)) as info:
        read_npz(path)
    assert str(path) in str(info.value)


def test_read_npz_refuses_pickles_and_garbage(tmp_path):
    arrays = keras_arrays()
    arrays["y_train"] = np.array([object()] * 5, dtype=object)
    np.savez(tmp_path / "pickled.npz", **arrays)
    with pytest.raises(ValueError, match=re.escape("pickled.npz")):
        read_npz(tmp_path / "pickled.npz")
    (tmp_path / "garbage.npz").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ValueError, match=re.escape("garbage.npz: not a readable .npz")):
        read_npz(tmp_path / "garbage.npz")
    np.save(tmp_path / "single.npy", np.zeros(3))
    with pytest.raises(ValueError, match=re.escape("single .npy array")):
        read_npz(tmp_path / "single.npy")
    with pytest.raises(FileNotFoundError):
        read_npz(tmp_path / "missing.npz")


# ---------------------------------------------------------------------------------------
# CSV
# ---------------------------------------------------------------------------------------


def csv_text(images: np.ndarray, labels: np.ndarray, header: bool, last: bool = False) -> str:
    rows = []
    if header:
        names = [f"{r}x{c}" for r in range(1, 29) for c in range(1, 29)]
        rows.append(",".join([*names, "label"] if last else ["label", *names]))
    for image, label in zip(images.reshape(len(images), -1), labels, strict=True):
        fields = [str(v) for v in image]
        rows.append(",".join([*fields, str(label)] if last else [str(label), *fields]))
    return "\n".join(rows) + "\n"


@pytest.mark.parametrize("header", [True, False])
@pytest.mark.parametrize("compress", [False, True])
def test_read_csv_with_and_without_header(tmp_path, header, compress):
    images, labels = tiny_split(7, 3)
    text = csv_text(images, labels, header).encode()
    path = tmp_path / ("mnist.csv.gz" if compress else "mnist.csv")
    path.write_bytes(gzip.compress(text) if compress else text)
    x, y = read_csv(path)
    assert x.dtype == np.uint8 and x.shape == (7, 28, 28)
    assert y.dtype == np.int64
    np.testing.assert_array_equal(x, images)
    np.testing.assert_array_equal(y, labels)


def test_read_csv_label_last_and_blank_lines(tmp_path):
    images, labels = tiny_split(4, 4)
    text = csv_text(images, labels, header=False, last=True).replace("\n", "\n\n", 1)
    (tmp_path / "m.csv").write_text(text)
    x, y = read_csv(tmp_path / "m.csv", label_column="last")
    np.testing.assert_array_equal(x, images)
    np.testing.assert_array_equal(y, labels)
    with pytest.raises(ValueError, match="label_column"):
        read_csv(tmp_path / "m.csv", label_column="middle")


def _bad_csv(tmp_path: Path, row2: str, header: bool = True) -> Path:
    good = ",".join(["3"] + ["0"] * 784)
    lines = ["label," + ",".join(f"p{i}" for i in range(784))] if header else []
    lines += [good, row2, good]
    path = tmp_path / "bad.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize(
    ("row2", "message"),
    [
        (
            ",".join(["1"] + ["0"] * 783),
            "line 3: expected 785 fields (a label and 784 pixels), got 784",
        ),
        (",".join(["1"] + ["0"] * 785), "line 3: expected 785 fields"),
        (",".join(["1", "zero"] + ["0"] * 783), "line 3, column 2: 'zero' is not a number"),
        (",".join(["1", "0", "1_0"] + ["0"] * 782), "line 3, column 3: '1_0' is not a number"),
        (
            ",".join(["1"] + ["0"] * 783 + ["256"]),
            "line 3, column 785: pixel value 256 is not an integer in 0..255",
        ),
        (",".join(["1", "-1"] + ["0"] * 783), "line 3, column 2: pixel value -1"),
        (",".join(["1", "0.5"] + ["0"] * 783), "line 3, column 2: pixel value 0.5"),
        (",".join(["1", "nan"] + ["0"] * 783), "line 3, column 2: pixel value nan"),
        (",".join(["-2"] + ["0"] * 784), "line 3: label -2 is not an integer >= 0"),
        (",".join(["1.5"] + ["0"] * 784), "line 3: label 1.5 is not an integer >= 0"),
    ],
)
def test_read_csv_rejects_bad_rows_with_line_numbers(tmp_path, row2, message):
    path = _bad_csv(tmp_path, row2)
    with pytest.raises(ValueError, match=re.escape(message)) as info:
        read_csv(path)
    assert str(path) in str(info.value)


def test_read_csv_line_numbers_without_header(tmp_path):
    path = _bad_csv(tmp_path, "1,2,3", header=False)
    with pytest.raises(ValueError, match="line 2: expected 785 fields"):
        read_csv(path)


def test_read_csv_empty_and_header_only(tmp_path):
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "header.csv").write_text("label," + ",".join(["p"] * 784) + "\n")
    for name in ("empty.csv", "header.csv"):
        with pytest.raises(ValueError, match=f"{name}: no data rows"):
            read_csv(tmp_path / name)
    (tmp_path / "latin.csv").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ValueError, match=re.escape("latin.csv: not UTF-8")):
        read_csv(tmp_path / "latin.csv")


def test_load_csv_is_a_train_split(tmp_path):
    images, labels = tiny_split(5, 5)
    (tmp_path / "digits.csv").write_text(csv_text(images, labels, header=True))
    data = load(tmp_path / "digits.csv")
    assert data.name == "digits" and len(data.x_train) == 5
    assert data.x_test.shape == (0, 28, 28) and data.y_test.shape == (0,)
    assert data.y_test.dtype == np.int64


# ---------------------------------------------------------------------------------------
# prepare / one_hot
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "float64", np.float32, np.dtype("float64")])
@pytest.mark.parametrize("shape", [(6, 28, 28), (6, 784)])
def test_prepare_rows_and_columns(dtype, shape):
    images = np.random.default_rng(0).integers(0, 256, size=shape, dtype=np.uint8)
    flat = images.reshape(6, 784)
    rows = prepare(images, dtype=dtype)
    cols = prepare(images, dtype=dtype, layout="columns")
    # bit-identical to the seed notebooks' own expressions
    np.testing.assert_array_equal(rows, flat.astype(dtype) / 255.0)
    np.testing.assert_array_equal(cols, flat.T.astype(dtype) / 255.0)
    assert rows.shape == (6, 784) and cols.shape == (784, 6)
    assert rows.dtype == np.dtype(dtype) == cols.dtype
    assert rows.flags.c_contiguous and cols.flags.c_contiguous
    assert rows.min() >= 0 and rows.max() <= 1


def test_prepare_extremes_and_seed_float64():
    images = np.array([[0] * 392 + [255] * 392], dtype=np.uint8)
    out = prepare(images, "float64")
    assert out[0, 0] == 0.0 and out[0, -1] == 1.0
    np.testing.assert_array_equal(out, images / 255.0)


def test_prepare_float_input_cast_only_when_needed():
    x = np.random.default_rng(0).random((4, 784), dtype=np.float32)
    assert prepare(x, "float32") is x or np.shares_memory(prepare(x, "float32"), x)
    x64 = prepare(x, "float64")
    assert x64.dtype == np.float64
    np.testing.assert_array_equal(x64, x.astype(np.float64))
    np.testing.assert_array_equal(prepare(x.reshape(4, 28, 28), layout="columns"), x.T)


@pytest.mark.parametrize(
    ("images", "kwargs", "error", "message"),
    [
        (
            np.zeros((2, 784), np.uint8),
            {"dtype": "float16"},
            ValueError,
            "dtype must be 'float32' or 'float64', got float16",
        ),
        (np.zeros((2, 784), np.uint8), {"dtype": "int32"}, ValueError, "dtype must be"),
        (np.zeros((2, 784), np.uint8), {"dtype": "nonsense"}, ValueError, "dtype must be"),
        (
            np.zeros((2, 784), np.uint8),
            {"layout": "cols"},
            ValueError,
            "layout must be 'rows' or 'columns'",
        ),
        (np.zeros((2, 783), np.uint8), {}, ValueError, "got (2, 783)"),
        (np.zeros((28, 28), np.uint8), {}, ValueError, "images[None]"),
        (np.zeros((2, 28, 27), np.uint8), {}, ValueError, "(n, 28, 28) or (n, 784)"),
        (np.zeros((2, 784), np.int64), {}, TypeError, "got dtype int64"),
        (np.zeros((2, 784), bool), {}, TypeError, "got dtype bool"),
        (np.full((2, 784), 255.0), {}, ValueError, "unscaled 0..255 pixels"),
        (np.full((2, 784), -0.1), {}, ValueError, "must lie in [0, 1]"),
        (np.full((2, 784), np.nan), {}, ValueError, "finite"),
    ],
)
def test_prepare_errors(images, kwargs, error, message):
    with pytest.raises(error, match=re.escape(message)):
        prepare(images, **kwargs)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_one_hot_rows_and_columns(dtype):
    labels = np.array([3, 0, 9, 3])
    rows = one_hot(labels, 10, dtype=dtype)
    cols = one_hot(labels, 10, layout="columns", dtype=dtype)
    expected = np.eye(10, dtype=dtype)[labels]
    np.testing.assert_array_equal(rows, expected)
    np.testing.assert_array_equal(cols, expected.T)
    assert rows.dtype == cols.dtype == np.dtype(dtype)
    assert rows.flags.c_contiguous and cols.flags.c_contiguous
    assert one_hot(labels).shape == (4, 10)  # inferred: max + 1
    assert one_hot(np.array([0, 1], np.uint8), 3).shape == (2, 3)
    assert one_hot([1, 2], 5).shape == (2, 5)
    assert one_hot(np.zeros(0, np.int64), 10).shape == (0, 10)


@pytest.mark.parametrize(
    ("labels", "num_classes", "message"),
    [
        (np.array([0, -1, 2]), 10, "labels must be >= 0, found -1 at index 1"),
        (np.array([0, 10, 2]), 10, "labels must be < num_classes=10, found 10 at index 1"),
        (np.array([0, 5]), 3, "num_classes=3"),
        (np.array([0, 1]), 0, "num_classes must be a positive integer, got 0"),
        (np.array([0, 1]), 2.0, "num_classes must be a positive integer"),
        (np.array([0, 1]), True, "num_classes must be a positive integer"),
        (np.array([0.0, 1.0]), 2, "labels must have an integer dtype, got float64"),
        (np.array([[0], [1]]), 2, "labels must have shape (n,), got (2, 1)"),
        (np.zeros(0, np.int64), None, "num_classes must be given when labels is empty"),
    ],
)
def test_one_hot_errors(labels, num_classes, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        one_hot(labels, num_classes)


def test_one_hot_bad_dtype_and_layout():
    with pytest.raises(ValueError, match="dtype must be"):
        one_hot([0, 1], 2, dtype="int64")
    with pytest.raises(ValueError, match="layout must be"):
        one_hot([0, 1], 2, layout="row")


# ---------------------------------------------------------------------------------------
# Dataset
# ---------------------------------------------------------------------------------------


def test_dataset_checks_fields_and_has_short_repr():
    x, y = tiny_split(3, 0)
    good = {
        "x_train": x,
        "y_train": y.astype(np.int64),
        "x_test": x[:1],
        "y_test": y[:1].astype(np.int64),
        "name": "t",
        "source": "here",
    }
    data = Dataset(**good)
    assert repr(data) == "Dataset(name='t', train=3, test=1, classes=10, source='here')"
    assert data.num_classes == 10
    with pytest.raises(dataclasses.FrozenInstanceError):
        data.name = "other"
    for change, message in [
        ({"x_train": x.astype(np.float32)}, "x_train must be a uint8 array"),
        ({"y_train": y}, "y_train must be an int64 array"),
        ({"y_test": y.astype(np.int64)}, "x_test has 1 images but y_test has 3"),
        ({"classes": ("a", "b")}, "y_train must lie in [0, 2)"),
    ]:
        with pytest.raises(ValueError, match=re.escape(message)):
            Dataset(**{**good, **change})


# ---------------------------------------------------------------------------------------
# load: paths
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("compress", [True, False])
@pytest.mark.parametrize("dotted", [False, True])
def test_load_idx_directory(tmp_path, compress, dotted):
    directory = write_idx_dataset(tmp_path / "archive", 6, 3, compress=compress, dotted=dotted)
    data = load(directory)
    assert (len(data.x_train), len(data.x_test)) == (6, 3)
    assert data.name == "archive" and data.source == str(directory)
    assert data.y_train.dtype == np.int64 and data.x_train.dtype == np.uint8
    assert load(str(directory)).x_train.shape == (6, 28, 28)


def test_load_idx_directory_problems(tmp_path):
    directory = write_idx_dataset(tmp_path / "d", 6, 3)
    (directory / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError, match="missing t10k-labels-idx1-ubyte"):
        load(directory)
    write_idx(directory / "t10k-labels-idx1-ubyte.gz", np.zeros(2, np.uint8), compress=True)
    with pytest.raises(ValueError, match=r"has 3 images but .*t10k-labels-idx1-ubyte\.gz has 2"):
        load(directory)
    write_idx(directory / "t10k-labels-idx1-ubyte.gz", np.zeros(3, np.float32), compress=True)
    message = "t10k-labels-idx1-ubyte.gz: expected integer labels"
    with pytest.raises(ValueError, match=re.escape(message)):
        load(directory)


def test_load_npz_path_and_bad_paths(tmp_path):
    np.savez(tmp_path / "k.npz", **keras_arrays())
    assert len(load(tmp_path / "k.npz").x_train) == 5
    with pytest.raises(FileNotFoundError, match="neither a dataset name"):
        load(tmp_path / "nothing-here")
    with pytest.raises(FileNotFoundError, match="'mnistt' is neither a dataset name"):
        load("mnistt")
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(ValueError, match="unsupported file type"):
        load(tmp_path / "notes.txt")
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((1, 28, 28), np.uint8))
    with pytest.raises(ValueError, match="single IDX file"):
        load(tmp_path / "train-images-idx3-ubyte")
    with pytest.raises(ValueError, match="data_dir is only used with the names"):
        load(tmp_path / "k.npz", data_dir=tmp_path)


# ---------------------------------------------------------------------------------------
# load: lookup order for names
# ---------------------------------------------------------------------------------------


def test_cache_dir_follows_xdg_and_home(env, monkeypatch, tmp_path):
    assert datasets.cache_dir() == env["home"] / ".cache" / "fastmlp"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert datasets.cache_dir() == tmp_path / "xdg" / "fastmlp"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")
    assert datasets.cache_dir() == env["home"] / ".cache" / "fastmlp"


def test_data_dirs_order(env, monkeypatch, tmp_path):
    monkeypatch.setenv("FASTMLP_DATA", str(tmp_path / "envdata"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert datasets.data_dirs("mnist", tmp_path / "dd") == [
        tmp_path / "dd" / "mnist",
        tmp_path / "dd" / "MNIST" / "raw",
        tmp_path / "dd",
        tmp_path / "envdata" / "mnist",
        tmp_path / "envdata" / "MNIST" / "raw",
        tmp_path / "xdg" / "fastmlp" / "mnist",
        env["system"],
    ]
    with pytest.raises(ValueError, match="no downloadable dataset named 'cifar'"):
        datasets.data_dirs("cifar")


def test_lookup_order_data_dir_env_cache_system(env, monkeypatch, tmp_path):
    """Each location wins over the ones after it; n_train tells which one was read."""
    xdg = tmp_path / "xdg"
    monkeypatch.setenv("XDG_CACHE_HOME", str(xdg))
    monkeypatch.setenv("FASTMLP_DATA", str(tmp_path / "envdata"))
    places = [
        (tmp_path / "dd" / "mnist", 11),
        (tmp_path / "dd", 12),
        (tmp_path / "envdata" / "mnist", 13),
        (tmp_path / "envdata" / "MNIST" / "raw", 14),
        (xdg / "fastmlp" / "mnist", 15),
        (env["system"], 16),
    ]
    for directory, n in places:
        write_idx_dataset(directory, n_train=n, n_test=2)
    for directory, n in places:
        data = load("mnist", data_dir=tmp_path / "dd", download=False)
        assert (data.source, len(data.x_train)) == (str(directory), n)
        assert data.name == "mnist" and data.classes == sources.MNIST.classes
        for f in directory.glob("*-ubyte.gz"):
            f.unlink()
    assert env["net"].requests == []


def test_lookup_env_root_itself_is_not_used(env, monkeypatch, tmp_path):
    write_idx_dataset(tmp_path / "envdata", n_train=6)
    monkeypatch.setenv("FASTMLP_DATA", str(tmp_path / "envdata"))
    with pytest.raises(DatasetNotFoundError):
        load("mnist", download=False)


def test_lookup_home_cache_when_xdg_unset(env):
    cached = write_idx_dataset(env["home"] / ".cache" / "fastmlp" / "mnist", n_train=9)
    data = load("MNIST", download=False)
    assert data.source == str(cached) and len(data.x_train) == 9


def test_corrupt_file_in_found_directory_is_an_error_not_a_fallback(env, tmp_path):
    write_idx_dataset(env["system"], n_train=6)
    bad = write_idx_dataset(tmp_path / "dd", n_train=6)
    (bad / "train-images-idx3-ubyte.gz").write_bytes(b"\x1f\x8b broken")
    with pytest.raises(ValueError, match=re.escape("train-images-idx3-ubyte.gz: corrupt")):
        load("mnist", data_dir=bad, download=False)


def test_not_found_lists_every_path_tried(env, monkeypatch, tmp_path):
    monkeypatch.setenv("FASTMLP_DATA", str(tmp_path / "envdata"))
    partial = write_idx_dataset(tmp_path / "dd", n_train=4)
    (partial / "train-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DatasetNotFoundError) as info:
        load("mnist", data_dir=partial, download=False)
    error = info.value
    assert isinstance(error, FileNotFoundError)
    expected = [str(p) for p in datasets.data_dirs("mnist", partial)]
    assert error.paths_tried == expected
    message = str(error)
    for path in expected:
        assert path in message
    assert "missing train-labels-idx1-ubyte[.gz]" in message
    assert "no such directory" in message
    assert "download=False" in message
    for advice in ("FASTMLP_DATA", "data_dir=", "load('mnist-sample')", "download=True"):
        assert advice in message
    assert env["net"].requests == []


def test_not_found_without_data_dir_or_env_says_so(env):
    with pytest.raises(DatasetNotFoundError) as info:
        load("mnist", download=False)
    message = str(info.value)
    assert "data_dir argument: not given" in message
    assert "$FASTMLP_DATA: not set" in message
    assert str(env["home"] / ".cache" / "fastmlp" / "mnist") in message
    assert str(env["system"]) in message


# ---------------------------------------------------------------------------------------
# downloads (simulated network)
# ---------------------------------------------------------------------------------------


def test_download_success_then_cache_hit(served, capsys):
    data = load("mnist")
    cache = served["home"] / ".cache" / "fastmlp" / "mnist"
    assert data.source == str(cache) and len(data.x_train) == 8
    assert leftovers(cache) == sorted(sources.MNIST.download_names())
    for name, blob in served["blobs"].items():
        assert (cache / name).read_bytes() == blob
    assert served["net"].urls == [MIRRORS[0] + n for n in sources.MNIST.download_names()]
    assert all(r.get_header("User-agent") for r in served["net"].requests)
    assert "downloading" in capsys.readouterr().err
    load("mnist")
    assert len(served["net"].requests) == 4  # second load: no network


def test_download_falls_back_to_second_mirror(served):
    net = served["net"]
    for name, blob in served["blobs"].items():
        net.routes[MIRRORS[1] + name] = blob
        net.routes[MIRRORS[0] + name] = urllib.error.HTTPError(
            MIRRORS[0] + name, 403, "Forbidden", {}, None
        )
    data = load("mnist")
    assert len(data.x_train) == 8
    assert [u.split("/")[2] for u in net.urls] == ["mirror-a.test", "mirror-b.test"] * 4


def test_download_wrong_checksum_leaves_nothing(served):
    net = served["net"]
    for name, blob in served["blobs"].items():
        net.routes[MIRRORS[0] + name] = blob + b"tampered"
    with pytest.raises(DatasetNotFoundError) as info:
        load("mnist")
    message = str(info.value)
    assert "checksum mismatch" in message
    assert served["md5"]["train-images-idx3-ubyte.gz"] in message
    assert MIRRORS[0] in message and MIRRORS[1] in message
    assert isinstance(info.value.__cause__, DownloadError)
    cache = served["home"] / ".cache" / "fastmlp" / "mnist"
    assert leftovers(cache) == []


@pytest.mark.parametrize(
    "response",
    [
        lambda body: FakeResponse(body, fail_after=len(body) // 2),
        lambda body: FakeResponse(body[: len(body) // 2], declared=len(body)),
        lambda body: FakeResponse(body, fail_after=10, error=http.client.IncompleteRead(b"")),
    ],
    ids=["connection-reset", "short-body", "incomplete-read"],
)
def test_download_interrupted_leaves_no_partial_file(served, response):
    net = served["net"]
    name = "t10k-labels-idx1-ubyte.gz"  # the last of the four
    body = served["blobs"][name]
    net.routes[MIRRORS[0] + name] = lambda: response(body)
    with pytest.raises(DatasetNotFoundError, match="interrupted"):
        load("mnist")
    cache = served["home"] / ".cache" / "fastmlp" / "mnist"
    assert leftovers(cache) == sorted(set(sources.MNIST.download_names()) - {name})
    # the next call downloads only what is missing
    net.routes[MIRRORS[0] + name] = body
    before = len(net.requests)
    assert len(load("mnist").x_train) == 8
    assert net.urls[before:] == [MIRRORS[0] + name]


def test_download_ctrl_c_removes_temp_file(served):
    name = "train-images-idx3-ubyte.gz"
    body = served["blobs"][name]
    served["net"].routes[MIRRORS[0] + name] = lambda: FakeResponse(
        body, fail_after=5, error=KeyboardInterrupt()
    )
    with pytest.raises(KeyboardInterrupt):
        load("mnist")
    assert leftovers(served["home"] / ".cache" / "fastmlp" / "mnist") == []


def test_download_no_network(env):
    with pytest.raises(DatasetNotFoundError) as info:
        load("mnist")
    message = str(info.value)
    assert "request failed" in message and "simulated" in message
    assert "retry with network access" in message
    assert len(env["net"].requests) == 2  # both mirrors, first file


def test_download_function_keeps_good_files_and_replaces_bad(served, tmp_path):
    target = tmp_path / "explicit"
    assert datasets.download("mnist", target) == target
    (target / "t10k-labels-idx1-ubyte.gz").write_bytes(b"corrupted")
    before = len(served["net"].requests)
    datasets.download("mnist", target)
    assert served["net"].urls[before:] == [MIRRORS[0] + "t10k-labels-idx1-ubyte.gz"]
    assert len(load(target).x_test) == 4
    with pytest.raises(ValueError, match="no downloadable dataset named 'mnist-sample'"):
        datasets.download("mnist-sample")


def test_published_checksums_are_torchvisions():
    assert sources.MNIST.md5["train-images-idx3-ubyte.gz"] == "f68b3c2dcbeaaa9fbdd348bbdeb94873"
    fashion = sources.FASHION_MNIST.md5
    assert fashion["t10k-labels-idx1-ubyte.gz"] == "bb300cfdad3c16e7a12a480ee83cd310"
    for source in sources.DATASETS.values():
        assert set(source.md5) == set(source.download_names())
        assert all(re.fullmatch(r"[0-9a-f]{32}", v) for v in source.md5.values())
    assert sources.MNIST.mirrors[0] == "https://ossci-datasets.s3.amazonaws.com/mnist/"


# ---------------------------------------------------------------------------------------
# the bundled sample and its script
# ---------------------------------------------------------------------------------------


def test_mnist_sample_counts_and_split():
    data = load("mnist-sample")
    assert data.name == "mnist-sample" and data.source.endswith("mnist_sample.npz")
    assert data.x_train.shape == (4000, 28, 28) and data.x_test.shape == (1000, 28, 28)
    assert data.x_train.dtype == np.uint8 and data.y_train.dtype == np.int64
    assert np.bincount(data.y_train).tolist() == [400] * 10
    assert np.bincount(data.y_test).tolist() == [100] * 10
    counts = np.bincount(np.concatenate([data.y_train, data.y_test]))
    assert counts.tolist() == [500] * 10
    assert data.classes == tuple("0123456789")
    assert 0 < data.x_train.mean() < 255 and data.x_train.max() == 255
    assert len(set(data.y_train[:20].tolist())) > 1  # shuffled, not sorted


def test_mnist_sample_matches_its_readme():
    readme = (REPO / "python" / "fastmlp" / "data" / "README.md").read_text()
    data = load("mnist-sample")
    for key in ("x_train", "y_train", "x_test", "y_test"):
        recorded = re.search(rf"\| `{key}` \| `([0-9a-f]{{64}})` \|", readme).group(1)
        assert hashlib.sha256(getattr(data, key).tobytes()).hexdigest() == recorded, key


def test_make_mnist_sample_script(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location(
        "make_mnist_sample", REPO / "scripts" / "make_mnist_sample.py"
    )
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    rng = np.random.default_rng(7)
    labels = np.repeat(np.arange(10), 10)
    pixels = rng.integers(0, 256, size=(100, 784))
    rows = "\n".join(",".join(map(str, [*p, y])) for p, y in zip(pixels, labels, strict=True))
    source = tmp_path / "mnist_5k.csv.gz"
    source.write_bytes(gzip.compress(rows.encode(), mtime=0))
    out = tmp_path / "sample.npz"
    assert script.main([str(source), "-o", str(out)]) == 0
    first = out.read_bytes()
    data = read_npz(out)
    assert np.bincount(data.y_train).tolist() == [8] * 10
    assert np.bincount(data.y_test).tolist() == [2] * 10
    everything = np.concatenate([data.x_train, data.x_test]).reshape(100, 784)
    assert sorted(map(bytes, everything)) == sorted(map(bytes, pixels.astype(np.uint8)))
    assert "per class: [10, 10" in capsys.readouterr().out
    script.main([str(source), "-o", str(out)])
    assert out.read_bytes() == first  # reproducible bytes


# ---------------------------------------------------------------------------------------
# Debian's dataset-fashion-mnist
# ---------------------------------------------------------------------------------------


@pytest.mark.skipif(
    not (DEBIAN_FASHION / "train-images-idx3-ubyte.gz").is_file(),
    reason="Debian's dataset-fashion-mnist is not installed (/usr/share/datasets/fashion-mnist)",
)
def test_debian_fashion_mnist(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.delenv("FASTMLP_DATA", raising=False)
    monkeypatch.setattr(downloader, "urlopen", FakeNetwork({}))
    data = load("fashion-mnist", download=False)
    assert data.source == str(DEBIAN_FASHION)
    assert data.x_train.shape == (60000, 28, 28) and data.x_test.shape == (10000, 28, 28)
    assert data.x_train.dtype == np.uint8
    assert np.bincount(data.y_train).tolist() == [6000] * 10
    assert np.bincount(data.y_test).tolist() == [1000] * 10
    assert data.classes[0] == "T-shirt/top" and data.classes[9] == "Ankle boot"
