"""``input_path="auto"`` at every level a user calls (issue 14.2): compressing a dense ``x``
for the sparse path must pay for itself within what the call trains, so ``MLP.fit`` counts it
over its epochs, ``partial_fit`` (a fit of one epoch) and ``kernels.train_epoch`` over one; a
relaid ``x`` is copied into C order once per fit (once per ``partial_fit`` call). Behaviour
only: the timings are in benchmarks/README.md."""

from __future__ import annotations

import numpy as np
import pytest

import fastmlp
from fastmlp import kernels


def scattered_rows(n: int, features: int = 784, seed: int = 0):
    """Rows with about 5% of the inputs nonzero, sharing few (sparse_plan: work about 0.135,
    one row at a time): the sparse path's best case."""
    rng = np.random.default_rng(seed)
    x = (rng.random((n, features)) * (rng.random((n, features)) < 0.05)).astype(np.float32)
    return x, rng.integers(0, 10, size=n)


def test_the_epochs_and_width_decide_whether_compressing_pays():
    x, _ = scattered_rows(600)
    assert kernels.preferred_input_path(x) == "sparse"  # compressed once for many epochs
    # Compressing costs about 64 / (epochs * fan_out) of a dense epoch.
    assert kernels.preferred_input_path(x, epochs=1, fan_out=16) == "dense"
    assert kernels.preferred_input_path(x, epochs=1, fan_out=512) == "sparse"
    assert kernels.preferred_input_path(x, epochs=40, fan_out=16) == "sparse"
    # Compressed rows cost nothing more to use.
    assert kernels.preferred_input_path(kernels.SparseRows(x), epochs=1, fan_out=16) == "sparse"
    prepared = kernels.training_inputs(x, "auto", epochs=1, fan_out=16)
    assert prepared.input_path == "dense" and prepared.x is x
    with pytest.raises(ValueError, match=r"epochs: expected a positive integer, got 0"):
        kernels.preferred_input_path(x, epochs=0, fan_out=8)
    with pytest.raises(ValueError, match=r"fan_out: expected a positive integer, got -1"):
        kernels.preferred_input_path(x, epochs=1, fan_out=-1)


def spy(monkeypatch):
    """(SparseRows built from dense arrays, paths of the core's epoch calls)."""
    built: list[tuple[int, int]] = []
    paths: list[str] = []
    real_rows, real_epoch = kernels.SparseRows, kernels._native.train_epoch_stats

    def counting_rows(x):
        built.append(x.shape)
        return real_rows(x)

    def recording_epoch(weights, biases, x, labels, order, lr, batch, activation, path, **kw):
        paths.append("sparse" if isinstance(x, real_rows) and path != "dense" else path)
        return real_epoch(weights, biases, x, labels, order, lr, batch, activation, path, **kw)

    monkeypatch.setattr(kernels, "SparseRows", counting_rows)
    monkeypatch.setattr(kernels._native, "train_epoch_stats", recording_epoch)
    return built, paths


@pytest.mark.parametrize(("width", "compressed"), [(16, False), (512, True)])
def test_partial_fit_compresses_only_where_one_epoch_pays_for_it(monkeypatch, width, compressed):
    """Each partial_fit call is a fit of one epoch: a narrow first layer trains densely (never
    compressing x), a wide one compresses x once per call and trains sparsely."""
    x, labels = scattered_rows(400)
    built, paths = spy(monkeypatch)
    model = fastmlp.MLP([784, width, 10], seed=0)
    for _ in range(3):
        model.partial_fit(x, labels, batch_size=50)
    assert built == ([(400, 784)] * 3 if compressed else [])
    assert set(paths) == {"sparse" if compressed else "dense"}


def test_fit_compresses_once_where_its_epochs_pay_for_it(monkeypatch):
    x, labels = scattered_rows(400)
    built, paths = spy(monkeypatch)
    fastmlp.MLP([784, 16, 10], seed=0).fit(x, labels, epochs=1, batch_size=50)
    assert built == [] and set(paths) == {"dense"}  # one epoch of a narrow layer: no
    paths.clear()
    fastmlp.MLP([784, 16, 10], seed=0).fit(x, labels, epochs=40, batch_size=200, progress=True)
    assert built == [(400, 784)] and set(paths) == {"sparse"}


@pytest.mark.parametrize(("width", "taken"), [(16, "dense"), (512, "sparse")])
def test_train_epoch_on_a_dense_array_counts_compressing_it_for_the_call(width, taken):
    """One call on a bare dense array: "auto" runs exactly the epoch of the path where
    compressing x for this one call pays (a wide first layer), else exactly the dense one."""
    x, labels = scattered_rows(400)
    order = np.random.default_rng(1).permutation(400)
    rng = np.random.default_rng(2)
    weights = [
        (rng.normal(0, 0.05, (784, width))).astype(np.float32),
        (rng.normal(0, 0.1, (width, 10))).astype(np.float32),
    ]
    biases = [np.zeros(width, np.float32), np.zeros(10, np.float32)]
    results = {}
    for path in ("auto", "dense", "sparse"):
        w, b = [a.copy() for a in weights], [a.copy() for a in biases]
        stats = kernels.train_epoch_stats(w, b, x, labels, order, 0.1, 50, "relu", input_path=path)
        results[path] = (stats, [a.tobytes() for a in w + b])
    assert results["dense"] != results["sparse"]  # the paths differ in the last bits
    assert results["auto"] == results[taken]


def relaid_copies(monkeypatch) -> list[str]:
    """The arguments kernels copied into C order (each a copy of a relaid array)."""
    converted: list[str] = []
    real_c_order = kernels._c_order

    def c_order(arg, value):
        if isinstance(value, np.ndarray) and not value.flags.c_contiguous:
            converted.append(arg)
        return real_c_order(arg, value)

    monkeypatch.setattr(kernels, "_c_order", c_order)
    return converted


@pytest.mark.parametrize("data", ["digits", "scattered"])
def test_a_fortran_x_is_copied_once_per_fit_on_either_path(monkeypatch, data):
    """With "auto" too, whichever path it takes: once for the fit's inputs, once for the loss
    of its first rows; never per call of the progress bar's ~50 per epoch."""
    if data == "digits":
        digits = fastmlp.datasets.load("mnist-sample")
        x = fastmlp.datasets.prepare(digits.x_train[:600])
        labels = digits.y_train[:600]
    else:
        x, labels = scattered_rows(600)
    converted = relaid_copies(monkeypatch)
    _, paths = spy(monkeypatch)
    model = fastmlp.MLP([784, 64, 10], seed=0)
    model.fit(np.asfortranarray(x), labels, epochs=3, batch_size=4, progress=True)
    assert len(paths) > 100
    assert len(converted) <= 2, converted
    same = fastmlp.MLP([784, 64, 10], seed=0)
    same.fit(x, labels, epochs=3, batch_size=4)
    for a, b in zip(model.weights + model.biases, same.weights + same.biases, strict=True):
        np.testing.assert_array_equal(a, b)


def test_partial_fit_copies_a_fortran_x_once_per_call(monkeypatch):
    x, labels = scattered_rows(300, features=40)
    converted = relaid_copies(monkeypatch)
    model = fastmlp.MLP([40, 8, 10], seed=0)
    for calls in range(1, 4):
        model.partial_fit(np.asfortranarray(x), labels, batch_size=10)
        assert len(converted) <= 2 * calls, converted
