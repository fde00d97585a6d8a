"""The Rust engine's two first-layer paths side by side: ``fastmlp bench --input-paths``.

Times an epoch of 784-128-10 ReLU, batch 128, float32 (the seeds' main configuration) with
``input_path="dense"`` (GEMM) and ``"sparse"`` (nonzero inputs only, from ``SparseRows``
built once, as ``MLP.fit`` does), next to the NumPy reference, in one run, on the same
weights and orders: on MNIST-like rows (the bundled sample tiled to 60,000), Fashion-MNIST
when it is installed, and random rows of chosen densities (to find the crossover that
``fastmlp.kernels.sparse_work_crossover`` records, in terms of ``kernels.sparse_plan``).
"""

from __future__ import annotations

import argparse
import functools
import itertools
import statistics
import time
from collections.abc import Callable, Sequence
from types import ModuleType

import numpy as np

import fastmlp
from fastmlp import datasets, kernels, reference
from fastmlp.bench import _threadpoolctl

SIZES = [784, 128, 10]
BATCH = 128
LR = 0.1


def _tiled(images: np.ndarray, labels: np.ndarray, rows: int) -> tuple[np.ndarray, np.ndarray]:
    reps = -(-rows // len(images))
    x = datasets.prepare(np.tile(images, (reps, 1, 1))[:rows])
    return x, np.tile(labels, reps)[:rows]


def data_sets(rows: int, densities: Sequence[float]) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(name, x float32 (rows, 784), labels) for every data kind available here."""
    sample = datasets.load("mnist-sample")
    found = [("mnist-like", *_tiled(sample.x_train, sample.y_train, rows))]
    try:
        fashion = datasets.load("fashion-mnist", download=False)
        found.append(("fashion-mnist", *_tiled(fashion.x_train, fashion.y_train, rows)))
    except (OSError, ValueError):
        pass
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, rows)
    for density in densities:
        x = rng.random((rows, 784), dtype=np.float32)
        x *= rng.random((rows, 784), dtype=np.float32) < density
        found.append((f"random d={density:g}", x, labels))
    return found


def median_seconds(run: Callable[[], object], repeats: int) -> float:
    run()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def one_epoch(
    engine: ModuleType,
    inputs: np.ndarray | kernels.SparseRows,
    weights0: list[np.ndarray],
    labels: np.ndarray,
    order: np.ndarray,
    path: str | None = None,
) -> float:
    """An epoch from fresh copies of ``weights0`` and zero biases; its mean loss."""
    weights = [w.copy() for w in weights0]
    biases = [np.zeros(size, np.float32) for size in SIZES[1:]]
    options = {} if path is None else {"input_path": path}
    args = (weights, biases, inputs, labels, order, LR, BATCH, "relu")
    return engine.train_epoch(*args, **options)


def measure(threads: int, rows: int, repeats: int, densities: Sequence[float]) -> list[dict]:
    """One row per data set: seconds per epoch of numpy, rust dense and rust sparse."""
    results = []
    weights0 = [
        np.random.default_rng(1).normal(0, np.sqrt(2 / i), (i, o)).astype(np.float32)
        for i, o in itertools.pairwise(SIZES)
    ]
    order = np.random.default_rng(2).permutation(rows)
    fastmlp.set_num_threads(threads)
    with _threadpoolctl().threadpool_limits(threads):
        for name, x, labels in data_sets(rows, densities):
            compressed = kernels.SparseRows(x)

            run = functools.partial(one_epoch, weights0=weights0, labels=labels, order=order)
            numpy_s = median_seconds(functools.partial(run, reference, x), repeats)
            dense_s = median_seconds(functools.partial(run, kernels, x, path="dense"), repeats)
            sparse_s = median_seconds(
                functools.partial(run, kernels, compressed, path="sparse"), repeats
            )
            results.append(
                {
                    "data": name,
                    "density": compressed.density,
                    "plan": kernels.sparse_plan(compressed),
                    "threads": threads,
                    "numpy": numpy_s,
                    "dense": dense_s,
                    "sparse": sparse_s,
                }
            )
    return results


def markdown(results: list[dict]) -> str:
    lines = [
        "| data | density | sparse work (group rows) | threads | numpy s/epoch | rust dense "
        "| rust sparse "
        "| dense / numpy | sparse / numpy | sparse / dense |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r['data']} | {r['density']:.2f} | {r['plan'].work:.2f} ({r['plan'].group_rows}) "
            f"| {r['threads']} "
            f"| {r['numpy']:.3f} "
            f"| {r['dense']:.3f} | {r['sparse']:.3f} | {r['dense'] / r['numpy']:.2f} "
            f"| {r['sparse'] / r['numpy']:.2f} | {r['sparse'] / r['dense']:.2f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``fastmlp bench --input-paths``: the table of both paths (``--help`` lists options)."""
    parser = argparse.ArgumentParser(prog="fastmlp bench --input-paths", description=__doc__)
    parser.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    parser.add_argument("--rows", type=int, default=60_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--densities",
        default="0.05,0.1,0.2,0.3,0.5",
        help="densities of the random rows, comma-separated",
    )
    args = parser.parse_args(argv)
    densities = [float(d) for d in args.densities.split(",") if d]
    results = []
    for threads in (int(t) for t in args.threads.split(",")):
        results += measure(threads, args.rows, args.repeats, densities)
    print(markdown(results))
    return 0
