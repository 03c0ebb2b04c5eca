"""One batch at a time per output folder: an exclusive lock file held while a batch writes.

Two batches writing one folder at once would each report success while one replaces the
other's files. The lock is ``.ecgviewer.lock`` in the folder (hidden, so never an input),
taken with ``fcntl.flock`` (``msvcrt.locking`` on Windows) and removed when the batch ends;
the operating system releases the lock when the process ends, however it ends, so a crash
never leaves a stale lock (only a harmless empty file, reused by the next batch).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ecgviewer.errors import EcgViewerError

LOCK_NAME = ".ecgviewer.lock"


class FolderBusyError(EcgViewerError):
    """Another batch is writing to the same output folder."""


def _try_lock(fd: int) -> bool:
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _acquire(path: Path, folder: str | os.PathLike) -> int:
    """An open descriptor of ``path`` holding its lock. The file is removed on release, so
    after locking we check it is still the file at ``path`` (else another run removed it
    meanwhile and we retry on the new one)."""
    for _ in range(100):
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as exc:
            raise EcgViewerError(
                f"cannot write to the output folder {folder}: {exc.strerror or exc}"
            ) from None
        if not _try_lock(fd):
            holder = os.read(fd, 64).decode(errors="replace").strip()
            os.close(fd)
            raise FolderBusyError(
                f"another ecgviewer batch{f' (process {holder})' if holder else ''} is writing "
                f"to {folder}; wait for it to finish or choose another output folder"
            )
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)
    raise FolderBusyError(f"cannot lock the output folder {folder}")  # pragma: no cover


@contextmanager
def folder_lock(folder: str | os.PathLike) -> Iterator[Path]:
    """Hold the output folder's lock for the ``with`` block; a second holder is refused
    with :class:`FolderBusyError` naming the process that holds it."""
    path = Path(folder) / LOCK_NAME
    fd = _acquire(path, folder)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        yield path
    finally:
        try:
            path.unlink()  # while still holding it, so no one locks a file we then remove
        except OSError:
            pass
        os.close(fd)  # closing releases the lock
