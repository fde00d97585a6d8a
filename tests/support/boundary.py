"""The Python/Rust boundary's shared pieces: a valid call of every function of the engine
contract, the two layers that take it (``fastmlp.kernels`` and ``fastmlp._native``), ways to
break it, and the array layouts."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from fastmlp import _native, kernels

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
