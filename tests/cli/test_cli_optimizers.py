"""``fastmlp train``'s optimizer, L2, schedule and early-stopping flags, end to end on the
bundled sample (a few epochs of a small network each)."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import numpy as np
import pytest

import fastmlp
from fastmlp.cli import main
from fastmlp.optimizers import SGD, Adam

SMALL = "train --dataset mnist-sample --hidden 32 --batch-size 64 --seed 1"


def run(command: str, **paths: object) -> tuple[int, str, str]:
    """``main(argv)`` on ``command`` split at spaces, ``{name}`` parts filled from ``paths``:
    ``(code, stdout, stderr)``."""
    argv = [token.format(**paths) for token in command.split()]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def accuracy_in(text: str) -> float:
    match = re.search(r"test accuracy (\d\.\d+)", text)
    assert match, f"no test accuracy in:\n{text}"
    return float(match.group(1))


def test_adam_with_l2(tmp_path: Path) -> None:
    code, out, err = run(
        SMALL + " --engine numpy --optimizer adam --alpha 1e-4 --epochs 2 --no-progress -o {m}",
        m=tmp_path / "adam.npz",
    )
    assert code == 0, err
    assert "adam lr 0.001, alpha 0.0001" in out  # Adam's default rate
    assert accuracy_in(out) > 0.8
    model = fastmlp.MLP.load(tmp_path / "adam.npz")
    assert model.training_state_.optimizer == Adam()
    assert model.training_state_.optimizer_state.step[0] == 2 * 63  # 4,000 rows / 64
    assert model.history_.lr == [0.001, 0.001]


def test_nesterov_momentum_with_a_schedule(tmp_path: Path) -> None:
    code, _, err = run(
        SMALL + " --engine numpy --momentum 0.9 --nesterov --lr 0.02 --lr-schedule invscaling "
        "--power-t 0.25 --epochs 3 --quiet -o {m}",
        m=tmp_path / "nesterov.npz",
    )
    assert code == 0, err
    model = fastmlp.MLP.load(tmp_path / "nesterov.npz")
    assert model.training_state_.optimizer == SGD(momentum=0.9, nesterov=True)
    assert model.history_.lr == pytest.approx(
        [0.02] + [0.02 / (4000 * k + 1) ** 0.25 for k in (1, 2)]
    )


@pytest.mark.parametrize("progress", ["--no-progress", ""], ids=["lines", "bars"])
def test_early_stopping_holds_out_rows_and_reports_the_stop(tmp_path: Path, progress: str) -> None:
    # tol 10 and patience 1: no epoch improves enough, so training stops after the third.
    code, out, err = run(
        SMALL + f" --engine numpy --early-stopping --patience 1 --tol 10 --epochs 8 {progress} "
        "-o {m}",
        m=tmp_path / "early.npz",
    )
    assert code == 0, err
    assert "early stopping on val_loss (patience 1)" in out
    assert "val loss" in out and "test loss" not in out
    rows = [line for line in out.splitlines() if re.match(r"\s+\d+/8\s", line)]
    assert [row.split()[0] for row in rows] == ["1/8", "2/8", "3/8"]
    assert "stopped after 3 epochs: early stopping: val_loss did not improve" in out
    assert "best epoch: " in out and "its weights kept" in out
    assert accuracy_in(out) > 0.7  # the test split, unseen while training
    model = fastmlp.MLP.load(tmp_path / "early.npz")
    assert model.history_.epochs == 3 and model.history_.monitor == "val_loss"
    assert model.training_state_.rows_seen == 3 * 3600  # 10% of 4,000 held out


@pytest.mark.parametrize(
    "flags",
    [
        "--momentum 1.5",
        "--momentum -0.1",
        "--beta1 1",
        "--beta2 x",
        "--epsilon 0",
        "--alpha -1",
        "--alpha nan",
        "--lr-schedule cosine",
        "--power-t -1",
        "--optimizer rmsprop",
        "--validation-fraction 0",
        "--validation-fraction 1",
        "--monitor loss",
        "--patience 0",
        "--tol -0.1",
    ],
)
def test_bad_optimizer_flags_are_usage_errors(flags: str) -> None:
    code, out, err = run(f"train --engine numpy {flags}")
    assert code == 2 and out == ""
    assert err.startswith("fastmlp train: error: argument --") and err.count("\n") == 1
    assert flags.split()[0] in err


def test_plain_flags_train_todays_model(tmp_path: Path) -> None:
    """Default flags and their explicit spellings give the same model, bit for bit."""
    explicit = " --optimizer sgd --momentum 0 --alpha 0 --lr-schedule constant --lr 0.1"
    for name, flags in (("default", ""), ("explicit", explicit)):
        code, _, err = run(SMALL + f" --epochs 1 --quiet{flags} -o {{m}}", m=tmp_path / name)
        assert code == 0, err
    a, b = (fastmlp.MLP.load(tmp_path / name) for name in ("default", "explicit"))
    for x, y in zip(a.weights + a.biases, b.weights + b.biases, strict=True):
        np.testing.assert_array_equal(x, y)
