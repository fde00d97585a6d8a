"""Models record the dataset they were trained on and its class names; ``fastmlp evaluate``
and ``predict`` use them; the number of classes comes from the data's labels."""

from __future__ import annotations

import contextlib
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from fastmlp import MLP, datasets
from fastmlp.cli import main

FASHION = datasets.DATASETS["fashion-mnist"].classes


def run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def fashion_on_disk() -> bool:
    try:
        datasets.load("fashion-mnist", download=False)
    except OSError:
        return False
    return True


# ---- the model file ------------------------------------------------------------------------


def test_dataset_and_class_names_round_trip(tmp_path: Path) -> None:
    model = MLP([784, 10], seed=0)
    assert model.dataset is None and model.class_names is None
    model.dataset = "fashion-mnist"
    model.class_names = FASHION
    loaded = MLP.load(model.save(tmp_path / "m.npz"))
    assert loaded.dataset == "fashion-mnist" and loaded.class_names == FASHION


def drop_fields(path: Path, *fields: str) -> None:
    """Rewrite ``path`` as an older fastmlp wrote it: without ``fields`` in its metadata."""
    with zipfile.ZipFile(path) as archive:
        members = {i.filename: archive.read(i) for i in archive.infolist()}
    metadata = json.loads(str(np.load(io.BytesIO(members["metadata.npy"]))))
    for field in fields:
        metadata.pop(field, None)
    buffer = io.BytesIO()
    np.save(buffer, np.array(json.dumps(metadata)))
    members["metadata.npy"] = buffer.getvalue()
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)


def test_old_files_without_the_fields_still_load(tmp_path: Path) -> None:
    model = MLP([6, 3], seed=0)
    model.dataset, model.class_names = "mnist", tuple("abc")
    path = model.save(tmp_path / "m.npz")
    drop_fields(path, "dataset", "class_names")
    loaded = MLP.load(path)
    assert loaded.dataset is None and loaded.class_names is None
    np.testing.assert_array_equal(loaded.weights[0], model.weights[0])


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("class_names", ["a", "b"], "class_names"),  # 2 names for 3 classes
        ("class_names", [1, 2, 3], "class_names"),
        ("class_names", "abc", "class_names"),
        ("dataset", 5, "dataset"),
        ("dataset", "", "dataset"),
    ],
)
def test_invalid_fields_are_a_value_error(
    tmp_path: Path, field: str, value: object, fragment: str
) -> None:
    model = MLP([6, 3], seed=0)
    path = model.save(tmp_path / "m.npz")
    with zipfile.ZipFile(path) as archive:
        members = {i.filename: archive.read(i) for i in archive.infolist()}
    metadata = json.loads(str(np.load(io.BytesIO(members["metadata.npy"]))))
    metadata[field] = value
    buffer = io.BytesIO()
    np.save(buffer, np.array(json.dumps(metadata)))
    members["metadata.npy"] = buffer.getvalue()
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    with pytest.raises(ValueError, match=fragment):
        MLP.load(path)


def test_setting_class_names_of_the_wrong_length_is_refused() -> None:
    model = MLP([6, 3])
    with pytest.raises(ValueError, match=r"class_names: expected 3 names"):
        model.class_names = ("a", "b")


# ---- the command line ----------------------------------------------------------------------


def three_class_csv(path: Path, rows: int = 60) -> Path:
    rng = np.random.default_rng(0)
    labels = np.arange(rows) % 3
    pixels = rng.integers(0, 256, (rows, 784))
    pixels[:, :100] = labels[:, None] * 100  # learnable
    table = np.column_stack([labels, pixels])
    path.write_text("\n".join(",".join(map(str, row)) for row in table) + "\n")
    return path


def test_a_3_class_csv_trains_a_3_output_model(tmp_path: Path) -> None:
    data = three_class_csv(tmp_path / "three.csv")
    code, _, err = run(
        [
            "train",
            "--dataset",
            str(data),
            "--epochs",
            "2",
            "--batch-size",
            "10",
            "-q",
            "-o",
            str(tmp_path / "m.npz"),
        ]
    )
    assert code == 0, err
    model = MLP.load(tmp_path / "m.npz")
    assert model.layer_sizes[-1] == 3
    assert model.class_names == ("0", "1", "2")
    assert model.dataset == str(data.resolve())  # a path: where to find the data again


