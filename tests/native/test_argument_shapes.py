"""Wrong shapes and ranks at the boundary: a ``ValueError`` naming the argument and both
shapes.

Every function of the engine contract is called through both layers: ``fastmlp.kernels`` and
``fastmlp._native`` directly (``tests/support/boundary.py`` has the valid calls).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from tests.support.boundary import (
    CALLERS,
    DTYPE_IDS,
    DTYPES,
    IN_PLACE,
    MATRIX_ARGS,
    TRAINING,
    caller_params,
    fails,
    function,
    get,
    make_args,
    names,
    put,
    snapshot,
)

# ---- shapes ---------------------------------------------------------------------------------


def cut_columns(a: np.ndarray, keep: int) -> np.ndarray:
    return np.ascontiguousarray(a[:, :keep])


# name -> (functions, mutate(args), substrings of the message: argument and both shapes)
SHAPE_CASES: dict[str, tuple[list[str], Callable[[dict[str, Any]], None], list[str]]] = {
    "x-features": (
        ["forward", *IN_PLACE],
        lambda args: put(args, "x", cut_columns(args["x"], 3)),
        ["x:", "(7, 3)", "(6, 5)"],
    ),
    "outputs0-features": (
        ["backward"],
        lambda args: put(args, "outputs[0]", cut_columns(args["outputs"][0], 3)),
        ["outputs[0]:", "(7, 3)", "(6, 5)"],
    ),
    "labels-length": (
        TRAINING,
        lambda args: put(args, "labels", args["labels"][:5].copy()),
        ["labels:", "(7,)", "(5,)"],
    ),
    "bias-length": (
        ["forward", *IN_PLACE],
        lambda args: put(args, "biases[1]", args["biases"][1][:3].copy()),
        ["biases[1]:", "(4,)", "(3,)"],
    ),
    "bias-count": (
        ["forward", *IN_PLACE],
        lambda args: put(args, "biases", args["biases"][:1]),
        ["biases:", "2 arrays", "1"],
    ),
    "weights-do-not-chain": (
        ["forward", "backward", *IN_PLACE],
        lambda args: put(args, "weights[1]", np.ones((3, 4), args["weights"][0].dtype)),
        ["weights[1]:", "(3, 4)", "(6, 5)"],
    ),
    "matmul-inner": (
        ["matmul"],
        lambda args: put(args, "b", np.ones((4, 3), args["a"].dtype)),
        ["b:", "(7, 6)", "(4, 3)"],
    ),
    "y-classes": (
        ["cross_entropy", "backward", "sgd_step"],
        lambda args: put(args, "y_onehot", cut_columns(args["y_onehot"], 3)),
        ["y_onehot:", "(7, 4)", "(7, 3)"],
    ),
    "y-rows": (
        ["cross_entropy", "backward", "sgd_step"],
        lambda args: put(args, "y_onehot", args["y_onehot"][:5].copy()),
        ["y_onehot:", "(7, 4)", "(5, 4)"],
    ),
    # The same number of values in the wrong shape must not be read as (7, 4).
    "y-transposed": (
        ["cross_entropy", "backward", "sgd_step"],
        lambda args: put(args, "y_onehot", args["y_onehot"].T.copy()),
        ["y_onehot:", "(7, 4)", "(4, 7)"],
    ),
    "layer-output-transposed": (
        ["backward"],
        lambda args: put(args, "outputs[1]", args["outputs"][1].T.copy()),
        ["outputs[1]:", "(7, 5)", "(5, 7)"],
    ),
    "outputs-count": (
        ["backward"],
        lambda args: put(args, "outputs", args["outputs"][:2]),
        ["outputs:", "3 arrays", "2"],
    ),
}


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize(
    ("layer", "name", "case"),
    [
        pytest.param(layer, name, case, id=f"{layer}.{name}-{case}")
        for case, (functions, _, _) in SHAPE_CASES.items()
        for layer, name in CALLERS
        if name in functions
    ],
)
def test_wrong_shape_is_a_value_error_with_both_shapes(layer, name, case, dtype):
    _, mutate, expected = SHAPE_CASES[case]
    args = make_args(name, dtype)
    mutate(args)
    before = snapshot(args)
    err = fails(function(layer, name), args, ValueError)
    for text in expected:
        assert text in str(err), f"{text!r} not in {err}"
    assert snapshot(args) == before


@pytest.mark.parametrize("rank", ["1-D", "3-D"])
@pytest.mark.parametrize(("layer", "name", "path"), caller_params(MATRIX_ARGS))
def test_matrix_arguments_must_be_2d(layer, name, path, rank):
    args = make_args(name, np.float64)
    value = get(args, path)
    wrong = value[0] if rank == "1-D" else value[np.newaxis]
    put(args, path, wrong)
    err = fails(function(layer, name), args, ValueError)
    assert names(err, path) and "2-D" in str(err) and str(wrong.shape) in str(err), str(err)


VECTOR_ARGS = {
    "forward": ["biases[0]", "biases[1]"],
    "sgd_step": ["biases[0]", "biases[1]"],
    **{f: ["biases[0]", "biases[1]", "labels", "order"] for f in TRAINING},
}


@pytest.mark.parametrize(("layer", "name", "path"), caller_params(VECTOR_ARGS))
def test_vector_arguments_must_be_1d(layer, name, path):
    args = make_args(name, np.float64)
    value = get(args, path)
    put(args, path, value[np.newaxis])
    err = fails(function(layer, name), args, ValueError)
    assert names(err, path) and "1-D" in str(err) and str((1, *value.shape)) in str(err)
