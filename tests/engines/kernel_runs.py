"""Running one drawn call of a ``fastmlp.kernels`` function against the contract
(``kernel_spec.py``) and the NumPy reference, and counting the outcomes.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

import fastmlp
from fastmlp import kernels, reference
from tests.engines.kernel_spec import ARGUMENT, IN_PLACE, SPECS, STEPS_TOLERANCE, TOLERANCE

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
