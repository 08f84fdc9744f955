"""What ~/pose means to a consumer (robot_localization, Nav2), end to end without ROS: the camera
pose perturbed as `core.pnp` defines its covariance, carried through the node's own camera ->
base_link steps (`ros/frames.py`, as `processing._publish_result` calls them), and the published
covariance compared with the spread of the published pose -- read in map axes (the message's
fixed-axis convention) and as robot_localization reads it (ZYX roll, pitch, yaw)."""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from mast3r_ros.core.geometry import invert_pose, make_pose
from mast3r_ros.core.message_fields import matrix_to_tq
from mast3r_ros.core.pnp import linearise as pnp_lin
from mast3r_ros.ros import frames
from robot_poses import R_BASE_FROM_OPTICAL, rz

N = 20000  # samples: a covariance entry's sampling error ~ sqrt(2 / N) = 1 % of its scale


def _robot(yaw_deg: float, tilt_deg=(0.0, 0.0)):
    """(map_from_cam, cam_from_base, camera covariance): a REP-103 optical frame 0.3 m ahead, 0.1
    m left and 0.6 m above base_link, pitched 10 deg down; the camera covariance a random SPD
    one of centimetres and tenths of a degree, larger along the optical axis (as PnP's is)."""
    base_from_cam = make_pose(Rotation.from_euler("y", 10.0, degrees=True).as_matrix()
                              @ R_BASE_FROM_OPTICAL, [0.3, 0.1, 0.6])
    roll, pitch = tilt_deg
    map_from_base = make_pose(Rotation.from_euler("ZYX", [yaw_deg, pitch, roll], degrees=True)
                              .as_matrix(), [2.0, -1.0, 0.0])
    map_from_cam = map_from_base @ base_from_cam
    rng = np.random.default_rng(int(yaw_deg) % 360)
    A = rng.normal(size=(6, 6)) * 0.3
    A[:3] *= 0.01
    A[3:] *= np.radians(0.3)
    cov = A @ A.T + np.diag([1e-4, 1e-4, 1e-4, 1e-5, 1e-5, 1e-5])
    axis = map_from_cam[:3, 2]  # optical axis in the map: depth is the weak direction
    cov[:3, :3] += 4e-4 * np.outer(axis, axis)
    return map_from_cam, invert_pose(base_from_cam), cov


def _published_samples(map_from_cam, cam_from_base, cov, rng):
    """(N, 4, 4) base poses: the camera perturbed by pnp's own operator, then the node's step."""
    d = rng.multivariate_normal(np.zeros(6), cov, size=N)
    return np.stack([frames.map_from_base(pnp_lin._perturb(map_from_cam, x), cam_from_base)
                     for x in d])


def _whitened(empirical, analytic):
    scale = np.sqrt(np.outer(np.diag(analytic), np.diag(analytic)))
    return np.abs(empirical - analytic) / scale


def test_published_covariance_is_the_spread_of_the_published_pose_in_map_axes():
    """Lever arm and rotated extrinsic included: position in metres, rotation as the rotation
    vector of ``R' R^T`` (about the fixed map axes), every entry within MC noise."""
    rng = np.random.default_rng(11)
    map_from_cam, cam_from_base, cov = _robot(90.0)
    base = frames.map_from_base(map_from_cam, cam_from_base)
    T = _published_samples(map_from_cam, cam_from_base, cov, rng)
    errs = np.concatenate([T[:, :3, 3] - base[:3, 3],
                           Rotation.from_matrix(T[:, :3, :3] @ base[:3, :3].T).as_rotvec()], 1)
    published = frames.covariance_from_list(frames.covariance_to_list(
        frames.base_pose_covariance(cov, map_from_cam, cam_from_base)))
    assert _whitened(errs.T @ errs / N, published).max() < 0.05
    # the lever arm matters: without it the position block is off by far more than the noise
    assert _whitened(errs.T @ errs / N, cov).max() > 0.2


