"""Where named datasets are looked for on disk, in order, and how a directory is checked.

Lookup order for a named dataset (e.g. ``"mnist"``):

1. ``data_dir`` passed to :func:`~fastmlp.datasets.load`: ``data_dir/mnist/``, then
   ``data_dir/MNIST/raw/`` (torchvision's layout), then ``data_dir`` itself;
2. ``$FASTMLP_DATA/mnist/``, then ``$FASTMLP_DATA/MNIST/raw/`` (never ``$FASTMLP_DATA``
   itself: it is shared by several datasets, so its own files could be the wrong ones);
3. the cache, :func:`cache_dir` ``/mnist/``, where downloads go;
4. system directories such as ``/usr/share/datasets/fashion-mnist`` (Debian's
   ``dataset-fashion-mnist`` package).

A directory matches when it holds all four IDX files, each under its standard name
(``train-images-idx3-ubyte``) or the dotted variant (``train-images.idx3-ubyte``), raw or
with ``.gz``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from . import sources
from .sources import DOTTED_NAMES, ROLES, STANDARD_NAMES, DatasetSource

#: The environment variable naming a directory with one subfolder per dataset.
ENV_VAR = "FASTMLP_DATA"


def cache_dir() -> Path:
    """The download cache: ``$XDG_CACHE_HOME/fastmlp``, else ``~/.cache/fastmlp``.

    Read from the environment on every call. A relative ``XDG_CACHE_HOME`` is ignored, as
    the XDG Base Directory specification requires.
    """
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "fastmlp"


@dataclass(frozen=True)
class Candidate:
    """A directory to look in, and why it is on the list (shown in error messages)."""

    path: Path
    origin: str


def candidates(
    source: DatasetSource,
    data_dir: str | os.PathLike[str] | None = None,
) -> list[Candidate]:
    """The directories to look in for ``source``, in lookup order (see the module docstring)."""
    found: list[Candidate] = []
    if data_dir is not None:
        root = Path(data_dir).expanduser()
        found += [Candidate(root / folder, "data_dir argument") for folder in source.folders]
        found.append(Candidate(root, "data_dir argument"))
    env = os.environ.get(ENV_VAR, "")
    if env:
        root = Path(env).expanduser()
        found += [Candidate(root / folder, f"${ENV_VAR}") for folder in source.folders]
    found.append(Candidate(cache_dir() / source.folders[0], "cache"))
    found += [Candidate(Path(d), "system directory") for d in source.system_dirs]
    return found


def data_dirs(name: str, data_dir: str | os.PathLike[str] | None = None) -> list[Path]:
    """The directories :func:`~fastmlp.datasets.load` looks in for dataset ``name``, in order.

    Args:
        name: ``"mnist"`` or ``"fashion-mnist"``.
        data_dir: the ``data_dir`` argument of ``load``, if any.

    Returns:
        The candidate directories; the one inside :func:`cache_dir` is where downloads go.

    Raises:
        ValueError: ``name`` is not a dataset with IDX files on disk.
    """
    return [c.path for c in candidates(sources.get_source(name), data_dir)]


def file_choices(role: str) -> tuple[str, ...]:
    """The accepted file names for one of :data:`~fastmlp.datasets.sources.ROLES`."""
    standard, dotted = STANDARD_NAMES[role], DOTTED_NAMES[role]
    return (standard, f"{standard}.gz", dotted, f"{dotted}.gz")


def find_idx_files(directory: str | os.PathLike[str]) -> tuple[dict[str, Path] | None, str]:
    """Find the four IDX files in ``directory``.

    Returns:
        ``(files, "")`` with a path per role when all four are there, else ``(None, reason)``
        where ``reason`` says what is missing.
    """
    directory = Path(directory)
    if not directory.is_dir():
        return None, "no such directory"
    files: dict[str, Path] = {}
    missing: list[str] = []
    for role in ROLES:
        hit = next((directory / n for n in file_choices(role) if (directory / n).is_file()), None)
        if hit is None:
            missing.append(f"{STANDARD_NAMES[role]}[.gz]")
        else:
            files[role] = hit
    if missing:
        return None, "missing " + ", ".join(missing)
    return files, ""
