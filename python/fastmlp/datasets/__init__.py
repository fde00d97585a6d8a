"""MNIST-style datasets: loading, file formats, download cache, and input encoding.

>>> from fastmlp import datasets
>>> data = datasets.load("mnist-sample")            # or "mnist", "fashion-mnist", a path
>>> x = datasets.prepare(data.x_train)              # float32 (n, 784) in [0, 1]
>>> y = datasets.one_hot(data.y_train, 10)          # float32 (n, 10)

Modules, one job each: ``dataset`` (the :class:`Dataset` container), ``idx_reader``,
``npz_reader``, ``csv_reader`` (file formats), ``npy_reader`` (``.npy`` arrays and ``.npz``
members read in bounded memory), ``sources`` (names, mirrors, checksums),
``lookup`` (where to look, in order), ``downloader`` (verified atomic downloads),
``sample`` (the bundled sample), ``loader`` (:func:`load`), ``encoding`` (:func:`prepare`,
:func:`one_hot`), ``errors``.
"""

from __future__ import annotations

from .csv_reader import read_csv
from .dataset import Dataset
from .downloader import download
from .encoding import one_hot, prepare
from .errors import DatasetNotFoundError, DownloadError
from .idx_reader import read_idx
from .loader import load
from .lookup import ENV_VAR, cache_dir, data_dirs
from .npz_reader import read_npz
from .sources import DATASETS, NAMES, DatasetSource

__all__ = [
    "DATASETS",
    "ENV_VAR",
    "NAMES",
    "Dataset",
    "DatasetNotFoundError",
    "DatasetSource",
    "DownloadError",
    "cache_dir",
    "data_dirs",
    "download",
    "load",
    "one_hot",
    "prepare",
    "read_csv",
    "read_idx",
    "read_npz",
]
