"""``fastmlp.plots``: history curves, prediction grids, and the error without matplotlib."""

from __future__ import annotations

import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from fastmlp import History, plots
from fastmlp.datasets import DATASETS

pytest.importorskip("matplotlib")
to_rgba = pytest.importorskip("matplotlib.colors").to_rgba
Figure = pytest.importorskip("matplotlib.figure").Figure


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


def history(epochs: int = 4, validation: bool = True) -> History:
    loss = [1.0 / (e + 1) for e in range(epochs)]
    accuracy = [0.8 + 0.04 * e for e in range(epochs)]
    return History(
        loss=loss,
        accuracy=accuracy,
        val_loss=[v + 0.05 for v in loss] if validation else [],
        val_accuracy=[a - 0.02 for a in accuracy] if validation else [],
        seconds=[0.1] * epochs,
    )


def test_plot_history_draws_loss_and_accuracy_side_by_side(tmp_path: Path) -> None:
    path = tmp_path / "history.png"
    fig = plots.plot_history(history(), path, title="run", val_label="test", dpi=100)
    assert isinstance(fig, Figure)
    loss_axes, accuracy_axes = fig.axes
    assert loss_axes.get_title() == "loss"
    assert accuracy_axes.get_title() == "accuracy (final: train 0.9200, test 0.9000)"
    for axes in fig.axes:
        assert [line.get_label() for line in axes.get_lines()] == ["train", "test"]
        assert axes.get_xlabel() == "epoch"
        np.testing.assert_array_equal(axes.get_lines()[0].get_xdata(), [1, 2, 3, 4])
    np.testing.assert_allclose(loss_axes.get_lines()[0].get_ydata(), history().loss)
    # side by side: same height, the accuracy panel to the right of the loss panel
    loss_box, accuracy_box = loss_axes.get_position(), accuracy_axes.get_position()
    assert accuracy_box.x0 > loss_box.x1
    assert png_size(path) == (1000, 400)  # figsize (10, 4) at dpi 100


def test_plot_history_without_validation_and_from_a_mapping() -> None:
    fig = plots.plot_history(history(validation=False))
    assert [len(axes.get_lines()) for axes in fig.axes] == [1, 1]
    fig = plots.plot_history(history(epochs=1).as_dict())
    assert [len(axes.get_lines()) for axes in fig.axes] == [2, 2]


def test_plot_history_needs_epochs() -> None:
    with pytest.raises(ValueError, match="no epochs"):
        plots.plot_history(History())
    with pytest.raises(TypeError, match="history"):
        plots.plot_history([0.5, 0.4])  # type: ignore[arg-type]


def digits(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    true = np.arange(n) % 10
    predicted = true.copy()
    wrong = [i for i in (1, 4) if i < n]
    predicted[wrong] = (true[wrong] + 1) % 10  # images 1 and 4 are predicted wrong
    return images, predicted, true


def test_plot_predictions_titles_each_image_and_marks_the_wrong_ones(tmp_path: Path) -> None:
    images, predicted, true = digits(20)
    path = tmp_path / "grid.png"
    fig = plots.plot_predictions(images, predicted, true, path, n=16)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 16  # a 4 x 4 grid
    titles = [axes.title for axes in fig.axes]
    assert [t.get_text() for t in titles] == [
        f"predicted {p} / true {t}" for p, t in zip(predicted[:16], true[:16], strict=True)
    ]
    red = to_rgba(plots.WRONG_COLOR)
    wrong = [i for i, t in enumerate(titles) if to_rgba(t.get_color()) == red]
    assert wrong == [1, 4]
    assert fig.get_suptitle() == "14 of 16 right (wrong ones in red)"
    width, height = png_size(path)
    assert width > 0 and height > 0


def test_plot_predictions_partial_grid_names_and_no_truth() -> None:
    images, predicted, true = digits(5)
    fig = plots.plot_predictions(images.reshape(5, 784) / 255.0, predicted, None, n=16)
    shown = [axes for axes in fig.axes if axes.get_visible() and axes.axison]
    assert len(fig.axes) == 6 and len(shown) == 5  # 3 columns x 2 rows, one left blank
    assert [axes.get_title() for axes in shown] == [f"predicted {p}" for p in predicted]
    names = list(DATASETS["fashion-mnist"].classes)
    fig = plots.plot_predictions(images, predicted, true, n=2, class_names=names)
    assert [axes.get_title() for axes in fig.axes] == [
        "predicted T-shirt/top\ntrue T-shirt/top",
        "predicted Pullover\ntrue Trouser",
    ]


def test_plot_predictions_checks_its_arguments() -> None:
    images, predicted, true = digits(4)
    with pytest.raises(ValueError, match="same length"):
        plots.plot_predictions(images, predicted[:3], true)
    with pytest.raises(ValueError, match="n: "):
        plots.plot_predictions(images, predicted, true, n=0)
    with pytest.raises(ValueError, match="shape"):
        plots.plot_predictions(images.reshape(4, 28, 28)[:, 0], predicted, true)


def test_missing_matplotlib_is_a_clear_import_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    images, predicted, true = digits(4)
    for call in (
        lambda: plots.plot_history(history()),
        lambda: plots.plot_predictions(images, predicted, true),
    ):
        with pytest.raises(ImportError, match=r"pip install 'fastmlp\[plot\]'"):
            call()


def test_fastmlp_imports_and_explains_without_matplotlib() -> None:
    script = textwrap.dedent(
        """
        import sys
        sys.modules["matplotlib"] = None   # as if it were not installed
        import fastmlp, fastmlp.plots
        try:
            fastmlp.plots.plot_history(fastmlp.History(loss=[1.0], accuracy=[0.5]))
        except ImportError as error:
            print(error)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "matplotlib" in done.stdout and "pip install 'fastmlp[plot]'" in done.stdout
