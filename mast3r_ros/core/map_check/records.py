"""Map check inputs: one keyframe's image, depth, intrinsics and pose at working resolution
(`KeyframeRecord`), a written map read as records (`MapRecords`), the verdict names, the
cause a diagnosis names (`_Cause`) and the error."""

from __future__ import annotations

import collections.abc
import copy
import dataclasses
from typing import Any, Optional

import cv2
import numpy as np

from ..errors import InputError
from ..types import CameraIntrinsics

CONSISTENT, INCONSISTENT, UNCHECKED = "consistent", "inconsistent", "unchecked"

# Depth-unit confusions met in practice, as (depth given / true depth): 0.1 mm read as mm (x10),
# mm read as m (x1000), TUM's 1/5000 m read as mm (x5), ... and their inverses.
_NICE_FACTORS = (1000.0, 500.0, 200.0, 100.0, 50.0, 20.0, 10.0, 5.0, 4.0, 2.0, 1.0,
                 0.5, 0.25, 0.2, 0.1, 0.05, 0.02, 0.01, 0.005, 0.002, 0.001)


@dataclasses.dataclass
class _Cause:
    """A diagnosis: ``name`` (``depth_scale``, ``focal_length``, ...), the depth ``factor``
    (given / true; 1.0 for other causes), what is wrong and the fix in words, and whether the
    fix was seen to make every pair agree (``confirmed``)."""

    name: str
    factor: float
    what: str
    fix: str
    confirmed: bool


def _fmt_factor(f: float) -> str:
    return f"{f:.0f}" if f >= 1 and abs(f - round(f)) < 1e-6 * f else f"{f:.3g}"


class MapConsistencyError(InputError):
    """The keyframes' poses and depths contradict each other (see `ConsistencyReport`)."""


# ------------------------------------------------------------------------------- inputs ---

@dataclasses.dataclass(frozen=True)
class KeyframeRecord:
    """One keyframe as the check needs it.

    ``rgb`` (H, W, 3) uint8; ``depth_m`` (H, W) float32 z-depth in metres registered to ``rgb``
    (NaN or <= 0 = none) or None; ``map_from_cam`` 4x4 float64 pose of the optical frame;
    ``stamp_ns`` the image header stamp (used to spot clocks that jump back); ``label`` names
    the keyframe in messages (default: its index); ``camera_scale`` the factor ``rgb`` and
    ``intrinsics`` were reduced by from the camera image (`reduced`), so that pixel figures
    are reported in camera pixels whichever copy is checked; ``camera_intrinsics`` the camera
    image's own calibration where ``intrinsics`` were reduced from it (None: ``intrinsics`` at
    ``camera_scale`` 1 are), `calibration`. Give it with a record reduced by hand: without it
    the map's distortion figure names a calibration rebuilt from the reduced one
    (`rebuilt_calibration`), known only to a rounding pixel of the copy.
    """

    rgb: np.ndarray
    depth_m: Optional[np.ndarray]
    intrinsics: CameraIntrinsics
    map_from_cam: np.ndarray
    stamp_ns: int = 0
    label: str = ""
    camera_scale: float = 1.0
    camera_intrinsics: Optional[CameraIntrinsics] = None

    def calibration(self) -> Optional[CameraIntrinsics]:
        """The camera image's own intrinsics (before any reduction; None where unknown: a
        record reduced without them), which the map's distortion check records as its camera
        (`distortion.MapDistortionEvidence`)."""
        if self.camera_intrinsics is not None:
            return self.camera_intrinsics
        return self.intrinsics if self.camera_scale == 1.0 else None

    def reduced(self, width: int) -> KeyframeRecord:
        """A copy at most ``width`` pixels wide (`_reduce`: intrinsics scaled; depth resized
        nearest, so no depth is invented across edges). Lets a map build keep small records in
        memory."""
        depth = None if self.depth_m is None else np.asarray(self.depth_m, np.float32)
        small = _reduce(self.rgb, depth, self.intrinsics, width)
        if small is None:
            return self
        rgb, depth, cam = small
        return dataclasses.replace(self, rgb=rgb, depth_m=depth, intrinsics=cam,
                                   camera_scale=self.camera_scale * cam.width
                                   / self.intrinsics.width,
                                   camera_intrinsics=self.calibration())


