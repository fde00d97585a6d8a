"""The sparse first-layer path: the same epochs as the dense path and the NumPy oracle.

The paths sum the same products in different orders, so they agree within the epoch
tolerances of ``tests/support/networks.py`` (float32: rtol 1e-3, atol 1e-4; float64: rtol 1e-9,
atol 1e-11)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import fastmlp
from fastmlp import kernels, reference
from tests.support.networks import EPOCH_TOLERANCE, copy_params, make_params

DENSITIES = [0.0, 0.05, 0.2, 0.5, 1.0]


def sparse_data(n: int, features: int, density: float, dtype: type, seed: int = 0):
    """Rows in [0, 1) with about ``density`` of the values nonzero; rows 0 and 5 all zero."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, features)) * (rng.random((n, features)) < density)
    x[[0, 5]] = 0
    labels = rng.integers(0, 10, size=n)
    return x.astype(dtype), labels


@pytest.mark.parametrize("density", DENSITIES)
@pytest.mark.parametrize(
    "sizes", [[64, 10], [64, 32, 10], [64, 32, 16, 10]], ids=["0h", "1h", "2h"]
)
@pytest.mark.parametrize("batch_size", [1, 13, 64])
def test_sparse_dense_and_oracle_agree(dtype, activation, density, sizes, batch_size) -> None:
    x, labels = sparse_data(150, sizes[0], density, dtype)
    order = np.random.default_rng(1).permutation(150)
    weights, biases = make_params(sizes, dtype, seed=2)
    results = {}
    for path in ("dense", "sparse"):
        w, b = copy_params(weights), copy_params(biases)
        loss, correct = kernels.train_epoch_stats(
            w, b, x, labels, order, 0.05, batch_size, activation, input_path=path
        )
        results[path] = (loss, correct, w + b)
    w, b = copy_params(weights), copy_params(biases)
    results["oracle"] = (
        *reference.train_epoch_stats(w, b, x, labels, order, 0.05, batch_size, activation),
        w + b,
    )
    dense_loss, dense_correct, dense_params = results["dense"]
    for name in ("sparse", "oracle"):
        loss, correct, params = results[name]
        assert loss == pytest.approx(dense_loss, rel=EPOCH_TOLERANCE[dtype]["rtol"]), name
        assert abs(correct - dense_correct) <= 1, name  # an argmax tie may round either way
        for got, want in zip(params, dense_params, strict=True):
            np.testing.assert_allclose(got, want, **EPOCH_TOLERANCE[dtype], err_msg=name)


def mnist_rows(n: int, dtype: type) -> tuple[np.ndarray, np.ndarray]:
    """The first ``n`` digits of the bundled MNIST sample, as (n, 784) rows in [0, 1]."""
    data = fastmlp.datasets.load("mnist-sample")
    return fastmlp.datasets.prepare(data.x_train[:n], dtype=dtype), data.y_train[:n]


# Rows of both kinds the sparse path groups differently: digits share their nonzero pixels
# (groups of 8 rows), random rows of density 0.05 do not (row by row).
WIDE_INPUTS = {
    "digits": (lambda dtype: mnist_rows(200, dtype), 8),
    "random": (lambda dtype: sparse_data(200, 784, 0.05, dtype, seed=6), 1),
}


