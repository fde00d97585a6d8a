"""Exceptions raised by :mod:`fastmlp.datasets` beyond the built-in ones.

Both are ``OSError`` subclasses, so ``except OSError`` (or ``except FileNotFoundError``
for the first) keeps working for callers that do not know about them.
"""

from __future__ import annotations


class DatasetNotFoundError(FileNotFoundError):
    """A named dataset is in none of the places looked at and could not be downloaded.

    The message lists every path tried, why each was rejected, and what to do.
    ``paths_tried`` holds the same paths as strings, in lookup order.
    """

    def __init__(self, message: str, paths_tried: list[str]) -> None:
        super().__init__(message)
        self.paths_tried = paths_tried

    def __str__(self) -> str:
        return str(self.args[0])


class DownloadError(OSError):
    """Every mirror failed for one file: network error, interrupted transfer or bad checksum.

    No partial file is left behind. ``failures`` holds one ``(url, reason)`` pair per mirror.
    """

    def __init__(self, message: str, failures: list[tuple[str, str]]) -> None:
        super().__init__(message)
        self.failures = failures

    def __str__(self) -> str:
        return str(self.args[0])
