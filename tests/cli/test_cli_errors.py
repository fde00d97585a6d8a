"""Every error of the ``fastmlp`` command is one line on stderr and exit code 2, never a
traceback; outputs are checked before training, not after it."""

from __future__ import annotations

import contextlib
import io
import struct
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from fastmlp import MLP, datasets
from fastmlp.cli import main


def run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def assert_one_line_error(err: str, command: str, *fragments: str) -> None:
    assert err.count("\n") == 1 and err.endswith("\n"), err
    assert err.startswith(f"fastmlp {command}: error: "), err
    for fragment in fragments:
        assert fragment in err, (fragment, err)


def idx_file(path: Path, shape: tuple[int, ...]) -> Path:
    header = bytes([0, 0, 0x08, len(shape)]) + struct.pack(f">{len(shape)}I", *shape)
    path.write_bytes(header + bytes(int(np.prod(shape))))
    return path


def npy_header_only(path: Path, shape: tuple[int, ...], descr: str = "|u1") -> Path:
    stream = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        stream, {"descr": descr, "fortran_order": False, "shape": shape}
    )
    path.write_bytes(stream.getvalue() + b"\0" * 64)
    return path


def object_npz(path: Path) -> Path:
    objects = np.empty(2, dtype=object)
    np.savez(path, x_test=objects)
    return path


def corrupt_npz(path: Path) -> Path:
    np.savez(path, x_test=np.zeros((2, 28, 28), np.uint8))
    data = bytearray(path.read_bytes())
    data[60:90] = b"\xff" * 30  # inside the member's data: a CRC error on reading
    path.write_bytes(bytes(data))
    return path


def truncated_npz(path: Path) -> Path:
    np.savez(path, x_test=np.zeros((2, 28, 28), np.uint8))
    path.write_bytes(path.read_bytes()[:-30])
    return path


def empty_npy(path: Path) -> Path:
    np.save(path, np.zeros((0, 28, 28), np.uint8))
    return path


def zero_byte_npy(path: Path) -> Path:
    path.write_bytes(b"")
    return path


def strings_npy(path: Path) -> Path:
    np.save(path, np.array(["a", "b"]))
    return path


PREDICT_INPUTS: dict[str, tuple[Callable[[Path], Path], str, str]] = {
    # name: (writer, file name, fragment of the message)
    "corrupt npz": (corrupt_npz, "bad.npz", "bad.npz"),
    "truncated npz": (truncated_npz, "bad.npz", "bad.npz"),
    "object x_test": (object_npz, "objects.npz", "objects"),
    "empty npy": (empty_npy, "empty.npy", "no images"),
    "zero-byte npy": (zero_byte_npy, "zero.npy", "zero.npy"),
    "strings npy": (strings_npy, "strings.npy", "strings.npy"),
    "idx of 0 images": (lambda p: idx_file(p, (0, 28, 28)), "t10k-images-idx3-ubyte", "no images"),
    "absurd npy shape": (
        lambda p: npy_header_only(p, (10**12, 28, 28)),
        "absurd.npy",
        "absurd.npy",
    ),
}


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return MLP([784, 16, 10], seed=0).save(tmp_path_factory.mktemp("model") / "m.npz")


@pytest.mark.parametrize("case", list(PREDICT_INPUTS))
def test_predict_bad_inputs_are_one_line(model_file: Path, tmp_path: Path, case: str) -> None:
    write, name, fragment = PREDICT_INPUTS[case]
    path = write(tmp_path / name)
    code, out, err = run(["predict", str(model_file), str(path)])
    assert code == 2 and out == "", (out, err)
    assert_one_line_error(err, "predict", fragment)


def absurd_model(path: Path) -> Path:
    """A model whose metadata and W0 header declare 10**6 x 10**6 float32 (4 TB)."""
    MLP([784, 10], seed=0).save(path)
    with zipfile.ZipFile(path) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    text = str(np.load(io.BytesIO(members["metadata.npy"])))
    text = text.replace('"layer_sizes": [784, 10]', '"layer_sizes": [1000000, 1000000]')
    buffer = io.BytesIO()
    np.save(buffer, np.array(text))
    members["metadata.npy"] = buffer.getvalue()
    members.pop("b0.npy")
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f4", "fortran_order": False, "shape": (1000000, 1000000)}
    )
    members["W0.npy"] = header.getvalue()
    path.unlink()
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return path


MODELS: dict[str, tuple[Callable[[Path], Path], str]] = {
    "corrupt model": (corrupt_npz, "bad.npz"),
    "absurd model": (absurd_model, "absurd.npz"),
    "text model": (lambda p: (p.write_text("hello"), p)[1], "model.txt"),
}


