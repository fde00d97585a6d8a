"""``MLP.save`` and ``MLP.load``: the round trip, atomic saving, and clear errors for every
file that is not a valid fastmlp model."""

from __future__ import annotations

import json
import os
import pickle
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import fastmlp
from fastmlp import MLP, History

ENGINE_NAMES = ["rust", "numpy"]
DTYPE_NAMES = ["float32", "float64"]


@pytest.fixture(params=ENGINE_NAMES)
def engine_name(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(params=DTYPE_NAMES)
def dtype_name(request: pytest.FixtureRequest) -> str:
    return request.param


def data(dtype: str = "float32", n: int = 120, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.random((n, 12)).astype(dtype), rng.integers(0, 3, size=n)


def trained(
    engine: str = "rust",
    dtype: str = "float32",
    activation: str = "relu",
    init: Any = "he",
    layer_sizes: tuple[int, ...] = (12, 8, 6, 3),
) -> MLP:
    """A small model with a non-trivial history (two epochs, with validation)."""
    x, y = data(dtype)
    model = MLP(
        list(layer_sizes), activation=activation, init=init, dtype=dtype, seed=0, engine=engine
    )
    model.fit(x, y, epochs=2, batch_size=16, validation_data=(x[:30], y[:30]))
    return model


def parameters(model: MLP) -> list[np.ndarray]:
    return [*model.weights, *model.biases]


def assert_identical(actual: list[np.ndarray], expected: list[np.ndarray]) -> None:
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected, strict=True):
        np.testing.assert_array_equal(a, e, strict=True)  # values, shape and dtype


def files_in(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


# ---- the round trip -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("activation", "init", "layer_sizes"),
    [
        ("relu", "he", (12, 8, 6, 3)),
        ("tanh", ("normal", 0.3), (12, 8, 3)),
        ("sigmoid", ("uniform", -0.5, 0.5), (12, 8, 3)),
        ("relu", "xavier", (12, 3)),
    ],
)
def test_round_trip(
    tmp_path: Path,
    engine_name: str,
    dtype_name: str,
    activation: str,
    init: Any,
    layer_sizes: tuple[int, ...],
) -> None:
    model = trained(engine_name, dtype_name, activation, init, layer_sizes)
    written = model.save(tmp_path / "model.npz")
    assert written == tmp_path / "model.npz" and written.is_file()
    assert files_in(tmp_path) == ["model.npz"]

    loaded = MLP.load(written, engine=engine_name)
    assert loaded.layer_sizes == list(layer_sizes)
    assert loaded.activation == activation
    assert loaded.dtype == np.dtype(dtype_name)
    assert loaded.init == model.init
    assert loaded.engine == engine_name
    assert_identical(parameters(loaded), parameters(model))
    for array in parameters(loaded):
        assert array.flags.c_contiguous and array.flags.writeable
    assert isinstance(loaded.history_, History)
    assert loaded.history_.as_dict() == model.history_.as_dict()
    assert loaded.history_.epochs == 2 and len(loaded.history_.val_loss) == 2

    x, y = data(dtype_name, seed=9)
    np.testing.assert_array_equal(loaded.predict_proba(x), model.predict_proba(x), strict=True)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert loaded.evaluate(x, y) == model.evaluate(x, y)


def test_untrained_model_round_trips(tmp_path: Path) -> None:
    model = MLP([12, 5, 3], seed=0)
    loaded = MLP.load(model.save(tmp_path / "fresh.npz"))
    assert_identical(parameters(loaded), parameters(model))
    assert loaded.history_.epochs == 0


def test_load_with_the_other_engine(tmp_path: Path, dtype_name: str) -> None:
    model = trained("rust", dtype_name)
    path = model.save(tmp_path / "model.npz")
    loaded = MLP.load(path, engine="numpy")
    assert loaded.engine == "numpy"
    assert MLP.load(path).engine == "rust"  # the default
    assert_identical(parameters(loaded), parameters(model))
    x, _ = data(dtype_name, seed=9)
    tolerance = 1e-5 if dtype_name == "float32" else 1e-12
    np.testing.assert_allclose(loaded.predict_proba(x), model.predict_proba(x), rtol=tolerance)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    with pytest.raises(ValueError, match="engine"):
        MLP.load(path, engine="torch")


def test_a_loaded_model_trains_on(tmp_path: Path, engine_name: str) -> None:
    model = trained(engine_name)
    loaded = MLP.load(model.save(tmp_path / "model.npz"), engine=engine_name)
    x, y = data()
    # Without shuffling no randomness is involved: both continue identically.
    model.fit(x, y, epochs=2, batch_size=16, shuffle=False)
    loaded.fit(x, y, epochs=2, batch_size=16, shuffle=False)
    assert_identical(parameters(loaded), parameters(model))
    assert loaded.history_.epochs == 4
    assert loaded.history_.loss == model.history_.loss
    loaded.partial_fit(x, y, batch_size=16)  # shuffled, from a fresh generator
    assert loaded.history_.epochs == 5


def test_save_takes_str_paths_and_keeps_the_name(tmp_path: Path) -> None:
    model = trained()
    written = model.save(str(tmp_path / "weights"))  # no suffix: none is added
    assert written == tmp_path / "weights"
    assert files_in(tmp_path) == ["weights"]
    assert_identical(parameters(MLP.load(str(written))), parameters(model))


def test_save_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "model.npz"
    old, new = trained(), trained(activation="tanh")
    old.save(path)
    new.save(path)
    loaded = MLP.load(path)
    assert loaded.activation == "tanh"
    assert_identical(parameters(loaded), parameters(new))
    assert files_in(tmp_path) == ["model.npz"]


# ---- atomic saving --------------------------------------------------------------------------


@pytest.fixture
def saved(tmp_path: Path) -> tuple[MLP, Path]:
    """A model saved to ``tmp_path/model.npz``, the only file there."""
    model = trained()
    return model, model.save(tmp_path / "model.npz")


def _failing_savez(error: BaseException) -> Callable[..., None]:
    def savez(file: Any, *args: Any, **arrays: Any) -> None:
        file.write(b"PK\x03\x04 half a zip archive")  # a partial write, then the failure
        raise error

    return savez


@pytest.mark.parametrize(
    "error", [OSError(28, "No space left on device"), KeyboardInterrupt()], ids=repr
)
def test_failed_save_leaves_the_old_file_intact(
    saved: tuple[MLP, Path], monkeypatch: pytest.MonkeyPatch, error: BaseException
) -> None:
    old, path = saved
    before = path.read_bytes()
    other = trained(activation="sigmoid")
    monkeypatch.setattr(np, "savez", _failing_savez(error))
    with pytest.raises(type(error)):
        other.save(path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert files_in(path.parent) == ["model.npz"]  # no temporary file left behind
    assert_identical(parameters(MLP.load(path)), parameters(old))


@pytest.mark.parametrize("step", ["fsync", "replace"])
def test_failure_after_the_write_leaves_the_old_file_intact(
    saved: tuple[MLP, Path], monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    old, path = saved
    before = path.read_bytes()

    def fail(*args: Any, **kwargs: Any) -> None:
        raise OSError(5, f"{step} failed")

    monkeypatch.setattr(os, step, fail)
    with pytest.raises(OSError, match=f"{step} failed"):
        trained(activation="tanh").save(path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert files_in(path.parent) == ["model.npz"]
    assert_identical(parameters(MLP.load(path)), parameters(old))


def test_missing_directory(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such" / "dir"
    with pytest.raises(FileNotFoundError) as raised:
        trained().save(missing / "model.npz")
    assert str(missing) in str(raised.value)
    assert files_in(tmp_path) == []


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_saved_file_has_the_usual_permissions(saved: tuple[MLP, Path]) -> None:
    """Not the 0o600 of the temporary file it is written to."""
    model, path = saved
    umask = os.umask(0o022)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
    path.chmod(0o640)
    model.save(path)  # replacing a file keeps its permissions
    assert path.stat().st_mode & 0o777 == 0o640


# ---- load: files that are not valid models --------------------------------------------------


def _contents(path: Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    with np.load(path) as archive:
        arrays = {name: archive[name] for name in archive.files}
    return arrays, json.loads(str(arrays.pop("metadata")))


def _rewrite(
    arrays: Callable[[dict[str, np.ndarray]], None] = lambda a: None,
    metadata: Callable[[dict[str, Any]], None] = lambda m: None,
) -> Callable[[Path, Path], None]:
    """A writer of ``bad`` from the valid model file ``good``, arrays and metadata changed."""

    def write(good: Path, bad: Path) -> None:
        contents, meta = _contents(good)
        arrays(contents)
        metadata(meta)
        np.savez(bad, metadata=np.array(json.dumps(meta)), **contents)

    return write


def _truncated(fraction: float) -> Callable[[Path, Path], None]:
    def write(good: Path, bad: Path) -> None:
        content = good.read_bytes()
        bad.write_bytes(content[: int(len(content) * fraction)])

    return write


def _set(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda mapping: mapping.__setitem__(key, value)


def _npy(good: Path, bad: Path) -> None:
    with open(bad, "wb") as stream:
        np.save(stream, np.zeros((12, 8), np.float32))


def _central_directory_field(offset: int, value: int) -> Callable[[Path, Path], None]:
    """A writer of the good file with a 16-bit field of its first central directory entry
    changed (offset 8: flags, 10: compression method)."""

    def write(good: Path, bad: Path) -> None:
        content = bytearray(good.read_bytes())
        entry = content.index(b"PK\x01\x02")
        content[entry + offset : entry + offset + 2] = value.to_bytes(2, "little")
        bad.write_bytes(bytes(content))

    return write


BAD_FILES: dict[str, tuple[Callable[[Path, Path], None], str]] = {
    # not a model at all
    "text file": (lambda g, b: b.write_text("layer_sizes: 12, 8, 6, 3\n"), "not a fastmlp model"),
    "empty file": (lambda g, b: b.write_bytes(b""), "not a fastmlp model"),
    "npy array": (_npy, "not a fastmlp model"),
    "pickle": (lambda g, b: b.write_bytes(pickle.dumps({"W0": 1})), "not a fastmlp model"),
    "npz without metadata": (
        lambda g, b: np.savez(b, W0=np.zeros((12, 3), np.float32)),
        "no 'metadata'",
    ),
    "keras dataset npz": (
        lambda g, b: np.savez(
            b,
            x_train=np.zeros((2, 28, 28), np.uint8),
            y_train=np.zeros(2, np.uint8),
            x_test=np.zeros((1, 28, 28), np.uint8),
            y_test=np.zeros(1, np.uint8),
        ),
        "no 'metadata'",
    ),
    # truncated
    "truncated to 5%": (_truncated(0.05), "not a fastmlp model"),
    "truncated to 50%": (_truncated(0.5), "not a fastmlp model"),
    "truncated to 99%": (_truncated(0.99), "not a fastmlp model"),
    # damaged: zipfile raises NotImplementedError and RuntimeError for these
    "unknown compression": (_central_directory_field(10, 99), "not a fastmlp model"),
    "marked encrypted": (_central_directory_field(8, 1), "not a fastmlp model"),
    # metadata
    "metadata not JSON": (
        lambda g, b: np.savez(b, metadata=np.array("{layer_sizes: [12, 3]")),
        "not valid JSON",
    ),
    "metadata a list": (lambda g, b: np.savez(b, metadata=np.array("[1, 2]")), "format"),
    "another format": (_rewrite(metadata=_set("format", "keras-model")), "format"),
    "format version 3": (_rewrite(metadata=_set("version", 3)), "version 3"),
    "no format version": (_rewrite(metadata=lambda m: m.pop("version")), "version"),
    "layer_sizes a string": (_rewrite(metadata=_set("layer_sizes", "12,8,6,3")), "layer_sizes"),
    "layer_sizes too short": (_rewrite(metadata=_set("layer_sizes", [12])), "layer_sizes"),
    "layer_sizes do not fit": (_rewrite(metadata=_set("layer_sizes", [12, 8, 3])), "arrays"),
    "unknown activation": (_rewrite(metadata=_set("activation", "softplus")), "activation"),
    "unknown init": (_rewrite(metadata=_set("init", ["glorot"])), "init"),
    "dtype mismatch": (_rewrite(metadata=_set("dtype", "float64")), "float64"),
    "history a list": (_rewrite(metadata=_set("history", [0.5, 0.4])), "history"),
    "history not numbers": (
        _rewrite(metadata=_set("history", {"loss": ["low", "lower"]})),
        "history",
    ),
    "history unknown key": (
        _rewrite(metadata=_set("history", {"learning_rate": [0.1]})),
        "history",
    ),
    # arrays
    "W0 transposed": (_rewrite(arrays=lambda a: a.__setitem__("W0", a["W0"].T.copy())), "W0"),
    "b1 too long": (_rewrite(arrays=lambda a: a.__setitem__("b1", np.zeros(7, np.float32))), "b1"),
    "W2 float64": (_rewrite(arrays=lambda a: a.__setitem__("W2", a["W2"].astype(float))), "W2"),
    "W1 missing": (_rewrite(arrays=lambda a: a.pop("W1")), "W1"),
    "extra array": (_rewrite(arrays=lambda a: a.__setitem__("W3", a["W2"])), "W3"),
    "NaN in W1": (_rewrite(arrays=lambda a: a["W1"].__setitem__((2, 3), np.nan)), "W1"),
    "inf in b0": (_rewrite(arrays=lambda a: a["b0"].__setitem__(0, np.inf)), "b0"),
}


@pytest.fixture
def good_file(tmp_path: Path) -> Iterator[Path]:
    directory = tmp_path / "good"
    directory.mkdir()
    yield trained().save(directory / "model.npz")


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_load_rejects_with_a_clear_value_error(good_file: Path, tmp_path: Path, case: str) -> None:
    write, fragment = BAD_FILES[case]
    bad = tmp_path / "bad.npz"
    write(good_file, bad)
    with pytest.raises(ValueError) as raised:
        MLP.load(bad)
    message = str(raised.value)
    assert str(bad) in message, message
    assert fragment in message, message


def test_truncated_anywhere_is_a_value_error(good_file: Path, tmp_path: Path) -> None:
    content = good_file.read_bytes()
    bad = tmp_path / "bad.npz"
    for length in range(0, len(content), max(1, len(content) // 200)):
        bad.write_bytes(content[:length])
        with pytest.raises(ValueError, match="not a fastmlp model"):
            MLP.load(bad)


def test_load_of_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"missing\.npz"):
        MLP.load(tmp_path / "missing.npz")
    with pytest.raises(FileNotFoundError):
        MLP.load(tmp_path)  # a directory is not a model file


def test_load_is_a_classmethod_of_mlp(tmp_path: Path) -> None:
    path = trained().save(tmp_path / "model.npz")
    assert isinstance(fastmlp.MLP.load(path), fastmlp.MLP)
