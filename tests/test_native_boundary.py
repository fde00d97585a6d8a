"""The Python/Rust boundary: what ``fastmlp.kernels`` and ``fastmlp._native`` do with bad input.

Every function of the engine contract is called through both layers: ``fastmlp.kernels`` (which
copies read-only inputs to C order and converts labels/order to int64) and ``fastmlp._native``
directly. Errors must be ``TypeError``/``ValueError`` naming the argument (README.md, "When
things go wrong"), never a PyO3 ``PanicException`` (a ``BaseException``); where odd input gives
a result, it is the oracle's (``fastmlp.reference``); arrays updated
in place must be C-contiguous, writeable and distinct; the GIL is released while Rust computes;
Ctrl-C and divergence stop training with the weights of the last good step.
"""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import fastmlp
from conftest import TOLERANCE
from fastmlp import _native, kernels, reference

# ---- valid calls --------------------------------------------------------------------------

SIZES = [6, 5, 4]  # inputs, one hidden layer, classes: weights (6, 5), (5, 4)
ROWS = 7
DTYPES = [np.float32, np.float64]
DTYPE_IDS = ["float32", "float64"]

FUNCTIONS = [
    "matmul",
    "relu",
    "tanh",
    "sigmoid",
    "softmax",
    "cross_entropy",
    "forward",
    "backward",
    "sgd_step",
    "train_epoch",
    "train_epoch_stats",
]
# (layer, function): every function of fastmlp.kernels, and each of _native's (train_epoch is
# kernels.py's: the first item of _native.train_epoch_stats).
CALLERS = [("kernels", f) for f in FUNCTIONS] + [
    ("_native", f) for f in FUNCTIONS if f != "train_epoch"
]
LAYERS = {"kernels": kernels, "_native": _native}
IN_PLACE = ["sgd_step", "train_epoch", "train_epoch_stats"]
TRAINING = ["train_epoch", "train_epoch_stats"]
WITH_PARAMS = ["forward", "backward", *IN_PLACE]
WITH_ACTIVATION = WITH_PARAMS

PARAMS = ["weights[0]", "weights[1]", "biases[0]", "biases[1]"]
# The float array arguments of each function, by path ("weights[1]" is weights' item 1).
FLOAT_ARGS = {
    "matmul": ["a", "b"],
    "relu": ["z"],
    "tanh": ["z"],
    "sigmoid": ["z"],
    "softmax": ["z"],
    "cross_entropy": ["p", "y_onehot"],
    "forward": [*PARAMS, "x"],
    "backward": ["weights[0]", "weights[1]", "outputs[0]", "outputs[1]", "outputs[2]", "y_onehot"],
    "sgd_step": [*PARAMS, "x", "y_onehot"],
    "train_epoch": [*PARAMS, "x"],
    "train_epoch_stats": [*PARAMS, "x"],
}
# The argument whose dtype chooses the precision of the call.
LEADER = {
    "matmul": "a",
    "cross_entropy": "p",
    "forward": "x",
    "backward": "outputs[0]",
    "sgd_step": "x",
    "train_epoch": "x",
    "train_epoch_stats": "x",
}
# Float arguments that are only read (kernels.py copies them to C order).
READ_ONLY_ARGS = {
    name: [p for p in paths if not p.startswith(("weights", "biases"))]
    for name, paths in FLOAT_ARGS.items()
}
# Arguments that must be 2-D.
MATRIX_ARGS = {
    name: [p for p in paths if not p.startswith("biases")]
    for name, paths in FLOAT_ARGS.items()
    if name not in ("relu", "tanh", "sigmoid")
}


def make_args(
    name: str, dtype: type, sizes: list[int] | None = None, rows: int = ROWS
) -> dict[str, Any]:
    """Fresh, valid keyword arguments of ``name`` (the same values on every call)."""
    sizes = SIZES if sizes is None else sizes
    rng = np.random.default_rng(0)
    weights = [
        rng.normal(0.0, 1.0 / np.sqrt(fan_in), (fan_in, fan_out)).astype(dtype)
        for fan_in, fan_out in itertools.pairwise(sizes)
    ]
    biases = [rng.normal(0.0, 0.1, fan_out).astype(dtype) for fan_out in sizes[1:]]
    x = rng.random((rows, sizes[0])).astype(dtype)
    labels = np.arange(rows, dtype=np.int64) % sizes[-1]
    y = np.eye(sizes[-1], dtype=dtype)[labels]
    params = {"weights": weights, "biases": biases}
    if name == "matmul":
        return {"a": x, "b": weights[0]}
    if name in ("relu", "tanh", "sigmoid", "softmax"):
        return {"z": x - 0.5}
    if name == "cross_entropy":
        return {"p": kernels.softmax(np.ascontiguousarray(x[:, : sizes[-1]])), "y_onehot": y}
    if name == "forward":
        return {**params, "x": x, "activation": "tanh"}
    if name == "backward":
        outputs = kernels.forward(weights, biases, x, "tanh")
        return {"weights": weights, "outputs": outputs, "y_onehot": y, "activation": "tanh"}
    if name == "sgd_step":
        return {**params, "x": x, "y_onehot": y, "lr": 0.1, "activation": "tanh"}
    order = np.arange(rows, dtype=np.int64)[::-1].copy()
    return {
        **params,
        "x": x,
        "labels": labels,
        "order": order,
        "lr": 0.1,
        "batch_size": 2,
        "activation": "tanh",
    }


