"""The view-angle term of the pose covariance (``covariance.view_angle_sigma_ratio``,
`core.pnp.covariance._view_angle_cov`): zero at zero angle, growing with the angle and the
depth as documented, in the axes across the line of sight, off at 0, refused when negative."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from mast3r_ros.core.config import CovarianceConfig, config_from_params
from mast3r_ros.core.errors import ConfigError
from mast3r_ros.core.geometry import make_pose
from mast3r_ros.core.localizer import pipeline
from mast3r_ros.core.pnp import UncertaintyModel, pose_covariance
from mast3r_ros.replay.synthetic import default_intrinsics

K = default_intrinsics(640, 480).K


def _scene(query, kf_centre, depth=2.0, n=200, seed=0):
    """Exact points spread over the query's view at ``depth`` (+-20 %) along its optical axis,
    their pixels, and the one keyframe group at ``kf_centre``."""
    rng = np.random.default_rng(seed)
    uv = np.column_stack([rng.uniform(40, 600, n), rng.uniform(40, 440, n)])
    z = depth * rng.uniform(0.8, 1.2, n)
    p = np.column_stack([(uv[:, 0] - K[0, 2]) / K[0, 0] * z,
                         (uv[:, 1] - K[1, 2]) / K[1, 1] * z, z])
    X = p @ query[:3, :3].T + query[:3, 3]
    return X, uv, np.zeros(n, np.int64), np.asarray(kf_centre, float).reshape(1, 3)


def _term(query, X, uv, groups, centres, ratio):
    """The view-angle term alone: the covariance with it minus the one without."""
    def cov(r):
        return pose_covariance(query, X, uv, K, groups=groups, group_centres=centres,
                               model=UncertaintyModel(view_angle_sigma_ratio=r))
    return cov(ratio) - cov(0.0)


def _expected(query, X, centre, ratio):
    """The documented term, built independently: theta the mean angle between the query's and
    the keyframe's rays to the points, the pivot their centroid; small rotations of the pose
    about two axes across the line of sight, through the pivot, differentiated numerically,
    and a shift along the line of sight of the same sigma (ratio theta d)."""
    c = query[:3, 3]
    a, b = X - c, X - centre
    theta = np.mean(np.arccos(np.clip(np.sum(a * b, 1) / np.linalg.norm(a, axis=1)
                                      / np.linalg.norm(b, axis=1), -1, 1)))
    pivot = X.mean(axis=0)
    los = (pivot - c) / np.linalg.norm(pivot - c)
    e1 = np.cross(los, [0.3, 0.5, 0.8])
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(los, e1)
    h, cov = 1e-7, np.zeros((6, 6))
    for axis in (e1, e2):
        Rh = Rotation.from_rotvec(h * axis).as_matrix()
        dc = (pivot + Rh @ (c - pivot) - c) / h
        g = np.concatenate([dc, axis])
        cov += np.outer(g, g)
    d = np.linalg.norm(pivot - c)
    cov[:3, :3] += d * d * np.outer(los, los)
    return (ratio * theta) ** 2 * cov, theta, d


def test_zero_when_the_keyframe_sees_the_points_from_the_query_centre():
    """A keyframe rotated 30 deg but at the query's centre sees every point along the query's
    own ray: no view-angle difference, no term, whatever the ratio."""
    query = np.eye(4)
    X, uv, g, _ = _scene(query, np.zeros(3))
    assert np.abs(_term(query, X, uv, g, query[:3, 3][None], 0.5)).max() < 1e-15


def test_grows_with_the_angle_as_documented():
    """The keyframe 0.2, 0.5 and 1.0 m to the side of the query (2 m from the scene): the term
    is (ratio theta)^2 times the rotation about the scene's centroid, theta growing."""
    query = np.eye(4)
    sigmas = []
    for side in (0.2, 0.5, 1.0):
        X, uv, g, centres = _scene(query, [side, 0.0, 0.0])
        got = _term(query, X, uv, g, centres, 0.1)
        want, theta, d = _expected(query, X, centres[0], 0.1)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-9)
        # a position sigma of ratio theta d in every direction
        np.testing.assert_allclose(np.sqrt(got[:3, :3].diagonal()), 0.1 * theta * d,
                                   rtol=1e-6)
        sigmas.append(np.sqrt(got[0, 0]))
    assert sigmas[0] < sigmas[1] < sigmas[2]


