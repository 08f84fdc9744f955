import warnings

import cv2
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from mast3r_ros.core import geometry as g
from mast3r_ros.core.errors import InputError


def _random_pose(rng):
    return g.make_pose(Rotation.random(random_state=rng.integers(1 << 30)).as_matrix(),
                       rng.normal(size=3))


K = np.array([[500.0, 0, 319.5], [0, 480.0, 239.5], [0, 0, 1]])


def test_invert_compose_transform_round_trip():
    rng = np.random.default_rng(0)
    a_from_b, b_from_c = _random_pose(rng), _random_pose(rng)
    a_from_c = g.compose(a_from_b, b_from_c)
    np.testing.assert_allclose(g.compose(g.invert_pose(a_from_b), a_from_c), b_from_c, atol=1e-12)
    np.testing.assert_allclose(g.invert_pose(a_from_b) @ a_from_b, np.eye(4), atol=1e-12)
    p = rng.normal(size=(5, 3))
    np.testing.assert_allclose(g.transform_points(a_from_c, p),
                               g.transform_points(a_from_b, g.transform_points(b_from_c, p)))
    assert g.is_valid_pose(a_from_c)
    bad = a_from_c.copy()
    bad[0, 0] += 0.1
    assert not g.is_valid_pose(bad)
    assert not g.is_valid_pose(np.full((4, 4), np.nan))
    mirror = a_from_c.copy()
    mirror[:3, 0] *= -1  # orthonormal but det -1: a reflection, not a rotation
    assert not g.is_valid_pose(mirror)
    projective = a_from_c.copy()
    projective[3, :3] = 0.1  # not a rigid transform: the last row must be 0 0 0 1
    assert not g.is_valid_pose(projective)


def test_tum_round_trip_and_positive_w():
    rng = np.random.default_rng(1)
    poses = np.stack([_random_pose(rng) for _ in range(6)])
    rows = g.pose_to_tum(poses)
    assert rows.shape == (6, 7) and np.all(rows[:, 6] >= 0)
    np.testing.assert_allclose(g.pose_from_tum(rows), poses, atol=1e-12)
    assert g.pose_to_tum(np.zeros((0, 4, 4))).shape == (0, 7)
    with pytest.raises(InputError):
        g.pose_from_tum(np.array([[0, 0, 0, 0, 0, 0, 0.0]]))
    with pytest.raises(InputError):
        g.pose_from_tum(np.array([[np.nan, 0, 0, 0, 0, 0, 1.0]]))
    # (x, y, z, w) order, known value: 90 deg about z, scaled quaternion normalised
    T = g.pose_from_tum(np.array([[1.0, 2.0, 3.0, 0.0, 0.0, 2.0, 2.0]]))[0]
    np.testing.assert_allclose(T, [[0, -1, 0, 1], [1, 0, 0, 2], [0, 0, 1, 3], [0, 0, 0, 1]],
                               atol=1e-12)
    # a huge but finite quaternion is a rotation too (its norm overflowed: scipy's "zero norm
    # quaternions" ValueError), and a tiny non-zero one below the threshold is refused
    T = g.pose_from_tum(np.array([[0, 0, 0, 0.0, 0.0, 1e200, 1e200]]))[0]
    np.testing.assert_allclose(T[:3, :3], [[0, -1, 0], [1, 0, 0], [0, 0, 1]], atol=1e-12)
    with pytest.raises(InputError):
        g.pose_from_tum(np.array([[0, 0, 0, 0, 0, 1e-9, 1e-9]]))


