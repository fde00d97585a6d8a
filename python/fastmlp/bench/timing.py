"""Timing the engines, each in its own process, interleaved, with a pause between calls.

OpenBLAS's threads spin for a while after each call and rayon's poll for work: an engine
timed right after another may lose a core to them. So every engine runs in its own
process (:mod:`fastmlp.bench.worker`), idle while the others are timed; the repetitions are
interleaved (round k times every engine once, in a rotating order) so that a slow spell of
the machine is shared by all engines instead of falling on one; and the parent pauses
between calls.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from fastmlp.bench.configs import BenchConfig
from fastmlp.bench.engines import BASELINES
from fastmlp.bench.machine import environment_for
from fastmlp.bench.optimizers import PLAIN_SGD

__all__ = [
    "AGREEMENT_TOLERANCE",
    "EngineTiming",
    "MatmulPeak",
    "Worker",
    "WorkerError",
    "measure_peaks",
    "rotation",
    "run_rounds",
    "time_config",
]

# Largest difference from the NumPy reference that still counts as "same result": for
# training the relative difference of the epoch's mean loss, for inference the largest
# absolute difference of a probability (as the parity tests, after an epoch of SGD).
AGREEMENT_TOLERANCE = {"float32": 1e-3, "float64": 1e-9}


Unit = TypeVar("Unit", bound=Hashable)  # what a round runs once: an engine, a recipe, ...


class WorkerError(RuntimeError):
    """An engine's process failed a request, or ended."""


class Worker:
    """An engine's own process (``python -m fastmlp.bench.worker ENGINE``), spoken to in
    JSON lines. Baselines (NumPy, scikit-learn, PyTorch) get an environment without
    ``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE``; the Rust engine keeps the caller's.

    A research script runs its own operations the same way: ``command`` (the arguments
    after the interpreter, e.g. ``[script, "--serve", name]``) and ``baseline`` (whether
    the process runs NumPy's, scikit-learn's or PyTorch's kernels) say how.
    """

    def __init__(
        self,
        engine: str,
        environ: Mapping[str, str] | None = None,
        *,
        command: Sequence[str] | None = None,
        baseline: bool | None = None,
    ) -> None:
        self.engine = engine
        self.stderr = tempfile.TemporaryFile(mode="w+", encoding="utf-8")
        arguments = ["-m", "fastmlp.bench.worker", engine] if command is None else command
        baseline = engine in BASELINES if baseline is None else baseline
        self.process = subprocess.Popen(
            [sys.executable, *arguments],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            env=environment_for(baseline, environ),
            text=True,
            encoding="utf-8",
        )
        self._info: dict[str, Any] | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def info(self) -> dict[str, Any]:
        """The worker's ``describe`` reply (asked once)."""
        if self._info is None:
            self._info = self.request({"op": "describe"})
        return self._info

    def request(self, message: dict[str, Any]) -> dict[str, Any]:
        """Send one request; its reply, or :class:`WorkerError`."""
        stdin, stdout = self.process.stdin, self.process.stdout
        assert stdin is not None and stdout is not None
        try:
            stdin.write(json.dumps(message) + "\n")
            stdin.flush()
            line = stdout.readline()
        except OSError:  # the process is gone: a broken pipe
            line = ""
        if not line:
            raise WorkerError(f"the {self.engine} process ended: {self._stderr_tail()}")
        reply: dict[str, Any] = json.loads(line)
        if "error" in reply:
            raise WorkerError(f"{self.engine}: {reply['error']}")
        return reply

    def _stderr_tail(self) -> str:
        self.process.poll()
        self.stderr.seek(0)
        lines = self.stderr.read().strip().splitlines()
        code = self.process.returncode
        return (lines[-1] if lines else "no output") + (f" (exit {code})" if code else "")

    def close(self) -> None:
        """End the process (it exits when its stdin closes)."""
        if self.process.stdin is not None and not self.process.stdin.closed:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        self.stderr.close()

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class MatmulPeak:
    """GFLOP/s of a ``size`` x ``size`` square matmul, best of several, at ``threads``:
    NumPy's BLAS (with its native kernels) and the Rust engine's own."""

    threads: int
    dtype: str
    size: int
    numpy_gflops: float | None
    rust_gflops: float | None

    @property
    def best(self) -> float:
        """The better of the two: this run's peak."""
        return max(g for g in (self.numpy_gflops, self.rust_gflops, 0.0) if g is not None)


def measure_peaks(
    workers: Mapping[str, Worker],
    threads: Sequence[int],
    size: int = 2048,
    repeats: int = 5,
    pause: float = 0.0,
) -> list[MatmulPeak]:
    """Time ``a @ b`` for random ``size`` x ``size`` matrices in float32 (sgemm) and float64
    (dgemm) at each thread count, in the ``numpy`` and ``rust`` workers (when present)."""
    peaks = []
    for count in threads:
        for dtype in ("float32", "float64"):
            gflops: dict[str, float | None] = {}
            for name in ("numpy", "rust"):
                worker = workers.get(name)
                if worker is None:
                    gflops[name] = None
                    continue
                message = {"op": "peak", "threads": count, "dtype": dtype, "size": size}
                gflops[name] = worker.request(message | {"repeats": repeats})["gflops"]
                time.sleep(pause)
            peaks.append(MatmulPeak(count, dtype, size, gflops["numpy"], gflops["rust"]))
    return peaks