def test_position_part_grows_with_depth_at_the_same_angle():
    """The whole scene twice as far (keyframe offset doubled too, so the angle is the same):
    the position sigma doubles, the rotation sigma stays."""
    query = np.eye(4)
    near = _term(query, *_scene(query, [0.5, 0.0, 0.0], depth=2.0), 0.1)
    far = _term(query, *_scene(query, [1.0, 0.0, 0.0], depth=4.0), 0.1)
    np.testing.assert_allclose(np.sqrt(far[:3, :3].diagonal()[:2]),
                               2 * np.sqrt(near[:3, :3].diagonal()[:2]), rtol=1e-6)
    np.testing.assert_allclose(far[3:, 3:], near[3:, 3:], rtol=1e-6, atol=1e-15)


def test_is_in_map_axes_for_a_rotated_camera():
    """A camera turned and moved in the map: the term is the camera-axes term of an unrotated
    camera turned into the map frame, with no rotation about the line of sight to the scene
    (map axes) and the position uncertain alike along and across it."""
    rot = Rotation.from_euler("zyx", [70, 20, -35], degrees=True).as_matrix()
    base = np.eye(4)
    X0, uv, g, c0 = _scene(base, [0.5, 0.0, 0.0])
    ref = _term(base, X0, uv, g, c0, 0.2)
    T = make_pose(rot, np.array([1.0, 2.0, 0.5]))
    query = T @ base
    X = X0 @ rot.T + T[:3, 3]
    centres = c0 @ rot.T + T[:3, 3]
    got = _term(query, X, uv, g, centres, 0.2)
    Rb = np.kron(np.eye(2), rot)
    np.testing.assert_allclose(got, Rb @ ref @ Rb.T, atol=1e-12)
    los = X.mean(axis=0) - query[:3, 3]
    los /= np.linalg.norm(los)
    assert abs(los @ got[3:, 3:] @ los) < 1e-12 * got[3:, 3:].trace()
    np.testing.assert_allclose(got[:3, :3], got[:3, :3].trace() / 3 * np.eye(3), atol=1e-15)
    assert not np.allclose(los, rot[:, 2], atol=1e-3)  # the axis is the scene's, not the camera's
    assert got[:3, :3].trace() > 0


def test_off_at_zero_and_without_keyframe_groups():
    query = np.eye(4)
    X, uv, g, centres = _scene(query, [0.5, 0.0, 0.0])
    assert np.array_equal(_term(query, X, uv, g, centres, 0.0), np.zeros((6, 6)))
    plain = pose_covariance(query, X, uv, K)
    with_ratio = pose_covariance(query, X, uv, K,
                                 model=UncertaintyModel(view_angle_sigma_ratio=0.5))
    assert np.array_equal(plain, with_ratio)  # no keyframe centres: no angle, no term


def test_the_localizer_passes_the_config_ratio_and_the_default_is_off():
    assert CovarianceConfig().view_angle_sigma_ratio == 0.0
    cv = config_from_params({"covariance.view_angle_sigma_ratio": 0.15}).localizer.covariance
    model = pipeline._uncertainty(cv)
    assert model.view_angle_sigma_ratio == 0.15
    assert model.map_pose_sigma_rad == pytest.approx(np.radians(cv.map_pose_sigma_deg))


@pytest.mark.parametrize("value", [-0.05, 1.5])
def test_a_ratio_out_of_range_is_refused_naming_the_key(value):
    with pytest.raises(ConfigError, match=r"'covariance\.view_angle_sigma_ratio' must be in "
                                          r"\[0\.0, 1\.0\]"):
        config_from_params({"covariance.view_angle_sigma_ratio": value})


def test_each_point_is_paired_with_its_own_keyframe_in_any_order():
    """Two keyframes, points interleaved: theta is the mean over all inliers of the angle to
    each point's own keyframe (half of them seen from the query's centre here), whatever the
    points' order (the keyframe-pose term sorts them by keyframe)."""
    query = np.eye(4)
    X, uv, _, _ = _scene(query, [0.0, 0.0, 0.0])
    g = np.arange(len(X)) % 2
    centres = np.array([[0.6, 0.0, 0.0], [0.0, 0.0, 0.0]])
    got = _term(query, X, uv, g, centres, 0.1)
    want, theta, _ = _expected(query, X, centres[g], 0.1)
    assert theta > 0
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-9)
    o = np.argsort(g, kind="stable")
    np.testing.assert_allclose(_term(query, X[o], uv[o], g[o], centres, 0.1), got,
                               rtol=1e-9, atol=1e-15)
