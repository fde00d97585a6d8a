"""fastmlp's estimators against scikit-learn's own: ``python benchmarks/sklearn_compare.py``.

The estimator issue's comparison, same data and parameters, in one run: ``MLPClassifier``
on Fashion-MNIST (``hidden_layer_sizes=(128,)``, ``max_iter=10``; solver "adam", and solver
"sgd" with momentum 0.9) by test accuracy and ``fit`` seconds, and ``MLPRegressor`` on
``make_friedman1(n_samples=5000, noise=1.0, random_state=0)`` split 75/25
(``hidden_layer_sizes=(64, 64)``, ``max_iter=200``) by R^2 and ``fit`` seconds; and the
other way of calling, ``partial_fit`` on consecutive batches of 200 rows (the regressor for 10
passes over its data, the Adam classifier for one), where each call's fixed cost counts. Both
libraries get the same constructor arguments (scikit-learn's defaults otherwise), the same
``random_state`` and the same threads (fastmlp's estimators also ``n_threads``). Each
library runs in its own process (scikit-learn's with NumPy's native BLAS kernels); the
rounds are interleaved (every fit once per round, in a rotating order, a pause after each),
and each fit's seconds are the median over the rounds, with their spread.

Written against scikit-learn's API: it runs ``fastmlp.MLPClassifier`` and
``fastmlp.MLPRegressor`` once they exist, and notes their absence before.
``benchmarks/README.md`` explains the table.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fastmlp import datasets
from fastmlp.bench.report import markdown_table
from fastmlp.bench.research import SERVE_FLAG, ScriptRun, fill_unset_options, serve, set_threads
from fastmlp.bench.timing import EngineTiming

LIBRARIES = ("sklearn", "fastmlp")


@dataclass(frozen=True)
class Task:
    """One comparison: an estimator, its arguments, and the data it is fit and scored on."""

    name: str
    estimator: str  # "MLPClassifier" or "MLPRegressor"
    params: dict[str, Any]
    score: str  # what ``estimator.score`` measures
    call: str = "fit"  # or "partial_fit": on batches of ``batch_rows`` rows, ``passes`` times
    passes: int = 1
    batch_rows: int = 200

    def describe(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.params.items())

    def calls(self) -> str:
        """How the estimator is trained, after its constructor: ``.fit`` or the loop."""
        if self.call == "partial_fit":
            return f".partial_fit on batches of {self.batch_rows} rows, {self.passes} pass(es)"
        return ".fit"


def tasks(
    max_iter: int | None = None,
    regressor_max_iter: int | None = None,
    regressor_passes: int | None = None,
) -> list[Task]:
    """The issue's three fits, then the two partial_fit loops; ``max_iter``,
    ``regressor_max_iter`` and ``regressor_passes`` shorten them."""
    classifier = {"hidden_layer_sizes": (128,), "max_iter": max_iter or 10}
    return [
        Task("classifier-adam", "MLPClassifier", classifier | {"solver": "adam"}, "accuracy"),
        Task(
            "classifier-sgd",
            "MLPClassifier",
            classifier | {"solver": "sgd", "momentum": 0.9},
            "accuracy",
        ),
        Task(
            "regressor",
            "MLPRegressor",
            {"hidden_layer_sizes": (64, 64), "max_iter": regressor_max_iter or 200},
            "R^2",
        ),
        Task(
            "classifier-adam-partial_fit",
            "MLPClassifier",
            {"hidden_layer_sizes": (128,), "solver": "adam"},
            "accuracy",
            call="partial_fit",
        ),
        Task(
            "regressor-partial_fit",
            "MLPRegressor",
            {"hidden_layer_sizes": (64, 64)},
            "R^2",
            call="partial_fit",
            passes=regressor_passes or 10,
        ),
    ]


# ---- the worker side: one library's process ------------------------------------------------


def estimator_class(library: str, name: str) -> Any:
    """``library``'s estimator ``name``; ImportError/AttributeError when it has none."""
    if library == "sklearn":
        from sklearn import neural_network

        return getattr(neural_network, name)
    import fastmlp

    found = getattr(fastmlp, name, None)
    if found is None:
        raise AttributeError(
            f"the installed fastmlp has no fastmlp.{name} (the estimator issue): skipped"
        )
    return found


