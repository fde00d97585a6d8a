"""What the subcommands share: errors, argument types, data and model loading, output."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import NoReturn

import numpy as np

import fastmlp
from fastmlp import datasets
from fastmlp.datasets import Dataset, DatasetNotFoundError
from fastmlp.names import ENGINES, INPUT_PATHS, EngineName
from fastmlp.safe_write import check_writable

DEFAULT_DATASET = "mnist"
FALLBACK_DATASET = "mnist-sample"


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose usage errors are one line: the error and where help is."""

    def error(self, message: str) -> NoReturn:
        """Print ``PROG: error: MESSAGE (see `PROG --help`)`` and exit with code 2."""
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


class CliError(Exception):
    """A failure reported as ``fastmlp <command>: error: <message>`` and an exit code.

    Code 2 (the default, as argparse uses) for bad arguments and missing or unreadable
    input; 1 for a run that failed on valid input (a diverged training, an unwritable file).
    """

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def notice(message: str) -> None:
    """A one-line remark on stderr (kept apart from the results on stdout)."""
    print(message, file=sys.stderr, flush=True)


def thousands(n: int) -> str:
    """``4000`` -> ``"4,000"``."""
    return f"{n:,}"


# ---- argument types: each raises ArgumentTypeError, which argparse turns into exit 2 --------


def positive_int(text: str) -> int:
    """An argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def non_negative_int(text: str) -> int:
    """An argparse type: an integer >= 0 (a seed)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {value}")
    return value


