"""scipy.sparse inputs straight into the first layer (``kernels.sparse_rows``), never densified.

On the dense path the Rust engine expands each batch's rows from the compressed rows, so a CSR
matrix trains bit for bit as its dense array; on the sparse path it trains bit for bit as the
``SparseRows`` of that array. Bad matrices are the same ``ValueError`` in both engines.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import fastmlp
from fastmlp import kernels, reference
from tests.support.networks import ENGINES, TOLERANCE, copy_params, make_params

sparse = pytest.importorskip("scipy.sparse")

CONTAINERS = ["csr_matrix", "csr_array", "csc_matrix", "csc_array", "coo_matrix"]


def sparse_rows_data(n: int, features: int, dtype: type, density: float = 0.15, seed: int = 3):
    rng = np.random.default_rng(seed)
    dense = (rng.random((n, features)) * (rng.random((n, features)) < density)).astype(dtype)
    dense[[0, 4]] = 0  # empty rows
    return dense, rng.integers(0, 3, size=n)


def run_epoch(x, labels, sizes, dtype, input_path, engine=kernels, batch_size=8):
    weights, biases = make_params(sizes, dtype)
    order = np.random.default_rng(4).permutation(labels.shape[0])
    loss, correct = engine.train_epoch_stats(
        weights, biases, x, labels, order, 0.1, batch_size, "tanh", input_path=input_path
    )
    return loss, correct, weights + biases


def assert_same_epoch(got, want) -> None:
    assert got[0] == want[0]
    assert got[1] == want[1]
    for a, b in zip(got[2], want[2], strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("container", CONTAINERS)
@pytest.mark.parametrize("input_path", ["dense", "sparse"])
def test_a_sparse_matrix_trains_bit_for_bit_as_its_dense_rows(dtype, container, input_path):
    """Dense path: as the dense array; sparse path: as the array's own SparseRows."""
    dense, labels = sparse_rows_data(70, 20, dtype)
    matrix = getattr(sparse, container)(dense)
    want_x = dense if input_path == "dense" else kernels.SparseRows(dense)
    want = run_epoch(want_x, labels, [20, 6, 3], dtype, input_path)
    got = run_epoch(matrix, labels, [20, 6, 3], dtype, input_path)
    assert_same_epoch(got, want)


@pytest.mark.parametrize("index_dtype", [np.int16, np.int32, np.int64, np.uint32])
def test_any_integer_index_dtype(index_dtype):
    dense, labels = sparse_rows_data(40, 20, np.float32)
    csr = sparse.csr_matrix(dense)
    # Built by hand: scipy itself keeps int32/int64 indices.
    matrix = sparse.csr_matrix((csr.data, csr.indices, csr.indptr), shape=csr.shape)
    matrix.indices = csr.indices.astype(index_dtype)
    matrix.indptr = csr.indptr.astype(index_dtype)
    for path in ("dense", "sparse"):
        want_x = dense if path == "dense" else kernels.SparseRows(dense)
        assert_same_epoch(
            run_epoch(matrix, labels, [20, 3], np.float32, path),
            run_epoch(want_x, labels, [20, 3], np.float32, path),
        )


def scrambled(dense: np.ndarray, seed: int = 5):
    """A CSR matrix equal to ``dense`` with, in every row, its entries in reverse column
    order, one value split in two stored entries of the same column (exact halves), and an
    explicit zero: the forms scipy allows that SparseRows canonicalises."""
    rng = np.random.default_rng(seed)
    indptr, indices, data = [0], [], []
    for row in dense:
        columns = list(np.flatnonzero(row)[::-1])
        values = [row[c] for c in columns]
        if columns:
            values[0] /= 2
            columns.append(columns[0])
            values.append(values[0])
        zero_at = int(rng.integers(0, dense.shape[1]))
        if row[zero_at] == 0:
            columns.append(zero_at)
            values.append(0.0)
        indices += columns
        data += values
        indptr.append(len(indices))
    matrix = sparse.csr_matrix(
        (np.array(data, dtype=dense.dtype), np.array(indices), np.array(indptr)),
        shape=dense.shape,
    )
    assert not matrix.has_sorted_indices or matrix.nnz > np.count_nonzero(dense)
    return matrix