def function(layer: str, name: str) -> Callable[..., Any]:
    return getattr(LAYERS[layer], name)


def parse(path: str) -> tuple[str, int | None]:
    match = re.fullmatch(r"(\w+)(?:\[(\d+)\])?", path)
    assert match
    return match[1], None if match[2] is None else int(match[2])


def get(args: dict[str, Any], path: str) -> Any:
    name, index = parse(path)
    return args[name] if index is None else args[name][index]


def put(args: dict[str, Any], path: str, value: Any) -> None:
    name, index = parse(path)
    if index is None:
        args[name] = value
    else:
        args[name] = list(args[name])
        args[name][index] = value


def snapshot(args: dict[str, Any]) -> list[bytes]:
    """The bytes of every weight and bias (to show that a failed call changed nothing)."""
    return [np.asarray(a).tobytes() for a in args.get("weights", []) + args.get("biases", [])]


def fails(
    call: Callable[..., Any], args: dict[str, Any], expected: type[Exception]
) -> BaseException:
    """The error ``call(**args)`` raises: an ``Exception`` (no PyO3 panic) of type ``expected``."""
    try:
        call(**args)
    except BaseException as err:  # a PanicException is one
        assert isinstance(err, Exception), f"{type(err).__name__} (a Rust panic?): {err}"
        assert type(err).__name__ != "PanicException", str(err)
        assert isinstance(err, expected), f"{type(err).__name__}: {err}"
        return err
    pytest.fail(f"{call.__name__} raised no error")


def names(err: BaseException, arg: str) -> bool:
    """Whether the message names ``arg`` as ``arg: ...`` (the convention of both layers)."""
    return re.search(rf"(?<![\w\]]){re.escape(arg)}:", str(err)) is not None


def assert_same(actual: Any, expected: Any) -> None:
    """Equal bit for bit (results of the same computation on the same values)."""
    if isinstance(expected, (list, tuple)):
        assert type(actual) is type(expected) and len(actual) == len(expected)
        for a, e in zip(actual, expected, strict=True):
            assert_same(a, e)
    elif isinstance(expected, np.ndarray):
        assert actual.dtype == expected.dtype and actual.shape == expected.shape
        assert actual.tobytes() == expected.tobytes()
    else:
        assert actual == expected


def caller_params(
    paths: dict[str, list[str]], callers: list[tuple[str, str]] = CALLERS
) -> list[Any]:
    return [
        pytest.param(layer, name, path, id=f"{layer}.{name}-{path}")
        for layer, name in callers
        for path in paths.get(name, [])
    ]


def callers_of(functions: list[str]) -> list[Any]:
    return [
        pytest.param(layer, name, id=f"{layer}.{name}")
        for layer, name in CALLERS
        if name in functions
    ]


# ---- memory layouts -------------------------------------------------------------------------


def fortran(a: np.ndarray) -> np.ndarray:
    return np.asfortranarray(a)


def transposed(a: np.ndarray) -> np.ndarray:
    """``a``'s values as the transpose of a C-ordered array (``x.T``)."""
    return np.ascontiguousarray(a.T).T


def strided(a: np.ndarray) -> np.ndarray:
    """``a``'s values as every other column of a wider array (``x[:, ::2]``)."""
    wide = np.zeros((*a.shape[:-1], 2 * a.shape[-1]), a.dtype)
    wide[..., ::2] = a
    return wide[..., ::2]


def misaligned(a: np.ndarray) -> np.ndarray:
    """``a``'s values, C-ordered, one byte off the element alignment."""
    raw = np.zeros(a.nbytes + 1, np.uint8)
    out = raw[1:].view(a.dtype).reshape(a.shape)
    out[...] = a
    return out


