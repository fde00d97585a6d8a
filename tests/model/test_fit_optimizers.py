"""``MLP.fit`` with momentum, Nesterov, Adam and L2: the plumbing into the engines, training
that continues exactly across fits and across save/load, and model files with optimizer
state."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fastmlp import MLP, TrainingDivergedError, reference
from fastmlp.optimizers import SGD, Adam, init_state

CONFIGS: dict[str, dict[str, Any]] = {
    "sgd": {},
    "sgd-l2": {"alpha": 1e-2},
    "momentum": {"momentum": 0.9},
    "nesterov": {"momentum": 0.9, "nesterov": True, "alpha": 1e-3},
    "adam": {"optimizer": "adam", "lr": 1e-2},
    "adam-l2-invscaling": {
        "optimizer": "adam",
        "lr": 1e-2,
        "alpha": 1e-3,
        "lr_schedule": "invscaling",
        "power_t": 0.3,
    },
    "momentum-adaptive": {"momentum": 0.5, "lr_schedule": "adaptive", "patience": 1},
}


@pytest.fixture(params=["rust", "numpy"])
def engine_name(request: pytest.FixtureRequest) -> str:
    return request.param


def data(n: int = 96, seed: int = 0, dtype: type = np.float32) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(3, 12))
    labels = rng.integers(0, 3, n)
    x = (centers[labels] + rng.normal(scale=0.8, size=(n, 12))).astype(dtype)
    return x, labels


def fit_keywords(config: str) -> dict[str, Any]:
    return {"batch_size": 16, "lr": 0.05, **CONFIGS[config]}


def parameters(model: MLP) -> list[np.ndarray]:
    return model.weights + model.biases


def state_arrays(model: MLP) -> dict[str, np.ndarray]:
    return model.training_state_.arrays()


def assert_same_model(a: MLP, b: MLP) -> None:
    for x, y in zip(parameters(a), parameters(b), strict=True):
        np.testing.assert_array_equal(x, y, strict=True)
    assert state_arrays(a).keys() == state_arrays(b).keys()
    for name, array in state_arrays(a).items():
        np.testing.assert_array_equal(array, state_arrays(b)[name], strict=True)
    assert a.history_.as_dict() == b.history_.as_dict() or a.history_.loss == b.history_.loss


@pytest.mark.parametrize("config", list(CONFIGS))
def test_every_optimizer_trains(engine_name: str, config: str) -> None:
    keywords = fit_keywords(config)
    x, labels = data()
    model = MLP([12, 16, 3], engine=engine_name, seed=0)
    history = model.fit(x, labels, epochs=6, **keywords)
    assert history.loss[-1] < history.loss[0] * 0.7
    assert model.score(x, labels) > 0.8
    state = model.training_state_
    assert state.rows_seen == 6 * 96
    if "momentum" in keywords or keywords.get("optimizer") == "adam":
        assert state.optimizer_state is not None and state.optimizer_state.step[0] == 6 * 6
    else:
        assert state.optimizer_state is None


@pytest.mark.parametrize("config", list(CONFIGS))
def test_the_numpy_engine_runs_exactly_the_reference_epochs(config: str) -> None:
    """fit is the reference's train_epoch with one state, the model's generator's orders and
    the schedule's rate, nothing more."""
    keywords = fit_keywords(config)
    x, labels = data()
    model = MLP([12, 16, 3], engine="numpy", seed=5)
    history = model.fit(x, labels, epochs=3, **keywords)

    rng = np.random.default_rng(5)
    replay = MLP([12, 16, 3], engine="numpy", seed=rng)
    optimizer = model.training_state_.optimizer
    state = init_state(optimizer, replay.weights, replay.biases) if optimizer.slots else None
    for epoch in range(3):
        order = rng.permutation(96)
        reference.train_epoch(
            replay.weights,
            replay.biases,
            x,
            labels,
            order,
            history.lr[epoch],
            16,
            "relu",
            optimizer=optimizer,
            state=state,
            alpha=keywords.get("alpha", 0.0),
        )
    for a, b in zip(parameters(model), parameters(replay), strict=True):
        np.testing.assert_array_equal(a, b, strict=True)


def test_momentum_zero_and_plain_sgd_objects_are_todays_sgd(engine_name: str) -> None:
    x, labels = data()
    runs = []
    for keywords in (
        {},
        {"optimizer": "sgd", "momentum": 0.0},
        {"optimizer": SGD()},
        {"optimizer": SGD(momentum=0.0, nesterov=True)},
        {"alpha": 0.0},
    ):
        model = MLP([12, 16, 3], engine=engine_name, seed=2)
        model.fit(x, labels, epochs=2, batch_size=16, lr=0.1, **keywords)
        runs.append(model)
    for model in runs[1:]:
        for a, b in zip(parameters(model), parameters(runs[0]), strict=True):
            np.testing.assert_array_equal(a, b, strict=True)


