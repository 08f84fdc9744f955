"""Keyframe pixels in a map build: the lossless PNGs a `MapWriter` stores (RGB, and z-depth in
metres as uint16 at 5000, 1000 or 100 units per metre, refusing integer or bool depth and depth
beyond the 16-bit format), the header checks of PNGs stored as they are (`check_png`, for
`MapWriter.add_keyframe_png`), and the keyframes read back from the build folder as map-check
records (`_BuildRecords`, for `MapWriter.check_consistency`).
"""

from __future__ import annotations

import collections.abc
import functools
import os
import struct
import zlib
from typing import TYPE_CHECKING, Any, Tuple

import cv2
import numpy as np

from ..errors import InputError
from ..image_codec.compressed import read_own_image
from ..retrieval import thumbnail_descriptor

if TYPE_CHECKING:
    from .writer import MapWriter


_DEPTH_SCALES = (5000.0, 1000.0, 100.0)  # units per metre; the finest one that fits is used


class DepthRangeError(InputError):
    """A depth beyond the map's 16-bit format (655 m): depth in millimetres or centimetres given
    as metres; or one wholly below its resolution (0.2 mm), which would be stored as no depth.
    ``fact``: what was refused (naming the depth and its largest value, "metres"), without the
    fix, which the message adds for the Python API (a caller with other options,
    the command line's --depth-scale, words its own)."""

    def __init__(self, fact: str, fix: str) -> None:
        super().__init__(f"{fact}: {fix}")
        self.fact = fact


def _encode_png(img: np.ndarray) -> bytes:
    if img.ndim == 3:
        img = cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".png", img)
    if not ok:
        raise InputError(f"cannot encode a {img.shape} {img.dtype} image as PNG")
    return buf.tobytes()


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_IEND = b"\x00\x00\x00\x00IEND\xaeB`\x82"  # the last chunk: length 0, tag, CRC
# what a keyframe file must be, as the map loader reads it: (bit depth, PNG colour type, words)
PNG_RGB = (8, 2, "8-bit RGB")
PNG_DEPTH = (16, 0, "16-bit greyscale")


