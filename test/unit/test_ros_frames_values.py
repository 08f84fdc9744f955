"""Values of `ros/frames.py` worked out by hand: the corners the algebra tests left open
(row-major layout of an asymmetric matrix, copies, the PSD floor, the default covariance carried
to the base, the refusals' words)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mast3r_ros.core.errors import InputError
from mast3r_ros.core.geometry import make_pose
from mast3r_ros.core.map_up import Z_UP_FIX_SHORT
from mast3r_ros.ros import frames


def test_covariance_list_layout_is_row_major_also_for_an_asymmetric_matrix():
    # ROS: covariance[6 * row + col]; (x row, rot_z col) is index 5, (rot_z row, x col) is 30
    cov = np.zeros((6, 6))
    cov[0, 5] = 1.0
    cov[5, 0] = 2.0
    flat = frames.covariance_to_list(cov)
    assert flat[5] == 1.0 and flat[30] == 2.0
    back = frames.covariance_from_list(flat)
    assert back[0, 5] == 1.0 and back[5, 0] == 2.0


def test_covariance_from_list_returns_a_copy_of_an_array():
    values = np.arange(36.0)
    out = frames.covariance_from_list(values)
    out[0, 0] = 99.0
    assert values[0] == 0.0


def test_sanitize_returns_the_symmetric_part_of_an_asymmetric_positive_matrix():
    cov = np.eye(6)
    cov[0, 1] = 0.2                # symmetric part: 0.1 off the diagonal, eigenvalues 0.9, 1.1
    expected = np.eye(6)
    expected[0, 1] = expected[1, 0] = 0.1
    np.testing.assert_allclose(frames.sanitize_covariance(cov), expected, atol=1e-15)


def test_sanitize_raises_negative_variances_to_the_floor():
    cov = np.diag([1.0, 1.0, 1.0, 1.0, 1.0, -1.0])
    out = frames.sanitize_covariance(cov)
    np.testing.assert_allclose(np.diag(out)[:5], 1.0, atol=1e-15)
    assert out[5, 5] == pytest.approx(1e-12, rel=1e-6, abs=0.0)       # the default floor


def test_covariance_cam_to_base_is_symmetric_and_checks_the_shape():
    # identity poses: J = I, the result is the symmetric part of the input
    cov = np.eye(6)
    cov[2, 4] = 0.4
    expected = np.eye(6)
    expected[2, 4] = expected[4, 2] = 0.2
    np.testing.assert_allclose(frames.covariance_cam_to_base(cov, np.eye(4), np.eye(4)),
                               expected, atol=1e-15)
    with pytest.raises(InputError, match="6x6"):
        frames.covariance_cam_to_base(np.eye(3), np.eye(4), np.eye(4))


def test_base_pose_covariance_makes_a_finite_indefinite_camera_covariance_psd():
    cov = np.diag([0.01, 0.01, 0.01, 0.001, 0.001, -1e-4])
    out = frames.base_pose_covariance(cov, np.eye(4), np.eye(4))
    np.testing.assert_allclose(out, np.diag([0.01, 0.01, 0.01, 0.001, 0.001, 1e-12]),
                               atol=1e-15)


def test_default_covariance_is_carried_to_the_base_by_the_lever_arm():
    """No camera covariance: 10 cm, 5 deg at the camera, then carried 1 m to the base.

    The base is 1 m along the camera's z (= map z, identity orientation): r = (0, 0, 1). A
    rotation error (a, b, c) moves the base by (a, b, c) x r = (b, -a, 0), so
    var(x) = var(y) = 0.1^2 + (5 deg)^2, cov(x, rot_y) = (5 deg)^2, cov(y, rot_x) = -(5 deg)^2.
    """
    s2 = math.radians(5.0) ** 2
    expected = np.diag([0.01 + s2, 0.01 + s2, 0.01, s2, s2, s2])
    expected[0, 4] = expected[4, 0] = s2
    expected[1, 3] = expected[3, 1] = -s2
    out = frames.base_pose_covariance(None, np.eye(4), make_pose(np.eye(3), [0.0, 0.0, 1.0]))
    np.testing.assert_allclose(out, expected, atol=1e-15)
    # the module's default is not handed out to be changed in place
    same = frames.base_pose_covariance(None, np.eye(4), np.eye(4))
    same[0, 0] = 5.0
    assert frames.DEFAULT_COVARIANCE[0, 0] == pytest.approx(0.01)


def test_missing_odometry_transform_is_named():
    with pytest.raises(InputError, match="no odom->base_link transform"):
        frames.localization_tf(np.eye(4), None, "map", "odom", "base_link")


@pytest.mark.parametrize("scale", [1e-6, 1.0, 1e4, 1e8])
def test_sanitized_covariance_is_psd_at_any_scale(scale):
    """Random indefinite camera covariances of every size, carried to the base and made planar:
    what `covariance_to_list` is given is finite, symmetric and has no negative eigenvalue. An
    absolute floor (1e-12) under the rounding of the rebuilt matrix (~1e-16 of its largest
    eigenvalue) left eigenvalues of -1e-12 at variances of 1e4 m^2 (gates off)."""
    rng = np.random.default_rng(7)
    for _ in range(60):
        A = rng.normal(size=(6, 6))
        w, V = np.linalg.eigh(A @ A.T * scale)
        w[rng.integers(6)] = -1e-3 * w[-1]  # indefinite (round-off of a near-singular fit)
        cov = (V * w) @ V.T
        out = frames.base_pose_covariance(cov, make_pose(np.eye(3), rng.normal(size=3) * 50),
                                          make_pose(np.eye(3), rng.normal(size=3)))
        for c in (out, frames.planar_covariance(out)):
            assert np.isfinite(frames.covariance_to_list(c)).all()
            np.testing.assert_array_equal(c, c.T)
            assert np.linalg.eigvalsh(c).min() >= 0.0, scale


@pytest.mark.parametrize("pitch_deg, said", [(0.0, False), (-60.0, False), (45.0, False),
                                             (-65.0, True), (-90.0, True)])
def test_optical_frame_doubt_is_said_for_a_z_axis_within_30_deg_of_up(pitch_deg, said):
    """A REP-103 optical frame on a base (z forward = base x), pitched up by ``-pitch_deg``: a
    forward or downward camera, or one 60 deg up, is not doubted; 65 deg up or more (a body
    frame's z, or a ceiling camera) is, and the words name both frames and the fix."""
    from robot_poses import R_BASE_FROM_OPTICAL
    from scipy.spatial.transform import Rotation

    R = Rotation.from_euler("y", pitch_deg, degrees=True).as_matrix() @ R_BASE_FROM_OPTICAL
    cam_from_base = np.linalg.inv(make_pose(R, [0.2, 0.0, 0.5]))
    why = frames.optical_frame_doubt(cam_from_base, "cam_optical", "base_link")
    assert bool(why) is said
    if said:
        assert "'cam_optical'" in why and "'base_link'" in why and "_optical_frame" in why
    assert frames.optical_frame_doubt(np.eye(4), "base_link", "base_link") == ""


def test_published_position_sigma_is_the_worst_axis_with_the_lever_arm_and_planar_drops_z():
    # what gates.max_position_sigma_m bounds: the camera's position sigma 0.1 / 0.2 / 0.3 m along
    # map x / y / z, 0.15 rad about map z, and the base 1 m along map x from the camera: the
    # rotation moves the base 0.15 m along y (sqrt(0.2^2 + 0.15^2) = 0.25 m); z is the worst
    # axis in 3D (0.3 m), y in the plane (two_d_mode drops z)
    cov = np.diag([0.1 ** 2, 0.2 ** 2, 0.3 ** 2, 0.0, 0.0, 0.15 ** 2])
    cam_from_base = make_pose(np.eye(3), [1.0, 0.0, 0.0])
    got = frames.published_position_sigma_m(cov, np.eye(4), cam_from_base, planar=False)
    assert got == pytest.approx(0.3, abs=1e-9)
    got = frames.published_position_sigma_m(cov, np.eye(4), cam_from_base, planar=True)
    assert got == pytest.approx(0.25, abs=1e-9)
    # no uncertainty: 0 m, not a floor of its own
    zero = frames.published_position_sigma_m(np.zeros((6, 6)), np.eye(4), np.eye(4), False)
    assert zero == pytest.approx(0.0, abs=1e-5)


@pytest.mark.parametrize("roll_deg, said", [(0.0, False), (30.0, False), (-40.0, False),
                                            (60.0, True), (90.0, True), (180.0, True)])
def test_tilted_base_doubt_is_said_for_a_base_more_than_45_deg_off_the_map_z(roll_deg, said):
    """A base rolled ``roll_deg`` in the map: a level or sloped robot says nothing; a map
    frame whose z is not up (a y-down world of camera axes: the base's z along map -y, 90 deg)
    is said, naming both frames, the fix, and two_d_mode when it is on."""
    from scipy.spatial.transform import Rotation

    R = Rotation.from_euler("x", roll_deg, degrees=True).as_matrix()
    why = frames.tilted_base_doubt(make_pose(R, [1.0, 2.0, 0.0]), "map", "base_link", False)
    assert bool(why) is said
    if said:
        assert f"tilted {abs(roll_deg):.0f} deg" in why and "'map'" in why
        assert "'base_link'" in why and "--pose-frames" in why and "two_d_mode" not in why
        assert "two_d_mode" in frames.tilted_base_doubt(make_pose(R, [0, 0, 0]), "map",
                                                        "base_link", True)


@pytest.mark.parametrize("two_d_mode", [False, True])
def test_the_tilted_pose_warning_is_two_short_lines_naming_the_fix_and_the_docs(two_d_mode):
    """The node's tilted-pose warning was one log line of 723 characters (765 with
    two_d_mode: the y-down world's axes, the full rotation recipe, the bag recipe); build-map's
    and check-map's was cut to two lines. Now the node's is as short: what (the tilt figure,
    both frames, the two causes), then the fix in one line and where the rest is
    (docs/maps.md); on /diagnostics the same in one line."""
    from scipy.spatial.transform import Rotation

    R = Rotation.from_euler("x", -90.0, degrees=True).as_matrix()
    why = frames.tilted_base_doubt(make_pose(R, [0, 0, 0]), "map", "base_link", two_d_mode)
    found, fix = why.split("\n")
    assert found.startswith("'base_link' is tilted 90 deg from the z axis of 'map'"), found
    assert "z is not up, as Nav2 takes it (REP-103/105)" in found and "URDF" in found
    assert ("two_d_mode" in found) is two_d_mode
    assert fix == "  fix: " + Z_UP_FIX_SHORT
    assert "[[0, 0, 1], [-1, 0, 0], [0, -1, 0]]" in fix and "--pose-frames" in fix
    assert fix.endswith("docs/maps.md 'A map frame whose z is not up'")
    assert max(len(found), len(fix)) <= 200 and len(why) <= 400, (len(found), len(fix))
    flat = frames.one_line(why)
    assert "\n" not in flat and flat == f"{found}; fix: {Z_UP_FIX_SHORT}"


def test_docs_show_the_tilted_pose_warning_as_the_node_says_it():
    """docs/ros_node.md (Frames) quotes the warning's two lines; they are the node's own."""
    from pathlib import Path

    from scipy.spatial.transform import Rotation

    R = Rotation.from_euler("x", -90.0, degrees=True).as_matrix()
    why = frames.tilted_base_doubt(make_pose(R, [0, 0, 0]), "map", "base_link")
    doc = (Path(__file__).resolve().parents[2] / "docs" / "ros_node.md").read_text("utf-8")
    found, fix = why.split("\n")
    assert f"[mast3r_localizer]: {found}\n  {fix}\n" in doc
