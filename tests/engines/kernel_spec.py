"""The kernels' contract, modelled independently of the implementation (from the docstrings
and the README's "Engines" and "When things go wrong"): for a call's arguments, which
problems it has and so which exceptions it may raise, or that it must match the reference;
and the arrays hypothesis draws for it.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hypothesis import strategies as st

from fastmlp import kernels, names

FLOATS = [np.dtype(np.float32), np.dtype(np.float64)]
# Never accepted for a float argument.
BAD_FLOATS = [np.dtype(t) for t in (np.float16, np.int64, np.int32, np.bool_, np.object_)]
BAD_FLOATS.append(np.dtype(np.complex64))
# Accepted (converted exactly) for labels and row indices; then the ones that are not.
INDEX_DTYPES = [np.dtype(t) for t in (np.int64, np.int32, np.int8, np.uint8, np.uint64)]
BAD_INDEX_DTYPES = [np.dtype(t) for t in (np.float64, np.float32, np.bool_, np.object_)]
ACTIVATIONS = list(names.ACTIVATIONS)
BAD_NAMES = ["ReLU", "", "softmax", "relu ", "linear"]
INPUT_PATHS = list(names.INPUT_PATHS)

# Rust against the NumPy oracle (tests/support/networks.py has the reasoning): one computation, and
# a few SGD steps.
TOLERANCE = {np.float32: (2e-5, 2e-6), np.float64: (1e-11, 1e-13)}
STEPS_TOLERANCE = {np.float32: (1e-3, 1e-4), np.float64: (1e-9, 1e-11)}

# Arguments named by the error messages, as "arg:" or "arg[i]:".
ARGUMENT = re.compile(
    r"(?<![\w\]])(a|b|z|p|y_onehot|x|weights|biases|outputs|labels|order|lr|batch_size|"
    r"activation|input_path)(\[\d+\])?:"
)


# ==== drawing arrays ==========================================================================


def random_values(
    draw: st.DrawFn, shape: tuple[int, ...], scale: float = 1.0, zeros: bool = False
) -> np.ndarray:
    """float64 values of ``shape`` from a drawn seed (fast; the shape is what shrinks)."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1), label="seed"))
    values = np.asarray(rng.standard_normal(shape) * scale)  # a 0-D array, not a float
    if zeros and values.size:
        values[rng.random(shape) < draw(st.sampled_from([0.3, 0.8]), label="sparsity")] = 0
    return values


