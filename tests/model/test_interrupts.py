"""Ctrl-C (SIGINT) during ``MLP.fit`` and ``fastmlp train``, for both engines.

Each run is a child process that trains on Fashion-MNIST-sized random data (60,000 x 784
float32, batches of 32, many epochs: far longer than the test waits) and receives a real
SIGINT from this process about half a second into training. The contract (README.md, "When
things go wrong"):

* ``fit`` raises ``KeyboardInterrupt`` within one batch (here: within a second of the signal);
  the process goes on and exits normally;
* no step is cut in half: the weights equal those of a replay of exactly k whole steps from
  the same seed, for some k > 0 (the Rust engine looks for Ctrl-C between its batches, the
  NumPy engine defers the signal to the end of the step it is in);
* ``history_`` holds the finished epochs only, and the model trains on afterwards;
* ``fastmlp train`` exits with code 130 and the one line "fastmlp: interrupted", writes no
  model file and leaves an existing one as it was.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import fastmlp

ENGINES = ["rust", "numpy"]
# How long after training starts the signal is sent.
DELAY = 0.5

FIT_SCRIPT = textwrap.dedent(
    """
    import json, signal, sys, time
    import numpy as np
    from fastmlp import MLP, kernels, reference

    engine = sys.argv[1]
    n, features, classes, batch, lr, epochs = 60_000, 784, 10, 32, 0.01, 50
    rng = np.random.default_rng(0)
    x = rng.random((n, features), dtype=np.float32)
    labels = rng.integers(0, classes, n)

    def new_model():
        return MLP([features, 128, classes], engine=engine, seed=0)

    model = new_model()
    initial = [a.copy() for a in model.weights + model.biases]
    print("ready", flush=True)
    try:
        model.fit(x, labels, epochs=epochs, batch_size=batch, lr=lr)
        outcome, caught = "finished", None
    except KeyboardInterrupt:
        outcome, caught = "interrupted", time.time()
    handler_restored = signal.getsignal(signal.SIGINT) is signal.default_int_handler
    params = model.weights + model.biases

    # Replay whole steps from the same seed (the same initial weights, then the same epoch
    # orders from the model's generator), one step per engine call as the NumPy engine's
    # fit makes them, until the weights are those of the interrupted model.
    replay = new_model()
    step_engine = kernels if engine == "rust" else reference
    batches = -(-n // batch)

    def same():
        ours = replay.weights + replay.biases
        return ours[-1].tobytes() == params[-1].tobytes() and all(
            a.tobytes() == b.tobytes() for a, b in zip(ours, params)
        )

    steps, matched = 0, same()
    for epoch in range(len(model.history_) + 1):
        if matched:
            break
        order = replay._rng.permutation(n)
        for b in range(batches):
            step_engine.train_epoch_stats(
                replay.weights, replay.biases, x, labels, order[b * batch : (b + 1) * batch],
                lr, batch, replay.activation, input_path=model.input_path,
            )
            steps += 1
            if same():
                matched = True
                break

    # The model is still usable: one more short fit.
    model.fit(x[:64], labels[:64], epochs=1, batch_size=batch, lr=lr)
    print(json.dumps({
        "outcome": outcome,
        "caught": caught,
        "steps": steps if matched else None,
        "batches_per_epoch": batches,
        "history": model.history_.as_dict(),
        "finite": all(bool(np.isfinite(a).all()) for a in params),
        "changed": any(a.tobytes() != b.tobytes() for a, b in zip(params, initial)),
        "handler_restored": handler_restored,
    }))
    """
)


def interrupt_child(argv: list[str], ready: str, delay: float, cwd: Path | None = None):
    """Start ``argv``, wait for a stdout line starting with ``ready``, then ``delay`` seconds,
    send SIGINT. Returns ``(completed process, time the signal was sent, stdout lines before
    the ready line)``."""
    child = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        env={**os.environ, "PYTHONFAULTHANDLER": "1"},
    )
    seen = []
    try:
        assert child.stdout is not None
        for line in child.stdout:
            seen.append(line)
            if line.startswith(ready):
                break
        else:
            out, err = child.communicate(timeout=60)
            pytest.fail(f"the child never got ready:\n{''.join(seen)}{out}\n{err}")
        time.sleep(delay)
        sent = time.time()
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    done = subprocess.CompletedProcess(argv, child.returncode, "".join(seen) + out, err)
    return done, sent


@pytest.mark.parametrize("engine", ENGINES)
def test_ctrl_c_stops_fit_between_whole_steps(engine: str) -> None:
    done, sent = interrupt_child([sys.executable, "-c", FIT_SCRIPT, engine], "ready", DELAY)
    assert done.returncode == 0, done.stderr  # a crash or an uncaught interrupt fails here
    assert "Traceback" not in done.stderr, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["outcome"] == "interrupted", report
    assert report["caught"] - sent < 1.0, f"KeyboardInterrupt came {report['caught'] - sent} s late"
    assert report["handler_restored"], "fit left its own SIGINT handler installed"
    assert report["finite"] and report["changed"], report

    steps = report["steps"]
    assert steps is not None, f"the weights are those of no whole number of steps: {report}"
    assert steps > 0, report
    # history_ has the epochs whose every step was taken (and the one-epoch fit after).
    epochs = len(report["history"]["loss"]) - 1
    finished, partial = divmod(steps, report["batches_per_epoch"])
    assert epochs == finished or (partial == 0 and epochs == finished - 1), (steps, report)
    assert all(np.isfinite(report["history"]["loss"])), report
    print(f"{engine}: interrupted after {steps} steps ({epochs} whole epochs)")


# ---- the command ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def big_npz(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A keras-style .npz of Fashion-MNIST's size: 60,000 random 28 x 28 training images."""
    rng = np.random.default_rng(0)
    path = tmp_path_factory.mktemp("data") / "big.npz"
    np.savez(
        path,
        x_train=rng.integers(0, 256, (60_000, 28, 28), dtype=np.uint8),
        y_train=rng.integers(0, 10, 60_000),
        x_test=rng.integers(0, 256, (100, 28, 28), dtype=np.uint8),
        y_test=rng.integers(0, 10, 100),
    )
    return path


@pytest.mark.parametrize(
    ("engine", "progress"), [("rust", True), ("numpy", False)], ids=["rust-bars", "numpy-lines"]
)
def test_fastmlp_train_exits_130_with_one_line_and_no_model_file(
    big_npz: Path, tmp_path: Path, engine: str, progress: bool
) -> None:
    existing = tmp_path / "kept.npz"
    fastmlp.MLP([784, 10], seed=1).save(existing)
    before = existing.read_bytes()
    argv = [sys.executable, "-m", "fastmlp", "train", "--dataset", str(big_npz)]
    argv += ["--epochs", "50", "--batch-size", "32", "--engine", engine]
    argv += [] if progress else ["--no-progress"]
    for output in ("new.npz", "kept.npz"):
        # Without bars, the epoch table's header is printed just before training starts.
        ready = "model:" if progress else "    epoch"
        done, _ = interrupt_child(
            [*argv, "-o", output], ready, DELAY + (1.0 if progress else 0.0), cwd=tmp_path
        )
        assert done.returncode == 130, (done.returncode, done.stderr[-2000:])
        assert "Traceback" not in done.stderr, done.stderr
        lines = [line.strip() for line in done.stderr.replace("\r", "\n").splitlines()]
        lines = [line for line in lines if line]
        assert lines[-1] == "fastmlp: interrupted", done.stderr[-2000:]
        if not progress:
            assert lines == ["fastmlp: interrupted"], done.stderr
        assert "model saved" not in done.stdout
        assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.npz"], "a file was written"
        assert existing.read_bytes() == before


# ---- a Ctrl-C in the middle of a NumPy step ------------------------------------------------


def test_numpy_engine_finishes_the_step_a_ctrl_c_lands_in(monkeypatch: pytest.MonkeyPatch) -> None:
    """SIGINT arrives between the update of the weights and that of the biases of step 3:
    the step still completes, and fit stops right after it (deterministic, unlike the race
    above)."""
    from fastmlp import reference

    descend = reference._descend
    calls = []

    def interrupted_descend(weights, biases, outputs, y_onehot, lr, activation, *plain_sgd):
        weight_grads, bias_grads = reference.backward(weights, outputs, y_onehot, activation)
        step = weights[0].dtype.type(lr)
        for w, grad in zip(weights, weight_grads, strict=True):
            w -= step * grad
        calls.append(len(calls))
        if len(calls) == 3:
            os.kill(os.getpid(), signal.SIGINT)  # Python runs its handler right here
        for b, grad in zip(biases, bias_grads, strict=True):
            b -= step * grad

    rng = np.random.default_rng(0)
    x = rng.random((256, 20), dtype=np.float32)
    labels = rng.integers(0, 4, 256)
    model = fastmlp.MLP([20, 8, 4], engine="numpy", seed=0)
    monkeypatch.setattr(reference, "_descend", interrupted_descend)
    with pytest.raises(KeyboardInterrupt):
        model.fit(x, labels, epochs=3, batch_size=16, lr=0.1)
    monkeypatch.setattr(reference, "_descend", descend)
    assert len(calls) == 3 and len(model.history_) == 0
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler

    replay = fastmlp.MLP([20, 8, 4], engine="numpy", seed=0)
    order = replay._rng.permutation(len(x))
    for b in range(3):
        rows = order[16 * b : 16 * (b + 1)]
        reference.train_epoch_stats(replay.weights, replay.biases, x, labels, rows, 0.1, 16, "relu")
    for ours, theirs in zip(
        model.weights + model.biases, replay.weights + replay.biases, strict=True
    ):
        np.testing.assert_array_equal(ours, theirs)
