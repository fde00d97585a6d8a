"""``fastmlp evaluate``: a saved model's loss and accuracy on a dataset's test split."""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from .common import (
    CliError,
    add_data_arguments,
    add_engine_arguments,
    apply_threads,
    check_images_fit,
    check_plot_path,
    dataset_reference,
    describe_dataset,
    load_dataset,
    load_model,
    load_models_dataset,
    notice,
    positive_int,
    prepared,
    thousands,
)


def add_parser(subparsers: Any) -> None:
    """Register ``evaluate`` and its options."""
    parser = subparsers.add_parser(
        "evaluate",
        help="a saved model's test loss and accuracy",
        description=(
            "Print a saved model's mean cross-entropy loss and accuracy on the test split\n"
            "of a dataset (or on the training split with --split train)."
        ),
        epilog="example:\n  fastmlp evaluate fastmlp-model.npz --dataset fashion-mnist",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("model", metavar="MODEL", help="a model file from `fastmlp train`")
    add_data_arguments(
        parser,
        "Default: the dataset the model was trained on (from disk); for models that do not "
        "record it, as `fastmlp train` chooses: mnist if found on disk, else mnist-sample.",
    )
    parser.add_argument(
        "--split",
        choices=("test", "train"),
        default="test",
        help="which split to score (default: %(default)s)",
    )
    parser.add_argument(
        "--per-class", action="store_true", help="also print the accuracy of each class"
    )
    parser.add_argument(
        "--predictions-plot",
        metavar="FILE.png",
        help="save a grid of the first images with predicted and true classes",
    )
    parser.add_argument(
        "--plot-images",
        type=positive_int,
        default=16,
        metavar="N",
        help="images in --predictions-plot (default: %(default)s)",
    )
    add_engine_arguments(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Evaluate as ``args`` say; return the exit code."""
    grid = (
        check_plot_path("--predictions-plot", args.predictions_plot)
        if args.predictions_plot
        else None
    )
    apply_threads(args.threads, args.engine)
    model = load_model(args.model, args.engine)
    if args.dataset is None and model.dataset is not None:
        data = load_models_dataset(model, args.data_dir, doing="evaluating")
    else:
        data = load_dataset(
            args.dataset, args.data_dir, download=not args.no_download, doing="evaluating"
        )
        used = dataset_reference(args.dataset, data)
        if model.dataset is not None and used != model.dataset:
            notice(f"note: the model was trained on {model.dataset}; evaluating on {used}")
    print(describe_dataset(data))
    images = data.x_test if args.split == "test" else data.x_train
    labels = data.y_test if args.split == "test" else data.y_train
    if len(images) == 0:
        raise CliError(f"{data.name}: the {args.split} split is empty; try --split train")
    check_images_fit(model, data.num_classes, data.name)
    x = prepared(images, model)
    probabilities = model.predict_proba(x)
    scores = model.evaluate(x, labels)
    predicted = probabilities.argmax(axis=1)
    right = int(np.sum(predicted == labels))
    print(
        f"{args.split} loss {scores['loss']:.4f}, accuracy {scores['accuracy']:.4f} "
        f"({thousands(right)} of {thousands(len(labels))})"
    )
    if args.per_class:
        width = max(len(name) for name in data.classes)
        for label, name in enumerate(data.classes):
            mask = labels == label
            if mask.any():
                accuracy = float(np.mean(predicted[mask] == label))
                print(f"  {name:>{width}}  {accuracy:.4f}  ({thousands(int(mask.sum()))} images)")
    if grid is not None:
        from fastmlp import plots

        shown = min(args.plot_images, len(images))
        plots.plot_predictions(
            images[:shown],
            predicted[:shown],
            labels[:shown],
            grid,
            n=shown,
            class_names=data.classes,
        )
        print(f"predictions saved to {grid}")
    return 0
