"""A keyframe PNG that another whole image replaced, named for what it is.

A map records each keyframe image's width and height (its intrinsics) and the PNG's size in bytes
and sha256. A file that differs from that record is either cut short or damaged (a copy stopped
part way, a bad disk: "truncated or corrupt") or a whole PNG of its own (another map's keyframe,
an edited or resized image copied in its place). The second was called "truncated ... copied
only in part?", which sent the user after a cut copy of this map; `whole_png_size` tells them
apart and `replaced_line` names it: "keyframe 3's image is a valid PNG of 320x240 but the map
recorded 640x480 ... -- was it replaced from another map? rebuild the map or restore the file:
PATH". Read only for a file already found bad (its size or checksum), so a good map's open
stays ``os.stat`` only."""

from __future__ import annotations

import struct
import zlib
from typing import NamedTuple, Optional, Tuple

# what `map_files.problem_kind` counts such a line by
REPLACED_FROM_MAP = "-- was it replaced from another map?"

_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class RecordedImage(NamedTuple):
    """What a map records of one keyframe PNG: the keyframe's ``id``, whether the file is its
    ``depth`` image, and the ``width`` and ``height`` in pixels the map's intrinsics give."""

    id: int
    depth: bool
    width: int
    height: int


def whole_png_size(data: bytes) -> Optional[Tuple[int, int]]:
    """(width, height) in pixels of ``data`` when it is a whole PNG: the signature, an IHDR
    chunk first, every chunk's length chaining to an IEND chunk that ends exactly at the last
    byte and every chunk's CRC-32 as written; None otherwise (cut short, a hole or another byte
    damaged, bytes after IEND, another format). Reads the bytes once, no pixel decode (about
    1 ms per MB)."""
    if not data.startswith(_SIGNATURE):
        return None
    at, size, end = len(_SIGNATURE), None, len(data)
    while at + 12 <= end:
        length, kind = struct.unpack(">I4s", data[at:at + 8])
        stop = at + 12 + length
        if stop > end:
            return None
        body = data[at + 8:stop - 4]
        if zlib.crc32(body, zlib.crc32(kind)) != struct.unpack(">I", data[stop - 4:stop])[0]:
            return None
        if size is None:
            if kind != b"IHDR" or length != 13:
                return None
            size = struct.unpack(">II", body[:8])
        if kind == b"IEND":
            return (int(size[0]), int(size[1])) if stop == end else None
        at = stop
    return None


def whole_png_file_size(path: str) -> Optional[Tuple[int, int]]:
    """`whole_png_size` of the file at ``path``; None when it cannot be read."""
    try:
        with open(path, "rb") as fh:
            return whole_png_size(fh.read())
    except OSError:
        return None


def replaced_line(full: str, rec: RecordedImage, found: Tuple[int, int], got: int,
                  want: int) -> str:
    """The problem line of keyframe PNG ``full`` (its path) that is a whole PNG of ``found``
    (width, height) pixels and ``got`` bytes where the map records ``rec`` and ``want`` bytes
    (the same size: its sha256 differs), ending ": PATH" like every map-file problem line."""
    what = f"keyframe {rec.id}'s {'depth image' if rec.depth else 'image'}"
    sizes = (f"{got} bytes, the map says {want}" if got != want else
             f"{got} bytes as recorded, but another sha256")
    if tuple(found) != (rec.width, rec.height):
        said = (f"is a valid PNG of {found[0]}x{found[1]} but the map recorded "
                f"{rec.width}x{rec.height} ({sizes})")
    else:
        said = (f"is a valid PNG of {found[0]}x{found[1]} as recorded, but its content "
                f"differs from what the map recorded ({sizes})")
    return f"{what} {said} {REPLACED_FROM_MAP} rebuild the map or restore the file: {full}"
