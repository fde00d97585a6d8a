"""The GIL is released while Rust computes: a Python thread runs beside a kernel call, two
models train at once as they would one after the other, and the thread count is checked.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import fastmlp
from fastmlp import _native, kernels
from tests.support.boundary import assert_same, fails, names

# ---- the GIL --------------------------------------------------------------------------------


def run_beside(work: Callable[[], Any]) -> dict[str, float]:
    """Run ``work`` in a thread while this thread keeps running a Python loop.

    Returns the call's duration, the iterations this thread made while the call was under way
    and the longest pause between two iterations: a call that holds the GIL stops this thread
    for all of its duration.
    """
    entered, returned, finished = threading.Event(), threading.Event(), threading.Event()
    times: dict[str, float] = {}

    def target() -> None:
        try:
            entered.set()
            times["enter"] = time.perf_counter()
            work()
            times["exit"] = time.perf_counter()
            returned.set()
        finally:
            finished.set()

    thread = threading.Thread(target=target)
    inside, longest, last = 0, 0.0, time.perf_counter()
    thread.start()
    while not finished.is_set():
        now = time.perf_counter()
        longest, last = max(longest, now - last), now
        if entered.is_set() and not returned.is_set():
            inside += 1
    thread.join()
    assert returned.is_set(), "the call failed"
    return {"seconds": times["exit"] - times["enter"], "inside": inside, "longest": longest}


def assert_ran_beside(measured: dict[str, float]) -> None:
    assert measured["seconds"] > 0.1, f"too little work to measure: {measured}"
    assert measured["inside"] > 1000, measured
    assert measured["longest"] < measured["seconds"] / 2, measured


def test_the_probe_sees_a_call_that_holds_the_gil():
    """The measurement itself can fail: a C loop that keeps the GIL stops the main thread."""
    measured = run_beside(lambda: sum(range(20_000_000)))
    assert measured["seconds"] > 0.1
    assert measured["longest"] > measured["seconds"] / 2, measured


def test_matmul_releases_the_gil():
    rng = np.random.default_rng(0)
    a = rng.random((4000, 4000), dtype=np.float32)
    b = rng.random((4000, 4000), dtype=np.float32)
    assert_ran_beside(run_beside(lambda: _native.matmul(a, b)))


def big_training(seed: int, rows: int = 20_000, hidden: int = 128) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    return {
        "weights": [
            (rng.standard_normal((784, hidden)) * 0.05).astype(np.float32),
            (rng.standard_normal((hidden, 10)) * 0.1).astype(np.float32),
        ],
        "biases": [np.zeros(hidden, np.float32), np.zeros(10, np.float32)],
        "x": rng.random((rows, 784), dtype=np.float32),
        "labels": rng.integers(0, 10, rows),
        "order": np.tile(rng.permutation(rows), 5),
        "lr": 0.01,
        "batch_size": 32,
        "activation": "relu",
    }


def test_train_epoch_releases_the_gil():
    args = big_training(0)
    assert_ran_beside(run_beside(lambda: _native.train_epoch_stats(**args)))


def test_a_busy_python_thread_barely_slows_training_on_the_main_thread():
    """Looking for Ctrl-C takes the GIL, which a busy thread holds for up to the switch
    interval (5 ms): done after every batch, this made the epoch 30-50 times slower."""
    threads = fastmlp.get_num_threads()
    fastmlp.set_num_threads(1)  # the engine's thread and the spinner: one core each
    stop = threading.Event()
    spinner = threading.Thread(target=lambda: [None for _ in iter(stop.is_set, True)])
    try:
        alone = big_training(0)
        start = time.perf_counter()
        _native.train_epoch_stats(**alone)
        seconds_alone = time.perf_counter() - start

        beside = big_training(0)
        spinner.start()
        start = time.perf_counter()
        _native.train_epoch_stats(**beside)
        seconds_beside = time.perf_counter() - start
    finally:
        stop.set()
        if spinner.is_alive():
            spinner.join()
        fastmlp.set_num_threads(threads)
    # Waiting 5 ms for the GIL after each of the 3,125 batches would cost 15 s.
    assert seconds_beside < 10 * seconds_alone + 0.5, (seconds_beside, seconds_alone)
    assert_same(beside["weights"], alone["weights"])


def test_two_models_trained_at_once_match_sequential_training():
    sequential = [big_training(seed, rows=4_000, hidden=64) for seed in (1, 2)]
    concurrent = [big_training(seed, rows=4_000, hidden=64) for seed in (1, 2)]
    expected = [kernels.train_epoch_stats(**args) for args in sequential]
    barrier = threading.Barrier(2)
    results: list[Any] = [None, None]

    def train(i: int) -> None:
        barrier.wait()
        results[i] = kernels.train_epoch_stats(**concurrent[i])

    threads = [threading.Thread(target=train, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == expected
    for done, alone in zip(concurrent, sequential, strict=True):
        assert_same(done["weights"] + done["biases"], alone["weights"] + alone["biases"])
    assert sequential[0]["weights"][0].tobytes() != sequential[1]["weights"][0].tobytes()


@pytest.mark.parametrize("threads", [0, -1])
def test_thread_count_must_be_positive(threads):
    before = fastmlp.get_num_threads()
    err = fails(fastmlp.set_num_threads, {"n": threads}, ValueError)
    assert names(err, "num_threads") and str(threads) in str(err), str(err)
    assert fastmlp.get_num_threads() == before
