"""``fastmlp train``: train an MLP on an MNIST-style dataset, report, save, plot."""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np

import fastmlp
from fastmlp.history import History
from fastmlp.initializers import check_init
from fastmlp.names import ACTIVATIONS, DTYPES

from .common import (
    CliError,
    add_data_arguments,
    add_engine_arguments,
    apply_threads,
    check_output_path,
    check_plot_path,
    describe_dataset,
    load_dataset,
    positive_float,
    positive_int,
    prepared,
    thousands,
)

DEFAULT_OUTPUT = "fastmlp-model.npz"
PREDICTION_IMAGES = 16

EXAMPLES = """\
examples:
  fastmlp train                               # MNIST if on disk, else the bundled sample
  fastmlp train --dataset mnist --epochs 10   # downloads MNIST once, into the cache
  fastmlp train --hidden none --init normal:0.02         # softmax regression
  fastmlp train --dataset fashion-mnist --hidden 256,128 --plot history.png
  fastmlp train --dataset my-data.npz --batch-size full --lr 0.5 -o my-model.npz
"""


# ---- argument types -------------------------------------------------------------------------


def hidden_sizes(text: str) -> list[int]:
    """``"128,64"`` -> ``[128, 64]``; ``""``, ``"none"`` or ``"0"`` -> ``[]`` (no hidden layer)."""
    cleaned = text.strip().lower()
    if cleaned in ("", "none", "0"):
        return []
    sizes = []
    for part in cleaned.split(","):
        try:
            size = int(part)
        except ValueError:
            size = 0
        if size < 1:
            raise argparse.ArgumentTypeError(
                f"expected comma-separated positive layer widths like 128 or 256,128 "
                f"(or 'none' for no hidden layer), got {text!r}"
            )
        sizes.append(size)
    return sizes


def init_spec(text: str) -> tuple:
    """``he``, ``xavier``, ``normal:STD`` or ``uniform:LOW,HIGH`` -> the ``MLP`` init tuple."""
    name, _, params = text.strip().lower().partition(":")
    try:
        numbers = [float(p) for p in params.split(",")] if params else []
        return check_init((name, *numbers))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected he, xavier, normal:STD (e.g. normal:0.02) or uniform:LOW,HIGH "
            f"(e.g. uniform:-0.5,0.5), got {text!r}"
        ) from None


def batch_size(text: str) -> int | None:
    """A positive integer, or ``full`` (``None``: one batch of all rows)."""
    if text.strip().lower() == "full":
        return None
    return positive_int(text)


def add_parser(subparsers: Any) -> None:
    """Register ``train`` and its options."""
    parser = subparsers.add_parser(
        "train",
        help="train an MLP and save it",
        description=(
            "Train a multilayer perceptron (dense layers, softmax output) with mini-batch\n"
            "SGD on an MNIST-style dataset; show a progress bar per epoch, then the final\n"
            "test accuracy and loss, and save the model."
        ),
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_data_arguments(
        parser,
        "Default: mnist if found on disk (never downloaded by default), else mnist-sample "
        "with a one-line notice.",
    )
    model = parser.add_argument_group("model (inputs and classes come from the data)")
    model.add_argument(
        "--hidden",
        type=hidden_sizes,
        default=[128],
        metavar="SIZES",
        help="hidden layer widths, comma-separated: 128 gives 784-128-10, 256,128 gives "
        "784-256-128-10; none for softmax regression (default: 128)",
    )
    model.add_argument(
        "--activation",
        choices=ACTIVATIONS,
        default="relu",
        help="hidden-layer activation (default: %(default)s)",
    )
    model.add_argument(
        "--init",
        type=init_spec,
        default=("he",),
        metavar="SCHEME",
        help="initial weights: he, xavier, normal:STD or uniform:LOW,HIGH (default: he)",
    )
    model.add_argument(
        "--dtype",
        choices=DTYPES,
        default="float32",
        help="parameters and data (default: %(default)s)",
    )
    model.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seeds the initial weights and the shuffling (default: %(default)s)",
    )
    training = parser.add_argument_group("training")
    training.add_argument(
        "--epochs", type=positive_int, default=8, help="passes over the data (default: 8)"
    )
    training.add_argument(
        "--batch-size",
        type=batch_size,
        default=128,
        metavar="N",
        help="rows per SGD step, or full for full-batch gradient descent (default: 128)",
    )
    training.add_argument(
        "--lr", type=positive_float, default=0.1, help="learning rate (default: 0.1)"
    )
    training.add_argument(
        "--no-shuffle",
        dest="shuffle",
        action="store_false",
        help="visit the rows in their stored order every epoch",
    )
    add_engine_arguments(parser, training=True)
    output = parser.add_argument_group("output")
    output.add_argument(
        "-o",
        "--output",
        default=DEFAULT_OUTPUT,
        metavar="FILE",
        help="where to save the model (default: %(default)s)",
    )
    output.add_argument(
        "--plot", metavar="FILE.png", help="save the loss and accuracy curves (needs matplotlib)"
    )
    output.add_argument(
        "--predictions-plot",
        metavar="FILE.png",
        help=f"save a grid of the first {PREDICTION_IMAGES} test images with their predicted "
        "and true classes (needs matplotlib)",
    )
    output.add_argument(
        "--no-progress", action="store_true", help="no progress bars; a line per epoch instead"
    )
    output.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="print only the test accuracy and where the model went",
    )
    parser.set_defaults(run=run)


