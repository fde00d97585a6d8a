"""Property-based tests (hypothesis): every ``fastmlp.kernels`` function on random arguments,
and the CSV and IDX readers on random files.

Kernels. For each function, hypothesis draws a valid call (random layer sizes, rows, dtype,
values) and then perturbs it: a wrong or mixed dtype (int, float16, bool, object, complex), a
dimension added or dropped (0-D, 1-D, 3-D), a dimension off by one, zero-size dimensions, a
Fortran-ordered, reversed, strided, read-only or misaligned view, aliased parameters, lists of
the wrong length, bad names, learning rates and batch sizes, labels or row indices out of range,
NaN inputs. An independent model of the contract (``Spec`` below, written from the docstrings
and the README's "Engines" and "When things go wrong", not from the implementation) says what
must happen:

* a valid call returns what ``fastmlp.reference`` returns, within float tolerance (parameters
  updated in place alike, inputs untouched); a zero-size or empty input may instead raise
  ``ValueError``;
* an invalid call raises ``TypeError`` or ``ValueError`` (the kinds its problems call for),
  naming an argument, and changes nothing;
* a non-finite loss raises ``fastmlp.TrainingDivergedError`` at the batch where the reference
  diverges, with the weights of the last good step;
* nothing else, ever: no other exception, no PyO3 ``PanicException``, no crash.

Each function's search runs in a child process (``python tests/test_properties.py NAME``), so
that a crash of the native code (a segfault, an abort) fails that test instead of ending the
run. The readers are pure Python and are searched in-process.

All searches are derandomized (the same examples on every run) and sized to keep the file
under 30 s.
"""

from __future__ import annotations

import gzip
import itertools
import os
import re
import signal
import struct
import subprocess
import sys
import time
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastmlp
from fastmlp import kernels, names, reference
from fastmlp.datasets import read_csv, read_idx

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

# Rust against the NumPy oracle (tests/conftest.py has the reasoning): one computation, and
# a few SGD steps.
TOLERANCE = {np.float32: (2e-5, 2e-6), np.float64: (1e-11, 1e-13)}
STEPS_TOLERANCE = {np.float32: (1e-3, 1e-4), np.float64: (1e-9, 1e-11)}

# Arguments named by the error messages, as "arg:" or "arg[i]:".
ARGUMENT = re.compile(
    r"(?<![\w\]])(a|b|z|p|y_onehot|x|weights|biases|outputs|labels|order|lr|batch_size|"
    r"activation|input_path)(\[\d+\])?:"
)


def search_settings(examples: int) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        print_blob=False,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
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


# ==== running a call against the contract =====================================================


def arrays_in(args: dict[str, Any], keys: tuple[str, ...]) -> list[np.ndarray]:
    found: list[np.ndarray] = []
    for key in keys:
        value = args.get(key)
        items = value if isinstance(value, (list, tuple)) else [value]
        found += [v for v in items if isinstance(v, np.ndarray)]
    return found


def snapshot(arrays: list[np.ndarray]) -> list[bytes]:
    return [a.tobytes() if a.dtype.kind != "O" else repr(a.tolist()).encode() for a in arrays]


def reference_args(name: str, args: dict[str, Any], dense_x: np.ndarray | None) -> dict[str, Any]:
    """``args`` for the oracle: parameters as fresh writeable copies (it updates them), and the
    dense array that compressed rows came from."""
    copied = dict(args)
    if dense_x is not None:
        copied["x"] = dense_x
    if name in IN_PLACE:
        copied["weights"] = [np.array(w) for w in args["weights"]]
        copied["biases"] = [np.array(b) for b in args["biases"]]
    return copied


