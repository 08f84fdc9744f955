"""What the node shows in rviz, as plain data and pixels (no rclpy).

* keyframe markers, as `MarkerSpec` that `mast3r_ros.ros.conversions` turns into a
  ``visualization_msgs/MarkerArray``: one arrow (viewing direction) and one id label per keyframe
  for a map of up to `LARGE_MAP_KEYFRAMES` keyframes; a larger map (docs/large_maps.md) is two
  markers, a LINE_LIST (one short segment per keyframe along its viewing direction) and a POINTS
  (its position), at most `MAX_DRAWN_KEYFRAMES` keyframes, uniformly strided -- 2x10^5 Marker
  objects would stall activate on the executor thread (~40 MB latched) and choke rviz;
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


# Above this many keyframes the map is drawn compactly (`compact_keyframe_markers`).
LARGE_MAP_KEYFRAMES = 500
# At most this many keyframes of a large map are drawn (every k-th keyframe, k = ceil(K / this)).
MAX_DRAWN_KEYFRAMES = 20_000


@dataclasses.dataclass(frozen=True)
class MarkerSpec:
    """A visualization_msgs/Marker as plain data. ``kind`` is 'arrow', 'text', 'line_list' or
    'points'. A 'line_list' or 'points' marker has ``points``: (N, 3) float64 (read-only) in the
    marker's frame (its pose is the identity), pairs of rows for a 'line_list' (one segment
    each); its ``scale`` is (line width, 0, 0) or (point width, point height, 0), as rviz reads
    them. ``points`` is left out of comparisons."""

    ns: str
    id: int
    kind: str
    position: Tuple[float, float, float]
    orientation_xyzw: Tuple[float, float, float, float]
    scale: Tuple[float, float, float]
    color_rgba: Tuple[float, float, float, float]
    text: str = ""
    points: Optional[np.ndarray] = dataclasses.field(default=None, compare=False, repr=False)


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
    """One arrow (viewing direction) and one id label per keyframe ``(id, map_from_cam)``; more
    than `LARGE_MAP_KEYFRAMES` keyframes are drawn compactly (`compact_keyframe_markers`)."""
    if len(keyframes) > LARGE_MAP_KEYFRAMES:
        return compact_keyframe_markers(np.stack([p for _, p in keyframes]), arrow_length_m)
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


def compact_keyframe_markers(poses: np.ndarray, segment_length_m: float = 0.3,
                             max_drawn: int = MAX_DRAWN_KEYFRAMES) -> List[MarkerSpec]:
    """A large map in two markers: a LINE_LIST with one segment per keyframe from its position
    along its viewing direction (optical +z), ``segment_length_m`` long, and a POINTS at the
    positions (which end is the camera). ``poses`` (K, 4, 4) ``map_from_cam``; at most
    ``max_drawn`` keyframes, every ``ceil(K / max_drawn)``-th, and then the namespace says so
    ("keyframes (20000 of 100000 shown)"). Vectorized: no per-keyframe Python objects. Raises
    InputError for poses that are not (K, 4, 4) or not finite."""
    poses = np.asarray(poses, dtype=np.float64)
    if poses.size == 0:
        return []
    if poses.ndim != 3 or poses.shape[1:] != (4, 4):
        raise InputError(f"keyframe poses must be (K, 4, 4), got {poses.shape}")
    bad = ~np.isfinite(poses).all(axis=(1, 2))
    if bad.any():
        raise InputError(f"keyframe pose {int(np.argmax(bad))} must be a finite 4x4 matrix")
    total = len(poses)
    stride = -(-total // max(1, int(max_drawn)))
    drawn = poses[::stride]
    start = drawn[:, :3, 3]
    segments = np.empty((2 * len(drawn), 3))
    segments[0::2] = start
    segments[1::2] = start + segment_length_m * drawn[:, :3, 2]
    positions = np.array(start)
    for a in (segments, positions):
        a.setflags(write=False)
    ns = "keyframes" if stride == 1 else f"keyframes ({len(drawn)} of {total} shown)"
    origin, identity = (0.0, 0.0, 0.0), (0.0, 0.0, 0.0, 1.0)
    return [MarkerSpec(ns, 0, "line_list", origin, identity, (0.02, 0.0, 0.0),
                       (0.1, 0.6, 1.0, 0.9), points=segments),
            MarkerSpec(ns, 1, "points", origin, identity, (0.06, 0.06, 0.0),
                       (1.0, 1.0, 1.0, 0.9), points=positions)]


def map_keyframe_markers(keyframe_map: Any, arrow_length_m: float = 0.3) -> List[MarkerSpec]:
    """The ~/keyframes markers of a `KeyframeMap`: arrows and manifest ids (`map_keyframes`,
    `keyframe_marker_specs`) up to `LARGE_MAP_KEYFRAMES` keyframes, else the compact markers of
    its pose array (no keyframe record is built)."""
    if len(keyframe_map) > LARGE_MAP_KEYFRAMES:
        return compact_keyframe_markers(keyframe_map.poses(), arrow_length_m)
    return keyframe_marker_specs(map_keyframes(keyframe_map), arrow_length_m)


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