def as_dtype(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if dtype.kind in "iu":
            return np.clip(values * 10, -100, 100).astype(dtype)
        if dtype.kind == "O":
            return values.astype(object)
        return values.astype(dtype)


def other_float(value: np.ndarray) -> np.ndarray:
    """``value`` in the float dtype it is not in (float32 for anything but float32)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return value.astype(np.float64 if value.dtype == np.float32 else np.float32)


def relaid(array: np.ndarray, layout: str) -> np.ndarray:
    """``array``'s values in another memory layout (a view, or a copy made read-only)."""
    if layout == "fortran":
        return np.asfortranarray(array)
    if layout == "reversed" and array.ndim:
        return np.ascontiguousarray(array[::-1])[::-1]
    if layout == "strided" and array.ndim:
        wide = np.zeros((*array.shape[:-1], 2 * array.shape[-1]), array.dtype)
        wide[..., ::2] = array
        return wide[..., ::2]
    if layout == "read-only":
        out = array.copy()
        out.setflags(write=False)
        return out
    if layout == "misaligned" and array.dtype.kind != "O" and array.dtype.itemsize > 1:
        raw = np.zeros(array.nbytes + 1, np.uint8)
        out = raw[1:].view(array.dtype).reshape(array.shape)
        out[...] = array
        return out
    return array.copy()


LAYOUTS = ["C", "fortran", "reversed", "strided", "read-only", "misaligned"]


def reshaped(draw: st.DrawFn, array: np.ndarray) -> np.ndarray:
    """``array`` with a dimension added or dropped, or one dimension off by one (or zero)."""
    how = draw(st.sampled_from(["add", "drop", "resize"]), label="reshape")
    if how == "add":
        return array[np.newaxis] if draw(st.booleans()) else array[..., np.newaxis]
    if how == "drop" and array.ndim:
        if array.ndim == 1:
            return array[:1].reshape(()) if array.size else np.zeros((), array.dtype)
        return array[0] if len(array) else np.zeros(array.shape[1:], array.dtype)
    if not array.ndim:
        return array.reshape(1)
    axis = draw(st.integers(0, array.ndim - 1), label="axis")
    size = draw(st.sampled_from([0, array.shape[axis] + 1, max(array.shape[axis] - 1, 0)]))
    shape = list(array.shape)
    shape[axis] = size
    grown = np.resize(array, shape) if array.size and size else np.zeros(shape, array.dtype)
    return np.ascontiguousarray(grown)


def is_float_array(value: object) -> bool:
    return isinstance(value, np.ndarray) and value.dtype in FLOATS


def writable_c(value: np.ndarray) -> bool:
    return bool(value.flags.c_contiguous and value.flags.aligned and value.flags.writeable)


# ==== the contract ============================================================================


@dataclass
class Spec:
    """What a call must do: raise one of ``errors``, or (if none) succeed; ``empty`` allows a
    ``ValueError`` instead of a result (zero-size inputs, where NumPy itself is of two minds)."""

    errors: set[type[Exception]] = field(default_factory=set)
    empty: bool = False
    why: list[str] = field(default_factory=list)

    def error(self, kind: type[Exception], why: str) -> None:
        self.errors.add(kind)
        self.why.append(f"{kind.__name__}: {why}")


def check_float(spec: Spec, arg: str, value: object, dtype: np.dtype | None) -> bool:
    """A float array of ``dtype`` (or of either float dtype if None); records a TypeError."""
    if not isinstance(value, np.ndarray):
        spec.error(TypeError, f"{arg} is a {type(value).__name__}")
        return False
    if value.dtype not in FLOATS or (dtype is not None and value.dtype != dtype):
        spec.error(TypeError, f"{arg} has dtype {value.dtype}")
        return False
    return True


def check_rank(spec: Spec, arg: str, value: object, ndim: int) -> bool:
    if isinstance(value, np.ndarray) and value.ndim != ndim:
        spec.error(ValueError, f"{arg} has {value.ndim} dimensions")
        return False
    return isinstance(value, np.ndarray)


def spec_elementwise(args: dict[str, Any]) -> Spec:
    spec = Spec()
    check_float(spec, "z", args["z"], None)
    return spec


def spec_matmul(args: dict[str, Any]) -> Spec:
    spec = Spec()
    a, b = args["a"], args["b"]
    if check_float(spec, "a", a, None):
        check_float(spec, "b", b, a.dtype)
    ranks = [check_rank(spec, arg, v, 2) for arg, v in (("a", a), ("b", b))]
    if all(ranks) and a.shape[1] != b.shape[0]:
        spec.error(ValueError, f"a {a.shape} @ b {b.shape}")
    return spec


def spec_softmax(args: dict[str, Any]) -> Spec:
    spec = Spec()
    z = args["z"]
    if check_float(spec, "z", z, None) and check_rank(spec, "z", z, 2):
        spec.empty = z.size == 0
    return spec


def spec_cross_entropy(args: dict[str, Any]) -> Spec:
    spec = Spec()
    p, y = args["p"], args["y_onehot"]
    if check_float(spec, "p", p, None):
        check_float(spec, "y_onehot", y, p.dtype)
    ranks = [check_rank(spec, arg, v, 2) for arg, v in (("p", p), ("y_onehot", y))]
    if all(ranks):
        if p.shape != y.shape:
            spec.error(ValueError, f"p {p.shape} vs y_onehot {y.shape}")
        spec.empty = p.size == 0
    return spec


def check_list(spec: Spec, arg: str, value: object) -> list[Any] | None:
    if isinstance(value, (list, tuple)):
        return list(value)
    spec.error(TypeError, f"{arg} is a {type(value).__name__}")
    return None


def check_params(
    spec: Spec, args: dict[str, Any], dtype: np.dtype | None, in_place: bool, biases: bool = True
) -> tuple[int, ...] | None:
    """Weights (and biases): dtype, rank, layout, chaining. Returns the layer sizes if sound."""
    weights = check_list(spec, "weights", args["weights"])
    bias_list = check_list(spec, "biases", args["biases"]) if biases else []
    if weights is None or bias_list is None:
        return None
    sound = True
    named = [(f"weights[{i}]", w, 2) for i, w in enumerate(weights)]
    named += [(f"biases[{i}]", b, 1) for i, b in enumerate(bias_list)] if biases else []
    for arg, value, ndim in named:
        if not check_float(spec, arg, value, dtype):
            sound = False
            continue
        sound &= check_rank(spec, arg, value, ndim)
        if in_place and not writable_c(value):
            spec.error(ValueError, f"{arg} is not C-contiguous, aligned and writeable")
        elif not (value.flags.c_contiguous and value.flags.aligned):
            spec.empty = True  # read-only use: a copy or a ValueError
    if in_place:
        arrays = [v for _, v, _ in named if isinstance(v, np.ndarray)]
        for i, first in enumerate(arrays):
            if any(np.shares_memory(first, other) for other in arrays[i + 1 :]):
                spec.error(ValueError, "two parameters share memory")
                break
    if not weights:
        spec.error(ValueError, "no weights")
        return None
    if biases and len(bias_list) != len(weights):
        spec.error(ValueError, f"{len(weights)} weights, {len(bias_list)} biases")
        sound = False
    if not sound:
        return None
    sizes = (weights[0].shape[0], *(w.shape[1] for w in weights))
    for i in range(1, len(weights)):
        if weights[i].shape[0] != weights[i - 1].shape[1]:
            spec.error(ValueError, f"weights[{i}] does not chain")
            sound = False
    if 0 in sizes:
        spec.error(ValueError, f"a layer of size 0: {sizes}")
        sound = False
    for i, b in enumerate(bias_list if biases else []):
        if b.shape != (weights[i].shape[1],):
            spec.error(ValueError, f"biases[{i}] is {b.shape}")
            sound = False
    return sizes if sound else None


def check_activation(spec: Spec, args: dict[str, Any]) -> None:
    if args["activation"] not in ACTIVATIONS:
        spec.error(ValueError, f"activation {args['activation']!r}")


def check_inputs(spec: Spec, arg: str, x: object, dtype: np.dtype | None, width: int | None) -> int:
    """The rows of a 2-D float input ``x`` of ``width`` columns (-1 if it is not one)."""
    if not check_float(spec, arg, x, dtype) or not check_rank(spec, arg, x, 2):
        return -1
    assert isinstance(x, np.ndarray)
    if width is not None and x.shape[1] != width:
        spec.error(ValueError, f"{arg} is {x.shape}, weights want {width} columns")
        return -1
    return x.shape[0]


def check_lr(spec: Spec, lr: object, dtype: np.dtype | None) -> None:
    if isinstance(lr, int) and abs(lr) > 1e308:
        spec.error(ValueError, "lr beyond a float")
        return
    with np.errstate(all="ignore"):
        value = (dtype or np.dtype(np.float64)).type(lr)
    if not (np.isfinite(value) and value > 0):
        spec.error(ValueError, f"lr {lr!r} is {value} in {dtype}")


def leader(args: dict[str, Any], arg: str) -> np.dtype | None:
    value = args[arg]
    return value.dtype if is_float_array(value) else None


def sparse_inputs(
    spec: Spec, x: kernels.SparseRows, sizes: tuple[int, ...] | None
) -> tuple[np.dtype, int]:
    """Compressed rows as ``x`` of train_epoch: (their dtype, their rows, or -1)."""
    if sizes is not None and x.shape[1] != sizes[0]:
        spec.error(ValueError, f"SparseRows x of shape {x.shape}, weights want {sizes[0]}")
        return np.dtype(x.dtype), -1
    return np.dtype(x.dtype), x.shape[0]


def spec_forward(args: dict[str, Any]) -> Spec:
    spec = Spec()
    check_activation(spec, args)
    dtype = leader(args, "x")
    sizes = check_params(spec, args, dtype, in_place=False)
    rows = check_inputs(spec, "x", args["x"], None, sizes[0] if sizes else None)
    spec.empty |= rows == 0
    return spec


def spec_backward(args: dict[str, Any]) -> Spec:
    spec = Spec()
    check_activation(spec, args)
    outputs = check_list(spec, "outputs", args["outputs"])
    if outputs is None:
        return spec
    if not outputs:
        spec.error(ValueError, "no outputs")
        return spec
    dtype = outputs[0].dtype if is_float_array(outputs[0]) else None
    sizes = check_params(spec, args, dtype, in_place=False, biases=False)
    rows = check_inputs(spec, "outputs[0]", outputs[0], None, sizes[0] if sizes else None)
    if sizes is not None and len(outputs) != len(sizes):
        spec.error(ValueError, f"{len(outputs)} outputs for {len(sizes) - 1} layers")
        return spec
    for i, out in enumerate(outputs[1:], start=1):
        width = sizes[i] if sizes else None
        got = check_inputs(spec, f"outputs[{i}]", out, dtype, width)
        if got >= 0 and rows >= 0 and got != rows:
            spec.error(ValueError, f"outputs[{i}] has {got} rows, not {rows}")
    y_rows = check_inputs(spec, "y_onehot", args["y_onehot"], dtype, sizes[-1] if sizes else None)
    if y_rows >= 0 and rows >= 0 and y_rows != rows:
        spec.error(ValueError, f"y_onehot has {y_rows} rows, not {rows}")
    spec.empty |= rows == 0
    return spec


def spec_sgd_step(args: dict[str, Any]) -> Spec:
    spec = Spec()
    check_activation(spec, args)
    dtype = leader(args, "x")
    sizes = check_params(spec, args, dtype, in_place=True)
    rows = check_inputs(spec, "x", args["x"], None, sizes[0] if sizes else None)
    y_rows = check_inputs(spec, "y_onehot", args["y_onehot"], dtype, sizes[-1] if sizes else None)
    if y_rows >= 0 and rows >= 0 and y_rows != rows:
        spec.error(ValueError, f"y_onehot has {y_rows} rows, not {rows}")
    if rows == 0:
        spec.error(ValueError, "x has no rows")
    check_lr(spec, args["lr"], dtype)
    return spec


def check_indices(spec: Spec, arg: str, value: object) -> np.ndarray | None:
    array = np.asarray(value)
    if array.dtype.kind not in "iu":
        spec.error(TypeError, f"{arg} has dtype {array.dtype}")
        return None
    if array.ndim != 1:
        spec.error(ValueError, f"{arg} has {array.ndim} dimensions")
        return None
    return array


def spec_train_epoch(args: dict[str, Any]) -> Spec:
    spec = Spec()
    check_activation(spec, args)
    if args["input_path"] not in INPUT_PATHS:
        spec.error(ValueError, f"input_path {args['input_path']!r}")
    batch_size = args["batch_size"]
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
        spec.error(TypeError, f"batch_size {batch_size!r}")
    elif batch_size < 1:
        spec.error(ValueError, f"batch_size {batch_size}")
    x = args["x"]
    if isinstance(x, kernels.SparseRows):
        sizes = check_params(spec, args, np.dtype(x.dtype), in_place=True)
        dtype, rows = sparse_inputs(spec, x, sizes)
    else:
        dtype = leader(args, "x")
        sizes = check_params(spec, args, dtype, in_place=True)
        rows = check_inputs(spec, "x", x, None, sizes[0] if sizes else None)
    check_lr(spec, args["lr"], dtype)
    labels = check_indices(spec, "labels", args["labels"])
    order = check_indices(spec, "order", args["order"])
    if labels is not None:
        if rows >= 0 and len(labels) != rows:
            spec.error(ValueError, f"{len(labels)} labels for {rows} rows")
        classes = sizes[-1] if sizes else None
        if classes is not None and labels.size and (labels.min() < 0 or labels.max() >= classes):
            spec.error(ValueError, f"labels outside [0, {classes})")
    if order is not None:
        if order.size == 0:
            spec.error(ValueError, "order is empty")
        elif rows >= 0 and (order.min() < 0 or order.max() >= rows):
            spec.error(ValueError, f"order outside [0, {rows})")
    return spec


SPECS: dict[str, Callable[[dict[str, Any]], Spec]] = {
    "matmul": spec_matmul,
    "relu": spec_elementwise,
    "tanh": spec_elementwise,
    "sigmoid": spec_elementwise,
    "softmax": spec_softmax,
    "cross_entropy": spec_cross_entropy,
    "forward": spec_forward,
    "backward": spec_backward,
    "sgd_step": spec_sgd_step,
    "train_epoch": spec_train_epoch,
    "train_epoch_stats": spec_train_epoch,
}
IN_PLACE = ("sgd_step", "train_epoch", "train_epoch_stats")
