"""Is a map frame's z up? The rule the node (localized bases) and build-map / check-map (a map's
keyframes) share, without ROS.

REP-103 and Nav2 take a map frame's z as up (its 2-D map, costmaps, AMCL's and ``two_d_mode``'s
flattening). A map built from poses in a world frame with camera axes (x right, y down, z
forward: TUM RGB-D / 7-Scenes or KITTI ground truth, an ORB-SLAM trajectory) localizes rightly
in that frame, but a robot then lies on its side in it.
"""

from __future__ import annotations

import math
import numpy as np

#: an up axis (a base's z; a level camera's -y) more than this far from the map's z is tilted
MAX_UP_TILT_DEG = 45.0
# `map_up_doubt`: judged on this many keyframes at least, whose ups agree this well (the length
# of the mean of their unit up axes: 1 all alike; 0.9: within about 25 deg of their mean)
MIN_KEYFRAMES = 3
MIN_UP_AGREEMENT = 0.9

#: what to do about it, in one line, for the node's tilted-pose warning and build-map /
#: check-map's (the rest is in docs/maps.md, which it names)
Z_UP_FIX_SHORT = ("left-multiply each camera pose by [[0, 0, 1], [-1, 0, 0], [0, -1, 0]] (a "
                  "y-down world) or build from the robot's TF (--pose-frames); docs/maps.md "
                  "'A map frame whose z is not up'")


def up_tilt_deg(up: np.ndarray) -> float:
    """Degrees between the 3-vector ``up`` (any length > 0, in the map frame) and the map's
    z axis, 0..180; NaN for a zero or non-finite vector."""
    v = np.asarray(up, np.float64).reshape(3)
    n = float(np.linalg.norm(v))
    if not math.isfinite(n) or n == 0.0:
        return float("nan")
    return math.degrees(math.acos(max(-1.0, min(1.0, float(v[2]) / n))))


def is_tilted(up: np.ndarray) -> bool:
    """True when ``up`` (3,) lies more than `MAX_UP_TILT_DEG` from the map's z (a zero or
    non-finite vector: False, nothing to judge)."""
    tilt = up_tilt_deg(up)
    return math.isfinite(tilt) and tilt > MAX_UP_TILT_DEG


def keyframe_ups(map_from_cam: np.ndarray) -> np.ndarray:
    """(M, 3) unit up axes (each camera's -y, the image's up, in the map frame) of the finite
    ones among (N, 4, 4) ``map_from_cam`` camera optical frame poses; (0, 3) for anything
    else. Shared with the localizer's upright gate (`localizer.upright`)."""
    poses = np.asarray(map_from_cam, np.float64)
    if poses.ndim != 3 or poses.shape[1:] != (4, 4):
        return np.zeros((0, 3))
    ups = -poses[:, :3, 1]
    ups = ups[np.all(np.isfinite(ups), axis=1)]
    norms = np.linalg.norm(ups, axis=1)
    return ups[norms > 0] / norms[norms > 0, None]


def map_up_doubt(map_from_cam: np.ndarray, map_frame: str = "map") -> str:
    """Why a map's frame seems not to have z up, from its keyframe poses, else "".

    ``map_from_cam``: (N, 4, 4) float poses of the keyframes' camera optical frames (x right,
    y down, z forward) in ``map_frame``. A level camera's up is its -y axis: said when the
    keyframes' ups agree (the mean of their unit vectors at least `MIN_UP_AGREEMENT` long: one
    camera mount moved about, a robot's or a hand-held one held upright) and that shared up
    lies more than `MAX_UP_TILT_DEG` from the map's z (7-Scenes' kitchen: about 94 deg).

    Not judged (""): fewer than `MIN_KEYFRAMES` keyframes with finite poses, or ups that do not
    agree (a camera turned every way, or a floor- or ceiling-looking camera that turns about the
    vertical: its ups scatter on a cone), since a frame's up cannot then be told from the
    cameras. A camera looking more than 45 deg down or up that barely turns, or one mounted
    rolled, in a z-up map, reads as tilted too (docs/maps.md 'A map frame whose z is not up' says
    so, and why, at length). Two lines: what was found and why it matters, then the fix
    (`Z_UP_FIX_SHORT`). Raises nothing."""
    ups = keyframe_ups(map_from_cam)
    if len(ups) < MIN_KEYFRAMES:
        return ""
    mean = ups.mean(axis=0)
    if float(np.linalg.norm(mean)) < MIN_UP_AGREEMENT or not is_tilted(mean):
        return ""
    tilted = int(sum(is_tilted(u) for u in ups))
    return (f"the keyframe cameras' up (their -y axis) lies {up_tilt_deg(mean):.0f} deg from "
            f"the z axis of '{map_frame}' ({tilted} of {len(ups)} keyframes over "
            f"{MAX_UP_TILT_DEG:.0f} deg): its z is not up, as Nav2 takes it (REP-103/105), "
            f"so a robot lies on its side in it\n  fix: {Z_UP_FIX_SHORT}")
