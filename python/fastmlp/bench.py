"""Benchmark: an epoch of the Rust engine, the NumPy reference and PyTorch, side by side.

One run times every engine on the same data, the same initial weights and the same row
orders, for the seed notebooks' configurations and for inference on 10,000 rows; it also
measures this machine's matmul peak (a large square sgemm and dgemm, NumPy's OpenBLAS and
the Rust engine's own matmul) so that the engines' GFLOP/s can be read as a share of it.

>>> from fastmlp import bench
>>> bench.main(["--quick", "--threads", "1"])        # doctest: +SKIP

What is measured (``benchmarks/README.md`` says the same for readers of the table):

- **seconds**: the median of ``--repeats`` epochs (or forward passes), each started from a
  copy of the same initial weights with that repetition's row order, after one warm-up
  epoch per engine that is not counted. Each engine runs all its repetitions in a block.
- **GFLOP/s**: the epoch's matmul FLOPs (:func:`train_flops`, :func:`forward_flops`; the
  elementwise work, softmax and updates are not counted) divided by the median seconds.
- **% of peak**: the Rust engine's GFLOP/s over the best large square matmul measured in
  the same run with the same thread count and dtype (sgemm for float32 configurations,
  dgemm for float64), the best of NumPy and the Rust engine.
- **threads**: the Rust engine (:func:`fastmlp.set_num_threads`), NumPy's BLAS
  (``threadpoolctl``) and PyTorch (``torch.set_num_threads``) all get the same count.
- **peak memory**: for each engine, in a fresh Python process that has already built the
  data and imported the engine, how far one epoch (warm-up included, so thread pools and
  BLAS buffers count) raises the resident-set high-water mark above the resident size just
  before it (Linux ``/proc/self/status`` VmHWM, reset through ``/proc/self/clear_refs``).

``threadpoolctl`` is needed to set NumPy's threads; PyTorch is used when importable and is
never a dependency of fastmlp.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import gc
import itertools
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, TextIO

import numpy as np
from numpy.typing import NDArray

import fastmlp
from fastmlp import datasets, kernels, reference

__all__ = [
    "CONFIGS",
    "DATA_KINDS",
    "ENGINES",
    "BenchConfig",
    "ConfigResult",
    "CpuMeter",
    "EngineTiming",
    "MatmulPeak",
    "Options",
    "Report",
    "config_flops",
    "forward_flops",
    "load_data",
    "main",
    "measure_peaks",
    "run",
    "train_flops",
]

FloatArray = NDArray[np.floating]
IntArray = NDArray[np.int64]
TrainFn = Callable[..., float]
ForwardFn = Callable[..., list]

INPUTS = 784  # pixels per MNIST-like row
CLASSES = 10
LEARNING_RATE = 0.1  # the seeds' rate
ENGINES = ("rust", "numpy", "torch")
DATA_KINDS = ("random", "mnist-like", "fashion-mnist")
# A timed sample of an inference run lasts at least this long (several forward passes).
MIN_SAMPLE_SECONDS = 0.05
# Largest difference from the NumPy reference that still counts as "same result": for
# training the relative difference of the epoch's mean loss, for inference the largest
# absolute difference of a probability (as the parity tests, after an epoch of SGD).
AGREEMENT_TOLERANCE = {"float32": 1e-3, "float64": 1e-9}
# Other processes taking this share of the machine's CPU during the run, or while a row was
# timed, make a note (the row is marked with BUSY_MARK).
BUSY_SHARE = 0.1
BUSY_MARK = "†"
# Repetitions whose slowest is this many times the fastest are reported as noisy.
NOISY_SPREAD = 1.5


# --------------------------------------------------------------------------
# Configurations and FLOP counts
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class BenchConfig:
    """One benchmarked network: layer sizes, hidden activation, dtype and batch size.

    ``batch_size=None`` trains full-batch (one step per epoch); ``inference_rows`` set makes
    the configuration a forward pass over that many rows instead of an epoch of training.
    """

    name: str
    sizes: tuple[int, ...]
    activation: str
    dtype: str
    batch_size: int | None = None
    inference_rows: int | None = None

    @property
    def is_inference(self) -> bool:
        """True for a forward pass only (no training)."""
        return self.inference_rows is not None

    def rows_used(self, data_rows: int) -> int:
        """Rows one timed call processes, given ``data_rows`` rows of data."""
        if self.inference_rows is None:
            return data_rows
        return min(self.inference_rows, data_rows)

    def batch_for(self, rows: int) -> int:
        """The batch size of an epoch over ``rows`` rows (all of them when full-batch)."""
        return rows if self.batch_size is None else self.batch_size

    def describe(self) -> str:
        """A short human description, e.g. ``784-128-10 relu, batch 128, float32``."""
        net = "-".join(str(s) for s in self.sizes)
        act = f" {self.activation}" if len(self.sizes) > 2 else " softmax"
        if self.inference_rows is not None:
            what = f"inference on {self.inference_rows:,} rows"
        elif self.batch_size is None:
            what = "full batch"
        else:
            what = f"batch {self.batch_size}"
        return f"{net}{act}, {what}, {self.dtype}"


CONFIGS: tuple[BenchConfig, ...] = (
    # seed 000: 784-128-10 ReLU, SGD batch 128, float32
    BenchConfig("784-128-10-relu-b128-f32", (784, 128, 10), "relu", "float32", 128),
    # seed 003: softmax regression, batch 256, float32
    BenchConfig("784-10-b256-f32", (784, 10), "relu", "float32", 256),
    # seed 004: 784-128-64-10 ReLU, batch 64, float64
    BenchConfig("784-128-64-10-relu-b64-f64", (784, 128, 64, 10), "relu", "float64", 64),
    # seed 001: 784-128-10 ReLU, full-batch gradient descent, float64
    BenchConfig("784-128-10-relu-full-f64", (784, 128, 10), "relu", "float64", None),
    # prediction on an MNIST-sized test set with the seed-000 network
    BenchConfig(
        "infer-784-128-10-relu-10k-f32", (784, 128, 10), "relu", "float32", inference_rows=10_000
    ),
)
CONFIG_NAMES = tuple(c.name for c in CONFIGS)


def forward_flops(sizes: Sequence[int], rows: int) -> int:
    """Matmul FLOPs of a forward pass over ``rows`` rows: ``2 * rows * fan_in * fan_out``
    per layer (one multiply and one add per term of ``a_in @ W``)."""
    return sum(2 * rows * fan_in * fan_out for fan_in, fan_out in itertools.pairwise(sizes))


def train_flops(sizes: Sequence[int], rows: int) -> int:
    """Matmul FLOPs of an epoch of SGD over ``rows`` rows, exactly.

    Per layer of shape (fan_in, fan_out), with ``f = 2 * rows * fan_in * fan_out``: the
    forward product ``a_in @ W`` (f), the weight gradient ``a_in.T @ delta`` (f), and for
    every layer but the first the delta sent down, ``delta @ W.T`` (f). The split into
    batches does not change the sum. Bias, activation, softmax and update work (O(rows *
    fan_out) or O(fan_in * fan_out) per batch) are not counted.
    """
    total = 0
    for layer, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes)):
        per_product = 2 * rows * fan_in * fan_out
        total += 2 * per_product if layer == 0 else 3 * per_product
    return total


def config_flops(config: BenchConfig, data_rows: int) -> int:
    """Matmul FLOPs of one timed call of ``config`` on ``data_rows`` rows of data."""
    rows = config.rows_used(data_rows)
    if config.is_inference:
        return forward_flops(config.sizes, rows)
    return train_flops(config.sizes, rows)


# --------------------------------------------------------------------------
# Data and parameters
# --------------------------------------------------------------------------


def _tile(images: np.ndarray, labels: np.ndarray, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """The first ``rows`` rows of ``images``/``labels`` repeated as often as needed."""
    index = np.arange(rows) % len(images)
    return images[index], labels[index]


def load_data(kind: str, rows: int, dtype: str, seed: int = 0) -> tuple[FloatArray, IntArray]:
    """``rows`` input rows (rows, 784) in ``dtype`` with values in [0, 1], and int64 labels.

    Args:
        kind: ``"random"`` (uniform pixels, uniform labels: the cost does not depend on
            the values for dense inputs), ``"mnist-like"`` (the bundled 5,000-digit
            ``mnist-sample``, training then test split, tiled to ``rows``) or
            ``"fashion-mnist"`` (found on disk by :func:`fastmlp.datasets.load`, never
            downloaded here; training then test split, tiled if ``rows`` exceeds them).
        rows: how many rows.
        dtype: ``"float32"`` or ``"float64"``.
        seed: for ``"random"``.

    Raises:
        ValueError: an unknown ``kind`` or ``rows`` < 1.
        fastmlp.datasets.DatasetNotFoundError: ``"fashion-mnist"`` is not on this machine.
    """
    if rows < 1:
        raise ValueError(f"rows: expected a positive integer, got {rows}")
    if kind == "random":
        rng = np.random.default_rng(seed)
        x = rng.random((rows, INPUTS), dtype=np.dtype(dtype).type)
        labels = rng.integers(0, CLASSES, size=rows, dtype=np.int64)
        return x, labels
    if kind in ("mnist-like", "fashion-mnist"):
        name = "mnist-sample" if kind == "mnist-like" else "fashion-mnist"
        data = datasets.load(name, download=False)
        images = np.concatenate([data.x_train, data.x_test])
        labels = np.concatenate([data.y_train, data.y_test]).astype(np.int64)
        images, labels = _tile(images, labels, rows)
        return datasets.prepare(images, dtype=dtype), labels
    raise ValueError(f"data: expected one of {', '.join(DATA_KINDS)}, got {kind!r}")


def init_params(
    sizes: Sequence[int], dtype: str, seed: int
) -> tuple[list[FloatArray], list[FloatArray]]:
    """He-normal weights (fan_in, fan_out) and zero biases (fan_out,) in ``dtype``."""
    rng = np.random.default_rng(seed)
    weights = [
        rng.normal(0.0, math.sqrt(2.0 / fan_in), size=(fan_in, fan_out)).astype(dtype)
        for fan_in, fan_out in itertools.pairwise(sizes)
    ]
    biases = [np.zeros(fan_out, dtype=dtype) for fan_out in sizes[1:]]
    return weights, biases


def _copy_params(
    weights: Sequence[FloatArray], biases: Sequence[FloatArray]
) -> tuple[list[FloatArray], list[FloatArray]]:
    return [w.copy() for w in weights], [b.copy() for b in biases]


# --------------------------------------------------------------------------
# Engines and threads
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Engine:
    """An engine's two benchmarked functions, with the signatures of :mod:`fastmlp.reference`."""

    name: str
    train_epoch: TrainFn
    forward: ForwardFn


