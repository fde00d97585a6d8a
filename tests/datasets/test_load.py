"""``fastmlp.datasets.load``: a path (IDX directory, npz, CSV), and a name looked up in order
(data_dir, FASTMLP_DATA, the cache, system directories), with every path tried named.

Files are written under tmp_path and the environment is redirected (``env`` in conftest.py),
so nothing outside tmp_path is read or written.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from fastmlp import datasets
from fastmlp.datasets import (
    DatasetNotFoundError,
    load,
    sources,
)
from tests.support.datasets import (
    keras_arrays,
    write_idx,
    write_idx_dataset,
)

# ---------------------------------------------------------------------------------------
# load: paths
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("compress", [True, False])
@pytest.mark.parametrize("dotted", [False, True])
def test_load_idx_directory(tmp_path, compress, dotted):
    directory = write_idx_dataset(tmp_path / "archive", 6, 3, compress=compress, dotted=dotted)
    data = load(directory)
    assert (len(data.x_train), len(data.x_test)) == (6, 3)
    assert data.name == "archive" and data.source == str(directory)
    assert data.y_train.dtype == np.int64 and data.x_train.dtype == np.uint8
    assert load(str(directory)).x_train.shape == (6, 28, 28)


def test_load_idx_directory_problems(tmp_path):
    directory = write_idx_dataset(tmp_path / "d", 6, 3)
    (directory / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError, match="missing t10k-labels-idx1-ubyte"):
        load(directory)
    write_idx(directory / "t10k-labels-idx1-ubyte.gz", np.zeros(2, np.uint8), compress=True)
    with pytest.raises(ValueError, match=r"has 3 images but .*t10k-labels-idx1-ubyte\.gz has 2"):
        load(directory)
    write_idx(directory / "t10k-labels-idx1-ubyte.gz", np.zeros(3, np.float32), compress=True)
    message = "t10k-labels-idx1-ubyte.gz: expected integer labels"
    with pytest.raises(ValueError, match=re.escape(message)):
        load(directory)


def test_load_npz_path_and_bad_paths(tmp_path):
    np.savez(tmp_path / "k.npz", **keras_arrays())
    assert len(load(tmp_path / "k.npz").x_train) == 5
    with pytest.raises(FileNotFoundError, match="neither a dataset name"):
        load(tmp_path / "nothing-here")
    with pytest.raises(FileNotFoundError, match="'mnistt' is neither a dataset name"):
        load("mnistt")
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(ValueError, match="unsupported file type"):
        load(tmp_path / "notes.txt")
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((1, 28, 28), np.uint8))
    with pytest.raises(ValueError, match="single IDX file"):
        load(tmp_path / "train-images-idx3-ubyte")
    with pytest.raises(ValueError, match="data_dir is only used with the names"):
        load(tmp_path / "k.npz", data_dir=tmp_path)


# ---------------------------------------------------------------------------------------
# load: lookup order for names
# ---------------------------------------------------------------------------------------


def test_cache_dir_follows_xdg_and_home(env, monkeypatch, tmp_path):
    assert datasets.cache_dir() == env["home"] / ".cache" / "fastmlp"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert datasets.cache_dir() == tmp_path / "xdg" / "fastmlp"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")
    assert datasets.cache_dir() == env["home"] / ".cache" / "fastmlp"


def test_data_dirs_order(env, monkeypatch, tmp_path):
    monkeypatch.setenv("FASTMLP_DATA", str(tmp_path / "envdata"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert datasets.data_dirs("mnist", tmp_path / "dd") == [
        tmp_path / "dd" / "mnist",
        tmp_path / "dd" / "MNIST" / "raw",
        tmp_path / "dd",
        tmp_path / "envdata" / "mnist",
        tmp_path / "envdata" / "MNIST" / "raw",
        tmp_path / "xdg" / "fastmlp" / "mnist",
        env["system"],
    ]
    with pytest.raises(ValueError, match="no downloadable dataset named 'cifar'"):
        datasets.data_dirs("cifar")


def test_lookup_order_data_dir_env_cache_system(env, monkeypatch, tmp_path):
    """Each location wins over the ones after it; n_train tells which one was read."""
    xdg = tmp_path / "xdg"
    monkeypatch.setenv("XDG_CACHE_HOME", str(xdg))
    monkeypatch.setenv("FASTMLP_DATA", str(tmp_path / "envdata"))
    places = [
        (tmp_path / "dd" / "mnist", 11),
        (tmp_path / "dd", 12),
        (tmp_path / "envdata" / "mnist", 13),
        (tmp_path / "envdata" / "MNIST" / "raw", 14),
        (xdg / "fastmlp" / "mnist", 15),
        (env["system"], 16),
    ]
    for directory, n in places:
        write_idx_dataset(directory, n_train=n, n_test=2)
    for directory, n in places:
        data = load("mnist", data_dir=tmp_path / "dd", download=False)
        assert (data.source, len(data.x_train)) == (str(directory), n)
        assert data.name == "mnist" and data.classes == sources.MNIST.classes
        for f in directory.glob("*-ubyte.gz"):
            f.unlink()
    assert env["net"].requests == []


def test_lookup_env_root_itself_is_not_used(env, monkeypatch, tmp_path):
    write_idx_dataset(tmp_path / "envdata", n_train=6)
    monkeypatch.setenv("FASTMLP_DATA", str(tmp_path / "envdata"))
    with pytest.raises(DatasetNotFoundError):
        load("mnist", download=False)


def test_lookup_home_cache_when_xdg_unset(env):
    cached = write_idx_dataset(env["home"] / ".cache" / "fastmlp" / "mnist", n_train=9)
    data = load("MNIST", download=False)
    assert data.source == str(cached) and len(data.x_train) == 9


def test_corrupt_file_in_found_directory_is_an_error_not_a_fallback(env, tmp_path):
    write_idx_dataset(env["system"], n_train=6)
    bad = write_idx_dataset(tmp_path / "dd", n_train=6)
    (bad / "train-images-idx3-ubyte.gz").write_bytes(b"\x1f\x8b broken")
    with pytest.raises(ValueError, match=re.escape("train-images-idx3-ubyte.gz: corrupt")):
        load("mnist", data_dir=bad, download=False)


def test_not_found_lists_every_path_tried(env, monkeypatch, tmp_path):
    monkeypatch.setenv("FASTMLP_DATA", str(tmp_path / "envdata"))
    partial = write_idx_dataset(tmp_path / "dd", n_train=4)
    (partial / "train-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DatasetNotFoundError) as info:
        load("mnist", data_dir=partial, download=False)
    error = info.value
    assert isinstance(error, FileNotFoundError)
    expected = [str(p) for p in datasets.data_dirs("mnist", partial)]
    assert error.paths_tried == expected
    message = str(error)
    for path in expected:
        assert path in message
    assert "missing train-labels-idx1-ubyte[.gz]" in message
    assert "no such directory" in message
    assert "download=False" in message
    for advice in ("FASTMLP_DATA", "data_dir=", "load('mnist-sample')", "download=True"):
        assert advice in message
    assert env["net"].requests == []


def test_not_found_without_data_dir_or_env_says_so(env):
    with pytest.raises(DatasetNotFoundError) as info:
        load("mnist", download=False)
    message = str(info.value)
    assert "data_dir argument: not given" in message
    assert "$FASTMLP_DATA: not set" in message
    assert str(env["home"] / ".cache" / "fastmlp" / "mnist") in message
    assert str(env["system"]) in message
