"""Which existing files check-map's ``--json FILE`` and ``--plot PNG`` may replace.

A report file the user names is replaced only where that replaces an earlier output of the same
option: an empty file, a JSON check-map report (an object with ``verdict``, ``keyframes`` and
``pairs``) for ``--json``, a picture matplotlib wrote (its ``matplotlib`` mark in the first or
last 4 KiB) for ``--plot``. Anything else (a checkpoint, a map's file, a photo, notes) is
refused before any work with `InputError`: ``check-map MAP --json model.pth`` replaced the
checkpoint with the report without a word. Output *folders* follow the ``--overwrite`` rules
(`core.keyframes.target`); these files are the same spirit for a file.
"""

from __future__ import annotations

import json
import os

from ..core.errors import InputError

# the bytes searched for a picture's mark, at each end: a PNG's and an SVG's is near the start,
# a PDF's (its Info dictionary) near the end
_SNIFF = 4096
# a report of 10^4 keyframes is a few MB; a larger file is read no further (not a report)
_MAX_REPORT_BYTES = 256 << 20
_REPORT_KEYS = ("verdict", "keyframes", "pairs")


def _is_report(path: str, size: int) -> bool:
    """Whether ``path`` (``size`` bytes) holds a check-map JSON report."""
    if size > _MAX_REPORT_BYTES:
        return False
    try:
        with open(path, "rb") as fh:
            if fh.read(1) not in (b"{", b" ", b"\n", b"\t", b"\r"):
                return False  # a checkpoint (a zip), a picture: not read whole
            fh.seek(0)
            data = json.loads(fh.read().decode("utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and all(k in data for k in _REPORT_KEYS)


def _is_matplotlib_picture(path: str, size: int) -> bool:
    """Whether ``path`` (``size`` bytes) is a picture matplotlib wrote (its mark found)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(_SNIFF)
            fh.seek(max(size - _SNIFF, 0))
            tail = fh.read(_SNIFF)
    except OSError:
        return False
    return b"matplotlib" in head.lower() or b"matplotlib" in tail.lower()


def refuse_foreign_file(path: str, option: str) -> None:
    """`InputError` (one line: the file, why, how to proceed) when ``path``, given to
    check-map's ``option`` (``--json`` or ``--plot``), is an existing non-empty file that
    option did not write; nothing when it does not exist, is empty, is ``-`` or is an earlier
    output of the option (a check-map report for ``--json``, a matplotlib picture for
    ``--plot``). Run before the check, so that nothing is written."""
    if not path or path == "-" or not os.path.isfile(path):
        return
    try:
        size = os.path.getsize(path)
    except OSError:
        return  # gone or unreadable: the write's own error names it
    if size == 0:
        return
    if option == "--json":
        if _is_report(path, size):
            return
        what, example = "a check-map JSON report", "map_check.json"
    else:
        if _is_matplotlib_picture(path, size):
            return
        what = "a picture matplotlib wrote (an earlier --plot)"
        example = "map_check" + (os.path.splitext(path)[1] or ".png")
    raise InputError(f"{option} {path}: an existing file that is not {what}; it is never "
                     f"replaced, and nothing was written: move or delete it, or give another "
                     f"name (e.g. {option} {example})")