# ---- the run --------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    """Train as ``args`` say; return the exit code."""
    started = time.perf_counter()
    output = check_output_path("--output", args.output)
    plot = check_plot_path("--plot", args.plot) if args.plot else None
    grid = (
        check_plot_path("--predictions-plot", args.predictions_plot)
        if args.predictions_plot
        else None
    )
    apply_threads(args.threads, args.engine)
    data = load_dataset(args.dataset, args.data_dir, download=not args.no_download)
    say = (lambda line: None) if args.quiet else print
    say(describe_dataset(data))
    n_train, n_test = len(data.x_train), len(data.x_test)
    if n_train == 0:
        raise CliError(f"{data.name}: the training split is empty")
    if args.batch_size is not None and args.batch_size > n_train:
        raise CliError(
            f"--batch-size {args.batch_size}: more than the {thousands(n_train)} training rows "
            "(--batch-size full trains on all of them at once)"
        )
    layers = [784, *args.hidden, data.num_classes]
    try:
        model = fastmlp.MLP(
            layers,
            activation=args.activation,
            init=args.init,
            dtype=args.dtype,
            seed=args.seed,
            engine=args.engine,
            input_path=args.input_path,
        )
    except (TypeError, ValueError) as error:
        raise CliError(str(error)) from None
    say(describe_model(model, args))

    x = prepared(data.x_train, model)
    x_test = prepared(data.x_test, model) if n_test else None
    validation = (x_test, data.y_test) if x_test is not None else None
    fit_args = {
        "batch_size": args.batch_size,
        "lr": args.lr,
        "shuffle": args.shuffle,
        "validation_data": validation,
    }
    try:
        history = fit(model, x, data.y_train, args, fit_args)
    except fastmlp.TrainingDivergedError as error:
        raise CliError(f"{error} No model saved.", code=1) from None
    except (TypeError, ValueError) as error:  # a setting the model refuses, e.g. --lr
        raise CliError(str(error)) from None
    train_seconds = sum(history.seconds)

    if x_test is not None:
        scores = model.evaluate(x_test, data.y_test)
        right = round(scores["accuracy"] * n_test)
        print(
            f"test accuracy {scores['accuracy']:.4f} ({thousands(right)} of "
            f"{thousands(n_test)}), loss {scores['loss']:.4f}"
        )
    else:
        print(f"{data.name} has no test split: test accuracy not measured")
    say(
        f"time: {train_seconds:.2f} s training ({train_seconds / len(history):.2f} s/epoch), "
        f"{time.perf_counter() - started:.2f} s in all"
    )
    try:
        model.save(output)
    except OSError as error:
        raise CliError(f"--output {args.output}: cannot save the model: {error}", code=1) from None
    print(f"model saved to {output}")
    save_plots(model, history, data, x_test, plot, grid, say)
    return 0