LAYOUTS_2D = {"fortran": fortran, "transposed": transposed, "strided": strided}
LAYOUTS_1D = {"strided": strided}


def relaid(a: np.ndarray, layout: str) -> np.ndarray:
    out = (LAYOUTS_2D | {"misaligned": misaligned})[layout](a)
    assert_same(out.copy(), a)
    if layout == "misaligned":
        assert out.flags.c_contiguous and not out.flags.aligned
    else:
        assert not out.flags.c_contiguous
    return out


# ---- dtypes ---------------------------------------------------------------------------------

BAD_DTYPES = [np.int64, np.float16, np.object_, np.bool_]


@pytest.mark.parametrize("bad", BAD_DTYPES, ids=lambda t: np.dtype(t).name)
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize(("layer", "name", "path"), caller_params(FLOAT_ARGS))
def test_wrong_dtype_is_a_type_error_naming_the_argument(layer, name, path, dtype, bad):
    args = make_args(name, dtype)
    put(args, path, get(args, path).astype(bad))
    before = snapshot(args)
    err = fails(function(layer, name), args, TypeError)
    assert names(err, path), str(err)
    assert np.dtype(dtype).name in str(err), str(err)  # expected
    assert np.dtype(bad).name in str(err), str(err)  # actual
    assert snapshot(args) == before


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize(
    ("layer", "name", "path"), caller_params({f: FLOAT_ARGS[f] for f in LEADER})
)
def test_mixed_float_dtypes_are_a_type_error(layer, name, path, dtype):
    """One argument in the other float dtype (e.g. float64 x, float32 weights): never a cast."""
    other = np.float64 if dtype == np.float32 else np.float32
    args = make_args(name, dtype)
    put(args, path, get(args, path).astype(other))
    err = fails(function(layer, name), args, TypeError)
    # The leader sets the precision, so the error names the first argument that disagrees.
    suspects = [path] if path != LEADER[name] else FLOAT_ARGS[name]
    assert any(names(err, arg) for arg in suspects), str(err)
    assert "float32" in str(err) and "float64" in str(err), str(err)


@pytest.mark.parametrize("bad", [np.float64, np.bool_, np.object_], ids=lambda t: np.dtype(t).name)
@pytest.mark.parametrize("arg", ["labels", "order"])
@pytest.mark.parametrize(("layer", "name"), callers_of(TRAINING))
def test_non_integer_labels_or_order_are_a_type_error(layer, name, arg, bad):
    args = make_args(name, np.float32)
    args[arg] = args[arg].astype(bad)
    err = fails(function(layer, name), args, TypeError)
    assert names(err, arg) and np.dtype(bad).name in str(err), str(err)


@pytest.mark.parametrize("arg", ["labels", "order"])
def test_native_wants_int64_indices_and_kernels_converts_them(arg):
    args = make_args("train_epoch", np.float64)
    args[arg] = args[arg].astype(np.int32)
    err = fails(_native.train_epoch_stats, args, TypeError)
    assert names(err, arg) and "int64" in str(err) and "int32" in str(err), str(err)
    expected_args = make_args("train_epoch", np.float64)
    expected = kernels.train_epoch(**expected_args)
    assert_same(kernels.train_epoch(**args), expected)
    assert_same(args["weights"], expected_args["weights"])


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


# ---- the GIL --------------------------------------------------------------------------------


def run_beside(work: Callable[[], Any]) -> dict[str, float]:
    """Run ``work`` in a thread while this thread keeps running a Python loop.

    Returns the call's duration, the iterations this thread made while the call was under way
    and the longest pause between two iterations: a call that holds the GIL stops this thread
    for all of its duration.
    """
    entered, returned, finished = threading.Event(), threading.Event(), threading.Event()
    times: dict[str, float] = {}

    def target() -> None:
        try:
            entered.set()
            times["enter"] = time.perf_counter()
            work()
            times["exit"] = time.perf_counter()
            returned.set()
        finally:
            finished.set()

    thread = threading.Thread(target=target)
    inside, longest, last = 0, 0.0, time.perf_counter()
    thread.start()
    while not finished.is_set():
        now = time.perf_counter()
        longest, last = max(longest, now - last), now
        if entered.is_set() and not returned.is_set():
            inside += 1
    thread.join()
    assert returned.is_set(), "the call failed"
    return {"seconds": times["exit"] - times["enter"], "inside": inside, "longest": longest}