@pytest.mark.parametrize("inputs", list(WIDE_INPUTS))
@pytest.mark.parametrize("hidden", [128, 250])
def test_a_wide_first_layer_agrees_with_the_dense_path_and_the_oracle(dtype, inputs, hidden):
    """784 inputs into 128 or 250 units: the sparse kernels' every block width (8, 4, 2 and 1
    vectors, and a partial one at 250), in groups of 8 rows and row by row."""
    make, group_rows = WIDE_INPUTS[inputs]
    x, labels = make(dtype)
    assert kernels.sparse_plan(x).group_rows == group_rows
    order = np.random.default_rng(7).permutation(len(x))
    weights, biases = make_params([784, hidden, 10], dtype, seed=8)
    results = {}
    for path in ("dense", "sparse"):
        w, b = copy_params(weights), copy_params(biases)
        stats = kernels.train_epoch_stats(w, b, x, labels, order, 0.1, 32, "relu", input_path=path)
        results[path] = (*stats, w + b)
    w, b = copy_params(weights), copy_params(biases)
    stats = reference.train_epoch_stats(w, b, x, labels, order, 0.1, 32, "relu")
    results["oracle"] = (*stats, w + b)
    oracle_loss, oracle_correct, oracle_params = results["oracle"]
    for name in ("dense", "sparse"):
        loss, correct, params = results[name]
        assert loss == pytest.approx(oracle_loss, rel=EPOCH_TOLERANCE[dtype]["rtol"]), name
        assert abs(correct - oracle_correct) <= 1, name  # an argmax tie may round either way
        for got, want in zip(params, oracle_params, strict=True):
            np.testing.assert_allclose(got, want, **EPOCH_TOLERANCE[dtype], err_msg=name)


def count_right_before_each_step(
    weights, biases, x, labels, order, lr, batch_size, activation
) -> tuple[int, int]:
    """The oracle's count of rows classified right before their batch's step, replayed step by
    step with ``reference.forward`` and ``reference.sgd_step``; and the count after the step."""
    classes = weights[-1].shape[1]
    before = after = 0
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        y_onehot = np.eye(classes, dtype=x.dtype)[labels[rows]]
        predicted = reference.forward(weights, biases, x[rows], activation)[-1].argmax(axis=1)
        before += int(np.count_nonzero(predicted == labels[rows]))
        reference.sgd_step(weights, biases, x[rows], y_onehot, lr, activation)
        predicted = reference.forward(weights, biases, x[rows], activation)[-1].argmax(axis=1)
        after += int(np.count_nonzero(predicted == labels[rows]))
    return before, after


@pytest.mark.parametrize(
    ("engine", "path"), [("rust", "dense"), ("rust", "sparse"), ("numpy", "dense")]
)
def test_the_correct_count_is_the_rows_right_before_their_step(dtype, engine, path) -> None:
    x, labels = sparse_data(300, 40, 0.2, dtype, seed=9)
    order = np.random.default_rng(10).permutation(300)
    weights, biases = make_params([40, 16, 10], dtype, seed=11)
    args = (x, labels, order, 0.5, 20, "tanh")
    before, after = count_right_before_each_step(copy_params(weights), copy_params(biases), *args)
    assert before != after  # the steps change predictions: the count must be taken before them
    module = {"rust": kernels, "numpy": reference}[engine]
    _, correct = module.train_epoch_stats(weights, biases, *args, input_path=path)
    assert correct == before


def test_batches_of_one_all_zero_row(dtype) -> None:
    x = np.zeros((3, 20), dtype=dtype)
    labels = np.array([1, 2, 3])
    weights, biases = make_params([20, 8, 10], dtype)
    w, b = copy_params(weights), copy_params(biases)
    kernels.train_epoch(w, b, x, labels, np.arange(3), 0.1, 1, "relu", input_path="sparse")
    # Zero inputs: the first layer's weights get no gradient, its bias does.
    np.testing.assert_array_equal(w[0], weights[0])
    assert not np.array_equal(b[0], biases[0]) or not np.array_equal(w[1], weights[1])


def test_auto_picks_a_path_and_matches_both(dtype) -> None:
    x, labels = sparse_data(300, 64, 0.1, dtype, seed=3)
    order = np.arange(300)
    weights, biases = make_params([64, 16, 10], dtype)
    finals = []
    for path in ("auto", "dense", "sparse"):
        w, b = copy_params(weights), copy_params(biases)
        kernels.train_epoch(w, b, x, labels, order, 0.1, 32, "tanh", input_path=path)
        finals.append(w + b)
    for other in finals[1:]:
        for got, want in zip(finals[0], other, strict=True):
            np.testing.assert_allclose(got, want, **EPOCH_TOLERANCE[dtype])


