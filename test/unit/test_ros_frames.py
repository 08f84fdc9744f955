"""REP-105 frame algebra and covariance transport of the node, without ROS (`ros/frames.py`)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from mast3r_ros.core.errors import InputError
from mast3r_ros.core.geometry import invert_pose, make_pose
from mast3r_ros.ros import frames
from robot_poses import camera_on_robot, random_pose, rz

def test_map_from_base_against_hand_computed():
    base_from_cam, expected, map_from_cam = camera_on_robot()
    got = frames.map_from_base(map_from_cam, invert_pose(base_from_cam))
    np.testing.assert_allclose(got, expected, atol=1e-12)
    # the optical axis (+z) points along the robot's heading (+y in the map)
    np.testing.assert_allclose(map_from_cam[:3, :3] @ [0, 0, 1], [0, 1, 0], atol=1e-12)


def test_map_to_odom_and_fallback():
    _, map_from_base, _ = camera_on_robot()
    odom_from_base = make_pose(rz(30.0), [0.5, 0.1, 0.0])
    tf = frames.localization_tf(map_from_base, odom_from_base, "map", "odom", "base_link")
    assert (tf.parent, tf.child) == ("map", "odom")
    np.testing.assert_allclose(tf.parent_from_child @ odom_from_base, map_from_base, atol=1e-12)
    # by hand: map->odom rotates by 90 - 30 = 60 deg
    np.testing.assert_allclose(tf.parent_from_child[:3, :3], rz(60.0), atol=1e-12)
    same = frames.localization_tf(map_from_base, map_from_base, "map", "odom", "base_link")
    np.testing.assert_allclose(same.parent_from_child, np.eye(4), atol=1e-12)
    # no odometry frame: map -> base_link directly
    direct = frames.localization_tf(map_from_base, None, "map", "", "base_link")
    assert (direct.parent, direct.child) == ("map", "base_link")
    np.testing.assert_allclose(direct.parent_from_child, map_from_base)
    with pytest.raises(InputError):
        frames.localization_tf(map_from_base, None, "map", "odom", "base_link")


def test_initial_pose_prior_round_trip():
    base_from_cam, map_from_base, map_from_cam = camera_on_robot()
    prior = frames.prior_from_base_pose(map_from_base, invert_pose(base_from_cam))
    np.testing.assert_allclose(prior, map_from_cam, atol=1e-12)


# ------------------------------------------------------------------------------ covariance

def test_covariance_translation_only_lever_arm_by_hand():
    # camera with identity orientation in the map; base 1 m above the camera (in map z)
    map_from_cam = np.eye(4)
    cam_from_base = make_pose(np.eye(3), [0.0, 0.0, 1.0])
    cov = np.zeros((6, 6))
    cov[3, 3] = 0.01                                     # only rot_x uncertain
    out = frames.covariance_cam_to_base(cov, map_from_cam, cam_from_base)
    # rotating by d about x moves the base by d x (0, 0, 1) = (0, -d, 0)
    expected = np.zeros((6, 6))
    expected[1, 1] = 0.01
    expected[1, 3] = expected[3, 1] = -0.01
    expected[3, 3] = 0.01
    np.testing.assert_allclose(out, expected, atol=1e-15)
    # translation uncertainty alone carries over unchanged
    cov_t = np.diag([0.04, 0.09, 0.16, 0, 0, 0])
    np.testing.assert_allclose(frames.covariance_cam_to_base(cov_t, map_from_cam, cam_from_base),
                               cov_t, atol=1e-15)


def test_covariance_pure_rotation_is_unchanged_in_map_axes():
    rng = np.random.default_rng(1)
    A = rng.normal(size=(6, 6))
    cov = A @ A.T * 1e-3
    cam_from_base = make_pose(Rotation.from_euler("y", 90, degrees=True).as_matrix(), [0, 0, 0])
    map_from_cam = random_pose(rng)
    np.testing.assert_allclose(frames.covariance_cam_to_base(cov, map_from_cam, cam_from_base), cov,
                               atol=1e-15)


def test_covariance_rotated_camera_rotates_the_lever_arm():
    # camera yawed 90 deg in the map: base 1 m along camera x is 1 m along map y
    map_from_cam = make_pose(rz(90.0), [0, 0, 0])
    cam_from_base = make_pose(np.eye(3), [1.0, 0.0, 0.0])
    cov = np.zeros((6, 6))
    cov[5, 5] = 0.04                                     # yaw only
    out = frames.covariance_cam_to_base(cov, map_from_cam, cam_from_base)
    # a yaw error d moves the base at (0, 1, 0) by d x (0, 1, 0) = (-d, 0, 0)
    assert out[0, 0] == pytest.approx(0.04)
    assert out[0, 5] == pytest.approx(-0.04)
    assert out[1, 1] == pytest.approx(0.0, abs=1e-15)


def test_covariance_matches_monte_carlo():
    """Sample the camera pose from its covariance (module convention), map each sample to the
    base, and compare the base samples' covariance with the propagated one."""
    rng = np.random.default_rng(2)
    A = rng.normal(size=(6, 6))
    cov = (A @ A.T + np.eye(6)) * 1e-5
    map_from_cam = random_pose(rng)
    cam_from_base = random_pose(rng)
    base = map_from_cam @ cam_from_base
    d = rng.multivariate_normal(np.zeros(6), cov, size=20000)
    R_cam = Rotation.from_rotvec(d[:, 3:]).as_matrix() @ map_from_cam[:3, :3]     # (N, 3, 3)
    p_cam = map_from_cam[:3, 3] + d[:, :3]
    p_base = p_cam + R_cam @ cam_from_base[:3, 3]
    R_base = R_cam @ cam_from_base[:3, :3]
    errs = np.concatenate([p_base - base[:3, 3],
                           Rotation.from_matrix(R_base @ base[:3, :3].T).as_rotvec()], axis=1)
    empirical = np.cov(errs.T)
    analytic = frames.covariance_cam_to_base(cov, map_from_cam, cam_from_base)
    scale = np.sqrt(np.outer(np.diag(analytic), np.diag(analytic)))
    assert np.max(np.abs(empirical - analytic) / scale) < 0.05


