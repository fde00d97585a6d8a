"""Plots of training runs and predictions (matplotlib, the optional extra ``fastmlp[plot]``).

>>> from fastmlp import plots
>>> plots.plot_history(model.history_, "history.png")            # doctest: +SKIP
>>> plots.plot_predictions(data.x_test, model.predict(x_test), data.y_test,
...                        "predictions.png")                     # doctest: +SKIP

Both functions build a standalone :class:`matplotlib.figure.Figure` -- not a pyplot figure,
so nothing accumulates in pyplot's global state and no display is needed: saving uses the
Agg renderer and works headless. Jupyter shows the returned figure inline; elsewhere save it
(``path=...`` or ``fig.savefig(...)``). Importing this module does not import matplotlib;
calling a function without it raises an ``ImportError`` saying how to install it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np
from numpy.typing import ArrayLike

from fastmlp.history import History
from fastmlp.safe_write import write_file

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["output_path", "plot_history", "plot_predictions", "require_matplotlib"]

INSTALL_HINT = "pip install 'fastmlp[plot]'"
WRONG_COLOR = "tab:red"
RIGHT_COLOR = "black"


def require_matplotlib() -> Any:
    """Import and return :mod:`matplotlib`, or raise an ``ImportError`` saying what to install."""
    try:
        import matplotlib
    except ImportError as error:
        raise ImportError(
            f"fastmlp's plots need matplotlib, which is not installed: {INSTALL_HINT} "
            "(or pip install matplotlib)"
        ) from error
    return matplotlib


def _new_figure(width: float, height: float) -> Figure:
    require_matplotlib()
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def output_path(path: str | os.PathLike[str]) -> Path:
    """The file a plot saved to ``path`` goes to, its format given by the extension.

    A name without an extension gets matplotlib's default format's (``.png``) appended, as
    ``Figure.savefig`` does. Raises ``ValueError`` naming the supported extensions for any
    other format matplotlib cannot write, and ``ImportError`` without matplotlib.
    """
    matplotlib = require_matplotlib()
    from matplotlib.backend_bases import FigureCanvasBase

    target = Path(path).expanduser()
    if not target.suffix:
        target = target.with_name(f"{target.name}.{matplotlib.rcParams['savefig.format']}")
    supported = FigureCanvasBase.get_supported_filetypes()
    if target.suffix[1:].lower() not in supported:
        raise ValueError(
            f"{os.fspath(path)}: matplotlib cannot write {target.suffix!r} files; use one of "
            f"{', '.join('.' + name for name in sorted(supported))}"
        )
    return target


def _save(fig: Figure, path: str | os.PathLike[str] | None, dpi: int) -> None:
    if path is None:
        return
    target = output_path(path)

    def render(stream: BinaryIO) -> None:
        # A standalone Figure renders with the Agg canvas for raster formats: no display needed.
        fig.savefig(stream, format=target.suffix[1:].lower(), dpi=dpi)

    # Atomically, through symlinks, never over a device or a read-only file (safe_write).
    write_file(target, render)


def _history_lists(history: History | Mapping[str, Sequence[float]]) -> dict[str, list[float]]:
    if isinstance(history, History):
        return history.as_dict()
    if isinstance(history, Mapping):
        return {key: [float(v) for v in history.get(key, [])] for key in History.CURVES}
    raise TypeError(
        f"history: expected a fastmlp.History or a mapping of lists, got {type(history).__name__}"
    )


def plot_history(
    history: History | Mapping[str, Sequence[float]],
    path: str | os.PathLike[str] | None = None,
    *,
    title: str | None = None,
    val_label: str = "validation",
    dpi: int = 120,
) -> Figure:
    """Loss and accuracy per epoch, training and validation, in two panels side by side.

    Args:
        history: a :class:`fastmlp.History` (``model.fit(...)`` or ``model.history_``), or a
            mapping with the same lists (``loss``, ``accuracy``, ``val_loss``,
            ``val_accuracy``); validation curves are drawn when present.
        path: where to save the figure (the format follows the extension, e.g. ``.png``;
            see :func:`output_path`); ``None`` only returns it. Saved as
            :mod:`fastmlp.safe_write` says: atomically, through symlinks, never over a
            directory, a device or a read-only file.
        title: a title over both panels.
        val_label: the legend's name for the validation curves (e.g. ``"test"``).
        dpi: resolution of the saved image.

    Returns:
        The :class:`matplotlib.figure.Figure`, with axes titled ``"loss"`` and ``"accuracy"``.

    Raises:
        ImportError: matplotlib is not installed (``pip install 'fastmlp[plot]'``).
        ValueError: the history has no epochs, or ``path``'s format is not one matplotlib
            writes.
        OSError: ``path`` cannot be written (see :mod:`fastmlp.safe_write`).
    """
    curves = _history_lists(history)
    epochs = len(curves["loss"])
    if epochs == 0:
        raise ValueError("history: no epochs recorded; train the model first")
    fig = _new_figure(10.0, 4.0)
    loss_axes, accuracy_axes = fig.subplots(1, 2)
    x = np.arange(1, epochs + 1)
    marker = "o" if epochs <= 30 else None
    for axes, key, name in (
        (loss_axes, "loss", "loss"),
        (accuracy_axes, "accuracy", "accuracy"),
    ):
        axes.plot(x, curves[key], marker=marker, label="train")
        val = curves[f"val_{key}"]
        if val:
            axes.plot(np.arange(1, len(val) + 1), val, marker=marker, label=val_label)
        axes.set_title(name)
        axes.set_xlabel("epoch")
        axes.set_ylabel("mean cross-entropy" if key == "loss" else "fraction correct")
        _integer_epochs(axes, epochs)
        axes.grid(True, alpha=0.3)
        axes.legend()
    final = [f"train {curves['accuracy'][-1]:.4f}"]
    if curves["val_accuracy"]:
        final.append(f"{val_label} {curves['val_accuracy'][-1]:.4f}")
    accuracy_axes.set_title(f"accuracy (final: {', '.join(final)})")
    if title:
        fig.suptitle(title)
    _save(fig, path, dpi)
    return fig


def _integer_epochs(axes: Axes, epochs: int) -> None:
    from matplotlib.ticker import MaxNLocator

    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_xlim(0.5, epochs + 0.5)


def _as_images(images: ArrayLike) -> np.ndarray:
    array = np.asarray(images)
    if array.ndim == 2 and array.shape[1] == 784:
        array = array.reshape(-1, 28, 28)
    if array.ndim != 3:
        raise ValueError(
            f"images: expected shape (n, height, width) or (n, 784), got {array.shape}"
        )
    return array


def _label(value: int, class_names: Sequence[str] | None) -> str:
    if class_names is not None and 0 <= value < len(class_names):
        return str(class_names[value])
    return str(value)


def plot_predictions(
    images: ArrayLike,
    predicted: ArrayLike,
    true: ArrayLike | None = None,
    path: str | os.PathLike[str] | None = None,
    n: int = 16,
    *,
    class_names: Sequence[str] | None = None,
    columns: int | None = None,
    title: str | None = None,
    dpi: int = 120,
) -> Figure:
    """A grid of the first ``n`` images, each titled ``"predicted p / true t"``.

    Wrong predictions get a red title and a red frame. With class names longer than two
    characters (Fashion-MNIST's) the title takes two lines: ``"predicted p\ntrue t"``.

    Args:
        images: (N, 28, 28) or (N, 784) pixels, uint8 0..255 or floats in [0, 1]
            (e.g. ``data.x_test`` or ``prepare(data.x_test)``), drawn white on black as MNIST
            stores them.
        predicted: (N,) predicted classes, e.g. ``model.predict(x)``.
        true: (N,) true classes, or ``None`` to title the images ``"predicted p"`` only.
        path: where to save the figure, as in :func:`plot_history`; ``None`` only returns it.
        n: how many images to show (at most N).
        class_names: names for the classes (``dataset.classes``); default: the numbers.
        columns: images per row; default: about a square grid.
        title: a title over the grid; default: the number right out of those shown.
        dpi: resolution of the saved image.

    Returns:
        The :class:`matplotlib.figure.Figure`, one axes per image shown.

    Raises:
        ImportError: matplotlib is not installed (``pip install 'fastmlp[plot]'``).
        ValueError: mismatched lengths, no images, ``n < 1``, or a format matplotlib does
            not write.
        OSError: ``path`` cannot be written (see :mod:`fastmlp.safe_write`).
    """
    pictures = _as_images(images)
    guesses = np.asarray(predicted).reshape(-1)
    truth = None if true is None else np.asarray(true).reshape(-1)
    if len(guesses) != len(pictures) or (truth is not None and len(truth) != len(pictures)):
        raise ValueError(
            f"images, predicted and true must have the same length, got {len(pictures)}, "
            f"{len(guesses)} and {'-' if truth is None else len(truth)}"
        )
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n: expected a positive integer, got {n!r}")
    shown = min(int(n), len(pictures))
    if shown == 0:
        raise ValueError("images: nothing to plot (0 images)")
    cols = columns if columns is not None else math.ceil(math.sqrt(shown))
    rows = math.ceil(shown / cols)
    names_are_long = class_names is not None and max(len(str(c)) for c in class_names) > 2
    cell = 2.0 if names_are_long else 1.7
    separator = "\n" if names_are_long else " / "
    fig = _new_figure(cell * cols, cell * rows + 0.4)
    grid = fig.subplots(rows, cols, squeeze=False)
    right = 0
    for index, axes in enumerate(grid.flat):
        axes.set_xticks([])
        axes.set_yticks([])
        if index >= shown:
            axes.set_axis_off()
            continue
        axes.imshow(pictures[index], cmap="gray", vmin=0, vmax=_pixel_max(pictures))
        guess = int(guesses[index])
        label = f"predicted {_label(guess, class_names)}"
        color = RIGHT_COLOR
        if truth is not None:
            actual = int(truth[index])
            # long class names go on a second line: "predicted Sneaker\ntrue Ankle boot"
            label += f"{separator}true {_label(actual, class_names)}"
            if guess == actual:
                right += 1
            else:
                color = WRONG_COLOR
                for spine in axes.spines.values():
                    spine.set_edgecolor(WRONG_COLOR)
                    spine.set_linewidth(2.5)
        axes.set_title(label, color=color, fontsize=8 if names_are_long else 9)
    if title is None and truth is not None:
        title = f"{right} of {shown} right (wrong ones in red)"
    if title:
        fig.suptitle(title)
    _save(fig, path, dpi)
    return fig


def _pixel_max(images: np.ndarray) -> float:
    """255 for integer pixels, 1 for floats: a fixed scale, so faint digits stay faint."""
    return 255.0 if images.dtype.kind in "ui" else 1.0