def test_input_path_is_checked() -> None:
    weights, biases = make_params([4, 3], np.float32)
    x = np.zeros((2, 4), np.float32)
    for engine in (kernels, reference):
        with pytest.raises(ValueError, match="input_path"):
            engine.train_epoch(
                weights, biases, x, np.array([0, 1]), np.arange(2), 0.1, 1, "relu", input_path="csr"
            )
    with pytest.raises(ValueError, match="input_path"):
        fastmlp.MLP([4, 3], input_path="fast")


def test_mlp_trains_the_same_model_on_either_path() -> None:
    data = fastmlp.datasets.load("mnist-sample")
    x = fastmlp.datasets.prepare(data.x_train[:1000])
    y = data.y_train[:1000]
    models = [fastmlp.MLP([784, 32, 10], seed=0, input_path=p) for p in ("dense", "sparse")]
    for model in models:
        model.fit(x, y, epochs=2, batch_size=64)
    for a, b in zip(models[0].weights, models[1].weights, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4)


def test_precompressed_rows_train_like_the_dense_array(dtype) -> None:
    x, labels = sparse_data(200, 64, 0.2, dtype, seed=4)
    order = np.random.default_rng(5).permutation(200)
    rows = kernels.SparseRows(x)
    assert rows.shape == x.shape and rows.dtype == np.dtype(dtype).name
    assert rows.nnz == np.count_nonzero(x)
    assert rows.density == pytest.approx(np.count_nonzero(x) / x.size)
    weights, biases = make_params([64, 16, 10], dtype)
    finals = []
    for inputs, path in ((x, "dense"), (rows, "sparse"), (rows, "dense"), (rows, "auto")):
        w, b = copy_params(weights), copy_params(biases)
        kernels.train_epoch(w, b, inputs, labels, order, 0.1, 16, "relu", input_path=path)
        finals.append(w + b)
    for other in finals[1:]:
        for got, want in zip(finals[0], other, strict=True):
            np.testing.assert_allclose(got, want, **EPOCH_TOLERANCE[dtype])


def test_precompressed_rows_are_checked() -> None:
    x = np.zeros((4, 6), np.float32)
    rows = kernels.SparseRows(x)
    w32, b32 = make_params([6, 3], np.float32)
    w64, b64 = make_params([6, 3], np.float64)
    with pytest.raises(TypeError, match=r"weights\[0\]: expected dtype float32"):
        kernels.train_epoch(w64, b64, rows, np.zeros(4, int), np.arange(4), 0.1, 2, "relu")
    w_wide, b_wide = make_params([7, 3], np.float32)
    with pytest.raises(ValueError, match="x: expected 7 columns"):
        kernels.train_epoch(w_wide, b_wide, rows, np.zeros(4, int), np.arange(4), 0.1, 2, "relu")
    with pytest.raises(ValueError, match="labels"):
        kernels.train_epoch(w32, b32, rows, np.zeros(3, int), np.arange(3), 0.1, 2, "relu")
    with pytest.raises(TypeError, match="x: expected dtype float32 or float64"):
        kernels.SparseRows(np.zeros((2, 2), np.int32))
    with pytest.raises(ValueError, match="x: expected a 2-D array"):
        kernels.SparseRows(np.zeros(3, np.float32))
    assert "SparseRows(shape=(4, 6)" in repr(rows)


def test_fit_compresses_the_inputs_once_for_the_sparse_path(monkeypatch) -> None:
    built = []
    real = kernels.SparseRows

    def counting(x):
        built.append(x.shape)
        return real(x)

    monkeypatch.setattr(kernels, "SparseRows", counting)
    x, labels = sparse_data(100, 30, 0.05, np.float32)
    # Wide enough that compressing once pays over 3 epochs (64 / (3 * 256) of a dense epoch).
    fastmlp.MLP([30, 256, 10], seed=0, input_path="auto").fit(x, labels, epochs=3, batch_size=10)
    assert built == [(100, 30)]
    built.clear()
    dense_x = np.random.default_rng(0).random((100, 30), dtype=np.float32) + 0.1
    fastmlp.MLP([30, 8, 10], seed=0, input_path="auto").fit(
        dense_x, labels, epochs=2, batch_size=10
    )
    assert built == []  # dense data: no compression