def rebuilt_calibration(cam: CameraIntrinsics, scale: float, width: Optional[int] = None
                        ) -> tuple:
    """(calibration, within_px) of the camera image whose copy reduced by ``scale`` (copy px
    per camera px, > 0) has the intrinsics ``cam``: ``cam`` and 0.0 at ``scale`` 1; else the
    camera's size (``width`` px where known, else ``cam.width / scale``; the height
    ``cam.height / scale``, each rounded) and K rebuilt per axis (the inverse of
    `_scaled_intrinsics`, exact for a copy it made), with how far (camera px) that size and K
    may be off the camera's own: the copy's size rounded the camera's by up to a copy pixel
    (1 / ``scale``) and the rebuild's by half a camera pixel, its focal lengths with it (f / size
    of that), and its principal point may follow another pixel-centre convention (half a copy
    pixel). The distortion coefficients are the copy's (they act on normalised coordinates).
    A 752x480 camera's copy at 376x240 rebuilt from the check's 320 px copy was 752x479 with
    fy 456.72 for 457.30, told apart from its own camera (`camera_key.same_camera`); within_px
    3.5 there. Raises nothing."""
    if scale == 1.0:
        return cam, 0.0
    w = int(width) if width else max(1, round(cam.width / scale))
    h = max(1, round(cam.height / scale))
    sx, sy = cam.width / w, cam.height / h
    K = np.asarray(cam.K, np.float64).copy()
    K[0, 0], K[0, 1], K[0, 2] = K[0, 0] / sx, K[0, 1] / sx, (K[0, 2] + 0.5) / sx - 0.5
    K[1, 1], K[1, 2] = K[1, 1] / sy, (K[1, 2] + 0.5) / sy - 0.5
    out = copy.copy(cam)  # every field as checked, K and size rebuilt (as `_scaled_intrinsics`)
    out.width, out.height, out.K = w, h, K
    within = (1.0 / scale + 0.5) * max(1.0, abs(K[0, 0]) / w, abs(K[1, 1]) / h) + 0.5 / scale
    return out, float(within)


def _reduce(image: np.ndarray, depth: Optional[np.ndarray], cam: CameraIntrinsics, width: int
            ) -> Optional[tuple]:
    """``image`` (H, W[, C]) and ``depth`` (H, W, any unit, or None) of camera ``cam`` at most
    ``width`` pixels wide: (image resized by area, per channel, so its channel order does not
    matter; depth resized nearest, so no depth is invented across edges and any stored unit
    converts after as before; the scaled intrinsics); None when ``cam`` is no wider. The one
    reduction of `KeyframeRecord.reduced` and `MapRecords`' reduced reads."""
    if width / cam.width >= 1.0:
        return None
    small = _scaled_intrinsics(cam, width / cam.width)
    size = (small.width, small.height)
    return (cv2.resize(image, size, interpolation=cv2.INTER_AREA),
            None if depth is None else cv2.resize(depth, size, interpolation=cv2.INTER_NEAREST),
            small)

def _scaled_intrinsics(cam: CameraIntrinsics, s: float) -> CameraIntrinsics:
    """``cam`` for its image resized by about ``s`` (to whole pixels; the exact per-axis factors
    are used). Pixel centres map as ``x' = sx (x + 0.5) - 0.5`` (origin at the centre of the
    top-left pixel); distortion coefficients act on normalised coordinates and stay. The
    camera ``cam`` was checked as given and is not checked again: its principal point 10 focal
    lengths off (the most `CameraIntrinsics` takes) came out a rounding error over 10 at the
    check's working width (848x480 with fx 441.4, cx 4837.5: 1 in 8 such fx at 848 or 1920 px
    wide), and the map check raised `InputError` blaming K "normalised or millimetres?"."""
    w, h = max(1, round(cam.width * s)), max(1, round(cam.height * s))
    sx, sy = w / cam.width, h / cam.height
    K = cam.K.copy()
    K[0, 0], K[0, 1], K[0, 2] = K[0, 0] * sx, K[0, 1] * sx, sx * (K[0, 2] + 0.5) - 0.5
    K[1, 1], K[1, 2] = K[1, 1] * sy, sy * (K[1, 2] + 0.5) - 0.5
    out = copy.copy(cam)  # every field as checked, K scaled with the size: the same camera
    out.width, out.height, out.K = w, h, K
    return out


class MapRecords(collections.abc.Sequence):
    """`KeyframeRecord` view of a loaded `KeyframeMap`; images are read when indexed. With
    ``width``: each record at most that wide, as `KeyframeRecord.reduced` makes it (the same
    arrays, bit for bit), reduced before the depth is converted to metres and the colour to RGB
    (`KeyframeMap.stored_pixels`; the map check's reads, 4 ms less per 640x480 keyframe) and
    not kept in the map's pixel cache."""

    def __init__(self, keyframe_map: Any, width: Optional[int] = None) -> None:
        self.map = keyframe_map
        self.width = width

    def __len__(self) -> int:
        return len(self.map.keyframes)

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        kf = self.map.keyframes[index]
        cam = kf.intrinsics
        if (self.width is None or self.width >= cam.width
                or not hasattr(self.map, "stored_pixels")):
            return KeyframeRecord(np.asarray(self.map.image(index)), self.map.depth(index),
                                  cam, kf.map_from_cam, int(kf.stamp_ns), str(kf.id))
        from ..keyframes.loader import depth_metres

        bgr, raw, units = self.map.stored_pixels(index)
        # reduced as stored (`_reduce`, as `KeyframeRecord.reduced`), then converted: per
        # channel and nearest, so the same pixels as reducing the converted record
        bgr, raw, small = _reduce(bgr, raw, cam, self.width)
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        depth = None if raw is None else depth_metres(raw, units)
        return KeyframeRecord(rgb, depth, small, kf.map_from_cam, int(kf.stamp_ns), str(kf.id),
                              camera_scale=1.0 * small.width / cam.width, camera_intrinsics=cam)