@pytest.mark.parametrize("command", ["predict", "evaluate"])
@pytest.mark.parametrize("case", list(MODELS))
def test_bad_model_files_are_one_line(tmp_path: Path, command: str, case: str) -> None:
    write, name = MODELS[case]
    path = write(tmp_path / name)
    images = np.save(tmp_path / "x.npy", np.zeros((1, 28, 28), np.uint8))
    del images
    extra = [str(tmp_path / "x.npy")] if command == "predict" else ["--dataset", "mnist-sample"]
    code, out, err = run([command, str(path), *extra])
    assert code == 2 and out == "", (out, err)
    assert_one_line_error(err, command, name)


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (lambda p: object_npz(p), "x_train"),
        (lambda p: npy_header_only(p.with_suffix(".npz"), (3,)), "found a single .npy array"),
    ],
)
def test_train_on_bad_data_is_one_line(tmp_path: Path, data: Callable, fragment: str) -> None:
    path = data(tmp_path / "data.npz")
    code, out, err = run(["train", "--dataset", str(path), "-o", str(tmp_path / "m.npz")])
    assert code == 2 and out == ""
    assert_one_line_error(err, "train", fragment)


def test_train_on_an_idx_directory_of_0_images(tmp_path: Path) -> None:
    for name, shape in (
        ("train-images-idx3-ubyte", (0, 28, 28)),
        ("train-labels-idx1-ubyte", (0,)),
        ("t10k-images-idx3-ubyte", (0, 28, 28)),
        ("t10k-labels-idx1-ubyte", (0,)),
    ):
        idx_file(tmp_path / name, shape)
    code, _, err = run(["train", "--dataset", str(tmp_path), "-o", str(tmp_path / "m.npz")])
    assert code == 2
    assert_one_line_error(err, "train", "empty")
    code, _, err = run(
        ["evaluate", str(MLP([784, 10]).save(tmp_path / "e.npz")), "--dataset", str(tmp_path)]
    )
    assert code == 2
    assert_one_line_error(err, "evaluate", "empty")


@pytest.mark.parametrize("option", ["--plot", "--predictions-plot"])
@pytest.mark.parametrize("name", ["curves.txt", "curves.docx"])
def test_a_plot_format_matplotlib_cannot_write_fails_before_training(
    tmp_path: Path, option: str, name: str
) -> None:
    code, out, err = run(
        [
            "train",
            "--dataset",
            "mnist-sample",
            "-o",
            str(tmp_path / "m.npz"),
            option,
            str(tmp_path / name),
        ]
    )
    assert code == 2 and out == ""  # nothing trained
    assert_one_line_error(err, "train", f"{option} {tmp_path / name}", ".png")
    assert not (tmp_path / "m.npz").exists()


def test_predict_and_evaluate_check_their_plot_before_loading(tmp_path: Path) -> None:
    model = str(MLP([784, 10]).save(tmp_path / "m.npz"))
    np.save(tmp_path / "x.npy", np.zeros((1, 28, 28), np.uint8))
    for argv in (
        ["predict", model, str(tmp_path / "x.npy"), "--plot", str(tmp_path / "p.txt")],
        [
            "evaluate",
            model,
            "--dataset",
            "mnist-sample",
            "--predictions-plot",
            str(tmp_path / "p.txt"),
        ],
    ):
        code, out, err = run(argv)
        assert code == 2 and out == ""
        assert_one_line_error(err, argv[0], "p.txt")


def test_a_model_too_large_to_allocate_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fastmlp.datasets import npy_reader

    path = MLP([784, 10]).save(tmp_path / "m.npz")
    np.save(tmp_path / "x.npy", np.zeros((1, 28, 28), np.uint8))

    def no_memory(*args: object, **kwargs: object) -> None:
        raise MemoryError

    monkeypatch.setattr(npy_reader.np, "empty", no_memory)
    code, out, err = run(["predict", str(path), str(tmp_path / "x.npy")])
    assert code == 2 and out == ""
    assert_one_line_error(err, "predict", "m.npz", "more than can be allocated")


def test_no_traceback_in_a_real_process(tmp_path: Path) -> None:
    """The same through ``python -m fastmlp``: one line on stderr, exit 2."""
    path = corrupt_npz(tmp_path / "bad.npz")
    done = subprocess.run(
        [sys.executable, "-m", "fastmlp", "predict", str(path), str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1, done.stderr


def test_the_sample_still_predicts(model_file: Path, tmp_path: Path) -> None:
    """The cases above fail for their reasons, not because predict is broken."""
    np.save(tmp_path / "x.npy", datasets.load("mnist-sample").x_test[:2])
    code, out, _ = run(["predict", str(model_file), str(tmp_path / "x.npy")])
    assert code == 0 and len(out.splitlines()) == 2
