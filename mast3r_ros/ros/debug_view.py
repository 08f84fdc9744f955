"""What the node shows in rviz, as plain data and pixels (no rclpy).

* keyframe markers: one arrow (viewing direction) and one id label per keyframe, as `MarkerSpec`
  that `mast3r_ros.ros.conversions` turns into a ``visualization_msgs/MarkerArray``;
* the ~/matches picture from `mast3r_ros.core.types.MatchDebug` (``query_xy``, ``keyframe_xy``,
  ``keyframe_index``, ``inliers``): the query with its matched pixels, beside the keyframe it
  matched most.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any, List, Optional, TYPE_CHECKING, Tuple

import cv2
import numpy as np
from scipy.spatial.transform import Rotation

from mast3r_ros.core.errors import InputError
from mast3r_ros.core.geometry import finite_pose

if TYPE_CHECKING:
    from mast3r_ros.core.types import MatchDebug


@dataclasses.dataclass(frozen=True)
class MarkerSpec:
    """A visualization_msgs/Marker as plain data. ``kind`` is 'arrow' or 'text'."""

    ns: str
    id: int
    kind: str
    position: Tuple[float, float, float]
    orientation_xyzw: Tuple[float, float, float, float]
    scale: Tuple[float, float, float]
    color_rgba: Tuple[float, float, float, float]
    text: str = ""


def keyframe_list(poses: Any, ids: Optional[Sequence[Any]] = None
                  ) -> List[Tuple[str, np.ndarray]]:
    """Keyframe poses as ``[(id, map_from_cam)]`` from a (K, 4, 4) array or (id, pose) pairs.

    ``ids`` (K,) names the rows of an array; without it they are numbered from 0.
    """
    if isinstance(poses, np.ndarray):
        if poses.size == 0:
            return []
        if poses.ndim != 3 or poses.shape[1:] != (4, 4):
            raise InputError(f"keyframe poses must be (K, 4, 4), got {poses.shape}")
        names = [str(i) for i in (ids if ids is not None else range(len(poses)))]
        if len(names) != len(poses):
            raise InputError(f"{len(names)} keyframe ids for {len(poses)} poses")
        return list(zip(names, (np.asarray(p, dtype=np.float64) for p in poses)))
    return [(str(k), np.asarray(p, dtype=np.float64)) for k, p in poses]


# The arrow marker points along its +x axis; a camera looks along its optical +z.
_X_TO_Z = Rotation.from_rotvec([0.0, -math.pi / 2, 0.0])


def keyframe_marker_specs(keyframes: Sequence[Tuple[str, np.ndarray]],
                          arrow_length_m: float = 0.3) -> List[MarkerSpec]:
    """One arrow (viewing direction) and one id label per keyframe ``(id, map_from_cam)``."""
    specs: List[MarkerSpec] = []
    for i, (kf_id, pose) in enumerate(keyframes):
        pose = finite_pose(pose, f"keyframe {kf_id} pose")
        rot = Rotation.from_matrix(pose[:3, :3]) * _X_TO_Z
        q = rot.as_quat()
        pos = tuple(float(v) for v in pose[:3, 3])
        specs.append(MarkerSpec("keyframes", i, "arrow", pos, tuple(float(v) for v in q),
                                (arrow_length_m, 0.04, 0.04), (0.1, 0.6, 1.0, 0.9)))
        label_pos = (pos[0], pos[1], pos[2] + 0.1)
        specs.append(MarkerSpec("keyframe_ids", i, "text", label_pos, (0.0, 0.0, 0.0, 1.0),
                                (0.0, 0.0, 0.08), (1.0, 1.0, 1.0, 0.9), str(kf_id)))
    return specs


def map_keyframes(keyframe_map: Any) -> List[Tuple[str, np.ndarray]]:
    """``[(id, map_from_cam)]`` of a `KeyframeMap`, ids from its records (manifest ids)."""
    ids = [keyframe_map.keyframe(i).id for i in range(len(keyframe_map))]
    return keyframe_list(keyframe_map.poses(), ids)


def matches_picture(query_rgb: np.ndarray, matches: Optional[MatchDebug],
                    keyframe_map: Any) -> np.ndarray:
    """`debug_image` beside the keyframe of ``keyframe_map`` that ``matches`` hit most."""
    index = most_matched_keyframe(matches)
    if index is None:
        return debug_image(query_rgb, matches)
    label = str(keyframe_map.keyframe(index).id)
    return debug_image(query_rgb, matches, keyframe_map.image(index), index, label)


def most_matched_keyframe(matches: Optional[MatchDebug]) -> Optional[int]:
    """Map index of the keyframe with the most matches (None without matches)."""
    if matches is None or len(matches.keyframe_index) == 0:
        return None
    values, counts = np.unique(np.asarray(matches.keyframe_index, dtype=np.int64),
                               return_counts=True)
    return int(values[np.argmax(counts)])


def debug_image(query_rgb: np.ndarray, matches: Optional[MatchDebug],
                keyframe_rgb: Optional[np.ndarray] = None, keyframe_index: Optional[int] = None,
                keyframe_label: str = "") -> np.ndarray:
    """The ~/matches picture: the query image with its matched pixels, inliers green, outliers red.

    ``matches`` has ``query_xy`` (N, 2) pixels and ``inliers`` (N,) bool (the result's
    ``matches``), or is None (no matches: the plain image with a note). With ``keyframe_rgb``
    (the image of the keyframe at map index ``keyframe_index``, named ``keyframe_label``) the
    keyframe is drawn to the right, scaled to the query's height, with a line for every match of
    that keyframe. Returns a new uint8 RGB image.
    """
    if keyframe_rgb is not None and matches is not None and keyframe_index is not None:
        return _debug_side_by_side(query_rgb, matches, keyframe_rgb, keyframe_index,
                                   keyframe_label or str(keyframe_index))
    out = np.ascontiguousarray(query_rgb, dtype=np.uint8).copy()
    if matches is None:
        _caption(out, "no matches")
        return out
    xy = np.asarray(matches.query_xy, dtype=np.float64).reshape(-1, 2)
    inl = np.asarray(matches.inliers, dtype=bool).reshape(-1)
    if len(inl) != len(xy):
        inl = np.zeros(len(xy), dtype=bool)
    radius = max(2, int(round(min(out.shape[:2]) / 160)))
    for (x, y), good in zip(np.round(xy).astype(int), inl):
        cv2.circle(out, (int(x), int(y)), radius, (0, 255, 0) if good else (255, 0, 0), -1)
    _caption(out, f"{int(inl.sum())} inliers / {len(xy)} matches")
    return out


def _caption(image: np.ndarray, text: str) -> None:
    cv2.putText(image, text, (10, 25), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 0), 2)


def _debug_side_by_side(query_rgb: np.ndarray, matches: MatchDebug, keyframe_rgb: np.ndarray,
                        keyframe_index: int, label: str) -> np.ndarray:
    h = query_rgb.shape[0]
    s = h / keyframe_rgb.shape[0]
    kf = cv2.resize(np.ascontiguousarray(keyframe_rgb, dtype=np.uint8),
                    (max(1, int(round(keyframe_rgb.shape[1] * s))), h))
    w = query_rgb.shape[1]
    out = np.ascontiguousarray(np.concatenate([query_rgb, kf], axis=1), dtype=np.uint8)
    sel = np.asarray(matches.keyframe_index).reshape(-1) == keyframe_index
    q = np.asarray(matches.query_xy, np.float64).reshape(-1, 2)[sel]
    k = np.asarray(matches.keyframe_xy, np.float64).reshape(-1, 2)[sel] * s + [w, 0]
    inl = np.asarray(matches.inliers, bool).reshape(-1)[sel]
    step = max(1, len(q) // 300)  # a readable picture: at most ~300 lines
    for (x1, y1), (x2, y2), good in zip(q[::step], k[::step], inl[::step]):
        cv2.line(out, (int(round(x1)), int(round(y1))), (int(round(x2)), int(round(y2))),
                 (0, 255, 0) if good else (255, 0, 0), 1, cv2.LINE_AA)
    _caption(out, f"{int(inl.sum())} inliers / {len(q)} matches with keyframe {label}")
    return out
