"""The optimizer rules and their state: the reference against scikit-learn's own optimizers
fed the same gradients, the L2 term against finite differences and scikit-learn's backprop,
per step against per epoch, and the checks both engines make of ``optimizer``, ``state``
and ``alpha``."""

from __future__ import annotations

import inspect
from types import ModuleType

import numpy as np
import pytest
from sklearn.neural_network import MLPClassifier
from sklearn.neural_network._stochastic_optimizers import AdamOptimizer, SGDOptimizer

from fastmlp import kernels, reference
from fastmlp.optimizers import (
    SGD,
    Adam,
    Moments,
    OptimizerState,
    init_state,
    make_optimizer,
    optimizer_from_dict,
)
from fastmlp.optimizers.rules import apply_optimizer, l2_gradient, l2_penalty
from tests.support.networks import ENGINES, copy_params, make_data, make_params

SIZES = [12, 9, 7, 4]
RULES = {
    "sgd": SGD(),
    "momentum": SGD(momentum=0.9),
    "nesterov": SGD(momentum=0.8, nesterov=True),
    "adam": Adam(),
    "adam-other-betas": Adam(beta1=0.5, beta2=0.9, epsilon=1e-6),
}


def sklearn_optimizer(optimizer: SGD | Adam, params: list[np.ndarray], lr: float):
    if isinstance(optimizer, SGD):
        return SGDOptimizer(params, lr, "constant", optimizer.momentum, optimizer.nesterov)
    return AdamOptimizer(params, lr, optimizer.beta1, optimizer.beta2, optimizer.epsilon)


# ---- the rules against scikit-learn's SGDOptimizer and AdamOptimizer -------------------------


