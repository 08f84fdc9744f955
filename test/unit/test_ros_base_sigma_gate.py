"""``gates.max_position_sigma_m`` on the pose the node publishes, without ROS (`processing`):
the localizer gates the camera's position sigma, ~/pose is base_frame's, whose covariance adds
the lever arm of the camera's rotation uncertainty (`frames.base_pose_covariance`)."""

from __future__ import annotations

import numpy as np
from robot_poses import camera_on_robot
from test_ros_processing import Host, Localizer, image, stamp

from mast3r_ros.core.tracker import Track
from mast3r_ros.core.types import LocalizationResult

# a camera position sigma of 1.9 m (under the 2 m gate) with a 3 rad rotation sigma: the base,
# 0.54 m from the camera (test/robot_poses.py), is about 2.5 m uncertain
_COV_UNDER_CAMERA_GATE = np.diag([1.9 ** 2] * 3 + [3.0 ** 2] * 3)


class _UncertainLocalizer(Localizer):
    def localize(self, frame, prior, force_global, *, hint=None, with_matches=False):
        res = super().localize(frame, prior, force_global, hint=hint, with_matches=with_matches)
        res.covariance = _COV_UNDER_CAMERA_GATE.copy()
        return res


def test_a_base_pose_more_uncertain_than_the_gate_is_not_published():
    """The localizer gates the camera's position sigma; ~/pose is base_link's, whose sigma adds
    the lever arm of the camera's rotation uncertainty: a base pose 2.5 m uncertain went out
    under a 2 m gate, which docs/ros_node.md says is a failure, not a message for Nav2."""
    host = Host(_UncertainLocalizer())
    host._process(image(stamp(0)))
    assert host._outputs.poses == [] and host._tracking.track is not Track.TRACKING
    reason = dict(host.summary().values)["last_failure"]
    assert reason.startswith("base position too uncertain (1 sigma 2.49 m > 2 m") and \
        "gates.max_position_sigma_m" in reason


def test_the_base_gate_keeps_what_passes_and_is_off_at_zero():
    from mast3r_ros.ros.processing import base_sigma_gate

    base_from_cam, _, map_from_cam = camera_on_robot()
    cam_from_base = np.linalg.inv(base_from_cam)
    res = LocalizationResult(True, 1, map_from_cam, _COV_UNDER_CAMERA_GATE.copy(),
                             num_inliers=80)
    assert base_sigma_gate(res, cam_from_base, 0.0, False) is res
    assert base_sigma_gate(res, cam_from_base, 3.0, False) is res
    failed = base_sigma_gate(res, cam_from_base, 2.0, False)
    assert not failed.success and failed.map_from_cam is None and failed.num_inliers == 80
    # in two_d_mode the published covariance is the planar one: its (x, y) block is gated
    small = LocalizationResult(True, 1, map_from_cam, np.diag([0.01] * 3 + [1e-4] * 3))
    assert base_sigma_gate(small, cam_from_base, 2.0, True) is small
