"""Hypothesis strategies for the kernel property tests: a valid call of each
``fastmlp.kernels`` function, then perturbations of it.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest
from hypothesis import strategies as st

from fastmlp import kernels, reference
from tests.engines.kernel_runs import OUTCOMES
from tests.engines.kernel_spec import (
    ACTIVATIONS,
    ARGUMENT,
    BAD_FLOATS,
    BAD_INDEX_DTYPES,
    BAD_NAMES,
    FLOATS,
    INDEX_DTYPES,
    INPUT_PATHS,
    LAYOUTS,
    Spec,
    as_dtype,
    check_float,
    check_rank,
    is_float_array,
    other_float,
    random_values,
    relaid,
    reshaped,
)

# ==== strategies: a valid call, then perturbations =============================================


@st.composite
def elementwise_calls(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    shape = tuple(draw(st.lists(st.integers(0, 5), min_size=0, max_size=3), label="shape"))
    scale = draw(st.sampled_from([1.0, 30.0, 1e4]), label="scale")
    values = random_values(draw, shape, scale)
    if values.size and draw(st.booleans(), label="specials"):
        flat = values.reshape(-1)
        flat[draw(st.integers(0, flat.size - 1))] = draw(
            st.sampled_from([np.nan, np.inf, -np.inf, 1e300, -1e300, 0.0, -0.0])
        )
    dtype = draw(st.sampled_from(FLOATS + BAD_FLOATS), label="dtype")
    z: Any = as_dtype(values, dtype)
    layout = draw(st.sampled_from([*LAYOUTS, "list", "scalar"]), label="layout")
    if layout == "list":
        z = z.tolist()
    elif layout == "scalar":
        z = z.reshape(-1)[0] if z.size else 0.5
    else:
        z = relaid(z, layout)
    return {"z": z}, f"{layout} {dtype} {shape}"


@st.composite
def matmul_calls(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    m, k, n = (draw(st.integers(0, 6), label=d) for d in "mkn")
    dtype = draw(st.sampled_from(FLOATS), label="dtype")
    a = as_dtype(random_values(draw, (m, k), 3.0), dtype)
    b = as_dtype(random_values(draw, (k, n), 3.0), dtype)
    args: dict[str, Any] = {"a": a, "b": b}
    notes = []
    for _ in range(draw(st.integers(0, 2), label="perturbations")):
        arg = draw(st.sampled_from(["a", "b"]))
        how = draw(st.sampled_from(["dtype", "shape", "layout", "other float"]))
        notes.append(f"{how} {arg}")
        if how == "dtype":
            args[arg] = as_dtype(args[arg], draw(st.sampled_from(BAD_FLOATS)))
        elif how == "other float":
            args[arg] = other_float(args[arg])
        elif how == "shape":
            args[arg] = reshaped(draw, args[arg])
        else:
            args[arg] = relaid(args[arg], draw(st.sampled_from(LAYOUTS)))
    return args, ", ".join(notes)


@st.composite
def softmax_calls(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    rows, classes = draw(st.integers(0, 5)), draw(st.integers(0, 6))
    dtype = draw(st.sampled_from(FLOATS + BAD_FLOATS[:2]), label="dtype")
    scale = draw(st.sampled_from([1.0, 50.0, 1e30]), label="scale")
    z = as_dtype(random_values(draw, (rows, classes), scale), dtype)
    if draw(st.booleans(), label="reshape"):
        z = reshaped(draw, z)
    return {"z": relaid(z, draw(st.sampled_from(LAYOUTS)))}, f"{z.dtype} {z.shape}"


@st.composite
def cross_entropy_calls(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    rows, classes = draw(st.integers(0, 5)), draw(st.integers(0, 6))
    dtype = draw(st.sampled_from(FLOATS), label="dtype")
    logits = random_values(draw, (rows, classes), draw(st.sampled_from([1.0, 100.0])))
    p = reference.softmax(logits) if classes else logits
    y = np.zeros((rows, classes))
    if classes:
        y[np.arange(rows), draw(st.integers(0, classes - 1))] = 1
        if draw(st.booleans(), label="soft targets"):
            y = np.abs(random_values(draw, (rows, classes)))
    args: dict[str, Any] = {"p": as_dtype(p, dtype), "y_onehot": as_dtype(y, dtype)}
    notes = []
    for _ in range(draw(st.integers(0, 2), label="perturbations")):
        arg = draw(st.sampled_from(["p", "y_onehot"]))
        how = draw(st.sampled_from(["dtype", "shape", "layout", "transpose"]))
        notes.append(f"{how} {arg}")
        if how == "dtype":
            args[arg] = as_dtype(args[arg], draw(st.sampled_from(BAD_FLOATS + FLOATS)))
        elif how == "shape":
            args[arg] = reshaped(draw, args[arg])
        elif how == "transpose":
            args[arg] = np.ascontiguousarray(args[arg].T)
        else:
            args[arg] = relaid(args[arg], draw(st.sampled_from(LAYOUTS)))
    return args, ", ".join(notes)


def network(
    draw: st.DrawFn, dtype: np.dtype, max_layers: int = 3
) -> tuple[list[int], list[np.ndarray], list[np.ndarray]]:
    sizes = draw(st.lists(st.integers(1, 6), min_size=2, max_size=max_layers + 1), label="sizes")
    weights = [
        as_dtype(random_values(draw, (i, o), 1 / np.sqrt(i)), dtype)
        for i, o in itertools.pairwise(sizes)
    ]
    biases = [as_dtype(random_values(draw, (o,), 0.1), dtype) for o in sizes[1:]]
    return sizes, weights, biases


def perturb_list(draw: st.DrawFn, args: dict[str, Any], key: str, notes: list[str]) -> None:
    """One change to the array list ``args[key]``: an item's dtype, shape or layout, its length,
    or its type."""
    if not isinstance(args[key], (list, tuple)):
        return
    items = list(args[key])
    how = draw(st.sampled_from(["dtype", "other float", "shape", "layout", "length", "type"]))
    if how == "type":
        args[key] = draw(st.sampled_from([None, "weights", {0: 1}, 3]))
        notes.append(f"{key} is {args[key]!r}")
        return
    if how == "length" or not items:
        if items and draw(st.booleans()):
            items.pop(draw(st.integers(0, len(items) - 1)))
        else:
            items.append(items[-1].copy() if items else np.zeros((2, 2)))
        notes.append(f"{key} has {len(items)} items")
    else:
        i = draw(st.integers(0, len(items) - 1))
        value = items[i]
        notes.append(f"{how} {key}[{i}]")
        if how == "dtype":
            items[i] = as_dtype(value, draw(st.sampled_from(BAD_FLOATS)))
        elif how == "other float":
            items[i] = other_float(value)
        elif how == "shape":
            items[i] = reshaped(draw, value)
        else:
            items[i] = relaid(value, draw(st.sampled_from(LAYOUTS)))
    args[key] = items if draw(st.booleans()) else tuple(items)


def perturb_array(draw: st.DrawFn, args: dict[str, Any], key: str, notes: list[str]) -> None:
    value = args[key]
    if not isinstance(value, np.ndarray):
        return
    kinds = ["dtype", "other float", "shape", "layout"]
    how = draw(st.sampled_from([*kinds, "sparse rows"] if key == "x" else kinds))
    notes.append(f"{how} {key}")
    if how == "sparse rows":
        if is_float_array(value) and value.ndim == 2 and value.shape[1]:
            args[key] = kernels.SparseRows(np.ascontiguousarray(value))
            args["_dense_x"] = value
    elif how == "dtype":
        args[key] = as_dtype(value, draw(st.sampled_from(BAD_FLOATS)))
    elif how == "other float":
        args[key] = other_float(value)
    elif how == "shape":
        args[key] = reshaped(draw, value)
    else:
        args[key] = relaid(value, draw(st.sampled_from(LAYOUTS)))


def alias_bias(args: dict[str, Any], notes: list[str]) -> None:
    """biases[-1] as a view of a row of weights[-1] (always the right shape)."""
    biases = list(args["biases"])
    biases[-1] = args["weights"][-1][0]
    args["biases"] = biases
    notes.append("biases[-1] is a row of weights[-1]")


def put_nan(draw: st.DrawFn, args: dict[str, Any], notes: list[str]) -> None:
    """A NaN in one row of x: the loss of its batch is NaN, training diverges there."""
    if is_float_array(args["x"]) and args["x"].size:
        x = np.array(args["x"])
        x.reshape(-1)[draw(st.integers(0, x.size - 1), label="nan at")] = np.nan
        args["x"] = x
        notes.append("nan in x")


def one_hot(labels: np.ndarray, classes: int, dtype: np.dtype) -> np.ndarray:
    y = np.zeros((len(labels), classes), dtype)
    y[np.arange(len(labels)), labels] = 1
    return y


@st.composite
def forward_calls(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    dtype = draw(st.sampled_from(FLOATS), label="dtype")
    sizes, weights, biases = network(draw, dtype)
    rows = draw(st.integers(0, 6), label="rows")
    x = as_dtype(random_values(draw, (rows, sizes[0]), zeros=True), dtype)
    args: dict[str, Any] = {"weights": weights, "biases": biases, "x": x}
    args["activation"] = draw(st.sampled_from(ACTIVATIONS), label="activation")
    notes: list[str] = []
    for _ in range(draw(st.integers(0, 2), label="perturbations")):
        what = draw(st.sampled_from(["weights", "biases", "x", "activation", "alias"]))
        if what in ("weights", "biases"):
            perturb_list(draw, args, what, notes)
        elif what == "x":
            perturb_array(draw, args, "x", notes)
        elif what == "activation":
            args["activation"] = draw(st.sampled_from(BAD_NAMES))
        elif isinstance(args["weights"], (list, tuple)) and args["weights"]:
            if isinstance(args["biases"], (list, tuple)) and args["biases"]:
                alias_bias(args, notes)
    return args, ", ".join(notes)


@st.composite
def backward_calls(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    dtype = draw(st.sampled_from(FLOATS), label="dtype")
    sizes, weights, biases = network(draw, dtype)
    rows = draw(st.integers(0, 6), label="rows")
    x = as_dtype(random_values(draw, (rows, sizes[0]), zeros=True), dtype)
    activation = draw(st.sampled_from(ACTIVATIONS), label="activation")
    outputs = reference.forward(weights, biases, x, activation)
    labels = np.array([draw(st.integers(0, sizes[-1] - 1)) for _ in range(rows)], dtype=int)
    args: dict[str, Any] = {
        "weights": weights,
        "outputs": outputs,
        "y_onehot": one_hot(labels, sizes[-1], dtype),
        "activation": activation,
    }
    notes: list[str] = []
    for _ in range(draw(st.integers(0, 2), label="perturbations")):
        what = draw(st.sampled_from(["weights", "outputs", "y_onehot", "activation"]))
        if what in ("weights", "outputs"):
            perturb_list(draw, args, what, notes)
        elif what == "y_onehot":
            perturb_array(draw, args, "y_onehot", notes)
        else:
            args["activation"] = draw(st.sampled_from(BAD_NAMES))
    return args, ", ".join(notes)


LEARNING_RATES = [0.5, 0.05, 1e-3, 0.0, -0.1, np.nan, np.inf, 1e39, 1e-50, 10**400]


@st.composite
def sgd_step_calls(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    dtype = draw(st.sampled_from(FLOATS), label="dtype")
    sizes, weights, biases = network(draw, dtype)
    rows = draw(st.integers(1, 6), label="rows")
    x = as_dtype(random_values(draw, (rows, sizes[0]), zeros=True), dtype)
    labels = np.array([draw(st.integers(0, sizes[-1] - 1)) for _ in range(rows)], dtype=int)
    args: dict[str, Any] = {
        "weights": weights,
        "biases": biases,
        "x": x,
        "y_onehot": one_hot(labels, sizes[-1], dtype),
        "lr": draw(st.sampled_from(LEARNING_RATES[:3]), label="lr"),
        "activation": draw(st.sampled_from(ACTIVATIONS), label="activation"),
    }
    notes: list[str] = []
    for _ in range(draw(st.integers(0, 2), label="perturbations")):
        what = draw(
            st.sampled_from(["weights", "biases", "x", "y_onehot", "lr", "name", "nan", "misc"])
        )
        if what in ("weights", "biases"):
            perturb_list(draw, args, what, notes)
        elif what in ("x", "y_onehot"):
            perturb_array(draw, args, what, notes)
        elif what == "lr":
            args["lr"] = draw(st.sampled_from(LEARNING_RATES))
        elif what == "name":
            args["activation"] = draw(st.sampled_from(BAD_NAMES))
        elif what == "nan":
            put_nan(draw, args, notes)
        else:
            extra = draw(st.sampled_from(["alias", "no rows"]))
            notes.append(extra)
            if extra == "no rows" and is_float_array(args["x"]) and args["x"].ndim == 2:
                args["x"], args["y_onehot"] = args["x"][:0], args["y_onehot"][:0]
            elif isinstance(args["weights"], list) and isinstance(args["biases"], list):
                alias_bias(args, notes)
    return args, ", ".join(notes)


@st.composite
def train_epoch_calls(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    dtype = draw(st.sampled_from(FLOATS), label="dtype")
    sizes, weights, biases = network(draw, dtype)
    rows = draw(st.integers(1, 8), label="rows")
    x = as_dtype(random_values(draw, (rows, sizes[0]), zeros=True), dtype)
    labels = np.array([draw(st.integers(0, sizes[-1] - 1)) for _ in range(rows)])
    order = np.array(draw(st.lists(st.integers(0, rows - 1), min_size=1, max_size=10)))
    args: dict[str, Any] = {
        "weights": weights,
        "biases": biases,
        "x": x,
        "labels": labels.astype(draw(st.sampled_from(INDEX_DTYPES), label="labels dtype")),
        "order": order.astype(draw(st.sampled_from(INDEX_DTYPES), label="order dtype")),
        "lr": draw(st.sampled_from(LEARNING_RATES[:3]), label="lr"),
        "batch_size": draw(st.integers(1, 12), label="batch_size"),
        "activation": draw(st.sampled_from(ACTIVATIONS), label="activation"),
        "input_path": draw(st.sampled_from(INPUT_PATHS), label="input_path"),
    }
    notes: list[str] = []
    for _ in range(draw(st.integers(0, 2), label="perturbations")):
        what = draw(
            st.sampled_from(
                ["weights", "biases", "x", "indices", "scalars", "names", "nan", "misc"]
            )
        )
        if what in ("weights", "biases"):
            perturb_list(draw, args, what, notes)
        elif what == "x":
            perturb_array(draw, args, "x", notes)
        elif what == "indices":
            key = draw(st.sampled_from(["labels", "order"]))
            how = draw(st.sampled_from(["dtype", "shape", "layout", "range", "empty"]))
            notes.append(f"{how} {key}")
            value = args[key]
            if how == "dtype":
                args[key] = as_dtype(
                    value.astype(np.float64), draw(st.sampled_from(BAD_INDEX_DTYPES))
                )
            elif how == "shape":
                args[key] = reshaped(draw, value)
            elif how == "layout":
                args[key] = relaid(value, draw(st.sampled_from(LAYOUTS)))
            elif how == "range":
                value = value.astype(np.int64)
                value[draw(st.integers(0, len(value) - 1))] = draw(
                    st.sampled_from([-1, rows, sizes[-1], 2**40, -(2**62)])
                )
                args[key] = value
            else:
                args[key] = value[:0]
        elif what == "scalars":
            if draw(st.booleans()):
                args["lr"] = draw(st.sampled_from(LEARNING_RATES))
            else:
                args["batch_size"] = draw(
                    st.sampled_from([0, -1, 2**70, np.int32(3), True, 2.0, None])
                )
            notes.append(f"lr {args['lr']!r}, batch_size {args['batch_size']!r}")
        elif what == "names":
            key = draw(st.sampled_from(["activation", "input_path"]))
            args[key] = draw(st.sampled_from(BAD_NAMES))
        elif what == "nan":
            put_nan(draw, args, notes)
        else:
            extra = draw(st.sampled_from(["alias", "uint64 labels"]))
            notes.append(extra)
            if extra == "uint64 labels":
                args["labels"] = np.full(rows, 2**63 + 5, dtype=np.uint64)
            elif isinstance(args["weights"], list) and isinstance(args["biases"], list):
                alias_bias(args, notes)
    return args, ", ".join(notes)


@st.composite
def sparse_rows_calls(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    matrix = st.tuples(st.integers(0, 6), st.integers(0, 6))
    other = st.lists(st.integers(0, 6), min_size=1, max_size=3).map(tuple)
    shape = draw(st.one_of(matrix, matrix, other), label="shape")
    values = random_values(draw, shape, zeros=True)
    if values.size and draw(st.booleans(), label="nan"):
        values.reshape(-1)[draw(st.integers(0, values.size - 1))] = np.nan
    dtype = draw(st.sampled_from(FLOATS * 3 + BAD_FLOATS), label="dtype")
    layout = draw(st.sampled_from(["C", "C", *LAYOUTS, "list"]), label="layout")
    x = as_dtype(values, dtype)
    return {"x": x.tolist() if layout == "list" else relaid(x, layout)}, f"{layout} {dtype}"


def run_sparse_rows_case(args: dict[str, Any], note: str) -> None:
    """``kernels.SparseRows(x)``: the nonzeros of a 2-D float array, or TypeError/ValueError."""
    x = args["x"]
    spec = Spec()
    if check_float(spec, "x", x, None) and check_rank(spec, "x", x, 2):
        if x.shape[1] == 0:
            spec.error(ValueError, "x has no columns")
        spec.empty = not (x.flags.c_contiguous and x.flags.aligned)  # read as is, or refused
    context = f"SparseRows [{note}] expected {sorted(e.__name__ for e in spec.errors)}"
    try:
        rows = kernels.SparseRows(x)
    except (TypeError, ValueError) as err:
        OUTCOMES[type(err).__name__] += 1
        allowed = tuple(spec.errors | ({ValueError} if spec.empty else set()))
        assert allowed and isinstance(err, allowed), f"{context}: raised {err!r}"
        assert ARGUMENT.search(str(err)), f"{context}: names no argument: {err}"
        return
    except KeyboardInterrupt:
        raise
    except BaseException as err:
        raise AssertionError(f"{context}: raised {type(err).__name__}: {err}") from err
    OUTCOMES["result"] += 1
    assert not spec.errors, f"{context}: got {rows!r}"
    assert rows.shape == x.shape and rows.dtype == x.dtype.name, (context, rows)
    assert rows.nnz == np.count_nonzero(x), (context, rows)
    assert rows.density == pytest.approx(rows.nnz / max(x.size, 1)), (context, rows)
    assert repr(rows).startswith("SparseRows("), repr(rows)


STRATEGIES = {
    "matmul": (matmul_calls(), 500),
    "relu": (elementwise_calls(), 300),
    "tanh": (elementwise_calls(), 300),
    "sigmoid": (elementwise_calls(), 300),
    "softmax": (softmax_calls(), 300),
    "cross_entropy": (cross_entropy_calls(), 300),
    "forward": (forward_calls(), 500),
    "backward": (backward_calls(), 500),
    "sgd_step": (sgd_step_calls(), 500),
    "train_epoch": (train_epoch_calls(), 400),
    "train_epoch_stats": (train_epoch_calls(), 500),
    "SparseRows": (sparse_rows_calls(), 300),
}
