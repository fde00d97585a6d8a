"""Saving and loading models: an ``.npz`` of the parameters plus JSON metadata.

Layout: ``W0, W1, ...`` (fan_in, fan_out), ``b0, b1, ...`` (fan_out,), and ``metadata``, a
JSON string with ``format`` = "fastmlp-model", ``version``, ``layer_sizes``, ``activation``,
``dtype``, ``init``, the training ``history`` and, when known, the ``dataset`` it was trained
on (a name or a path) and its ``class_names`` (older files lack these two: they load as
``None``). Version 2 adds the optimizer's state arrays, listed in the metadata's
``extra_arrays`` (``optimizer.step``, int64 (1,), and ``optimizer.<slot>.W<l>`` /
``optimizer.<slot>.b<l>`` shaped as the parameters, slot ``velocity``, ``m`` or ``v``), and
its ``training`` (the optimizer's settings, the schedule, rows seen) and ``generator`` (the
random generator's state) entries; version 1 files, which have none of them, still load.
Saving follows :mod:`fastmlp.safe_write`: a
regular file is replaced atomically (an interrupted or failed save leaves it intact), a symlink
is written through, anything else (a directory, a device, a read-only file) is refused.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fastmlp.datasets.npy_reader import Check, NpyHeader, NpzMembers, native_order
from fastmlp.safe_write import write_file

FORMAT = "fastmlp-model"
VERSION = 2
READABLE_VERSIONS = (1, 2)
#: The names an extra array may have: the optimizer's step count and state slots.
EXTRA_ARRAY = re.compile(r"optimizer\.(?:step|(?:velocity|m|v)\.([Wb])(\d+))")
#: The longest metadata string read (the JSON of a model trained for ~100,000 epochs).
METADATA_MAX_CHARS = 16 << 20


def save_parameters(
    path: str | os.PathLike[str],
    weights: list[NDArray],
    biases: list[NDArray],
    metadata: dict[str, Any],
    extra_arrays: dict[str, NDArray] | None = None,
) -> Path:
    """Write parameters, ``extra_arrays`` (the optimizer's state, by the names
    :data:`EXTRA_ARRAY` allows) and metadata to ``path`` (see :mod:`fastmlp.safe_write` for
    what is replaced, written through or refused); returns the path written."""
    arrays: dict[str, Any] = {f"W{i}": w for i, w in enumerate(weights)}
    arrays.update({f"b{i}": b for i, b in enumerate(biases)})
    extra = dict(extra_arrays or {})
    if any(not EXTRA_ARRAY.fullmatch(name) for name in extra):
        raise ValueError(
            f"extra_arrays: names must match {EXTRA_ARRAY.pattern}, got {sorted(extra)}"
        )
    arrays.update(extra)
    header = {"format": FORMAT, "version": VERSION, **metadata, "extra_arrays": sorted(extra)}
    arrays["metadata"] = np.array(json.dumps(header))
    return write_file(path, lambda stream: np.savez(stream, **arrays))


def load_parameters(
    path: str | os.PathLike[str],
) -> tuple[list[NDArray], list[NDArray], dict[str, Any], dict[str, NDArray]]:
    """Read and check a model file: ``(weights, biases, metadata, extra_arrays)``.

    Nothing is read on trust: the member names, then the metadata (a bounded JSON string),
    then each array's ``.npy`` header against the metadata's shapes and dtype, and its
    declared size, before its data (see :mod:`fastmlp.datasets.npy_reader`). Arrays come
    back C-ordered, writeable and in native byte order.

    Raises ``FileNotFoundError`` for a missing file, ``ValueError`` for anything that is not
    a fastmlp model of this version or whose arrays do not fit its metadata, and
    ``MemoryError`` (naming the file) for a model too large to allocate.
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
    with NpzMembers(source, _damaged) as archive:
        if "metadata" not in archive.names:
            raise ValueError(f"{source}: not a fastmlp model file (no 'metadata' entry)")
        metadata = _read_metadata(archive, source)
        sizes, dtype = metadata["layer_sizes"], metadata.get("dtype")
        layers = len(sizes) - 1
        expected = {f"W{i}" for i in range(layers)} | {f"b{i}" for i in range(layers)}
        extra_shapes = _extra_shapes(metadata, source)
        expected |= set(extra_shapes)
        contents = set(archive.names) - {"metadata"}
        if contents != expected:
            raise ValueError(
                f"{source}: expected arrays {sorted(expected)} for layer_sizes {sizes}, "
                f"got {sorted(contents)}"
            )
        weights: list[NDArray] = []
        biases: list[NDArray] = []
        for i in range(layers):
            for name, shape, into in (
                (f"W{i}", (sizes[i], sizes[i + 1]), weights),
                (f"b{i}", (sizes[i + 1],), biases),
            ):
                array = archive.read(name, _expect(shape, dtype))
                if not np.isfinite(array).all():
                    raise ValueError(f"{source}: {name} contains NaN or infinite values")
                into.append(array)
        extra = {
            name: archive.read(name, _expect(*shape_and_dtype))
            for name, shape_and_dtype in sorted(extra_shapes.items())
        }
    return weights, biases, metadata, extra