def architecture(model: fastmlp.MLP) -> str:
    """``"784-128-10 relu"``, or ``"784-10 softmax regression"`` without hidden layers."""
    sizes = "-".join(map(str, model.layer_sizes))
    hidden = len(model.layer_sizes) > 2
    return f"{sizes} {model.activation if hidden else 'softmax regression'}"


def describe_model(model: fastmlp.MLP, args: argparse.Namespace) -> str:
    """One line: architecture, init, dtype, size, engine, and the training settings."""
    init = model.init[0] + (
        ":" + ",".join(f"{p:g}" for p in model.init[1:]) if model.init[1:] else ""
    )
    threads = (
        f", {fastmlp.get_num_threads()} threads, input path {model.input_path}"
        if model.engine == "rust"
        else ""
    )
    batch = "full batch" if args.batch_size is None else f"batch {args.batch_size}"
    return (
        f"model: {architecture(model)}, {init} init, "
        f"{model.dtype.name}, {thousands(model.n_parameters)} parameters; engine "
        f"{model.engine}{threads}; {args.epochs} epochs, {batch}, lr {args.lr:g}, "
        f"{'shuffled' if args.shuffle else 'not shuffled'}, seed {args.seed}"
    )


def fit(
    model: fastmlp.MLP,
    x: np.ndarray,
    labels: np.ndarray,
    args: argparse.Namespace,
    fit_args: dict[str, Any],
) -> History:
    """Train, showing bars (then the epoch table), live epoch lines, or nothing (--quiet).

    Epoch by epoch or in one call, the model draws the same orders from its generator, so
    the result does not depend on how the run is shown.
    """
    validated = fit_args["validation_data"] is not None
    if args.quiet:
        return model.fit(x, labels, epochs=args.epochs, **fit_args)
    if not args.no_progress:
        history = model.fit(x, labels, epochs=args.epochs, progress=True, **fit_args)
        print(table_header(validated))
        for epoch in range(len(history)):
            print(table_row(history, epoch, args.epochs))
        return history
    history = History()
    print(table_header(validated), flush=True)
    for epoch in range(args.epochs):
        history.extend(model.fit(x, labels, epochs=1, **fit_args))
        print(table_row(history, epoch, args.epochs), flush=True)
    return history


def table_header(validated: bool) -> str:
    """The per-epoch table's header; the validation columns are the test split."""
    header = f"{'epoch':>9}  {'loss':>7}  {'accuracy':>8}"
    if validated:
        header += f"  {'test loss':>9}  {'test acc':>8}"
    return header + f"  {'seconds':>7}"


def table_row(history: History, epoch: int, epochs: int) -> str:
    """Epoch ``epoch`` (0-based) of ``history`` as a row of the table."""
    row = (
        f"{f'{epoch + 1}/{epochs}':>9}  {history.loss[epoch]:7.4f}  {history.accuracy[epoch]:8.4f}"
    )
    if history.val_loss:
        row += f"  {history.val_loss[epoch]:9.4f}  {history.val_accuracy[epoch]:8.4f}"
    return row + f"  {history.seconds[epoch]:7.2f}"


def save_plots(
    model: fastmlp.MLP,
    history: History,
    data: fastmlp.datasets.Dataset,
    x_test: np.ndarray | None,
    plot: Any,
    grid: Any,
    say: Any,
) -> None:
    """Write ``--plot`` (curves) and ``--predictions-plot`` (a grid of test images)."""
    from fastmlp import plots

    name = f"{architecture(model)} on {data.name}"
    if plot is not None:
        plots.plot_history(history, plot, title=name, val_label="test")
        print(f"curves saved to {plot}")
    if grid is not None:
        if x_test is None:
            say(f"--predictions-plot: {data.name} has no test split; not drawn")
            return
        shown = min(PREDICTION_IMAGES, len(x_test))
        predicted = model.predict(x_test[:shown])
        plots.plot_predictions(
            data.x_test[:shown],
            predicted,
            data.y_test[:shown],
            grid,
            n=shown,
            class_names=data.classes,
            title=f"{name}: {int(np.sum(predicted == data.y_test[:shown]))} of {shown} right",
        )
        print(f"predictions saved to {grid}")
