"""REP-105 frame algebra and covariance transport for the node (no rclpy).

* ``map_from_base = map_from_cam @ cam_from_base``;
* ``map_from_odom = map_from_base @ inv(odom_from_base)`` (REP-105), or map->base_frame when there
  is no odometry frame (`localization_tf`);
* the camera-pose covariance of `LocalizationResult` carried to the base frame, in the ROS
  ``PoseWithCovariance`` layout.

Covariance convention (the one `mast3r_ros.core.pnp` documents and ROS uses for
``geometry_msgs/PoseWithCovariance``): the pose ``(R, p)`` of a frame in the map is perturbed as
``p' = p + dp`` and ``R' = exp([dtheta]_x) R``, with ``dp`` in metres and ``dtheta`` a rotation
vector in radians about the fixed *map* axes; the 6x6 matrix is ordered
``(x, y, z, rot_x, rot_y, rot_z)`` and flattened row-major into the message's 36 floats.
"""

from __future__ import annotations

from typing import List, Optional

import dataclasses
import math
from collections.abc import Sequence

import numpy as np

from mast3r_ros.core.errors import InputError
from mast3r_ros.core.geometry import finite_matrix, finite_pose, invert_pose
from mast3r_ros.core.map_up import Z_UP_FIX_SHORT, is_tilted, up_tilt_deg


def map_from_base(map_from_cam: np.ndarray, cam_from_base: np.ndarray) -> np.ndarray:
    """Pose of the robot base in the map from the camera's pose and the base->camera TF."""
    return finite_pose(map_from_cam, "map_from_cam") @ finite_pose(cam_from_base, "cam_from_base")


def map_from_odom(map_from_base_: np.ndarray, odom_from_base: np.ndarray) -> np.ndarray:
    """The map->odom correction: ``map_from_base @ inv(odom_from_base)`` at the image stamp."""
    return finite_pose(map_from_base_, "map_from_base") @ invert_pose(
        finite_pose(odom_from_base, "odom_from_base"))


def prior_from_base_pose(map_from_base_: np.ndarray, cam_from_base: np.ndarray) -> np.ndarray:
    """A base pose (e.g. /initialpose) -> the camera prior ``map_from_cam``."""
    return finite_pose(map_from_base_, "map_from_base") @ invert_pose(
        finite_pose(cam_from_base, "cam_from_base"))


def planar_pose(pose: np.ndarray, name: str = "map_from_base") -> np.ndarray:
    """The pose in the plane, as AMCL publishes it (``two_d_mode``): the same x, y and yaw, with
    z, roll and pitch zero. 4x4 float64 in, 4x4 float64 out.

    Yaw is the heading of the frame's x axis projected on the parent's xy plane,
    ``atan2(R[1, 0], R[0, 0])`` (the yaw of the ZYX Euler angles, tf2's ``getYaw``). Raises
    InputError for a non-finite pose or one whose x axis is vertical (no heading).
    """
    pose = finite_pose(pose, name)
    c, s_ = float(pose[0, 0]), float(pose[1, 0])
    if math.hypot(c, s_) < 1e-6:
        raise InputError(f"{name}: the frame's x axis is vertical, it has no heading for "
                         "two_d_mode")
    yaw = math.atan2(s_, c)
    out = np.eye(4)
    out[:2, :2] = [[math.cos(yaw), -math.sin(yaw)], [math.sin(yaw), math.cos(yaw)]]
    out[:2, 3] = pose[:2, 3]
    return out


# `optical_frame_doubt`: a camera z axis within 30 degrees of the base's up
_Z_UP_COS = math.cos(math.radians(30.0))


def optical_frame_doubt(cam_from_base: np.ndarray, camera_frame: str, base_frame: str) -> str:
    """Why ``camera_frame`` may not be the REP-103 optical frame (z forward, x right, y down),
    or "" when nothing says so. The localizer takes the image frame's z as the optical axis; a
    body frame (``camera_link``: x forward, z up) stamped on the images instead rotates every
    published pose by 90 degrees. Said when the frame's z axis points within 30 degrees of
    ``base_frame``'s up (REP-103 base: z up): a forward camera's optical z is level. A camera
    that looks at the ceiling does that rightly (the words say so); a camera frame that is the
    base frame says nothing. ``cam_from_base`` 4x4 (base -> camera, as looked up)."""
    if camera_frame == base_frame:
        return ""
    z_in_base = invert_pose(finite_pose(cam_from_base, "cam_from_base"))[:3, 2]
    if not z_in_base[2] > _Z_UP_COS:
        return ""
    return (f"the image frame '{camera_frame}' has its z axis pointing up in '{base_frame}' "
            f"({math.degrees(math.acos(min(1.0, z_in_base[2]))):.0f} deg from vertical), yet "
            "the localizer takes z as the camera's optical axis (REP-103 optical frame: z "
            "forward, x right, y down): if the camera looks forward, the images are stamped "
            "with a body frame (x forward, z up) and every published pose is rotated 90 deg; "
            "stamp them with the camera's *_optical_frame. A camera looking at the ceiling "
            "can ignore this")


