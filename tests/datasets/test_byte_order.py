"""Big-endian files load as native arrays (models and data alike); big-endian arrays handed
to a model are refused with a message about the byte order, not the dtype."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest

from fastmlp import MLP, datasets
from fastmlp.cli import main


def big_endian_copy(good: Path, bad: Path) -> None:
    """``good``'s model with every array stored big-endian (as a big-endian machine saves)."""
    with np.load(good) as archive:
        arrays = {name: archive[name] for name in archive.files}
    metadata = arrays.pop("metadata")
    swapped = {name: a.astype(a.dtype.newbyteorder(">")) for name, a in arrays.items()}
    np.savez(bad, metadata=metadata, **swapped)
    assert json.loads(str(metadata))["dtype"] in ("float32", "float64")


@pytest.mark.parametrize("engine", ["rust", "numpy"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_big_endian_model_file_loads_native_and_predicts(
    tmp_path: Path, engine: str, dtype: str
) -> None:
    model = MLP([6, 5, 3], dtype=dtype, seed=0)
    good = model.save(tmp_path / "good.npz")
    big_endian_copy(good, tmp_path / "big.npz")
    loaded = MLP.load(tmp_path / "big.npz", engine=engine)
    for array in loaded.weights + loaded.biases:
        assert array.dtype == np.dtype(dtype) and array.dtype.isnative
        assert array.flags.c_contiguous and array.flags.writeable
    x = np.random.default_rng(0).random((4, 6)).astype(dtype)
    np.testing.assert_array_equal(
        loaded.predict_proba(x), MLP.load(good, engine=engine).predict_proba(x)
    )
    loaded.fit(x, np.array([0, 1, 2, 0]), epochs=1, batch_size=2)  # and trains in place


def test_big_endian_keras_npz_loads_native(tmp_path: Path) -> None:
    path = tmp_path / "big.npz"
    np.savez(
        path,
        x_train=np.full((3, 28, 28), 200, dtype=">u2"),
        y_train=np.array([0, 1, 2], dtype=">i8"),
        x_test=np.full((2, 784), 7, dtype=">i4"),
        y_test=np.array([2, 1], dtype=">i2"),
    )
    data = datasets.load(path)
    assert data.x_train.dtype == np.uint8 and (data.x_train == 200).all()
    assert data.x_test.shape == (2, 28, 28) and (data.x_test == 7).all()
    assert data.y_train.dtype == np.int64 and data.y_train.tolist() == [0, 1, 2]


@pytest.mark.parametrize("dtype", [">f4", ">f8", ">u2"])
def test_predict_reads_big_endian_npy(tmp_path: Path, dtype: str) -> None:
    model = MLP([784, 10], seed=0)
    model_path = model.save(tmp_path / "m.npz")
    images = datasets.load("mnist-sample").x_test[:3]
    values = images.astype(dtype) if dtype == ">u2" else (images / 255).astype(dtype)
    np.save(tmp_path / "images.npy", values)
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = main(["predict", str(model_path), str(tmp_path / "images.npy")])
    assert code == 0
    classes = [int(line.split(":")[1].split()[0]) for line in out.getvalue().splitlines()]
    assert classes == model.predict(datasets.prepare(images)).tolist()


@pytest.mark.parametrize("engine", ["rust", "numpy"])
def test_big_endian_inputs_are_refused_for_their_byte_order(engine: str) -> None:
    model = MLP([4, 3], seed=0, engine=engine)
    x = np.random.default_rng(0).random((5, 4)).astype(">f4")
    with pytest.raises(TypeError) as raised:
        model.predict(x)
    message = str(raised.value)
    assert "byte order" in message and "x.astype(np.float32)" in message, message
    assert "build the model with" not in message  # the model already is float32