def test_pose_error_known_values():
    a = np.eye(4)
    b = g.make_pose(Rotation.from_euler("z", 90, degrees=True).as_matrix(), [3.0, 4.0, 0.0])
    t, r = g.pose_error(a, b)
    assert t == pytest.approx(5.0) and r == pytest.approx(90.0)
    c = g.make_pose(Rotation.from_euler("x", 179.9, degrees=True).as_matrix(), [0, 0, 0])
    assert g.pose_error(a, c)[1] == pytest.approx(179.9, abs=1e-6)
    ts, rs = g.pose_errors(np.stack([a, b, c]), np.stack([b, a, a]))
    np.testing.assert_allclose(ts, [5, 5, 0])
    np.testing.assert_allclose(rs, [90, 90, 179.9], atol=1e-6)
    # neither pose the identity: the error is the angle of a^-1 b (60 - 50 = 10 deg about z),
    # not of a b (110 deg)
    d = g.make_pose(Rotation.from_euler("z", 50, degrees=True).as_matrix(), [1.0, 0, 0])
    e = g.make_pose(Rotation.from_euler("z", 60, degrees=True).as_matrix(), [1.0, 0, 2.0])
    assert g.pose_error(d, e) == pytest.approx((2.0, 10.0))
    ts, rs = g.pose_errors(np.stack([d, e]), np.stack([e, d]))
    np.testing.assert_allclose(rs, [10.0, 10.0], atol=1e-9)
    ts, rs = g.pose_errors(d, np.stack([e, d]))  # one pose against a stack
    np.testing.assert_allclose(ts, [2.0, 0.0])
    np.testing.assert_allclose(rs, [10.0, 0.0], atol=1e-9)


def test_pose_error_names_a_pose_that_is_not_4x4():
    """pose_error is documented to check its input: a 3x3 rotation gave numpy's IndexError,
    a pose stack a broadcast ValueError, and a 3x4 [R | t] a silent (0, 0)."""
    T = g.make_pose(Rotation.from_euler("z", 30, degrees=True).as_matrix(), [1.0, 2.0, 3.0])
    with pytest.raises(InputError, match=r"pose_error: b must be a 4x4 pose, got shape \(3, 3\)"):
        g.pose_error(T, np.eye(3))
    with pytest.raises(InputError, match=r"pose_error: a .*\(3, 4\); a 3x4 \[R \| t\]"):
        g.pose_error(T[:3], T)
    with pytest.raises(InputError, match=r"pose_error: b .*\(2, 4, 4\)"):
        g.pose_error(T, np.stack([T, T]))
    assert g.pose_error(T.tolist(), np.eye(4)) == pytest.approx((np.sqrt(14.0), 30.0))


def test_pose_errors_refuses_stacks_it_would_regroup():
    """(N, 3, 4) [R | t] stacks were reshaped into 4x4 blocks: 4 poses gave 3 errors of
    regrouped numbers, without a word."""
    P = np.stack([g.make_pose(Rotation.random(random_state=i).as_matrix(), [i, 0, 0])
                  for i in range(4)])
    with pytest.raises(InputError, match=r"est must be \(N, 4, 4\) .*shape \(4, 3, 4\)"):
        g.pose_errors(P[:, :3], P[:, :3])
    with pytest.raises(InputError, match=r"gt must be .*shape \(64,\)"):
        g.pose_errors(P, P.reshape(-1))
    with pytest.raises(InputError, match="est has 4 poses and gt 3"):
        g.pose_errors(P, P[:3])


def test_backproject_project_round_trip():
    rng = np.random.default_rng(2)
    px = rng.uniform([0, 0], [640, 480], size=(50, 2))
    z = rng.uniform(0.5, 5, 50)
    pts = g.backproject(px, z, K)
    uv, zz = g.project(pts, K)
    np.testing.assert_allclose(uv, px, atol=1e-9)
    np.testing.assert_allclose(zz, z)
    uv, _ = g.project(np.array([[0.0, 0, -1], [1.0, 1.0, 0.0]]), K)
    assert np.isnan(uv).all()  # behind and on the camera plane (z <= 0): NaN, not inf
    depth = np.full((4, 5), 2.0, np.float32)
    pm = g.depth_to_points(depth, K)
    assert pm.shape == (4, 5, 3)
    np.testing.assert_allclose(pm[1, 3], g.backproject(np.array([[3.0, 1.0]]), [2.0], K)[0])