def spy_on_epoch_calls(monkeypatch) -> list[dict]:
    """Record the x and the input path that every kernels.train_epoch_stats call takes (the
    call is still made): a path that TrainingInputs carries is the one "auto" takes."""
    calls: list[dict] = []
    real = kernels.train_epoch_stats

    def recording(weights, biases, x, labels, order, *args, input_path="auto", **kwargs):
        rows, path = x, input_path
        if isinstance(x, kernels.TrainingInputs):
            rows, path = x.x, (x.input_path if input_path == "auto" else input_path)
        calls.append({"x": rows, "input_path": path, "rows": len(order)})
        return real(weights, biases, x, labels, order, *args, input_path=input_path, **kwargs)

    monkeypatch.setattr(kernels, "train_epoch_stats", recording)
    return calls


@pytest.mark.parametrize(
    ("data", "path"), [("scattered", "sparse"), ("digits", "dense"), ("full", "dense")]
)
def test_fit_decides_auto_once_and_passes_the_path_to_every_call(monkeypatch, data, path):
    """With a progress bar an epoch is ~50 calls: each gets the path decided once per fit, so
    the core neither plans again nor compresses x per call. Digits stay dense: the sparse
    path does not earn a quarter of the dense epoch's time there (issue 14.4)."""
    if data == "digits":
        x, labels = mnist_rows(1000, np.float32)
    elif data == "scattered":
        x, labels = sparse_data(1000, 784, 0.05, np.float32)
    else:
        x = np.random.default_rng(0).random((1000, 784), dtype=np.float32) + 0.1
        labels = np.arange(1000) % 10
    asked = []
    real_preferred = kernels.preferred_input_path
    monkeypatch.setattr(
        kernels,
        "preferred_input_path",
        lambda x, **kw: asked.append(kw) or real_preferred(x, **kw),
    )
    calls = spy_on_epoch_calls(monkeypatch)
    fastmlp.MLP([784, 256, 10], seed=0).fit(x, labels, epochs=2, batch_size=10, progress=True)
    assert asked == [{"sparse_work_crossover": None, "epochs": 2, "fan_out": 256}]
    assert len(calls) > 50
    assert {c["input_path"] for c in calls} == {path}
    assert len({id(c["x"]) for c in calls}) == 1  # one array, or one SparseRows, per fit
    assert isinstance(calls[0]["x"], kernels.SparseRows) == (path == "sparse")


@pytest.mark.parametrize("layout", ["fortran", "strided"])
def test_fit_makes_a_c_ordered_copy_of_x_once(monkeypatch, layout) -> None:
    x, labels = sparse_data(300, 40, 0.5, np.float32)
    wide = np.zeros((300, 80), np.float32)
    wide[:, ::2] = x
    relaid = np.asfortranarray(x) if layout == "fortran" else wide[:, ::2]
    assert not relaid.flags.c_contiguous
    calls = spy_on_epoch_calls(monkeypatch)
    converted = []  # what kernels copied into C order
    real_c_order = kernels._c_order

    def c_order(arg, value):
        if isinstance(value, np.ndarray) and not value.flags.c_contiguous:
            converted.append(arg)
        return real_c_order(arg, value)

    monkeypatch.setattr(kernels, "_c_order", c_order)
    model = fastmlp.MLP([40, 8, 10], seed=0, input_path="dense")
    model.fit(
        relaid, labels, epochs=2, batch_size=10, progress=True, validation_data=(relaid, labels)
    )
    assert len(calls) > 50 and len({id(c["x"]) for c in calls}) == 1
    assert calls[0]["x"].flags.c_contiguous
    # Once for the fit (training_inputs), once for the loss of its first rows: not per call,
    # and not per epoch for the validation rows.
    assert len(converted) <= 2, converted
    same = fastmlp.MLP([40, 8, 10], seed=0, input_path="dense")
    same.fit(np.ascontiguousarray(x), labels, epochs=2, batch_size=10)
    for a, b in zip(model.weights + model.biases, same.weights + same.biases, strict=True):
        np.testing.assert_array_equal(a, b)


