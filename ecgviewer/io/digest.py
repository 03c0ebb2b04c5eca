"""Content hashes of files: the one SHA-256 used to bind a session to its image and an
output to its input (standard library only: batch workers import it before numpy)."""

from __future__ import annotations

import hashlib
import os


def file_sha256(path: str | os.PathLike, chunk_bytes: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks (scans can be large)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk_bytes):
            h.update(block)
    return h.hexdigest()
