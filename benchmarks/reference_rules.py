"""Where the NumPy reference's optimizer epochs spend their extra time:
``python benchmarks/reference_rules.py``.

For each rule of the optimizer issue (plain SGD, momentum, Nesterov, Adam), one
``fastmlp.reference.train_step`` on a batch (forward, backward and the update) and the
update alone (``fastmlp.optimizers.rules.apply_optimizer`` on fixed gradients), 784-128-10
ReLU, batch 128, float32, on the bundled MNIST sample's rows, at 1 and 2 threads, in one
process running NumPy's native BLAS kernels. The update is elementwise NumPy: each
operation of a rule, written in scikit-learn's order and rounding, is one pass over every
parameter, on one thread whatever BLAS's threads; the table sets its seconds beside the
step's. ``benchmarks/README.md`` explains the table.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from fastmlp.bench.report import markdown_table
from fastmlp.bench.research import SERVE_FLAG, ScriptRun, fill_unset_options, serve, set_threads
from fastmlp.bench.timing import EngineTiming

#: rule -> (``MLP.fit`` keywords, elementwise array operations per parameter per step in
#: ``fastmlp.optimizers.rules``: each reads and writes whole arrays).
RULES: dict[str, tuple[dict[str, Any], int]] = {
    "sgd": ({"optimizer": "sgd"}, 2),  # lr * g; p -= that
    "momentum": ({"optimizer": "sgd", "momentum": 0.9}, 4),  # lr * g; v *= mu; v -= ; p +=
    "nesterov": ({"optimizer": "sgd", "momentum": 0.9, "nesterov": True}, 6),  # + mu*v; -=
    "adam": ({"optimizer": "adam"}, 12),  # 3 for m, 4 for v, 5 for the step
}
LAYERS = [784, 128, 10]
BATCH = 128


# ---- the worker: NumPy's process -------------------------------------------------------------


def make_problem(rule: str, seed: int) -> tuple[Any, ...]:
    """Parameters, the batches (the bundled MNIST sample's training rows, shuffled), fixed
    gradients (of the first batch) and the rule's fresh state."""
    from fastmlp import datasets, reference
    from fastmlp.initializers import check_init, initial_parameters
    from fastmlp.optimizers import init_state, make_optimizer

    rng = np.random.default_rng(seed)
    weights, biases = initial_parameters(LAYERS, check_init("he"), np.dtype(np.float32), rng)
    sample = datasets.load("mnist-sample")
    order = rng.permutation(len(sample.y_train))
    x = datasets.prepare(sample.x_train[order], dtype="float32")
    y = np.eye(LAYERS[-1], dtype=np.float32)[sample.y_train[order]]
    batches = [(x[i : i + BATCH], y[i : i + BATCH]) for i in range(0, len(x) - BATCH + 1, BATCH)]
    outputs = reference.forward(weights, biases, batches[0][0], "relu")
    weight_grads, bias_grads = reference.backward(weights, outputs, batches[0][1], "relu")
    keywords = dict(RULES[rule][0])
    name = keywords.pop("optimizer")
    optimizer = make_optimizer(name, **keywords)
    state = init_state(optimizer, weights, biases) if optimizer.slots else None
    return weights, biases, batches, weight_grads, bias_grads, optimizer, state


def time_rule(request: dict[str, Any]) -> dict[str, Any]:
    """Seconds per step (the batches in turn) and per update of ``request["rule"]``, each the
    mean of ``steps``."""
    from fastmlp import reference
    from fastmlp.optimizers.rules import apply_optimizer

    set_threads(request["threads"])
    rule, steps = request["rule"], request["steps"]
    weights, biases, batches, weight_grads, bias_grads, optimizer, state = make_problem(rule, 0)
    lr = 1e-3 if rule == "adam" else 0.01
    start = time.perf_counter()
    for k in range(steps):
        x, y = batches[k % len(batches)]
        reference.train_step(weights, biases, x, y, lr, "relu", optimizer=optimizer, state=state)
    step = (time.perf_counter() - start) / steps
    start = time.perf_counter()
    for _ in range(steps):
        apply_optimizer(optimizer, state, weights, biases, weight_grads, bias_grads, lr, 0.0, BATCH)
    update = (time.perf_counter() - start) / steps
    return {"seconds": step, "update": update}


def describe() -> dict[str, Any]:
    import fastmlp

    return {
        "available": True,
        "why": None,
        "versions": {"numpy": np.__version__, "fastmlp": fastmlp.__version__},
        "kernels": "NumPy's BLAS (the reference engine)",
    }


# ---- the parent ------------------------------------------------------------------------------


def measure(
    threads: list[int], steps: int, repeats: int, pause: float, log: Any = lambda line: None
) -> tuple[dict[tuple[str, int], tuple[EngineTiming, EngineTiming]], ScriptRun]:
    """(rule, threads) -> timings of the step and of the update, interleaved rounds."""
    with ScriptRun(__file__, {"numpy": True}) as run:
        units = [(rule, t) for t in threads for rule in RULES]

        def send(unit: tuple[str, int], k: int) -> dict[str, Any]:
            rule, t = unit
            message = {"op": "time", "rule": rule, "threads": t, "steps": steps if k else 2}
            reply = run.workers["numpy"].request(message)
            if k:
                log(f"{rule}, {t} thread(s), round {k}: {1e6 * reply['seconds']:.0f} us a step")
            return reply

        replies, _ = run.rounds(units, send, repeats, pause)
    timings = {
        unit: (
            EngineTiming([a["seconds"] for a in answers]),
            EngineTiming([a["update"] for a in answers]),
        )
        for unit, answers in replies.items()
    }
    return timings, run


def markdown(timings: dict[tuple[str, int], tuple[EngineTiming, EngineTiming]]) -> str:
    """A row per thread count and rule: step and update microseconds, their ratios to plain
    SGD's, and the update's microseconds per elementwise pass."""
    header = [
        "rule",
        "threads",
        "step us",
        "step / SGD step",
        "update us",
        "update - SGD update (us)",
        "passes",
        "us a pass",
        "spread (step / update)",
    ]
    rows = []
    for (rule, threads), (step, update) in timings.items():
        base = timings.get(("sgd", threads))
        passes = RULES[rule][1]
        rows.append(
            [
                rule,
                str(threads),
                f"{1e6 * step.median:.0f}",
                "—" if base is None else f"{step.median / base[0].median:.2f}",
                f"{1e6 * update.median:.0f}",
                "—" if base is None else f"{1e6 * (update.median - base[1].median):.0f}",
                str(passes),
                f"{1e6 * update.median / passes:.1f}",
                f"{100 * step.spread:.0f}% / {100 * update.spread:.0f}%",
            ]
        )
    return markdown_table(header, rows, names=("rule",))


DEFAULTS = {"steps": 200, "repeats": 5, "pause": 0.5}
QUICK = {"steps": 3, "repeats": 1, "pause": 0.0}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="benchmarks/reference_rules.py", description=__doc__.split("\n\n")[1]
    )
    parser.add_argument(
        "--threads", default="1,2", help="comma-separated BLAS thread counts (default 1,2)"
    )
    parser.add_argument("--steps", type=int, help="steps per timed sample (default 200)")
    parser.add_argument("--repeats", type=int, help="rounds (default 5)")
    parser.add_argument("--pause", type=float, help="seconds after every sample (default 0.5)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write every number here")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke run for the tests: 3 steps, 1 round, no pause (options given explicitly win)",
    )
    parser.add_argument(SERVE_FLAG, metavar="UNIT", help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Print the Markdown report (``--help`` lists the options)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.serve:
        return serve(describe, {"time": time_rule})
    fill_unset_options(args, DEFAULTS, QUICK)
    try:
        threads = [int(t) for t in args.threads.split(",")]
    except ValueError:
        parser.error(f"--threads: expected comma-separated integers, got {args.threads!r}")
    if not threads or min(threads) < 1 or args.steps < 1 or args.repeats < 1:
        parser.error("--threads, --steps and --repeats must be positive")

    def log(line: str) -> None:
        print(f"[reference rules] {line}", file=sys.stderr, flush=True)

    timings, run = measure(threads, args.steps, args.repeats, args.pause, log)
    layers = "-".join(map(str, LAYERS))
    what = [
        f"fastmlp.reference.train_step (a step) and optimizers.rules.apply_optimizer (the "
        f"update alone), {layers} ReLU, batch {BATCH}, float32, {args.steps} steps a sample",
        f"median of {args.repeats} rounds (every rule and thread count once per round, in a "
        f"rotating order, {args.pause:g} s pause after each)",
    ]
    print("\n".join([*run.header(what), "", markdown(timings)]))
    if run.notes:
        print("\n" + "\n".join(run.footer()))
    if args.json is not None:
        payload = {
            "settings": {"threads": threads, "steps": args.steps, "repeats": args.repeats},
            "machine": run.machine,
            "sides": run.sides,
            "timings": [
                {"rule": r, "threads": t, "step": s.seconds, "update": u.seconds}
                for (r, t), (s, u) in timings.items()
            ],
            "notes": run.notes,
        }
        args.json.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
