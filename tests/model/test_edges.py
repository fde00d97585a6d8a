"""Edges: a broken pipe on stdout, progress bars in logs and narrow terminals, loading
without drawing weights, and the same errors from both engines for the same bad input."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import fastmlp
from fastmlp import MLP, kernels, reference

# ---- a broken pipe ------------------------------------------------------------------------------


@pytest.mark.parametrize("progress", [[], ["--no-progress"]])
def test_train_into_a_closed_pipe_still_saves_the_model(tmp_path: Path, progress: list) -> None:
    """``fastmlp train ... | head -1``: the reader leaves after the first line."""
    output = tmp_path / "m.npz"
    command = [sys.executable, "-m", "fastmlp", "train", "--dataset", "mnist-sample"]
    command += ["--epochs", "2", "--hidden", "16", *progress, "-o", str(output)]
    environment = {**os.environ, "PYTHONUNBUFFERED": "1"}  # each line written at once
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment
    )
    assert process.stdout is not None and process.stderr is not None
    first = process.stdout.readline()
    process.stdout.close()  # as head does after one line
    err = process.stderr.read()
    code = process.wait(timeout=300)
    assert first.startswith("data: mnist-sample")
    assert code == 0, err
    assert "Traceback" not in err and "BrokenPipe" not in err, err
    assert MLP.load(output).layer_sizes == [784, 16, 10]


# ---- progress bars ------------------------------------------------------------------------------


class Terminal(io.StringIO):
    """A stand-in for stderr: a terminal (isatty) or a log file (not)."""

    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


def fit_with_progress(
    monkeypatch: pytest.MonkeyPatch, tty: bool, columns: int = 80, rows: int = 4000
) -> str:
    stream = Terminal(tty)
    monkeypatch.setattr(sys, "stderr", stream)
    monkeypatch.setenv("COLUMNS", str(columns))
    rng = np.random.default_rng(0)
    x = rng.random((rows, 20), dtype=np.float32)
    labels = rng.integers(0, 3, rows)
    model = MLP([20, 8, 3], seed=0)
    model.fit(
        x, labels, epochs=2, batch_size=8, validation_data=(x[:50], labels[:50]), progress=True
    )
    return stream.getvalue()


def test_progress_to_a_log_file_is_a_line_per_epoch(monkeypatch: pytest.MonkeyPatch) -> None:
    text = fit_with_progress(monkeypatch, tty=False)
    assert "\r" not in text, repr(text[:300])
    lines = text.splitlines()
    assert len(lines) == 2, lines
    for epoch, line in enumerate(lines, start=1):
        assert line.startswith(f"epoch {epoch}/2:"), line
        assert re.search(
            r"loss \d\.\d{4}.*acc \d\.\d{4}.*val_loss \d\.\d{4}.*val_acc \d\.\d{4}", line
        )


def test_progress_in_80_columns_shows_the_validation_figures(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = fit_with_progress(monkeypatch, tty=True, columns=80)
    states = [s for s in re.split(r"[\r\n]", text) if s.strip()]
    assert states and all(len(s) <= 80 for s in states), max(states, key=len)
    finals = [s for s in states if "val_acc" in s]
    assert len(finals) >= 2, states[-3:]  # each epoch's last state
    assert all(re.search(r"val_acc \d\.\d{4}$", s.rstrip()) for s in finals), finals
    assert any(len(s.rstrip()) >= 78 for s in finals), finals  # the bar uses the width


# ---- load builds from the arrays ----------------------------------------------------------------


def test_load_does_not_draw_random_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = MLP([30, 20, 4], seed=0)
    path = model.save(tmp_path / "m.npz")

    def no_drawing(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("MLP.load drew initial weights")

    monkeypatch.setattr(fastmlp.model, "initial_parameters", no_drawing)
    loaded = MLP.load(path)
    np.testing.assert_array_equal(loaded.weights[1], model.weights[1])
    assert loaded.init == model.init and loaded.layer_sizes == [30, 20, 4]
    x = np.random.default_rng(1).random((5, 30)).astype(np.float32)
    loaded.fit(x, np.arange(5) % 4, epochs=1, batch_size=5)  # and it trains


# ---- both engines, the same error ---------------------------------------------------------------


def epoch_arguments() -> dict[str, Any]:
    rng = np.random.default_rng(0)
    return {
        "weights": [rng.random((4, 3)).astype(np.float32)],
        "biases": [np.zeros(3, np.float32)],
        "x": rng.random((5, 4)).astype(np.float32),
        "labels": np.array([0, 1, 2, 0, 1]),
        "order": np.arange(5),
        "lr": 0.1,
        "batch_size": 2,
        "activation": "relu",
    }


BAD_EPOCH_ARGUMENTS = {
    "negative label": {"labels": np.array([0, -1, 2, 0, 1])},
    "label too large": {"labels": np.array([0, 3, 2, 0, 1])},
    "labels too short": {"labels": np.array([0, 1])},
    "labels 2-D": {"labels": np.zeros((5, 1), np.int64)},
    "float labels": {"labels": np.array([0.0, 1, 2, 0, 1])},
    "negative order index": {"order": np.array([0, -1])},
    "order index too large": {"order": np.array([0, 5])},
    "empty order": {"order": np.array([], dtype=np.int64)},
    "float order": {"order": np.array([0.0, 1.0])},
    "lr 0": {"lr": 0.0},
    "negative lr": {"lr": -0.5},
    "lr NaN": {"lr": float("nan")},
    "lr inf": {"lr": float("inf")},
    "lr infinite in float32": {"lr": 1e39},
    "batch size 0": {"batch_size": 0},
    "negative batch size": {"batch_size": -1},
    "float batch size": {"batch_size": 2.0},
    "unknown activation": {"activation": "softplus"},
    "unknown input path": {"input_path": "bogus"},
}


def outcome(call: Any, **arguments: Any) -> tuple[type, str]:
    with pytest.raises(Exception) as raised:
        call(**arguments)
    return type(raised.value), str(raised.value)


@pytest.mark.parametrize("case", list(BAD_EPOCH_ARGUMENTS))
@pytest.mark.parametrize("function", ["train_epoch", "train_epoch_stats"])
def test_both_engines_refuse_bad_epoch_arguments_alike(case: str, function: str) -> None:
    results = []
    for engine in (kernels, reference):
        arguments = {**epoch_arguments(), **BAD_EPOCH_ARGUMENTS[case]}
        before = [a.copy() for a in arguments["weights"] + arguments["biases"]]
        results.append(outcome(getattr(engine, function), **arguments))
        for array, kept in zip(arguments["weights"] + arguments["biases"], before, strict=True):
            np.testing.assert_array_equal(array, kept)  # refused before any step
    assert results[0] == results[1]
    assert results[0][0] in (ValueError, TypeError)


BAD_STEP_ARGUMENTS = {
    "lr 0": {"lr": 0.0},
    "lr NaN": {"lr": float("nan")},
    "negative lr": {"lr": -1.0},
    "unknown activation": {"activation": "x"},
    "targets of the wrong shape": {"y_onehot": np.zeros((5, 2), np.float32)},
}


@pytest.mark.parametrize("case", list(BAD_STEP_ARGUMENTS))
def test_both_engines_refuse_bad_step_arguments_alike(case: str) -> None:
    results = []
    for engine in (kernels, reference):
        base = epoch_arguments()
        arguments = {
            "weights": base["weights"],
            "biases": base["biases"],
            "x": base["x"],
            "y_onehot": np.eye(3, dtype=np.float32)[base["labels"]],
            "lr": 0.1,
            "activation": "relu",
            **BAD_STEP_ARGUMENTS[case],
        }
        results.append(outcome(engine.sgd_step, **arguments))
    assert results[0] == results[1]


def test_the_reference_still_trains_on_good_arguments() -> None:
    arguments = epoch_arguments()
    loss = reference.train_epoch(**arguments)
    assert np.isfinite(loss)
