"""Downloading a named dataset's files: mirrors in turn, MD5 check, atomic write.

Each file is streamed into a temporary file in the destination directory
(``.<name>.<random>.part``), its MD5 compared with the published one, and only then renamed
over the final name with ``os.replace``. On any failure -- network error, interrupted
transfer, checksum mismatch, Ctrl-C -- the temporary file is deleted, so a final name never
holds a partial or unverified file.

Tests replace the module-level :data:`urlopen` to simulate the network.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import sys
import tempfile
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

from . import sources
from .errors import DownloadError
from .lookup import cache_dir

#: The function used to open URLs; ``urllib.request.urlopen`` unless a test replaces it.
urlopen = urllib.request.urlopen

TIMEOUT_SECONDS = 60.0
CHUNK_BYTES = 1 << 20
USER_AGENT = "fastmlp-datasets (Python urllib)"


class _MirrorFailed(Exception):
    """One mirror failed for one file; the reason goes into :class:`DownloadError`."""


def md5_of(path: str | os.PathLike[str]) -> str:
    """The hex MD5 of a file's content, read in chunks."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as stream:
        while chunk := stream.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def download(name: str, directory: str | os.PathLike[str] | None = None) -> Path:
    """Download the four ``.gz`` IDX files of a named dataset and verify their MD5s.

    Files already present with the published checksum are kept; missing ones, and ones
    whose checksum is wrong, are downloaded (replacing the latter atomically).

    Args:
        name: ``"mnist"`` or ``"fashion-mnist"``.
        directory: where to put the files; default: ``cache_dir() / name``.

    Returns:
        The directory holding the four verified files.

    Raises:
        ValueError: unknown ``name``.
        DownloadError: every mirror failed for some file (the message lists each URL and
            why); files already completed stay, no partial file is left.
        OSError: the directory cannot be created or written.
    """
    source = sources.get_source(name)
    target = Path(directory) if directory is not None else cache_dir() / source.folders[0]
    target.mkdir(parents=True, exist_ok=True)
    for filename in source.download_names():
        dest = target / filename
        expected = source.md5[filename]
        if dest.is_file() and md5_of(dest) == expected:
            continue
        fetch_verified([base + filename for base in source.mirrors], dest, expected)
    return target


def fetch_verified(urls: Sequence[str], dest: str | os.PathLike[str], md5: str) -> None:
    """Download ``dest`` from the first of ``urls`` that delivers content with MD5 ``md5``.

    Raises:
        DownloadError: all URLs failed; the message lists each URL and the reason.
        OSError: writing in ``dest``'s directory failed (not retried on another mirror).
    """
    dest = Path(dest)
    failures: list[tuple[str, str]] = []
    for url in urls:
        try:
            _fetch_one(url, dest, md5)
        except _MirrorFailed as exc:
            failures.append((url, str(exc)))
        else:
            return
    lines = "\n".join(f"  {url}: {reason}" for url, reason in failures)
    raise DownloadError(f"could not download {dest.name} into {dest.parent}:\n{lines}", failures)


def _fetch_one(url: str, dest: Path, md5: str) -> None:
    print(f"fastmlp: downloading {url} -> {dest}", file=sys.stderr)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            digest, received, declared = _stream(url, out)
            out.flush()
            os.fsync(out.fileno())
        if declared is not None and received != declared:
            raise _MirrorFailed(f"interrupted: received {received} of {declared} bytes")
        if digest != md5:
            raise _MirrorFailed(
                f"checksum mismatch: MD5 {digest}, expected the published {md5} "
                f"({received} bytes received)"
            )
        os.replace(tmp, dest)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _stream(url: str, out: BinaryIO) -> tuple[str, int, int | None]:
    """Copy ``url`` into ``out``; return (MD5 hex, bytes received, declared Content-Length)."""
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        response = urlopen(request, timeout=TIMEOUT_SECONDS)
    except (OSError, http.client.HTTPException, ValueError) as exc:
        raise _MirrorFailed(f"request failed: {exc}") from exc
    digest = hashlib.md5(usedforsecurity=False)
    received = 0
    with response:
        length = getattr(response, "headers", {}).get("Content-Length")
        declared = int(length) if length is not None and str(length).isdigit() else None
        while True:
            try:
                chunk = response.read(CHUNK_BYTES)
            except (OSError, http.client.HTTPException) as exc:
                raise _MirrorFailed(f"interrupted after {received} bytes: {exc!r}") from exc
            if not chunk:
                break
            out.write(chunk)
            digest.update(chunk)
            received += len(chunk)
    return digest.hexdigest(), received, declared
