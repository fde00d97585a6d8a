"""Writing output files (models, plots) without harming what was at the path.

The rules, the same for every writer in fastmlp:

* a **regular file** (or no file yet) is replaced atomically: the content goes to a temporary
  file in the same directory, is flushed to disk, then renamed over the target; a failed or
  interrupted write leaves the old file intact. The new file keeps the old one's permissions
  and, where the process may set it, its owner; a new file gets ``0o666 & ~umask``;
* a **symlink** is written through: the file it points to is replaced as above and the link
  stays a link (a dangling link's target is created);
* a file with **several hard links** is rewritten in place (after the whole content was
  written to a temporary file), so that every name sees the new content;
* a **directory**, a **device**, a **FIFO**, a **socket** and a **read-only file** (no write
  permission bit, or not writable by this process) are refused with an ``OSError`` naming the
  path -- never replaced, even by root.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

__all__ = ["check_target", "check_writable", "write_file"]

_KINDS = (
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
)


def check_target(path: str | os.PathLike[str]) -> Path:
    """The file a write to ``path`` will replace or create: ``path``, or its symlink's target.

    Raises:
        FileNotFoundError: the directory does not exist.
        IsADirectoryError: ``path`` is a directory.
        PermissionError: ``path`` is a read-only file.
        OSError: ``path`` is a device, a FIFO or a socket.
    """
    given = os.fspath(path)
    target = Path(os.path.realpath(Path(given).expanduser()))
    try:
        status = target.stat()
    except FileNotFoundError:
        status = None
    except OSError as error:  # e.g. a symlink loop, or a path component that is a file
        raise OSError(f"{given}: cannot write there ({error.strerror})") from None
    if status is None:
        if not target.parent.is_dir():
            raise FileNotFoundError(f"{given}: the directory {str(target.parent)!r} does not exist")
        return target
    if stat.S_ISDIR(status.st_mode):
        raise IsADirectoryError(f"{given}: is a directory; give a file name")
    for test, kind in _KINDS:
        if test(status.st_mode):
            raise OSError(
                f"{given}: is {kind}, not a regular file; fastmlp writes only regular files "
                "(and through symlinks to them), and never replaces anything else",
            )
    writable_bits = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH
    if not status.st_mode & writable_bits or not os.access(target, os.W_OK):
        raise PermissionError(
            f"{given}: the file is read-only (mode {stat.filemode(status.st_mode)}); fastmlp "
            "does not replace read-only files: make it writable (chmod u+w) or choose "
            "another name",
        )
    return target


def check_writable(path: str | os.PathLike[str]) -> Path:
    """:func:`check_target`, then a test that a file can be created in its directory (a
    nameless temporary file, gone when closed): for checking outputs before a long run."""
    target = check_target(path)
    try:
        with tempfile.TemporaryFile(dir=target.parent):
            pass
    except OSError as error:
        raise type(error)(
            f"{os.fspath(path)}: cannot create a file in {target.parent}: {error.strerror}"
        ) from None
    return target


def write_file(path: str | os.PathLike[str], write: Callable[[BinaryIO], None]) -> Path:
    """Write ``path`` by calling ``write(stream)``, following the module's rules.

    Returns ``path`` as a :class:`~pathlib.Path` (the name given, not a symlink's target).
    Whatever ``write`` raises propagates, with the old file intact and no temporary file left.
    """
    given = Path(path).expanduser()
    target = check_target(path)
    try:
        old = target.stat()
    except FileNotFoundError:
        old = None
    try:
        descriptor, temporary = tempfile.mkstemp(
            dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"
        )
    except OSError as error:
        raise type(error)(
            f"{os.fspath(path)}: cannot create a file in {target.parent}: {error.strerror}"
        ) from None
    try:
        # mkstemp makes the file private (0o600): give it the mode a plain open() would.
        os.chmod(temporary, stat.S_IMODE(old.st_mode) if old else _new_file_mode())
        with os.fdopen(descriptor, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        if old is not None and old.st_nlink > 1:
            _copy_in_place(temporary, target)
            os.unlink(temporary)
        else:
            if old is not None:
                _keep_owner(temporary, old)
            os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return given


def _copy_in_place(source: str, target: Path) -> None:
    """Overwrite ``target``'s content with ``source``'s, keeping its inode (and hard links)."""
    with open(source, "rb") as reader, open(target, "r+b") as writer:
        writer.truncate(0)
        shutil.copyfileobj(reader, writer)
        writer.flush()
        os.fsync(writer.fileno())


def _keep_owner(temporary: str, old: os.stat_result) -> None:
    """Give the new file the old one's owner and group where allowed (root replacing a
    user's file); elsewhere the new file stays the writer's, as with any editor."""
    if not hasattr(os, "chown"):
        return
    try:
        os.chown(temporary, old.st_uid, old.st_gid)
    except OSError:
        pass


def _new_file_mode() -> int:
    """``0o666 & ~umask``: the permissions a plain ``open(path, "w")`` would give."""
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
