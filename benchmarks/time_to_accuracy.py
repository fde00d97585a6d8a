"""Seconds of training to reach a test accuracy: ``python benchmarks/time_to_accuracy.py``.

Fashion-MNIST, 784-256-128-10 ReLU, batch 128, float32, 2 threads (the performance issue's
headline): fastmlp with several recipes (plain SGD, Adam, Nesterov momentum) against
scikit-learn's ``MLPClassifier`` and PyTorch (where importable). Every recipe trains in its
own process (scikit-learn's and PyTorch's with their native BLAS kernels) from the same
He-normal initial weights (``--init own``: each library's own), one epoch at a time; the
clock runs during the epochs only, the test accuracy after each epoch is measured outside
it, and a run stops at the first epoch that reaches the target (or after ``--max-epochs``).
The rounds are interleaved (every recipe once per round, in a rotating order, a pause
after each run); each recipe's seconds are the median over the rounds, with their spread.

A recipe is data (:data:`RECIPES`): fastmlp's optimizer recipes run once ``MLP.fit`` takes
the optimizer issue's keywords, and are skipped with a note before that.
``benchmarks/README.md`` explains the table.
"""

from __future__ import annotations

import argparse
import gc
import inspect
import itertools
import json
import statistics
import sys
import time
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np

import fastmlp
from fastmlp import datasets
from fastmlp.bench import init_params
from fastmlp.bench.report import markdown_table
from fastmlp.bench.research import SERVE_FLAG, ScriptRun, fill_unset_options, serve, set_threads
from fastmlp.bench.timing import EngineTiming

SIZES = (784, 256, 128, 10)
BATCH_SIZE = 128
DTYPE = "float32"
#: Rows the untimed warm-up run of each process trains on, for one epoch.
WARMUP_ROWS = 1024

Library = Literal["fastmlp", "sklearn", "torch"]


@dataclass(frozen=True)
class Recipe:
    """How one library trains the network: its optimizer and learning rate."""

    name: str
    library: Library
    optimizer: Literal["sgd", "adam"]
    lr: float
    momentum: float = 0.0
    nesterov: bool = False

    def describe(self) -> str:
        """E.g. ``SGD, Nesterov momentum 0.9, lr 0.01``."""
        if self.optimizer == "adam":
            return f"Adam, lr {self.lr:g}"
        kind = "Nesterov momentum" if self.nesterov else "momentum"
        with_momentum = f", {kind} {self.momentum:g}" if self.momentum else ""
        return f"SGD{with_momentum}, lr {self.lr:g}"

    def fit_keywords(self) -> dict[str, Any]:
        """``MLP.fit``'s optimizer keywords for this recipe (the optimizer issue's), the
        defaults left out so that plain SGD runs on any fastmlp."""
        keywords: dict[str, Any] = {}
        if self.optimizer != "sgd":
            keywords["optimizer"] = self.optimizer
        if self.momentum:
            keywords["momentum"] = self.momentum
        if self.nesterov:
            keywords["nesterov"] = True
        return keywords


RECIPES: tuple[Recipe, ...] = (
    Recipe("fastmlp-sgd", "fastmlp", "sgd", 0.1),
    Recipe("fastmlp-adam", "fastmlp", "adam", 1e-3),
    Recipe("fastmlp-nesterov", "fastmlp", "sgd", 0.01, 0.9, nesterov=True),
    Recipe("sklearn-sgd", "sklearn", "sgd", 0.1),
    Recipe("sklearn-adam", "sklearn", "adam", 1e-3),
    Recipe("sklearn-nesterov", "sklearn", "sgd", 0.01, 0.9, nesterov=True),
    Recipe("torch-sgd", "torch", "sgd", 0.1),
    Recipe("torch-adam", "torch", "adam", 1e-3),
    Recipe("torch-nesterov", "torch", "sgd", 0.01, 0.9, nesterov=True),
)
RECIPE_NAMES = tuple(r.name for r in RECIPES)