@pytest.mark.parametrize("input_path", ["dense", "sparse"])
def test_unsorted_repeated_and_zero_entries_are_canonicalised(dtype, input_path):
    dense, labels = sparse_rows_data(60, 20, dtype)
    dense = np.round(dense * 8) / 8  # halves stay exact
    matrix = scrambled(dense)
    np.testing.assert_array_equal(matrix.toarray(), dense)
    rows = kernels.sparse_rows(matrix)
    assert rows.nnz == np.count_nonzero(dense)
    want_x = dense if input_path == "dense" else kernels.SparseRows(dense)
    assert_same_epoch(
        run_epoch(matrix, labels, [20, 6, 3], dtype, input_path),
        run_epoch(want_x, labels, [20, 6, 3], dtype, input_path),
    )
    # The reference reads the scrambled matrix as scipy does.
    got = run_epoch(matrix, labels, [20, 6, 3], dtype, input_path, engine=reference)
    want = run_epoch(dense, labels, [20, 6, 3], dtype, input_path, engine=reference)
    assert got[0] == pytest.approx(want[0], rel=TOLERANCE[dtype]["rtol"] * 10)


@pytest.mark.parametrize("engine_name", list(ENGINES))
@pytest.mark.parametrize("sizes", [[20, 3], [20, 6, 3], [20, 6, 5, 3]], ids=["0h", "1h", "2h"])
@pytest.mark.parametrize("output", ["softmax", "logistic", "identity", "exp"])
def test_forward_on_a_sparse_matrix(engine_name, dtype, activation, sizes, output):
    engine = ENGINES[engine_name]
    dense, _ = sparse_rows_data(30, 20, dtype)
    weights, biases = make_params(sizes, dtype)
    matrix = sparse.csr_matrix(dense)
    want = reference.forward(weights, biases, dense, activation, output=output)
    got = engine.forward(weights, biases, matrix, activation, output=output)
    assert got[0] is matrix
    assert len(got) == len(want)
    for a, b in zip(got[1:], want[1:], strict=True):
        assert a.dtype == dtype
        np.testing.assert_allclose(a, b, **TOLERANCE[dtype])


def test_training_inputs_compress_a_sparse_matrix_once():
    dense, _ = sparse_rows_data(50, 20, np.float32)
    for path in ("dense", "sparse", "auto"):
        prepared = kernels.training_inputs(sparse.csc_matrix(dense), path)
        assert isinstance(prepared.x, kernels.SparseRows)
        assert prepared.x.nnz == np.count_nonzero(dense)
        assert prepared.input_path == kernels.preferred_input_path(dense) or path != "auto"
    assert kernels.sparse_plan(sparse.csr_matrix(dense)) == kernels.sparse_plan(dense)


# ---- bad matrices: the same error in both engines ------------------------------------------


def good_matrix() -> sparse.csr_matrix:
    dense = np.zeros((4, 5), dtype=np.float64)
    dense[1, [0, 3]] = [0.5, 0.25]
    dense[2, 4] = 1.0
    dense[3, 1] = 2.0
    return sparse.csr_matrix(dense)


def broken(kind: str) -> sparse.csr_matrix:
    """``good_matrix()`` broken in one way (scipy checks little when arrays are set)."""
    m = good_matrix()
    if kind == "index too large":
        m.indices[2] = 5
    elif kind == "negative index":
        m.indices[1] = -1
    elif kind == "indptr decreases":
        m.indptr[1] = 3
    elif kind == "indptr not from 0":
        m.indptr = m.indptr + 1
    elif kind == "indptr overruns":
        m.indptr[-1] = 9
    elif kind == "nan":
        m.data[3] = np.nan
    elif kind == "inf":
        m.data[0] = -np.inf
    return m


MESSAGES = {
    "index too large": "x: column index 5 of row 2 is outside [0, 5)",
    "negative index": "x: column index -1 of row 1 is outside [0, 5)",
    "indptr decreases": "x: indptr decreases: indptr[2] = 2 < indptr[1] = 3",
    "indptr not from 0": "x: expected indptr[0] = 0, got 1",
    "indptr overruns": "x: indptr[4] = 9 exceeds the 4 stored entries",
    "nan": "x: the stored value at row 3, column 1 is NaN or infinite",
    "inf": "x: the stored value at row 1, column 0 is NaN or infinite",
}


def error_of(call) -> str:
    with pytest.raises(ValueError) as caught:
        call()
    return str(caught.value)


@pytest.mark.parametrize("kind", list(MESSAGES))
def test_a_bad_matrix_is_the_same_error_in_both_engines(kind):
    weights, biases = make_params([5, 3], np.float64)
    labels, order = np.zeros(4, dtype=np.int64), np.arange(4)
    messages = set()
    for engine in ENGINES.values():
        messages.add(
            error_of(
                lambda e=engine: e.train_epoch(
                    copy_params(weights), copy_params(biases), broken(kind), labels, order,
                    0.1, 2, "relu",
                )
            )
        )  # fmt: skip
        messages.add(error_of(lambda e=engine: e.forward(weights, biases, broken(kind), "relu")))
    assert len(messages) == 1, messages
    assert messages.pop().startswith(MESSAGES[kind])
    assert error_of(lambda: kernels.sparse_rows(broken(kind))).startswith(MESSAGES[kind])


