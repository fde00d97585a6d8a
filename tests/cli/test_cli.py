"""The ``fastmlp`` command, driven through ``main(argv)`` end to end on the bundled sample."""

from __future__ import annotations

import contextlib
import io
import re
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fastmlp
from fastmlp import datasets
from fastmlp.cli import main

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# ---- helpers --------------------------------------------------------------------------------


def run(command: str | list[str], **paths: object) -> tuple[int, str, str]:
    """``main(argv)`` with stdout and stderr captured: ``(code, stdout, stderr)``.

    ``command`` is the argv list, or a string split at spaces whose ``{name}`` parts are
    filled from ``paths`` after the split (so paths may hold spaces).
    """
    argv = (
        command
        if isinstance(command, list)
        else [token.format(**paths) for token in command.split()]
    )
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def write_idx(path: Path, array: np.ndarray) -> Path:
    """An uncompressed IDX file of uint8 values (magic 0x0000 08 ndim, big-endian dims)."""
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + np.ascontiguousarray(array, dtype=np.uint8).tobytes())
    return path


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk, after checking the signature."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, f"{path} is not a PNG"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def accuracy_in(text: str) -> float:
    match = re.search(r"test accuracy (\d\.\d+)", text)
    assert match, f"no test accuracy in:\n{text}"
    return float(match.group(1))


