"""The bundled mnist-sample, its README and its script, and, when installed, Debian's
Fashion-MNIST in /usr/share/datasets/fashion-mnist.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import re
from pathlib import Path

import numpy as np
import pytest

from fastmlp.datasets import (
    downloader,
    load,
    read_npz,
)
from tests.support.datasets import (
    FakeNetwork,
)

REPO = Path(__file__).resolve().parents[2]
DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")


# ---------------------------------------------------------------------------------------
# the bundled sample and its script
# ---------------------------------------------------------------------------------------


def test_mnist_sample_counts_and_split():
    data = load("mnist-sample")
    assert data.name == "mnist-sample" and data.source.endswith("mnist_sample.npz")
    assert data.x_train.shape == (4000, 28, 28) and data.x_test.shape == (1000, 28, 28)
    assert data.x_train.dtype == np.uint8 and data.y_train.dtype == np.int64
    assert np.bincount(data.y_train).tolist() == [400] * 10
    assert np.bincount(data.y_test).tolist() == [100] * 10
    counts = np.bincount(np.concatenate([data.y_train, data.y_test]))
    assert counts.tolist() == [500] * 10
    assert data.classes == tuple("0123456789")
    assert 0 < data.x_train.mean() < 255 and data.x_train.max() == 255
    assert len(set(data.y_train[:20].tolist())) > 1  # shuffled, not sorted


def test_mnist_sample_matches_its_readme():
    readme = (REPO / "python" / "fastmlp" / "data" / "README.md").read_text()
    data = load("mnist-sample")
    for key in ("x_train", "y_train", "x_test", "y_test"):
        recorded = re.search(rf"\| `{key}` \| `([0-9a-f]{{64}})` \|", readme).group(1)
        assert hashlib.sha256(getattr(data, key).tobytes()).hexdigest() == recorded, key


def test_make_mnist_sample_script(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location(
        "make_mnist_sample", REPO / "scripts" / "make_mnist_sample.py"
    )
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    rng = np.random.default_rng(7)
    labels = np.repeat(np.arange(10), 10)
    pixels = rng.integers(0, 256, size=(100, 784))
    rows = "\n".join(",".join(map(str, [*p, y])) for p, y in zip(pixels, labels, strict=True))
    source = tmp_path / "mnist_5k.csv.gz"
    source.write_bytes(gzip.compress(rows.encode(), mtime=0))
    out = tmp_path / "sample.npz"
    assert script.main([str(source), "-o", str(out)]) == 0
    first = out.read_bytes()
    data = read_npz(out)
    assert np.bincount(data.y_train).tolist() == [8] * 10
    assert np.bincount(data.y_test).tolist() == [2] * 10
    everything = np.concatenate([data.x_train, data.x_test]).reshape(100, 784)
    assert sorted(map(bytes, everything)) == sorted(map(bytes, pixels.astype(np.uint8)))
    assert "per class: [10, 10" in capsys.readouterr().out
    script.main([str(source), "-o", str(out)])
    assert out.read_bytes() == first  # reproducible bytes


# ---------------------------------------------------------------------------------------
# Debian's dataset-fashion-mnist
# ---------------------------------------------------------------------------------------


@pytest.mark.skipif(
    not (DEBIAN_FASHION / "train-images-idx3-ubyte.gz").is_file(),
    reason="Debian's dataset-fashion-mnist is not installed (/usr/share/datasets/fashion-mnist)",
)
def test_debian_fashion_mnist(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.delenv("FASTMLP_DATA", raising=False)
    monkeypatch.setattr(downloader, "urlopen", FakeNetwork({}))
    data = load("fashion-mnist", download=False)
    assert data.source == str(DEBIAN_FASHION)
    assert data.x_train.shape == (60000, 28, 28) and data.x_test.shape == (10000, 28, 28)
    assert data.x_train.dtype == np.uint8
    assert np.bincount(data.y_train).tolist() == [6000] * 10
    assert np.bincount(data.y_test).tolist() == [1000] * 10
    assert data.classes[0] == "T-shirt/top" and data.classes[9] == "Ankle boot"
