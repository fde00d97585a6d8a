"""Memory layout at the boundary: ``fastmlp.kernels`` reads any layout of a read-only input,
``fastmlp._native`` wants C order; arrays updated in place must be C-contiguous, writeable and
distinct, and are the caller's own.

Every function of the engine contract is called through both layers: ``fastmlp.kernels`` and
``fastmlp._native`` directly (``tests/support/boundary.py`` has the valid calls).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.support.boundary import (
    CALLERS,
    DTYPE_IDS,
    DTYPES,
    FUNCTIONS,
    IN_PLACE,
    LAYOUTS_1D,
    LAYOUTS_2D,
    PARAMS,
    READ_ONLY_ARGS,
    TRAINING,
    assert_same,
    callers_of,
    fails,
    function,
    get,
    make_args,
    names,
    parse,
    put,
    relaid,
    snapshot,
)

# ---- memory order ---------------------------------------------------------------------------

INPUT_LAYOUTS = [*LAYOUTS_2D, "misaligned"]


def read_only_inputs(name: str) -> list[str]:
    return READ_ONLY_ARGS[name] + (["labels", "order"] if name in TRAINING else [])


def layouts_of(path: str) -> list[str]:
    return ["strided", "misaligned"] if parse(path)[0] in ("labels", "order") else INPUT_LAYOUTS


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize(
    ("name", "path", "layout"),
    [
        pytest.param(name, path, layout, id=f"{name}-{path}-{layout}")
        for name in FUNCTIONS
        for path in read_only_inputs(name)
        for layout in layouts_of(path)
    ],
)
def test_kernels_reads_any_layout_of_read_only_inputs(name, path, layout, dtype):
    """Fortran-ordered, strided or misaligned read-only inputs: the C-order result, exactly."""
    expected_args = make_args(name, dtype)
    expected = function("kernels", name)(**expected_args)
    args = make_args(name, dtype)
    value = relaid(get(args, path), layout)
    value.setflags(write=False)
    put(args, path, value)
    assert_same(function("kernels", name)(**args), expected)
    for params in ("weights", "biases"):  # updated in place: the same steps were taken
        if params in args:
            assert_same(args[params], expected_args[params])


@pytest.mark.parametrize(
    ("name", "path", "layout"),
    [
        pytest.param(name, path, layout, id=f"{name}-{path}-{layout}")
        for name in FUNCTIONS
        if name != "train_epoch"
        for path in read_only_inputs(name)
        for layout in layouts_of(path)
    ],
)
def test_native_rejects_inputs_that_are_not_c_ordered(name, path, layout):
    """Straight to ``_native``: a ValueError, never a silently transposed or strided read."""
    args = make_args(name, np.float32)
    before = snapshot(args)
    put(args, path, relaid(get(args, path), layout))
    err = fails(function("_native", name), args, ValueError)
    assert names(err, path), str(err)
    assert ("aligned" if layout == "misaligned" else "C-contiguous") in str(err), str(err)
    assert snapshot(args) == before


@pytest.mark.parametrize(
    ("layer", "name", "path", "layout"),
    [
        pytest.param(layer, name, path, layout, id=f"{layer}.{name}-{path}-{layout}")
        for layer, name in CALLERS
        if name in IN_PLACE
        for path in PARAMS
        for layout in [*(LAYOUTS_2D if path.startswith("weights") else LAYOUTS_1D), "misaligned"]
    ],
)
def test_params_updated_in_place_must_be_c_ordered_in_both_layers(layer, name, path, layout):
    args = make_args(name, np.float64)
    put(args, path, relaid(get(args, path), layout))
    before = snapshot(args)
    err = fails(function(layer, name), args, ValueError)
    assert names(err, path), str(err)
    assert ("aligned" if layout == "misaligned" else "C-contiguous") in str(err), str(err)
    assert snapshot(args) == before


# ---- read-only and aliased arrays -----------------------------------------------------------


@pytest.mark.parametrize("path", PARAMS)
@pytest.mark.parametrize(("layer", "name"), callers_of(IN_PLACE))
def test_read_only_params_are_a_value_error(layer, name, path):
    args = make_args(name, np.float32)
    get(args, path).setflags(write=False)
    before = snapshot(args)
    err = fails(function(layer, name), args, ValueError)
    assert names(err, path) and "read-only" in str(err), str(err)
    assert snapshot(args) == before


@pytest.mark.parametrize(("layer", "name"), callers_of(["forward", "backward"]))
def test_read_only_arrays_are_fine_where_nothing_is_written(layer, name):
    args = make_args(name, np.float32)
    expected = function(layer, name)(**make_args(name, np.float32))
    for arg in ("weights", "biases", "outputs"):
        for value in args.get(arg, []):
            value.setflags(write=False)
    for arg in ("x", "y_onehot"):
        if arg in args:
            args[arg].setflags(write=False)
    assert_same(function(layer, name)(**args), expected)


def alias_weights_twice(args: dict[str, Any]) -> str:
    put(args, "weights[1]", args["weights"][0])
    return "weights[1]"


def alias_bias_to_own_weight(args: dict[str, Any]) -> str:
    put(args, "biases[0]", args["weights"][0][0])  # row 0 of (6, 6): 6 values, C-contiguous
    return "biases[0]"


def alias_bias_to_other_weight(args: dict[str, Any]) -> str:
    put(args, "biases[1]", args["weights"][0][1])
    return "biases[1]"


def alias_x_to_weight(args: dict[str, Any]) -> str:
    put(args, "x", args["weights"][0])  # (6, 6): 6 rows of 6 features
    return "weights[0]"


def alias_x_to_view_of_weight(args: dict[str, Any]) -> str:
    put(args, "x", args["weights"][1][:, :])
    return "weights[1]"


ALIASES = [
    alias_weights_twice,
    alias_bias_to_own_weight,
    alias_bias_to_other_weight,
    alias_x_to_weight,
    alias_x_to_view_of_weight,
]


@pytest.mark.parametrize("alias", ALIASES, ids=lambda f: f.__name__.removeprefix("alias_"))
@pytest.mark.parametrize(("layer", "name"), callers_of(IN_PLACE))
def test_aliased_arrays_are_a_value_error_not_a_panic(layer, name, alias):
    """Square layers (6 -> 6 -> 6) so that aliased shapes chain; the error names the second use."""
    args = make_args(name, np.float32, sizes=[6, 6, 6], rows=6)
    arg = alias(args)
    before = snapshot(args)
    err = fails(function(layer, name), args, ValueError)
    assert names(err, arg) and "same array" in str(err), str(err)
    assert snapshot(args) == before


# ---- in place -------------------------------------------------------------------------------


@pytest.mark.parametrize(("layer", "name"), callers_of(IN_PLACE))
def test_training_updates_the_callers_arrays_in_place(layer, name):
    args = make_args(name, np.float32)
    arrays = args["weights"] + args["biases"]
    ids = [id(a) for a in arrays]
    before = snapshot(args)
    function(layer, name)(**args)
    assert [id(a) for a in args["weights"] + args["biases"]] == ids
    after = [a.tobytes() for a in arrays]  # the caller's own arrays, not copies
    assert all(b != a for b, a in zip(before, after, strict=True))
    assert all(np.isfinite(a).all() for a in arrays)
