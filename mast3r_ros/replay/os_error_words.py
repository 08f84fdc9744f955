"""The ``mast3r-ros`` CLI's one line for an ``OSError`` a path raised (`os_error_text`)."""

from __future__ import annotations

import argparse
import errno


def os_error_text(e: OSError, args: argparse.Namespace) -> str:
    """The CLI's one line for an ``OSError`` a path raised (an output or input the OS refuses):
    a full disk or quota, a read-only file system (remounted so after a disk error) and a
    file-size limit (``ulimit -f``, FAT32's 4 GiB on a USB stick) name the output as given (a
    file's name under ``OUT.partial``/``OUT.tmp-*`` is gone already) and the fix, as does a
    device's write error (EIO: a failed flush); a path that runs into a loop of symbolic links
    is named as one (`link_loops.loop_text`), as the paths given are; anything else names the
    path and the OS's words."""
    at = next((getattr(args, k, None) for k in ("out", "json", "plot") if getattr(args, k, None)),
              e.filename)
    held = f" holding {at}" if at else ""
    if e.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):  # a full disk
        return (f"no space left on the device{held} ({e.strerror}): free space there, or write "
                "elsewhere")
    if e.errno == errno.EROFS:  # writable at the start (checked): remounted read-only since
        return (f"the file system{held} is read-only ({e.strerror}): a disk error can make the "
                "kernel remount it so (see `dmesg`); remount it read-write, or write elsewhere")
    if e.errno == errno.EFBIG:
        under = f" under {at}" if at else ""
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
