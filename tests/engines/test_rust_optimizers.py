"""The Rust engine's optimizer step against the reference: each rule (plain SGD with L2,
momentum, Nesterov, Adam) x dtype x activation x depth, per step and per epoch, on every
input path (dense; sparse in groups of 8 rows; sparse row by row) and batch size (1, a
short last batch, the whole epoch in one); and what an interrupted epoch leaves behind."""

from __future__ import annotations

import _thread
import threading

import numpy as np
import pytest

from fastmlp import datasets, kernels, reference
from fastmlp.optimizers import SGD, Adam, OptimizerState, init_state
from tests.support.networks import EPOCH_TOLERANCE, TOLERANCE, copy_params, make_data, make_params

RULES = {
    "sgd-l2": (SGD(), 0.05),
    "momentum": (SGD(momentum=0.9), 0.0),
    "nesterov-l2": (SGD(momentum=0.8, nesterov=True), 0.05),
    "adam-l2": (Adam(), 0.05),
}
LEARNING_RATES = {SGD: 0.05, Adam: 1e-3}
# Hidden layers between the 784 inputs and 10 classes: 0, 1 and 2.
DEPTHS = {"softmax": [], "one": [12], "two": [12, 8]}
ROWS = 30


def digits(dtype: type) -> tuple[np.ndarray, np.ndarray]:
    """MNIST digits: they share nonzero pixels, so the sparse path takes 8 rows together."""
    data = datasets.load("mnist-sample")
    return datasets.prepare(data.x_train[:ROWS], dtype=dtype), data.y_train[:ROWS]


def scattered(dtype: type) -> tuple[np.ndarray, np.ndarray]:
    """Random rows of density 0.05: they share few inputs, so the sparse path goes row by row."""
    rng = np.random.default_rng(6)
    x = rng.random((ROWS, 784)) * (rng.random((ROWS, 784)) < 0.05)
    return x.astype(dtype), rng.integers(0, 10, size=ROWS)


INPUTS = {  # name: (rows, input_path, the sparse path's rows per group)
    "dense": (digits, "dense", None),
    "sparse-groups": (digits, "sparse", 8),
    "sparse-rows": (scattered, "sparse", 1),
}


def state_arrays(state: OptimizerState) -> list[np.ndarray]:
    return list(state.arrays().values())


def assert_close(rust: list[np.ndarray], oracle: list[np.ndarray], tolerance: dict) -> None:
    for got, want in zip(rust, oracle, strict=True):
        np.testing.assert_allclose(got, want, **tolerance)


