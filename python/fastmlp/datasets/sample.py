"""The bundled ``"mnist-sample"``: 5,000 real MNIST digits shipped inside the package.

The file is ``fastmlp/data/mnist_sample.npz`` (keras-style keys, uint8 images, int64
labels), made by ``scripts/make_mnist_sample.py``; ``fastmlp/data/README.md`` says where
the digits come from and how they were split.
"""

from __future__ import annotations

from dataclasses import replace
from importlib import resources
from pathlib import Path

from .dataset import Dataset
from .npz_reader import read_npz
from .sources import MNIST, SAMPLE_NAME

PACKAGE = "fastmlp"
RESOURCE = ("data", "mnist_sample.npz")


def load_sample() -> Dataset:
    """Load the bundled sample: 4,000 training and 1,000 test digits, balanced by class.

    Returns:
        A :class:`Dataset` named ``"mnist-sample"``: uint8 (n, 28, 28) images and int64 (n,)
        labels 0..9, 400 training and 100 test images per digit.

    Raises:
        FileNotFoundError: the package was installed without its data file.
    """
    ref = resources.files(PACKAGE).joinpath(RESOURCE[0]).joinpath(RESOURCE[1])
    where = f"{PACKAGE}/{'/'.join(RESOURCE)} (package data)"
    if not ref.is_file():
        raise FileNotFoundError(
            f"the bundled sample {where} is missing: this installation of fastmlp lacks "
            "its data files; reinstall it, or load 'mnist' instead"
        )
    with resources.as_file(ref) as path:
        dataset = read_npz(path, name=SAMPLE_NAME, classes=MNIST.classes)
    return replace(dataset, source=str(ref) if isinstance(ref, Path) else where)
