"""stdout and stderr that survive a reader leaving early (``fastmlp train ... | head -1``).

A write or flush that meets a closed pipe points the stream's file descriptor at the null
device and drops the rest of the output, instead of raising ``BrokenPipeError`` in the middle
of a run: a training run still saves its model, and the exit-time flush has nothing to fail.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

__all__ = ["PipeSafeStream", "pipe_safe_streams"]


class PipeSafeStream(io.TextIOBase):
    """A text stream that forwards to ``stream`` until its reader goes away, then to nothing."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__()
        self.stream = stream
        #: Whether the reader has gone: output since then was dropped.
        self.broken = False

    def write(self, text: str) -> int:
        if not self.broken:
            try:
                self.stream.write(text)
            except BrokenPipeError:
                self._reader_gone()
        return len(text)

    def flush(self) -> None:
        if not self.broken:
            try:
                self.stream.flush()
            except BrokenPipeError:
                self._reader_gone()

    def _reader_gone(self) -> None:
        self.broken = True
        try:  # what is still buffered, and the interpreter's last flush, go to the null device
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self.stream.fileno())
            os.close(devnull)
        except (OSError, ValueError, io.UnsupportedOperation):
            pass

    def isatty(self) -> bool:
        return not self.broken and self.stream.isatty()

    def fileno(self) -> int:
        return self.stream.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.stream, "encoding", None) or "utf-8"

    def writable(self) -> bool:
        return True


@contextmanager
def pipe_safe_streams() -> Iterator[None]:
    """Run the block with ``sys.stdout`` and ``sys.stderr`` wrapped in :class:`PipeSafeStream`
    (flushed at its end, while still wrapped); the originals are restored afterwards."""
    originals = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = (
        s if isinstance(s, PipeSafeStream) else PipeSafeStream(s) for s in originals
    )
    try:
        yield
    finally:
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        sys.stdout, sys.stderr = originals