def recipe_by_name(name: str) -> Recipe:
    for recipe in RECIPES:
        if recipe.name == name:
            return recipe
    raise ValueError(f"recipe: expected one of {', '.join(RECIPE_NAMES)}, got {name!r}")


# ---- the worker side: one recipe's process -------------------------------------------------


@dataclass(frozen=True)
class Data:
    """Training and test rows in [0, 1] (float32) and their int64 labels."""

    x: np.ndarray
    y: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    @classmethod
    def load(cls, name: str) -> Data:
        """Dataset ``name`` as :func:`fastmlp.datasets.load` finds it on disk."""
        found = datasets.load(name, download=False)
        return cls(
            datasets.prepare(found.x_train, dtype=DTYPE),
            found.y_train.astype(np.int64),
            datasets.prepare(found.x_test, dtype=DTYPE),
            found.y_test.astype(np.int64),
        )

    def first(self, rows: int) -> Data:
        """The same data with only the first ``rows`` training rows."""
        return replace(self, x=self.x[:rows], y=self.y[:rows])


Initial = tuple[list[np.ndarray], list[np.ndarray]] | None  # (weights, biases), or own init


class FastmlpTrainer:
    """``fastmlp.MLP.fit(..., epochs=1)`` per epoch: the model keeps its optimizer's state
    and its generator's shuffling from one call to the next."""

    def __init__(self, recipe: Recipe, data: Data, initial: Initial, seed: int) -> None:
        self.recipe, self.data = recipe, data
        self.model = fastmlp.MLP(list(SIZES), activation="relu", dtype=DTYPE, seed=seed)
        if initial is not None:
            parameters = self.model.weights + self.model.biases
            for mine, given in zip(parameters, initial[0] + initial[1], strict=True):
                mine[...] = given
        self.keywords = recipe.fit_keywords()

    def epoch(self) -> None:
        d = self.data
        self.model.fit(
            d.x, d.y, epochs=1, batch_size=BATCH_SIZE, lr=self.recipe.lr, **self.keywords
        )

    def accuracy(self) -> float:
        return self.model.score(self.data.x_test, self.data.y_test)


class SklearnTrainer:
    """``MLPClassifier.partial_fit`` per epoch (one pass, scikit-learn's own shuffling from
    a ``RandomState``, so that each epoch's order differs), with ``alpha=0`` as the others."""

    def __init__(self, recipe: Recipe, data: Data, initial: Initial, seed: int) -> None:
        from sklearn.neural_network import MLPClassifier

        class GivenInit(MLPClassifier):
            """scikit-learn draws each layer's initial weights in ``_init_coef``, layer by
            layer: this one hands it the benchmark's."""

            def _init_coef(self, fan_in: int, fan_out: int, dtype: Any) -> Any:
                weights, biases = next(self.given)
                return weights.astype(dtype), biases.astype(dtype)

        kind = MLPClassifier if initial is None else GivenInit
        self.classifier = kind(
            hidden_layer_sizes=SIZES[1:-1],
            activation="relu",
            solver=recipe.optimizer,
            alpha=0.0,
            batch_size=BATCH_SIZE,
            learning_rate="constant",
            learning_rate_init=recipe.lr,
            momentum=recipe.momentum,
            nesterovs_momentum=recipe.nesterov,
            shuffle=True,
            random_state=np.random.RandomState(seed),
        )
        if initial is not None:
            self.classifier.given = zip(*initial, strict=True)
        self.data = data
        self.classes = np.arange(SIZES[-1])

    def epoch(self) -> None:
        self.classifier.partial_fit(self.data.x, self.data.y, classes=self.classes)

    def accuracy(self) -> float:
        return float(self.classifier.score(self.data.x_test, self.data.y_test))