def assert_close(got: Any, expected: Any, tolerance: tuple[float, float], what: str) -> None:
    if isinstance(expected, (list, tuple)):
        assert isinstance(got, (list, tuple)) and len(got) == len(expected), (what, got)
        for i, (g, e) in enumerate(zip(got, expected, strict=True)):
            assert_close(g, e, tolerance, f"{what}[{i}]")
        return
    rtol, atol = tolerance
    if isinstance(expected, (float, int)) and not isinstance(expected, np.generic):
        assert isinstance(got, (float, int)), (what, type(got))
        np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol, err_msg=what)
        return
    expected = np.asarray(expected)
    assert isinstance(got, np.ndarray), (what, type(got))
    assert got.shape == expected.shape and got.dtype == expected.dtype, (
        what,
        got.shape,
        got.dtype,
        expected.shape,
        expected.dtype,
    )
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol, equal_nan=True, err_msg=what)


def matmul_tolerance(a: np.ndarray, b: np.ndarray, dtype: type) -> tuple[np.ndarray, float]:
    """An absolute bound for ``a @ b``: rtol times the sum of |terms| of each entry."""
    rtol, atol = TOLERANCE[dtype]
    return rtol * (np.abs(a).astype(np.float64) @ np.abs(b).astype(np.float64)) + atol, rtol


def precision(name: str, args: dict[str, Any]) -> type:
    key = {"matmul": "a", "cross_entropy": "p", "relu": "z", "tanh": "z", "sigmoid": "z"}
    key |= {"softmax": "z", "backward": "outputs"}
    value = args.get(key.get(name, "x"))
    if isinstance(value, (list, tuple)):
        value = value[0]
    return np.dtype(value.dtype).type


# Outcomes seen by the search, printed by the child process (a check that it explores).
OUTCOMES: Counter[str] = Counter()


def run_case(name: str, args: dict[str, Any], note: str = "") -> None:
    """Call ``kernels.<name>(**args)`` and hold it to the contract."""
    args = dict(args)
    dense_x = args.pop("_dense_x", None)  # where x is SparseRows, what they were made from
    spec = SPECS[name](args)
    context = f"{name} [{note}] expected {sorted(e.__name__ for e in spec.errors) or 'success'}"
    context += f" because {spec.why}" if spec.why else ""
    params = arrays_in(args, ("weights", "biases")) if name in IN_PLACE else []
    inputs = [a for a in arrays_in(args, tuple(args)) if not any(a is p for p in params)]
    params_before, inputs_before = snapshot(params), snapshot(inputs)
    ref_args = reference_args(name, args, dense_x) if not spec.errors else None

    outcome: Any
    try:
        outcome = getattr(kernels, name)(**args)
    except (TypeError, ValueError, fastmlp.TrainingDivergedError) as err:
        outcome = err
    except KeyboardInterrupt:
        raise
    except BaseException as err:  # a PanicException is a BaseException
        raise AssertionError(f"{context}: raised {type(err).__name__}: {err}") from err
    assert snapshot(inputs) == inputs_before, f"{context}: an input was modified"
    OUTCOMES[type(outcome).__name__ if isinstance(outcome, Exception) else "result"] += 1

    if spec.errors:
        # Where a ValueError is allowed instead of a result, it may also come first.
        allowed = tuple(spec.errors | ({ValueError} if spec.empty else set()))
        assert isinstance(outcome, allowed), f"{context}: got {outcome!r}"
        assert ARGUMENT.search(str(outcome)), f"{context}: names no argument: {outcome}"
        assert snapshot(params) == params_before, f"{context}: a failed call changed parameters"
        return
    if spec.empty and isinstance(outcome, ValueError):
        assert snapshot(params) == params_before, f"{context}: a failed call changed parameters"
        return
    assert not isinstance(outcome, (TypeError, ValueError)), f"{context}: raised {outcome!r}"

    assert ref_args is not None
    dtype = precision(name, args)
    with np.errstate(all="ignore"):
        try:
            expected = getattr(reference, name)(**ref_args)
        except fastmlp.TrainingDivergedError as err:
            expected = err
        except ValueError:
            # NumPy refuses some zero-size inputs (the max of no logits): no values to compare.
            assert spec.empty, f"{context}: the oracle refused a valid call"
            assert isinstance(outcome, (float, np.ndarray)), f"{context}: got {outcome!r}"
            return
    diverged = isinstance(expected, fastmlp.TrainingDivergedError) or (
        name == "sgd_step" and not np.isfinite(expected)
    )
    if diverged:
        assert isinstance(outcome, fastmlp.TrainingDivergedError), f"{context}: got {outcome!r}"
        if name == "sgd_step":  # the reference has no check: the step never happened
            assert snapshot(params) == params_before, f"{context}: diverged step changed weights"
            return
        assert outcome.batch == expected.batch, (context, outcome.batch, expected.batch)
    else:
        assert not isinstance(outcome, BaseException), f"{context}: raised {outcome!r}"
    tolerance = (STEPS_TOLERANCE if name in IN_PLACE else TOLERANCE)[dtype]
    if name in IN_PLACE:
        assert_close(
            list(args["weights"]) + list(args["biases"]),
            ref_args["weights"] + ref_args["biases"],
            tolerance,
            f"{context}: parameters",
        )
        if diverged:
            return
    if name == "matmul":
        bound, _ = matmul_tolerance(args["a"], args["b"], dtype)
        assert isinstance(outcome, np.ndarray) and outcome.dtype == dtype, context
        assert outcome.shape == expected.shape, context
        assert (np.abs(outcome - expected) <= bound).all(), f"{context}: {outcome} vs {expected}"
    elif name == "cross_entropy" and args["p"].shape[0] == 0:
        assert outcome == 0.0, context  # the mean of no rows; NumPy says nan (with a warning)
    elif name == "forward":
        assert_close(outcome[1:], expected[1:], tolerance, context)
        np.testing.assert_array_equal(outcome[0], args["x"])
    else:
        assert_close(outcome, expected, tolerance, context)


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