def test_sample_depth_bilinear_and_edges():
    yy, xx = np.mgrid[0:20, 0:30].astype(np.float32)
    plane = 2.0 + 0.01 * xx + 0.02 * yy  # smooth: bilinear is exact on a plane
    d = g.sample_depth(plane, np.array([[3.25, 4.5], [10.0, 10.0]]))
    np.testing.assert_allclose(d, [2.0 + 0.0325 + 0.09, 2.3], rtol=1e-6)
    step = plane.copy()
    step[:, 15:] += 1.0  # occlusion edge between columns 14 and 15
    assert np.isnan(g.sample_depth(step, np.array([[14.5, 5.0]])))[0]
    # a neighbourhood that differs by exactly max_rel_step of its minimum is kept ('more than'
    # is rejected): 2.0 and 2.5 at 0.25
    flat = np.full((4, 4), 2.0)
    flat[:, 2:] = 2.5
    assert g.sample_depth(flat, np.array([[1.5, 1.0]]), max_rel_step=0.25)[0] == 2.25
    assert np.isnan(g.sample_depth(flat, np.array([[1.5, 1.0]]), max_rel_step=0.24))[0]
    holes = plane.copy()
    holes[5, 5] = np.nan
    assert np.isnan(g.sample_depth(holes, np.array([[4.5, 4.5], [-1.0, 2.0], [29.5, 2.0]]))).all()
    # depth 0 is no measurement (TUM/7-Scenes PNGs, ROS 16UC1): a patch of zeros has no depth,
    # not a point at the camera centre
    holes[10:13, 10:13] = 0.0
    assert np.isnan(g.sample_depth(holes, np.array([[11.0, 11.0], [10.5, 11.5]]))).all()


def test_sample_depth_reaches_the_last_pixel_centre():
    """Pixel centres run 0 .. W-1 and 0 .. H-1, both included: the last column and row have depth
    (read through the cell before them), a hair beyond has none, and a non-finite position is
    NaN without a warning."""
    yy, xx = np.mgrid[0:20, 0:30].astype(np.float64)
    plane = 2.0 + 0.01 * xx + 0.02 * yy
    at = np.array([[29.0, 19.0], [29.0, 7.5], [12.25, 19.0], [0.0, 0.0]])
    np.testing.assert_allclose(g.sample_depth(plane, at), 2.0 + 0.01 * at[:, 0] + 0.02 * at[:, 1],
                               rtol=1e-12)
    beyond = np.array([[29.0 + 1e-9, 5.0], [5.0, 19.0 + 1e-9], [-1e-9, 5.0], [5.0, -1e-9]])
    assert np.isnan(g.sample_depth(plane, beyond)).all()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isnan(g.sample_depth(plane, np.array([[np.nan, 3.0], [np.inf, 2.0]]))).all()
    # a 1-pixel-wide image has no bilinear cell: NaN rather than an index wrapped to the far side
    assert np.isnan(g.sample_depth(np.full((5, 1), 2.0), np.array([[0.0, 2.0]]))).all()


def test_undistort_pixels_inverts_opencv_distortion():
    dist = np.array([-0.2, 0.05, 0.001, -0.001, 0.0])
    rng = np.random.default_rng(3)
    pts = np.concatenate([rng.uniform(-0.5, 0.5, (40, 2)), np.ones((40, 1))], axis=1)
    ideal, _ = cv2.projectPoints(pts, np.zeros(3), np.zeros(3), K, None)
    distorted, _ = cv2.projectPoints(pts, np.zeros(3), np.zeros(3), K, dist)
    und = g.undistort_pixels(distorted.reshape(-1, 2), K, dist)
    np.testing.assert_allclose(und, ideal.reshape(-1, 2), atol=1e-4)
    np.testing.assert_allclose(g.undistort_pixels(ideal.reshape(-1, 2), K, np.zeros(5)),
                               ideal.reshape(-1, 2))


def test_homography_and_viewing_angle():
    H = np.array([[2.0, 0, 1], [0, 2, -1], [0, 0, 1]])
    np.testing.assert_allclose(g.apply_homography(H, np.array([[1.0, 2.0]])), [[3.0, 3.0]])
    P = np.array([[1.0, 0, 0], [0, 1, 0], [0.5, 0, 1]])  # perspective row: divide by x/2 + 1
    np.testing.assert_allclose(g.apply_homography(P, np.array([[2.0, 4.0]])), [[1.0, 2.0]])
    a = np.eye(4)
    b = g.make_pose(Rotation.from_euler("y", 30, degrees=True).as_matrix(), [1, 0, 0])
    np.testing.assert_allclose(g.viewing_angle_deg(np.stack([a, b]), a), [0, 30], atol=1e-9)
    # the optical axis is the rotation's third column (map_from_cam): camera b rolled 90 deg
    # about its own optical axis looks the same way, 0 deg (the third row would say 41.4 deg)
    rolled = b @ g.make_pose(Rotation.from_euler("z", 90, degrees=True).as_matrix(), [0, 0, 0])
    np.testing.assert_allclose(g.viewing_angle_deg(rolled[None], b), [0.0], atol=1e-6)


