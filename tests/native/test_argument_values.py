"""Argument values at the boundary: lists, activations, learning rates, batch sizes, labels and
row indices, and odd arrays and lists, which give an argument error or, where there is a result, the
oracle's (``fastmlp.reference``); never a PyO3 ``PanicException``.

Every function of the engine contract is called through both layers: ``fastmlp.kernels`` and
``fastmlp._native`` directly (``tests/support/boundary.py`` has the valid calls).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from fastmlp import reference
from tests.support.boundary import (
    FLOAT_ARGS,
    FUNCTIONS,
    IN_PLACE,
    ROWS,
    SIZES,
    TRAINING,
    WITH_ACTIVATION,
    WITH_PARAMS,
    assert_same,
    caller_params,
    callers_of,
    fails,
    function,
    get,
    make_args,
    names,
    put,
    snapshot,
)
from tests.support.networks import TOLERANCE

# ---- argument values ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", [{0: None}, None, "weights", 3], ids=["dict", "none", "str", "int"]
)
@pytest.mark.parametrize(
    ("layer", "name", "arg"),
    caller_params(
        {
            f: ["weights", "outputs"] if f == "backward" else ["weights", "biases"]
            for f in WITH_PARAMS
        }
    ),
)
def test_non_list_arrays_are_a_type_error(layer, name, arg, value):
    args = make_args(name, np.float32)
    args[arg] = dict(enumerate(args[arg])) if isinstance(value, dict) else value
    err = fails(function(layer, name), args, TypeError)
    assert names(err, arg) and "list" in str(err), str(err)


@pytest.mark.parametrize(
    ("layer", "name", "arg"),
    caller_params(
        {f: ["weights", "outputs"] if f == "backward" else ["weights"] for f in WITH_PARAMS}
    ),
)
def test_a_single_array_for_a_list_is_a_type_error(layer, name, arg):
    """Not read row by row as a list of 1-D arrays."""
    args = make_args(name, np.float32)
    args[arg] = args[arg][0]
    err = fails(function(layer, name), args, TypeError)
    assert names(err, arg) and "ndarray" in str(err), str(err)


@pytest.mark.parametrize(("layer", "name"), callers_of(WITH_PARAMS))
def test_tuples_of_arrays_are_accepted(layer, name):
    args = make_args(name, np.float64)
    expected_args = make_args(name, np.float64)
    expected = function(layer, name)(**expected_args)
    for arg in ("weights", "biases", "outputs"):
        if arg in args:
            args[arg] = tuple(args[arg])
    assert_same(function(layer, name)(**args), expected)
    assert_same(list(args["weights"]), expected_args["weights"])


@pytest.mark.parametrize("activation", ["gelu", "ReLU", ""])
@pytest.mark.parametrize(("layer", "name"), callers_of(WITH_ACTIVATION))
def test_unknown_activation_lists_the_allowed_names(layer, name, activation):
    args = make_args(name, np.float32)
    args["activation"] = activation
    before = snapshot(args)
    err = fails(function(layer, name), args, ValueError)
    assert names(err, "activation") and activation in str(err), str(err)
    assert all(allowed in str(err) for allowed in ("relu", "tanh", "sigmoid")), str(err)
    assert snapshot(args) == before


@pytest.mark.parametrize("lr", [0.0, -0.1, float("nan"), float("inf"), float("-inf")])
@pytest.mark.parametrize(("layer", "name"), callers_of(IN_PLACE))
def test_learning_rate_must_be_finite_and_positive(layer, name, lr):
    args = make_args(name, np.float32)
    args["lr"] = lr
    before = snapshot(args)
    err = fails(function(layer, name), args, ValueError)
    assert names(err, "lr"), str(err)
    assert snapshot(args) == before


@pytest.mark.parametrize("batch_size", [0, -1, -128])
@pytest.mark.parametrize(("layer", "name"), callers_of(TRAINING))
def test_batch_size_must_be_positive(layer, name, batch_size):
    args = make_args(name, np.float32)
    args["batch_size"] = batch_size
    before = snapshot(args)
    err = fails(function(layer, name), args, ValueError)
    assert names(err, "batch_size") and str(batch_size) in str(err), str(err)
    assert snapshot(args) == before


# (argument, position, value): a bad index placed last, after batches that would have trained.
BAD_INDICES = {
    "label-too-large": ("labels", 0, SIZES[-1]),  # row 0 is the last of order
    "label-negative": ("labels", 0, -1),
    "order-too-large": ("order", -1, ROWS),
    "order-negative": ("order", -1, -1),
    "order-empty": ("order", None, None),
}


@pytest.mark.parametrize("case", list(BAD_INDICES))
@pytest.mark.parametrize(("layer", "name"), callers_of(TRAINING))
def test_bad_labels_or_order_fail_before_any_step(layer, name, case):
    arg, position, value = BAD_INDICES[case]
    args = make_args(name, np.float64)
    if position is None:
        args[arg] = args[arg][:0]
    else:
        args[arg][position] = value
    before = snapshot(args)
    ids = [id(a) for a in args["weights"] + args["biases"]]
    err = fails(function(layer, name), args, ValueError)
    assert names(err, arg), str(err)
    if value is not None:
        assert str(value) in str(err), str(err)
    assert [id(a) for a in args["weights"] + args["biases"]] == ids
    assert snapshot(args) == before  # bit for bit


# ---- no panics on odd input -----------------------------------------------------------------


def extreme(v: np.ndarray) -> np.ndarray:
    return np.full_like(v, np.nan if v.dtype.kind == "f" else 2**62)


ODD_ARRAYS: dict[str, Callable[[np.ndarray], Any]] = {
    "none": lambda v: None,
    "0-d": lambda v: v.reshape(-1)[:1].reshape(()),
    "no-rows": lambda v: v[:0],
    "no-columns": lambda v: v[..., :0],
    "extreme": extreme,
    "list": lambda v: v.tolist(),
}
ODD_LISTS: dict[str, Callable[[list[np.ndarray]], Any]] = {
    "empty": lambda v: [],
    "nones": lambda v: [None] * len(v),
    "no-rows": lambda v: [a[:0] for a in v],
    "one-more": lambda v: [*v, v[-1].copy()],
    "one-less": lambda v: v[:-1],
}
ARRAY_ARGS = {
    name: [*FLOAT_ARGS[name], *(["labels", "order"] * (name in TRAINING))] for name in FUNCTIONS
}
LIST_ARGS = {
    name: ["weights", "outputs"] if name == "backward" else ["weights", "biases"]
    for name in WITH_PARAMS
}


# The errors odd input may raise: argument errors, divergence (a FloatingPointError) and
# MemoryError. A RuntimeError is what a caught Rust panic becomes, so it fails.
ODD_INPUT_ERRORS = (TypeError, ValueError, FloatingPointError, MemoryError)


def outcome_of(call: Callable[..., Any], args: dict[str, Any]) -> tuple[Any, Exception | None]:
    """``(result, None)``, or ``(None, error)`` for an argument error; never a panic."""
    try:
        return call(**args), None
    except BaseException as err:
        assert isinstance(err, Exception), f"{type(err).__name__}: {err}"
        assert type(err).__name__ != "PanicException", str(err)
        assert isinstance(err, ODD_INPUT_ERRORS), f"{type(err).__name__}: {err}"
        return None, err


def assert_close(actual: Any, expected: Any) -> None:
    """Equal within one computation's tolerance (float32), NaN where the other has NaN."""
    if isinstance(expected, (list, tuple)):
        assert isinstance(actual, (list, tuple)) and len(actual) == len(expected)
        for a, e in zip(actual, expected, strict=True):
            assert_close(a, e)
    elif isinstance(expected, np.ndarray):
        assert actual.dtype == expected.dtype and actual.shape == expected.shape
        np.testing.assert_allclose(actual, expected, equal_nan=True, **TOLERANCE[np.float32])
    elif isinstance(expected, float):
        np.testing.assert_allclose(actual, expected, equal_nan=True, **TOLERANCE[np.float32])
    else:
        assert actual == expected