def assert_ran_beside(measured: dict[str, float]) -> None:
    assert measured["seconds"] > 0.1, f"too little work to measure: {measured}"
    assert measured["inside"] > 1000, measured
    assert measured["longest"] < measured["seconds"] / 2, measured


def test_the_probe_sees_a_call_that_holds_the_gil():
    """The measurement itself can fail: a C loop that keeps the GIL stops the main thread."""
    measured = run_beside(lambda: sum(range(20_000_000)))
    assert measured["seconds"] > 0.1
    assert measured["longest"] > measured["seconds"] / 2, measured


def test_matmul_releases_the_gil():
    rng = np.random.default_rng(0)
    a = rng.random((4000, 4000), dtype=np.float32)
    b = rng.random((4000, 4000), dtype=np.float32)
    assert_ran_beside(run_beside(lambda: _native.matmul(a, b)))


def big_training(seed: int, rows: int = 20_000, hidden: int = 128) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    return {
        "weights": [
            (rng.standard_normal((784, hidden)) * 0.05).astype(np.float32),
            (rng.standard_normal((hidden, 10)) * 0.1).astype(np.float32),
        ],
        "biases": [np.zeros(hidden, np.float32), np.zeros(10, np.float32)],
        "x": rng.random((rows, 784), dtype=np.float32),
        "labels": rng.integers(0, 10, rows),
        "order": np.tile(rng.permutation(rows), 5),
        "lr": 0.01,
        "batch_size": 32,
        "activation": "relu",
    }


def test_train_epoch_releases_the_gil():
    args = big_training(0)
    assert_ran_beside(run_beside(lambda: _native.train_epoch_stats(**args)))


def test_a_busy_python_thread_barely_slows_training_on_the_main_thread():
    """Looking for Ctrl-C takes the GIL, which a busy thread holds for up to the switch
    interval (5 ms): done after every batch, this made the epoch 30-50 times slower."""
    threads = fastmlp.get_num_threads()
    fastmlp.set_num_threads(1)  # the engine's thread and the spinner: one core each
    stop = threading.Event()
    spinner = threading.Thread(target=lambda: [None for _ in iter(stop.is_set, True)])
    try:
        alone = big_training(0)
        start = time.perf_counter()
        _native.train_epoch_stats(**alone)
        seconds_alone = time.perf_counter() - start

        beside = big_training(0)
        spinner.start()
        start = time.perf_counter()
        _native.train_epoch_stats(**beside)
        seconds_beside = time.perf_counter() - start
    finally:
        stop.set()
        if spinner.is_alive():
            spinner.join()
        fastmlp.set_num_threads(threads)
    # Waiting 5 ms for the GIL after each of the 3,125 batches would cost 15 s.
    assert seconds_beside < 10 * seconds_alone + 0.5, (seconds_beside, seconds_alone)
    assert_same(beside["weights"], alone["weights"])


