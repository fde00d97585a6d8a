"""Downloads over a simulated network (``fastmlp.datasets.downloader.urlopen`` replaced):
mirrors, checksums, interrupted transfers and Ctrl-C leave no partial file.

Files are written under tmp_path and the environment is redirected (``env`` in conftest.py),
so nothing outside tmp_path is read or written.
"""

from __future__ import annotations

import http.client
import re
import urllib.error

import pytest

from fastmlp import datasets
from fastmlp.datasets import (
    DatasetNotFoundError,
    DownloadError,
    load,
    sources,
)
from tests.support.datasets import (
    MIRRORS,
    FakeResponse,
    leftovers,
)

# ---------------------------------------------------------------------------------------
# downloads (simulated network)
# ---------------------------------------------------------------------------------------


def test_download_success_then_cache_hit(served, capsys):
    data = load("mnist")
    cache = served["home"] / ".cache" / "fastmlp" / "mnist"
    assert data.source == str(cache) and len(data.x_train) == 8
    assert leftovers(cache) == sorted(sources.MNIST.download_names())
    for name, blob in served["blobs"].items():
        assert (cache / name).read_bytes() == blob
    assert served["net"].urls == [MIRRORS[0] + n for n in sources.MNIST.download_names()]
    assert all(r.get_header("User-agent") for r in served["net"].requests)
    assert "downloading" in capsys.readouterr().err
    load("mnist")
    assert len(served["net"].requests) == 4  # second load: no network


def test_download_falls_back_to_second_mirror(served):
    net = served["net"]
    for name, blob in served["blobs"].items():
        net.routes[MIRRORS[1] + name] = blob
        net.routes[MIRRORS[0] + name] = urllib.error.HTTPError(
            MIRRORS[0] + name, 403, "Forbidden", {}, None
        )
    data = load("mnist")
    assert len(data.x_train) == 8
    assert [u.split("/")[2] for u in net.urls] == ["mirror-a.test", "mirror-b.test"] * 4


def test_download_wrong_checksum_leaves_nothing(served):
    net = served["net"]
    for name, blob in served["blobs"].items():
        net.routes[MIRRORS[0] + name] = blob + b"tampered"
    with pytest.raises(DatasetNotFoundError) as info:
        load("mnist")
    message = str(info.value)
    assert "checksum mismatch" in message
    assert served["md5"]["train-images-idx3-ubyte.gz"] in message
    assert MIRRORS[0] in message and MIRRORS[1] in message
    assert isinstance(info.value.__cause__, DownloadError)
    cache = served["home"] / ".cache" / "fastmlp" / "mnist"
    assert leftovers(cache) == []


@pytest.mark.parametrize(
    "response",
    [
        lambda body: FakeResponse(body, fail_after=len(body) // 2),
        lambda body: FakeResponse(body[: len(body) // 2], declared=len(body)),
        lambda body: FakeResponse(body, fail_after=10, error=http.client.IncompleteRead(b"")),
    ],
    ids=["connection-reset", "short-body", "incomplete-read"],
)
def test_download_interrupted_leaves_no_partial_file(served, response):
    net = served["net"]
    name = "t10k-labels-idx1-ubyte.gz"  # the last of the four
    body = served["blobs"][name]
    net.routes[MIRRORS[0] + name] = lambda: response(body)
    with pytest.raises(DatasetNotFoundError, match="interrupted"):
        load("mnist")
    cache = served["home"] / ".cache" / "fastmlp" / "mnist"
    assert leftovers(cache) == sorted(set(sources.MNIST.download_names()) - {name})
    # the next call downloads only what is missing
    net.routes[MIRRORS[0] + name] = body
    before = len(net.requests)
    assert len(load("mnist").x_train) == 8
    assert net.urls[before:] == [MIRRORS[0] + name]


def test_download_ctrl_c_removes_temp_file(served):
    name = "train-images-idx3-ubyte.gz"
    body = served["blobs"][name]
    served["net"].routes[MIRRORS[0] + name] = lambda: FakeResponse(
        body, fail_after=5, error=KeyboardInterrupt()
    )
    with pytest.raises(KeyboardInterrupt):
        load("mnist")
    assert leftovers(served["home"] / ".cache" / "fastmlp" / "mnist") == []


def test_download_no_network(env):
    with pytest.raises(DatasetNotFoundError) as info:
        load("mnist")
    message = str(info.value)
    assert "request failed" in message and "simulated" in message
    assert "retry with network access" in message
    assert len(env["net"].requests) == 2  # both mirrors, first file


def test_download_function_keeps_good_files_and_replaces_bad(served, tmp_path):
    target = tmp_path / "explicit"
    assert datasets.download("mnist", target) == target
    (target / "t10k-labels-idx1-ubyte.gz").write_bytes(b"corrupted")
    before = len(served["net"].requests)
    datasets.download("mnist", target)
    assert served["net"].urls[before:] == [MIRRORS[0] + "t10k-labels-idx1-ubyte.gz"]
    assert len(load(target).x_test) == 4
    with pytest.raises(ValueError, match="no downloadable dataset named 'mnist-sample'"):
        datasets.download("mnist-sample")


def test_published_checksums_are_torchvisions():
    assert sources.MNIST.md5["train-images-idx3-ubyte.gz"] == "f68b3c2dcbeaaa9fbdd348bbdeb94873"
    fashion = sources.FASHION_MNIST.md5
    assert fashion["t10k-labels-idx1-ubyte.gz"] == "bb300cfdad3c16e7a12a480ee83cd310"
    for source in sources.DATASETS.values():
        assert set(source.md5) == set(source.download_names())
        assert all(re.fullmatch(r"[0-9a-f]{32}", v) for v in source.md5.values())
    assert sources.MNIST.mirrors[0] == "https://ossci-datasets.s3.amazonaws.com/mnist/"
