"""A query camera against the map's cameras, once per calibration (no rclpy): which cameras
were checked already (`remember_camera`) and the warning for one whose K differs from every map
keyframe camera of its size (`warn_camera_mismatch`). Used by `Localizer._check_query_camera`."""

from __future__ import annotations

import logging
from typing import List, Tuple

import numpy as np

from ..camera_key import key_of_values
from ..types import CameraIntrinsics

log = logging.getLogger(__name__)

# how many query cameras are remembered (the oldest forgotten first)
MAX_REMEMBERED = 64


def remember_camera(seen: List[Tuple[Tuple[int, int], np.ndarray, str, np.ndarray]],
                    cam: CameraIntrinsics) -> bool:
    """True for a camera not in ``seen`` (its record appended, the oldest of more than
    `MAX_REMEMBERED` dropped); False for one within 0.5 % (of fx) in fx, fy, cx, cy and skew,
    of the same size and with the same distortion as one already there (moved to the end): a
    driver whose K jitters from frame to frame is checked (and warned about) once, and the
    record stays small. The distortion is compared as `camera_key.key_of_values` reads it
    (the model plumb_bob and rational_polynomial alike, trailing zero coefficients left out,
    an all-zero D none): a camera renamed from one to the other with the same coefficients
    was checked, and warned about, twice. ``seen`` holds ((width, height), (fx, fy, cx, cy,
    skew) px, the key's distortion model, the key's D) tuples."""
    K = cam.K
    q = np.array([K[0, 0], K[1, 1], K[0, 2], K[1, 2], K[0, 1]], np.float64)
    _w, _h, model, _k, d = key_of_values(cam.width, cam.height, K, cam.dist,
                                         cam.distortion_model)
    dist = np.asarray(d, np.float64)
    for i, (size, q0, model0, d0) in enumerate(seen):
        n = max(dist.size, d0.size)
        if (size == (cam.width, cam.height) and np.abs(q - q0).max() <= 0.005 * q0[0]
                and model == model0
                and np.allclose(np.pad(dist, (0, n - dist.size)), np.pad(d0, (0, n - d0.size)),
                                rtol=1e-3, atol=1e-6)):
            seen.append(seen.pop(i))
            return False
    seen.append(((cam.width, cam.height), q, model, dist))
    del seen[:-MAX_REMEMBERED]
    return True


def warn_camera_mismatch(cam: CameraIntrinsics, map_cameras: np.ndarray,
                         max_rel: float) -> None:
    """Warn when ``cam``'s fx, fy, cx, cy differ by more than ``max_rel`` (a fraction of the
    map camera's fx) from those of every map camera of its size (``map_cameras`` (M, 6):
    width, height, fx, fy, cx, cy per camera, `KeyframeMap.cameras`); cameras of another size
    are not compared (another camera, or resized)."""
    K = cam.K
    q = np.array([K[0, 0], K[1, 1], K[0, 2], K[1, 2]], np.float64)
    cams = np.asarray(map_cameras, np.float64).reshape(-1, 6)
    same = cams[(cams[:, 0] == cam.width) & (cams[:, 1] == cam.height)]
    if not len(same):
        return
    rel = np.abs(same[:, 2:] - q).max(axis=1) / same[:, 2]  # of the map camera's fx
    if rel.min() <= max_rel:
        return
    fx, fy, cx, cy = same[int(np.argmin(rel)), 2:]
    log.warning("the query camera %dx%d (fx %.1f, fy %.1f, cx %.1f, cy %.1f) differs by %.0f "
                "%% from every map keyframe camera of that size (closest: fx %.1f, fy %.1f, "
                "cx %.1f, cy %.1f): if it is the same camera, one calibration is wrong and "
                "poses come out wrong with a confident covariance (a focal length 10 %% off: "
                "tens of cm); check the CameraInfo or camera.yaml (a rectified stream's P "
                "may differ from the raw K legitimately)", cam.width, cam.height,
                *q, 100 * rel.min(), fx, fy, cx, cy)
