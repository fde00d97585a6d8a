"""``fastmlp.datasets.read_npz`` (Keras-style archives; no pickles) and ``read_csv`` (with or
without a header, the label first or last, bad rows named by line).
"""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import numpy as np
import pytest

from fastmlp.datasets import (
    Dataset,
    load,
    read_csv,
    read_npz,
)
from tests.support.datasets import (
    keras_arrays,
    tiny_split,
)

# ---------------------------------------------------------------------------------------
# npz
# ---------------------------------------------------------------------------------------


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
