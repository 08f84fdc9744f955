"""Checks on what a query brings: a caller's pose (``prior``, ``hint``) must be a finite rigid
transform, and a camera skew the solvers ignore is warned about.

The comparison of the query camera with the map's cameras is `Localizer._check_query_camera`.
"""

from __future__ import annotations

import logging
from typing import Optional

import numpy as np

from ..errors import InputError
from ..geometry import is_valid_pose
from ..types import CameraIntrinsics

log = logging.getLogger(__name__)

# a skew K[0,1] that moves pixels by more than this is warned about (it is ignored)
SKEW_IGNORED_PX = 0.5


def _checked_pose(pose: Optional[np.ndarray], name: str) -> Optional[np.ndarray]:
    if pose is None:
        return None
    pose = np.asarray(pose, dtype=np.float64)
    if not is_valid_pose(pose):
        raise InputError(f"{name} must be a finite 4x4 rigid transform (map_from_cam)")
    return pose


def _warn_ignored_skew(cam: CameraIntrinsics) -> None:
    """Warn when the skew ``K[0,1]`` moves pixels by over `SKEW_IGNORED_PX`:
    sensor_msgs/CameraInfo's K has no skew term, and OpenCV (``solvePnP``,
    ``undistortPoints``, ``projectPoints``) and poselib's pinhole model ignore it, so the pose
    is solved as if it were 0. The shift of a pixel is ``skew * (v - cy) / fy``, largest at
    the top or bottom row."""
    K = cam.K
    shift = abs(K[0, 1]) * max(K[1, 2], cam.height - 1 - K[1, 2]) / K[1, 1]
    if shift > SKEW_IGNORED_PX:
        log.warning("the query camera's K has a skew K[0,1] = %g, which CameraInfo's model, "
                    "OpenCV and poselib do not have: it is ignored (treated as 0), moving pixels "
                    "by up to %.1f px, so poses are biased; recalibrate without skew (ROS "
                    "camera_calibration, Kalibr and OpenCV calibrate with none)", K[0, 1], shift)