def test_a_matrix_of_the_wrong_width_is_the_same_error_in_both_engines():
    weights, biases = make_params([6, 3], np.float64)
    messages = set()
    for engine in ENGINES.values():
        messages.add(
            error_of(
                lambda e=engine: e.train_epoch(
                    weights, biases, good_matrix(), np.zeros(4, dtype=np.int64), np.arange(4),
                    0.1, 2, "relu",
                )
            )
        )  # fmt: skip
        messages.add(error_of(lambda e=engine: e.forward(weights, biases, good_matrix(), "relu")))
    assert messages == {"x: expected 6 columns (weights[0]'s fan_in), got 5"}


# ---- never densified ------------------------------------------------------------------------


@pytest.fixture
def no_densifying(monkeypatch):
    """Every scipy.sparse class's ``toarray``/``todense`` raises while the test runs."""

    def refuse(self, *args, **kwargs):
        raise AssertionError(f"densified a {type(self).__name__} of shape {self.shape}")

    for name in ("csr_matrix", "csr_array", "csc_matrix", "csc_array", "coo_matrix"):
        for method in ("toarray", "todense"):
            monkeypatch.setattr(getattr(sparse, name), method, refuse)


@pytest.mark.parametrize("container", ["csr_matrix", "csc_matrix"])
def test_the_rust_engine_never_densifies(no_densifying, container):
    dense, labels = sparse_rows_data(80, 20, np.float32)
    matrix = getattr(sparse, container)(dense)
    for path in ("dense", "sparse", "auto"):
        got = run_epoch(matrix, labels, [20, 6, 3], np.float32, path)
        assert np.isfinite(got[0])
    model = fastmlp.MLP([20, 6, 3], seed=0, engine="rust")
    model.fit(matrix, labels, epochs=2, batch_size=16, lr=0.1, progress=False)
    model.partial_fit(matrix, labels, batch_size=16)
    model.fit(matrix, labels, epochs=1, batch_size=16, validation_data=(matrix, labels))
    np.testing.assert_array_equal(model.predict(matrix), model.predict(dense))
    assert model.evaluate(matrix, labels) == pytest.approx(model.evaluate(dense, labels))


def test_a_huge_sparse_matrix_trains_and_predicts_in_little_memory():
    """200,000 x 100,000 float32 (80 GB dense) with 3 nonzeros a row."""
    rows, features, per_row = 200_000, 100_000, 3
    rng = np.random.default_rng(0)
    indices = rng.integers(0, features, size=rows * per_row)
    labels = (indices[::per_row] % 2).astype(np.int64)  # learnable from the first column
    matrix = sparse.csr_matrix(
        (np.ones(rows * per_row, dtype=np.float32), indices, np.arange(0, rows * per_row + 1, 3)),
        shape=(rows, features),
    )
    model = fastmlp.MLP([features, 4, 2], seed=0, engine="rust")
    tracemalloc.start()
    try:
        model.fit(matrix, labels, epochs=1, batch_size=256, lr=0.1)
        predicted = model.predict(matrix[:20_000])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert predicted.shape == (20_000,)
    # NumPy's share: W[0] (1.6 MB), labels, the order, index copies; never a dense row block.
    assert peak < 64 * 2**20, f"peak {peak / 2**20:.0f} MiB"


@pytest.mark.parametrize("container", ["csr_matrix", "csc_matrix"])
@pytest.mark.parametrize("input_path", ["dense", "sparse"])
def test_mlp_fits_a_sparse_matrix_bit_for_bit_as_its_dense_rows(container, input_path):
    """Through MLP.fit (progress bar: many calls an epoch) and predict_proba: on the dense
    path as the dense array, on the sparse path as the dense array compressed."""
    dense, labels = sparse_rows_data(120, 20, np.float32)
    models = []
    for x in (dense, getattr(sparse, container)(dense)):
        model = fastmlp.MLP([20, 8, 3], seed=0, engine="rust", input_path=input_path)
        model.fit(x, labels, epochs=3, batch_size=8, lr=0.2, progress=lambda history: None)
        model.fit(x, labels, epochs=1, batch_size=8, lr=0.2, progress=True)
        models.append((model, x))
    (a, dense_x), (b, matrix) = models
    for p, q in zip(a.weights + a.biases, b.weights + b.biases, strict=True):
        np.testing.assert_array_equal(p, q)
    assert a.history_.loss == b.history_.loss
    np.testing.assert_allclose(
        b.predict_proba(matrix), a.predict_proba(dense_x), **TOLERANCE[np.float32]
    )
