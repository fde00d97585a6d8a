"""Runs that go wrong without a NaN say so: a loss that ends far above where it started,
inputs far outside the usual range; and probabilities are never NaN without an error."""

from __future__ import annotations

import contextlib
import io
import warnings

import numpy as np
import pytest

import fastmlp
from fastmlp import MLP, TrainingWarning, datasets
from fastmlp.cli import main


@pytest.fixture(scope="module")
def sample() -> tuple[np.ndarray, np.ndarray]:
    data = datasets.load("mnist-sample")
    return datasets.prepare(data.x_train[:2000]), data.y_train[:2000]


def ours(caught: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in caught if issubclass(w.category, TrainingWarning)]


def fit(engine: str, x: np.ndarray, y: np.ndarray, lr: float) -> list[str]:
    model = MLP([784, 64, 10], seed=0, engine=engine)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(x, y, epochs=2, batch_size=128, lr=lr)
    return ours(caught)


@pytest.mark.parametrize("engine", ["rust", "numpy"])
def test_a_loss_that_explodes_but_stays_finite_warns(engine: str, sample: tuple) -> None:
    messages = fit(engine, *sample, lr=10000)
    assert len(messages) == 1, messages
    assert "starting value" in messages[0] and "lr=10000" in messages[0], messages[0]


@pytest.mark.parametrize("engine", ["rust", "numpy"])
def test_a_partial_fit_of_several_batches_still_checks_its_loss(engine: str, sample: tuple) -> None:
    # Only a fit of a single step skips the start loss (its loss before the step is it).
    model = MLP([784, 64, 10], seed=0, engine=engine)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.partial_fit(*sample, batch_size=128, lr=10000)
    messages = ours(caught)
    assert len(messages) == 1 and "starting value" in messages[0], messages


@pytest.mark.parametrize("engine", ["rust", "numpy"])
def test_a_good_run_does_not_warn(engine: str, sample: tuple) -> None:
    assert fit(engine, *sample, lr=0.1) == []


@pytest.mark.parametrize("engine", ["rust", "numpy"])
def test_unscaled_pixels_warn(engine: str, sample: tuple) -> None:
    x, y = sample
    messages = fit(engine, x * np.float32(255), y, lr=0.01)
    assert any("prepare" in m and "255" in m for m in messages), messages


@pytest.mark.parametrize("engine", ["rust", "numpy"])
def test_standardised_inputs_do_not_warn(engine: str) -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((500, 784)).astype(np.float32)
    x[0, 0] = 40.0  # one outlier is not evidence
    assert fit(engine, x, rng.integers(0, 10, 500), lr=0.01) == []


@pytest.mark.parametrize("rows", [1, 2, 99, 100, 101, 250])
def test_the_unscaled_check_follows_the_99th_percentile_exactly(rows: int) -> None:
    # Inputs on both sides of the limit, with the percentile landing on, just above and just
    # below it: the warning comes exactly when numpy.percentile(|x|, 99) exceeds it.
    from fastmlp.diagnostics import UNSCALED_LIMIT, warn_if_unscaled

    rng = np.random.default_rng(rows)
    for trial in range(300):
        above = int(rng.integers(0, rows + 1))
        high = UNSCALED_LIMIT * (1 + rng.choice([1e-12, 1e-3, 1.0]))
        x = np.concatenate([rng.uniform(0, UNSCALED_LIMIT, rows - above), np.full(above, high)])
        if trial % 3 == 0:
            x[: int(rng.integers(0, rows))] = UNSCALED_LIMIT
        x = rng.permutation(x).reshape(rows, 1)
        expected = float(np.percentile(x, 99)) > UNSCALED_LIMIT
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            warn_if_unscaled("x", x)
        assert bool(ours(caught)) == expected, (rows, above, high)


def test_a_sparse_x_without_stored_values_is_in_range() -> None:
    from scipy import sparse

    from fastmlp.diagnostics import warn_if_unscaled

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_if_unscaled("x", sparse.csr_matrix((5, 4), dtype=np.float32))


@pytest.mark.parametrize("engine", ["rust", "numpy"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_probabilities_are_never_nan_without_an_error(engine: str, dtype: str) -> None:
    model = MLP([784, 32, 10], seed=0, engine=engine, dtype=dtype)
    x = np.zeros((3, 784), dtype=dtype)
    x[1] = np.finfo(dtype).max * 0.9  # finite (3e38 in float32), but the logits overflow
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NumPy's overflow notice
        with pytest.raises(ValueError, match=r"x: .*row 1.*overflow"):
            model.predict_proba(x)
        with pytest.raises(ValueError, match=r"x: .*row 1"):
            model.predict(x)
        with pytest.raises(ValueError, match=r"x: .*row 1"):
            model.evaluate(x, np.array([0, 1, 2]))
    assert np.isfinite(model.predict_proba(x[[0, 2]])).all()


def test_the_cli_prints_the_warning_on_one_line(tmp_path: object) -> None:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(
            [
                "train",
                "--dataset",
                "mnist-sample",
                "--epochs",
                "1",
                "--lr",
                "10000",
                "--quiet",
                "-o",
                f"{tmp_path}/m.npz",
            ]
        )
    assert code == 0
    lines = [line for line in err.getvalue().splitlines() if "warning" in line]
    assert len(lines) == 1 and lines[0].startswith("fastmlp train: warning: the loss"), (
        err.getvalue()
    )
    assert fastmlp.MLP.load(f"{tmp_path}/m.npz").layer_sizes == [784, 128, 10]
