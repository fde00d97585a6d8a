"""Saving over what is already at a path: regular files are replaced atomically, symlinks and
hard links are written through, and directories, devices, FIFOs, sockets and read-only files
are refused (never replaced, even by root). The same rules for models, the CLI's ``-o`` and
the plots."""

from __future__ import annotations

import contextlib
import io
import os
import socket
import stat
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from fastmlp import MLP, History, plots
from fastmlp.cli import main

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX file types")


def model(seed: int = 0) -> MLP:
    return MLP([6, 4, 3], seed=seed)


def history() -> History:
    return History(loss=[1.0, 0.5], accuracy=[0.5, 0.7])


def save_model(path: Path) -> object:
    return model(seed=1).save(path)


def save_history_plot(path: Path) -> object:
    return plots.plot_history(history(), path)


def save_predictions_plot(path: Path) -> object:
    images = np.zeros((4, 28, 28), dtype=np.uint8)
    return plots.plot_predictions(images, [0, 1, 2, 3], [0, 1, 1, 3], path, n=4)


WRITERS: dict[str, Callable[[Path], object]] = {
    "model": save_model,
    "history plot": save_history_plot,
    "predictions plot": save_predictions_plot,
}
SUFFIX = {"model": ".npz", "history plot": ".png", "predictions plot": ".png"}


@pytest.fixture(params=list(WRITERS))
def writer(request: pytest.FixtureRequest) -> tuple[str, Callable[[Path], object]]:
    return request.param, WRITERS[request.param]


def is_written(kind: str, path: Path) -> bool:
    """The file holds what the writer writes (a model, or a PNG)."""
    data = path.read_bytes()
    return data[:4] == b"PK\x03\x04" if kind == "model" else data[:4] == b"\x89PNG"


# ---- write through ---------------------------------------------------------------------------


def test_a_symlink_is_written_through(
    tmp_path: Path, writer: tuple[str, Callable[[Path], object]]
) -> None:
    kind, write = writer
    real = tmp_path / f"real{SUFFIX[kind]}"
    real.write_bytes(b"old content")
    link = tmp_path / f"link{SUFFIX[kind]}"
    link.symlink_to(real.name)
    write(link)
    assert link.is_symlink() and os.readlink(link) == real.name
    assert is_written(kind, real)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([real.name, link.name])


def test_a_dangling_symlink_creates_its_target(tmp_path: Path) -> None:
    link = tmp_path / "link.npz"
    link.symlink_to("target.npz")
    save_model(link)
    assert link.is_symlink() and (tmp_path / "target.npz").is_file()
    assert MLP.load(link).layer_sizes == [6, 4, 3]


def test_a_hard_linked_file_is_rewritten_in_place(tmp_path: Path) -> None:
    first = tmp_path / "a.npz"
    model(seed=5).save(first)
    second = tmp_path / "b.npz"
    os.link(first, second)
    inode = first.stat().st_ino
    new = model(seed=6)
    new.save(first)
    assert first.stat().st_ino == inode and first.stat().st_nlink == 2
    for name in (first, second):  # both names see the new model
        np.testing.assert_array_equal(MLP.load(name).weights[0], new.weights[0])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.npz", "b.npz"]


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root")
def test_root_keeps_the_owner_of_the_file_it_replaces(tmp_path: Path) -> None:
    path = tmp_path / "user.npz"
    model().save(path)
    os.chown(path, 1234, 2345)
    path.chmod(0o640)
    model(seed=3).save(path)
    status = path.stat()
    assert (status.st_uid, status.st_gid, stat.S_IMODE(status.st_mode)) == (1234, 2345, 0o640)


# ---- refuse --------------------------------------------------------------------------------


def special_files(tmp_path: Path, suffix: str = "") -> dict[str, Path]:
    """A FIFO, a socket and (as root, where the file system allows) a character device."""
    made = {}
    fifo = tmp_path / f"fifo{suffix}"
    os.mkfifo(fifo)
    made["FIFO"] = fifo
    sock_path = tmp_path / f"sock{suffix}"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(sock_path))
    server.close()
    made["socket"] = sock_path
    device = tmp_path / f"null{suffix}"
    with contextlib.suppress(OSError):  # not root, or a container without CAP_MKNOD
        os.mknod(device, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        made["character device"] = device
    return made


def test_special_files_are_refused_and_kept(
    tmp_path: Path, writer: tuple[str, Callable[[Path], object]]
) -> None:
    kind_written, write = writer
    for kind, path in special_files(tmp_path, SUFFIX[kind_written]).items():
        mode = path.lstat().st_mode
        with pytest.raises(OSError, match="not a regular file") as raised:
            write(path)
        assert str(path) in str(raised.value), kind
        assert kind.split()[0].lower() in str(raised.value).lower(), kind
        assert path.lstat().st_mode == mode, f"the {kind} was replaced"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_a_symlink_to_a_fifo_is_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    link = tmp_path / "model.npz"
    link.symlink_to(fifo)
    with pytest.raises(OSError, match="FIFO"):
        save_model(link)
    assert link.is_symlink() and stat.S_ISFIFO(fifo.stat().st_mode)


def test_a_read_only_file_is_refused_even_for_root(
    tmp_path: Path, writer: tuple[str, Callable[[Path], object]]
) -> None:
    kind, write = writer
    path = tmp_path / f"kept{SUFFIX[kind]}"
    path.write_bytes(b"keep me")
    path.chmod(0o444)
    with pytest.raises(PermissionError, match="read-only") as raised:
        write(path)
    assert str(path) in str(raised.value)
    assert path.read_bytes() == b"keep me"
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_a_directory_is_refused_by_its_name(
    tmp_path: Path, writer: tuple[str, Callable[[Path], object]]
) -> None:
    kind, write = writer
    folder = tmp_path / f"folder{SUFFIX[kind]}"
    folder.mkdir()
    with pytest.raises(IsADirectoryError) as raised:
        write(folder)
    message = str(raised.value)
    assert message.startswith(f"{folder}: is a directory"), message
    assert ".tmp" not in message  # not the temporary file's name
    assert list(folder.iterdir()) == []


def test_a_plot_name_without_extension_gets_png(tmp_path: Path) -> None:
    """As matplotlib's savefig does; plots.output_path says so before anything is drawn."""
    assert plots.output_path(tmp_path / "curves") == tmp_path / "curves.png"
    save_history_plot(tmp_path / "curves")
    assert [p.name for p in tmp_path.iterdir()] == ["curves.png"]
    with pytest.raises(ValueError, match=r"curves\.txt: matplotlib cannot write '\.txt'.*\.png"):
        plots.output_path(tmp_path / "curves.txt")


# ---- the command line: checked before training -------------------------------------------------


def run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("option", ["--output", "--plot", "--predictions-plot"])
@pytest.mark.parametrize("kind", ["FIFO", "read-only", "directory"])
def test_train_refuses_an_unwritable_output_before_training(
    tmp_path: Path, option: str, kind: str
) -> None:
    path = tmp_path / "target.png"
    if kind == "FIFO":
        os.mkfifo(path)
    elif kind == "read-only":
        path.write_bytes(b"keep")
        path.chmod(0o444)
    else:
        path.mkdir()
    argv = ["train", "--dataset", "mnist-sample", "--epochs", "1", "--quiet"]
    if option != "--output":
        argv += ["--output", str(tmp_path / "m.npz")]
    code, out, err = run([*argv, option, str(path)])
    assert code == 2, err
    assert out == ""  # nothing trained, nothing printed
    assert err.count("\n") == 1 and err.startswith(f"fastmlp train: error: {option} {path}")
    assert not (tmp_path / "m.npz").exists()