def library_account(library: str) -> dict[str, Any]:
    """Whether this process has ``library``'s estimators (``available``, ``why``)."""
    try:
        for name in ("MLPClassifier", "MLPRegressor"):
            estimator_class(library, name)
        if library == "sklearn":
            import sklearn

            return {"versions": {"scikit-learn": sklearn.__version__}, "kernels": "NumPy's BLAS"}
        import fastmlp

        return {"versions": {"fastmlp": fastmlp.__version__}, "kernels": "fastmlp's Rust engine"}
    except (ImportError, AttributeError) as error:
        return {"available": False, "why": f"{library}: {error}"}


def load_task_data(task: Task, request: dict[str, Any]) -> tuple[np.ndarray, ...]:
    """(x_train, y_train, x_test, y_test) for ``task``."""
    if task.estimator == "MLPClassifier":
        found = datasets.load(request["data"], download=False)
        return (
            datasets.prepare(found.x_train, dtype="float32"),
            found.y_train.astype(np.int64),
            datasets.prepare(found.x_test, dtype="float32"),
            found.y_test.astype(np.int64),
        )
    from sklearn.datasets import make_friedman1
    from sklearn.model_selection import train_test_split

    x, y = make_friedman1(n_samples=request["regressor_samples"], noise=1.0, random_state=0)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, random_state=0)
    return x_train, y_train, x_test, y_test


Loaded = dict[tuple[Any, ...], tuple[np.ndarray, ...]]


def fit_task(library: str, request: dict[str, Any], loaded: Loaded) -> dict[str, Any]:
    """Fit ``request["task"]`` with ``library``'s estimator from scratch (timed) and score
    it on the test split (untimed); ``loaded`` keeps the last data between calls."""
    threads = request["threads"]
    set_threads(threads)
    task = Task(**request["task"])
    key = (task.estimator, request["data"], request["regressor_samples"])
    if key not in loaded:
        loaded.clear()
        loaded[key] = load_task_data(task, request)
    x_train, y_train, x_test, y_test = loaded[key]
    kind = estimator_class(library, task.estimator)
    params = task.params | {"random_state": request["seed"]}
    if "n_threads" in kind().get_params():
        params["n_threads"] = threads
    estimator = kind(**params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning: max_iter is the issue's
        start = time.perf_counter()
        if task.call == "partial_fit":
            partial_fit_passes(estimator, task, x_train, y_train)
        else:
            estimator.fit(x_train, y_train)
        seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "score": float(estimator.score(x_test, y_test)),
        "n_iter": int(getattr(estimator, "n_iter_", -1)),
    }


def partial_fit_passes(estimator: Any, task: Task, x: np.ndarray, y: np.ndarray) -> None:
    """``task.passes`` passes of ``estimator.partial_fit`` over consecutive batches of
    ``task.batch_rows`` rows of ``(x, y)`` (a classifier is told every class on its first)."""
    first = {"classes": np.unique(y)} if task.estimator == "MLPClassifier" else {}
    for _ in range(task.passes):
        for start in range(0, len(x), task.batch_rows):
            rows = slice(start, start + task.batch_rows)
            estimator.partial_fit(x[rows], y[rows], **first)
            first = {}


def serve_library(library: str) -> int:
    """The process of ``library``: answers ``describe`` and ``fit``."""
    account = {"available": True, "why": None, **library_account(library)}
    loaded: Loaded = {}
    return serve(lambda: account, {"fit": lambda request: fit_task(library, request, loaded)})


# ---- the parent: rounds and the table -------------------------------------------------------