class TorchTrainer:
    """A ``torch.nn.Sequential`` of ``Linear`` and ``ReLU`` layers with ``torch.optim``'s
    SGD or Adam: per epoch a ``randperm`` order, batches gathered by ``index_select``."""

    def __init__(self, recipe: Recipe, data: Data, initial: Initial, seed: int) -> None:
        import torch

        self.torch = torch
        torch.manual_seed(seed)
        layers: list[Any] = []
        for fan_in, fan_out in itertools.pairwise(SIZES):
            layers += [torch.nn.Linear(fan_in, fan_out), torch.nn.ReLU()]
        self.model = torch.nn.Sequential(*layers[:-1])
        linears = [layer for layer in self.model if isinstance(layer, torch.nn.Linear)]
        if initial is not None:
            with torch.no_grad():
                for linear, weights, biases in zip(linears, *initial, strict=True):
                    linear.weight.copy_(torch.from_numpy(weights.T))  # Linear keeps (out, in)
                    linear.bias.copy_(torch.from_numpy(biases))
        parameters = self.model.parameters()
        if recipe.optimizer == "adam":
            self.optimizer = torch.optim.Adam(parameters, lr=recipe.lr)
        else:
            self.optimizer = torch.optim.SGD(
                parameters, lr=recipe.lr, momentum=recipe.momentum, nesterov=recipe.nesterov
            )
        self.x, self.y = torch.from_numpy(data.x), torch.from_numpy(data.y)
        self.x_test, self.y_test = torch.from_numpy(data.x_test), torch.from_numpy(data.y_test)

    def epoch(self) -> None:
        torch = self.torch
        order = torch.randperm(len(self.x))
        for start in range(0, len(order), BATCH_SIZE):
            rows = order[start : start + BATCH_SIZE]
            loss = torch.nn.functional.cross_entropy(
                self.model(self.x.index_select(0, rows)), self.y.index_select(0, rows)
            )
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()

    def accuracy(self) -> float:
        with self.torch.inference_mode():
            predicted = self.model(self.x_test).argmax(dim=1)
        return float((predicted == self.y_test).double().mean())


TRAINERS = {"fastmlp": FastmlpTrainer, "sklearn": SklearnTrainer, "torch": TorchTrainer}


def library_account(recipe: Recipe) -> dict[str, Any]:
    """Whether this process can run ``recipe`` (``available``, ``why``), with what."""
    try:
        if recipe.library == "fastmlp":
            accepted = inspect.signature(fastmlp.MLP.fit).parameters
            missing = [k for k in recipe.fit_keywords() if k not in accepted]
            if missing:
                raise RuntimeError(
                    f"the installed fastmlp's MLP.fit has no {', '.join(missing)} keyword "
                    "(the optimizer issue)"
                )
            return {
                "versions": {"fastmlp": fastmlp.__version__},
                "kernels": "fastmlp's Rust engine",
            }
        if recipe.library == "sklearn":
            import sklearn

            return {"versions": {"scikit-learn": sklearn.__version__}, "kernels": "NumPy's BLAS"}
        import torch

        return {"versions": {"torch": str(torch.__version__)}, "kernels": "PyTorch's"}
    except Exception as error:  # ImportError, or an old fastmlp: the recipe is skipped
        return {"available": False, "why": f"{recipe.name} skipped: {error}"}


def serve_recipe(name: str) -> int:
    """The process of recipe ``name``: answers ``describe`` and ``run``."""
    recipe = recipe_by_name(name)
    account = {"available": True, "why": None, **library_account(recipe)}
    loaded: dict[str, Data] = {}

    def run(request: dict[str, Any]) -> dict[str, Any]:
        """Train from scratch until the test accuracy reaches ``target`` or ``max_epochs``
        pass; ``rows`` trains on the first rows only (the warm-up). Returns each epoch's
        training seconds and the test accuracy after it."""
        set_threads(request["threads"])
        kind = request["data"]
        if kind not in loaded:
            loaded[kind] = Data.load(kind)
        data = loaded[kind]
        if request.get("rows"):
            data = data.first(request["rows"])
        seed = request["seed"]
        initial = init_params(SIZES, DTYPE, seed) if request["init"] == "same" else None
        trainer = TRAINERS[recipe.library](recipe, data, initial, seed)
        epochs: list[tuple[float, float]] = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # scikit-learn's about its own settings
            while len(epochs) < request["max_epochs"]:
                gc.collect()
                start = time.perf_counter()
                trainer.epoch()
                seconds = time.perf_counter() - start
                epochs.append((seconds, trainer.accuracy()))
                if epochs[-1][1] >= request["target"]:
                    break
        return {"epochs": epochs}

    return serve(lambda: account, {"run": run})