@pytest.mark.parametrize("rule", list(RULES))
@pytest.mark.parametrize("depth", list(DEPTHS))
@pytest.mark.parametrize("inputs", list(INPUTS))
@pytest.mark.parametrize("batch_size", [1, 8, ROWS], ids=["batch1", "short-last", "one-batch"])
def test_an_epoch_of_each_rule_agrees_with_the_reference(
    rule: str, depth: str, inputs: str, batch_size: int, dtype: type, activation: str
) -> None:
    optimizer, alpha = RULES[rule]
    lr = LEARNING_RATES[type(optimizer)]
    if activation == "identity":
        # A linear network at these rates with momentum grows chaotically (the loss climbs
        # eight-fold in two epochs), and the engines' roundings with it: train it gently.
        lr /= 10
    make, input_path, group_rows = INPUTS[inputs]
    x, labels = make(dtype)
    if group_rows is not None:
        assert kernels.sparse_plan(x).group_rows == group_rows
    weights, biases = make_params([784, *DEPTHS[depth], 10], dtype, seed=4)
    order = np.random.default_rng(2).permutation(ROWS)
    results = {}
    for name, engine in (("rust", kernels), ("numpy", reference)):
        w, b = copy_params(weights), copy_params(biases)
        state = init_state(optimizer, w, b)
        losses = []
        for _ in range(2):  # the second epoch continues the state of the first
            loss, correct = engine.train_epoch_stats(
                w,
                b,
                x,
                labels,
                order,
                lr,
                batch_size,
                activation,
                input_path=input_path,
                optimizer=optimizer,
                state=state,
                alpha=alpha,
            )
            losses.append(loss)
        results[name] = (losses, correct, w + b, state)
    (losses, correct, params, state), (oracle_losses, oracle_correct, oracle_params, oracle) = (
        results["rust"],
        results["numpy"],
    )
    tolerance = EPOCH_TOLERANCE[dtype]
    assert losses == pytest.approx(oracle_losses, rel=tolerance["rtol"])
    assert abs(correct - oracle_correct) <= 1  # an argmax tie may round either way
    assert_close(params, oracle_params, tolerance)
    assert state.step[0] == oracle.step[0] == 2 * -(-ROWS // batch_size)
    assert_close(state_arrays(state), state_arrays(oracle), tolerance)


@pytest.mark.parametrize("rule", list(RULES))
@pytest.mark.parametrize("depth", [[20, 10], [20, 16, 10], [20, 16, 12, 10]], ids=len)
def test_each_step_of_each_rule_agrees_with_the_reference(
    rule: str, depth: list[int], dtype: type, activation: str
) -> None:
    optimizer, alpha = RULES[rule]
    lr = LEARNING_RATES[type(optimizer)]
    weights, biases = make_params(depth, dtype, seed=5)
    x, _, y = make_data(24, depth[0], depth[-1], dtype, seed=3)
    rust_w, rust_b = copy_params(weights), copy_params(biases)
    rust_state = init_state(optimizer, rust_w, rust_b)
    for step in range(1, 5):
        rows = slice(0, 1) if step == 1 else slice(step, step + 7)  # a batch of 1, then 7
        # Each step from the same starting point: only that step's differences count.
        oracle_w, oracle_b, oracle_state = copy_params(rust_w), copy_params(rust_b), None
        oracle_state = rust_state.copy()
        oracle_loss = reference.train_step(
            oracle_w, oracle_b, x[rows], y[rows], lr, activation,
            optimizer=optimizer, state=oracle_state, alpha=alpha,
        )  # fmt: skip
        loss = kernels.train_step(
            rust_w, rust_b, x[rows], y[rows], lr, activation,
            optimizer=optimizer, state=rust_state, alpha=alpha,
        )  # fmt: skip
        assert loss == pytest.approx(oracle_loss, rel=TOLERANCE[dtype]["rtol"])
        assert rust_state.step[0] == oracle_state.step[0] == step
        # Adam divides by sqrt(v): a few ulps of the gradient become more of the update.
        tolerance = {k: 10 * v for k, v in TOLERANCE[dtype].items()}
        assert_close(rust_w + rust_b, oracle_w + oracle_b, tolerance)
        assert_close(state_arrays(rust_state), state_arrays(oracle_state), tolerance)


@pytest.mark.parametrize("inputs", list(INPUTS))
def test_momentum_zero_without_alpha_is_plain_sgd_bit_for_bit(inputs: str, dtype: type) -> None:
    make, input_path, _ = INPUTS[inputs]
    x, labels = make(dtype)
    weights, biases = make_params([784, 12, 10], dtype, seed=4)
    order = np.arange(ROWS)
    plain_w, plain_b = copy_params(weights), copy_params(biases)
    kernels.train_epoch(plain_w, plain_b, x, labels, order, 0.1, 8, "relu", input_path=input_path)
    w, b = copy_params(weights), copy_params(biases)
    state = init_state(SGD(momentum=0.0), w, b)
    kernels.train_epoch(
        w, b, x, labels, order, 0.1, 8, "relu", input_path=input_path, optimizer=SGD(), state=state
    )
    for got, want in zip(w + b, plain_w + plain_b, strict=True):
        assert got.tobytes() == want.tobytes()
    assert state.step[0] == 4


@pytest.mark.parametrize("input_path", ["dense", "sparse"])
def test_every_row_of_the_first_layer_moves_with_momentum_and_adam(input_path: str) -> None:
    """Inputs that are zero in every row give W[0]'s rows a zero gradient: with momentum
    (velocity left from earlier steps), Adam and L2 those rows still move."""
    x, labels = digits(np.float64)
    unused = np.flatnonzero(~x.any(axis=0))  # the border pixels
    assert len(unused) > 50
    for optimizer, alpha in ((SGD(momentum=0.9), 0.0), (Adam(), 0.0), (SGD(), 0.1)):
        w, b = make_params([784, 12, 10], np.float64, seed=4)
        state = init_state(optimizer, w, b)
        for array in state_arrays(state)[1:]:
            array[...] = 0.01  # as if earlier batches had touched every input
        before = w[0][unused].copy()
        kernels.train_epoch(
            w, b, x, labels, np.arange(ROWS), 0.05, 8, "relu",
            input_path=input_path, optimizer=optimizer, state=state, alpha=alpha,
        )  # fmt: skip
        oracle_w, oracle_b = make_params([784, 12, 10], np.float64, seed=4)
        oracle = init_state(optimizer, oracle_w, oracle_b)
        for array in state_arrays(oracle)[1:]:
            array[...] = 0.01
        reference.train_epoch(
            oracle_w, oracle_b, x, labels, np.arange(ROWS), 0.05, 8, "relu",
            optimizer=optimizer, state=oracle, alpha=alpha,
        )  # fmt: skip
        assert (w[0][unused] != before).all()
        np.testing.assert_allclose(w[0][unused], oracle_w[0][unused], rtol=1e-12, atol=0)


@pytest.mark.parametrize("optimizer", [SGD(momentum=0.9, nesterov=True), Adam()], ids=repr)
@pytest.mark.parametrize("input_path", ["dense", "sparse"])
def test_ctrl_c_keeps_the_weights_and_state_of_the_last_finished_step(
    optimizer: SGD | Adam, input_path: str
) -> None:
    """Ctrl-C (as Python sees it) mid-epoch: the weights and the state are those of a whole
    number of steps, the step count says how many, and training on from them works."""
    rng = np.random.default_rng(0)
    rows, batch = 20_000, 16
    x = (rng.random((rows, 784)) * (rng.random((rows, 784)) < 0.2)).astype(np.float32)
    labels = rng.integers(0, 10, rows)
    weights, biases = make_params([784, 64, 10], np.float32, seed=1)
    w, b = copy_params(weights), copy_params(biases)
    state = init_state(optimizer, w, b)
    timer = threading.Timer(0.05, _thread.interrupt_main)
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            for _ in range(50):  # an epoch is long enough for the timer; 50 are plenty
                kernels.train_epoch(
                    w, b, x, labels, np.arange(rows), 1e-3, batch, "relu",
                    input_path=input_path, optimizer=optimizer, state=state, alpha=1e-4,
                )  # fmt: skip
    finally:
        timer.cancel()
    steps = int(state.step[0])
    assert 0 < steps
    # Replay those steps, one epoch call over the same batches: the same bits.
    replay_w, replay_b = copy_params(weights), copy_params(biases)
    replay = init_state(optimizer, replay_w, replay_b)
    per_epoch = rows // batch
    for done in range(0, steps, per_epoch):
        count = min(per_epoch, steps - done)
        kernels.train_epoch(
            replay_w, replay_b, x, labels, np.arange(count * batch), 1e-3, batch, "relu",
            input_path=input_path, optimizer=optimizer, state=replay, alpha=1e-4,
        )  # fmt: skip
    ours, replayed = w + b + state_arrays(state), replay_w + replay_b + state_arrays(replay)
    for got, want in zip(ours, replayed, strict=True):
        assert got.tobytes() == want.tobytes()
