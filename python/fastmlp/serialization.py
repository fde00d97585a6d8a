"""Saving and loading models: an ``.npz`` of the parameters plus JSON metadata.

Layout: ``W0, W1, ...`` (fan_in, fan_out), ``b0, b1, ...`` (fan_out,), and ``metadata``, a
JSON string with ``format`` = "fastmlp-model", ``version``, ``layer_sizes``, ``activation``,
``dtype``, ``init`` and the training ``history``. Saving follows :mod:`fastmlp.safe_write`: a
regular file is replaced atomically (an interrupted or failed save leaves it intact), a symlink
is written through, anything else (a directory, a device, a read-only file) is refused.
"""

from __future__ import annotations

import json
import os
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fastmlp.safe_write import write_file

FORMAT = "fastmlp-model"
VERSION = 1


def save_parameters(
    path: str | os.PathLike[str],
    weights: list[NDArray],
    biases: list[NDArray],
    metadata: dict[str, Any],
) -> Path:
    """Write parameters and metadata to ``path`` (see :mod:`fastmlp.safe_write` for what is
    replaced, written through or refused); returns the path written."""
    arrays: dict[str, Any] = {f"W{i}": w for i, w in enumerate(weights)}
    arrays.update({f"b{i}": b for i, b in enumerate(biases)})
    arrays["metadata"] = np.array(json.dumps({"format": FORMAT, "version": VERSION, **metadata}))
    return write_file(path, lambda stream: np.savez(stream, **arrays))


def load_parameters(
    path: str | os.PathLike[str],
) -> tuple[list[NDArray], list[NDArray], dict[str, Any]]:
    """Read and check a model file: ``(weights, biases, metadata)``.

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
    if metadata.get("version") != VERSION:
        raise ValueError(
            f"{source}: written in fastmlp model format version {metadata.get('version')!r}; "
            f"this fastmlp reads version {VERSION}"
        )
    sizes = metadata.get("layer_sizes")
    if not (isinstance(sizes, list) and len(sizes) >= 2 and all(isinstance(s, int) for s in sizes)):
        raise ValueError(f"{source}: the metadata's layer_sizes is invalid: {sizes!r}")
    dtype = metadata.get("dtype")
    layers = len(sizes) - 1
    expected = {f"W{i}" for i in range(layers)} | {f"b{i}" for i in range(layers)}
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
    return weights, biases, metadata
