"""Pins for the survivors of the mutation audit of core/pnp/covariance.py (docs/bench/
mutation_cpu_*): when `pose_covariance` gives a covariance and when it says it has none."""

import numpy as np
from scipy.spatial.transform import Rotation

from mast3r_ros.core.geometry import make_pose, transform_points
from mast3r_ros.core.pnp import covariance as pnp_cov

K = np.array([[500.0, 0.0, 320.0], [0.0, 500.0, 240.0], [0.0, 0.0, 1.0]])


def _scene(px, z, seed=0):
    """map_from_cam, map points of pixels ``px`` (N, 2) at depths ``z`` (N,), the pixels."""
    rng = np.random.default_rng(seed)
    T = make_pose(Rotation.random(random_state=seed).as_matrix(), rng.uniform(-2, 2, 3))
    pts = np.stack([(px[:, 0] - K[0, 2]) / K[0, 0] * z, (px[:, 1] - K[1, 2]) / K[1, 1] * z, z], 1)
    return T, transform_points(T, pts), px


def test_the_default_model_adds_no_keyframe_pose_error():
    # UncertaintyModel(): keyframe poses exact, so the keyframe groups change nothing
    rng = np.random.default_rng(1)
    T, X, x = _scene(rng.uniform([100, 80], [540, 400], (30, 2)), rng.uniform(2, 6, 30))
    groups = np.repeat([0, 1, 2], 10)
    centres = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    plain = pnp_cov.pose_covariance(T, X, x, K)
    grouped = pnp_cov.pose_covariance(T, X, x, K, groups=groups, group_centres=centres)
    np.testing.assert_allclose(grouped, plain, rtol=1e-12, atol=0)


def test_points_on_one_line_have_no_covariance():
    # a rotation of the camera about the line that holds every point leaves their images
    # where they are: one pose direction is unconstrained, so no covariance (None, which the
    # node replaces by its default), not the inverse of a rank-5 normal matrix
    s = np.linspace(-1.0, 1.0, 12)
    pts = np.stack([0.3 + s, -0.2 + 0.5 * s, 4.0 + 0.7 * s], axis=1)  # camera frame
    px = pts[:, :2] / pts[:, 2:] * [K[0, 0], K[1, 1]] + K[:2, 2]
    T = make_pose(Rotation.from_euler("xyz", [0.1, -0.2, 0.3]).as_matrix(), [1.0, 2.0, 0.5])
    assert pnp_cov.pose_covariance(T, transform_points(T, pts), px, K) is None
    # the same points spread off the line have one
    pts[::2, 0] += 0.5
    px = pts[:, :2] / pts[:, 2:] * [K[0, 0], K[1, 1]] + K[:2, 2]
    assert pnp_cov.pose_covariance(T, transform_points(T, pts), px, K) is not None


def test_a_far_narrow_scene_gets_its_large_covariance_not_none():
    # 40 points 80-120 m ahead, all within 10 px of the principal point, the camera looking
    # along map z: moving it along its axis moves them by under 0.1 px a metre (a normal-matrix
    # entry of 0.25 px^2/m^2), yet the geometry is not degenerate: with 1 px noise the
    # covariance says metres along the axis and centimetres across it (None would let the node
    # publish its 0.1 m default instead)
    rng = np.random.default_rng(2)
    px = rng.uniform([310, 230], [330, 250], (40, 2))
    z = rng.uniform(80, 120, 40)
    pts = np.stack([(px[:, 0] - K[0, 2]) / K[0, 0] * z, (px[:, 1] - K[1, 2]) / K[1, 1] * z, z], 1)
    T = make_pose(np.eye(3), [1.0, 2.0, 0.5])
    model = pnp_cov.UncertaintyModel(pixel_sigma_px=1.0)
    cov = pnp_cov.pose_covariance(T, transform_points(T, pts), px, K, model=model)
    assert cov is not None and np.isfinite(cov).all()
    sigma = np.sqrt(np.diag(cov)[:3])
    assert sigma[2] > 1.0 and sigma[:2].max() < 0.5