def tilted_base_doubt(map_from_base_: np.ndarray, map_frame: str, base_frame: str,
                      two_d_mode: bool = False) -> str:
    """Why the published poses may be in a map frame whose z is not up, or "" when nothing
    says so: said when ``base_frame``'s z axis (REP-103: up) is more than 45 degrees from
    ``map_frame``'s z (REP-103: up) in a localized pose (`core.map_up`'s rule, which build-map
    and check-map apply to a map's keyframes; the node says it at the third such pose of a
    configuration, not for one wrong pose). A map built from a recording whose
    world frame has camera axes (y down: TUM RGB-D / 7-Scenes or KITTI ground truth, an
    ORB-SLAM trajectory) localizes rightly in that frame, but Nav2's 2-D map and costmaps take
    z as up, and ``two_d_mode`` flattens the pose about that z: the robot seems to climb the
    walls. A wrong ``base_frame -> camera`` mount (URDF) shows the same way. ``map_from_base_``
    4x4 (base -> map).

    Two lines, as build-map's and check-map's (`map_up.map_up_doubt`): what was found (the tilt
    in degrees, the frames, the two causes) and why it matters, then the fix in one line
    (`Z_UP_FIX_SHORT`, which names docs/maps.md 'A map frame whose z is not up' for the rest).
    `one_line` joins them for /diagnostics."""
    z = finite_pose(map_from_base_, "map_from_base")[:3, 2]
    if not is_tilted(z):
        return ""
    return (f"'{base_frame}' is tilted {up_tilt_deg(z):.0f} deg from the z axis of "
            f"'{map_frame}' in localized poses: the map's z is not up, as Nav2 takes it "
            "(REP-103/105)" + (" and two_d_mode flattens about it" if two_d_mode else "")
            + ", or the URDF's camera mount is wrong"
            + f"\n  fix: {Z_UP_FIX_SHORT}")


def one_line(text: str) -> str:
    """``text`` with its line breaks (and the indent after each) as "; ": a multi-line warning
    (`tilted_base_doubt`) as a /diagnostics value holds it."""
    return "; ".join(part.strip() for part in text.split("\n") if part.strip())


@dataclasses.dataclass(frozen=True)
class TfToPublish:
    """One transform to broadcast: ``parent_from_child`` (4x4) from ``parent`` to ``child``."""

    parent: str
    child: str
    parent_from_child: np.ndarray


def localization_tf(map_from_base_: np.ndarray, odom_from_base: Optional[np.ndarray],
                    map_frame: str, odom_frame: str, base_frame: str) -> TfToPublish:
    """The transform the node broadcasts for a localized base pose.

    With an odometry frame: map->odom = map_from_base @ inv(odom_from_base), so that odom->base
    (owned by the odometry source) keeps flowing and map->base comes out right (REP-105). With
    ``odom_frame`` empty: map->base_frame directly. Raises InputError when ``odom_frame`` is set
    but ``odom_from_base`` is None.
    """
    if not odom_frame:
        return TfToPublish(map_frame, base_frame, finite_pose(map_from_base_, "map_from_base"))
    if odom_from_base is None:
        raise InputError(f"odom_frame is '{odom_frame}' but no {odom_frame}->{base_frame} "
                         "transform was given")
    return TfToPublish(map_frame, odom_frame, map_from_odom(map_from_base_, odom_from_base))


# --------------------------------------------------------------------------------------------
# Covariance


def skew(v: Sequence[float]) -> np.ndarray:
    """3x3 cross-product matrix: ``skew(a) @ b == cross(a, b)``."""
    x, y, z = np.asarray(v, dtype=np.float64).reshape(3)
    return np.array([[0.0, -z, y], [z, 0.0, -x], [-y, x, 0.0]])


def covariance_cam_to_base(cov_cam: np.ndarray, map_from_cam: np.ndarray,
                           cam_from_base: np.ndarray) -> np.ndarray:
    """Covariance of the camera pose -> covariance of the base pose (module convention).

    With ``p_base = p_cam + R_cam @ t`` (``t`` = base origin in the camera frame) and
    ``R_base = R_cam @ R_cb``, a map-axes rotation error ``dtheta`` moves the base origin by
    ``dtheta x r`` with the lever arm ``r = p_base - p_cam`` (map frame); the rotation error itself
    is unchanged. So ``cov_base = J cov_cam J^T`` with ``J = [[I, -[r]_x], [0, I]]`` --
    first-order propagation derived here for this perturbation (position and map-axes rotation
    perturbed separately, so not the SE(3) adjoint of a body-frame perturbation). A pure
    rotation between camera and base leaves the covariance unchanged because it is expressed in
    map axes. Returns a symmetric 6x6 float64 matrix. Raises InputError for a covariance that
    is not 6x6 or a pose that is not a finite 4x4 matrix.
    """
    cov = np.asarray(cov_cam, dtype=np.float64)
    if cov.shape != (6, 6):
        raise InputError(f"covariance must be 6x6, got {cov.shape}")
    map_from_cam = finite_pose(map_from_cam, "map_from_cam")
    lever = map_from_cam[:3, :3] @ finite_pose(cam_from_base, "cam_from_base")[:3, 3]
    J = np.eye(6)
    J[:3, 3:] = -skew(lever)
    out = J @ cov @ J.T
    return 0.5 * (out + out.T)