def test_two_models_trained_at_once_match_sequential_training():
    sequential = [big_training(seed, rows=4_000, hidden=64) for seed in (1, 2)]
    concurrent = [big_training(seed, rows=4_000, hidden=64) for seed in (1, 2)]
    expected = [kernels.train_epoch_stats(**args) for args in sequential]
    barrier = threading.Barrier(2)
    results: list[Any] = [None, None]

    def train(i: int) -> None:
        barrier.wait()
        results[i] = kernels.train_epoch_stats(**concurrent[i])

    threads = [threading.Thread(target=train, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == expected
    for done, alone in zip(concurrent, sequential, strict=True):
        assert_same(done["weights"] + done["biases"], alone["weights"] + alone["biases"])
    assert sequential[0]["weights"][0].tobytes() != sequential[1]["weights"][0].tobytes()


@pytest.mark.parametrize("threads", [0, -1])
def test_thread_count_must_be_positive(threads):
    before = fastmlp.get_num_threads()
    err = fails(fastmlp.set_num_threads, {"n": threads}, ValueError)
    assert names(err, "num_threads") and str(threads) in str(err), str(err)
    assert fastmlp.get_num_threads() == before


# ---- Ctrl-C ---------------------------------------------------------------------------------

CTRL_C_SCRIPT = textwrap.dedent(
    """
    import json, os, signal, threading, time
    import numpy as np
    from fastmlp import kernels

    rng = np.random.default_rng(0)
    n, features, hidden, classes = 60_000, 784, 128, 10
    x = rng.random((n, features), dtype=np.float32)
    labels = rng.integers(0, classes, n)
    order = rng.permutation(n)

    def params():
        r = np.random.default_rng(1)
        weights = [(r.standard_normal((features, hidden)) * 0.05).astype(np.float32),
                   (r.standard_normal((hidden, classes)) * 0.1).astype(np.float32)]
        return weights, [np.zeros(hidden, np.float32), np.zeros(classes, np.float32)]

    # How long the whole epoch (batches of 1) would take, from 2% of it.
    weights, biases = params()
    start = time.perf_counter()
    kernels.train_epoch(weights, biases, x, labels, order[: n // 50], 0.01, 1, "relu")
    estimate = (time.perf_counter() - start) * 50

    weights, biases = params()
    initial = [a.copy() for a in weights + biases]
    signalled = []

    def interrupt():
        time.sleep(0.3)
        signalled.append(time.perf_counter())
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt, daemon=True).start()
    start = time.perf_counter()
    try:
        kernels.train_epoch(weights, biases, x, labels, order, 0.01, 1, "relu")
        outcome = "finished"
    except KeyboardInterrupt:
        outcome = "interrupted"
    end = time.perf_counter()
    print(json.dumps({
        "outcome": outcome,
        "estimate": estimate,
        "in_call": end - start,
        "latency": end - signalled[0] if signalled else None,
        "finite": all(bool(np.isfinite(a).all()) for a in weights + biases),
        "changed": [a.tobytes() != b.tobytes() for a, b in zip(weights + biases, initial)],
    }))
    """
)


def test_ctrl_c_stops_train_epoch_between_batches():
    done = subprocess.run(
        [sys.executable, "-c", CTRL_C_SCRIPT], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr  # a crash or an uncaught interrupt fails here
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["outcome"] == "interrupted", report
    assert report["estimate"] > 1.0, f"the epoch is too short to interrupt: {report}"
    assert report["in_call"] < report["estimate"] / 2, report  # stopped early, not at the end
    assert report["latency"] < 0.25, report  # well under a second after the signal
    assert report["finite"], report
    assert all(report["changed"]), report  # steps happened before the interrupt


# ---- divergence -----------------------------------------------------------------------------

HUGE_LR = {np.float32: 1e30, np.float64: 1e300}


def check_diverged(err: BaseException, args: dict[str, Any], start: dict[str, Any]) -> None:
    """``err`` is a TrainingDivergedError and ``args``' weights are those before its batch."""
    assert isinstance(err, fastmlp.TrainingDivergedError)
    assert isinstance(err, FloatingPointError)
    assert isinstance(err.batch, int) and err.batch >= 0, err.batch
    assert not np.isfinite(err.loss), err.loss
    assert "smaller learning rate" in str(err), str(err)
    params = args["weights"] + args["biases"]
    assert all(np.isfinite(a).all() for a in params)
    # Replaying the batches before err.batch from the same start gives these weights exactly.
    if err.batch > 0:
        start["order"] = start["order"][: err.batch * start["batch_size"]]
        kernels.train_epoch(**start)
    assert_same(params, start["weights"] + start["biases"])


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize(("layer", "name"), callers_of(TRAINING))
def test_a_huge_learning_rate_diverges_with_the_last_good_weights(layer, name, dtype):
    def diverging() -> dict[str, Any]:
        args = make_args(name, dtype, sizes=[20, 16, 10], rows=200)
        args.update(lr=HUGE_LR[dtype], batch_size=10, activation="relu")
        return args

    args = diverging()
    err = fails(function(layer, name), args, fastmlp.TrainingDivergedError)
    assert err.batch > 0, "diverged before any step: the test shows nothing"
    check_diverged(err, args, diverging())


@pytest.mark.parametrize(("layer", "name"), callers_of(TRAINING))
def test_a_non_finite_row_stops_training_at_its_batch(layer, name):
    def poisoned() -> dict[str, Any]:
        args = make_args(name, np.float32, rows=10)
        args["x"][3, 0] = np.nan  # row 3 comes in batch 3 of order 9, 8, ..., 0
        return args

    args = poisoned()
    err = fails(function(layer, name), args, fastmlp.TrainingDivergedError)
    assert err.batch == 3, err.batch
    check_diverged(err, args, poisoned())


@pytest.mark.parametrize(("layer", "name"), callers_of(["sgd_step"]))
def test_sgd_step_with_a_non_finite_loss_leaves_the_weights(layer, name):
    args = make_args(name, np.float64)
    args["x"][0, 0] = np.nan
    before = snapshot(args)
    err = fails(function(layer, name), args, fastmlp.TrainingDivergedError)
    assert err.batch == 0 and not np.isfinite(err.loss)
    assert snapshot(args) == before
