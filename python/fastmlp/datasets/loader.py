"""``load``: one entry point for named datasets, the bundled sample and files on disk."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from . import sources
from .csv_reader import read_csv
from .dataset import IMAGE_SHAPE, Dataset, as_images, as_labels, default_classes
from .downloader import download as download_files
from .errors import DatasetNotFoundError
from .idx_reader import read_idx
from .lookup import ENV_VAR, cache_dir, candidates, find_idx_files
from .npz_reader import read_npz
from .sample import load_sample
from .sources import NAMES, SAMPLE_NAME, DatasetSource


def load(
    name_or_path: str | os.PathLike[str],
    data_dir: str | os.PathLike[str] | None = None,
    download: bool = True,
) -> Dataset:
    """Load an MNIST-style dataset by name or from a path.

    Args:
        name_or_path: one of the names ``"mnist"``, ``"fashion-mnist"``, ``"mnist-sample"``
            (the 5,000-digit sample shipped with fastmlp; never needs a download), or a path:

            - a directory holding the four IDX files (``train-images-idx3-ubyte``,
              ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``,
              ``t10k-labels-idx1-ubyte``, or the dotted variants ``train-images.idx3-ubyte``
              ..., each raw or ``.gz``);
            - a keras-style ``.npz`` file (``x_train, y_train, x_test, y_test``);
            - a ``.csv`` or ``.csv.gz`` file (label, then 784 pixels per row). A CSV file is
              one split: it becomes the training split and the test split is empty;
              read a second file with :func:`read_csv` for test data.

            A string equal to a name is the name; pass ``Path("mnist")`` or ``"./mnist"``
            for a directory of that name.
        data_dir: for names only, a directory to look in first (``data_dir/mnist/``, then
            ``data_dir`` itself).
        download: for ``"mnist"`` and ``"fashion-mnist"`` not found on disk, download them
            from the public mirrors into the cache (verified against the published MD5s).

    Lookup order for names: ``data_dir``, ``$FASTMLP_DATA/<name>/``, the cache
    (``$XDG_CACHE_HOME/fastmlp/<name>/`` or ``~/.cache/fastmlp/<name>/``), system
    directories (``/usr/share/datasets/<name>``, as Debian's ``dataset-fashion-mnist``
    installs it), then the download. Files on disk are checked by structure (magic
    number, dtype, dimensions, sizes); downloads also by MD5.

    Returns:
        A :class:`Dataset`: uint8 (n, 28, 28) images and int64 (n,) labels, train and test.

    Raises:
        DatasetNotFoundError: (a ``FileNotFoundError``) a name found nowhere and not
            downloaded; the message lists every path tried and what to do.
        FileNotFoundError: a path that does not exist and is not a name.
        ValueError: a file that is malformed, or a path of an unsupported kind; the
            message names the file.
    """
    if isinstance(name_or_path, str):
        key = name_or_path.strip().lower().replace("_", "-")
        if key == SAMPLE_NAME:
            return load_sample()
        if key in sources.DATASETS:
            return _load_named(sources.DATASETS[key], data_dir, download)
    if data_dir is not None:
        raise ValueError(
            f"data_dir is only used with the names {', '.join(sources.DATASETS)}; "
            f"got a path {os.fspath(name_or_path)!r}"
        )
    return _load_path(Path(name_or_path).expanduser(), name_or_path)


def _load_path(path: Path, given: str | os.PathLike[str]) -> Dataset:
    if not path.exists():
        raise FileNotFoundError(
            f"{os.fspath(given)!r} is neither a dataset name ({', '.join(NAMES)}) nor an "
            f"existing file or directory"
        )
    if path.is_dir():
        files, reason = find_idx_files(path)
        if files is None:
            raise FileNotFoundError(
                f"{path}: not an IDX dataset directory ({reason}); expected the four files "
                "train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, "
                "t10k-labels-idx1-ubyte (or train-images.idx3-ubyte ..., raw or .gz)"
            )
        return dataset_from_idx(files, name=path.name, source=str(path))
    lower = path.name.lower()
    if lower.endswith(".npz"):
        return read_npz(path)
    if lower.endswith((".csv", ".csv.gz")):
        images, labels = read_csv(path)
        return Dataset(
            x_train=images,
            y_train=labels,
            x_test=np.zeros((0, *IMAGE_SHAPE), dtype=np.uint8),
            y_test=np.zeros(0, dtype=np.int64),
            name=path.name.split(".")[0],
            source=str(path),
            classes=default_classes(labels),
        )
    if "idx" in lower:
        raise ValueError(
            f"{path}: a single IDX file; pass the directory holding all four "
            "(or read this one with read_idx)"
        )
    raise ValueError(
        f"{path}: unsupported file type; expected a directory of IDX files, "
        "a .npz file, or a .csv/.csv.gz file"
    )


def dataset_from_idx(
    files: dict[str, Path],
    name: str,
    source: str,
    classes: tuple[str, ...] | None = None,
) -> Dataset:
    """Read the four IDX files (keys ``train_images``, ``train_labels``, ``test_images``,
    ``test_labels``) into a :class:`Dataset`, checking dtypes, shapes and counts."""
    k = len(classes) if classes is not None else None
    arrays = {}
    for split in ("train", "test"):
        images_path, labels_path = files[f"{split}_images"], files[f"{split}_labels"]
        images = as_images(read_idx(images_path), str(images_path))
        labels = as_labels(read_idx(labels_path), str(labels_path), k)
        if len(images) != len(labels):
            raise ValueError(
                f"{images_path} has {len(images)} images but {labels_path} has {len(labels)} labels"
            )
        arrays[split] = images, labels
    (x_train, y_train), (x_test, y_test) = arrays["train"], arrays["test"]
    return Dataset(
        x_train=x_train,
        y_train=y_train,
        x_test=x_test,
        y_test=y_test,
        name=name,
        source=source,
        classes=classes if classes is not None else default_classes(y_train, y_test),
    )


def _load_named(
    source: DatasetSource, data_dir: str | os.PathLike[str] | None, download: bool
) -> Dataset:
    tried: list[tuple[Path, str, str]] = []
    for candidate in candidates(source, data_dir):
        files, reason = find_idx_files(candidate.path)
        if files is not None:
            return dataset_from_idx(files, source.name, str(candidate.path), source.classes)
        tried.append((candidate.path, candidate.origin, reason))
    target = cache_dir() / source.folders[0]
    cause: OSError | None = None
    if download:
        try:
            download_files(source.name, target)
        except OSError as exc:
            cause = exc
            outcome = f"download into {target} failed:\n{_indent(str(exc))}"
        else:
            files, reason = find_idx_files(target)
            if files is not None:
                return dataset_from_idx(files, source.name, str(target), source.classes)
            outcome = f"download into {target} left an incomplete directory: {reason}"
    else:
        outcome = f"download=False, so {', '.join(source.mirrors)} were not tried"
    lines = [f"  {path} ({origin}): {reason}" for path, origin, reason in tried]
    if not os.environ.get(ENV_VAR):
        first_cache = next(i for i, (_, origin, _) in enumerate(tried) if origin == "cache")
        lines.insert(first_cache, f"  ${ENV_VAR}: not set")
    if data_dir is None:
        lines.insert(0, "  data_dir argument: not given")
    listing = "\n".join(lines)
    message = (
        f"dataset {source.name!r} not found. Looked in:\n{listing}\n"
        f"Then: {outcome}\n"
        f"To fix: put the four IDX files (train-images-idx3-ubyte.gz, "
        f"train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz) "
        f"in a directory and pass data_dir=..., or set {ENV_VAR} to a directory with a "
        f"{source.folders[0]}/ subfolder holding them, or "
        f"{'retry with network access' if download else 'pass download=True'}; "
        f"for a quick start without files use "
        f"load({SAMPLE_NAME!r}), the 5,000-digit sample shipped with fastmlp."
    )
    raise DatasetNotFoundError(message, [str(path) for path, _, _ in tried]) from cause


def _indent(text: str) -> str:
    return "\n".join(f"  {line}" for line in text.splitlines())