def planar_covariance(cov: np.ndarray) -> np.ndarray:
    """The covariance of `planar_pose`'s (x, y, yaw): the (x, y, rot_z) rows and columns kept,
    z, roll and pitch zero (they are fixed in the plane; AMCL publishes zeros there too), then
    `sanitize_covariance`. At small roll and pitch a map-axes rotation about z is a change of
    yaw, so the kept block is the marginal of (x, y, yaw), first order. Raises InputError for a
    non-finite or non-6x6 matrix."""
    cov = finite_matrix(cov, 6, "covariance")
    keep = [0, 1, 5]
    out = np.zeros((6, 6))
    out[np.ix_(keep, keep)] = cov[np.ix_(keep, keep)]
    return sanitize_covariance(out)


# `sanitize_covariance`'s floor relative to the largest eigenvalue: above the rounding of the
# rebuilt matrix (a few float64 eps of it), which an absolute floor alone is not at large variances
_RELATIVE_FLOOR = 1e-13


def sanitize_covariance(cov: np.ndarray, floor: float = 1e-12) -> np.ndarray:
    """Symmetric positive semi-definite copy: eigenvalues below ``floor``, or below 1e-13 of the
    largest one when that is more, are raised to it (so the rebuilt matrix has no negative
    eigenvalue from rounding either).

    Raises InputError for a non-finite or non-6x6 matrix.
    """
    cov = finite_matrix(cov, 6, "covariance")
    sym = 0.5 * (cov + cov.T)
    w, V = np.linalg.eigh(sym)
    floor = max(floor, _RELATIVE_FLOOR * float(np.abs(w).max()))
    if w.min() >= floor:
        return sym
    out = (V * np.maximum(w, floor)) @ V.T
    return 0.5 * (out + out.T)


def covariance_to_list(cov: np.ndarray) -> List[float]:
    """6x6 -> the 36 floats of ``PoseWithCovariance.covariance`` (row-major, module convention);
    raises InputError for another shape or a NaN / inf entry (`geometry.finite_matrix`)."""
    return [float(v) for v in finite_matrix(cov, 6, "covariance").reshape(36)]


def covariance_from_list(values: Sequence[float]) -> np.ndarray:
    """The 36 floats of ``PoseWithCovariance.covariance`` -> 6x6 float64; raises InputError for
    another count."""
    arr = np.asarray(values, dtype=np.float64).reshape(-1)
    if arr.size != 36:
        raise InputError(f"a pose covariance has 36 values, got {arr.size}")
    return arr.reshape(6, 6).copy()


# Used when a successful result carries no covariance: 10 cm and 5 degrees, 1 sigma.
DEFAULT_COVARIANCE = np.diag([0.1 ** 2] * 3 + [math.radians(5.0) ** 2] * 3)


def base_pose_covariance(cov_cam: Optional[np.ndarray], map_from_cam: np.ndarray,
                         cam_from_base: np.ndarray) -> np.ndarray:
    """The covariance the node publishes for the base pose (PSD, symmetric, 6x6).

    A missing or non-finite camera covariance falls back to `DEFAULT_COVARIANCE`.
    """
    if cov_cam is None or not np.isfinite(np.asarray(cov_cam, dtype=np.float64)).all():
        cov_cam = DEFAULT_COVARIANCE
    return sanitize_covariance(covariance_cam_to_base(cov_cam, map_from_cam, cam_from_base))


def published_position_sigma_m(cov_cam: Optional[np.ndarray], map_from_cam: np.ndarray,
                               cam_from_base: np.ndarray, planar: bool) -> float:
    """1-sigma position uncertainty in metres, along the worst axis, of the base pose as the
    node publishes it: `base_pose_covariance` (the camera's, with the lever arm of the
    camera's rotation uncertainty), `planar_covariance` with ``planar`` (``two_d_mode``).
    What ``gates.max_position_sigma_m`` bounds in the node. Raises InputError as
    `base_pose_covariance` does."""
    cov = base_pose_covariance(cov_cam, map_from_cam, cam_from_base)
    if planar:
        cov = planar_covariance(cov)
    return float(np.sqrt(max(float(np.linalg.eigvalsh(cov[:3, :3])[-1]), 0.0)))
