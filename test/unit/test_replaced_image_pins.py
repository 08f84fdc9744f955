"""Pins of `keyframes.replaced_image.whole_png_size`'s first-chunk rule (mutation audit
2026-12-09g): a PNG whose chunks all chain and check but whose first chunk is not a 13-byte
IHDR is not whole (its "size" would be read from another chunk's bytes)."""

from __future__ import annotations

import struct
import zlib

from mast3r_ros.core.keyframes.replaced_image import whole_png_size

SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(
        ">I", zlib.crc32(body, zlib.crc32(kind)))


IHDR = struct.pack(">IIBBBBB", 64, 48, 8, 2, 0, 0, 0)


def test_a_whole_chain_of_checked_chunks_is_whole_only_from_a_13_byte_ihdr():
    end = _chunk(b"IEND", b"")
    assert whole_png_size(SIGNATURE + _chunk(b"IHDR", IHDR) + end) == (64, 48)
    text = _chunk(b"tEXt", b"Comment\0made by hand")
    for first in (text, _chunk(b"IHDR", IHDR + b"\0"), _chunk(b"tEXt", IHDR)):
        assert whole_png_size(SIGNATURE + first + _chunk(b"IHDR", IHDR) + end) is None
        assert whole_png_size(SIGNATURE + first + end) is None
