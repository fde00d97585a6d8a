"""Coverage-guided fuzzing of fastmlp's file readers with atheris (libFuzzer for Python).

Targets (``--target``, default ``idx``):

* ``idx``: :func:`fastmlp.datasets.read_idx` on arbitrary bytes (raw or gzip, detected from
  the content as for real files);
* ``csv``: :func:`fastmlp.datasets.read_csv` on arbitrary bytes, label column first or last.

The contract checked on every input: the reader returns a well-formed result (a writeable,
native-byte-order array of an IDX dtype; for CSV uint8 images (n, 28, 28) and int64 labels
>= 0, one per image) or raises ``ValueError`` whose message names the file. Any other
exception, or a ``ValueError`` that does not name the file, is a bug: atheris stops, prints the
traceback and writes the input to ``crash-<sha1>``.

Usage (see fuzz/README.md)::

    pip install atheris                      # not a test dependency of fastmlp
    python fuzz/fuzz_idx.py --make-seeds fuzz/seeds        # tiny valid files, raw and gzip
    mkdir -p /tmp/idx-corpus
    python fuzz/fuzz_idx.py /tmp/idx-corpus fuzz/seeds/idx -max_total_time=300
    python fuzz/fuzz_idx.py --target csv /tmp/csv-corpus fuzz/seeds/csv \\
        -max_total_time=120 -max_len=20000
    python fuzz/fuzz_idx.py crash-1234...    # replay one input

Arguments other than ``--target`` and ``--make-seeds`` go to libFuzzer unchanged.
"""

from __future__ import annotations

import argparse
import os
import struct
import sys
import tempfile
from pathlib import Path

import numpy as np

IDX_CODES = {
    np.dtype(np.uint8): 0x08,
    np.dtype(np.int8): 0x09,
    np.dtype(np.int16): 0x0B,
    np.dtype(np.int32): 0x0C,
    np.dtype(np.float32): 0x0D,
    np.dtype(np.float64): 0x0E,
}


# ---- seeds ------------------------------------------------------------------------------------


def idx_bytes(array: np.ndarray) -> bytes:
    """``array`` as IDX: magic (0, 0, dtype code, ndim), big-endian dims, big-endian data."""
    header = bytes([0, 0, IDX_CODES[array.dtype], array.ndim])
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def csv_bytes(images: np.ndarray, labels: np.ndarray, header: bool, last: bool) -> bytes:
    rows = []
    if header:
        names = [f"{r}x{c}" for r in range(1, 29) for c in range(1, 29)]
        rows.append(",".join([*names, "label"] if last else ["label", *names]))
    for image, label in zip(images.reshape(len(images), -1), labels, strict=True):
        fields = [str(v) for v in image]
        rows.append(",".join([*fields, str(label)] if last else [str(label), *fields]))
    return ("\n".join(rows) + "\n").encode()


def make_seeds(folder: Path) -> None:
    """Small valid inputs for both targets, each raw and gzip-compressed."""
    import gzip  # here, not at the top: the fuzzing run imports it instrumented

    rng = np.random.default_rng(0)
    idx = {
        "labels-u8": rng.integers(0, 10, 6, dtype=np.uint8),
        "images-u8": rng.integers(0, 256, (2, 4, 4), dtype=np.uint8),
        "empty-u8": np.zeros((0, 3), np.uint8),
        "i8": rng.integers(-128, 128, (3, 2), dtype=np.int8),
        "i16": rng.integers(-(2**15), 2**15, (2, 2), dtype=np.int16),
        "i32": rng.integers(-(2**31), 2**31, 3, dtype=np.int32),
        "f32": rng.standard_normal((2, 3)).astype(np.float32),
        "f64": rng.standard_normal((1, 2, 2)).astype(np.float64),
    }
    (folder / "idx").mkdir(parents=True, exist_ok=True)
    for name, array in idx.items():
        data = idx_bytes(array)
        (folder / "idx" / f"{name}.idx").write_bytes(data)
        (folder / "idx" / f"{name}.idx.gz").write_bytes(gzip.compress(data, mtime=0))
    (folder / "csv").mkdir(parents=True, exist_ok=True)
    images = np.zeros((2, 28, 28), np.uint8)
    images[:, 10:14, 12:16] = rng.integers(0, 256, (2, 4, 4), dtype=np.uint8)
    labels = np.array([3, 7])
    for header in (False, True):
        for last in (False, True):
            name = f"{'header' if header else 'plain'}-label-{'last' if last else 'first'}"
            data = csv_bytes(images, labels, header, last)
            (folder / "csv" / f"{name}.csv").write_bytes(data)
            (folder / "csv" / f"{name}.csv.gz").write_bytes(gzip.compress(data, mtime=0))


# ---- targets ----------------------------------------------------------------------------------

# The scratch file each input is written to (set by main: on tmpfs where there is one).
PATH = Path()


def _write(data: bytes) -> None:
    with open(PATH, "wb") as stream:
        stream.write(data)


def _names_the_file(error: ValueError) -> None:
    if str(PATH) not in str(error):
        raise AssertionError(f"ValueError without the file name: {error}") from error


def check_idx(data: bytes) -> None:
    from fastmlp.datasets import read_idx

    _write(data)
    try:
        array = read_idx(PATH)
    except ValueError as error:
        _names_the_file(error)
        return
    finally:
        PATH.unlink(missing_ok=True)
    assert isinstance(array, np.ndarray), type(array)
    assert array.dtype in IDX_CODES, array.dtype
    assert array.dtype.isnative and array.flags.writeable
    assert 1 <= array.ndim


def check_csv(data: bytes) -> None:
    from fastmlp.datasets import read_csv

    label_column = "last" if data[:1] == b"L" else "first"
    _write(data[1:] if label_column == "last" else data)
    try:
        images, labels = read_csv(PATH, label_column=label_column)
    except ValueError as error:
        _names_the_file(error)
        return
    finally:
        PATH.unlink(missing_ok=True)
    assert images.dtype == np.uint8 and images.shape[1:] == (28, 28), images.shape
    assert labels.dtype == np.int64 and labels.shape == (len(images),), labels.shape
    assert len(images) >= 1 and (labels >= 0).all(), labels


TARGETS = {"idx": check_idx, "csv": check_csv}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], add_help=False)
    parser.add_argument("--target", choices=sorted(TARGETS), default="idx")
    parser.add_argument("--make-seeds", type=Path, metavar="FOLDER")
    args, rest = parser.parse_known_args()
    if args.make_seeds is not None:
        make_seeds(args.make_seeds)
        print(f"seeds written to {args.make_seeds}/idx and {args.make_seeds}/csv")
        return

    import atheris

    global PATH
    # libFuzzer ends the process with exit(), past Python's cleanup: each input's file is
    # removed right after it is read instead.
    folder = "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()
    PATH = Path(folder) / f"fastmlp-fuzz-{os.getpid()}.input"

    # Coverage feedback from the readers and the gzip module they decompress with (not yet
    # imported at this point, so both are instrumented as they load).
    assert "gzip" not in sys.modules
    with atheris.instrument_imports(include=["fastmlp.datasets", "gzip"]):
        import fastmlp.datasets  # noqa: F401

    atheris.Setup([sys.argv[0], *rest], TARGETS[args.target])
    atheris.Fuzz()


if __name__ == "__main__":
    main()