def test_look_at_is_an_optical_frame():
    eye, target = np.array([1.0, 2.0, 1.5]), np.array([4.0, 2.0, 1.5])
    T = g.look_at(eye, target)
    assert g.is_valid_pose(T)
    uv, z = g.project(g.transform_points(g.invert_pose(T), target[None]), K)
    np.testing.assert_allclose(uv[0], K[:2, 2], atol=1e-9)
    assert z[0] == pytest.approx(3.0)
    # a point above the target appears above the image centre (smaller y: y points down)
    uv_up, _ = g.project(g.transform_points(g.invert_pose(T), (target + [0, 0, 1])[None]), K)
    assert uv_up[0, 1] < K[1, 2]
    with pytest.raises(InputError):
        g.look_at(eye, eye + [0, 0, 1])


def test_tum_rows_and_pose_stacks_of_another_shape_are_named():
    with pytest.raises(InputError, match=r"pose rows must be \(N, 7\).*\(2, 6\)"):
        g.pose_from_tum(np.zeros((2, 6)))  # was numpy's "cannot reshape" ValueError
    with pytest.raises(InputError, match=r"poses must be \(N, 4, 4\), got shape \(3, 4\)"):
        g.pose_to_tum(np.eye(4)[:3])
    assert g.pose_from_tum([0, 0, 0, 0, 0, 0, 1]).shape == (1, 4, 4)  # one row
    assert g.pose_to_tum(np.eye(4)).shape == (1, 7)  # one pose


def test_no_poses_is_an_empty_result_not_an_error():
    """pose_to_tum([]) (no frame localized) and pose_from_tum of an empty file's rows gave
    empty arrays before the shape check, which refused their (0,) / (0, 1) shapes."""
    assert g.pose_to_tum([]).shape == (0, 7)
    assert g.pose_from_tum([]).shape == (0, 4, 4)
    assert g.pose_from_tum(np.zeros((0, 1))).shape == (0, 4, 4)  # np.loadtxt(ndmin=2)
    assert g.pose_from_tum(np.zeros((0, 7))).shape == (0, 4, 4)


def test_finite_pose_says_a_4x4_pose_is_not_finite_and_where():
    """A NaN pose was told 'must be a finite 4x4 matrix, got shape (4, 4)'."""
    bad = np.eye(4)
    bad[0, 3] = np.nan
    bad[2, 1] = -np.inf
    with pytest.raises(InputError) as err:
        g.finite_pose(bad, "map_from_cam")
    msg = str(err.value)
    assert "map_from_cam" in msg and "not finite" in msg and "shape" not in msg, msg
    assert "nan at [0, 3]" in msg and "-inf at [2, 1]" in msg and "(2 of 16)" in msg, msg
    with pytest.raises(InputError, match=r"got shape \(3, 4\)"):
        g.finite_pose(np.eye(4)[:3], "map_from_cam")


def test_pose_to_tum_refuses_non_finite_and_non_rigid_poses_naming_them():
    """A NaN pose gave scipy's 'SVD did not converge' LinAlgError; 2 * I (a scale) was written
    as the identity quaternion without a word."""
    with pytest.raises(InputError, match=r"pose_to_tum: poses\[0\] .*not finite: nan at \[0, 0\]"):
        g.pose_to_tum(np.full((4, 4), np.nan))
    poses = np.stack([np.eye(4), np.eye(4) * 2])
    poses[1, 3, 3] = 1
    with pytest.raises(InputError, match=r"poses\[1\] is not a rigid transform: rotation block "
                                         r"not orthonormal"):
        g.pose_to_tum(poses)
    with pytest.raises(InputError, match=r"poses\[0\] .*\(a reflection\)"):
        g.pose_to_tum(np.diag([1.0, 1.0, -1.0, 1.0]))


def test_pose_helpers_name_a_matrix_that_is_not_4x4():
    """invert_pose(np.eye(3)) was an IndexError, compose(np.eye(3), np.eye(3)) a ValueError."""
    with pytest.raises(InputError, match=r"invert_pose: b_from_a must be a 4x4 pose, got shape "
                                         r"\(3, 3\)"):
        g.invert_pose(np.eye(3))
    with pytest.raises(InputError, match=r"compose: pose 1 must be a 4x4 pose, got shape "
                                         r"\(3, 3\)"):
        g.compose(np.eye(4), np.eye(3))
    assert g.invert_pose(np.eye(4).tolist()).shape == (4, 4)  # a nested list is a 4x4


