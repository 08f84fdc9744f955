"""A node frame's failures that are no localizer's (no rclpy): an image repeating the last
(`RepeatedImage`), a TF lookup that failed
(`TfUnavailable`, worded by `tf_failure_reason`) and the published base pose's sigma gate
(`base_sigma_gate`). Used by `processing.FrameProcessing`, which re-exports them."""

from __future__ import annotations

import dataclasses

import numpy as np

from mast3r_ros.core.errors import InputError
from mast3r_ros.core.types import LocalizationResult
from mast3r_ros.ros.frames import published_position_sigma_m


class RepeatedImage(InputError):
    """A frame whose image repeats the previous one's (`core.repeated_image`): never localized;
    ``dropped`` (the first `repeated_image.DROPPED_REPEATS` repeats: a driver publishing faster
    than its sensor) it is no failure for the tracking, else (a frozen driver) it is one."""

    def __init__(self, reason: str, dropped: bool) -> None:
        super().__init__(reason)
        self.dropped = bool(dropped)


class TfUnavailable(Exception):
    """A frame's TF lookup failed: the message is tf2's with the transform it was for."""


def tf_failure_reason(err: BaseException, odometry: bool, camera_frame: str, base_frame: str,
                      odom_frame: str) -> str:
    """tf2's text for a frame's failed lookup (``err``), naming the transform it was for: the
    camera's place on the robot (``base_frame`` -> ``camera_frame``) or, ``odometry`` True, the
    odometry (``odom_frame`` -> ``base_frame``), with the way to run without odometry."""
    if odometry and odom_frame:
        return (f"{err} (the odometry TF {odom_frame} -> {base_frame} at the image stamp: is "
                "the odometry running, and its TF within tf_timeout_s of the image? Without "
                f"odometry set odom_frame: '' and map -> {base_frame} is published)")
    return (f"{err} (the TF {base_frame} -> {camera_frame} at the image stamp: the camera's "
            "place on the robot, from robot_state_publisher or a static transform)")


def base_sigma_gate(result: LocalizationResult, cam_from_base: np.ndarray, max_sigma_m: float,
                    planar: bool) -> LocalizationResult:
    """``gates.max_position_sigma_m`` on the pose the node publishes: the localizer gates the
    camera's position sigma, but ~/pose is the base's, whose covariance adds the lever arm of
    the camera's rotation uncertainty (`frames.published_position_sigma_m`, planar in
    ``two_d_mode``). A success whose published sigma is over the gate (0 disables; a result
    without a covariance is not gated, as in the localizer) -> a failure naming it, keeping its
    inliers, timings, matches and focal fit; any other result as it is."""
    if not result.success or max_sigma_m <= 0 or result.covariance is None:
        return result
    sigma = published_position_sigma_m(result.covariance, result.map_from_cam, cam_from_base,
                                       planar)
    if sigma <= max_sigma_m:
        return result
    return dataclasses.replace(
        result, success=False, map_from_cam=None, covariance=None,
        reason=(f"base position too uncertain (1 sigma {sigma:.3g} m > {max_sigma_m:.3g} m, "
                "gates.max_position_sigma_m: the camera's sigma with its lever arm to "
                "base_frame)"))
