"""Which frames of a trajectory become keyframes: travel and rotation thresholds."""

from __future__ import annotations

from typing import Iterable, List, Optional

import numpy as np

from ..geometry import pose_error


def select_keyframes(poses: Iterable[np.ndarray], min_translation_m: float,
                     min_rotation_deg: float) -> List[int]:
    """Indices of the poses that become keyframes: the first one, then every pose that moved
    at least ``min_translation_m`` or turned at least ``min_rotation_deg`` from the last
    keyframe (thresholds of 0 keep every pose)."""
    sel = KeyframeSelector(min_translation_m, min_rotation_deg)
    return [i for i, p in enumerate(poses) if sel.offer(p)]


class KeyframeSelector:
    """Streaming form of `select_keyframes`: ``offer(map_from_cam)`` says whether to keep it."""

    def __init__(self, min_translation_m: float, min_rotation_deg: float):
        self.min_translation_m = float(min_translation_m)
        self.min_rotation_deg = float(min_rotation_deg)
        self.last: Optional[np.ndarray] = None

    def offer(self, map_from_cam: np.ndarray) -> bool:
        if self.last is not None:
            t, r = pose_error(self.last, map_from_cam)
            if t < self.min_translation_m and r < self.min_rotation_deg:
                return False
        self.last = np.array(map_from_cam, dtype=np.float64)
        return True
