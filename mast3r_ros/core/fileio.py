"""Atomic file writes: a reader sees the old file or the complete new one, never a part."""

from __future__ import annotations

import hashlib
import os
import tempfile
from typing import Callable


def atomic_write_file(path: str, write: Callable[[str], None]) -> None:
    """Run ``write(tmp_path)`` (a temporary file next to ``path``), sync it and rename it over
    ``path``, so readers see either the old file or the complete new one. The temporary file is
    removed when ``write`` raises."""
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=os.path.dirname(os.path.abspath(path)))
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_bytes(path: str, data: bytes) -> None:
    """Write a file so that readers see either the old content or the complete new one."""
    def write(tmp: str) -> None:
        with open(tmp, "wb") as fh:
            fh.write(data)

    atomic_write_file(path, write)


def file_sha256(path: str) -> str:
    """Hex sha256 of a file's content, read in 4 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def atomic_write_text(path: str, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str, obj) -> None:
    import json

    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")
