"""Files that reach the disk as written: temporaries with the mode a plain ``open`` gives, and
the flushes (fsync of a folder, syncfs of a file system) that put a folder's data on the disk
before a rename publishes it (`fileio.atomic_folder`, `MapWriter`, the ONNX export). Only the
standard library: `fileio` and `keyframes` both import it."""

from __future__ import annotations

import ctypes
import os
import tempfile
from typing import Tuple


def _umask() -> int:
    """The process umask (Linux: read from /proc, no change even for an instant; else the
    set-and-restore dance)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    old = os.umask(0o022)
    os.umask(old)
    return old


def mkstemp_public(dir: str, prefix: str = ".tmp-", suffix: str = "") -> Tuple[int, str]:
    """`tempfile.mkstemp` whose file gets the mode a plain ``open(..., "w")`` would give
    (0666 minus the umask): mkstemp makes it 0600, which the rename then carried to the map and
    run files, so another user (a ROS service account, a container) could not read them."""
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=dir)
    try:
        os.fchmod(fd, 0o666 & ~_umask())
    except BaseException:
        os.close(fd)
        os.unlink(tmp)
        raise
    return fd, tmp


def fsync_dir(path: str) -> None:
    """Flush a folder's entries (the names in it) to disk; a folder that cannot be opened or
    synced (some filesystems refuse fsync on a folder) is passed over."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _libc_syncfs():
    """libc's ``syncfs(fd)`` (Linux, glibc 2.14+ and musl), or None where there is none."""
    try:
        return ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError, TypeError):
        return None


def flush_filesystem(folder: str) -> None:
    """Write everything cached for the filesystem holding ``folder`` to disk (Linux
    ``syncfs(2)``; elsewhere ``os.sync()``), before the folder is renamed into place: a rename
    can reach the disk before the data of the files it publishes (ext4's delayed allocation),
    so a power cut after it left keyframe PNGs and encoding stores of zero length in a map
    whose manifest lists them. One call, not an fsync per file: each fsync is a device cache
    flush (0.07-3 ms measured here, 2 files per keyframe: a minute at 10^4 keyframes on a slow
    disk), and syncfs flushes the map's files together (3.5 ms for 300 files just written). It
    also writes back other programs' pending data on that filesystem (a rosbag recording):
    what they would write within ~30 s anyway.

    Raises OSError naming ``folder`` when the data could not be written (EIO, ENOSPC:
    ``syncfs`` reports writeback errors since Linux 5.8): the map must not be published.
    """
    syncfs = _libc_syncfs()
    if syncfs is None:
        os.sync()
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        if syncfs(fd) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"cannot flush {folder} to disk: {os.strerror(err)}")
    finally:
        os.close(fd)


def flush_before_publish(folder: str, out: str) -> None:
    """`flush_filesystem` of ``folder``, a finished temporary about to be renamed to the
    output ``out`` (a run, pair or retrieve folder, an ONNX export, a map, the demo's scene):
    OSError with syncfs's errno and ``out`` as its filename when the data cannot be written,
    for the caller to publish nothing (the folder of an earlier output at ``out`` stays as it
    was)."""
    try:
        flush_filesystem(folder)
    except OSError as e:
        why = os.strerror(e.errno) if e.errno else str(e)
        raise OSError(e.errno, f"cannot flush its files to disk ({why}); nothing was published",
                      out) from None