def test_as_robot_localization_reads_it_x_y_z_yaw_match_and_roll_pitch_are_map_axes():
    """robot_localization takes the rotation block as the covariance of its ZYX roll, pitch,
    yaw. For a level base its yaw is the rotation about map z, so x, y, z and yaw (and their
    cross terms) match the Euler spread; roll and pitch are about the map's x and y axes, which
    are the base's own only at heading 0: at heading 90 deg the Euler roll variance is the
    published rotation-about-Y one (docs/ros_node.md, "With robot_localization")."""
    rng = np.random.default_rng(12)
    map_from_cam, cam_from_base, cov = _robot(90.0)
    base = frames.map_from_base(map_from_cam, cam_from_base)
    T = _published_samples(map_from_cam, cam_from_base, cov, rng)
    ypr0 = Rotation.from_matrix(base[:3, :3]).as_euler("ZYX")
    ypr = Rotation.from_matrix(T[:, :3, :3]).as_euler("ZYX")
    dypr = (ypr - ypr0 + np.pi) % (2 * np.pi) - np.pi
    errs = np.concatenate([T[:, :3, 3] - base[:3, 3], dypr[:, ::-1]], 1)  # x y z roll pitch yaw
    emp = errs.T @ errs / N
    published = frames.base_pose_covariance(cov, map_from_cam, cam_from_base)
    k = [0, 1, 2, 5]
    assert _whitened(emp[np.ix_(k, k)], published[np.ix_(k, k)]).max() < 0.05
    assert abs(emp[3, 3] / published[4, 4] - 1.0) < 0.05  # roll = -(rotation about map y)
    assert abs(emp[4, 4] / published[3, 3] - 1.0) < 0.05


def test_two_d_mode_covariance_is_the_spread_of_the_planar_pose():
    """two_d_mode: the published planar pose (x, y, tf2 yaw) of samples of a base tilted by a
    few degrees matches `planar_covariance`'s x, y, yaw block; z, roll, pitch carry (near)
    zero, as AMCL's."""
    rng = np.random.default_rng(13)
    map_from_cam, cam_from_base, cov = _robot(-135.0, tilt_deg=(2.0, -3.0))
    base = frames.map_from_base(map_from_cam, cam_from_base)
    P0 = frames.planar_pose(base)
    T = _published_samples(map_from_cam, cam_from_base, cov, rng)
    P = np.stack([frames.planar_pose(t) for t in T])
    dyaw = np.arctan2(P[:, 1, 0], P[:, 0, 0]) - np.arctan2(P0[1, 0], P0[0, 0])
    errs = np.column_stack([P[:, 0, 3] - P0[0, 3], P[:, 1, 3] - P0[1, 3],
                            (dyaw + np.pi) % (2 * np.pi) - np.pi])
    published = frames.planar_covariance(frames.base_pose_covariance(cov, map_from_cam,
                                                                     cam_from_base))
    k = [0, 1, 5]
    assert _whitened(errs.T @ errs / N, published[np.ix_(k, k)]).max() < 0.05
    assert np.abs(published[2:5, :]).max() < 1e-11
    np.testing.assert_array_equal(P[:, 2, 3], 0.0)


def test_published_quaternion_is_unit_with_w_non_negative_also_for_round_off():
    """A rotation within `is_valid_pose`'s 1e-4 of orthonormal (composed float poses) gives a
    unit quaternion (to 1e-12) with w >= 0, of the nearest rotation: the consumer needs no
    normalisation and q/-q does not flip between messages."""
    rng = np.random.default_rng(14)
    for _ in range(200):
        R = Rotation.random(random_state=rng.integers(1 << 31)).as_matrix()
        T = make_pose(R + rng.normal(0, 5e-6, (3, 3)), rng.normal(size=3))
        _, q = matrix_to_tq(T)
        assert abs(np.linalg.norm(q) - 1.0) < 1e-12 and q[3] >= 0.0
        assert np.degrees((Rotation.from_quat(q) * Rotation.from_matrix(R).inv()).magnitude()) \
            < 0.01
    _, q = matrix_to_tq(make_pose(rz(180.0), [0.0, 0.0, 0.0]))
    np.testing.assert_allclose(q, [0.0, 0.0, 1.0, 0.0], atol=1e-12)