def test_the_optimizer_object_is_the_keywords() -> None:
    x, labels = data()
    by_object, by_keywords = (MLP([12, 8, 3], engine="numpy", seed=1) for _ in range(2))
    by_object.fit(
        x, labels, epochs=2, batch_size=16, lr=1e-2, optimizer=Adam(beta1=0.8, epsilon=1e-6)
    )
    by_keywords.fit(
        x, labels, epochs=2, batch_size=16, lr=1e-2, optimizer="adam", beta1=0.8, epsilon=1e-6
    )
    assert_same_model(by_object, by_keywords)
    with pytest.raises(ValueError, match="either in the optimizer object"):
        by_object.fit(x, labels, batch_size=16, optimizer=Adam(), beta2=0.9)


@pytest.mark.parametrize("config", list(CONFIGS))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_fit_4_is_fit_2_save_load_fit_2(
    engine_name: str, config: str, dtype: str, tmp_path: Path
) -> None:
    keywords = fit_keywords(config)
    x, labels = data(dtype=np.dtype(dtype).type)
    validation = data(30, seed=9, dtype=np.dtype(dtype).type)
    whole = MLP([12, 16, 3], engine=engine_name, dtype=dtype, seed=7)
    whole.fit(x, labels, epochs=4, validation_data=validation, **keywords)

    halves = MLP([12, 16, 3], engine=engine_name, dtype=dtype, seed=7)
    halves.fit(x, labels, epochs=2, validation_data=validation, **keywords)
    path = halves.save(tmp_path / "half.npz")
    loaded = MLP.load(path, engine=engine_name)
    loaded.fit(x, labels, epochs=2, validation_data=validation, **keywords)

    assert_same_model(loaded, whole)
    assert loaded.history_.loss == whole.history_.loss
    assert loaded.history_.lr == whole.history_.lr
    assert loaded.training_state_.rows_seen == whole.training_state_.rows_seen == 4 * 96
    assert loaded.training_state_.optimizer == whole.training_state_.optimizer


def test_state_carries_over_while_the_optimizer_keeps_the_same_arrays() -> None:
    x, labels = data()
    model = MLP([12, 8, 3], engine="numpy", seed=0)
    model.fit(x, labels, epochs=1, batch_size=16, momentum=0.9)
    velocity = model.training_state_.optimizer_state.velocity.weights[0]
    model.fit(
        x, labels, epochs=1, batch_size=16, momentum=0.5, nesterov=True
    )  # same arrays: continued
    assert model.training_state_.optimizer_state.velocity.weights[0] is velocity
    assert model.training_state_.optimizer_state.step[0] == 12
    model.fit(x, labels, epochs=1, batch_size=16, optimizer="adam", lr=1e-3)  # other arrays: fresh
    state = model.training_state_.optimizer_state
    assert state.velocity is None and state.m is not None and state.step[0] == 6
    model.fit(x, labels, epochs=1, batch_size=16)  # plain SGD keeps none
    assert model.training_state_.optimizer_state is None


def test_partial_fit_continues_the_optimizer(engine_name: str) -> None:
    x, labels = data()
    by_partial, by_fit = (MLP([12, 8, 3], engine=engine_name, seed=3) for _ in range(2))
    for _ in range(3):
        by_partial.partial_fit(x, labels, batch_size=16, lr=1e-2, optimizer="adam", alpha=1e-3)
    by_fit.fit(x, labels, epochs=3, batch_size=16, lr=1e-2, optimizer="adam", alpha=1e-3)
    assert_same_model(by_partial, by_fit)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_divergence_keeps_the_state_of_the_last_good_step(engine_name: str) -> None:
    x, labels = data()
    model = MLP([12, 8, 3], engine=engine_name, seed=0)
    with pytest.raises(TrainingDivergedError) as raised:
        model.fit(x, labels, epochs=5, batch_size=16, lr=1e4, momentum=0.99)
    state = model.training_state_.optimizer_state
    assert all(np.isfinite(a).all() for a in parameters(model) + state.velocity.arrays())
    epoch, batch = raised.value.epoch, raised.value.batch
    assert state.step[0] == (epoch - 1) * 6 + batch  # the steps taken before the bad batch


def trained_with_adam(tmp_path: Path) -> Path:
    x, labels = data()
    model = MLP([12, 8, 3], engine="numpy", seed=0)
    model.fit(
        x, labels, epochs=2, batch_size=16, optimizer="adam", lr=1e-2, lr_schedule="invscaling"
    )
    return model.save(tmp_path / "adam.npz")


def rewrite(source: Path, target: Path, arrays=None, metadata=None) -> Path:
    with np.load(source) as archive:
        contents = {name: archive[name] for name in archive.files}
    meta = json.loads(str(contents.pop("metadata")))
    if arrays:
        arrays(contents)
    if metadata:
        metadata(meta)
    np.savez(target, metadata=np.array(json.dumps(meta)), **contents)
    return target


