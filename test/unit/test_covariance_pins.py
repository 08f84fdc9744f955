"""`pose_covariance` pinned where test_covariance's Monte Carlo checks (diagonal ratios within
their sampling tolerance) and its pointwise reference (built from the same analytic Jacobian)
let a one-token change through: the whole matrix, correlations included, against a Jacobian
by numerical differentiation; the 4-point minimum; the 1/12 px floor; the keyframe-pose term
with only one of its two sigmas; keyframe groups that come in descending order."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from mast3r_ros.core import pnp
from mast3r_ros.core.geometry import invert_pose, make_pose, transform_points
from mast3r_ros.core.pnp import covariance as pnp_cov
from mast3r_ros.core.pnp.linearise import _perturb

# fx != fy, principal point off centre: a swapped row or sign of the Jacobian shows
K = np.array([[600.0, 0.0, 300.0], [0.0, 450.0, 260.0], [0.0, 0.0, 1.0]])


def _narrow_scene(seed=0, n=40):
    """Points 4-8 m ahead in a narrow cone (a 100 x 75 px window off the principal point):
    sideways translation and rotation are strongly correlated (|rho| > 0.8), so a sign error in
    an off-diagonal term of J^T J shows. Returns (map_from_cam, X, exact pixels)."""
    rng = np.random.default_rng(seed)
    T = make_pose(Rotation.random(random_state=seed).as_matrix(), rng.uniform(-2, 2, 3))
    px = rng.uniform([400, 300], [500, 375], (n, 2))
    z = rng.uniform(4.0, 8.0, n)
    pts = np.stack([(px[:, 0] - K[0, 2]) / K[0, 0] * z, (px[:, 1] - K[1, 2]) / K[1, 1] * z, z], 1)
    return T, transform_points(T, pts), px


def _numerical_jacobian(T, X, x):
    """d residual / d (dc, dtheta) (2N, 6) by central differences of `reprojection_residuals`
    under the perturbation of the package docstring (`_perturb`)."""
    J = np.zeros((2 * len(X), 6))
    for k in range(6):
        d = np.zeros(6)
        d[k] = 1e-6
        rp, _ = pnp.reprojection_residuals(invert_pose(_perturb(T, d)), X, x, K)
        rm, _ = pnp.reprojection_residuals(invert_pose(_perturb(T, -d)), X, x, K)
        J[:, k] = ((rp - rm) / 2e-6).reshape(-1)
    return J


def _corr(C):
    s = 1.0 / np.sqrt(np.diag(C))
    return C * s[:, None] * s[None, :]


@pytest.mark.parametrize("sigma, sig2", [(1.5, 1.5 ** 2), (None, 1.0 / 144.0)],
                         ids=["given", "floor"])
def test_pixel_only_covariance_is_sigma2_times_the_inverse_of_numerical_jtj(sigma, sig2):
    """Exact correspondences, no point covariances, no keyframe term: the covariance is
    ``sigma^2 (J^T J)^-1`` entry by entry, correlations included, with J by numerical
    differentiation (independent of `_linearise` and `_Rows`); sigma given, or estimated from
    zero residuals and so floored at 1/12 px (variance 1/144 px^2). A flipped sign in one entry
    of the `_Rows` selection matrices moves the off-diagonal terms (and passed the Monte Carlo
    checks, which compare diagonals); another floor changes every entry."""
    T, X, x = _narrow_scene()
    model = pnp.UncertaintyModel(sigma, 0.0, 0.0, variance_factor=False)
    cov = pnp.pose_covariance(T, X, x, K, model=model)
    J = _numerical_jacobian(T, X, x)
    want = sig2 * np.linalg.inv(J.T @ J)
    assert np.abs(_corr(want) - np.eye(6)).max() > 0.8  # the scene has strong correlations
    np.testing.assert_allclose(_corr(cov), _corr(want), atol=1e-5)
    np.testing.assert_allclose(np.diag(cov), np.diag(want), rtol=1e-5)


def test_fewer_than_four_points_give_no_covariance():
    """Three points in general position fit a pose exactly (6 equations, 6 unknowns) and H is
    regular, but the docstring's minimum is 4 points: None, not a covariance with no residual
    degrees of freedom; four give one."""
    T, X, x = _narrow_scene(n=4)
    assert pnp.pose_covariance(T, X[:3], x[:3], K) is None
    assert pnp.pose_covariance(T, X, x, K) is not None


def _one_keyframe(seed=1, n=60):
    """Exact points of one keyframe 0.4 m beside the query: (query pose, X, x, keyframe centre)."""
    T, X, x = _narrow_scene(seed, n)
    return T, X, x, transform_points(T, np.array([[0.4, -0.1, 0.2]]))


@pytest.mark.parametrize("sig_m, sig_rad", [(0.01, 0.0), (0.0, 0.02)], ids=["metres", "radians"])
def test_the_keyframe_term_counts_with_only_one_of_its_sigmas(sig_m, sig_rad):
    """The keyframe-pose term is added when either sigma is positive, not only when both are:
    with one keyframe and exact points the query inherits the keyframe's error rigidly,
    ``B diag(sig_m^2 I, sig_rad^2 I) B^T``, ``B = [[I, -[c_q - c_k]x], [0, I]]``, on top of
    the pixel part (with ``and`` for ``or`` only the pixel part was left)."""
    T, X, x, c_k = _one_keyframe()
    g = np.zeros(len(X), int)
    model = pnp.UncertaintyModel(1.0, sig_m, sig_rad, variance_factor=False)
    cov = pnp.pose_covariance(T, X, x, K, None, g, c_k, model)
    pixels = pnp.pose_covariance(T, X, x, K, None, g, c_k, pnp.UncertaintyModel(1.0, 0.0, 0.0))
    B = np.eye(6)
    B[:3, 3:] = -pnp_cov._skew(T[:3, 3] - c_k[0])
    want = B @ np.diag([sig_m ** 2] * 3 + [sig_rad ** 2] * 3) @ B.T
    np.testing.assert_allclose(cov - pixels, want, rtol=1e-6, atol=1e-9 * np.abs(want).max())


def test_keyframe_groups_in_descending_order_are_grouped_too():
    """Points listed by keyframe 2, 1, 0 (descending: no keyframe index ever rises) give the
    covariance of the same points listed 0, 1, 2: the groups are sorted before the per-keyframe
    sums, whatever their order."""
    T, X, x = _narrow_scene(2, n=90)
    groups = np.repeat([2, 1, 0], 30)
    centres = transform_points(T, np.array([[0.3, 0.0, 0.1], [-0.2, 0.1, 0.0], [0.0, -0.3, 0.2]]))
    model = pnp.UncertaintyModel(1.0, 0.01, 0.01)
    desc = pnp.pose_covariance(T, X, x, K, None, groups, centres, model)
    asc = pnp.pose_covariance(T, X[::-1], x[::-1], K, None, groups[::-1], centres, model)
    np.testing.assert_allclose(desc, asc, rtol=1e-9, atol=1e-15)