def expected_without_oracle(layer: str, name: str, odd: str) -> Any:
    """What odd input that the reference rejects must give: an int list is read as the array
    it holds, and the softmax of zero classes is an empty array."""
    if odd == "list":
        return function(layer, name)(**make_args(name, np.float32))
    if (name, odd) == ("softmax", "no-columns"):
        return np.empty((ROWS, 0), np.float32)
    pytest.fail(f"{layer}.{name} returned a result for {odd} input that the oracle rejects")


def check_odd_input(layer: str, name: str, path: str, odd: Callable[[Any], Any], label: str):
    """``layer.name`` with ``odd(value)`` at ``path``: an argument error, or the oracle's result
    (and, for the training functions, the oracle's updated weights and biases)."""
    args = make_args(name, np.float32)
    put(args, path, odd(get(args, path)))
    result, error = outcome_of(function(layer, name), args)
    if error is not None:
        return
    oracle_args = make_args(name, np.float32)
    put(oracle_args, path, odd(get(oracle_args, path)))
    try:
        expected = getattr(reference, name)(**oracle_args)
    except Exception:
        expected = expected_without_oracle(layer, name, label)
        oracle_args = make_args(name, np.float32)
        function(layer, name)(**oracle_args)
    assert_close(result, expected)
    for params in ("weights", "biases"):
        if name in IN_PLACE:
            assert_close(args[params], oracle_args[params])


@pytest.mark.parametrize("odd", list(ODD_ARRAYS))
@pytest.mark.parametrize(("layer", "name", "path"), caller_params(ARRAY_ARGS))
def test_odd_arrays_give_an_argument_error_or_the_oracles_result(layer, name, path, odd):
    check_odd_input(layer, name, path, ODD_ARRAYS[odd], odd)


@pytest.mark.parametrize("odd", list(ODD_LISTS))
@pytest.mark.parametrize(("layer", "name", "path"), caller_params(LIST_ARGS))
def test_odd_lists_give_an_argument_error_or_the_oracles_result(layer, name, path, odd):
    check_odd_input(layer, name, path, ODD_LISTS[odd], odd)
