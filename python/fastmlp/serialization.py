"""Saving and loading models: an ``.npz`` of the parameters plus JSON metadata.

Layout: ``W0, W1, ...`` (fan_in, fan_out), ``b0, b1, ...`` (fan_out,), and ``metadata``, a
JSON string with ``format`` = "fastmlp-model", ``version``, ``layer_sizes``, ``activation``,
``dtype``, ``init`` and the training ``history``. Version 2 adds the arrays listed in the
metadata's ``extra_arrays`` (the optimizer's state, e.g. ``optimizer.m.W0``), and its
``training`` (the optimizer's settings, the schedule, rows seen) and ``generator`` (the
random generator's state) entries; version 1 files, which have none of them, still load.

The file is written to a temporary file in the target directory, flushed to disk, then
renamed over the target: an interrupted or failed save leaves any previous file intact.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

FORMAT = "fastmlp-model"
VERSION = 2
READABLE_VERSIONS = (1, 2)


def save_parameters(
    path: str | os.PathLike[str],
    weights: list[NDArray],
    biases: list[NDArray],
    metadata: dict[str, Any],
    extra_arrays: dict[str, NDArray] | None = None,
) -> Path:
    """Write parameters, ``extra_arrays`` (by name) and metadata to ``path`` atomically;
    returns the path written."""
    target = Path(path)
    directory = target.parent
    if not directory.is_dir():
        raise FileNotFoundError(f"path: the directory {str(directory)!r} does not exist")
    arrays: dict[str, Any] = {f"W{i}": w for i, w in enumerate(weights)}
    arrays.update({f"b{i}": b for i, b in enumerate(biases)})
    extra = dict(extra_arrays or {})
    if set(extra) & (set(arrays) | {"metadata"}):
        raise ValueError(f"extra_arrays: names {sorted(set(extra) & set(arrays))} are taken")
    arrays.update(extra)
    header = {"format": FORMAT, "version": VERSION, **metadata, "extra_arrays": sorted(extra)}
    arrays["metadata"] = np.array(json.dumps(header))
    descriptor, temporary = tempfile.mkstemp(
        dir=directory, prefix=f".{target.name}.", suffix=".tmp"
    )
    try:
        # mkstemp makes the file private (0o600): give it the mode a plain open() would.
        os.chmod(temporary, _file_mode(target))
        with os.fdopen(descriptor, "wb") as stream:
            np.savez(stream, **arrays)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


def _file_mode(target: Path) -> int:
    """The permissions for ``target``: those of the file it replaces, else 0o666 - umask."""
    try:
        return stat.S_IMODE(target.stat().st_mode)
    except OSError:
        pass
    try:  # Linux: read the umask without changing it (os.umask would, for every thread)
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def load_parameters(
    path: str | os.PathLike[str],
) -> tuple[list[NDArray], list[NDArray], dict[str, Any], dict[str, NDArray]]:
    """Read and check a model file: ``(weights, biases, metadata, extra_arrays)``.

    Raises ``FileNotFoundError`` for a missing file and ``ValueError`` for anything that is
    not a fastmlp model of this version, or whose arrays do not fit its metadata.
    """
    source = Path(path)
    if not source.is_file():
        raise FileNotFoundError(f"path: no such file {str(source)!r}")
    with open(source, "rb") as stream:
        signature = stream.read(4)
    if signature not in (b"PK\x03\x04", b"PK\x05\x06"):  # what np.load takes for an .npz
        raise ValueError(
            f"{source}: not a fastmlp model file (not an .npz archive; MLP.save writes one)"
        )
    try:
        with np.load(source, allow_pickle=False) as archive:
            contents = {name: archive[name] for name in archive.files}
    # zipfile: BadZipFile, NotImplementedError (compression), RuntimeError (encryption).
    except (
        OSError,
        ValueError,
        EOFError,
        zipfile.BadZipFile,
        NotImplementedError,
        RuntimeError,
        zlib.error,
    ) as error:
        raise ValueError(
            f"{source}: not a fastmlp model file (not a readable .npz: {error})"
        ) from None
    if "metadata" not in contents:
        raise ValueError(f"{source}: not a fastmlp model file (no 'metadata' entry)")
    try:
        metadata = json.loads(str(contents.pop("metadata")))
    except json.JSONDecodeError as error:
        raise ValueError(f"{source}: the model metadata is not valid JSON: {error}") from None
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise ValueError(f"{source}: not a fastmlp model file (format is not {FORMAT!r})")
    if metadata.get("version") not in READABLE_VERSIONS:
        raise ValueError(
            f"{source}: written in fastmlp model format version {metadata.get('version')!r}; "
            f"this fastmlp reads versions {', '.join(map(str, READABLE_VERSIONS))}"
        )
    sizes = metadata.get("layer_sizes")
    if not (isinstance(sizes, list) and len(sizes) >= 2 and all(isinstance(s, int) for s in sizes)):
        raise ValueError(f"{source}: the metadata's layer_sizes is invalid: {sizes!r}")
    dtype = metadata.get("dtype")
    layers = len(sizes) - 1
    extra_names = metadata.get("extra_arrays", [])
    if not (isinstance(extra_names, list) and all(isinstance(n, str) for n in extra_names)):
        raise ValueError(f"{source}: the metadata's extra_arrays is invalid: {extra_names!r}")
    expected = {f"W{i}" for i in range(layers)} | {f"b{i}" for i in range(layers)}
    expected |= set(extra_names)
    if set(contents) != expected:
        raise ValueError(
            f"{source}: expected arrays {sorted(expected)} for layer_sizes {sizes}, "
            f"got {sorted(contents)}"
        )
    weights = [contents[f"W{i}"] for i in range(layers)]
    biases = [contents[f"b{i}"] for i in range(layers)]
    for i in range(layers):
        for name, array, shape in (
            (f"W{i}", weights[i], (sizes[i], sizes[i + 1])),
            (f"b{i}", biases[i], (sizes[i + 1],)),
        ):
            if array.shape != shape or array.dtype.name != dtype:
                raise ValueError(
                    f"{source}: {name} should be {dtype} of shape {shape}, "
                    f"got {array.dtype} of shape {array.shape}"
                )
            if not np.isfinite(array).all():
                raise ValueError(f"{source}: {name} contains NaN or infinite values")
    return weights, biases, metadata, {name: contents[name] for name in extra_names}
