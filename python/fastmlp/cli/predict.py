"""``fastmlp predict``: classify images from IDX, .npz/.npy or image files (PNG, ...)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from fastmlp import datasets
from fastmlp.datasets.dataset import IMAGE_SHAPE, PIXELS, as_images
from fastmlp.datasets.npy_reader import NPY_MAGIC, NpyHeader, NpzMembers, native_order, read_npy

from .common import (
    CliError,
    add_engine_arguments,
    apply_threads,
    check_images_fit,
    check_plot_path,
    load_model,
    notice,
    positive_int,
)
from .images import read_image

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
NUMPY_SUFFIXES = (".npz", ".npy")

EPILOG = """\
inputs:
  IDX file      images as MNIST publishes them (t10k-images-idx3-ubyte, raw or .gz)
  .npz / .npy   a keras-style .npz (its x_test is used) or a single array of images,
                (n, 28, 28) or (n, 784), uint8 0..255 or floats in [0, 1]
  image files   PNG, JPEG, TIFF, ... (needs Pillow): any mode (8/16-bit gray, float
                in [0, 1], palette, colour, with transparency as white paper) scaled
                to [0, 1] and, when not 28x28, padded to a square and resized.
                MNIST digits are white on black: pass --invert for dark ink on a
                light background (a scan or a drawing), else the predictions are
                meaningless.

examples:
  fastmlp predict fastmlp-model.npz t10k-images-idx3-ubyte.gz --limit 5
  fastmlp predict fastmlp-model.npz digit.png three.png --invert --top 3
"""


def class_names(text: str) -> tuple[str, ...]:
    """``mnist``/``fashion-mnist`` (their class names) or a comma-separated list of names."""
    key = text.strip().lower()
    if key in datasets.DATASETS:
        return tuple(datasets.DATASETS[key].classes)
    names = tuple(part.strip() for part in text.split(","))
    if len(names) < 2 or not all(names):
        raise argparse.ArgumentTypeError(
            f"expected mnist, fashion-mnist or comma-separated class names, got {text!r}"
        )
    return names


def add_parser(subparsers: Any) -> None:
    """Register ``predict`` and its options."""
    parser = subparsers.add_parser(
        "predict",
        help="classify images (IDX, .npz/.npy, PNG)",
        description=(
            "Print the predicted class and its probability for each input image, one line\n"
            "per image: NAME: CLASS (PROBABILITY); --top K adds the next most likely classes."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("model", metavar="MODEL", help="a model file from `fastmlp train`")
    parser.add_argument("inputs", metavar="INPUT", nargs="+", help="IDX, .npz/.npy or image files")
    parser.add_argument(
        "--invert",
        action="store_true",
        help="invert image files (PNG, ...): for dark digits on a light background",
    )
    parser.add_argument(
        "--top", type=positive_int, default=1, metavar="K", help="show the K most likely classes"
    )
    parser.add_argument(
        "--limit",
        type=positive_int,
        metavar="N",
        help="only the first N images of each IDX/.npz/.npy input",
    )
    parser.add_argument(
        "--classes",
        type=class_names,
        metavar="NAMES",
        help="print class names: mnist, fashion-mnist, or a comma-separated list "
        "(default: the names the model recorded, else the class numbers)",
    )
    parser.add_argument(
        "--plot", metavar="FILE.png", help="save a grid of the inputs titled with the predictions"
    )
    add_engine_arguments(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Predict as ``args`` say; return the exit code."""
    plot = check_plot_path("--plot", args.plot) if args.plot else None
    apply_threads(args.threads, args.engine)
    model = load_model(args.model, args.engine)
    check_images_fit(model, None, "")
    if args.classes is not None and len(args.classes) != model.classes:
        raise CliError(
            f"--classes: {len(args.classes)} names for a model with {model.classes} classes"
        )
    if args.classes is None:
        args.classes = models_class_names(model)
    names: list[str] = []
    parts: list[np.ndarray] = []
    light: list[str] = []
    for given in args.inputs:
        labels, images = read_input(given, args.invert, args.limit)
        names += labels
        if _is_image_file(given) and not args.invert and images.mean() > 0.5:
            light.append(Path(given).name)
        try:
            parts.append(datasets.prepare(images, dtype=model.dtype))
        except (TypeError, ValueError) as error:
            raise CliError(f"{given}: {error}") from None
    if light:
        notice(
            f"note: {', '.join(light)} {'is' if len(light) == 1 else 'are'} mostly light; "
            "MNIST digits are light on dark: pass --invert for dark ink on a light background"
        )
    x = np.concatenate(parts)
    probabilities = model.predict_proba(x)
    top = min(args.top, model.classes)
    ranked = np.argsort(-probabilities, axis=1, kind="stable")[:, :top]
    width = max(len(n) for n in names)
    for name, row, p in zip(names, ranked, probabilities, strict=True):
        guesses = ", ".join(f"{_class_text(c, args.classes)} ({p[c]:.4f})" for c in row)
        print(f"{name + ':':<{width + 1}}  {guesses}")
    if plot is not None:
        from fastmlp import plots

        plots.plot_predictions(
            x, ranked[:, 0], None, plot, n=min(len(x), 64), class_names=args.classes
        )
        print(f"predictions saved to {plot}")
    return 0