@dataclass
class EngineTiming:
    """One engine on one configuration and thread count: seconds per repetition, and how far
    its result is from the NumPy reference's (see :data:`AGREEMENT_TOLERANCE`)."""

    seconds: list[float]
    difference: float | None = None  # None for the reference, or where not comparable
    results: list[float] = field(default_factory=list, repr=False)

    @property
    def median(self) -> float:
        """Median seconds per epoch (or per forward pass)."""
        return statistics.median(self.seconds)

    @property
    def spread(self) -> float:
        """(slowest - fastest) / median: how much the repetitions disagree."""
        return (max(self.seconds) - min(self.seconds)) / self.median


def rotation(units: Sequence[Unit], repeats: int) -> list[tuple[Unit, int]]:
    """The interleaved order of ``repeats`` rounds: round k (from 1) runs every unit once,
    starting one unit further along than round k-1. Returns (unit, k) pairs."""
    order = []
    for k in range(1, repeats + 1):
        shift = (k - 1) % len(units)
        order += [(unit, k) for unit in [*units[shift:], *units[:shift]]]
    return order


def run_rounds(
    units: Sequence[Unit],
    send: Callable[[Unit, int], dict[str, Any]],
    repeats: int,
    pause: float = 0.0,
    warmup: bool = True,
) -> tuple[dict[Unit, list[dict[str, Any]]], list[Unit], dict[Unit, str]]:
    """Call ``send(unit, k)`` for a warm-up of every unit (k = 0, reply dropped) and then in
    :func:`rotation` order, sleeping ``pause`` seconds after every call.

    A unit whose ``send`` raises :class:`WorkerError` is called no more. Returns each other
    unit's replies (rounds 1..repeats, in order), the schedule (the units in the order
    their rounds ran) and, for the failed units, why.
    """
    failed: dict[Unit, str] = {}

    def attempt(unit: Unit, k: int) -> dict[str, Any] | None:
        if unit in failed:
            return None
        try:
            return send(unit, k)
        except WorkerError as error:
            failed[unit] = str(error)
            return None
        finally:
            time.sleep(pause)

    if warmup:
        for unit in units:
            attempt(unit, 0)
    replies: dict[Unit, list[dict[str, Any]]] = {unit: [] for unit in units}
    schedule: list[Unit] = []
    for unit, k in rotation(units, repeats):
        reply = attempt(unit, k)
        if reply is not None:
            replies[unit].append(reply)
            schedule.append(unit)
    return {u: r for u, r in replies.items() if u not in failed}, schedule, failed


def time_config(
    config: BenchConfig,
    workers: Mapping[str, Worker],
    same_math: Mapping[str, bool],
    data: dict[str, Any],
    threads: int,
    repeats: int,
    pause: float = 0.0,
    optimizers: Mapping[str, Sequence[str]] | None = None,
) -> tuple[dict[str, dict[str, EngineTiming]], list[str], dict[str, str]]:
    """Time ``config`` in every worker: one warm-up call each, then ``repeats`` rounds.

    ``data`` is ``{"data": kind, "rows": n, "seed": s}``. ``optimizers`` gives, per worker,
    the optimizers to time it with (default: plain SGD only); every (engine, optimizer)
    pair is one unit of the rounds. Round k calls every unit once, starting one unit
    further along than round k-1, with repetition k's row order; the parent sleeps
    ``pause`` seconds after every call.

    Returns the timings by optimizer, then engine; the schedule (the units in the order
    they were timed: the engine's name for plain SGD, ``engine+optimizer`` for the others);
    and, for units whose request failed, why (they are left out of the timings).
    Training losses are compared with the ``numpy`` worker's for the same optimizer where
    ``same_math`` says the engine computes the same thing.
    """
    units = [
        (name, optimizer)
        for name in workers
        for optimizer in (optimizers or {}).get(name, [PLAIN_SGD])
    ]
    units.sort(key=lambda unit: unit[1] != PLAIN_SGD)  # plain SGD first, as before
    message = {"op": "epoch", "config": config.name, "threads": threads, **data}

    def send(unit: tuple[str, str], repetition: int) -> dict[str, Any]:
        name, optimizer = unit
        extra = {} if optimizer == PLAIN_SGD else {"optimizer": optimizer}
        return workers[name].request(message | extra | {"repetition": repetition})

    replies, schedule, failed = run_rounds(units, send, repeats, pause)
    timings: dict[str, dict[str, EngineTiming]] = {}
    for (name, optimizer), answers in replies.items():
        timing = EngineTiming(
            [a["seconds"] for a in answers],
            results=[a.get("difference", a.get("loss", 0.0)) for a in answers],
        )
        timings.setdefault(optimizer, {})[name] = timing
    for by_engine in timings.values():
        _compare(config, by_engine, same_math)
    return timings, [_label(*unit) for unit in schedule], {_label(*u): w for u, w in failed.items()}


def _label(engine: str, optimizer: str) -> str:
    """How a schedule names a unit: the engine for plain SGD, else ``engine+optimizer``."""
    return engine if optimizer == PLAIN_SGD else f"{engine}+{optimizer}"


def _compare(
    config: BenchConfig, timings: dict[str, EngineTiming], same_math: Mapping[str, bool]
) -> None:
    """Set each engine's largest difference from the NumPy reference over the repetitions."""
    for name, timing in timings.items():
        if name == "numpy":
            continue
        if config.is_inference:  # the worker compared its probabilities itself
            timing.difference = max(timing.results)
        elif "numpy" in timings and same_math.get(name, True):
            expected = timings["numpy"].results
            timing.difference = max(
                abs(got - want) / max(abs(want), 1e-30)
                for got, want in zip(timing.results, expected, strict=True)
            )
