"""The ``gates.max_down_axis_deg`` gate: an upside-down or sideways image.

SIFT matches are rotation invariant, so a query image turned 180 degrees (a driver's flip
setting, ``rotate_image``, a camera mounted upside down after the map was recorded) localizes
with every gate passed -- to a pose turned 180 degrees about the optical axis: on redkitchen 39
of 50 upside-down query frames were published that way, their positions right, their rotations
180 degrees off (docs/bench/honesty_cpu_2026-12-07z). The base_link pose Nav2 receives is then
upside down. A camera on a robot keeps its image's "down" (its +y axis) where it was when the
map was recorded: the keyframes of such a map agree on one down direction (redkitchen's,
hand-held: all within 12.4 degrees of their mean, the queries within 12.9; the demo's 14.2), and a
pose whose down axis is far from it is refused. A map whose keyframes do not agree (a camera
looking at the ceiling or the floor while the robot turns, a drone) has no such direction and the
gate does not apply. Such a camera's map recorded driving one way only does look level (its
down axes agree), and its frames driving the other way are refused: the reason names the
parameter that turns the gate off (``gates.max_down_axis_deg: 0``).
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np

from ..map_up import keyframe_ups

# the keyframes agree on a down direction when their unit down axes' mean is at least this long
# (the mean resultant length: 1 = all parallel; redkitchen 0.99, the demo 0.986; axes spread
# evenly around a circle, a ceiling camera turning, give ~0)
MIN_AGREEMENT = 0.8


def map_down_axis(map_from_cams: np.ndarray) -> Optional[np.ndarray]:
    """The map's down direction: the unit mean of the keyframes' image-down axes (camera +y,
    the second column of each rotation) in map axes, from their (K, 4, 4) ``map_from_cam``
    poses (float64, metres); None when there are none or they do not agree (mean resultant
    length under `MIN_AGREEMENT`)."""
    ups = keyframe_ups(np.asarray(map_from_cams, dtype=np.float64).reshape(-1, 4, 4))
    if not len(ups):
        return None
    mean = -ups.mean(axis=0)  # the down axes' mean (camera +y)
    length = float(np.linalg.norm(mean))
    if not math.isfinite(length) or length < MIN_AGREEMENT:
        return None
    return mean / length


def down_axis_reason(max_deg: float, down: Optional[np.ndarray],
                     map_from_cam: np.ndarray) -> str:
    """The failure reason ("" when the pose passes) of a pose (4x4 ``map_from_cam``) whose
    image-down axis is more than ``max_deg`` degrees from the map's ``down`` (unit (3,),
    `map_down_axis`; None: no gate); ``max_deg`` 0 disables."""
    if max_deg <= 0 or down is None:
        return ""
    y = np.asarray(map_from_cam, dtype=np.float64)[:3, 1]
    angle = math.degrees(math.acos(max(-1.0, min(1.0, float(y @ down) / float(np.linalg.norm(y))))))
    if angle <= max_deg:
        return ""
    return (f"the image is upside down or sideways ({angle:.0f} deg from the map keyframes' down "
            f"direction, more than gates.max_down_axis_deg {max_deg:g}): a driver's flip or "
            "rotate setting, or the camera mounted otherwise than when the map was recorded? "
            "the pose would be turned as much about the optical axis; set "
            "gates.max_down_axis_deg 0 for a camera whose image turns with the robot (looking "
            "at the ceiling or the floor) or that rolls")