@dataclass
class TaskResult:
    """One task's fits by library: seconds, test scores and iterations per round."""

    task: Task
    seconds: dict[str, list[float]] = field(default_factory=dict)
    scores: dict[str, list[float]] = field(default_factory=dict)
    iterations: dict[str, list[int]] = field(default_factory=dict)

    def timing(self, library: str) -> EngineTiming | None:
        seconds = self.seconds.get(library)
        return EngineTiming(seconds) if seconds else None

    def score(self, library: str) -> float | None:
        scores = self.scores.get(library)
        return statistics.median(scores) if scores else None


def measure(
    task_list: list[Task],
    settings: dict[str, Any],
    repeats: int,
    pause: float,
    log: Any = lambda line: None,
) -> tuple[list[TaskResult], ScriptRun]:
    """Fit every task with every library ``repeats`` times, interleaved."""
    with ScriptRun(__file__, {"sklearn": True, "fastmlp": False}) as run:
        units = [(library, t.name) for t in task_list for library in LIBRARIES]
        units = [u for u in units if u[0] in run.workers]
        by_name = {t.name: t for t in task_list}

        def send(unit: tuple[str, str], k: int) -> dict[str, Any]:
            library, name = unit
            task = by_name[name]
            described = task.__dict__
            if not k:  # a short warm-up: one epoch, or one pass of large batches
                described = described | (
                    {"passes": 1, "batch_rows": 2000}
                    if task.call == "partial_fit"
                    else {"params": task.params | {"max_iter": 1}}
                )
            message = {"op": "fit", "task": described} | settings
            reply = run.workers[library].request(message)
            if k:
                log(f"{library} {name}, round {k}: {reply['seconds']:.2f} s")
            return reply

        replies, _ = run.rounds(units, send, repeats, pause)
    results = {t.name: TaskResult(t) for t in task_list}
    for (library, name), answers in replies.items():
        result = results[name]
        result.seconds[library] = [a["seconds"] for a in answers]
        result.scores[library] = [a["score"] for a in answers]
        result.iterations[library] = [a["n_iter"] for a in answers]
    return list(results.values()), run


def _cell(value: float | None, form: str) -> str:
    return "—" if value is None else format(value, form)


def markdown(results: list[TaskResult]) -> str:
    """The results as a Markdown table: scores, their difference, seconds and speed-up."""
    header = [
        "task",
        "score",
        "sklearn score",
        "fastmlp score",
        "fastmlp - sklearn",
        "sklearn fit s",
        "fastmlp fit s",
        "spread (sklearn / fastmlp)",
        "speed-up",
        "iterations (sklearn / fastmlp)",
    ]
    rows = []
    for r in results:
        sk, fm = r.timing("sklearn"), r.timing("fastmlp")
        sk_score, fm_score = r.score("sklearn"), r.score("fastmlp")
        spreads = " / ".join("—" if t is None else f"{100 * t.spread:.0f}%" for t in (sk, fm))
        iterations = " / ".join(
            "—" if not r.iterations.get(lib) else "-".join(map(str, sorted(set(r.iterations[lib]))))
            for lib in LIBRARIES
        )
        rows.append(
            [
                r.task.name,
                r.task.score,
                _cell(sk_score, ".4f"),
                _cell(fm_score, ".4f"),
                _cell(
                    None if sk_score is None or fm_score is None else fm_score - sk_score, "+.4f"
                ),
                _cell(sk and sk.median, ".3f"),
                _cell(fm and fm.median, ".3f"),
                spreads,
                "—" if sk is None or fm is None else f"{sk.median / fm.median:.1f}x",
                iterations,
            ]
        )
    return markdown_table(header, rows, names=("score",))