def import_torch() -> ModuleType | None:
    """``torch`` if it can be imported, else None."""
    try:
        import torch  # optional, and slow to import: only when asked
    except Exception:  # any failure to import means "not available"
        return None
    return torch


def torch_engine(torch: ModuleType) -> Engine:
    """The same network in PyTorch: raw tensors sharing the NumPy arrays' memory, autograd
    for the gradients, and a manual SGD step under ``torch.no_grad()``."""
    functional = torch.nn.functional
    activations = {"relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid}

    def logits(ws: list[Any], bs: list[Any], h: Any, activation: str) -> Any:
        act = activations[activation]
        last = len(ws) - 1
        for layer, (w, b) in enumerate(zip(ws, bs, strict=True)):
            h = torch.addmm(b, h, w)
            if layer < last:
                h = act(h)
        return h

    def train_epoch(
        weights: Sequence[FloatArray],
        biases: Sequence[FloatArray],
        x: FloatArray,
        labels: IntArray,
        order: IntArray,
        lr: float,
        batch_size: int,
        activation: str,
    ) -> float:
        ws = [torch.from_numpy(w).requires_grad_() for w in weights]
        bs = [torch.from_numpy(b).requires_grad_() for b in biases]
        params = ws + bs
        xt, yt, ot = torch.from_numpy(x), torch.from_numpy(labels), torch.from_numpy(order)
        total = 0.0
        for start in range(0, len(order), batch_size):
            rows = ot[start : start + batch_size]
            loss = functional.cross_entropy(
                logits(ws, bs, xt.index_select(0, rows), activation), yt.index_select(0, rows)
            )
            loss.backward()
            with torch.no_grad():
                for p in params:
                    p -= lr * p.grad  # in place: the NumPy arrays change too
                    p.grad = None
            total += loss.item() * len(rows)
        return total / len(order)

    def forward(
        weights: Sequence[FloatArray], biases: Sequence[FloatArray], x: FloatArray, activation: str
    ) -> list[FloatArray]:
        with torch.inference_mode():
            ws = [torch.from_numpy(w) for w in weights]
            bs = [torch.from_numpy(b) for b in biases]
            probs = torch.softmax(logits(ws, bs, torch.from_numpy(x), activation), dim=1)
        return [x, probs.numpy()]

    return Engine("torch", train_epoch, forward)


def make_engines(names: Sequence[str], torch: ModuleType | None) -> list[Engine]:
    """The engines called ``names``, in that order; "torch" only when ``torch`` is given."""
    engines = []
    for name in names:
        if name == "rust":
            engines.append(Engine("rust", kernels.train_epoch, kernels.forward))
        elif name == "numpy":
            engines.append(Engine("numpy", reference.train_epoch, reference.forward))
        elif name == "torch" and torch is not None:
            engines.append(torch_engine(torch))
    return engines


def _threadpoolctl() -> ModuleType:
    try:
        import threadpoolctl  # a dependency of the benchmark only
    except ImportError as error:
        raise ImportError(
            "the benchmark sets NumPy's BLAS threads with threadpoolctl: pip install threadpoolctl"
        ) from error
    return threadpoolctl


@contextlib.contextmanager
def thread_limits(threads: int, torch: ModuleType | None = None) -> Iterator[None]:
    """Run the block with ``threads`` threads in the Rust engine, every BLAS/OpenMP pool
    that threadpoolctl knows (NumPy's OpenBLAS, PyTorch's MKL/OpenMP) and PyTorch."""
    previous = fastmlp.get_num_threads()
    previous_torch = torch.get_num_threads() if torch is not None else None
    fastmlp.set_num_threads(threads)
    if torch is not None:
        torch.set_num_threads(threads)
    try:
        with _threadpoolctl().threadpool_limits(limits=threads):
            yield
    finally:
        fastmlp.set_num_threads(previous)
        if torch is not None:
            torch.set_num_threads(previous_torch)


def default_threads() -> list[int]:
    """1 and every core this process may run on (just [1] on one core)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return sorted({1, cores})


# --------------------------------------------------------------------------
# Matmul peak
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class MatmulPeak:
    """GFLOP/s of a ``size`` x ``size`` square matmul, best of several, at ``threads``."""

    threads: int
    dtype: str
    size: int
    numpy_gflops: float
    rust_gflops: float

    @property
    def best(self) -> float:
        """The better of NumPy (OpenBLAS) and the Rust engine: this run's peak."""
        return max(self.numpy_gflops, self.rust_gflops)


def _best_seconds(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up: thread pools, packing buffers, page faults
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def measure_peaks(
    threads: Sequence[int], size: int = 2048, repeats: int = 5, torch: ModuleType | None = None
) -> list[MatmulPeak]:
    """Time ``a @ b`` for random ``size`` x ``size`` matrices with NumPy and with
    :func:`fastmlp.kernels.matmul`, in float32 (sgemm) and float64 (dgemm), at each thread
    count; each figure is the best of ``repeats`` after a warm-up call."""
    rng = np.random.default_rng(1)
    flops = 2 * size**3
    peaks = []
    for count in threads:
        with thread_limits(count, torch):
            for dtype in ("float32", "float64"):
                a = rng.random((size, size)).astype(dtype)
                b = rng.random((size, size)).astype(dtype)
                numpy_s = _best_seconds(functools.partial(np.matmul, a, b), repeats)
                rust_s = _best_seconds(functools.partial(kernels.matmul, a, b), repeats)
                peaks.append(
                    MatmulPeak(count, dtype, size, flops / numpy_s / 1e9, flops / rust_s / 1e9)
                )
    return peaks


# --------------------------------------------------------------------------
# Timing the engines
# --------------------------------------------------------------------------


@dataclass
class EngineTiming:
    """One engine on one configuration and thread count: seconds per repetition, and how far
    its result is from the NumPy reference's (see :data:`AGREEMENT_TOLERANCE`)."""

    seconds: list[float]
    difference: float | None = None  # None for the reference itself

    @property
    def median(self) -> float:
        """Median seconds per epoch (or per forward pass)."""
        return statistics.median(self.seconds)


@dataclass
class MemoryProbe:
    """Peak memory of one engine's epoch, measured in a fresh process (see the module doc)."""

    rss_bytes: int
    tracemalloc_bytes: int | None = None  # NumPy engine only: peak of traced allocations


@dataclass
class ConfigResult:
    """Every engine on one configuration at one thread count."""

    config: BenchConfig
    threads: int
    rows: int
    flops: int
    peak_gflops: float
    timings: dict[str, EngineTiming]
    memory: dict[str, MemoryProbe | None] = field(default_factory=dict)
    others_cpu_share: float | None = None  # other processes' CPU while this row was timed

    def seconds(self, engine: str) -> float | None:
        """Median seconds of ``engine``, None when it did not run."""
        timing = self.timings.get(engine)
        return None if timing is None else timing.median

    def gflops(self, engine: str) -> float | None:
        """Achieved matmul GFLOP/s of ``engine``."""
        seconds = self.seconds(engine)
        return None if seconds is None else self.flops / seconds / 1e9

    def ratio(self) -> float | None:
        """Rust seconds over NumPy seconds (below 1: the Rust engine is faster)."""
        rust, numpy_s = self.seconds("rust"), self.seconds("numpy")
        return None if rust is None or numpy_s is None else rust / numpy_s

    def share_of_peak(self) -> float | None:
        """The Rust engine's GFLOP/s as a fraction of this thread count's matmul peak."""
        gflops = self.gflops("rust")
        return None if gflops is None else gflops / self.peak_gflops


def _difference(config: BenchConfig, result: Any, expected: Any) -> float:
    """How far an engine's result is from the reference's (see AGREEMENT_TOLERANCE)."""
    if config.is_inference:
        return float(np.max(np.abs(np.asarray(result[-1]) - np.asarray(expected[-1]))))
    return abs(result - expected) / max(abs(expected), 1e-30)


def time_config(
    config: BenchConfig,
    x: FloatArray,
    labels: IntArray,
    engines: Sequence[Engine],
    repeats: int,
    seed: int = 0,
) -> dict[str, EngineTiming]:
    """Time ``config`` with each engine under the current thread limits.

    Every engine starts each repetition from a copy of the same initial weights and uses
    that repetition's row order; one warm-up call per engine is not timed. Inference
    repeats the forward pass within a sample until it lasts :data:`MIN_SAMPLE_SECONDS`.
    """
    rows = config.rows_used(len(x))
    weights, biases = init_params(config.sizes, config.dtype, seed)
    rng = np.random.default_rng(seed + 1)
    orders = [rng.permutation(rows).astype(np.int64) for _ in range(repeats + 1)]
    batch = config.batch_for(rows)
    x_used = x[:rows] if config.is_inference else x

    def call(engine: Engine, w: list[FloatArray], b: list[FloatArray], order: IntArray) -> Any:
        if config.is_inference:
            return engine.forward(w, b, x_used, config.activation)
        return engine.train_epoch(
            w, b, x_used, labels, order, LEARNING_RATE, batch, config.activation
        )

    results: dict[str, list[Any]] = {}
    timings: dict[str, EngineTiming] = {}
    for engine in engines:
        start = time.perf_counter()
        call(engine, *_copy_params(weights, biases), orders[0])  # warm-up, not timed
        warm = time.perf_counter() - start
        calls = 1  # per timed sample: 1 epoch, or enough forward passes to be measurable
        if config.is_inference:
            calls = max(1, min(1000, math.ceil(MIN_SAMPLE_SECONDS / max(warm, 1e-9))))
        seconds: list[float] = []
        outputs: list[Any] = []
        for order in orders[1:]:
            w, b = _copy_params(weights, biases)  # fresh weights, outside the timer
            start = time.perf_counter()
            for _ in range(calls):
                out = call(engine, w, b, order)
            seconds.append((time.perf_counter() - start) / calls)
            outputs.append(out)
        results[engine.name] = outputs
        timings[engine.name] = EngineTiming(seconds)

    expected = results.get("numpy")
    if expected is not None:
        for name, outputs in results.items():
            if name != "numpy":
                timings[name].difference = max(
                    _difference(config, got, want)
                    for got, want in zip(outputs, expected, strict=True)
                )
    return timings


# --------------------------------------------------------------------------
# Peak memory, one fresh process per engine
# --------------------------------------------------------------------------


def _proc_status_kib(key: str) -> int | None:
    """A ``kB`` field of /proc/self/status (e.g. VmRSS, VmHWM), None off Linux."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_high_water_mark() -> bool:
    """Reset VmHWM to the current resident size (Linux >= 4.0); False if impossible."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as clear_refs:
            clear_refs.write("5")
    except OSError:
        return False
    return True


def _memory_probe(spec: dict[str, Any]) -> dict[str, Any]:
    """Run in a fresh process: one epoch of one engine; its peak memory (module doc)."""
    config = next(c for c in CONFIGS if c.name == spec["config"])
    torch = import_torch() if spec["engine"] == "torch" else None
    (engine,) = make_engines([spec["engine"]], torch)
    x, labels = load_data(spec["data"], spec["rows"], config.dtype, spec["seed"])
    rows = config.rows_used(len(x))
    weights, biases = init_params(config.sizes, config.dtype, spec["seed"])
    order = np.random.default_rng(spec["seed"] + 1).permutation(rows).astype(np.int64)
    x_used = x[:rows] if config.is_inference else x

    def call() -> None:
        w, b = _copy_params(weights, biases)
        if config.is_inference:
            engine.forward(w, b, x_used, config.activation)
        else:
            engine.train_epoch(
                w,
                b,
                x_used,
                labels,
                order,
                LEARNING_RATE,
                config.batch_for(rows),
                config.activation,
            )

    with thread_limits(spec["threads"], torch):
        gc.collect()
        before = _proc_status_kib("VmRSS")
        if before is None or not _reset_high_water_mark():
            return {"rss_bytes": None}
        call()
        high = _proc_status_kib("VmHWM") or before
        result: dict[str, Any] = {"rss_bytes": max(0, high - before) * 1024}
        if spec["engine"] == "numpy":
            tracemalloc.start()
            call()
            result["tracemalloc_bytes"] = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
    return result


_PROBE_CODE = (
    "import json, sys\n"
    "from fastmlp.bench import _memory_probe\n"
    "print(json.dumps(_memory_probe(json.loads(sys.argv[1]))))\n"
)


def probe_memory(
    config: BenchConfig, engine: str, threads: int, data: str, rows: int, seed: int = 0
) -> tuple[MemoryProbe | None, str | None]:
    """Peak memory of one epoch of ``engine`` in a fresh Python process.

    Returns ``(probe, None)``, or ``(None, why)`` when it could not be measured.
    """
    spec = {
        "config": config.name,
        "engine": engine,
        "threads": threads,
        "data": data,
        "rows": rows,
        "seed": seed,
    }
    try:
        done = subprocess.run(
            [sys.executable, "-c", _PROBE_CODE, json.dumps(spec)],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return None, f"memory probe of {engine} on {config.name} failed: {error}"
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        tail = done.stderr.strip().splitlines()[-1:] or ["no output"]
        return None, f"memory probe of {engine} on {config.name} failed: {tail[0]}"
    found = json.loads(lines[-1])
    if found.get("rss_bytes") is None:
        return None, "memory not measured: /proc/self/clear_refs is not available here"
    return MemoryProbe(found["rss_bytes"], found.get("tracemalloc_bytes")), None


# --------------------------------------------------------------------------
# A run, and its report
# --------------------------------------------------------------------------


@dataclass
class Options:
    """What to run; :func:`main` builds it from the command line."""

    threads: list[int] = field(default_factory=default_threads)
    repeats: int = 5
    configs: list[str] = field(default_factory=lambda: list(CONFIG_NAMES))
    data: str = "random"
    rows: int = 60_000
    torch: bool = True
    memory: bool = True
    peak_size: int = 2048
    peak_repeats: int = 5
    seed: int = 0


@dataclass
class Report:
    """Everything one run measured, ready for :meth:`text`, :meth:`markdown`, :meth:`to_json`."""

    options: Options
    machine: dict[str, Any]
    peaks: list[MatmulPeak]
    results: list[ConfigResult]
    notes: list[str]

    def peak(self, threads: int, dtype: str) -> MatmulPeak:
        """The matmul peak at ``threads`` threads for ``dtype``."""
        return next(p for p in self.peaks if p.threads == threads and p.dtype == dtype)

    # ---- tables ---------------------------------------------------------

    def _peak_rows(self) -> tuple[list[str], list[list[str]]]:
        header = ["threads", "numpy sgemm", "rust sgemm", "numpy dgemm", "rust dgemm"]
        rows = []
        for count in self.options.threads:
            s, d = self.peak(count, "float32"), self.peak(count, "float64")
            rows.append(
                [
                    str(count),
                    f"{s.numpy_gflops:.1f}",
                    f"{s.rust_gflops:.1f}",
                    f"{d.numpy_gflops:.1f}",
                    f"{d.rust_gflops:.1f}",
                ]
            )
        return header, rows

    def _result_rows(self) -> tuple[list[str], list[list[str]]]:
        engines = [e for e in ENGINES if any(e in r.timings for r in self.results)]
        memory = " / ".join(engines)
        header = [
            "config",
            "threads",
            "rust s/epoch",
            "numpy s/epoch",
            "ratio rust/numpy",
            "torch s/epoch",
            "rust GFLOP/s",
            "% of peak",
            f"peak memory MiB ({memory})",
        ]
        rows = []
        for r in self.results:
            share = r.share_of_peak()
            mem = " / ".join(_mebibytes(r.memory.get(e)) for e in engines)
            busy = r.others_cpu_share is not None and r.others_cpu_share >= BUSY_SHARE
            rows.append(
                [
                    f"{r.config.name} {BUSY_MARK}" if busy else r.config.name,
                    str(r.threads),
                    _seconds(r.seconds("rust")),
                    _seconds(r.seconds("numpy")),
                    "—" if r.ratio() is None else f"{r.ratio():.2f}",
                    _seconds(r.seconds("torch")),
                    "—" if r.gflops("rust") is None else f"{r.gflops('rust'):.1f}",
                    "—" if share is None else f"{100 * share:.0f}%",
                    mem if self.options.memory else "not measured",
                ]
            )
        return header, rows

    def _summary(self) -> list[str]:
        m, o = self.machine, self.options
        torch = m["torch"] or "PyTorch not importable: skipped"
        return [
            f"data: {o.data}, {o.rows:,} rows; median of {o.repeats} after 1 warm-up; "
            f"lr {LEARNING_RATE}",
            f"machine: {m['cpu']}, {m['cores']} cores; load average {m['load_start']} "
            f"(start) -> {m['load_end']} (end); other processes' CPU during the run: "
            + ("n/a" if m["others_cpu_share"] is None else f"{100 * m['others_cpu_share']:.0f}%"),
            f"numpy {m['numpy']} ({m['blas']}); torch: {torch}; fastmlp {m['fastmlp']}",
            "threads: the Rust engine, NumPy's BLAS and PyTorch all use the count in the "
            "threads column",
            "% of peak: rust GFLOP/s over the best square matmul at the same thread count "
            "(sgemm for float32 configs, dgemm for float64)",
        ]

    def _tables(self, render: Callable[[list[str], list[list[str]]], str]) -> tuple[str, str]:
        """The matmul-peak table and the results table, each drawn by ``render``."""
        return render(*self._peak_rows()), render(*self._result_rows())

    def _peak_caption(self) -> str:
        """``GFLOP/s (S x S x S, best of R):``, what the matmul-peak table's title says."""
        size = self.peaks[0].size if self.peaks else self.options.peak_size
        return f"GFLOP/s ({size} x {size} x {size}, best of {self.options.peak_repeats}):"

    def text(self) -> str:
        """Plain-text tables for a terminal."""
        peak_table, result_table = self._tables(_text_table)
        parts = [
            *self._summary(),
            "",
            f"matmul peak, {self._peak_caption()}",
            peak_table,
            "",
            result_table,
        ]
        if self.notes:
            parts += ["", *(f"note: {n}" for n in self.notes)]
        return "\n".join(parts) + "\n"

    def markdown(self) -> str:
        """Markdown tables for ``benchmarks/README.md``."""
        peak_table, result_table = self._tables(_markdown_table)
        parts = [
            *(f"- {line}" for line in self._summary()),
            "",
            f"Matmul peak, {self._peak_caption()}",
            "",
            peak_table,
            "",
            result_table,
        ]
        if self.notes:
            parts += ["", *(f"- Note: {n}" for n in self.notes)]
        return "\n".join(parts) + "\n"

    def to_json(self) -> dict[str, Any]:
        """Every number, for ``--json``."""
        return {
            "options": asdict(self.options),
            "machine": self.machine,
            "peaks": [asdict(p) | {"best": p.best} for p in self.peaks],
            "results": [
                {
                    "config": r.config.name,
                    "description": r.config.describe(),
                    "threads": r.threads,
                    "rows": r.rows,
                    "flops": r.flops,
                    "peak_gflops": r.peak_gflops,
                    "ratio_rust_numpy": r.ratio(),
                    "share_of_peak": r.share_of_peak(),
                    "others_cpu_share": r.others_cpu_share,
                    "engines": {
                        name: {
                            "median_seconds": t.median,
                            "seconds": t.seconds,
                            "gflops": r.gflops(name),
                            "difference_from_numpy": t.difference,
                            "memory": _probe_dict(r.memory.get(name)),
                        }
                        for name, t in r.timings.items()
                    },
                }
                for r in self.results
            ],
            "notes": self.notes,
        }


def _mebibytes(probe: MemoryProbe | None) -> str:
    return "n/a" if probe is None else f"{probe.rss_bytes / 2**20:.1f}"


def _probe_dict(probe: MemoryProbe | None) -> dict[str, Any] | None:
    return None if probe is None else asdict(probe)


def _seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.3g}"


def _text_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        cells = [row[0].ljust(widths[0])]
        cells += [c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)]
        lines.append("  ".join(cells))
    return "\n".join(lines)


def _markdown_table(header: list[str], rows: list[list[str]]) -> str:
    align = ["---"] + ["---:"] * (len(header) - 1)  # names left, numbers right
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _machine(torch: ModuleType | None) -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    blas = "BLAS unknown"
    with contextlib.suppress(ImportError):
        for pool in _threadpoolctl().threadpool_info():
            if pool.get("user_api") == "blas":
                blas = f"{pool['internal_api']} {pool['version']}, {pool.get('architecture')}"
                break
    return {
        "cpu": cpu,
        "cores": default_threads()[-1],
        "python": platform.python_version(),
        "numpy": np.__version__,
        "blas": blas,
        "torch": None if torch is None else torch.__version__,
        "fastmlp": fastmlp.__version__,
        "load_start": _load_average(),
        "load_end": None,
        "others_cpu_share": None,
    }


def _busy_cpu_seconds() -> float | None:
    """CPU seconds the whole machine has spent busy since boot (Linux /proc/stat)."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            fields = [int(v) for v in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    # user nice system idle iowait irq softirq steal ...: everything but idle and iowait
    busy = sum(fields[:3]) + sum(fields[5:8])
    return busy / os.sysconf("SC_CLK_TCK")


def _own_cpu_seconds() -> float:
    """CPU seconds used by this process and its finished children (the memory probes)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


class CpuMeter:
    """How much CPU other processes took while the benchmark ran: a busy machine makes the
    timings, above all those using every core, pessimistic."""

    def __init__(self) -> None:
        self.wall = time.monotonic()
        self.busy = _busy_cpu_seconds()
        self.own = _own_cpu_seconds()

    def others_share(self, cores: int) -> float | None:
        """Other processes' CPU time since creation, as a fraction of ``cores`` cores."""
        busy = _busy_cpu_seconds()
        if busy is None or self.busy is None:
            return None
        others = (busy - self.busy) - (_own_cpu_seconds() - self.own)
        capacity = (time.monotonic() - self.wall) * cores
        return max(0.0, others / capacity) if capacity > 0 else None


def _load_average() -> str:
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "n/a"


def run(options: Options, log: Callable[[str], None] = lambda _: None) -> Report:
    """Run the benchmark described by ``options``; ``log`` receives progress lines."""
    configs = [c for c in CONFIGS if c.name in options.configs]
    notes: list[str] = []
    torch = import_torch() if options.torch else None
    if options.torch and torch is None:
        notes.append("PyTorch not importable: skipped")
    elif not options.torch:
        notes.append("PyTorch not requested (--no-torch): skipped")
    engines = make_engines(ENGINES, torch)
    machine = _machine(torch)
    meter = CpuMeter()
    noisy: list[str] = []

    log(f"matmul peak ({options.peak_size}^3) at {options.threads} threads")
    peaks = measure_peaks(options.threads, options.peak_size, options.peak_repeats, torch)

    data: dict[str, tuple[FloatArray, IntArray]] = {}
    results: list[ConfigResult] = []
    for config in configs:
        if config.dtype not in data:
            log(f"data: {options.data}, {options.rows:,} rows, {config.dtype}")
            data[config.dtype] = load_data(options.data, options.rows, config.dtype, options.seed)
        x, labels = data[config.dtype]
        for count in options.threads:
            row_meter = CpuMeter()
            with thread_limits(count, torch):
                timings = time_config(config, x, labels, engines, options.repeats, options.seed)
            peak = next(p for p in peaks if p.threads == count and p.dtype == config.dtype)
            result = ConfigResult(
                config,
                count,
                config.rows_used(len(x)),
                config_flops(config, len(x)),
                peak.best,
                timings,
                others_cpu_share=row_meter.others_share(machine["cores"]),
            )
            results.append(result)
            log(
                f"{config.name}, {count} thread(s): "
                + ", ".join(f"{n} {t.median:.4g} s" for n, t in timings.items())
            )
            tolerance = AGREEMENT_TOLERANCE[config.dtype]
            for name, timing in timings.items():
                if max(timing.seconds) > NOISY_SPREAD * min(timing.seconds):
                    noisy.append(f"{name} on {config.name} at {count} thread(s)")
                if timing.difference is not None and not timing.difference <= tolerance:
                    notes.append(
                        f"{name} differs from numpy on {config.name} at {count} thread(s) "
                        f"by {timing.difference:.3g} (tolerance {tolerance:g})"
                    )
    if any(r.others_cpu_share is not None and r.others_cpu_share >= BUSY_SHARE for r in results):
        notes.append(
            f"{BUSY_MARK}: other processes took {100 * BUSY_SHARE:.0f}% or more of the CPU while "
            "this row was timed (the share of each row is in --json)"
        )
    if noisy:
        notes.append(
            f"noisy (slowest repetition over {NOISY_SPREAD} x the fastest; the median is "
            "shown): " + "; ".join(noisy)
        )
    data.clear()  # free the data before the memory probes start their own processes

    if options.memory:
        for result in results:
            for engine in result.timings:
                log(f"memory: {engine} on {result.config.name}, {result.threads} thread(s)")
                probe, why = probe_memory(
                    result.config, engine, result.threads, options.data, options.rows, options.seed
                )
                result.memory[engine] = probe
                if why is not None and why not in notes:
                    notes.append(why)
    machine["load_end"] = _load_average()
    machine["others_cpu_share"] = share = meter.others_share(machine["cores"])
    if share is not None and share >= BUSY_SHARE:
        notes.append(
            f"other processes used {100 * share:.0f}% of the {machine['cores']} cores during "
            "the run: the timings, above all those using every core, are pessimistic"
        )
    return Report(options, machine, peaks, results, notes)


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _thread_list(text: str) -> list[int]:
    counts = [_positive_int(part.strip()) for part in text.split(",") if part.strip()]
    if not counts:
        raise argparse.ArgumentTypeError("expected thread counts such as 1,2")
    return sorted(set(counts))


def _config_list(text: str) -> list[str]:
    names = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [n for n in names if n not in CONFIG_NAMES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown configuration(s) {', '.join(unknown) or '(none given)'}; "
            f"choose from {', '.join(CONFIG_NAMES)}"
        )
    return names


def build_parser() -> argparse.ArgumentParser:
    """The ``fastmlp bench`` / ``benchmarks/epoch.py`` command line."""
    parser = argparse.ArgumentParser(
        prog="fastmlp bench",
        description=(
            "Time an epoch of the Rust engine, the NumPy reference and PyTorch (when "
            "importable) on the same data, weights and orders, with this machine's matmul "
            "peak measured in the same run."
        ),
        epilog="configurations: " + "; ".join(f"{c.name} ({c.describe()})" for c in CONFIGS),
    )
    parser.add_argument(
        "--threads",
        type=_thread_list,
        default=None,
        help="comma-separated thread counts, e.g. 1,2 (default: 1 and all cores)",
    )
    parser.add_argument(
        "--repeats", type=_positive_int, default=None, help="timed epochs per engine (default 5)"
    )
    parser.add_argument(
        "--configs",
        type=_config_list,
        default=None,
        help="comma-separated configuration names (default: all)",
    )
    parser.add_argument(
        "--data", choices=DATA_KINDS, default="random", help="input rows (default: random)"
    )
    parser.add_argument(
        "--rows", type=_positive_int, default=None, help="training rows (default 60000)"
    )
    parser.add_argument(
        "--torch",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also time PyTorch when it can be imported (default: yes)",
    )
    parser.add_argument(
        "--memory",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="measure peak memory, one fresh process per engine and row (default: yes)",
    )
    parser.add_argument(
        "--peak-size",
        type=_positive_int,
        default=None,
        help="side of the square matmul timed for the peak (default 2048)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of weights, orders, data")
    parser.add_argument(
        "--markdown", action="store_true", help="print Markdown tables for the README"
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write every number here")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a tiny smoke run: 256 rows, 2 repeats, a 128 matmul (explicit options win)",
    )
    return parser


def options_from_args(args: argparse.Namespace) -> Options:
    """:class:`Options` from parsed arguments, ``--quick`` giving the unset defaults."""
    quick = args.quick
    return Options(
        threads=args.threads or default_threads(),
        repeats=args.repeats or (2 if quick else 5),
        configs=args.configs or list(CONFIG_NAMES),
        data=args.data,
        rows=args.rows or (256 if quick else 60_000),
        torch=args.torch,
        memory=args.memory,
        peak_size=args.peak_size or (128 if quick else 2048),
        peak_repeats=2 if quick else 5,
        seed=args.seed,
    )


def main(argv: list[str] | None = None, out: TextIO | None = None) -> int:
    """Run the benchmark from command-line arguments; print the tables; return 0.

    Progress goes to stderr, the tables to ``out`` (stdout by default). Returns 2 when the
    requested data cannot be found (e.g. ``--data fashion-mnist`` on a machine without it).
    """
    arguments = sys.argv[1:] if argv is None else list(argv)
    if "--input-paths" in arguments:
        # The dense/sparse comparison of the first layer: its own table and options.
        from fastmlp.bench_input_paths import main as input_paths_main

        arguments.remove("--input-paths")
        return input_paths_main(arguments)
    args = build_parser().parse_args(arguments)
    options = options_from_args(args)
    out = sys.stdout if out is None else out

    def log(line: str) -> None:
        print(f"[bench] {line}", file=sys.stderr, flush=True)

    try:
        report = run(options, log)
    except datasets.DatasetNotFoundError as error:
        print(f"fastmlp bench: {error}", file=sys.stderr)
        return 2
    out.write(report.markdown() if args.markdown else report.text())
    if args.json is not None:
        args.json.write_text(json.dumps(report.to_json(), indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