def test_covariance_sanitize_and_layout():
    cov = np.diag([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    cov[0, 5] = cov[5, 0] = 0.3
    flat = frames.covariance_to_list(cov)
    assert len(flat) == 36 and all(isinstance(v, float) for v in flat)
    assert flat[0] == 1.0 and flat[7] == 2.0 and flat[35] == 6.0     # x, y, rot_z variances
    assert flat[5] == 0.3 and flat[30] == 0.3                        # row-major (x, rot_z)
    np.testing.assert_array_equal(frames.covariance_from_list(flat), cov)
    bad = np.diag([1.0, 1.0, 1.0, 1.0, 1.0, -1e-3])
    bad[0, 1] = 0.2                                      # also asymmetric
    fixed = frames.sanitize_covariance(bad)
    np.testing.assert_allclose(fixed, fixed.T)
    assert np.linalg.eigvalsh(fixed).min() >= 0
    with pytest.raises(InputError):
        frames.sanitize_covariance(np.full((6, 6), np.nan))
    with pytest.raises(InputError):
        frames.covariance_from_list([0.0] * 35)


def test_base_pose_covariance_is_psd_and_falls_back():
    rng = np.random.default_rng(3)
    A = rng.normal(size=(6, 6))
    cov = A @ A.T * 1e-4
    out = frames.base_pose_covariance(cov, random_pose(rng), random_pose(rng))
    np.testing.assert_allclose(out, out.T)
    assert np.linalg.eigvalsh(out).min() >= 0
    fallback = frames.base_pose_covariance(None, np.eye(4), np.eye(4))
    np.testing.assert_allclose(fallback, frames.DEFAULT_COVARIANCE)
    # the documented default, 10 cm and 5 degrees (1 sigma), in m^2 and rad^2
    np.testing.assert_allclose(np.sqrt(np.diag(fallback)), [0.1] * 3 + [np.radians(5.0)] * 3)
    assert np.count_nonzero(fallback - np.diag(np.diag(fallback))) == 0
    # a non-finite camera covariance falls back the same way (not an InputError)
    bad = cov.copy()
    bad[2, 2] = np.nan
    np.testing.assert_allclose(frames.base_pose_covariance(bad, np.eye(4), np.eye(4)),
                               frames.DEFAULT_COVARIANCE)




def _tilted(yaw_deg, pitch_deg, roll_deg, t=(1.0, -2.0, 0.4)):
    T = np.eye(4)
    T[:3, :3] = Rotation.from_euler("ZYX", [yaw_deg, pitch_deg, roll_deg], degrees=True
                                    ).as_matrix()
    T[:3, 3] = t
    return T


@pytest.mark.parametrize("yaw", [0.0, 37.0, 179.0, -120.0])
def test_planar_pose_keeps_x_y_yaw_and_zeroes_the_rest(yaw):
    """two_d_mode: what AMCL publishes for a ground robot; yaw is tf2's (ZYX) yaw, also under a
    few degrees of pitch and roll (camera tilt noise)."""
    p = frames.planar_pose(_tilted(yaw, 4.0, -3.0))
    np.testing.assert_allclose(p, _tilted(yaw, 0.0, 0.0, (1.0, -2.0, 0.0)), atol=1e-12)
    assert np.isclose(np.linalg.det(p[:3, :3]), 1.0)


def test_planar_pose_refuses_a_frame_without_heading():
    with pytest.raises(InputError, match="no heading"):
        frames.planar_pose(_tilted(30.0, 90.0, 0.0))  # x axis pointing up
    with pytest.raises(InputError):
        frames.planar_pose(np.full((4, 4), np.nan))


def test_planar_covariance_is_the_x_y_yaw_marginal():
    rng = np.random.default_rng(0)
    A = rng.normal(size=(6, 6))
    cov = A @ A.T * 1e-3
    out = frames.planar_covariance(cov)
    keep = [0, 1, 5]
    np.testing.assert_allclose(out[np.ix_(keep, keep)], cov[np.ix_(keep, keep)], atol=1e-11)
    drop = [2, 3, 4]
    assert np.abs(out[drop][:, keep]).max() < 1e-11
    assert np.abs(out[np.ix_(drop, drop)]).max() <= 1e-11
    assert np.linalg.eigvalsh(out).min() > 0


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_covariance_to_list_refuses_non_finite_entries_and_names_them(value):
    """A NaN covariance went out as 36 NaNs in the message."""
    with pytest.raises(InputError, match="covariance.*not finite.*36 of 36"):
        frames.covariance_to_list(np.full((6, 6), value))
    cov = np.eye(6)
    cov[2, 4] = value
    with pytest.raises(InputError, match=r"covariance.*not finite.*\[2, 4\]"):
        frames.covariance_to_list(cov)
    with pytest.raises(InputError, match="6x6"):
        frames.covariance_to_list(np.eye(5))


@pytest.mark.parametrize("fn", [frames.sanitize_covariance, frames.planar_covariance])
def test_covariance_helpers_say_a_6x6_matrix_is_not_finite_and_where(fn):
    """A NaN covariance was told 'must be a finite 6x6 matrix, got shape (6, 6)'."""
    cov = np.eye(6)
    cov[1, 5] = np.nan
    with pytest.raises(InputError) as err:
        fn(cov)
    msg = str(err.value)
    assert "covariance" in msg and "not finite" in msg and "shape" not in msg, msg
    assert "nan at [1, 5]" in msg and "(1 of 36)" in msg, msg
    with pytest.raises(InputError, match=r"got shape \(5, 5\)"):
        fn(np.eye(5))