DEFAULTS = {"data": "fashion-mnist", "repeats": 3, "pause": 1.0, "regressor_samples": 5000}
QUICK = {
    "data": "mnist-sample",
    "repeats": 1,
    "pause": 0.0,
    "regressor_samples": 400,
    "max_iter": 1,
    "regressor_max_iter": 5,
    "regressor_passes": 2,
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="benchmarks/sklearn_compare.py",
        description=__doc__.split("\n\n")[1],
        epilog="tasks: "
        + "; ".join(f"{t.name}: {t.estimator}({t.describe()}){t.calls()}" for t in tasks()),
    )
    parser.add_argument("--threads", type=int, default=2, help="threads of both (default 2)")
    parser.add_argument("--repeats", type=int, help="rounds (default 3)")
    parser.add_argument("--pause", type=float, help="seconds after every fit (default 1)")
    parser.add_argument(
        "--data",
        help="the classifier's dataset, found on disk by fastmlp.datasets.load "
        "(default fashion-mnist)",
    )
    parser.add_argument("--max-iter", type=int, help="the classifier's (default 10)")
    parser.add_argument("--regressor-max-iter", type=int, help="the regressor's (default 200)")
    parser.add_argument(
        "--regressor-samples", type=int, help="make_friedman1's n_samples (default 5000)"
    )
    parser.add_argument(
        "--regressor-passes",
        type=int,
        help="passes of the regressor's partial_fit loop over its data (default 10)",
    )
    parser.add_argument("--seed", type=int, default=0, help="both estimators' random_state")
    parser.add_argument(
        "--tasks",
        help="comma-separated task names to run (default: all; the names are in the epilog)",
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write every number here")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke run for the tests: the bundled mnist-sample, 1 classifier iteration, "
        "400 regression samples, 5 iterations and 2 partial_fit passes, 1 round, no pause "
        "(options given "
        "explicitly win)",
    )
    parser.add_argument(SERVE_FLAG, metavar="LIBRARY", help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Print the Markdown report (``--help`` lists the options)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.serve:
        return serve_library(args.serve)
    fill_unset_options(args, DEFAULTS, QUICK)
    try:
        datasets.load(args.data, download=False)  # here first: each process would fail on it
    except (ValueError, OSError) as error:
        parser.error(str(error))

    def log(line: str) -> None:
        print(f"[sklearn compare] {line}", file=sys.stderr, flush=True)

    task_list = tasks(args.max_iter, args.regressor_max_iter, args.regressor_passes)
    if args.tasks:
        wanted = args.tasks.split(",")
        unknown = sorted(set(wanted) - {t.name for t in task_list})
        if unknown:
            parser.error(f"--tasks: unknown task(s) {', '.join(unknown)}")
        task_list = [t for t in task_list if t.name in wanted]
    settings = {
        "threads": args.threads,
        "seed": args.seed,
        "data": args.data,
        "regressor_samples": args.regressor_samples,
    }
    results, run = measure(task_list, settings, args.repeats, args.pause, log)
    what = [
        f"classifier: {args.data}, training split to fit, test split to score; regressor: "
        f"make_friedman1(n_samples={args.regressor_samples}, noise=1.0, random_state=0), "
        "train_test_split(test_size=0.25, random_state=0)",
        *(
            f"{t.name}: {t.estimator}({t.describe()}, random_state={args.seed}){t.calls()}"
            for t in task_list
        ),
        f"{args.threads} thread(s) for both; each library in its own process; median of "
        f"{args.repeats} rounds (every fit once per round, in a rotating order, {args.pause:g} s "
        "pause after every fit, one untimed warm-up fit with max_iter=1 first, or a pass of "
        "partial_fit on batches of 2000 rows); seconds: fit, or the whole partial_fit loop, only",
    ]
    print("\n".join([*run.header(what), "", markdown(results)]))
    if run.notes:
        print("\n" + "\n".join(run.footer()))
    if args.json is not None:
        payload = {
            "settings": settings | {"repeats": args.repeats, "pause": args.pause},
            "machine": run.machine,
            "sides": run.sides,
            "tasks": [
                {
                    "task": r.task.__dict__,
                    "seconds": r.seconds,
                    "scores": r.scores,
                    "iterations": r.iterations,
                }
                for r in results
            ],
            "notes": run.notes,
        }
        args.json.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
