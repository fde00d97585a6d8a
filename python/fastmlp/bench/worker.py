"""One engine's own process: ``python -m fastmlp.bench.worker ENGINE``.

The parent (:class:`fastmlp.bench.timing.Worker`) sends one JSON request per line on stdin
and reads one JSON reply per line; anything else the process prints goes to stderr. Each
engine runs in its own process so that it has its own environment (the baselines without
``OPENBLAS_CORETYPE``/``OPENBLAS_L2_SIZE``) and its thread pools never compete with another
engine's.

Requests (``op``):

- ``describe``: the engine, its versions, kernels, BLAS pools (threadpoolctl), the
  OpenBLAS variables as this process sees them, and the optimizers it runs.
- ``peak``: GFLOP/s of a square matmul (``size``, ``dtype``, best of ``repeats``).
- ``epoch``: one call of ``config`` (an epoch, or forward passes for inference) on the
  data described by ``data``, ``rows``, ``seed``, from fresh copies of the initial weights
  (and a fresh state of ``optimizer``, plain SGD by default) and with repetition
  ``repetition``'s row order; 0 is the warm-up.
- ``memory``: in a fresh process, how far one call raises the resident-set high-water mark.

:func:`run_server` and :func:`process_account` also serve the research scripts in
``benchmarks/``, which run their own operations in their own processes the same way.
"""

from __future__ import annotations

import gc
import json
import math
import os
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

import numpy as np

from fastmlp import reference
from fastmlp.bench.configs import LEARNING_RATE, config_by_name
from fastmlp.bench.data import init_params, load_data, row_order
from fastmlp.bench.engines import BenchEngine, EngineUnavailable, make_engine
from fastmlp.bench.machine import BASELINE_UNSET, blas_pools
from fastmlp.bench.memory import measure_call
from fastmlp.bench.optimizers import (
    OPTIMIZER_NAMES,
    PLAIN_SGD,
    optimizer_by_name,
    optimizer_keywords,
    unsupported_reason,
)

#: A timed inference sample repeats the forward pass until it lasts at least this long.
MIN_SAMPLE_SECONDS = 0.05