@pytest.mark.parametrize("rule", list(RULES))
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_rules_match_scikit_learn_fed_the_same_gradients(rule: str, dtype: type) -> None:
    optimizer = RULES[rule]
    weights, biases = make_params(SIZES, dtype)
    ours_w, ours_b = copy_params(weights), copy_params(biases)
    theirs = copy_params(weights) + copy_params(biases)
    state = init_state(optimizer, ours_w, ours_b) if optimizer.slots else None
    lr = 0.05 if isinstance(optimizer, SGD) else 1e-3
    sk = sklearn_optimizer(optimizer, theirs, lr)
    rng = np.random.default_rng(7)
    for _ in range(6):
        grads = [rng.normal(0, 0.3, size=p.shape).astype(dtype) for p in theirs]
        layers = len(weights)
        apply_optimizer(
            optimizer, state, ours_w, ours_b, grads[:layers], grads[layers:], lr, 0.0, 16
        )
        sk.update_params(theirs, grads)
    ours = ours_w + ours_b
    exact = isinstance(optimizer, SGD) or dtype == np.float64
    for mine, sklearns in zip(ours, theirs, strict=True):
        assert mine.dtype == dtype
        if exact:
            # Same operations in the same order: the same bits. (scikit-learn's Adam step
            # size is a float64 scalar, which upcasts a float32 update: not bit for bit there.)
            np.testing.assert_array_equal(mine, sklearns.astype(dtype), strict=True)
        else:
            np.testing.assert_allclose(mine, sklearns, rtol=2e-6, atol=1e-7)
    if isinstance(optimizer, Adam):
        assert state is not None and state.step[0] == sk.t == 6
        for mine, sklearns in zip(state.m.arrays() + state.v.arrays(), sk.ms + sk.vs, strict=True):
            np.testing.assert_allclose(mine, sklearns, rtol=1e-6 if exact else 1e-5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_momentum_zero_is_plain_sgd_bit_for_bit(dtype: type) -> None:
    """scikit-learn's SGDOptimizer with momentum 0, the reference's plain rule and
    ``W -= lr * g`` written out are one and the same."""
    weights, biases = make_params(SIZES, dtype)
    plain = copy_params(weights) + copy_params(biases)
    sk_params = copy_params(weights) + copy_params(biases)
    sk = SGDOptimizer(sk_params, 0.1, "constant", 0.0, False)
    rng = np.random.default_rng(3)
    layers = len(weights)
    by_hand = copy_params(weights) + copy_params(biases)
    for _ in range(4):
        grads = [rng.normal(size=p.shape).astype(dtype) for p in plain]
        apply_optimizer(
            SGD(momentum=0.0),
            None,
            plain[:layers],
            plain[layers:],
            grads[:layers],
            grads[layers:],
            0.1,
            0.0,
            8,
        )
        sk.update_params(sk_params, grads)
        for p, g in zip(by_hand, grads, strict=True):
            p -= dtype(0.1) * g
    for a, b, c in zip(plain, sk_params, by_hand, strict=True):
        np.testing.assert_array_equal(a, b, strict=True)
        np.testing.assert_array_equal(a, c, strict=True)


def test_every_rule_on_an_epoch_is_its_steps(dtype: type) -> None:
    """``train_epoch`` over three batches is three ``train_step`` calls with the same state,
    and two ``train_epoch`` calls over halves of an order are one over all of it."""
    x, labels, y = make_data(48, SIZES[0], SIZES[-1], dtype)
    order = np.random.default_rng(2).permutation(48)
    for name, optimizer in RULES.items():
        weights, biases = make_params(SIZES, dtype)
        by_epoch = (copy_params(weights), copy_params(biases))
        by_step = (copy_params(weights), copy_params(biases))
        by_halves = (copy_params(weights), copy_params(biases))
        states = [init_state(optimizer, weights, biases) for _ in range(3)]
        loss = reference.train_epoch(
            *by_epoch,
            x,
            labels,
            order,
            0.01,
            16,
            "tanh",
            optimizer=optimizer,
            state=states[0],
            alpha=0.3,
        )
        step_losses = [
            reference.train_step(
                *by_step,
                x[order[i : i + 16]],
                y[order[i : i + 16]],
                0.01,
                "tanh",
                optimizer=optimizer,
                state=states[1],
                alpha=0.3,
            )
            for i in range(0, 48, 16)
        ]
        for part in (order[:32], order[32:]):
            reference.train_epoch(
                *by_halves,
                x,
                labels,
                part,
                0.01,
                16,
                "tanh",
                optimizer=optimizer,
                state=states[2],
                alpha=0.3,
            )
        assert loss == pytest.approx(np.mean(step_losses), rel=1e-12), name
        for a, b, c in zip(
            by_epoch[0] + by_epoch[1],
            by_step[0] + by_step[1],
            by_halves[0] + by_halves[1],
            strict=True,
        ):
            np.testing.assert_array_equal(a, b, strict=True)
            np.testing.assert_array_equal(a, c, strict=True)
        for state in states:
            assert state.step[0] == 3
        for a, b in zip(states[0].arrays().values(), states[2].arrays().values(), strict=True):
            np.testing.assert_array_equal(a, b, strict=True)


# ---- the L2 penalty ---------------------------------------------------------------------------


def _loss(weights, biases, x, y, activation, alpha) -> float:
    p = reference.forward(weights, biases, x, activation)[-1]
    return reference.cross_entropy(p, y) + l2_penalty(weights, alpha, len(x))


@pytest.mark.parametrize("alpha", [0.0, 0.7])
def test_l2_gradient_matches_finite_differences(activation: str, alpha: float) -> None:
    """d/dW of ``cross_entropy + alpha / (2 n) sum(W**2)`` is ``backward``'s gradient plus
    ``alpha / n * W``; the biases take no L2 term."""
    weights, biases = make_params(SIZES, np.float64, seed=4)
    x, _, y = make_data(10, SIZES[0], SIZES[-1], np.float64, seed=5)
    outputs = reference.forward(weights, biases, x, activation)
    weight_grads, bias_grads = reference.backward(weights, outputs, y, activation)
    weight_grads = [
        l2_gradient(g, w, alpha, len(x)) for g, w in zip(weight_grads, weights, strict=True)
    ]
    h = 1e-6
    rng = np.random.default_rng(0)
    for params, grads in ((weights, weight_grads), (biases, bias_grads)):
        for param, grad in zip(params, grads, strict=True):
            for index in map(tuple, rng.integers(0, param.shape, size=(6, param.ndim))):
                saved = param[index]
                param[index] = saved + h
                up = _loss(weights, biases, x, y, activation, alpha)
                param[index] = saved - h
                down = _loss(weights, biases, x, y, activation, alpha)
                param[index] = saved
                assert (up - down) / (2 * h) == pytest.approx(grad[index], rel=1e-5, abs=1e-8)


def test_l2_term_of_the_loss_and_gradient_as_scikit_learn_computes_them(activation: str) -> None:
    """scikit-learn's own backprop (MLPClassifier._backprop) with the same weights: the same
    loss with its ``alpha / (2 n) sum(W**2)`` and the same gradients with ``alpha * W / n``."""
    alpha, dtype = 0.4, np.float64
    weights, biases = make_params(SIZES, dtype, seed=8)
    x, labels, y = make_data(20, SIZES[0], SIZES[-1], dtype, seed=9)
    sk_activation = {"sigmoid": "logistic"}.get(activation, activation)
    clf = MLPClassifier(hidden_layer_sizes=SIZES[1:-1], activation=sk_activation, alpha=alpha)
    clf.coefs_, clf.intercepts_ = copy_params(weights), copy_params(biases)
    clf.n_layers_, clf.out_activation_ = len(SIZES), "softmax"
    layers = len(weights)
    activations = [x] + [None] * layers
    arguments = {
        "X": x,
        "y": y,
        "activations": activations,
        "deltas": [None] * layers,
        "coef_grads": [None] * layers,
        "intercept_grads": [None] * layers,
    }
    if "sample_weight" in inspect.signature(clf._backprop).parameters:
        arguments["sample_weight"] = None
    sk_loss, sk_coef_grads, sk_intercept_grads = clf._backprop(**arguments)

    w, b = copy_params(weights), copy_params(biases)
    loss = reference.train_step(w, b, x, y, 1.0, activation, alpha=alpha)
    assert loss == pytest.approx(sk_loss, rel=1e-12)
    # Plain SGD with lr 1: the step is minus the gradient.
    for before, after, grad in zip(
        weights + biases, w + b, sk_coef_grads + sk_intercept_grads, strict=True
    ):
        np.testing.assert_allclose(before - after, grad, rtol=1e-9, atol=1e-12)
    assert l2_penalty(weights, alpha, len(x)) == pytest.approx(
        alpha / (2 * len(x)) * sum(float(np.sum(w_**2)) for w_ in weights), rel=1e-12
    )
    assert labels.shape == (20,)


# ---- the engines' checks of optimizer, state and alpha ----------------------------------------


def _epoch(engine: ModuleType, **keywords: object) -> float:
    weights, biases = make_params(SIZES, np.float32)
    x, labels, _ = make_data(16, SIZES[0], SIZES[-1], np.float32)
    state = keywords.pop("state", "fresh")
    optimizer = keywords.get("optimizer")
    if isinstance(state, str):
        state = init_state(optimizer, weights, biases) if optimizer is not None else None
    elif callable(state):
        state = state(weights, biases)
    return engine.train_epoch(
        weights, biases, x, labels, np.arange(16), 0.1, 8, "relu", state=state, **keywords
    )


def _state_with(change):
    def make(weights, biases):
        state = init_state(Adam(), weights, biases)
        change(state, weights, biases)
        return state

    return make


BAD_ARGUMENTS = {
    "optimizer a string": ({"optimizer": "adam", "state": None}, TypeError, "optimizer"),
    "momentum without state": (
        {"optimizer": SGD(momentum=0.5), "state": None},
        ValueError,
        "init_state",
    ),
    "adam without state": ({"optimizer": Adam(), "state": None}, ValueError, "init_state"),
    "state not a state": (
        {"optimizer": Adam(), "state": lambda w, b: {"m": w}},
        TypeError,
        "OptimizerState",
    ),
    "state of the other optimizer": (
        {"optimizer": Adam(), "state": lambda w, b: init_state(SGD(momentum=0.9), w, b)},
        ValueError,
        "velocity",
    ),
    "step float": (
        {
            "optimizer": Adam(),
            "state": _state_with(lambda s, w, b: setattr(s, "step", np.zeros(1))),
        },
        ValueError,
        "state.step",
    ),
    "step negative": (
        {"optimizer": Adam(), "state": _state_with(lambda s, w, b: s.step.__setitem__(0, -1))},
        ValueError,
        "state.step",
    ),
    "moment of another dtype": (
        {
            "optimizer": Adam(),
            "state": _state_with(
                lambda s, w, b: s.m.weights.__setitem__(1, s.m.weights[1].astype(np.float64))
            ),
        },
        ValueError,
        r"state\.m\.weights\[1\]",
    ),
    "moment transposed": (
        {
            "optimizer": Adam(),
            "state": _state_with(
                lambda s, w, b: s.v.weights.__setitem__(0, np.zeros(w[0].shape[::-1], np.float32))
            ),
        },
        ValueError,
        r"state\.v\.weights\[0\]",
    ),
    "moment read-only": (
        {
            "optimizer": Adam(),
            "state": _state_with(lambda s, w, b: s.m.biases[2].setflags(write=False)),
        },
        ValueError,
        "writeable",
    ),
    "moment missing a layer": (
        {"optimizer": Adam(), "state": _state_with(lambda s, w, b: s.v.biases.pop())},
        ValueError,
        "state.v",
    ),
    "m is v": (
        {"optimizer": Adam(), "state": _state_with(lambda s, w, b: setattr(s, "v", s.m))},
        ValueError,
        "share memory",
    ),
    "moment is a weight": (
        {
            "optimizer": Adam(),
            "state": _state_with(lambda s, w, b: s.m.weights.__setitem__(0, w[0])),
        },
        ValueError,
        "share memory",
    ),
    "alpha negative": ({"alpha": -0.1}, ValueError, "alpha"),
    "alpha NaN": ({"alpha": float("nan")}, ValueError, "alpha"),
    "alpha a string": ({"alpha": "0.1"}, TypeError, "alpha"),
}


@pytest.mark.parametrize("case", list(BAD_ARGUMENTS))
def test_both_engines_refuse_bad_optimizer_arguments_alike(engine_name: str, case: str) -> None:
    keywords, error, fragment = BAD_ARGUMENTS[case]
    with pytest.raises(error, match=fragment):
        _epoch(ENGINES[engine_name], **dict(keywords))


def test_a_state_that_passed_is_checked_again_once_it_changes(engine_name: str) -> None:
    # The overlap check remembers the arrays that last passed: swapping one for a parameter
    # (or one of its views) afterwards must still be refused, by either engine.
    engine = ENGINES[engine_name]
    weights, biases = make_params(SIZES, np.float64)
    x, labels, _ = make_data(40, SIZES[0], SIZES[-1], np.float64)
    state = init_state(Adam(), weights, biases)
    order = np.arange(40)
    engine.train_epoch(
        weights, biases, x, labels, order, 0.01, 8, "relu", optimizer=Adam(), state=state
    )
    for swap in (
        lambda: weights[0],
        lambda: state.v.weights[0].reshape(-1).reshape(state.m.weights[0].shape),
    ):
        kept = state.m.weights[0]
        state.m.weights[0] = swap()
        with pytest.raises(ValueError, match="share memory"):
            engine.train_epoch(
                weights, biases, x, labels, order, 0.01, 8, "relu", optimizer=Adam(), state=state
            )
        state.m.weights[0] = kept


@pytest.fixture(params=list(ENGINES))
def engine_name(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.mark.parametrize("rule", ["sgd", "momentum", "nesterov", "adam"])
def test_rust_agrees_with_the_reference_on_an_epoch_of_each_rule(rule: str, dtype: type) -> None:
    optimizer = RULES[rule]
    weights, biases = make_params(SIZES, dtype)
    x, labels, _ = make_data(40, SIZES[0], SIZES[-1], dtype)
    results = {}
    for name, engine in ENGINES.items():
        w, b = copy_params(weights), copy_params(biases)
        state = init_state(optimizer, w, b)
        loss = engine.train_epoch(
            w,
            b,
            x,
            labels,
            np.arange(40),
            0.05,
            8,
            "relu",
            optimizer=optimizer,
            state=state,
            alpha=0.01,
        )
        results[name] = (loss, w + b, state)
    tolerance = {np.float32: 1e-4, np.float64: 1e-10}[dtype]
    assert results["rust"][0] == pytest.approx(results["numpy"][0], rel=tolerance)
    for a, b in zip(results["rust"][1], results["numpy"][1], strict=True):
        np.testing.assert_allclose(a, b, rtol=tolerance, atol=tolerance)
    for a, b in zip(
        results["rust"][2].arrays().values(), results["numpy"][2].arrays().values(), strict=True
    ):
        np.testing.assert_allclose(a, b, rtol=tolerance, atol=tolerance)
    assert results["rust"][2].step[0] == 5


def test_plain_sgd_keywords_leave_the_rust_engine_as_it_was() -> None:
    """optimizer=SGD() with alpha 0 runs today's step: bit for bit the call without them."""
    weights, biases = make_params(SIZES, np.float32)
    x, labels, _ = make_data(40, SIZES[0], SIZES[-1], np.float32)
    runs = []
    for keywords in (
        {},
        {"optimizer": SGD(), "state": None, "alpha": 0.0},
        {"optimizer": SGD(momentum=0.0, nesterov=True)},
    ):
        w, b = copy_params(weights), copy_params(biases)
        loss = kernels.train_epoch(w, b, x, labels, np.arange(40), 0.1, 8, "relu", **keywords)
        runs.append((loss, w + b))
    for loss, params in runs[1:]:
        assert loss == runs[0][0]
        for a, b in zip(params, runs[0][1], strict=True):
            np.testing.assert_array_equal(a, b, strict=True)


# ---- settings and state objects ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "error", "fragment"),
    [
        (lambda: SGD(momentum=1.5), ValueError, "momentum"),
        (lambda: SGD(momentum=-0.1), ValueError, "momentum"),
        (lambda: SGD(momentum="0.9"), TypeError, "momentum"),
        (lambda: SGD(nesterov=1), TypeError, "nesterov"),
        (lambda: Adam(beta1=1.0), ValueError, "beta1"),
        (lambda: Adam(beta2=-0.5), ValueError, "beta2"),
        (lambda: Adam(epsilon=0.0), ValueError, "epsilon"),
        (lambda: Adam(epsilon=float("inf")), ValueError, "epsilon"),
        (lambda: make_optimizer("rmsprop"), ValueError, "optimizer"),
        (lambda: make_optimizer("sgd", beta1=2.0), ValueError, "beta1"),
        (lambda: make_optimizer(Adam(), momentum=0.9), ValueError, "momentum"),
    ],
)
def test_settings_are_checked(make, error: type, fragment: str) -> None:
    with pytest.raises(error, match=fragment):
        make()


def test_make_optimizer_from_keywords() -> None:
    assert make_optimizer() == SGD()
    assert make_optimizer(None) == SGD()
    assert make_optimizer("sgd", momentum=0.9, nesterov=True, beta1=0.5) == SGD(0.9, True)
    assert make_optimizer("adam", momentum=0.9, beta2=0.99) == Adam(beta2=0.99)
    assert make_optimizer(Adam(epsilon=1e-6)) == Adam(epsilon=1e-6)
    for optimizer in RULES.values():
        assert optimizer_from_dict(optimizer.as_dict()) == optimizer
    with pytest.raises(ValueError, match="unknown optimizer"):
        optimizer_from_dict({"name": "lbfgs"})


def test_state_layout() -> None:
    weights, biases = make_params(SIZES, np.float32)
    assert init_state(SGD(), weights, biases).slots() == {}
    state = init_state(Adam(), weights, biases)
    assert list(state.slots()) == ["m", "v"] and state.velocity is None
    assert state.step.dtype == np.int64 and state.step.shape == (1,) and state.step[0] == 0
    assert isinstance(state.m, Moments)
    for moments in (state.m, state.v):
        for array, param in zip(moments.arrays(), weights + biases, strict=True):
            assert array.shape == param.shape and array.dtype == param.dtype
            assert not array.any() and array.flags.c_contiguous
    names = list(state.arrays())
    assert names[:3] == ["step", "m.W0", "m.W1"] and "v.b2" in names and len(names) == 13
    copy = state.copy()
    copy.m.weights[0][...] = 1.0
    copy.step[0] = 4
    assert not state.m.weights[0].any()
    state.assign(copy)
    assert (state.m.weights[0] == 1.0).all() and state.step[0] == 4
    assert isinstance(OptimizerState(np.zeros(1, np.int64)).slots(), dict)