def _extra_shapes(metadata: dict[str, Any], source: Path) -> dict[str, tuple[Any, ...]]:
    """The metadata's ``extra_arrays``, each name checked against :data:`EXTRA_ARRAY` and the
    layers, with the ``(shape, dtype)`` it must have: a parameter's for a state slot, int64
    (1,) for the step count. So every extra array's size is known before it is read."""
    names = metadata.get("extra_arrays", [])
    if not (isinstance(names, list) and all(isinstance(n, str) for n in names)):
        raise ValueError(f"{source}: the metadata's extra_arrays is invalid: {names!r}")
    sizes, dtype = metadata["layer_sizes"], metadata.get("dtype")
    shapes: dict[str, tuple[Any, ...]] = {}
    for name in names:
        match = EXTRA_ARRAY.fullmatch(name)
        if match is None or (match.group(2) is not None and int(match.group(2)) >= len(sizes) - 1):
            raise ValueError(f"{source}: the metadata's extra_arrays has an unknown {name!r}")
        kind, layer = match.group(1), int(match.group(2) or 0)
        if kind is None:
            shapes[name] = ((1,), "int64")
        elif kind == "W":
            shapes[name] = ((sizes[layer], sizes[layer + 1]), dtype)
        else:
            shapes[name] = ((sizes[layer + 1],), dtype)
    return shapes


def _damaged(detail: str) -> str:
    return f"not a fastmlp model file (not a readable .npz: {detail})"


def _expect(shape: tuple[int, ...], dtype: object) -> Check:
    """A header check: the array the metadata promises, in either byte order."""

    def check(header: NpyHeader) -> None:
        if header.shape != shape or native_order(header.dtype).name != dtype:
            raise ValueError(
                f"should be {dtype} of shape {shape}, "
                f"got {native_order(header.dtype)} of shape {header.shape}"
            )

    return check


def _read_metadata(archive: NpzMembers, source: Path) -> dict[str, Any]:
    """The metadata member: a JSON string of at most METADATA_MAX_CHARS, checked."""

    def check(header: NpyHeader) -> None:  # before the string is read
        chars = header.dtype.itemsize // 4
        if header.shape != () or header.dtype.kind != "U" or chars > METADATA_MAX_CHARS:
            raise ValueError(
                f"should be one JSON string of at most {METADATA_MAX_CHARS:,} characters, "
                f"got {header.describe()}"
            )

    text = str(archive.read("metadata", check))
    try:
        metadata = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"{source}: the model metadata is not valid JSON: {error}") from None
    except RecursionError:
        raise ValueError(f"{source}: the model metadata is nested too deeply") from None
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise ValueError(f"{source}: not a fastmlp model file (format is not {FORMAT!r})")
    if metadata.get("version") not in READABLE_VERSIONS:
        raise ValueError(
            f"{source}: written in fastmlp model format version {metadata.get('version')!r}; "
            f"this fastmlp reads versions {', '.join(map(str, READABLE_VERSIONS))}"
        )
    sizes = metadata.get("layer_sizes")
    if not (
        isinstance(sizes, list)
        and len(sizes) >= 2
        and all(isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in sizes)
    ):
        raise ValueError(f"{source}: the metadata's layer_sizes is invalid: {sizes!r}")
    return metadata
