"""Fixtures of the dataset tests: lookup isolated under tmp_path, and a fake pair of mirrors."""

from __future__ import annotations

import dataclasses
import hashlib
from types import MappingProxyType

import pytest

from fastmlp.datasets import downloader, sources
from tests.support.datasets import MIRRORS, FakeNetwork, write_idx_dataset


@pytest.fixture
def env(tmp_path, monkeypatch):
    """Isolate lookup: no FASTMLP_DATA, HOME and the cache under tmp_path, no system dir."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.delenv("FASTMLP_DATA", raising=False)
    system = tmp_path / "system" / "mnist"
    mnist = dataclasses.replace(sources.MNIST, system_dirs=(str(system),))
    monkeypatch.setattr(sources, "DATASETS", MappingProxyType({"mnist": mnist}))
    net = FakeNetwork({})
    monkeypatch.setattr(downloader, "urlopen", net)
    return {"home": home, "system": system, "net": net, "tmp": tmp_path}


@pytest.fixture
def served(tmp_path, monkeypatch, env):
    """A fake mirror pair serving a tiny "mnist" whose published MD5s match."""
    files = write_idx_dataset(tmp_path / "served", n_train=8, n_test=4)
    md5 = {}
    blobs = {}
    for name in sources.MNIST.download_names():
        blob = (files / name).read_bytes()
        md5[name] = hashlib.md5(blob).hexdigest()
        blobs[name] = blob
    mnist = dataclasses.replace(
        sources.MNIST,
        system_dirs=(str(env["system"]),),
        mirrors=MIRRORS,
        md5=MappingProxyType(md5),
    )
    monkeypatch.setattr(sources, "DATASETS", MappingProxyType({"mnist": mnist}))
    env["net"].routes.update({MIRRORS[0] + name: blob for name, blob in blobs.items()})
    return {**env, "blobs": blobs, "md5": md5}
