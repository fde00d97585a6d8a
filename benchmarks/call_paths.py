"""Each way a user calls fastmlp, ``input_path="auto"`` against ``"dense"``:
``python benchmarks/call_paths.py``.

Training (784-128-10 ReLU, batch 128, lr 0.1, float32, on MNIST-like rows and Fashion-MNIST,
at 1 and 2 threads), seconds per epoch of: the engine on inputs prepared once
(``kernels.training_inputs``, as ``MLP.fit`` does: ``fastmlp bench``'s rust rows);
``kernels.train_epoch(..., input_path=...)`` on the dense array once per epoch;
``MLP.partial_fit`` once per epoch; ``MLP.fit`` without and with a progress bar, and with a
progress bar on a Fortran-ordered ``x``; and the command line, ``fastmlp train`` (its wall
time over E epochs less that over one, per epoch: start-up, loading, saving cancel out; it
also validates on 10,000 rows each epoch). Each with ``"auto"`` and with ``"dense"``: "auto"
should never be the slower.

Inference (10,000 rows): ``kernels.forward`` / ``reference.forward`` (``fastmlp bench``'s
inference row), ``MLP.predict_proba`` and ``MLP.predict``, with the Rust engine and the
NumPy one.

Every (way, input path) and (way, engine) runs in its own process (the NumPy engine's with
its native BLAS kernels), so that nothing one builds or caches helps another; the rounds
are interleaved (every unit once per round, in a rotating order, a pause after each call),
and each unit's seconds are the median over the rounds, with their spread.
``benchmarks/README.md`` explains the tables.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import fastmlp
from fastmlp import kernels, reference
from fastmlp.bench import init_params, load_data, load_images, row_order
from fastmlp.bench.report import markdown_table
from fastmlp.bench.research import (
    SERVE_FLAG,
    ScriptRun,
    fill_unset_options,
    noisy,
    serve,
    set_threads,
)
from fastmlp.bench.timing import EngineTiming

SIZES = (784, 128, 10)
BATCH_SIZE = 128
LR = 0.1
DTYPE = "float32"
ACTIVATION = "relu"
PATHS = ("auto", "dense")
ENGINES = ("rust", "numpy")
#: A timed inference sample repeats the call until it lasts at least this long.
MIN_SAMPLE_SECONDS = 0.05


@dataclass(frozen=True)
class Way:
    """One way of calling fastmlp, as the tables name and describe it."""

    name: str
    description: str


TRAINING_WAYS = (
    Way("prepared", "kernels.train_epoch on kernels.training_inputs(x, path), made once"),
    Way("train_epoch", "kernels.train_epoch(..., input_path=path) on the dense x, per epoch"),
    Way("partial_fit", "MLP(input_path=path).partial_fit, once per epoch"),
    Way("fit", "MLP(input_path=path).fit(epochs=E)"),
    Way("fit-progress", "MLP(input_path=path).fit(epochs=E, progress=True)"),
    Way("fit-progress-fortran", "the same on np.asfortranarray(x)"),
    Way("cli", "fastmlp train --input-path path: (wall(E epochs) - wall(1)) / (E - 1)"),
)
INFERENCE_WAYS = (
    Way("forward", "kernels.forward / reference.forward on the 10,000 rows (last layer)"),
    Way("predict_proba", "MLP(engine=...).predict_proba"),
    Way("predict", "MLP(engine=...).predict"),
)
TRAINING_NAMES = tuple(w.name for w in TRAINING_WAYS)
INFERENCE_NAMES = tuple(w.name for w in INFERENCE_WAYS)


def unit_name(kind: str, way: str, variant: str) -> str:
    """A unit's process name: ``train/fit/auto``, ``infer/predict/numpy``."""
    return f"{kind}/{way}/{variant}"


# ---- the worker side: one unit's process ---------------------------------------------------