def search(name: str) -> None:
    """The hypothesis search for ``kernels.<name>`` (run in a child process by the tests)."""
    strategy, examples = STRATEGIES[name]

    @search_settings(examples)
    @given(call=strategy)
    def holds_to_the_contract(call: tuple[dict[str, Any], str]) -> None:
        args, note = call
        if name == "SparseRows":
            run_sparse_rows_case(args, note)
        else:
            run_case(name, args, note)

    holds_to_the_contract()


def run_search_in_child(name: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONFAULTHANDLER": "1"}
    return subprocess.run(
        [sys.executable, __file__, name],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=Path(__file__).parent,
    )


@pytest.mark.parametrize("name", list(STRATEGIES))
def test_kernel_holds_to_the_contract_on_random_arguments(name: str) -> None:
    done = run_search_in_child(name)
    if done.returncode < 0:
        crash = signal.Signals(-done.returncode).name
        pytest.fail(f"kernels.{name}: the process died of {crash}\n{done.stderr[-6000:]}")
    assert done.returncode == 0, f"kernels.{name}:\n{done.stdout[-3000:]}\n{done.stderr[-6000:]}"
    assert f"searched kernels.{name}" in done.stdout, done.stdout


def test_a_crash_in_the_search_fails_the_test_instead_of_ending_the_run() -> None:
    done = subprocess.run(
        [sys.executable, __file__, "--crash"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == -signal.SIGSEGV, done


HUGE_RESULTS = """
import numpy as np
from fastmlp import kernels
f32 = np.float32
calls = {
    "matmul of two empty operands": lambda: kernels.matmul(
        np.zeros((2**20, 0), f32), np.zeros((0, 2**20), f32)
    ),
    "the same, past the address space": lambda: kernels.matmul(
        np.zeros((2**40, 0), f32), np.zeros((0, 2**40), f32)
    ),
    "forward of a thin x and a wide layer": lambda: kernels.forward(
        [np.ones((1, 2**20), f32)], [np.zeros(2**20, f32)], np.ones((2**20, 1), f32), "relu"
    ),
    "train_epoch of a batch that large": lambda: kernels.train_epoch(
        [np.ones((1, 2**20), f32), np.ones((2**20, 2), f32)], [np.zeros(2**20, f32),
        np.zeros(2, f32)], np.ones((2**20, 1), f32), np.zeros(2**20, int), np.arange(2**20),
        0.1, 2**20, "relu",
    ),
}
for name, call in calls.items():
    try:
        call()
        print(name, "returned")
    except (MemoryError, ValueError) as error:
        print(name, "raised", type(error).__name__, error)
"""


def test_results_too_large_to_allocate_are_a_memory_error_not_a_crash() -> None:
    """Small arrays whose result would need terabytes: NumPy raises MemoryError, and so must
    the engine (Rust's allocator would abort the process)."""
    done = subprocess.run(
        [sys.executable, "-c", HUGE_RESULTS], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, f"died with {done.returncode}:\n{done.stderr[-3000:]}"
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 4 and all("raised MemoryError" in line for line in lines), lines


# ==== readers =================================================================================

READER_SETTINGS = search_settings(150)


def csv_file(
    images: np.ndarray,
    labels: np.ndarray,
    *,
    header: bool,
    last: bool,
    spelling: str,
    newline: str,
    blank_lines: bool,
) -> str:
    def field(value: int) -> str:
        return {"plain": str(value), "float": f"{value}.0", "padded": f" {value} "}[spelling]

    rows = []
    if header:
        names = [f"{r}x{c}" for r in range(1, 29) for c in range(1, 29)]
        rows.append(",".join([*names, "label"] if last else ["label", *names]))
    for image, label in zip(images.reshape(len(images), -1), labels, strict=True):
        pixels = [field(int(v)) for v in image]
        rows.append(",".join([*pixels, field(int(label))] if last else [field(label), *pixels]))
        if blank_lines:
            rows.append("")
    return newline.join(rows) + newline


@st.composite
def csv_contents(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    n = draw(st.integers(1, 4), label="images")
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1), label="seed"))
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    images[rng.random((n, 28, 28)) < draw(st.sampled_from([0.0, 0.8, 1.0]))] = 0
    labels = np.array(draw(st.lists(st.integers(0, 2**53 - 1), min_size=n, max_size=n)))
    style = {
        "header": draw(st.booleans(), label="header"),
        "last": draw(st.booleans(), label="label last"),
        "spelling": draw(st.sampled_from(["plain", "float", "padded"]), label="spelling"),
        "newline": draw(st.sampled_from(["\n", "\r\n"]), label="newline"),
        "blank_lines": draw(st.booleans(), label="blank lines"),
    }
    return images, labels, style


@READER_SETTINGS
@given(content=csv_contents(), compress=st.booleans())
def test_read_csv_round_trips_random_files(content, compress, tmp_path_factory) -> None:
    images, labels, style = content
    data = csv_file(images, labels, **style).encode()
    path = tmp_path_factory.mktemp("csv") / "data.csv"
    path.write_bytes(gzip.compress(data) if compress else data)
    x, y = read_csv(path, label_column="last" if style["last"] else "first")
    assert x.dtype == np.uint8 and x.shape == images.shape
    assert y.dtype == np.int64 and y.shape == labels.shape
    np.testing.assert_array_equal(x, images)
    np.testing.assert_array_equal(y, labels)


@READER_SETTINGS
@given(
    content=csv_contents(),
    compress=st.booleans(),
    edits=st.lists(
        st.tuples(st.integers(0, 2**20), st.sampled_from(list(b"0123456789,.-+eE \n\rx\x00\xff"))),
        min_size=1,
        max_size=4,
    ),
    cut=st.one_of(st.none(), st.integers(0, 2**20)),
    insert=st.one_of(st.none(), st.tuples(st.integers(0, 2**20), st.binary(max_size=6))),
)
def test_read_csv_on_corrupt_files_raises_only_value_error(
    content, compress, edits, cut, insert, tmp_path_factory
) -> None:
    images, labels, style = content
    data = bytearray(csv_file(images, labels, **style).encode())
    for position, value in edits:
        data[position % len(data)] = value
    if insert is not None:
        position, extra = insert
        data[position % len(data) : position % len(data)] = extra
    if compress:
        data = bytearray(gzip.compress(bytes(data)))
    if cut is not None:
        data = data[: cut % (len(data) + 1)]
    path = tmp_path_factory.mktemp("csv") / "data.csv"
    path.write_bytes(bytes(data))
    try:
        x, y = read_csv(path, label_column="last" if style["last"] else "first")
    except ValueError as error:
        assert str(path) in str(error), error
        return
    assert x.dtype == np.uint8 and x.ndim == 3 and x.shape[1:] == (28, 28) and len(x) >= 1
    assert y.dtype == np.int64 and y.shape == (len(x),) and (y >= 0).all()


IDX_CODES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


@READER_SETTINGS
@given(
    code=st.sampled_from(sorted(IDX_CODES)),
    dims=st.lists(st.sampled_from([0, 1, 2, 3, 2**16, 2**31 - 1, 2**32 - 1]), max_size=80),
    payload=st.one_of(st.none(), st.binary(max_size=64)),
)
def test_read_idx_on_any_header_returns_its_shape_or_names_the_file(
    code, dims, payload, tmp_path_factory
) -> None:
    """Random dimension lists (up to 80, some huge, some zero) with the payload they need or
    random bytes: the array of that shape, or a ValueError naming the file."""
    count = int(np.prod(dims, dtype=object)) if dims else 0
    itemsize = np.dtype(IDX_CODES[code]).itemsize
    if payload is None:
        payload = bytes(count * itemsize) if count * itemsize <= 4096 else b""
    data = bytes([0, 0, code, len(dims)]) + struct.pack(f">{len(dims)}I", *dims) + payload
    path = tmp_path_factory.mktemp("idx") / "file.idx"
    path.write_bytes(data)
    try:
        array = read_idx(path)
    except ValueError as error:
        assert str(path) in str(error), error
        return
    assert array.shape == tuple(dims) and array.dtype == np.dtype(IDX_CODES[code]).newbyteorder("=")
    assert array.dtype.isnative and array.flags.writeable


FUZZ_REGRESSIONS = Path(__file__).parent.parent / "fuzz" / "regressions"


@pytest.mark.parametrize(
    "path",
    sorted(FUZZ_REGRESSIONS.glob("*/*")) if FUZZ_REGRESSIONS.is_dir() else [],
    ids=lambda p: f"{p.parent.name}/{p.name[:20]}",
)
def test_inputs_the_fuzzer_found_raise_a_value_error_naming_the_file(path: Path, tmp_path):
    copy = tmp_path / "input"
    copy.write_bytes(path.read_bytes())
    reader = {"idx": read_idx, "csv": read_csv, "model": fastmlp.MLP.load}[path.parent.name]
    with pytest.raises(ValueError, match=re.escape(str(copy))):
        reader(copy)


# ==== the child process =======================================================================

if __name__ == "__main__":
    if sys.argv[1:] == ["--crash"]:
        import ctypes

        ctypes.string_at(0)  # what a native crash looks like to the parent
    for function_name in sys.argv[1:] or list(STRATEGIES):
        OUTCOMES.clear()
        started = time.perf_counter()
        search(function_name)
        seconds = time.perf_counter() - started
        seen = ", ".join(f"{count} {kind}" for kind, count in OUTCOMES.most_common())
        print(f"searched kernels.{function_name} in {seconds:.1f} s: {seen}", flush=True)
