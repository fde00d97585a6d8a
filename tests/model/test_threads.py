"""Thread counts beyond a sane bound are refused (``set_num_threads``, ``FASTMLP_NUM_THREADS``,
``--threads``); counts above the cores but within the bound still train correctly."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys

import numpy as np
import pytest

import fastmlp
from fastmlp import MLP
from fastmlp.cli import main

LIMIT = fastmlp.max_num_threads()
CORES = LIMIT // 4  # what the engine counts: affinity and cgroup quota included


@pytest.fixture
def restore_threads() -> object:
    before = fastmlp.get_num_threads()
    yield before
    fastmlp.set_num_threads(before)


def test_the_limit_is_a_multiple_of_the_cores() -> None:
    assert LIMIT % 4 == 0 and 1 <= CORES <= (os.cpu_count() or 1)


@pytest.mark.parametrize("count", [LIMIT + 1, 1000, 100_000, 2**40, 2**70])
def test_set_num_threads_refuses_beyond_the_limit(count: int, restore_threads: int) -> None:
    with pytest.raises(ValueError) as raised:
        fastmlp.set_num_threads(count)
    message = str(raised.value)
    assert message.startswith("num_threads:"), message
    assert f"at most {LIMIT}" in message and f"{CORES} cores" in message and str(count) in message
    assert fastmlp.get_num_threads() == restore_threads  # unchanged


@pytest.mark.parametrize("count", [0, -1, -(2**70)])
def test_set_num_threads_refuses_counts_below_one(count: int, restore_threads: int) -> None:
    with pytest.raises(ValueError, match=f"num_threads: expected a positive integer, got {count}$"):
        fastmlp.set_num_threads(count)
    assert fastmlp.get_num_threads() == restore_threads


def test_the_limit_itself_trains_like_one_thread(restore_threads: int) -> None:
    """Oversubscribed (more threads than cores) but allowed: same model as on one thread."""
    rng = np.random.default_rng(0)
    x = rng.random((300, 20), dtype=np.float32)
    labels = rng.integers(0, 3, 300)
    results = []
    for threads in (1, LIMIT):
        fastmlp.set_num_threads(threads)
        model = MLP([20, 16, 3], seed=0)
        model.fit(x, labels, epochs=2, batch_size=32)
        results.append(model.weights[0])
    np.testing.assert_allclose(results[0], results[1], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("value", [str(LIMIT + 1), "100000"])
def test_the_variable_is_refused_beyond_the_limit(value: str) -> None:
    script = "import fastmlp\ntry:\n    fastmlp.get_num_threads()\nexcept ValueError as e:\n"
    script += "    print(e)\n"
    environment = {**os.environ, "FASTMLP_NUM_THREADS": value}
    done = subprocess.run(
        [sys.executable, "-c", script], env=environment, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("FASTMLP_NUM_THREADS:"), done.stdout
    assert f"at most {LIMIT}" in done.stdout and value in done.stdout


def test_cli_threads_beyond_the_limit_is_one_line(restore_threads: int) -> None:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["train", "--dataset", "mnist-sample", "--threads", "100000", "-q"])
    assert code == 2 and out.getvalue() == ""
    assert err.getvalue().count("\n") == 1
    assert err.getvalue().startswith("fastmlp train: error: --threads 100000: ")
    assert f"at most {LIMIT}" in err.getvalue()