class Inputs:
    """The data of the current request, kept while the next one asks for the same."""

    def __init__(self) -> None:
        self.key: tuple[Any, ...] | None = None
        self.x = self.labels = np.empty(0)
        self.prepared: Any = None

    def get(self, kind: str, rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        if (kind, rows, seed) != self.key:
            self.x = self.labels = np.empty(0)  # free the previous data before the next
            self.prepared = None
            self.x, self.labels = load_data(kind, rows, DTYPE, seed)
            self.key = (kind, rows, seed)
        return self.x, self.labels


def new_model(seed: int, path: str = "auto", engine: str = "rust") -> fastmlp.MLP:
    """A fresh 784-128-10 model (He-normal weights from ``seed``)."""
    return fastmlp.MLP(
        list(SIZES), activation=ACTIVATION, dtype=DTYPE, seed=seed, engine=engine, input_path=path
    )


def train_seconds(way: str, path: str, inputs: Inputs, request: dict[str, Any]) -> float:
    """Seconds per epoch of ``way`` with ``path`` over ``request["epochs"]`` epochs, from
    fresh weights (made outside the clock)."""
    seed, epochs, rows = request["seed"], request["epochs"], request["rows"]
    x, labels = inputs.get(request["data"], rows, seed)
    fit_args = {"batch_size": BATCH_SIZE, "lr": LR}
    if way in ("prepared", "train_epoch"):
        if way == "prepared" and inputs.prepared is None:
            inputs.prepared = kernels.training_inputs(x, path)  # once, as MLP.fit does
        given = inputs.prepared if way == "prepared" else x
        weights, biases = init_params(SIZES, DTYPE, seed)
        orders = [row_order(rows, seed, request["repetition"] * epochs + e) for e in range(epochs)]
        start = time.perf_counter()
        for order in orders:
            kernels.train_epoch(
                weights, biases, given, labels, order, LR, BATCH_SIZE, ACTIVATION, input_path=path
            )
        return (time.perf_counter() - start) / epochs
    model = new_model(seed, path)
    if way == "fit-progress-fortran":
        x = np.asfortranarray(x)  # made outside the clock
    start = time.perf_counter()
    if way == "partial_fit":
        for _ in range(epochs):
            model.partial_fit(x, labels, **fit_args)
    else:
        model.fit(x, labels, epochs=epochs, progress=way != "fit", **fit_args)
    return (time.perf_counter() - start) / epochs


def cli_seconds(path: str, request: dict[str, Any], scratch: Path) -> float:
    """``fastmlp train``'s seconds per epoch: (wall(E) - wall(1)) / (E - 1); the wall time
    of one epoch alone when E is 1 (the warm-up)."""

    def wall(epochs: int) -> float:
        command = [
            *(sys.executable, "-m", "fastmlp", "train", "--dataset", request["npz"]),
            *("--hidden", "128", "--batch-size", str(BATCH_SIZE), "--lr", str(LR)),
            *("--epochs", str(epochs), "--threads", str(request["threads"])),
            *("--input-path", path, "--seed", str(request["seed"]), "--no-download"),
            *("-o", str(scratch / "model.npz")),
        ]
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - start
        if done.returncode != 0:
            raise RuntimeError(f"fastmlp train failed: {done.stderr.strip()[-500:]}")
        return seconds

    epochs = request["epochs"]
    if epochs == 1:
        return wall(1)
    return (wall(epochs) - wall(1)) / (epochs - 1)


def infer_seconds(
    way: str, engine: str, inputs: Inputs, request: dict[str, Any], calls: dict[Any, int]
) -> float:
    """Seconds per call of ``way`` with ``engine`` on the request's rows; the warm-up sets
    how many calls make a sample (at least ``MIN_SAMPLE_SECONDS`` long)."""
    x, _ = inputs.get(request["data"], request["rows"], request["seed"])
    weights, biases = init_params(SIZES, DTYPE, request["seed"])
    if way == "forward":
        module: Any = kernels if engine == "rust" else reference

        def call() -> Any:
            return module.forward(weights, biases, x, ACTIVATION)[-1]

    else:
        model = new_model(request["seed"], engine=engine)
        model.weights, model.biases = weights, biases
        method = getattr(model, way)  # predict_proba or predict

        def call() -> Any:
            return method(x)

    key = (request["data"], request["threads"])
    count = calls.get(key, 1)
    start = time.perf_counter()
    for _ in range(count):
        call()
    seconds = (time.perf_counter() - start) / count
    if request["repetition"] == 0:
        calls[key] = max(1, min(1000, math.ceil(MIN_SAMPLE_SECONDS / max(seconds, 1e-9))))
    return seconds


def serve_unit(name: str) -> int:
    """The process of unit ``name``: answers ``describe`` and ``time``."""
    group, way, variant = name.split("/")
    engine = variant if group == "infer" else "rust"
    account = {
        "available": True,
        "why": None,
        "versions": {"fastmlp": fastmlp.__version__, "numpy": np.__version__},
        "kernels": "fastmlp's Rust engine" if engine == "rust" else "NumPy's BLAS",
    }
    inputs = Inputs()
    calls: dict[Any, int] = {}
    scratch = Path(tempfile.mkdtemp(prefix="fastmlp-call-paths-"))

    def timed(request: dict[str, Any]) -> dict[str, Any]:
        set_threads(request["threads"])
        if group == "infer":
            seconds = infer_seconds(way, engine, inputs, request, calls)
        elif way == "cli":
            seconds = cli_seconds(variant, request, scratch)
        else:
            seconds = train_seconds(way, variant, inputs, request)
        return {"seconds": seconds}

    return serve(lambda: account, {"time": timed})


# ---- the parent: rounds and tables ----------------------------------------------------------


def data_kinds(wanted: Sequence[str]) -> tuple[list[str], list[str]]:
    """The kinds of ``wanted`` found on this machine, and a note for each one missing."""
    kinds, notes = [], []
    for kind in wanted:
        try:
            load_images(kind, 1)
            kinds.append(kind)
        except (OSError, ValueError) as error:
            notes.append(f"{kind} left out: {str(error).splitlines()[0]}")
    return kinds, notes


def write_npz(kind: str, rows: int, test_rows: int, directory: Path) -> Path:
    """The training rows of ``kind`` (the others' exact rows) and ``test_rows`` rows to
    validate on, as a keras-style .npz for ``fastmlp train --dataset``."""
    images, labels = load_images(kind, rows)
    test_images, test_labels = load_images(kind, test_rows)
    path = directory / f"{kind}.npz"
    np.savez(path, x_train=images, y_train=labels, x_test=test_images, y_test=test_labels)
    return path


def auto_choices(kind: str, rows: int, threads: Sequence[int], seed: int) -> dict[int, str]:
    """Per thread count, the first layer ``input_path="auto"`` takes on the data, with
    ``kernels.sparse_plan``'s work."""
    x, _ = load_data(kind, rows, DTYPE, seed)
    work = kernels.sparse_plan(x).work
    choices = {}
    for count in threads:
        fastmlp.set_num_threads(count)
        choices[count] = f"{kernels.preferred_input_path(x)} ({work:.2f})"
    return choices


@dataclass
class Row:
    """One table row: a way on one data kind at one thread count, each variant's timing."""

    kind: str
    threads: int
    way: Way
    timings: dict[str, EngineTiming]
    auto_takes: str = ""


def variants(timings: dict[str, EngineTiming], group: str, way: str) -> dict[str, EngineTiming]:
    """The timings of ``way``'s units in ``group``, by variant (input path or engine)."""
    prefix = unit_name(group, way, "")
    return {u.removeprefix(prefix): t for u, t in timings.items() if u.startswith(prefix)}


def time_units(
    run: ScriptRun,
    units: Sequence[str],
    message: dict[str, Any],
    repeats: int,
    pause: float,
    log: Callable[[str], None],
) -> dict[str, EngineTiming]:
    """Time ``units`` in interleaved rounds with ``message`` (one data kind and thread
    count), after a one-epoch (one-call) warm-up of each; the timings by unit."""
    where = f"{message['data']}, {message['threads']} thread(s)"

    def send(unit: str, k: int) -> dict[str, Any]:
        request = message | {"repetition": k}
        if unit.startswith("infer/"):
            request["rows"] = message["infer_rows"]
        if not k:
            request["epochs"] = 1
        reply = run.workers[unit].request(request)
        if k:
            log(f"{where}, {unit}, round {k}: {reply['seconds']:.4g} s")
        return reply

    replies, _ = run.rounds([u for u in units if u in run.workers], send, repeats, pause)
    return {u: EngineTiming([a["seconds"] for a in answers]) for u, answers in replies.items()}


def measure(
    kinds: Sequence[str],
    threads: Sequence[int],
    settings: dict[str, Any],
    training: Sequence[str],
    inference: Sequence[str],
    repeats: int,
    pause: float,
    scratch: Path,
    log: Callable[[str], None] = lambda line: None,
) -> tuple[list[Row], list[Row], ScriptRun]:
    """Time every unit on every data kind and thread count, interleaved within each."""
    units = [unit_name("train", w, p) for w in training for p in PATHS]
    units += [unit_name("infer", w, e) for w in inference for e in ENGINES]
    by_name = {w.name: w for w in TRAINING_WAYS + INFERENCE_WAYS}
    train_rows: list[Row] = []
    infer_rows: list[Row] = []
    log(f"starting {len(units)} processes, one per unit")
    with ScriptRun(__file__, {u: u.endswith("/numpy") for u in units}) as run:
        for kind in kinds:
            npz = write_npz(kind, settings["rows"], settings["test_rows"], scratch)
            auto = auto_choices(kind, settings["rows"], threads, settings["seed"])
            for count in threads:
                message = {"op": "time", "data": kind, "threads": count, "npz": str(npz)}
                timings = time_units(run, units, message | settings, repeats, pause, log)

                for way in training:
                    found = variants(timings, "train", way)
                    train_rows.append(Row(kind, count, by_name[way], found, auto[count]))
                for way in inference:
                    found = variants(timings, "infer", way)
                    infer_rows.append(Row(kind, count, by_name[way], found))
    return train_rows, infer_rows, run


def _seconds(timing: EngineTiming | None) -> str:
    return "—" if timing is None else f"{timing.median:.4g}" + (" *" if noisy(timing) else "")


def _ratio(top: EngineTiming | None, bottom: EngineTiming | None) -> str:
    return "—" if top is None or bottom is None else f"{top.median / bottom.median:.2f}"


def _spread(timing: EngineTiming | None) -> str:
    return "—" if timing is None else f"{100 * abs(timing.spread):.0f}%"


def training_table(rows: list[Row]) -> str:
    header = [
        "data",
        "threads",
        "auto takes (work)",
        "way",
        "auto s/epoch",
        "dense s/epoch",
        "auto / dense",
        "spread (auto / dense)",
    ]
    cells = [
        [
            r.kind,
            str(r.threads),
            r.auto_takes,
            r.way.name,
            _seconds(r.timings.get("auto")),
            _seconds(r.timings.get("dense")),
            _ratio(r.timings.get("auto"), r.timings.get("dense")),
            f"{_spread(r.timings.get('auto'))} / {_spread(r.timings.get('dense'))}",
        ]
        for r in rows
    ]
    return markdown_table(header, cells, names=("way", "auto takes (work)"))


def inference_table(rows: list[Row], infer_rows: int) -> str:
    header = [
        "data",
        "threads",
        "way",
        f"rust s ({infer_rows:,} rows)",
        "numpy s",
        "rust / numpy",
        "spread (rust / numpy)",
    ]
    cells = [
        [
            r.kind,
            str(r.threads),
            r.way.name,
            _seconds(r.timings.get("rust")),
            _seconds(r.timings.get("numpy")),
            _ratio(r.timings.get("rust"), r.timings.get("numpy")),
            f"{_spread(r.timings.get('rust'))} / {_spread(r.timings.get('numpy'))}",
        ]
        for r in rows
    ]
    return markdown_table(header, cells, names=("way",))


def _names(allowed: tuple[str, ...], what: str) -> Callable[[str], list[str]]:
    def parse(text: str) -> list[str]:
        names = [n.strip() for n in text.split(",") if n.strip()]
        unknown = [n for n in names if n not in allowed]
        if unknown:
            raise argparse.ArgumentTypeError(
                f"unknown {what} {', '.join(unknown)}; choose from {', '.join(allowed)}"
            )
        return names

    return parse


DEFAULTS = {
    "data": ["mnist-like", "fashion-mnist"],
    "threads": [1, 2],
    "rows": 60_000,
    "test_rows": 10_000,
    "infer_rows": 10_000,
    "epochs": 3,
    "repeats": 3,
    "pause": 0.5,
}
QUICK = {
    "data": ["mnist-like"],
    "threads": [1],
    "rows": 512,
    "test_rows": 128,
    "infer_rows": 256,
    "epochs": 2,
    "repeats": 1,
    "pause": 0.0,
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="benchmarks/call_paths.py",
        description=__doc__.split("\n\n")[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="training ways:\n"
        + "\n".join(f"  {w.name}: {w.description}" for w in TRAINING_WAYS)
        + "\ninference ways:\n"
        + "\n".join(f"  {w.name}: {w.description}" for w in INFERENCE_WAYS),
    )
    parser.add_argument(
        "--data",
        type=_names(("mnist-like", "fashion-mnist"), "data"),
        help="comma-separated: mnist-like, fashion-mnist (default: both; one not on disk is "
        "left out with a note)",
    )
    parser.add_argument(
        "--threads",
        type=lambda text: sorted({int(t) for t in text.split(",") if t.strip()}),
        help="comma-separated thread counts (default 1,2)",
    )
    parser.add_argument(
        "--ways",
        type=_names(TRAINING_NAMES, "way(s)"),
        default=list(TRAINING_NAMES),
        help="comma-separated training ways (default: all)",
    )
    parser.add_argument(
        "--inference",
        type=_names(INFERENCE_NAMES, "inference way(s)"),
        default=list(INFERENCE_NAMES),
        help="comma-separated inference ways (default: all; '' for none)",
    )
    parser.add_argument("--rows", type=int, help="training rows (default 60000)")
    parser.add_argument("--test-rows", type=int, help="rows the CLI validates on (default 10000)")
    parser.add_argument("--infer-rows", type=int, help="rows predicted (default 10000)")
    parser.add_argument("--epochs", type=int, help="epochs per timed sample, E >= 2 (default 3)")
    parser.add_argument("--repeats", type=int, help="rounds (default 3)")
    parser.add_argument("--pause", type=float, help="seconds after every call (default 0.5)")
    parser.add_argument("--seed", type=int, default=0, help="weights, orders, data")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write every number here")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke run for the tests: 512 MNIST-like rows, 1 thread, 2 epochs, 1 round, "
        "no pause (options given explicitly win)",
    )
    parser.add_argument(SERVE_FLAG, metavar="UNIT", help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Print the Markdown report (``--help`` lists the options)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.serve:
        return serve_unit(args.serve)
    fill_unset_options(args, DEFAULTS, QUICK)
    if args.epochs < 2:
        parser.error("--epochs: expected at least 2 (the CLI's per-epoch time needs two runs)")
    kinds, missing = data_kinds(args.data)

    def log(line: str) -> None:
        print(f"[call paths] {line}", file=sys.stderr, flush=True)

    settings = {
        "rows": args.rows,
        "test_rows": args.test_rows,
        "infer_rows": args.infer_rows,
        "epochs": args.epochs,
        "seed": args.seed,
    }
    with tempfile.TemporaryDirectory(prefix="fastmlp-call-paths-") as scratch:
        train_rows, infer_rows, run = measure(
            kinds,
            args.threads,
            settings,
            args.ways,
            args.inference,
            args.repeats,
            args.pause,
            Path(scratch),
            log,
        )
    run.notes[:0] = missing
    what = [
        f"training: {'-'.join(map(str, SIZES))} {ACTIVATION}, batch {BATCH_SIZE}, lr {LR}, "
        f"{DTYPE}, {args.rows:,} rows, {args.epochs} epochs per timed sample (seconds per "
        f"epoch: its time / {args.epochs}); inference: {args.infer_rows:,} rows",
        f"threads: {', '.join(map(str, args.threads))} (the Rust engine and every BLAS pool); "
        f"each unit in its own process; median of {args.repeats} rounds (every unit once per "
        f"round, in a rotating order, {args.pause:g} s pause after every call, one untimed "
        "warm-up epoch or call first); * marks a noisy median (slowest over 1.5 x fastest)",
        "auto takes: kernels.preferred_input_path of the rows at that thread count, with "
        "kernels.sparse_plan's work",
    ]
    out = [*run.header(what), "", "Training, seconds per epoch:", ""]
    out += [training_table(train_rows), "", "Inference, seconds per call:", ""]
    out += [inference_table(infer_rows, args.infer_rows)]
    if run.notes:
        out += ["", *run.footer()]
    print("\n".join(out))
    if args.json is not None:
        payload = {
            "settings": settings | {"threads": args.threads, "data": kinds},
            "machine": run.machine,
            "sides": run.sides,
            "rows": [
                {
                    "table": table,
                    "data": r.kind,
                    "threads": r.threads,
                    "way": r.way.name,
                    "auto_takes": r.auto_takes,
                    "seconds": {v: t.seconds for v, t in r.timings.items()},
                }
                for table, rows in (("training", train_rows), ("inference", infer_rows))
                for r in rows
            ],
            "notes": run.notes,
        }
        args.json.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
