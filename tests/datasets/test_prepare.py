"""``prepare``, ``one_hot`` and ``Dataset``: scaling and flattening, one-hot rows, their
errors, and a dataset's checked fields.
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest

from fastmlp.datasets import (
    Dataset,
    one_hot,
    prepare,
)
from tests.support.datasets import (
    tiny_split,
)

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
