"""Reading keras-style ``.npz`` files (``x_train, y_train, x_test, y_test``)."""

from __future__ import annotations

import os
import zipfile
import zlib
from pathlib import Path

import numpy as np

from .dataset import Dataset, as_images, as_labels, default_classes

NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")


def read_npz(
    path: str | os.PathLike[str],
    *,
    name: str | None = None,
    classes: tuple[str, ...] | None = None,
) -> Dataset:
    """Read a keras-style ``.npz`` file, as written by ``keras.datasets.mnist`` (``mnist.npz``).

    The file must hold ``x_train`` and ``x_test`` -- integer pixels 0..255, shape
    (n, 28, 28) or (n, 784) -- and ``y_train`` and ``y_test`` -- integer labels >= 0, shape
    (n,). Other keys are ignored. Pickled (object) arrays are refused.

    Args:
        path: the ``.npz`` file.
        name: the dataset's name; default: the file name without its extension.
        classes: class names; default: ``"0".."9"`` (more if the labels go higher).

    Returns:
        A :class:`Dataset` with uint8 (n, 28, 28) images and int64 (n,) labels.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: not a readable ``.npz``, missing keys (all are named), or arrays of the
            wrong dtype or shape; the message names the file and the key.
    """
    where = os.fspath(path)
    try:
        archive = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{where}: not a readable .npz file ({exc})") from exc
    if not isinstance(archive, np.lib.npyio.NpzFile):
        # a file with the wrong content is a ValueError, like every other malformed file
        raise ValueError(f"{where}: expected a .npz archive, found a single .npy array")
    with archive:
        missing = [key for key in NPZ_KEYS if key not in archive.files]
        if missing:
            raise ValueError(
                f"{where}: missing key(s) {', '.join(missing)}; a keras-style .npz needs "
                f"{', '.join(NPZ_KEYS)} (found: {', '.join(archive.files) or 'nothing'})"
            )
        arrays = {}
        for key in NPZ_KEYS:
            try:
                arrays[key] = archive[key]
            except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
                raise ValueError(f"{where}: cannot read {key!r} ({exc})") from exc
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
