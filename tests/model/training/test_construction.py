"""``MLP`` construction and initialisation: layer shapes, the inits and their statistics, seeds
that reproduce the seed notebooks' first weights, and bad constructor arguments.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest

from fastmlp import MLP
from tests.support.training import (
    assert_identical,
    parameters,
)

# ---- construction and initialisation --------------------------------------------------------


@pytest.mark.parametrize(
    "layer_sizes", [[784, 10], [784, 128, 10], [784, 128, 64, 10], [20, 16, 12, 8, 3]]
)
def test_layers_have_the_right_shapes_dtype_and_zero_biases(
    layer_sizes: list[int], engine_name: str, dtype_name: str
) -> None:
    model = MLP(layer_sizes, seed=0, dtype=dtype_name, engine=engine_name)
    assert model.layer_sizes == layer_sizes
    assert model.dtype == np.dtype(dtype_name)
    assert model.engine == engine_name
    assert model.classes == layer_sizes[-1]
    assert len(model.weights) == len(model.biases) == len(layer_sizes) - 1
    for w, b, (fan_in, fan_out) in zip(
        model.weights, model.biases, itertools.pairwise(layer_sizes), strict=True
    ):
        assert w.shape == (fan_in, fan_out) and b.shape == (fan_out,)
        assert w.dtype == b.dtype == np.dtype(dtype_name)
        assert w.flags.c_contiguous and w.flags.writeable and b.flags.writeable
        assert np.all(b == 0)
        assert np.isfinite(w).all() and np.count_nonzero(w) == w.size
    assert model.n_parameters == sum(i * o + o for i, o in itertools.pairwise(layer_sizes))
    assert model.history_.epochs == 0
    assert "MLP(" in repr(model) and engine_name in repr(model)


def test_accepts_numpy_integer_sizes_and_dtype_objects() -> None:
    model = MLP(np.array([20, 8, 3]).tolist(), dtype=np.float64)
    assert model.dtype == np.dtype(np.float64)
    assert MLP([np.int64(20), np.int32(3)], dtype=np.dtype("float32")).layer_sizes == [20, 3]


# Big layers, so the sample statistics are sharp: fan_in 1000 x fan_out 800 = 800,000 weights.
# Standard errors: mean sigma/sqrt(N) = 0.0011 sigma, std about 1/sqrt(2N) = 0.08 % relative,
# a fraction p about sqrt(p(1-p)/N) = 0.05 %. The tolerances below are 10-20 standard errors.
BIG = [1000, 800, 10]


@pytest.mark.parametrize(
    ("init", "std"),
    [("he", np.sqrt(2 / 1000)), (("normal", 0.02), 0.02), (("normal", 0.3), 0.3)],
    ids=["he", "normal-0.02", "normal-0.3"],
)
def test_normal_inits_have_the_right_statistics(init: Any, std: float, dtype_name: str) -> None:
    w = MLP(BIG, init=init, seed=0, dtype=dtype_name).weights[0].astype(np.float64)
    assert abs(w.mean()) < 0.015 * std
    assert w.std() == pytest.approx(std, rel=0.01)
    # Normal, not uniform: 68.27 % within one standard deviation (a uniform has 57.7 %).
    assert np.mean(np.abs(w) < std) == pytest.approx(0.6827, abs=0.01)
    assert np.abs(w).max() > 4 * std  # tails a uniform could not have


def test_he_uses_each_layers_own_fan_in() -> None:
    model = MLP([1000, 400, 200], init="he", seed=0, dtype="float64")
    for w in model.weights:
        assert w.std() == pytest.approx(np.sqrt(2 / w.shape[0]), rel=0.02)


def test_xavier_is_uniform_within_the_glorot_limit(dtype_name: str) -> None:
    model = MLP([1000, 800, 200], init="xavier", seed=0, dtype=dtype_name)
    for w in model.weights:
        fan_in, fan_out = w.shape
        limit = np.sqrt(6 / (fan_in + fan_out))
        w64 = w.astype(np.float64)
        assert np.abs(w64).max() <= np.dtype(dtype_name).type(limit)
        assert np.abs(w64).max() > 0.99 * limit
        assert abs(w64.mean()) < 0.02 * limit
        assert w64.std() == pytest.approx(limit / np.sqrt(3), rel=0.015)
        assert np.mean(np.abs(w64) < limit / 2) == pytest.approx(0.5, abs=0.015)


@pytest.mark.parametrize(("low", "high"), [(-0.5, 0.5), (0.0, 1.0), (-3.0, -1.0)])
def test_uniform_init_stays_within_its_bounds(low: float, high: float, dtype_name: str) -> None:
    model = MLP(BIG, init=("uniform", low, high), seed=0, dtype=dtype_name)
    w = model.weights[0].astype(np.float64)
    width = high - low
    assert w.min() >= low and w.max() <= high
    assert w.min() < low + 0.001 * width and w.max() > high - 0.001 * width
    assert w.mean() == pytest.approx((low + high) / 2, abs=0.005 * width)
    assert w.std() == pytest.approx(width / np.sqrt(12), rel=0.01)
    assert np.all(model.biases[0] == 0)


def test_reproduces_seed_000_initial_weights_bit_for_bit(engine_name: str) -> None:
    # Seed notebook 000, cell 2, verbatim:
    rng = np.random.default_rng(0)
    W1 = rng.normal(0, 0.02, size=(784, 128)).astype(np.float32)
    W2 = rng.normal(0, 0.02, size=(128, 10)).astype(np.float32)
    model = MLP([784, 128, 10], init=("normal", 0.02), seed=0, engine=engine_name)
    assert_identical(model.weights, [W1, W2])
    assert_identical(model.biases, [np.zeros(128, np.float32), np.zeros(10, np.float32)])


def test_reproduces_seed_003_initial_weights_bit_for_bit() -> None:
    # Seed notebook 003: rng = np.random.default_rng(42); W = rng.normal(0, 0.01, ...)
    rng = np.random.default_rng(42)
    W = rng.normal(0, 0.01, size=(28 * 28, 10)).astype(np.float32)
    model = MLP([784, 10], init=("normal", 0.01), seed=42)
    assert_identical(model.weights, [W])


def test_same_seed_same_init_and_engines_share_it(dtype_name: str) -> None:
    a = MLP([30, 20, 5], seed=3, dtype=dtype_name, engine="rust")
    b = MLP([30, 20, 5], seed=3, dtype=dtype_name, engine="numpy")
    c = MLP([30, 20, 5], seed=np.random.default_rng(3), dtype=dtype_name)
    assert_identical(parameters(a), parameters(b))
    assert_identical(parameters(a), parameters(c))
    d = MLP([30, 20, 5], seed=4, dtype=dtype_name)
    assert not np.array_equal(a.weights[0], d.weights[0])
    e, f = MLP([30, 20, 5], seed=None), MLP([30, 20, 5], seed=None)
    assert not np.array_equal(e.weights[0], f.weights[0])


@pytest.mark.parametrize(
    ("init", "canonical"),
    [
        ("he", ("he",)),
        (("he",), ("he",)),
        ("xavier", ("xavier",)),
        (["normal", 0.02], ("normal", 0.02)),
        (("normal", 1), ("normal", 1.0)),
        (("uniform", -0.5, 0.5), ("uniform", -0.5, 0.5)),
    ],
)
def test_init_spellings(init: Any, canonical: tuple) -> None:
    assert MLP([6, 3], init=init).init == canonical


@pytest.mark.parametrize(
    ("kwargs", "error", "fragments"),
    [
        ({"activation": "softplus"}, ValueError, ["activation", "'relu'", "'tanh'", "'sigmoid'"]),
        ({"activation": None}, ValueError, ["activation", "'relu'"]),
        ({"activation": "ReLU"}, ValueError, ["activation", "'relu'", "'ReLU'"]),
        ({"init": "glorot"}, ValueError, ["init", "he", "xavier", "normal", "uniform", "glorot"]),
        ({"init": "normal"}, ValueError, ["init", "std"]),
        ({"init": ("normal",)}, ValueError, ["init", "normal"]),
        ({"init": ("normal", -0.1)}, ValueError, ["init", "std", "> 0"]),
        ({"init": ("normal", 0.0)}, ValueError, ["init", "> 0"]),
        ({"init": ("normal", float("nan"))}, ValueError, ["init", "finite"]),
        ({"init": ("normal", "0.1")}, ValueError, ["init"]),
        ({"init": ("uniform", 0.5, -0.5)}, ValueError, ["init", "low < high"]),
        ({"init": ("uniform", 0.0)}, ValueError, ["init", "uniform"]),
        ({"init": ("he", 2.0)}, ValueError, ["init"]),
        ({"init": 0.02}, ValueError, ["init", "he", "xavier"]),
        ({"init": None}, ValueError, ["init"]),
        ({"engine": "torch"}, ValueError, ["engine", "'rust'", "'numpy'", "'torch'"]),
        ({"engine": "Rust"}, ValueError, ["engine", "'rust'", "'numpy'"]),
        ({"dtype": "float16"}, ValueError, ["dtype", "float32", "float64", "float16"]),
        ({"dtype": np.int32}, ValueError, ["dtype", "float32", "float64"]),
        ({"dtype": "double precision"}, ValueError, ["dtype", "float32", "float64"]),
        ({"seed": "0"}, TypeError, ["seed"]),
        ({"seed": 1.5}, TypeError, ["seed"]),
    ],
    ids=lambda value: repr(value)[:40] if isinstance(value, dict) else "",
)
def test_bad_constructor_arguments(kwargs: dict, error: type, fragments: list[str]) -> None:
    with pytest.raises(error) as raised:
        MLP([20, 8, 3], **kwargs)
    for fragment in fragments:
        assert fragment in str(raised.value), (fragment, str(raised.value))


@pytest.mark.parametrize(
    ("layer_sizes", "error"),
    [
        ([784], ValueError),
        ([], ValueError),
        ([784, 0, 10], ValueError),
        ([784, -128, 10], ValueError),
        ([0, 10], ValueError),
        ([784, 128, 1], ValueError),  # one class: nothing to classify
        ([784.0, 10], ValueError),
        ([784, 12.5, 10], ValueError),
        ([784, True, 10], ValueError),
        (784, TypeError),
        ("784,10", TypeError),
        (None, TypeError),
    ],
)
def test_bad_layer_sizes(layer_sizes: Any, error: type) -> None:
    with pytest.raises(error, match="layer_sizes"):
        MLP(layer_sizes)