# ---- the parent: rounds and the table -------------------------------------------------------


@dataclass
class RecipeResult:
    """One recipe's runs: per round, each epoch's (training seconds, test accuracy)."""

    recipe: Recipe
    runs: list[list[tuple[float, float]]]
    target: float

    def reached(self, run: list[tuple[float, float]]) -> int | None:
        """The first epoch (from 1) whose accuracy reached the target, or None."""
        return next((i + 1 for i, (_, a) in enumerate(run) if a >= self.target), None)

    @property
    def epochs_to_target(self) -> list[int]:
        return [e for e in map(self.reached, self.runs) if e is not None]

    @property
    def to_target(self) -> EngineTiming | None:
        """Training seconds until the target, over the rounds that reached it."""
        seconds = [sum(s for s, _ in run[:e]) for run in self.runs if (e := self.reached(run))]
        return EngineTiming(seconds) if seconds else None

    @property
    def seconds_per_epoch(self) -> float:
        return statistics.median(s for run in self.runs for s, _ in run)

    @property
    def best_accuracy(self) -> float:
        return max(a for run in self.runs for _, a in run)


def measure(
    recipes: Sequence[Recipe],
    settings: dict[str, Any],
    repeats: int,
    pause: float,
    log: Any = lambda line: None,
) -> tuple[list[RecipeResult], ScriptRun]:
    """Run every recipe ``repeats`` times, interleaved; the results, and the run (its
    machine, processes and notes)."""
    units = {r.name: r.library != "fastmlp" for r in recipes}
    log(f"starting {', '.join(units)}, each in its own process")
    with ScriptRun(__file__, units) as run:
        warmup = settings | {"rows": WARMUP_ROWS, "max_epochs": 1}

        def send(name: str, k: int) -> dict[str, Any]:
            reply = run.workers[name].request({"op": "run"} | (settings if k else warmup))
            if k:
                epochs = reply["epochs"]
                log(f"{name}, round {k}: {len(epochs)} epochs, {sum(s for s, _ in epochs):.2f} s")
            return reply

        replies, _ = run.rounds(list(run.workers), send, repeats, pause)
    results = [
        RecipeResult(
            r,
            [[tuple(e) for e in reply["epochs"]] for reply in replies[r.name]],
            settings["target"],
        )
        for r in recipes
        if r.name in replies
    ]
    return results, run


def markdown(results: list[RecipeResult], target: float, max_epochs: int) -> str:
    """The results as a Markdown table, with each recipe's time over PyTorch's best."""
    torch_times = [
        r.to_target.median for r in results if r.recipe.library == "torch" and r.to_target
    ]
    best_torch = min(torch_times) if torch_times else None
    header = [
        "recipe",
        "optimizer",
        f"epochs to {target:.0%}",
        f"s to {target:.0%} (median)",
        "spread",
        "s/epoch",
        "best test accuracy",
        "/ best torch",
    ]
    rows = []
    for r in results:
        timing = r.to_target
        epochs = sorted(set(r.epochs_to_target))
        if timing is None:
            reached = f"not within {max_epochs}"
        else:
            reached = "-".join(map(str, sorted({epochs[0], epochs[-1]})))
            if len(r.epochs_to_target) < len(r.runs):
                reached += f" ({len(r.epochs_to_target)} of {len(r.runs)} rounds)"
        rows.append(
            [
                r.recipe.name,
                r.recipe.describe(),
                reached,
                "—" if timing is None else f"{timing.median:.2f}",
                "—" if timing is None else f"{100 * timing.spread:.0f}%",
                f"{r.seconds_per_epoch:.3f}",
                f"{r.best_accuracy:.4f}",
                "—"
                if timing is None or best_torch is None
                else f"{timing.median / best_torch:.2f}",
            ]
        )
    return markdown_table(header, rows, names=("optimizer", f"epochs to {target:.0%}"))


