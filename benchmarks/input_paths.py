"""The Rust engine's two first-layer paths side by side: ``python benchmarks/input_paths.py``.

Times an epoch of 784-128-10 ReLU, batch 128, float32 (the seeds' main configuration) with
``input_path="dense"`` (GEMM) and ``"sparse"`` (nonzero inputs only, from ``SparseRows``
built once, as ``MLP.fit`` does), next to the NumPy reference, with ``fastmlp bench``'s
machinery (each engine in its own process, NumPy on its native BLAS kernels, interleaved
rounds): on MNIST-like rows, Fashion-MNIST when it is installed, and random rows of chosen
densities, the points ``fastmlp.kernels.sparse_work_crossover`` is read from (in terms of
``kernels.sparse_plan``'s work). ``benchmarks/README.md`` keeps the results.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any

from fastmlp import datasets, kernels
from fastmlp.bench import Options, load_data, run

CONFIG = "784-128-10-relu-b128-f32"
ENGINES = ["numpy", "rust-dense", "rust-sparse"]


def data_kinds(densities: Sequence[float]) -> list[str]:
    """MNIST-like rows, Fashion-MNIST if it is on disk, and random rows of each density."""
    kinds = ["mnist-like"]
    try:
        datasets.load("fashion-mnist", download=False)
        kinds.append("fashion-mnist")
    except (OSError, ValueError):
        pass
    return kinds + [f"random:{density:g}" for density in densities]


def measure(
    threads: list[int],
    rows: int,
    repeats: int,
    pause: float,
    kinds: Sequence[str],
    log: Callable[[str], None] = lambda _: None,
) -> tuple[list[dict[str, Any]], list[str]]:
    """One row per data kind and thread count: its density, the sparse plan, the path
    ``"auto"`` takes, and seconds per epoch of each engine; and the runs' notes."""
    table, notes = [], []
    for kind in kinds:
        x, _ = load_data(kind, rows, "float32")
        compressed = kernels.SparseRows(x)
        plan = kernels.sparse_plan(compressed)
        del x
        options = Options(
            threads=threads,
            engines=ENGINES,
            repeats=repeats,
            configs=[CONFIG],
            data=kind,
            rows=rows,
            memory=False,
            peaks=False,
            pause=pause,
        )
        report = run(options, log)
        notes += [note for note in report.notes if note not in notes]
        for result in report.results:
            crossover = kernels.sparse_work_crossover(result.threads)
            table.append(
                {
                    "data": kind,
                    "density": compressed.density,
                    "plan": plan,
                    "auto": kernels.preferred_input_path(
                        compressed, sparse_work_crossover=crossover
                    ),
                    "threads": result.threads,
                    **{engine: result.seconds(engine) for engine in ENGINES},
                }
            )
    return table, notes


def _ratio(top: float | None, bottom: float | None) -> str:
    return "—" if top is None or bottom is None else f"{top / bottom:.2f}"


def markdown(table: list[dict[str, Any]]) -> str:
    """The results as a Markdown table."""
    lines = [
        "| data | density | sparse work (group rows) | auto takes | threads | numpy s/epoch "
        "| rust dense | rust sparse | dense / numpy | sparse / numpy | sparse / dense |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in table:
        numpy_s, dense, sparse = r["numpy"], r["rust-dense"], r["rust-sparse"]
        seconds = " | ".join("—" if s is None else f"{s:.3f}" for s in (numpy_s, dense, sparse))
        lines.append(
            f"| {r['data']} | {r['density']:.2f} | {r['plan'].work:.2f} "
            f"({r['plan'].group_rows}) | {r['auto']} | {r['threads']} | {seconds} "
            f"| {_ratio(dense, numpy_s)} | {_ratio(sparse, numpy_s)} | {_ratio(sparse, dense)} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Print the table (``--help`` lists the options)."""
    parser = argparse.ArgumentParser(prog="benchmarks/input_paths.py", description=__doc__)
    parser.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    parser.add_argument("--rows", type=int, default=60_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--pause", type=float, default=0.25, help="seconds after every call")
    parser.add_argument(
        "--densities",
        default="0.05,0.1,0.2,0.3,0.5",
        help="densities of the random rows, comma-separated",
    )
    args = parser.parse_args(argv)
    densities = [float(d) for d in args.densities.split(",") if d]
    threads = sorted({int(t) for t in args.threads.split(",") if t})

    def log(line: str) -> None:
        print(f"[input paths] {line}", file=sys.stderr, flush=True)

    table, notes = measure(threads, args.rows, args.repeats, args.pause, data_kinds(densities), log)
    print(markdown(table))
    for note in notes:
        print(f"- Note: {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