def test_the_crossover_can_be_set(monkeypatch) -> None:
    digits, labels = mnist_rows(500, np.float32)
    full = np.random.default_rng(0).random((500, 784), dtype=np.float32) + 0.1
    assert kernels.sparse_plan(digits).work < 0.6 and kernels.sparse_plan(full).work == 1.0
    assert kernels.preferred_input_path(digits, sparse_work_crossover=0.0) == "dense"
    assert kernels.preferred_input_path(full, sparse_work_crossover=1.5) == "sparse"
    assert kernels.preferred_input_path(full, sparse_work_crossover=None) == "dense"
    calls = spy_on_epoch_calls(monkeypatch)
    # One epoch of 784-128: compressing x costs about half a dense epoch, so the crossover
    # must promise a sparse epoch of at most a quarter of the dense one's.
    for x, crossover, path in ((digits, 0.0, "dense"), (full, 1.5, "dense"), (full, 5.0, "sparse")):
        calls.clear()
        model = fastmlp.MLP([784, 128, 10], seed=0, sparse_work_crossover=crossover)
        model.fit(x, labels, epochs=1, batch_size=50)
        assert {c["input_path"] for c in calls} == {path}


@pytest.mark.parametrize("bad", [-0.5, float("nan"), float("inf"), "0.5", True])
def test_the_crossover_is_checked(bad) -> None:
    with pytest.raises((ValueError, TypeError), match="sparse_work_crossover"):
        fastmlp.MLP([4, 3], sparse_work_crossover=bad)
    if not isinstance(bad, (str, bool)):
        x = np.zeros((4, 4), np.float32)
        with pytest.raises(ValueError, match="sparse_work_crossover"):
            kernels.preferred_input_path(x, sparse_work_crossover=bad)


def test_auto_on_a_dense_array_stays_dense_where_compressing_it_would_not_pay(dtype) -> None:
    """Scattered rows (work 0.135) would run sparse once compressed, but compressing all of x
    for one call of a narrow network costs more than it saves: "auto" runs exactly the dense
    epoch. Given the rows compressed already, it runs exactly the sparse one."""
    x, labels = sparse_data(300, 784, 0.05, dtype)
    order = np.random.default_rng(3).permutation(300)
    weights, biases = make_params([784, 16, 10], dtype, seed=4)
    assert kernels.preferred_input_path(x) == "sparse"
    results = {}
    for name, inputs, path in (
        ("auto", x, "auto"),
        ("dense", x, "dense"),
        ("auto, compressed", kernels.SparseRows(x), "auto"),
        ("sparse", x, "sparse"),
    ):
        w, b = copy_params(weights), copy_params(biases)
        stats = kernels.train_epoch_stats(
            w, b, inputs, labels, order, 0.1, 30, "relu", input_path=path
        )
        results[name] = (stats, [a.tobytes() for a in w + b])
    assert results["auto"] == results["dense"]
    assert results["auto, compressed"] == results["sparse"]
    assert results["dense"] != results["sparse"]  # the two paths differ in the last bits


def numpy_sparse_plan(x: np.ndarray) -> tuple[float, int]:
    """kernels.sparse_plan by its definition, on the first 512 rows of x: groups of 8 rows
    doing their group fill, or single rows doing 2.7 times the density, whichever is less."""
    sample = x[:512] != 0
    groups = [sample[i : i + 8].any(axis=0).mean() for i in range(0, len(sample), 8)]
    fill = float(np.mean(groups)) if groups else 0.0
    single = 2.7 * float(sample.mean()) if sample.size else 0.0
    return (fill, 8) if fill <= single else (single, 1)


@pytest.mark.parametrize("density", [*DENSITIES, 0.01])
def test_sparse_plan_follows_its_definition(dtype, density) -> None:
    x, _ = sparse_data(700, 40, density, dtype)
    work, group_rows = numpy_sparse_plan(x)
    for inputs in (x, kernels.SparseRows(x), np.asfortranarray(x)):
        plan = kernels.sparse_plan(inputs)
        assert plan.work == pytest.approx(work, abs=1e-12)
        assert plan.group_rows == group_rows


