"""Keyframes added to a map build from their PNG files' bytes, written as they are
(`WriterPngs.add_keyframe_png`: merge-maps copies keyframes so, with no decode and re-encode).
`WriterPngs` is a part of `MapWriter` (writer.py), as `WriterEncodings` is."""

from __future__ import annotations

from typing import Optional, Tuple

import cv2
import numpy as np

from ..errors import InputError
from ..retrieval import thumbnail_descriptor
from ..types import CameraIntrinsics
from .pixels import PNG_DEPTH, PNG_RGB, check_png, thumbnail_dim


class WriterPngs:
    """`MapWriter`'s keyframes from stored PNG bytes (uses its records, thumbnails, state and
    its `_new_record` / `_store`, which `add_keyframe` uses too)."""

    def add_keyframe_png(self, image_png: bytes, intrinsics: CameraIntrinsics,
                         map_from_cam: np.ndarray, stamp_ns: int,
                         depth_png: Optional[bytes] = None, depth_scale: float = 0.0,
                         thumbnail: Optional[np.ndarray] = None, source: str = "",
                         sha256: Optional[Tuple[str, Optional[str]]] = None) -> int:
        """Store one keyframe from its PNG files' bytes, written as they are (no decode and
        re-encode: `merge-maps` copies keyframes so, and the map's files equal the source's);
        returns its index, as `add_keyframe`.

        ``image_png`` the bytes of an 8-bit RGB PNG of the intrinsics' size; ``depth_png``
        None or those of a 16-bit greyscale PNG of that size holding z-depth at ``depth_scale``
        units per metre (> 0; 0 = no depth), as a map stores them (`KeyframeMap.keyframe_pngs`
        gives both); ``thumbnail`` the image's (D,) float32 `retrieval.thumbnail_descriptor`
        (a source map's `KeyframeMap.thumbnail_descriptors` row), else it is computed from the
        decoded image; ``source`` names the keyframe in errors (e.g. "map A keyframe 3");
        ``sha256``: the hex sha256 of ``image_png`` and of ``depth_png`` (None without), when
        the caller verified the bytes against them (`KeyframeMap.keyframe_png_sha256`): the
        file table takes them instead of hashing the bytes again (a wrong one makes a map
        whose files fail their checksum).
        ``intrinsics``, ``map_from_cam`` and ``stamp_ns`` as in `add_keyframe`.

        The PNGs are checked from their headers only (`pixels.check_png`: signature, IHDR
        chunk and its CRC, size, bit depth, colour type, the IEND chunk last), as the map
        loader checks a keyframe's files; the depth's values are not (no warning for a far
        median depth). Raises `InputError`, storing nothing of the keyframe, for what
        `add_keyframe` refuses of the intrinsics, pose and stamp, a file that is not such a
        PNG, a ``depth_scale`` that is not a positive number with a depth, and a thumbnail
        that is not a finite (D,) descriptor."""
        self._require_open("add a keyframe")
        kid = len(self.records)
        where = source or f"keyframe {kid}"
        rec = self._new_record(kid, intrinsics, map_from_cam, stamp_ns, where)
        size = (intrinsics.width, intrinsics.height)
        check_png(image_png, size, PNG_RGB, f"{where}: image")
        digest, depth_digest = sha256 if sha256 is not None else (None, None)
        puts = [(rec["image"], bytes(image_png), digest)]
        if depth_png is not None:
            check_png(depth_png, size, PNG_DEPTH, f"{where}: depth")
            if isinstance(depth_scale, (bool, np.bool_)) or not isinstance(
                    depth_scale, (int, float, np.integer, np.floating)) \
                    or not np.isfinite(depth_scale) or depth_scale <= 0:
                raise InputError(f"{where}: depth_scale must be the depth PNG's units per "
                                 f"metre (a positive number, e.g. 1000), got {depth_scale!r}")
            rec["depth"] = f"keyframes/{kid:06d}_depth.png"
            rec["depth_scale"] = float(depth_scale)
            puts.append((rec["depth"], bytes(depth_png), depth_digest))
        if thumbnail is None:
            bgr = cv2.imdecode(np.frombuffer(image_png, np.uint8), cv2.IMREAD_COLOR)
            if bgr is None or bgr.shape[:2] != size[::-1]:
                raise InputError(f"{where}: image is a corrupt PNG (its pixels do not decode): "
                                 "re-copy or rebuild the map it came from")
            thumb = thumbnail_descriptor(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        else:
            thumb = np.asarray(thumbnail, np.float32)
            want = self.thumbs[0].shape if self.thumbs else (thumbnail_dim(),)
            if thumb.shape != want or not np.isfinite(thumb).all():
                raise InputError(f"{where}: thumbnail must be a finite {want} retrieval."
                                 f"thumbnail_descriptor, got {thumb.shape} {thumb.dtype}")
        return self._store(rec, puts, thumb, intrinsics)
