"""Error messages that point the right way: each names what the user gave and what to do."""

from __future__ import annotations

import contextlib
import io
import threading
from pathlib import Path

import numpy as np
import pytest

import fastmlp.training.loop
from fastmlp import MLP, kernels
from fastmlp.cli import main


@pytest.mark.parametrize("engine", ["rust", "numpy"])
@pytest.mark.parametrize("dtype", ["float16", "longdouble"])
def test_unsupported_float_input_does_not_suggest_a_model_of_its_dtype(
    engine: str, dtype: str
) -> None:
    if np.dtype(dtype) == np.float64:
        pytest.skip("longdouble is float64 here")
    model = MLP([4, 3], seed=0, engine=engine)
    x = np.zeros((2, 4), dtype=dtype)
    for call in (model.predict, lambda a: model.fit(a, np.array([0, 1]), epochs=1, batch_size=1)):
        with pytest.raises(TypeError) as raised:
            call(x)
        message = str(raised.value)
        assert f"dtype='{np.dtype(dtype).name}'" not in message, message
        assert "x.astype(np.float32)" in message and "float32 or float64" in message


# ---- one model, two threads --------------------------------------------------------------------


@pytest.mark.parametrize("engine", ["rust", "numpy"])
def test_fitting_one_model_from_two_threads_says_so(
    engine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second fit fails at once with a message about threads, not about aliased arrays;
    the first one finishes normally."""
    model = MLP([4, 3], seed=0, engine=engine)
    x = np.random.default_rng(0).random((8, 4)).astype(np.float32)
    labels = np.arange(8) % 3
    inside, release = threading.Event(), threading.Event()
    run_epoch = fastmlp.training.loop.run_epoch  # the training loop's epoch

    def blocking_epoch(*args: object, **kwargs: object) -> object:
        inside.set()
        release.wait(30)
        return run_epoch(*args, **kwargs)

    monkeypatch.setattr(fastmlp.training.loop, "run_epoch", blocking_epoch)
    first = threading.Thread(target=lambda: model.fit(x, labels, epochs=1, batch_size=4))
    first.start()
    try:
        assert inside.wait(30)
        for call in (
            lambda: model.fit(x, labels, epochs=1, batch_size=4),
            lambda: model.partial_fit(x, labels, batch_size=4),
        ):
            with pytest.raises(RuntimeError) as raised:
                call()
            message = str(raised.value)
            assert "another thread" in message and "same array" not in message, message
    finally:
        release.set()
        first.join(30)
    assert model.history_.epochs == 1  # the first fit completed
    monkeypatch.setattr(fastmlp.training.loop, "run_epoch", run_epoch)
    model.fit(x, labels, epochs=1, batch_size=4)  # and the model is usable again
    assert model.history_.epochs == 2


def test_the_engines_borrow_error_mentions_threads() -> None:
    """What the Rust engine says when an array it updates is in use by another call."""
    weights = [np.zeros((3, 3), np.float32)]
    biases = [np.zeros(3, np.float32)]
    x = weights[0]  # the weights themselves as the inputs: borrowed twice
    with pytest.raises(ValueError) as raised:
        kernels.sgd_step(weights, biases, x, np.eye(3, dtype=np.float32), 0.1, "relu")
    assert "same array" in str(raised.value) and "another thread" in str(raised.value)


# ---- the command line names its options ------------------------------------------------


def run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def test_a_negative_seed_names_the_option(tmp_path: Path) -> None:
    code, out, err = run(["train", "--seed", "-1", "-q", "-o", str(tmp_path / "m.npz")])
    assert code == 2 and out == ""
    assert "--seed" in err and "-1" in err and "non-negative" in err, err
    with pytest.raises(ValueError, match=r"seed: expected a non-negative integer.*-1"):
        MLP([4, 3], seed=-1)


def test_a_plot_without_extension_reports_the_file_written(tmp_path: Path) -> None:
    code, out, err = run(
        [
            "train",
            "--dataset",
            "mnist-sample",
            "--epochs",
            "1",
            "-q",
            "-o",
            str(tmp_path / "m.npz"),
            "--plot",
            str(tmp_path / "curves_noext"),
        ]
    )
    assert code == 0, err
    written = tmp_path / "curves_noext.png"
    assert written.is_file() and not (tmp_path / "curves_noext").exists()
    assert f"curves saved to {written}\n" in out, out


def test_saving_to_a_directory_names_the_directory(tmp_path: Path) -> None:
    with pytest.raises(IsADirectoryError) as raised:
        MLP([4, 3]).save(tmp_path)
    assert str(raised.value).startswith(f"{tmp_path}: is a directory")
    assert ".tmp" not in str(raised.value)


def test_no_download_is_named_as_the_flag(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("FASTMLP_DATA", raising=False)
    if Path("/usr/share/datasets/mnist").is_dir():  # pragma: no cover
        pytest.skip("MNIST is installed on this machine")
    argv = ["train", "--dataset", "mnist", "--no-download", "--data-dir", str(tmp_path)]
    code, _, err = run([*argv, "--epochs", "1", "-q", "-o", str(tmp_path / "m.npz")])
    assert code == 2
    assert "--no-download" in err and "download=False" not in err, err
    assert "--data-dir" in err and "data_dir" not in err, err


@pytest.mark.parametrize(
    ("argv", "option"),
    [
        (["--lr", "1e39"], "--lr: "),  # finite as a float64, infinite in the float32 model
        (["--hidden", "100000000000"], "--hidden 100000000000: "),  # 313 TB of weights
    ],
)
def test_settings_the_model_refuses_name_the_option(
    tmp_path: Path, argv: list[str], option: str
) -> None:
    code, out, err = run(
        ["train", "--dataset", "mnist-sample", "-q", *argv, "-o", str(tmp_path / "m.npz")]
    )
    assert code == 2 and out == ""
    assert err.startswith(f"fastmlp train: error: {option}"), err
    assert err.count("\n") == 1
