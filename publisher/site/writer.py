"""Writing the site's files: atomically, and only when their bytes change.

Its own module because both sides of the build write: the forked render workers (every page,
feed and copied file) and the parent (removing outputs the site no longer has). A file whose
bytes did not change is left alone, so its mtime (Last-Modified) and ETag stay put.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

_TEMP_FILE = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0)


def temporary_name(target: str) -> str:
    """Beside the target, so the rename is atomic; a dot name, which the web server never
    serves, and this process's, so two builds never write into one temporary file."""
    folder, name = os.path.split(target)
    return os.path.join(folder, f".{name}.tmp{os.getpid()}")


def write_if_changed(target: str | Path, data: bytes, fresh: bool = False) -> tuple[bool, int, int]:
    """Write atomically unless the file already holds these bytes: (written, size, mtime_ns).

    Every write, a first build's too, goes to a temporary name and is renamed over the
    target: a reader (the web server, a feed reader polling) sees the old file or the new
    one, never half of one, and a killed build leaves no broken file behind. One open() tells
    a new file from an old one: a clean build writes 13,000 files. `fresh`: the output
    folder was empty when the build began, there is nothing to compare with."""
    target = os.fspath(target)
    if fresh:
        return _replace(target, data)
    try:
        with open(target, "rb") as f:
            st = os.fstat(f.fileno())
            if st.st_size == len(data) and f.read() == data:
                return False, st.st_size, st.st_mtime_ns
    except FileNotFoundError:
        pass
    return _replace(target, data)


def _replace(target: str, data: bytes) -> tuple[bool, int, int]:
    tmp = temporary_name(target)
    try:
        fd = os.open(tmp, _TEMP_FILE, 0o666)
    except FileNotFoundError:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        fd = os.open(tmp, _TEMP_FILE, 0o666)
    try:
        try:
            _write_all(fd, data)
            st = os.fstat(fd)  # what rename() keeps: one stat() of the target less
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)  # a full disk keeps nothing half-written
        if isinstance(exc, OSError) and exc.filename is None:  # write(): name the file
            raise OSError(exc.errno, exc.strerror, target) from None
        raise
    return True, st.st_size, st.st_mtime_ns


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def remove(out: Path, path: str) -> None:
    """Delete a stale output and the folders it leaves empty."""
    target = out / path
    target.unlink(missing_ok=True)
    parent = target.parent
    while parent != out and parent.is_dir() and not any(parent.iterdir()):
        parent.rmdir()
        parent = parent.parent
