"""The ``mast3r-ros`` CLI's one line for an ``OSError`` a path raised (`os_error_text`)."""

from __future__ import annotations

import argparse
import errno
import os
from typing import Optional

# the options whose paths a command writes (or writes beside: a checkpoint's cache), in the
# order an OSError's file is looked for under them
PATH_OPTIONS = ("out", "json", "plot", "trajectory", "checkpoint", "retrieval_checkpoint",
                "codebook", "params")


def os_error_text(e: OSError, args: argparse.Namespace) -> str:
    """The CLI's one line for an ``OSError`` a path raised (an output or input the OS refuses):
    a full disk or quota, a read-only file system (remounted so after a disk error) and a
    file-size limit (``ulimit -f``, FAT32's 4 GiB on a USB stick) name where (`failed_path`:
    the option whose path holds the file, else the file) and the fix, as does a
    device's write error (EIO: a failed flush); a path that runs into a loop of symbolic links
    is named as one (`link_loops.loop_text`), as the paths given are; anything else names the
    path and the OS's words."""
    at = failed_path(e, args)
    held = f" holding {at}" if at else ""
    if e.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):  # a full disk
        return (f"no space left on the device{held} ({e.strerror}): free space there, or write "
                "elsewhere")
    if e.errno == errno.EROFS:  # writable at the start (checked): remounted read-only since
        return (f"the file system{held} is read-only ({e.strerror}): a disk error can make the "
                "kernel remount it so (see `dmesg`); remount it read-write, or write elsewhere")
    if e.errno == errno.EFBIG:
        named = os.fsdecode(e.filename) if isinstance(e.filename, (str, bytes)) else None
        under = f", {at}," if at and at == named else f" under {at}" if at else ""
        return (f"a file written{under} reached the largest file size allowed ({e.strerror}: a "
                "FAT32 drive holds 4 GiB a file; `ulimit -f` sets a limit per process): write "
                "to another file system (ext4, exFAT, NTFS) or raise the limit")
    if e.errno == errno.EIO:  # the device failed the write (syncfs, fsync): not a path's fault
        said = "nothing was published" in (e.strerror or "")  # by `flush_before_publish`
        return (f"the device{held} could not write the data ({e.strerror or e})"
                f"{'' if said else ': nothing was published'}; check the drive (`dmesg`, its "
                "cable or card) or write elsewhere")
    if e.errno == errno.ELOOP and isinstance(e.filename, str):  # a file inside a folder given
        from ..core.link_loops import loop_text

        loop = loop_text("path", e.filename)
        if loop:
            return loop
    where = f": {e.filename}" if e.filename else ""
    return f"cannot use path{where}: {e.strerror or e} (check the paths given)"


def _forms(path: str) -> set:
    return {os.path.normpath(os.path.abspath(path)), os.path.realpath(path)}


def _holds(given: str, failed: str) -> bool:
    """Whether the file ``failed`` is the path ``given`` (an option's value), inside it, one
    of its siblings the commands write (``OUT.partial``, ``OUT.tmp-m3r-X``, ``OUT.old-X``,
    ``OUT.lock``) or an atomic write's temporary beside it (``.tmp-X``, ``.NAME.X.tmp``)."""
    for g in _forms(given):
        for f in _forms(failed):
            if f == g or f.startswith(g.rstrip(os.sep) + os.sep) or f.startswith(g + "."):
                return True
            name = os.path.basename(f)
            if os.path.dirname(f) == os.path.dirname(g) and (
                    name.startswith(".tmp-") or name.startswith(f".{os.path.basename(g)}.")):
                return True
    return False


def failed_path(e: OSError, args: argparse.Namespace) -> Optional[str]:
    """Where an ``OSError`` ``e`` of a command given ``args`` failed, for its line: the
    option whose path holds ``e.filename`` (`_holds`), as typed and named (``OUT (--out)``:
    a file under ``OUT.partial`` or a temporary is gone by the time the line is read); else
    ``e.filename`` itself (a cache, a temporary folder, a path no option gave); with no file
    named (a write's error), the first output given (``--out``, ``--json``, ``--plot``)."""
    failed = os.fsdecode(e.filename) if isinstance(e.filename, (str, bytes)) else None
    if not failed:
        return next((getattr(args, k) for k in ("out", "json", "plot")
                     if isinstance(getattr(args, k, None), str) and getattr(args, k)), None)
    for k in PATH_OPTIONS:
        given = getattr(args, k, None)
        if isinstance(given, str) and given and _holds(given, failed):
            return f"{given} (--{k.replace('_', '-')})"
    return failed