def models_class_names(model: Any) -> tuple[str, ...] | None:
    """The model's class names, unless they are just the class numbers ("0", "1", ...)."""
    names = model.class_names
    if names is None or names == tuple(str(c) for c in range(model.classes)):
        return None
    return names


def _is_image_file(given: str) -> bool:
    return Path(given).suffix.lower() in IMAGE_SUFFIXES


def _class_text(label: int, names: tuple[str, ...] | None) -> str:
    return f"{label} {names[label]}" if names is not None else str(label)


# ---- reading inputs -------------------------------------------------------------------------


def read_input(given: str, invert: bool, limit: int | None) -> tuple[list[str], np.ndarray]:
    """``(names, images)`` from one input file; images (n, 28, 28), uint8 or floats in [0, 1]
    (image files: float32, see :mod:`fastmlp.cli.images`)."""
    path = Path(given).expanduser()
    if not path.is_file():
        raise CliError(f"{given}: no such file")
    if _is_image_file(given):
        return [given], read_image(path, invert)[None]
    if path.suffix.lower() in NUMPY_SUFFIXES:
        images = read_numpy(path)
    else:
        images = read_idx_images(path)
    if len(images) == 0:
        raise CliError(f"{given}: no images in it (shape {images.shape})")
    if limit is not None:
        images = images[:limit]
    return [f"{path.name}[{i}]" for i in range(len(images))], images


def _image_array(array: np.ndarray, where: str) -> np.ndarray:
    """(n, 28, 28) integer 0..255 (as uint8) or float pixels; a single image gets n = 1."""
    if array.shape in (IMAGE_SHAPE, (784,)):
        array = array[None]
    if array.dtype.kind == "f":
        if array.ndim == 2 and array.shape[1] == 784:
            array = array.reshape(-1, *IMAGE_SHAPE)
        if array.ndim != 3 or array.shape[1:] != IMAGE_SHAPE:
            raise CliError(f"{where}: expected images (n, 28, 28) or (n, 784), got {array.shape}")
        return array
    try:
        return as_images(array, where)
    except ValueError as error:
        raise CliError(str(error)) from None


def _numpy_images_header(header: NpyHeader) -> None:
    """Numbers shaped as images, refused by the ``.npy`` header before any data is read."""
    if header.dtype.kind not in "uif":
        raise ValueError(
            f"expected integer or float pixels, got dtype {native_order(header.dtype)}"
        )
    shape = header.shape
    if shape not in (IMAGE_SHAPE, (PIXELS,)) and shape[1:] not in (IMAGE_SHAPE, (PIXELS,)):
        raise ValueError(f"expected images (n, 28, 28) or (n, 784), got shape {shape}")


def read_numpy(path: Path) -> np.ndarray:
    """Images from a keras-style .npz (``x_test``), a one-array .npz, or a .npy; headers and
    sizes are checked before any data is read (:mod:`fastmlp.datasets.npy_reader`)."""
    try:
        with open(path, "rb") as stream:
            is_npy = stream.read(len(NPY_MAGIC)) == NPY_MAGIC
        if is_npy:
            return _image_array(read_npy(path, _numpy_images_header), str(path))
        with NpzMembers(path, lambda detail: f"not a readable NumPy file ({detail})") as loaded:
            keys = loaded.names
            if "x_test" in keys:
                key = "x_test"
            elif len(keys) == 1:
                key = keys[0]
            else:
                raise CliError(
                    f"{path}: expected a keras-style .npz with x_test, or a single array; "
                    f"found {', '.join(keys) or 'no arrays'}"
                )
            return _image_array(loaded.read(key, _numpy_images_header), f"{path}: {key}")
    except (ValueError, MemoryError) as error:
        raise CliError(str(error)) from None
    except OSError as error:
        raise CliError(f"{path}: not a readable NumPy file ({error})") from None


def read_idx_images(path: Path) -> np.ndarray:
    """Images from an IDX file (raw or gzipped)."""
    try:
        array = datasets.read_idx(path)
    except ValueError as error:
        raise CliError(
            f"{error}\n(predict reads IDX image files, .npz/.npy, or image files: "
            f"{', '.join(IMAGE_SUFFIXES)})"
        ) from None
    if array.ndim == 1:
        raise CliError(f"{path}: an IDX labels file; pass the images file")
    return _image_array(array, str(path))
