"""Which frames of a trajectory become keyframes: travel and rotation thresholds."""

from __future__ import annotations

from typing import Iterable, List, Optional

import numpy as np

from ..geometry import finite_pose, pose_error


def select_keyframes(poses: Iterable[np.ndarray], min_translation_m: float,
                     min_rotation_deg: float) -> List[int]:
    """Indices of the poses that become keyframes: the first one, then every pose that moved
    at least ``min_translation_m`` (metres, between camera centres) or turned at least
    ``min_rotation_deg`` (degrees, `geometry.pose_error`) from the last keyframe (thresholds of
    0 keep every pose). ``poses``: 4x4 ``map_from_cam`` (camera optical frame -> map), in
    recording order. Raises `InputError` (`geometry.pose_error`) for a pose that is not a
    finite rigid 4x4 transform."""
    sel = KeyframeSelector(min_translation_m, min_rotation_deg)
    return [i for i, p in enumerate(poses) if sel.offer(p)]


class KeyframeSelector:
    """Streaming form of `select_keyframes`: ``offer(map_from_cam)`` says whether to keep it.
    ``last`` is the last kept pose (None before the first)."""

    def __init__(self, min_translation_m: float, min_rotation_deg: float):
        self.min_translation_m = float(min_translation_m)
        self.min_rotation_deg = float(min_rotation_deg)
        self.last: Optional[np.ndarray] = None

    def offer(self, map_from_cam: np.ndarray) -> bool:
        """True (and ``map_from_cam``, 4x4 camera optical frame -> map, becomes ``last``) for
        the first pose and for one at least ``min_translation_m`` or ``min_rotation_deg`` from
        ``last``; False otherwise. Raises `InputError` naming it for a pose that is not a
        finite 4x4 matrix (the first one too: it was kept unchecked, and the second pose's
        comparison blamed 'pose_error: a'), and (`geometry.pose_error`) for one whose rotation
        is not a rotation relative to ``last``."""
        pose = np.array(finite_pose(map_from_cam, "KeyframeSelector.offer: map_from_cam"))
        if not self._keeps(pose):
            return False
        self.last = pose
        return True

    def would_keep(self, map_from_cam: np.ndarray) -> bool:
        """What `offer` would say of ``map_from_cam`` now, ``last`` left as it is: build-map
        decodes a frame only when it is a candidate (this is True), then offers it once it
        is read. Raises `InputError` as `offer` does."""
        return self._keeps(np.array(finite_pose(map_from_cam,
                                                "KeyframeSelector.offer: map_from_cam")))

    def _keeps(self, pose: np.ndarray) -> bool:
        if self.last is None:
            return True
        t, r = pose_error(self.last, pose)
        return not (t < self.min_translation_m and r < self.min_rotation_deg)
