"""``fastmlp bench``: the command line, and one run from start to report."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from fastmlp import datasets
from fastmlp.bench.configs import CONFIG_NAMES, CONFIGS, Options, config_by_name, config_flops
from fastmlp.bench.data import DATA_KINDS, check_data_kind
from fastmlp.bench.engines import DEFAULT_ENGINES, ENGINE_NAMES
from fastmlp.bench.machine import CpuMeter, default_threads, load_average, machine_summary
from fastmlp.bench.memory import probe_memory
from fastmlp.bench.optimizers import OPTIMIZER_NAMES, OPTIMIZERS, PLAIN_SGD
from fastmlp.bench.report import BUSY_MARK, BUSY_SHARE, NOISY_SPREAD, ConfigResult, Report
from fastmlp.bench.timing import (
    AGREEMENT_TOLERANCE,
    MatmulPeak,
    Worker,
    WorkerError,
    measure_peaks,
    time_config,
)

__all__ = ["build_parser", "main", "options_from_args", "run", "start_workers"]


def start_workers(
    workers: dict[str, Worker], notes: list[str]
) -> tuple[dict[str, Worker], dict[str, dict[str, Any]]]:
    """The processes of ``workers`` (started together) that are available, and each one's
    account of itself (its ``describe`` reply); the others get a note and are closed."""
    sides: dict[str, dict[str, Any]] = {}
    for name in list(workers):
        try:
            info = workers[name].info
        except WorkerError as error:
            info = {"available": False, "why": f"{name} failed to start: {error}"}
        if not info["available"]:
            notes.append(str(info["why"]))
            workers.pop(name).close()
            continue
        sides[name] = info
    return workers, sides


def _peak_for(peaks: list[MatmulPeak], threads: int, dtype: str) -> float:
    return next((p.best for p in peaks if p.threads == threads and p.dtype == dtype), 0.0)


def run(options: Options, log: Callable[[str], None] = lambda _: None) -> Report:
    """Run the benchmark described by ``options``; ``log`` receives progress lines."""
    notes: list[str] = []
    configs = [config_by_name(name) for name in options.configs]
    data = {"data": options.data, "rows": options.rows, "seed": options.seed}
    log(f"starting {', '.join(options.engines)}, each in its own process")
    workers, sides = start_workers({name: Worker(name) for name in options.engines}, notes)
    results: list[ConfigResult] = []
    try:
        machine = machine_summary(sides)
        meter = CpuMeter(lambda: [w.pid for w in workers.values()])
        peaks: list[MatmulPeak] = []
        if options.peaks:
            log(f"matmul peak ({options.peak_size}^3) at {options.threads} threads")
            peaks = measure_peaks(
                workers, options.threads, options.peak_size, options.peak_repeats, options.pause
            )
        same_math = {name: bool(side.get("same_math")) for name, side in sides.items()}
        optimizers = _optimizers_to_time(options.optimizers, sides, notes)
        for config in configs:
            for count in options.threads:
                row_meter = CpuMeter(lambda: [w.pid for w in workers.values()])
                timings, schedule, failed = time_config(
                    config,
                    workers,
                    same_math,
                    data,
                    count,
                    options.repeats,
                    options.pause,
                    None if config.is_inference else optimizers,
                )
                notes += [f"{why} (on {config.name}, {count} thread(s))" for why in failed.values()]
                share = row_meter.others_share(machine["cores"])
                for optimizer, by_engine in timings.items():
                    result = ConfigResult(
                        config,
                        count,
                        config.rows_used(options.rows),
                        config_flops(config, options.rows),
                        _peak_for(peaks, count, config.dtype),
                        by_engine,
                        schedule,
                        others_cpu_share=share,
                        optimizer=optimizer,
                    )
                    results.append(result)
                    log(
                        f"{result.label}, {count} thread(s): "
                        + ", ".join(f"{n} {t.median:.4g} s" for n, t in by_engine.items())
                    )
        machine["load_end"] = load_average()
        machine["others_cpu_share"] = meter.others_share(machine["cores"])
    finally:
        for worker in workers.values():
            worker.close()
    notes += _result_notes(results)
    share = machine["others_cpu_share"]
    if share is not None and share >= BUSY_SHARE:
        notes.append(
            f"other processes used {100 * share:.0f}% of the {machine['cores']} cores during "
            "the run: the timings, above all those using every core, are pessimistic"
        )
    if options.memory:
        for result in results:
            for engine in result.timings:
                log(f"memory: {engine} on {result.label}, {result.threads} thread(s)")
                probe, why = probe_memory(
                    result.config, engine, result.threads, data, optimizer=result.optimizer
                )
                result.memory[engine] = probe
                if why is not None and why not in notes:
                    notes.append(why)
    return Report(options, machine, sides, peaks, results, notes)


def _optimizers_to_time(
    wanted: list[str], sides: dict[str, dict[str, Any]], notes: list[str]
) -> dict[str, list[str]]:
    """Per engine, the optimizers of ``wanted`` it runs (each engine times its own solver,
    plain SGD, at least); a note for what a fastmlp engine cannot run here, and why."""
    optimizers = {}
    not_run: dict[str, list[str]] = {}  # why -> "engine with optimizer"
    for name, side in sides.items():
        runs = side.get("optimizers", [PLAIN_SGD])
        optimizers[name] = [o for o in wanted if o in runs] or [PLAIN_SGD]
        for optimizer, why in side.get("optimizers_not_run", {}).items():
            if optimizer in wanted:
                not_run.setdefault(why, []).append(f"{name} with {optimizer}")
    notes += [f"not timed: {', '.join(what)}: {why}" for why, what in not_run.items()]
    return optimizers


def _result_notes(results: list[ConfigResult]) -> list[str]:
    """Notes on disagreeing engines, noisy rows and a busy machine."""
    notes = []
    noisy = []
    for r in results:
        tolerance = AGREEMENT_TOLERANCE[r.config.dtype]
        for name, timing in r.timings.items():
            where = f"{name} on {r.label} at {r.threads} thread(s)"
            if max(timing.seconds) > NOISY_SPREAD * min(timing.seconds):
                noisy.append(where)
            if timing.difference is not None and not timing.difference <= tolerance:
                notes.append(
                    f"{where} differs from numpy by {timing.difference:.3g} "
                    f"(tolerance {tolerance:g})"
                )
    if any(r.busy for r in results):
        notes.append(
            f"{BUSY_MARK}: other processes took {100 * BUSY_SHARE:.0f}% or more of the CPU while "
            "this row was timed (the share of each row is in --json)"
        )
    if noisy:
        notes.append(
            f"noisy (slowest repetition over {NOISY_SPREAD} x the fastest; the median is "
            "shown): " + "; ".join(noisy)
        )
    return notes


# ---- command line ---------------------------------------------------------------------------


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected seconds >= 0, got {text!r}")
    return value


def _thread_list(text: str) -> list[int]:
    counts = [_positive_int(part.strip()) for part in text.split(",") if part.strip()]
    if not counts:
        raise argparse.ArgumentTypeError("expected thread counts such as 1,2")
    return sorted(set(counts))


def _names(allowed: tuple[str, ...], what: str) -> Callable[[str], list[str]]:
    def parse(text: str) -> list[str]:
        names = [part.strip() for part in text.split(",") if part.strip()]
        unknown = [n for n in names if n not in allowed]
        if unknown or not names:
            raise argparse.ArgumentTypeError(
                f"unknown {what} {', '.join(unknown) or '(none given)'}; "
                f"choose from {', '.join(allowed)}"
            )
        return list(dict.fromkeys(names))

    return parse


def _data_kind(text: str) -> str:
    try:
        return check_data_kind(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def build_parser() -> argparse.ArgumentParser:
    """The ``fastmlp bench`` / ``benchmarks/epoch.py`` command line."""
    parser = argparse.ArgumentParser(
        prog="fastmlp bench",
        description=(
            "Time an epoch of the Rust engine, the NumPy reference, scikit-learn's "
            "MLPClassifier (sgd and adam) and PyTorch (when importable) on the same data, "
            "weights and orders: each engine in its own process (the baselines with their "
            "native BLAS kernels), the repetitions interleaved, with this machine's matmul "
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
        "--repeats", type=_positive_int, default=None, help="timed rounds (default 5)"
    )
    parser.add_argument(
        "--configs",
        type=_names(CONFIG_NAMES, "configuration(s)"),
        default=None,
        help="comma-separated configuration names (default: all)",
    )
    parser.add_argument(
        "--engines",
        type=_names(ENGINE_NAMES, "engine(s)"),
        default=None,
        help=f"comma-separated engines, from {', '.join(ENGINE_NAMES)} "
        f"(default: {','.join(DEFAULT_ENGINES)})",
    )
    parser.add_argument(
        "--optimizers",
        type=_names(OPTIMIZER_NAMES, "optimizer(s)"),
        default=None,
        help="comma-separated training rules, from "
        + ", ".join(o.describe() for o in OPTIMIZERS)
        + ": each one's rows, and its epoch over plain SGD's, for the engines that run it "
        "(the Rust engine and the reference; default: sgd)",
    )
    parser.add_argument(
        "--data",
        type=_data_kind,
        default="random",
        metavar="KIND",
        help=f"input rows: {', '.join(DATA_KINDS)}, or random:D for random rows with about "
        "a share D of nonzero pixels (default: random)",
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
    parser.add_argument(
        "--pause",
        type=_seconds,
        default=None,
        help="seconds to wait after every timed call, for spinning BLAS threads to stop "
        "(default 0.25)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of weights, orders, data")
    parser.add_argument(
        "--markdown", action="store_true", help="print Markdown tables for the README"
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write every number here")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a tiny smoke run: 256 rows, 2 repeats, a 128 matmul, no pause (explicit options win)",
    )
    return parser


def options_from_args(args: argparse.Namespace) -> Options:
    """:class:`Options` from parsed arguments, ``--quick`` giving the unset defaults."""
    quick = args.quick
    engines = args.engines or list(DEFAULT_ENGINES)
    if not args.torch:
        engines = [e for e in engines if e != "torch"]
    return Options(
        threads=args.threads or default_threads(),
        engines=engines,
        repeats=args.repeats or (2 if quick else 5),
        configs=args.configs or list(CONFIG_NAMES),
        data=args.data,
        rows=args.rows or (256 if quick else 60_000),
        seed=args.seed,
        memory=args.memory,
        peak_size=args.peak_size or (128 if quick else 2048),
        peak_repeats=2 if quick else 5,
        pause=args.pause if args.pause is not None else (0.0 if quick else 0.25),
        optimizers=args.optimizers or [PLAIN_SGD],
    )


def main(argv: list[str] | None = None, out: TextIO | None = None) -> int:
    """Run the benchmark from command-line arguments; print the tables; return 0.

    Progress goes to stderr, the tables to ``out`` (stdout by default). Returns 2 when the
    requested data cannot be found (e.g. ``--data fashion-mnist`` on a machine without it).
    """
    arguments = sys.argv[1:] if argv is None else list(argv)
    if "--input-paths" in arguments:
        print(
            "fastmlp bench: the dense/sparse comparison moved to the repository's "
            "benchmarks/input_paths.py (or: fastmlp bench --engines numpy,rust-dense,"
            "rust-sparse --data mnist-like)",
            file=sys.stderr,
        )
        return 2
    args = build_parser().parse_args(arguments)
    options = options_from_args(args)
    out = sys.stdout if out is None else out

    def log(line: str) -> None:
        print(f"[bench] {line}", file=sys.stderr, flush=True)

    if options.data == "fashion-mnist":
        try:  # found here first: the engines' processes would each fail on it
            datasets.load("fashion-mnist", download=False)
        except datasets.DatasetNotFoundError as error:
            print(f"fastmlp bench: {error}", file=sys.stderr)
            return 2
    report = run(options, log)
    out.write(report.markdown() if args.markdown else report.text())
    if args.json is not None:
        args.json.write_text(json.dumps(report.to_json(), indent=2) + "\n", encoding="utf-8")
    return 0