def test_the_file_holds_the_optimizer(tmp_path: Path) -> None:
    path = trained_with_adam(tmp_path)
    with np.load(path) as archive:
        names = set(archive.files)
        meta = json.loads(str(archive["metadata"]))
        step = archive["optimizer.step"]
    assert {"optimizer.step", "optimizer.m.W0", "optimizer.v.b1"} <= names
    assert step.tolist() == [12]
    assert meta["version"] == 2
    assert meta["training"]["optimizer"] == {
        "name": "adam",
        "beta1": 0.9,
        "beta2": 0.999,
        "epsilon": 1e-8,
    }
    assert meta["training"]["schedule"]["kind"] == "invscaling"
    assert meta["training"]["rows_seen"] == 192
    assert meta["generator"]["bit_generator"] == "PCG64"
    loaded = MLP.load(path)
    assert loaded.training_state_.optimizer == Adam()
    assert loaded.history_.lr[1] == pytest.approx(1e-2 / 97**0.5)


def test_a_version_1_file_still_loads_and_trains(tmp_path: Path) -> None:
    x, labels = data()
    model = MLP([12, 8, 3], seed=0)
    model.fit(x, labels, epochs=2, batch_size=16)

    def version_1(meta: dict) -> None:
        for key in ("training", "generator", "extra_arrays"):
            meta.pop(key)
        meta["version"] = 1
        for key in ("lr", "best_epoch", "monitor", "stop_reason"):
            meta["history"].pop(key)

    old = rewrite(model.save(tmp_path / "new.npz"), tmp_path / "old.npz", metadata=version_1)
    loaded = MLP.load(old)
    for a, b in zip(parameters(loaded), parameters(model), strict=True):
        np.testing.assert_array_equal(a, b)
    assert loaded.history_.loss == model.history_.loss
    assert len(loaded.history_.lr) == 2 and np.isnan(loaded.history_.lr).all()
    assert loaded.training_state_.optimizer is None and loaded.training_state_.rows_seen == 0
    loaded.fit(x, labels, epochs=1, batch_size=16)
    assert len(loaded.history_) == 3 and loaded.history_.lr[-1] == 0.1


def _set_array(name: str, value: Any):
    return lambda arrays: arrays.__setitem__(name, value)


BAD_STATES = {
    "moment missing": ({"arrays": lambda a: a.pop("optimizer.m.W1")}, "optimizer.m.W1"),
    "moment NaN": ({"arrays": lambda a: a["optimizer.m.W0"].__setitem__((0, 0), np.nan)}, "NaN"),
    "second moment negative": (
        {"arrays": lambda a: a["optimizer.v.b0"].__setitem__(0, -1.0)},
        "negative",
    ),
    "moment transposed": (
        {
            "arrays": lambda a: a.__setitem__(
                "optimizer.m.W0", np.ascontiguousarray(a["optimizer.m.W0"].T)
            )
        },
        "m.W0",
    ),
    "step negative": ({"arrays": _set_array("optimizer.step", np.array([-3]))}, "step"),
    "unknown optimizer": (
        {"metadata": lambda m: m["training"].__setitem__("optimizer", {"name": "rmsprop"})},
        "rmsprop",
    ),
    "beta out of range": (
        {"metadata": lambda m: m["training"]["optimizer"].__setitem__("beta1", 1.5)},
        "beta1",
    ),
    "schedule incomplete": (
        {"metadata": lambda m: m["training"]["schedule"].pop("lr")},
        "schedule",
    ),
    "rows seen negative": (
        {"metadata": lambda m: m["training"].__setitem__("rows_seen", -1)},
        "rows_seen",
    ),
    "generator unknown": (
        {"metadata": lambda m: m.__setitem__("generator", {"bit_generator": "Mersenne"})},
        "generator",
    ),
    "generator state broken": (
        {"metadata": lambda m: m["generator"].__setitem__("state", {"state": "x"})},
        "PCG64",
    ),
    "history best epoch out of range": (
        {"metadata": lambda m: m["history"].__setitem__("best_epoch", 9)},
        "best_epoch",
    ),
    "state array of a layer it lacks": (
        {
            "metadata": lambda m: m["extra_arrays"].append("optimizer.m.W7"),
            "arrays": lambda a: a.__setitem__("optimizer.m.W7", np.zeros(3, np.float32)),
        },
        "unknown 'optimizer.m.W7'",
    ),
    "extra array not the optimizer's": (
        {
            "metadata": lambda m: m["extra_arrays"].append("payload"),
            "arrays": lambda a: a.__setitem__("payload", np.zeros(10**6, np.uint8)),
        },
        "unknown 'payload'",
    ),
    "arrays not declared": (
        {"metadata": lambda m: m.__setitem__("extra_arrays", [])},
        "expected arrays",
    ),
}


@pytest.mark.parametrize("case", list(BAD_STATES))
def test_a_bad_training_state_is_a_clear_value_error(tmp_path: Path, case: str) -> None:
    changes, fragment = BAD_STATES[case]
    bad = rewrite(trained_with_adam(tmp_path), tmp_path / "bad.npz", **changes)
    with pytest.raises(ValueError, match=fragment) as raised:
        MLP.load(bad)
    assert str(bad) in str(raised.value)