def test_sparse_plan_groups_images_and_not_random_rows() -> None:
    digits = fastmlp.datasets.prepare(fastmlp.datasets.load("mnist-sample").x_train)
    assert kernels.sparse_plan(digits).group_rows == 8  # work 0.46, density 0.19
    scattered, _ = sparse_data(600, 784, 0.05, np.float32)
    assert kernels.sparse_plan(scattered) == pytest.approx((2.7 * 0.05, 1), rel=0.1)


def test_the_agreement_tests_cover_both_group_sizes() -> None:
    """test_sparse_dense_and_oracle_agree's rows go one by one at densities 0.05 and 0.2 and in
    groups of 8 at 0.5 and 1.0: both group sizes are checked against the oracle."""
    picked = {
        density: kernels.sparse_plan(sparse_data(150, 64, density, np.float32)[0]).group_rows
        for density in DENSITIES[1:]
    }
    assert picked == {0.05: 1, 0.2: 1, 0.5: 8, 1.0: 8}


def test_auto_takes_the_sparse_path_only_where_it_earns_a_quarter() -> None:
    """Issue 14.4: the sparse path measured 0.77-0.81 of the dense epoch on MNIST-like rows
    at 1 and 2 threads (benchmarks/README.md), short of 0.75: "auto" keeps digits dense.
    Scattered rows (density 0.05, one by one) take it."""
    digits = fastmlp.datasets.prepare(fastmlp.datasets.load("mnist-sample").x_train)
    scattered, _ = sparse_data(600, 784, 0.05, np.float32)
    full = np.random.default_rng(0).random((600, 784), dtype=np.float32) + 0.1
    before = fastmlp.get_num_threads()
    for threads in (1, 2):
        fastmlp.set_num_threads(threads)
        try:
            crossover = kernels.sparse_work_crossover()
            assert crossover == kernels.sparse_work_crossover(threads)
            assert kernels.sparse_plan(digits).work / crossover > 0.75  # about 0.46 / 0.6
            assert kernels.preferred_input_path(digits) == "dense"
            assert kernels.preferred_input_path(kernels.SparseRows(digits)) == "dense"
            assert kernels.sparse_plan(scattered).work / crossover < 0.75
            assert kernels.preferred_input_path(scattered) == "sparse"
            assert kernels.preferred_input_path(kernels.SparseRows(scattered)) == "sparse"
            assert kernels.sparse_plan(full).work == 1.0
            assert kernels.preferred_input_path(full) == "dense"
        finally:
            fastmlp.set_num_threads(before)
    assert kernels.sparse_work_crossover(1) < kernels.sparse_work_crossover(2)


def test_plan_functions_check_their_arguments() -> None:
    with pytest.raises(ValueError, match="threads: expected a positive integer, got 0"):
        kernels.sparse_work_crossover(0)
    with pytest.raises(TypeError, match="x"):
        kernels.sparse_plan(np.zeros((3, 4), np.int32))
    with pytest.raises(ValueError, match="x"):
        kernels.preferred_input_path(np.zeros(4, np.float32))


@pytest.mark.skipif(
    not Path("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz").is_file(),
    reason="Debian's dataset-fashion-mnist is not installed (/usr/share/datasets/fashion-mnist)",
)
def test_auto_keeps_fashion_mnist_on_the_dense_path() -> None:
    """Half of Fashion-MNIST's pixels are nonzero (work 0.87 in groups of 8): the dense path
    is the faster one there on either thread count, so "auto" must not leave it."""
    fashion = fastmlp.datasets.load("fashion-mnist", download=False)
    x = fastmlp.datasets.prepare(fashion.x_test)
    plan = kernels.sparse_plan(x)
    assert plan.group_rows == 8 and plan.work > 0.8
    before = fastmlp.get_num_threads()
    try:
        for threads in (1, 2):
            fastmlp.set_num_threads(threads)
            assert kernels.preferred_input_path(x) == "dense"
    finally:
        fastmlp.set_num_threads(before)
