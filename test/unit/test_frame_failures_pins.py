"""Pins of `ros.frame_failures` (ROS-free) that the mutation audit
docs/bench/mutation_cpu_2026-12-07zl found untested outside the rclpy node tests: the TF
failure's wording for each lookup, and a repeated image's message."""

from __future__ import annotations

from mast3r_ros.core.errors import InputError
from mast3r_ros.ros.frame_failures import RepeatedImage, tf_failure_reason


def test_a_failed_odometry_lookup_names_the_odometry_tf_and_how_to_run_without():
    why = tf_failure_reason(LookupError("gone"), True, "camera_optical", "base_link", "odom")
    assert why == ("gone (the odometry TF odom -> base_link at the image stamp: is the odometry "
                   "running, and its TF within tf_timeout_s of the image? Without odometry set "
                   "odom_frame: '' and map -> base_link is published)")


def test_a_failed_camera_lookup_names_the_cameras_place_on_the_robot():
    expected = ("gone (the TF base_link -> camera_optical at the image stamp: the camera's "
                "place on the robot, from robot_state_publisher or a static transform)")
    for odometry, odom in ((False, "odom"), (True, ""), (False, "")):
        assert tf_failure_reason(LookupError("gone"), odometry, "camera_optical", "base_link",
                                 odom) == expected


def test_a_repeated_image_carries_its_reason_and_whether_it_was_dropped():
    err = RepeatedImage("image identical to the previous frame's", 1)
    assert isinstance(err, InputError) and err.dropped is True
    assert str(err) == "image identical to the previous frame's"
    assert RepeatedImage("x", 0).dropped is False


def test_a_base_sigma_exactly_at_the_gate_is_published():
    import numpy as np
    from robot_poses import camera_on_robot

    from mast3r_ros.core.types import LocalizationResult
    from mast3r_ros.ros.frame_failures import base_sigma_gate
    from mast3r_ros.ros.frames import published_position_sigma_m

    base_from_cam, _, map_from_cam = camera_on_robot()
    cam_from_base = np.linalg.inv(base_from_cam)
    res = LocalizationResult(True, 1, map_from_cam, np.diag([0.04] * 3 + [0.01] * 3))
    sigma = published_position_sigma_m(res.covariance, map_from_cam, cam_from_base, False)
    assert base_sigma_gate(res, cam_from_base, sigma, False) is res
    assert not base_sigma_gate(res, cam_from_base, sigma * 0.999, False).success