def check_png(data: bytes, size: Tuple[int, int], kind: Tuple[int, int, str], what: str) -> None:
    """Check a PNG file's bytes as a keyframe ``kind`` (`PNG_RGB` or `PNG_DEPTH`) of ``size``
    (width, height) pixels from its header alone, no decode: the PNG signature, the IHDR chunk
    first with a valid CRC (PNG's own check of it), its width, height, bit depth and colour
    type, and the IEND chunk last (a truncated file lacks it). The pixel data itself is not
    checked (its checksum in the source map is). Raises `InputError` naming ``what``."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise InputError(f"{what} must be the PNG file's bytes, got {type(data).__name__}")
    head = bytes(data[:33])
    if head[:8] != _PNG_SIGNATURE:
        raise InputError(f"{what} is not a PNG file (it does not start with the PNG signature; "
                         f"{len(data)} bytes): pass the bytes of the keyframe's .png file")
    length, tag = struct.unpack(">I4s", head[8:16]) if len(head) >= 16 else (0, b"")
    if len(head) < 33 or tag != b"IHDR" or length != 13 \
            or zlib.crc32(head[12:29]) != struct.unpack(">I", head[29:33])[0]:
        raise InputError(f"{what} is a corrupt PNG (its IHDR header chunk is damaged or "
                         "missing): re-copy or rebuild the map it came from")
    width, height, depth, colour, compression, filtering, interlace = struct.unpack(
        ">IIBBBBB", head[16:29])
    if compression or filtering or interlace > 1:
        raise InputError(f"{what} is a corrupt PNG (compression {compression}, filter "
                         f"{filtering}, interlace {interlace} in its header): re-copy or "
                         "rebuild the map it came from")
    if bytes(data[-12:]) != _PNG_IEND:
        raise InputError(f"{what} is a truncated PNG (it does not end with the IEND chunk; "
                         f"{len(data)} bytes): re-copy or rebuild the map it came from")
    if (width, height) != tuple(size) or (depth, colour) != kind[:2]:
        got = {0: "greyscale", 2: "RGB", 3: "palette", 4: "greyscale+alpha", 6: "RGBA"}.get(
            colour, f"colour type {colour}")
        raise InputError(f"{what} is a {width}x{height} {depth}-bit {got} PNG, the keyframe "
                         f"expects {size[0]}x{size[1]} {kind[2]} (its intrinsics' size): the "
                         "image and intrinsics are not of one keyframe")


@functools.lru_cache(maxsize=1)
def thumbnail_dim() -> int:
    """D of a `retrieval.thumbnail_descriptor` (a map's thumbnail index rows)."""
    return int(thumbnail_descriptor(np.zeros((16, 16, 3), np.uint8)).size)


def _float_depth(depth_m: Any, what: str) -> np.ndarray:
    """``depth_m`` as an array; `InputError` naming ``what`` unless it is floating point. Integer
    depth is a sensor's raw units (millimetres for REP-118 16UC1 and RealSense, 1/5000 m for TUM
    RGB-D PNGs) and bool a validity mask: stored as metres either gives confident wrong poses."""
    d = np.asarray(depth_m)
    kind = d.dtype.kind
    if kind == "f":
        return d
    if kind == "b":
        raise InputError(f"{what} is a bool array (a validity mask?): depth_m must be float "
                         "z-depth in metres, NaN or <= 0 where there is none")
    if kind in "iu":
        raise InputError(f"{what} is {d.dtype}, raw sensor units, not metres: {d.dtype} depth "
                         "looks like millimetres (TUM/RealSense, REP-118 16UC1); pass "
                         "depth.astype(np.float32) / 1000 (or divide by your sensor's depth "
                         "scale: 5000 for TUM RGB-D PNGs)")
    raise InputError(f"{what} has dtype {d.dtype}: depth_m must be a float array of z-depth in "
                     "metres")


def depth_to_png(depth_m: np.ndarray, what: str = "depth") -> Tuple[bytes, float]:
    """Encode (H, W) float z-depth in metres (NaN or <= 0: none) as a uint16 PNG; returns (PNG
    bytes, units per metre: 5000, 1000 or 100, the finest that holds the largest depth).

    An (H, W, 1) array is taken as its (H, W) view, as `Frame` takes it.

    Raises `InputError` (naming ``what``) for an integer or bool depth (raw sensor units or a
    mask: convert to metres first) or another shape (empty, 1-D, several channels) and
    `DepthRangeError` (an `InputError`) for a depth beyond 655 m, the 16-bit format's limit at
    100 units/m (millimetres or centimetres passed as metres), or whose every valid pixel rounds
    to 0 (all under 0.1 mm)."""
    d = _float_depth(depth_m, what).astype(np.float64)
    if d.ndim == 3 and d.shape[2] == 1:
        d = d[:, :, 0]
    if d.ndim != 2 or not d.size:
        raise InputError(f"{what} must be a non-empty (H, W) z-depth image in metres (or "
                         f"(H, W, 1)), got shape {d.shape}; pass the depth image itself")
    valid = np.isfinite(d) & (d > 0)
    top = float(d[valid].max()) if valid.any() else 0.0
    scale = next((s for s in _DEPTH_SCALES if top * s < 65535), None)
    if scale is None:
        raise DepthRangeError(f"{what} reaches {top:.1f} m, beyond the map's 16-bit depth "
                              "format (max 655 m)", "millimetres or centimetres? depth_m must "
                              "be metres: divide by your sensor's depth scale (1000 for mm, "
                              "100 for cm)")
    q = np.where(valid, np.round(np.where(valid, d, 0) * scale), 0).astype(np.uint16)
    if valid.any() and not q.any():  # every depth rounds to 0: the keyframe would have none
        raise DepthRangeError(f"{what} reaches only {top:.3g} m, below the map's 16-bit depth "
                              f"format's resolution ({1000.0 / scale:g} mm): stored, it would "
                              "be no depth at all", "depth_m must be metres: a depth already "
                              "divided by its scale twice, or kilometres?")
    return _encode_png(q), scale


def _refuse_negative_depth(depth: np.ndarray, what: str) -> None:
    """`InputError` for a depth that reads as a renderer's or OpenGL depth buffer (camera
    looking down -z): no positive pixel, most pixels negative, and those of varying values.
    z-depth is positive along the optical axis (REP-103 optical frame, z forward). Negative
    pixels beside positive ones, or one constant negative value (an SDK's -1 for 'no depth'),
    are read as no depth, as documented."""
    finite = np.isfinite(depth)
    if np.count_nonzero(finite & (depth > 0)):
        return
    neg = depth[finite & (depth < 0)]
    if 2 * neg.size > depth.size and float(neg.max()) != float(neg.min()):
        raise InputError(f"{what} is negative in {neg.size} of {depth.size} pixels and positive "
                         "in none: depth_m is z-depth in metres, positive in front of the "
                         "camera (optical frame z forward); an OpenGL-style depth (camera "
                         "looking down -z) must be negated")


def _median_depth(depth: np.ndarray) -> float:
    """Median valid depth of every 4th pixel each way (cheap; 0 when none is valid)."""
    d = np.asarray(depth[::4, ::4], np.float64)
    d = d[np.isfinite(d) & (d > 0)]
    return float(np.median(d)) if d.size else 0.0


class _BuildRecords(collections.abc.Sequence):
    """The writer's keyframes as map-check records (`map_check.KeyframeRecord`), read back from
    the build folder when indexed (so that a large build keeps no images in memory)."""

    def __init__(self, writer: MapWriter) -> None:
        self.w = writer

    def __len__(self) -> int:
        return len(self.w.records)

    def __getitem__(self, index):  # type: ignore[override]
        from ..map_check import KeyframeRecord

        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        rec = self.w.records[index]
        bgr = read_own_image(os.path.join(self.w.tmp, rec["image"]), cv2.IMREAD_COLOR)
        if bgr is None:
            raise InputError(f"cannot read keyframe image {os.path.join(self.w.tmp, rec['image'])}")
        depth = None
        if rec["depth"]:
            raw = read_own_image(os.path.join(self.w.tmp, rec["depth"]), cv2.IMREAD_UNCHANGED)
            depth = np.where(raw > 0, raw.astype(np.float32) / np.float32(rec["depth_scale"]),
                             np.nan).astype(np.float32)
        return KeyframeRecord(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), depth, self.w.cams[index],
                              np.asarray(rec["map_from_cam"], np.float64).reshape(4, 4),
                              int(rec["stamp_ns"]), str(rec["id"]))

