"""The :class:`Dataset` container and the checks that turn raw arrays into its fields."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

IMAGE_SHAPE = (28, 28)
PIXELS = IMAGE_SHAPE[0] * IMAGE_SHAPE[1]
DIGITS: tuple[str, ...] = tuple(str(d) for d in range(10))


def as_images(array: np.ndarray, what: str) -> np.ndarray:
    """Return ``array`` as uint8 images of shape (n, 28, 28), or raise ``ValueError``.

    Accepts (n, 28, 28) or (n, 784) arrays of any integer dtype whose values lie in 0..255
    (converted losslessly to uint8). ``what`` names the array in error messages, e.g.
    ``"mnist.npz: x_train"``.
    """
    array = np.asarray(array)
    if array.dtype.kind not in "ui":
        raise ValueError(f"{what}: expected integer pixels 0..255 (uint8), got dtype {array.dtype}")
    if array.ndim == 2 and array.shape[1] == PIXELS:
        array = array.reshape(-1, *IMAGE_SHAPE)
    if array.ndim != 3 or array.shape[1:] != IMAGE_SHAPE:
        raise ValueError(
            f"{what}: expected images of shape (n, 28, 28) or (n, 784), got {array.shape}"
        )
    if array.dtype != np.uint8:
        if array.size and (array.min() < 0 or array.max() > 255):
            raise ValueError(
                f"{what}: pixel values must lie in 0..255, found {array.min()}..{array.max()}"
            )
        array = array.astype(np.uint8)
    return array


def as_labels(array: np.ndarray, what: str, num_classes: int | None = None) -> np.ndarray:
    """Return ``array`` as int64 labels of shape (n,), or raise ``ValueError``.

    Labels must be integers >= 0 (and < ``num_classes`` when given).
    """
    array = np.asarray(array)
    if array.dtype.kind not in "ui":
        raise ValueError(f"{what}: expected integer labels, got dtype {array.dtype}")
    if array.ndim != 1:
        raise ValueError(f"{what}: expected labels of shape (n,), got {array.shape}")
    array = array.astype(np.int64)
    if array.size:
        low, high = int(array.min()), int(array.max())
        if low < 0:
            raise ValueError(f"{what}: labels must be >= 0, found {low}")
        if num_classes is not None and high >= num_classes:
            raise ValueError(
                f"{what}: labels must be < {num_classes} (the number of classes), found {high}"
            )
    return array


def default_classes(*label_arrays: np.ndarray) -> tuple[str, ...]:
    """Class names for labels read from a file: ``"0"`` up to the largest label (at least two
    classes, as a classifier needs), so a file of labels 0..2 has 3 classes, MNIST's 10."""
    high = max((int(a.max()) for a in label_arrays if a.size), default=-1)
    return tuple(str(c) for c in range(max(2, high + 1)))


@dataclass(frozen=True, eq=False)
class Dataset:
    """An MNIST-style dataset: uint8 images and int64 labels, split into train and test.

    Attributes:
        x_train: uint8, shape (n_train, 28, 28), pixel values 0..255.
        y_train: int64, shape (n_train,), values in [0, len(classes)).
        x_test: uint8, shape (n_test, 28, 28); n_test may be 0 (a CSV file is one split).
        y_test: int64, shape (n_test,).
        name: a short name such as ``"mnist"``, or the file or directory name.
        source: where the data was read from (a path, or the packaged resource).
        classes: the class names, ``classes[label]``; ``("0", ..., "9")`` for digits.

    Construction checks the shapes and dtypes and raises ``ValueError`` naming the field.
    Use :func:`fastmlp.datasets.prepare` to turn the images into float (n, 784) inputs.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    name: str
    source: str
    classes: tuple[str, ...] = DIGITS

    def __post_init__(self) -> None:
        k = len(self.classes)
        for split in ("train", "test"):
            x = getattr(self, f"x_{split}")
            y = getattr(self, f"y_{split}")
            if (
                not isinstance(x, np.ndarray)
                or x.dtype != np.uint8
                or x.ndim != 3
                or x.shape[1:] != IMAGE_SHAPE
            ):
                raise ValueError(
                    f"Dataset {self.name!r}: x_{split} must be a uint8 array of shape "
                    f"(n, 28, 28), got {_describe(x)}"
                )
            if not isinstance(y, np.ndarray) or y.dtype != np.int64 or y.ndim != 1:
                raise ValueError(
                    f"Dataset {self.name!r}: y_{split} must be an int64 array of shape (n,), "
                    f"got {_describe(y)}"
                )
            if len(x) != len(y):
                raise ValueError(
                    f"Dataset {self.name!r}: x_{split} has {len(x)} images "
                    f"but y_{split} has {len(y)} labels"
                )
            if y.size and (y.min() < 0 or y.max() >= k):
                raise ValueError(
                    f"Dataset {self.name!r}: y_{split} must lie in [0, {k}) for {k} classes, "
                    f"found {y.min()}..{y.max()}"
                )

    @property
    def num_classes(self) -> int:
        """The number of classes, ``len(classes)``."""
        return len(self.classes)

    def __repr__(self) -> str:
        return (
            f"Dataset(name={self.name!r}, train={len(self.x_train)}, test={len(self.x_test)}, "
            f"classes={self.num_classes}, source={self.source!r})"
        )


def _describe(value: object) -> str:
    if isinstance(value, np.ndarray):
        return f"{value.dtype} array of shape {value.shape}"
    return type(value).__name__