DEFAULTS = {"data": "fashion-mnist", "target": 0.88, "max_epochs": 15, "repeats": 3, "pause": 1.0}
QUICK = {"data": "mnist-sample", "target": 0.5, "max_epochs": 2, "repeats": 1, "pause": 0.0}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="benchmarks/time_to_accuracy.py",
        description=__doc__.split("\n\n")[1],
        epilog="recipes: " + "; ".join(f"{r.name} ({r.describe()})" for r in RECIPES),
    )
    parser.add_argument(
        "--recipes",
        default=",".join(RECIPE_NAMES),
        help="comma-separated recipes (default: all; those of a library that cannot be "
        "imported are skipped with a note)",
    )
    parser.add_argument("--target", type=float, help="test accuracy (default 0.88)")
    parser.add_argument("--max-epochs", type=int, help="give up after this many (default 15)")
    parser.add_argument(
        "--threads", type=int, default=2, help="threads of every library (default 2)"
    )
    parser.add_argument("--repeats", type=int, help="rounds (default 3)")
    parser.add_argument("--pause", type=float, help="seconds after every run (default 1)")
    parser.add_argument(
        "--data", help="a dataset fastmlp.datasets.load finds on disk (default fashion-mnist)"
    )
    parser.add_argument(
        "--init",
        choices=("same", "own"),
        default="same",
        help="same: every library starts from the same He-normal weights (default); own: "
        "each library's own initialisation",
    )
    parser.add_argument("--seed", type=int, default=0, help="weights and shuffling")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write every number here")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke run for the tests: the bundled mnist-sample, target 0.5, at most 2 "
        "epochs, 1 round, no pause (options given explicitly win)",
    )
    parser.add_argument(SERVE_FLAG, metavar="RECIPE", help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Print the Markdown report (``--help`` lists the options)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.serve:
        return serve_recipe(args.serve)
    fill_unset_options(args, DEFAULTS, QUICK)
    try:
        recipes = [recipe_by_name(n.strip()) for n in args.recipes.split(",") if n.strip()]
        datasets.load(args.data, download=False)  # here first: each process would fail on it
    except (ValueError, OSError) as error:
        parser.error(str(error))

    def log(line: str) -> None:
        print(f"[time to accuracy] {line}", file=sys.stderr, flush=True)

    settings = {
        "data": args.data,
        "target": args.target,
        "max_epochs": args.max_epochs,
        "threads": args.threads,
        "seed": args.seed,
        "init": args.init,
    }
    results, run = measure(recipes, settings, args.repeats, args.pause, log)
    initial = (
        "the same He-normal ones for every library" if args.init == "same" else "each library's own"
    )
    what = [
        f"data: {args.data}; network {'-'.join(map(str, SIZES))} ReLU, batch {BATCH_SIZE}, "
        f"{DTYPE}; target test accuracy {args.target:g}, at most {args.max_epochs} epochs; "
        f"initial weights: {initial} (seed {args.seed})",
        f"{args.threads} thread(s) for every library; each recipe in its own process; median "
        f"of {args.repeats} rounds (every recipe once per round, in a rotating order, "
        f"{args.pause:g} s pause after every run, one untimed warm-up epoch on {WARMUP_ROWS} "
        "rows first); seconds: training only (the test accuracy after each epoch is "
        "measured outside the clock)",
    ]
    print("\n".join([*run.header(what), "", markdown(results, args.target, args.max_epochs)]))
    if run.notes:
        print("\n" + "\n".join(run.footer()))
    if args.json is not None:
        payload = {
            "settings": settings | {"repeats": args.repeats, "pause": args.pause},
            "machine": run.machine,
            "sides": run.sides,
            "recipes": [
                {"recipe": asdict(r.recipe), "runs": r.runs, "epochs_to_target": r.epochs_to_target}
                for r in results
            ],
            "notes": run.notes,
        }
        args.json.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
