"""Stopping training at the boundary: Ctrl-C between batches and divergence, each with the
weights of the last good step.

Every function of the engine contract is called through both layers: ``fastmlp.kernels`` and
``fastmlp._native`` directly (``tests/support/boundary.py`` has the valid calls).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import Any

import numpy as np
import pytest

import fastmlp
from fastmlp import kernels
from tests.support.boundary import (
    DTYPE_IDS,
    DTYPES,
    TRAINING,
    assert_same,
    callers_of,
    fails,
    function,
    make_args,
    snapshot,
)

# ---- Ctrl-C ---------------------------------------------------------------------------------

CTRL_C_SCRIPT = textwrap.dedent(
    """
    import json, os, signal, threading, time
    import numpy as np
    from fastmlp import kernels

    rng = np.random.default_rng(0)
    n, features, hidden, classes = 60_000, 784, 256, 10
    x = rng.random((n, features), dtype=np.float32)
    labels = rng.integers(0, classes, n)
    order = rng.permutation(n)

    def params():
        r = np.random.default_rng(1)
        weights = [(r.standard_normal((features, hidden)) * 0.05).astype(np.float32),
                   (r.standard_normal((hidden, classes)) * 0.1).astype(np.float32)]
        return weights, [np.zeros(hidden, np.float32), np.zeros(classes, np.float32)]

    # How long the whole epoch (batches of 1) would take, from 2% of it.
    weights, biases = params()
    start = time.perf_counter()
    kernels.train_epoch(weights, biases, x, labels, order[: n // 50], 0.01, 1, "relu")
    estimate = (time.perf_counter() - start) * 50

    weights, biases = params()
    initial = [a.copy() for a in weights + biases]
    signalled = []

    def interrupt():
        time.sleep(0.3)
        signalled.append(time.perf_counter())
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt, daemon=True).start()
    start = time.perf_counter()
    try:
        kernels.train_epoch(weights, biases, x, labels, order, 0.01, 1, "relu")
        outcome = "finished"
    except KeyboardInterrupt:
        outcome = "interrupted"
    end = time.perf_counter()
    print(json.dumps({
        "outcome": outcome,
        "estimate": estimate,
        "in_call": end - start,
        "latency": end - signalled[0] if signalled else None,
        "finite": all(bool(np.isfinite(a).all()) for a in weights + biases),
        "changed": [a.tobytes() != b.tobytes() for a, b in zip(weights + biases, initial)],
    }))
    """
)


def test_ctrl_c_stops_train_epoch_between_batches():
    done = subprocess.run(
        [sys.executable, "-c", CTRL_C_SCRIPT], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr  # a crash or an uncaught interrupt fails here
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["outcome"] == "interrupted", report
    assert report["estimate"] > 1.0, f"the epoch is too short to interrupt: {report}"
    assert report["in_call"] < report["estimate"] / 2, report  # stopped early, not at the end
    assert report["latency"] < 0.25, report  # well under a second after the signal
    assert report["finite"], report
    assert all(report["changed"]), report  # steps happened before the interrupt


# ---- divergence -----------------------------------------------------------------------------

HUGE_LR = {np.float32: 1e30, np.float64: 1e300}


def check_diverged(err: BaseException, args: dict[str, Any], start: dict[str, Any]) -> None:
    """``err`` is a TrainingDivergedError and ``args``' weights are those before its batch."""
    assert isinstance(err, fastmlp.TrainingDivergedError)
    assert isinstance(err, FloatingPointError)
    assert isinstance(err.batch, int) and err.batch >= 0, err.batch
    assert not np.isfinite(err.loss), err.loss
    assert "smaller learning rate" in str(err), str(err)
    params = args["weights"] + args["biases"]
    assert all(np.isfinite(a).all() for a in params)
    # Replaying the batches before err.batch from the same start gives these weights exactly.
    if err.batch > 0:
        start["order"] = start["order"][: err.batch * start["batch_size"]]
        kernels.train_epoch(**start)
    assert_same(params, start["weights"] + start["biases"])


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize(("layer", "name"), callers_of(TRAINING))
def test_a_huge_learning_rate_diverges_with_the_last_good_weights(layer, name, dtype):
    def diverging() -> dict[str, Any]:
        args = make_args(name, dtype, sizes=[20, 16, 10], rows=200)
        args.update(lr=HUGE_LR[dtype], batch_size=10, activation="relu")
        return args

    args = diverging()
    err = fails(function(layer, name), args, fastmlp.TrainingDivergedError)
    assert err.batch > 0, "diverged before any step: the test shows nothing"
    check_diverged(err, args, diverging())


@pytest.mark.parametrize(("layer", "name"), callers_of(TRAINING))
def test_a_non_finite_row_stops_training_at_its_batch(layer, name):
    def poisoned() -> dict[str, Any]:
        args = make_args(name, np.float32, rows=10)
        args["x"][3, 0] = np.nan  # row 3 comes in batch 3 of order 9, 8, ..., 0
        return args

    args = poisoned()
    err = fails(function(layer, name), args, fastmlp.TrainingDivergedError)
    assert err.batch == 3, err.batch
    check_diverged(err, args, poisoned())


@pytest.mark.parametrize(("layer", "name"), callers_of(["sgd_step"]))
def test_sgd_step_with_a_non_finite_loss_leaves_the_weights(layer, name):
    args = make_args(name, np.float64)
    args["x"][0, 0] = np.nan
    before = snapshot(args)
    err = fails(function(layer, name), args, fastmlp.TrainingDivergedError)
    assert err.batch == 0 and not np.isfinite(err.loss)
    assert snapshot(args) == before
