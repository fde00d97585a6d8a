"""Wrong, mixed and non-integer dtypes at the boundary: a ``TypeError`` naming the argument.

Every function of the engine contract is called through both layers: ``fastmlp.kernels`` and
``fastmlp._native`` directly (``tests/support/boundary.py`` has the valid calls).
"""

from __future__ import annotations

import numpy as np
import pytest

from fastmlp import _native, kernels
from tests.support.boundary import (
    DTYPE_IDS,
    DTYPES,
    FLOAT_ARGS,
    LEADER,
    TRAINING,
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