@pytest.fixture(scope="module")
def sample() -> datasets.Dataset:
    return datasets.load("mnist-sample")


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One 3-epoch run on mnist-sample with both plots: its output, model and plot files."""
    folder = tmp_path_factory.mktemp("trained")
    model, curves, grid = folder / "model.npz", folder / "history.png", folder / "grid.png"
    code, out, err = run(
        "train --dataset mnist-sample --epochs 3 --quiet --output {model} --plot {curves} "
        "--predictions-plot {grid}",
        model=model,
        curves=curves,
        grid=grid,
    )
    return {"code": code, "out": out, "err": err, "model": model, "curves": curves, "grid": grid}


@pytest.fixture
def no_mnist(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """An environment where MNIST cannot be found on disk (nor downloaded)."""
    for variable in ("FASTMLP_DATA", "XDG_CACHE_HOME", "HOME"):
        monkeypatch.setenv(variable, str(tmp_path))
    monkeypatch.chdir(tmp_path)
    try:
        datasets.load("mnist", download=False)
    except datasets.DatasetNotFoundError:
        return tmp_path
    pytest.skip("MNIST is installed in a system directory here")


# ---- train ----------------------------------------------------------------------------------


def test_train_reaches_a_sane_accuracy_and_saves_the_model(trained: dict) -> None:
    assert trained["code"] == 0, trained["err"]
    assert accuracy_in(trained["out"]) > 0.8
    assert f"model saved to {trained['model']}" in trained["out"]
    model = fastmlp.MLP.load(trained["model"])
    assert model.layer_sizes == [784, 128, 10]
    assert len(model.history_) == 3


def test_train_plot_writes_png_files(trained: dict) -> None:
    for key in ("curves", "grid"):
        width, height = png_size(trained[key])
        assert width > 100 and height > 100
    assert f"curves saved to {trained['curves']}" in trained["out"]


def test_train_reports_data_model_epochs_time_and_result(tmp_path: Path) -> None:
    code, out, err = run(
        "train --dataset mnist-sample --epochs 2 --no-progress -o {out}", out=tmp_path / "m.npz"
    )
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("data: mnist-sample (") and "4,000 train / 1,000 test" in lines[0]
    assert lines[1].startswith("model: 784-128-10 relu, he init, float32, 101,770 parameters")
    assert "test loss" in lines[2] and "seconds" in lines[2]
    assert lines[3].split()[0] == "1/2" and lines[4].split()[0] == "2/2"
    assert re.match(r"test accuracy 0\.\d{4} \([\d,]+ of 1,000\), loss \d\.\d{4}$", lines[5])
    assert lines[6].startswith("time: ")
    assert lines[7] == f"model saved to {tmp_path / 'm.npz'}"


def test_train_shows_progress_bars_with_live_metrics(tmp_path: Path) -> None:
    code, _, err = run("train --dataset mnist-sample --epochs 1 -o {out}", out=tmp_path / "m.npz")
    assert code == 0, err
    # stderr here is not a terminal: a line per epoch (tests/model/test_edges.py has the bars)
    assert re.search(r"epoch 1/1: loss \d\.\d{4} acc \d\.\d{4} val_loss \d\.\d{4}", err), err


def test_epoch_lines_and_one_call_train_the_same_model(tmp_path: Path) -> None:
    common = "train --dataset mnist-sample --epochs 2 --seed 3 -o {out}"
    assert run(common + " --no-progress", out=tmp_path / "a.npz")[0] == 0
    assert run(common + " --quiet", out=tmp_path / "b.npz")[0] == 0
    a, b = fastmlp.MLP.load(tmp_path / "a.npz"), fastmlp.MLP.load(tmp_path / "b.npz")
    for x, y in zip(a.weights + a.biases, b.weights + b.biases, strict=True):
        np.testing.assert_array_equal(x, y)


def test_input_path_flag_trains_the_same_model_either_way(tmp_path: Path) -> None:
    common = "train --dataset mnist-sample --epochs 1 --hidden 32 --seed 5 --quiet -o {out}"
    for path in ("dense", "sparse"):
        code, _, err = run(common + f" --input-path {path}", out=tmp_path / f"{path}.npz")
        assert code == 0, err
    dense, sparse = (fastmlp.MLP.load(tmp_path / f"{p}.npz") for p in ("dense", "sparse"))
    for a, b in zip(dense.weights, sparse.weights, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4)
    code, _, err = run(common + " --input-path csr", out=tmp_path / "x.npz")
    assert code == 2 and "input-path" in err


def test_train_architecture_and_engine_flags(tmp_path: Path) -> None:
    out_file = tmp_path / "softmax.npz"
    code, out, err = run(
        "train --dataset mnist-sample --hidden none --init normal:0.02 --engine numpy "
        "--dtype float64 --batch-size full --lr 0.5 --epochs 2 --no-shuffle --no-progress "
        "-o {out}",
        out=out_file,
    )
    assert code == 0, err
    assert "784-10 softmax regression, normal:0.02 init, float64" in out and "full batch" in out
    model = fastmlp.MLP.load(out_file)
    assert model.layer_sizes == [784, 10] and model.dtype == np.float64
    assert model.init == ("normal", 0.02)


def test_threads_flag_sets_the_engine_threads(tmp_path: Path) -> None:
    before = fastmlp.get_num_threads()
    try:
        code, _, err = run(
            "train --dataset mnist-sample --epochs 1 --quiet --threads 1 -o {out}",
            out=tmp_path / "m.npz",
        )
        assert code == 0, err
        assert fastmlp.get_num_threads() == 1
    finally:
        fastmlp.set_num_threads(before)


def test_default_dataset_falls_back_to_the_sample_in_one_line(no_mnist: Path) -> None:
    code, out, err = run("train --epochs 1 --quiet")
    assert code == 0, err
    assert "test accuracy" in out
    notice = err.strip().splitlines()
    assert len(notice) == 1, err
    assert notice[0].startswith("MNIST not found locally (looked in ")
    assert str(no_mnist) in notice[0]
    assert "training on the bundled mnist-sample (4,000 train / 1,000 test digits)" in notice[0]
    assert (no_mnist / "fastmlp-model.npz").is_file()


def test_explicit_mnist_never_falls_back(no_mnist: Path) -> None:
    code, out, err = run("train --dataset mnist --no-download")
    assert code == 2
    assert "fastmlp train: error: dataset 'mnist' not found" in err
    assert str(no_mnist) in err and "--data-dir" in err and "Traceback" not in err
    assert out == "" and not (no_mnist / "fastmlp-model.npz").exists()


def test_explicit_mnist_reports_a_failed_download(
    no_mnist: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def offline(name: str, directory: object = None) -> Path:
        raise datasets.DownloadError("network is off in this test", [])

    monkeypatch.setattr("fastmlp.datasets.loader.download_files", offline)
    code, _, err = run("train --dataset mnist")
    assert code == 2
    assert "not found" in err and "network is off in this test" in err


def test_diverged_training_exits_1_and_saves_nothing(tmp_path: Path) -> None:
    out_file = tmp_path / "m.npz"
    code, _, err = run(
        "train --dataset mnist-sample --lr 1e6 --epochs 2 --quiet -o {out}", out=out_file
    )
    assert code == 1
    assert "training diverged" in err and "smaller learning rate" in err
    assert not out_file.exists()


def test_ctrl_c_exits_130(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(fastmlp.MLP, "fit", interrupted)
    code, _, err = run("train --dataset mnist-sample -o {out}", out=tmp_path / "m.npz")
    assert code == 130 and "interrupted" in err


def test_plot_without_matplotlib_fails_before_training(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    code, out, err = run(
        "train --dataset mnist-sample --plot {plot} -o {out}",
        plot=tmp_path / "h.png",
        out=tmp_path / "m.npz",
    )
    assert code == 2
    assert "pip install 'fastmlp[plot]'" in err and out == ""


@pytest.mark.parametrize(
    "command",
    [
        "",
        "frobnicate",
        "train --epochs 0",
        "train --lr -1",
        "train --init normal",
        "train --init uniform:1,0",
        "train --hidden 12,x",
        "train --batch-size lots",
        "train --batch-size 5000 --dataset mnist-sample",
        "train --activation gelu",
        "train --bogus",
        "train --dataset no/such/dir",
        "train --output no/such/dir/m.npz --dataset mnist-sample",
        "evaluate",
        "evaluate no-such-model.npz --dataset mnist-sample",
        "predict no-such-model.npz",
    ],
)
def test_bad_arguments_exit_2_with_a_one_line_message(command: str) -> None:
    code, out, err = run(command)
    assert code == 2
    assert "model saved" not in out
    assert len(err.strip().splitlines()) == 1, err
    assert "error: " in err and "Traceback" not in err


@pytest.mark.parametrize("command", [None, "train", "evaluate", "predict", "info", "bench"])
def test_help_of_each_command(command: str | None) -> None:
    argv = ["--help"] if command is None else [command, "--help"]
    code, out, _ = run(argv)
    assert code == 0
    assert out.startswith(f"usage: fastmlp{'' if command is None else ' ' + command}")


def test_python_m_fastmlp_help() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "fastmlp", "--help"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: fastmlp")
    for command in ("train", "evaluate", "predict", "bench", "info"):
        assert command in done.stdout


def test_version_flag() -> None:
    code, out, _ = run("--version")
    assert code == 0 and out.strip() == f"fastmlp {fastmlp.__version__}"


def test_bench_forwards_its_arguments(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[str]] = []

    def fake_main(argv: list[str]) -> int:
        seen.append(argv)
        return 7

    monkeypatch.setattr("fastmlp.bench.main", fake_main)
    assert main(["bench", "--quick", "--threads", "1", "--help"]) == 7
    assert seen == [["--quick", "--threads", "1", "--help"]]


# ---- evaluate, predict, info ----------------------------------------------------------------


def test_evaluate_prints_the_same_accuracy_as_train(trained: dict) -> None:
    code, out, err = run(
        "evaluate {model} --dataset mnist-sample --per-class", model=trained["model"]
    )
    assert code == 0, err
    match = re.search(r"test loss (\d\.\d{4}), accuracy (\d\.\d{4}) \(([\d,]+) of 1,000\)", out)
    assert match, out
    assert float(match.group(2)) == accuracy_in(trained["out"])
    assert len(re.findall(r"\(100 images\)", out)) == 10


def test_evaluate_rejects_a_model_for_other_data(tmp_path: Path, sample: datasets.Dataset) -> None:
    other = tmp_path / "five.npz"
    fastmlp.MLP([784, 5]).save(other)
    code, _, err = run("evaluate {model} --dataset mnist-sample", model=other)
    assert code == 2 and "5 outputs" in err and "10 classes" in err


def prediction_lines(out: str) -> list[tuple[str, int, float]]:
    rows = []
    for line in out.splitlines():
        match = re.match(r"(\S+):\s+(\d+) \((\d\.\d{4})\)", line)
        assert match, line
        rows.append((match.group(1), int(match.group(2)), float(match.group(3))))
    return rows


def test_predict_an_idx_file(trained: dict, tmp_path: Path, sample: datasets.Dataset) -> None:
    images = write_idx(tmp_path / "t10k-images-idx3-ubyte", sample.x_test[:5])
    code, out, err = run("predict {model} {images}", model=trained["model"], images=images)
    assert code == 0, err
    rows = prediction_lines(out)
    model = fastmlp.MLP.load(trained["model"])
    x = datasets.prepare(sample.x_test[:5])
    assert [r[0] for r in rows] == [f"t10k-images-idx3-ubyte[{i}]" for i in range(5)]
    assert [r[1] for r in rows] == model.predict(x).tolist()
    np.testing.assert_allclose([r[2] for r in rows], model.predict_proba(x).max(axis=1), atol=1e-4)


def test_predict_rejects_an_idx_labels_file(trained: dict, tmp_path: Path) -> None:
    labels = write_idx(tmp_path / "labels-idx1-ubyte", np.arange(5, dtype=np.uint8))
    code, _, err = run("predict {model} {labels}", model=trained["model"], labels=labels)
    assert code == 2 and "labels file" in err


def test_predict_png_files(trained: dict, tmp_path: Path, sample: datasets.Dataset) -> None:
    from PIL import Image

    digit = sample.x_test[0]
    Image.fromarray(digit).save(tmp_path / "plain.png")
    # a larger, dark-on-light drawing of the same digit, as a scan would be
    Image.fromarray(255 - digit).resize((112, 112), Image.Resampling.NEAREST).save(
        tmp_path / "drawn.png"
    )
    model = fastmlp.MLP.load(trained["model"])
    expected = int(model.predict(datasets.prepare(digit[None]))[0])

    probability = float(model.predict_proba(datasets.prepare(digit[None])).max())
    files = {"model": trained["model"], "plain": tmp_path / "plain.png"}
    files["drawn"] = tmp_path / "drawn.png"

    code, out, err = run("predict {model} {plain}", **files)
    assert code == 0, err
    [(name, predicted, p)] = prediction_lines(out)
    assert name == str(files["plain"]) and predicted == expected
    assert p == pytest.approx(probability, abs=1e-4)

    code, out, err = run("predict {model} {drawn}", **files)
    assert code == 0 and "pass --invert" in err
    code, out, err = run("predict {model} {drawn} --invert --top 3", **files)
    assert code == 0 and "--invert" not in err
    guesses = re.findall(r"(\d) \((\d\.\d{4})\)", out)
    assert len(guesses) == 3 and int(guesses[0][0]) == expected
    assert [float(p) for _, p in guesses] == sorted((float(p) for _, p in guesses), reverse=True)


def test_predict_npz_and_class_names(
    trained: dict, tmp_path: Path, sample: datasets.Dataset
) -> None:
    keras = tmp_path / "digits.npz"
    np.savez(
        keras,
        x_train=sample.x_train[:2],
        y_train=sample.y_train[:2],
        x_test=sample.x_test[:4],
        y_test=sample.y_test[:4],
    )
    single = tmp_path / "single.npz"
    np.savez(single, images=datasets.prepare(sample.x_test[:2]))
    code, out, err = run(
        "predict {model} {keras} {single} --limit 3 --classes {names}",
        model=trained["model"],
        keras=keras,
        single=single,
        names="zero,one,two,three,four,five,six,seven,eight,nine",
    )
    assert code == 0, err
    names = [line.split(":")[0] for line in out.splitlines()]
    assert names == [
        "digits.npz[0]",
        "digits.npz[1]",
        "digits.npz[2]",
        "single.npz[0]",
        "single.npz[1]",
    ]
    assert re.search(r"\d (zero|one|two|three|four|five|six|seven|eight|nine) \(", out)


def test_info_prints_version_threads_and_data_lookup() -> None:
    code, out, err = run("info")
    assert code == 0, err
    assert out.startswith(f"fastmlp {fastmlp.__version__} ")
    assert f"{fastmlp.get_num_threads()} threads" in out
    assert "NumPy " in out and "BLAS" in out
    for name in ("mnist:", "fashion-mnist:", "mnist-sample: bundled"):
        assert name in out
