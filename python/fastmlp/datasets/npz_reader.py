"""Reading keras-style ``.npz`` files (``x_train, y_train, x_test, y_test``)."""

from __future__ import annotations

import os
from pathlib import Path

from .dataset import IMAGE_SHAPE, PIXELS, Dataset, as_images, as_labels, default_classes
from .npy_reader import NPY_MAGIC, NpyHeader, NpzMembers, native_order

NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")


def _images_header(header: NpyHeader) -> None:
    """Integer images (n, 28, 28) or (n, 784): refused by the header, before any data."""
    if header.dtype.kind not in "ui":
        raise ValueError(
            f"expected integer pixels 0..255 (uint8), got dtype {native_order(header.dtype)}"
        )
    if len(header.shape) < 2 or header.shape[1:] not in (IMAGE_SHAPE, (PIXELS,)):
        raise ValueError(f"expected images of shape (n, 28, 28) or (n, 784), got {header.shape}")


def _labels_header(header: NpyHeader) -> None:
    """Integer labels (n,)."""
    if header.dtype.kind not in "ui":
        raise ValueError(f"expected integer labels, got dtype {native_order(header.dtype)}")
    if len(header.shape) != 1:
        raise ValueError(f"expected labels of shape (n,), got {header.shape}")


def read_npz(
    path: str | os.PathLike[str],
    *,
    name: str | None = None,
    classes: tuple[str, ...] | None = None,
) -> Dataset:
    """Read a keras-style ``.npz`` file, as written by ``keras.datasets.mnist`` (``mnist.npz``).

    The file must hold ``x_train`` and ``x_test`` -- integer pixels 0..255, shape
    (n, 28, 28) or (n, 784) -- and ``y_train`` and ``y_test`` -- integer labels >= 0, shape
    (n,). Other keys are ignored (never read). Pickled (object) arrays are refused. Each
    array's ``.npy`` header and declared size are checked before its data is read, so a
    crafted file cannot make it allocate more than the arrays it declares (see
    :mod:`fastmlp.datasets.npy_reader`).

    Args:
        path: the ``.npz`` file.
        name: the dataset's name; default: the file name without its extension.
        classes: class names; default: ``"0"`` up to the largest label.

    Returns:
        A :class:`Dataset` with uint8 (n, 28, 28) images and int64 (n,) labels.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: not a readable ``.npz``, missing keys (all are named), or arrays of the
            wrong dtype or shape; the message names the file and the key.
        MemoryError: the arrays it declares are more than can be allocated (named).
    """
    where = os.fspath(path)
    with open(path, "rb") as stream:
        if stream.read(len(NPY_MAGIC)) == NPY_MAGIC:
            # a file with the wrong content is a ValueError, like every other malformed file
            raise ValueError(f"{where}: expected a .npz archive, found a single .npy array")
    with NpzMembers(path) as archive:
        missing = [key for key in NPZ_KEYS if key not in archive.names]
        if missing:
            raise ValueError(
                f"{where}: missing key(s) {', '.join(missing)}; a keras-style .npz needs "
                f"{', '.join(NPZ_KEYS)} (found: {', '.join(archive.names) or 'nothing'})"
            )
        arrays = {
            key: archive.read(key, _images_header if key[0] == "x" else _labels_header)
            for key in NPZ_KEYS
        }
    x_train = as_images(arrays["x_train"], f"{where}: x_train")
    x_test = as_images(arrays["x_test"], f"{where}: x_test")
    k = len(classes) if classes is not None else None
    y_train = as_labels(arrays["y_train"], f"{where}: y_train", k)
    y_test = as_labels(arrays["y_test"], f"{where}: y_test", k)
    for split, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
        if len(x) != len(y):
            raise ValueError(
                f"{where}: x_{split} has {len(x)} images but y_{split} has {len(y)} labels"
            )
    return Dataset(
        x_train=x_train,
        y_train=y_train,
        x_test=x_test,
        y_test=y_test,
        name=name if name is not None else Path(where).stem,
        source=where,
        classes=classes if classes is not None else default_classes(y_train, y_test),
    )