def test_train_records_the_named_dataset(tmp_path: Path) -> None:
    code, _, err = run(
        ["train", "--dataset", "mnist-sample", "--epochs", "1", "-q", "-o", str(tmp_path / "m.npz")]
    )
    assert code == 0, err
    model = MLP.load(tmp_path / "m.npz")
    assert model.dataset == "mnist-sample" and model.class_names == tuple("0123456789")


@pytest.mark.skipif(not fashion_on_disk(), reason="Fashion-MNIST not on this machine")
def test_evaluate_without_dataset_uses_the_models(tmp_path: Path) -> None:
    model = MLP([784, 10], seed=0)
    model.dataset, model.class_names = "fashion-mnist", FASHION
    path = model.save(tmp_path / "fashion.npz")
    code, out, err = run(["evaluate", str(path)])
    assert code == 0, err
    assert out.startswith("data: fashion-mnist"), out
    assert "MNIST not found" not in err


def test_evaluate_without_dataset_on_a_moved_file_says_what_to_do(tmp_path: Path) -> None:
    data = three_class_csv(tmp_path / "three.csv")
    model = MLP([784, 3], seed=0)
    model.dataset = str(data)
    path = model.save(tmp_path / "m.npz")
    data.unlink()
    code, out, err = run(["evaluate", str(path)])
    assert code == 2 and out == ""
    assert str(data) in err and "--dataset" in err and err.count("\n") == 1, err


def test_evaluate_a_path_dataset_from_the_model(tmp_path: Path) -> None:
    data = three_class_csv(tmp_path / "three.csv")
    run(
        [
            "train",
            "--dataset",
            str(data),
            "--epochs",
            "1",
            "--batch-size",
            "10",
            "-q",
            "-o",
            str(tmp_path / "m.npz"),
        ]
    )
    code, out, err = run(["evaluate", str(tmp_path / "m.npz"), "--split", "train"])
    assert code == 0, err
    assert out.startswith("data: three"), out


def test_evaluate_notes_a_dataset_other_than_the_models(tmp_path: Path) -> None:
    model = MLP([784, 10], seed=0)
    model.dataset, model.class_names = "fashion-mnist", FASHION
    path = model.save(tmp_path / "m.npz")
    code, _, err = run(["evaluate", str(path), "--dataset", "mnist-sample"])
    assert code == 0
    assert "trained on fashion-mnist" in err, err


def test_predict_prints_the_models_class_names(tmp_path: Path) -> None:
    model = MLP([784, 10], seed=0)
    model.dataset, model.class_names = "fashion-mnist", FASHION
    path = model.save(tmp_path / "m.npz")
    np.save(tmp_path / "x.npy", np.zeros((2, 28, 28), np.uint8))
    code, out, err = run(["predict", str(path), str(tmp_path / "x.npy")])
    assert code == 0, err
    predicted = model.predict(np.zeros((1, 784), np.float32))[0]
    assert f"{predicted} {FASHION[predicted]} (" in out.splitlines()[0], out


def test_predict_of_a_digit_model_prints_numbers_once(tmp_path: Path) -> None:
    model = MLP([784, 10], seed=0)
    model.class_names = tuple("0123456789")
    path = model.save(tmp_path / "m.npz")
    np.save(tmp_path / "x.npy", np.zeros((1, 28, 28), np.uint8))
    code, out, _ = run(["predict", str(path), str(tmp_path / "x.npy")])
    predicted = model.predict(np.zeros((1, 784), np.float32))[0]
    assert code == 0 and f" {predicted} (" in out and f"{predicted} {predicted}" not in out, out


def test_evaluate_accepts_data_with_fewer_classes_than_the_model(tmp_path: Path) -> None:
    """A CSV of digits 0..2 scored by a 10-class digit model: its labels fit the outputs."""
    data = three_class_csv(tmp_path / "three.csv")
    path = MLP([784, 10], seed=0).save(tmp_path / "m.npz")
    code, out, err = run(["evaluate", str(path), "--dataset", str(data), "--split", "train"])
    assert code == 0, err
    assert "train loss" in out