def positive_float(text: str) -> float:
    """An argparse type: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not (np.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text}")
    return value


# ---- shared arguments -----------------------------------------------------------------------


def add_data_arguments(parser: argparse.ArgumentParser, default_help: str) -> None:
    """``--dataset``, ``--data-dir``, ``--no-download``."""
    group = parser.add_argument_group("data")
    group.add_argument(
        "--dataset",
        metavar="NAME_OR_PATH",
        help="mnist, fashion-mnist, mnist-sample (bundled, 4,000 train / 1,000 test digits), "
        "or a path: a directory of the four IDX files, a keras-style .npz, a .csv. " + default_help,
    )
    group.add_argument(
        "--data-dir",
        metavar="DIR",
        help="look here first for mnist/fashion-mnist (DIR/mnist/, then DIR itself); "
        f"also searched: ${datasets.ENV_VAR}/<name>/, {datasets.cache_dir()}/<name>/, "
        "/usr/share/datasets/<name>",
    )
    group.add_argument(
        "--no-download",
        action="store_true",
        help="never download: fail if --dataset mnist/fashion-mnist is not on disk",
    )


def add_engine_arguments(parser: argparse.ArgumentParser, training: bool = False) -> None:
    """``--engine`` and ``--threads`` (and, for training, ``--input-path``)."""
    group = parser.add_argument_group("engine")
    group.add_argument(
        "--engine",
        choices=ENGINES,
        default="rust",
        help="rust (fast) or numpy (the readable reference; same results within float "
        "tolerance) (default: %(default)s)",
    )
    group.add_argument(
        "--threads",
        type=positive_int,
        metavar="N",
        help="threads of the Rust engine, at most 4 per core (default: $FASTMLP_NUM_THREADS, "
        "else all cores; `fastmlp info` shows the count)",
    )
    if training:
        group.add_argument(
            "--input-path",
            choices=INPUT_PATHS,
            default="auto",
            help="how the Rust engine's first layer reads the pixels: a dense matrix product, "
            "only the nonzero pixels, or auto (the faster one for the data's sparsity) "
            "(default: %(default)s)",
        )


def apply_threads(threads: int | None, engine: str = "rust") -> None:
    """Set the Rust engine's thread count (``--threads``), or check the default one.

    An invalid ``FASTMLP_NUM_THREADS`` is reported here, before any work, not as a traceback
    from the first engine call.
    """
    try:
        if threads is not None:
            fastmlp.set_num_threads(threads)
        elif engine == "rust":
            fastmlp.get_num_threads()
    except (ValueError, RuntimeError) as error:
        if threads is None:
            raise CliError(f"{error} (fix the variable, or pass --threads N)") from None
        # the library names its argument (num_threads): name the option instead
        reason = str(error).removeprefix("num_threads: ")
        raise CliError(f"--threads {threads}: {reason}") from None


# ---- data -----------------------------------------------------------------------------------


def load_dataset(
    name: str | None, data_dir: str | None, download: bool, doing: str = "training"
) -> Dataset:
    """The dataset the user asked for; with no name, MNIST if on disk, else the bundled sample.

    Without ``--dataset`` nothing is downloaded: MNIST is looked up on disk only, and when
    it is not there a one-line notice on stderr says so and the bundled ``mnist-sample`` is
    used (``doing`` says what for, in that notice). An explicit ``--dataset`` never falls
    back: not found is an error (exit 2).
    """
    if name is None:
        try:
            return datasets.load(DEFAULT_DATASET, data_dir=data_dir, download=False)
        except DatasetNotFoundError as error:
            sample = datasets.load(FALLBACK_DATASET)
            looked = ", ".join(error.paths_tried) or "nowhere"
            notice(
                f"MNIST not found locally (looked in {looked}); {doing} on the bundled "
                f"{FALLBACK_DATASET} ({thousands(len(sample.x_train))} train / "
                f"{thousands(len(sample.x_test))} test digits) instead "
                "(--dataset mnist downloads it)"
            )
            return sample
        except (OSError, ValueError, MemoryError) as error:
            raise CliError(f"MNIST found but unreadable: {error}") from None
    if data_dir is not None and name.strip().lower().replace("_", "-") not in datasets.NAMES:
        raise CliError(
            f"--data-dir is where the named datasets ({', '.join(datasets.DATASETS)}) are "
            f"looked for; --dataset {name} is a path, so leave --data-dir out"
        )
    try:
        return datasets.load(name, data_dir=data_dir, download=download)
    except DatasetNotFoundError as error:
        # The library's advice is for the Python API (data_dir=..., download=True): give the
        # command line's instead, after its list of the places looked in.
        lines = [
            _cli_words(line) for line in str(error).splitlines() if not line.startswith("To fix:")
        ]
        lines.append(
            "To fix: put the four IDX files (train-images-idx3-ubyte.gz, ...) in a directory "
            f"and pass --data-dir DIR, or set {datasets.ENV_VAR}=DIR with a {name}/ subfolder"
            + ("" if download else ", or leave out --no-download to download it")
            + f"; --dataset {FALLBACK_DATASET} needs no files."
        )
        raise CliError("\n".join(lines)) from None
    except (OSError, ValueError, MemoryError) as error:
        raise CliError(str(error)) from None


#: The library's words for its keyword arguments, and the command line's for the same.
_OPTION_WORDS = (
    ("(data_dir argument)", "(--data-dir)"),
    ("data_dir argument: not given", "--data-dir: not given"),
    ("Then: download=False, so", "Then: --no-download, so"),
)


def _cli_words(line: str) -> str:
    """A line of a dataset-not-found message with the options named as on the command line."""
    for library, option in _OPTION_WORDS:
        line = line.replace(library, option)
    return line


def describe_dataset(data: Dataset) -> str:
    """``"data: mnist-sample (source): 4,000 train / 1,000 test images, 10 classes"``."""
    return (
        f"data: {data.name} ({data.source}): {thousands(len(data.x_train))} train / "
        f"{thousands(len(data.x_test))} test images, {data.num_classes} classes"
    )


# ---- models ---------------------------------------------------------------------------------


def load_model(path: str, engine: EngineName) -> fastmlp.MLP:
    """A model file written by ``fastmlp train`` / ``MLP.save``; errors become exit 2."""
    try:
        return fastmlp.MLP.load(path, engine=engine)
    except FileNotFoundError:
        raise CliError(
            f"no model file {path!r}; `fastmlp train --output {path}` writes one"
        ) from None
    except (OSError, ValueError, MemoryError) as error:
        raise CliError(str(error)) from None


def check_images_fit(model: fastmlp.MLP, classes: int | None, where: str) -> None:
    """The model takes 28x28 images (784 inputs) and, if given, has at least ``classes``
    outputs (data of fewer classes, say a CSV of digits 0..2, fits a digit model)."""
    if model.layer_sizes[0] != 784:
        raise CliError(
            f"the model takes {model.layer_sizes[0]} inputs, not the 784 pixels of a 28x28 image"
        )
    if classes is not None and model.classes < classes:
        raise CliError(f"the model has {model.classes} outputs but {where} has {classes} classes")


def dataset_reference(given: str | None, data: Dataset) -> str:
    """What a model records as its dataset: the name of a named dataset (also when chosen by
    default), else the absolute path it was read from (so that it can be found again)."""
    if given is None or given.strip().lower().replace("_", "-") in datasets.NAMES:
        return data.name
    return str(Path(given).expanduser().resolve())


def load_models_dataset(model: fastmlp.MLP, data_dir: str | None, doing: str) -> Dataset:
    """The dataset ``model`` records, from disk only (never downloaded without --dataset)."""
    recorded = model.dataset
    assert recorded is not None
    named = recorded in datasets.NAMES
    try:
        return datasets.load(recorded, data_dir=data_dir if named else None, download=False)
    except DatasetNotFoundError:
        raise CliError(
            f"the model was trained on {recorded}, which is not on disk; pass --dataset "
            f"{recorded} to download it, or --dataset NAME_OR_PATH for other data"
        ) from None
    except FileNotFoundError:
        raise CliError(
            f"the model was trained on {recorded}, which no longer exists; pass --dataset "
            f"NAME_OR_PATH to choose the data for {doing}"
        ) from None
    except (OSError, ValueError, MemoryError) as error:
        raise CliError(f"the model's dataset: {error}") from None


def check_output_path(option: str, path: str) -> Path:
    """An output file fastmlp may write (see :mod:`fastmlp.safe_write`): a regular file or a
    new name in an existing, writable directory; checked before a long run, not after it."""
    try:
        check_writable(path)
    except OSError as error:
        raise CliError(f"{option} {error}") from None
    return Path(path).expanduser()


def check_plot_path(option: str, path: str) -> Path:
    """A plot file: matplotlib importable, a format it writes, a writable file; returns the
    name the plot will have (``.png`` appended to a name without an extension)."""
    from fastmlp import plots

    try:
        target = plots.output_path(path)
    except ImportError as error:
        raise CliError(f"{option}: {error}") from None
    except ValueError as error:
        raise CliError(f"{option} {error}") from None
    return check_output_path(option, str(target))


def prepared(images: np.ndarray, model: fastmlp.MLP) -> np.ndarray:
    """Images as the model's float inputs (n, 784) in [0, 1]."""
    return datasets.prepare(images, dtype=model.dtype)


def env_text(name: str) -> str:
    """``"NAME=value"`` or ``"NAME not set"``."""
    value = os.environ.get(name)
    return f"{name}={value}" if value else f"{name} not set"