class State:
    """What a worker keeps between requests: its engine, the current data and threads."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.engine: BenchEngine | None = None
        self.why_unavailable: str | None = None
        try:
            self.engine = make_engine(name)
        except EngineUnavailable as error:
            self.why_unavailable = str(error)
        self.threads: int | None = None
        self.data_key: tuple[Any, ...] | None = None
        self.data: tuple[np.ndarray, np.ndarray, Any] | None = None
        self.calls_per_sample: dict[tuple[str, int], int] = {}
        self.reference_probabilities: dict[tuple[Any, ...], np.ndarray] = {}
        #: Why each optimizer this engine could take does not run here (None: it runs).
        self.optimizers: dict[str, str | None] = {PLAIN_SGD: None}
        if self.engine is not None and self.engine.takes_optimizers:
            for name in OPTIMIZER_NAMES[1:]:
                self.optimizers[name] = unsupported_reason(self.engine.train_epoch, name, "float32")

    def ready(self) -> BenchEngine:
        if self.engine is None:
            raise RuntimeError(self.why_unavailable or f"{self.name} is not available")
        return self.engine

    def use_threads(self, threads: int) -> None:
        if threads != self.threads:
            self.ready().set_threads(threads)
            self.threads = threads

    def inputs(self, kind: str, rows: int, dtype: str, seed: int) -> tuple[Any, np.ndarray, Any]:
        """(x, labels, x as the engine trains on it) for the described data, kept while the
        next request asks for the same."""
        key = (kind, rows, dtype, seed)
        if key != self.data_key:
            self.data = None  # free the previous data before building the next
            gc.collect()
            x, labels = load_data(kind, rows, dtype, seed)
            self.data = (x, labels, self.ready().prepare(x))
            self.data_key = key
        assert self.data is not None
        return self.data


def process_account() -> dict[str, Any]:
    """This process as a report shows it: pid, the OpenBLAS variables it sees, and the BLAS
    pools threadpoolctl finds (with the kernel each runs)."""
    return {
        "pid": os.getpid(),
        "environ": {name: os.environ.get(name) for name in BASELINE_UNSET},
        "pools": blas_pools(),
    }


def describe(state: State) -> dict[str, Any]:
    engine = state.engine
    return {
        "engine": state.name,
        "available": engine is not None,
        "why": state.why_unavailable,
        **process_account(),
        "kernels": None if engine is None else engine.kernels,
        "versions": {} if engine is None else engine.versions,
        "has_matmul": engine is not None and engine.matmul is not None,
        "same_math": engine is not None and engine.same_math,
        "optimizers": [name for name, why in state.optimizers.items() if why is None],
        "optimizers_not_run": {n: why for n, why in state.optimizers.items() if why is not None},
    }


def peak(state: State, request: dict[str, Any]) -> dict[str, Any]:
    matmul = state.ready().matmul
    if matmul is None:
        raise RuntimeError(f"{state.name} has no matmul to time")
    state.use_threads(request["threads"])
    size = request["size"]
    rng = np.random.default_rng(1)
    a = rng.random((size, size)).astype(request["dtype"])
    b = rng.random((size, size)).astype(request["dtype"])
    matmul(a, b)  # warm-up: thread pools, packing buffers, page faults
    best = math.inf
    for _ in range(request["repeats"]):
        start = time.perf_counter()
        matmul(a, b)
        best = min(best, time.perf_counter() - start)
    return {"gflops": 2 * size**3 / best / 1e9}


class Call:
    """One call of a request's config (an epoch, or a forward pass) on the request's data and
    row order, from fresh copies of the initial weights and a fresh optimizer state made by
    :meth:`reset` (untimed)."""

    def __init__(self, state: State, request: dict[str, Any]) -> None:
        self.engine = state.ready()
        self.config = config = config_by_name(request["config"])
        seed = request["seed"]
        x, self.labels, self.inputs = state.inputs(
            request["data"], request["rows"], config.dtype, seed
        )
        self.rows = config.rows_used(len(x))
        self.x_used = x[: self.rows]
        self.initial = init_params(config.sizes, config.dtype, seed)
        self.order = row_order(self.rows, seed, request["repetition"])
        self.optimizer = optimizer_by_name(request.get("optimizer", PLAIN_SGD))
        self.reset()

    def reset(self) -> None:
        self.weights = [w.copy() for w in self.initial[0]]
        self.biases = [b.copy() for b in self.initial[1]]
        self.keywords = optimizer_keywords(self.optimizer.name, self.weights, self.biases)

    def __call__(self) -> Any:
        config = self.config
        if config.is_inference:
            return self.engine.forward(self.weights, self.biases, self.x_used, config.activation)
        return self.engine.train_epoch(
            self.weights,
            self.biases,
            self.inputs,
            self.labels,
            self.order,
            LEARNING_RATE if self.optimizer.name == PLAIN_SGD else self.optimizer.lr,
            config.batch_for(self.rows),
            config.activation,
            **self.keywords,
        )


def epoch(state: State, request: dict[str, Any]) -> dict[str, Any]:
    state.use_threads(request["threads"])
    call = Call(state, request)
    config = call.config
    key = (config.name, request["threads"])
    calls = state.calls_per_sample.get(key, 1) if config.is_inference else 1
    start = time.perf_counter()
    for _ in range(calls):
        result = call()
    seconds = (time.perf_counter() - start) / calls
    reply: dict[str, Any] = {"seconds": seconds}
    if config.is_inference:
        if request["repetition"] == 0:  # the warm-up sets how many passes make a sample
            state.calls_per_sample[key] = max(
                1, min(1000, math.ceil(MIN_SAMPLE_SECONDS / max(seconds, 1e-9)))
            )
        reply["difference"] = _difference_from_reference(state, call, result)
    else:
        reply["loss"] = float(result)
    return reply


def _difference_from_reference(state: State, call: Call, probabilities: Any) -> float:
    """Largest absolute difference of a probability from the NumPy reference's."""
    key = (call.config.name, state.data_key)
    expected = state.reference_probabilities.get(key)
    if expected is None:
        weights, biases = call.initial
        expected = reference.forward(weights, biases, call.x_used, call.config.activation)[-1]
        state.reference_probabilities = {key: expected}
    return float(np.max(np.abs(np.asarray(probabilities) - expected)))


def memory(state: State, request: dict[str, Any]) -> dict[str, Any]:
    state.use_threads(request["threads"])
    call = Call(state, {**request, "repetition": 1})
    return measure_call(call, call.reset, traced=state.name == "numpy")


OPERATIONS: dict[str, Callable[..., dict[str, Any]]] = {
    "describe": lambda state, request: describe(state),
    "peak": peak,
    "epoch": epoch,
    "memory": memory,
}


Handler = Callable[[dict[str, Any]], dict[str, Any]]


def serve(handle: Handler, requests: TextIO, replies: TextIO) -> None:
    """Answer each request line with one reply line (``handle``'s, or ``{"error": ...}``
    when it raises) until the requests end."""
    for line in requests:
        request = json.loads(line)
        try:
            reply = handle(request)
        except Exception as error:  # reported to the parent, which decides
            reply = {"error": f"{type(error).__name__}: {error}"}
        replies.write(json.dumps(reply) + "\n")
        replies.flush()


def run_server(handle: Handler) -> None:
    """Serve requests from stdin, replies on stdout, until stdin closes; anything else this
    process prints goes to stderr, so that it cannot break a reply."""
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    sys.stdout = sys.stderr
    serve(handle, sys.stdin, replies)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m fastmlp.bench.worker ENGINE", file=sys.stderr)
        return 2
    state = State(argv[0])
    run_server(lambda request: OPERATIONS[request["op"]](state, request))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
