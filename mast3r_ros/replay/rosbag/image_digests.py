"""The digests by which the indexing pass of a rosbag2 tells two image messages at one stamp
apart: the same image recorded twice (one frame) or two different images (`shared_stamps`: no
pose there). A CRC-32 of every image message's bytes cost a quarter of the pass's CPU (300
images of 640x480: 0.55 s with, 0.41 s without, docs/bench/bag_crc_cpu_2026-12-11d); only the
images at a stamp another image has need one, so only those are taken.

An image whose stamp no earlier image has gets a value of its own (negative, unequal to any
other); one at a stamp seen before gets the CRC-32 of its bytes, and so does the first image
at that stamp when it is among the last `RECENT` images (its bytes kept until then: the
repeats a recorder or a driver makes come one after the other). A first image further back
keeps its value of its own: the two are taken as different images (no pose at that stamp, said
in the shared-stamp warning), the careful side, where their bytes can no longer be compared.
`RECENT` is 1: keeping the bytes of 4 images (each a fresh megabyte) cost 5-8 % of the pass's
CPU again, the one before, nothing measurable.
"""

from __future__ import annotations

import collections
import zlib
from typing import Deque, Dict, List, Optional, Tuple

RECENT = 1  # image messages whose bytes are kept for a later one at their stamp


class ImageDigests:
    """``values``: one int per image message added (`add`), in order; two equal values are the
    same bytes (CRC-32, non-negative), a negative value is unequal to every other."""

    def __init__(self) -> None:
        self.values: List[int] = []
        self._first: Dict[int, int] = {}  # stamp (int ns) -> index of the first image at it
        self._recent: Deque[Tuple[int, bytes]] = collections.deque(maxlen=RECENT)

    def add(self, raw: bytes, stamp_ns: Optional[int]) -> None:
        """The next image message: its serialized bytes and header stamp (int ns as read; None
        or 0: no stamp to compare at, a value of its own)."""
        i = len(self.values)
        self.values.append(-(i + 1))
        if stamp_ns:
            first = self._first.setdefault(int(stamp_ns), i)
            if first != i:
                self.values[i] = zlib.crc32(raw)
                if self.values[first] < 0:
                    for j, kept in self._recent:
                        if j == first:
                            self.values[first] = zlib.crc32(kept)
        self._recent.append((i, raw))