def test_look_at_its_own_eye_is_refused_not_nan():
    eye = np.array([1.0, 2.0, 3.0])
    with pytest.raises(InputError, match=r"look_at: target is the eye \(\[1\.0, 2\.0, 3\.0\]\)"):
        g.look_at(eye, eye)  # returned an all-NaN rotation


@pytest.mark.parametrize("R", [2 * np.eye(3), np.diag([1.0, 1.0, -1.0]), np.full((3, 3), np.nan)])
def test_rotation_angle_of_a_matrix_that_is_no_rotation_is_refused(R):
    # 2 * I gave 0 degrees, the reflection 90
    with pytest.raises(InputError, match=r"rotation_angle_deg: R is not a rotation"):
        g.rotation_angle_deg(R)
    assert g.rotation_angle_deg(Rotation.from_rotvec([0, 0, 0.5]).as_matrix()) == pytest.approx(
        np.degrees(0.5))


def test_pose_error_of_poses_is_valid_pose_accepts_does_not_raise():
    """`is_valid_pose` (np.allclose, 1e-4 plus rtol) accepted a pose whose relative rotation
    with the identity failed a strict 1e-4 check in `rotation_angle_deg`: a prior the
    Localizer accepts then raised in its jump gate, after PnP."""
    from scipy.spatial.transform import Rotation

    from mast3r_ros.core.geometry import is_valid_pose, pose_error

    S = np.zeros((3, 3))
    S[0, 1] = S[1, 0] = 1.0
    H = np.eye(4)
    H[:3, :3] = Rotation.from_euler("z", 45, degrees=True).as_matrix() @ (np.eye(3) + 5.2e-5 * S)
    assert is_valid_pose(H)
    assert abs(pose_error(H, np.eye(4))[1] - 45.0) < 0.01


def test_pose_to_tum_refuses_what_is_valid_pose_refuses_at_its_tolerance():
    """The pre-screen of a pose stack must not let through a pose that `non_rigid_reason`
    refuses: a shear of 1.5e-4 (just over the 1e-4 tolerance) is refused, 0.4e-4 accepted."""
    for e, rigid in ((0.75e-4, False), (0.2e-4, True)):
        T = np.eye(4)
        T[0, 1] = T[1, 0] = e  # |R R^T - I| = 2 e, det 1 - e^2
        assert g.is_valid_pose(T) is rigid
        if rigid:
            assert g.pose_to_tum(T).shape == (1, 7)
        else:
            with pytest.raises(InputError, match=r"poses\[0\] is not a rigid transform"):
                g.pose_to_tum(T)


def test_is_valid_pose_decides_as_np_allclose_did_at_the_tolerance_edge():
    """`is_valid_pose` writes np.allclose(R R^T, I, atol=tol) and np.allclose(T[3], [0, 0, 0,
    1], atol=tol) out (|a - b| <= tol + 1e-5 |b|; ~30 us less per checked prior or hint):
    the same verdict on poses whose errors straddle the tolerance, entry by entry."""
    def allclose_verdict(T, tol):
        R = T[:3, :3]
        return bool(np.allclose(R @ R.T, np.eye(3), atol=tol)
                    and abs(np.linalg.det(R) - 1) < tol
                    and np.allclose(T[3], [0, 0, 0, 1], atol=tol))

    rng = np.random.default_rng(3)
    verdicts = []
    for i in range(3000):
        T = g.make_pose(Rotation.random(random_state=i).as_matrix(), rng.normal(size=3))
        tol = [1e-4, 1e-3][i % 2]
        T = T + rng.normal(0, tol * 10.0 ** rng.uniform(-1.5, 0.5), (4, 4)) * (
            rng.random((4, 4)) < 0.3)
        if i % 7 == 0:
            T[3] = [0, 0, 0, 1 + tol * (1 + 1e-5) * rng.choice([-1, 1])]  # the edge of atol
        want = allclose_verdict(T, tol)
        assert g.is_valid_pose(T, tol) == want, (i, T)
        verdicts.append(want)
    assert 0.1 < np.mean(verdicts) < 0.9  # both verdicts exercised
