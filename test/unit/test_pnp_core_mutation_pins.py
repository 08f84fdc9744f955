"""PnP and covariance behaviour pinned where a one-token change of the core solver code
(`core.pnp`) passed every other test: the covariance with fx != fy, the singular-normal-matrix
guard on a non-positive diagonal, OpenCV's 'success without inliers', and the reason a frame
with fewer than `MIN_POINTS` inliers fails with."""

import numpy as np
import pytest

from mast3r_ros.core import pnp
from mast3r_ros.core.geometry import invert_pose
from mast3r_ros.core.pnp import covariance as pnp_cov
from mast3r_ros.core.pnp import linearise as pnp_lin
from mast3r_ros.core.pnp import ransac as pnp_ransac
from mast3r_ros.core.pnp import solve as pnp_solve
from test_pnp_boundary_pins import _scene as _boundary_scene
from mast3r_ros.core.types import CameraIntrinsics

# fx != fy: every test of the covariance formulas elsewhere used a square-pixel K
CAM = CameraIntrinsics(640, 480, [[600.0, 0, 310.0], [0, 420.0, 250.0], [0, 0, 1]])
K = CAM.K


def _scene(n, seed=0):
    return _boundary_scene(n, seed, K)


def test_covariance_with_point_covariances_equals_the_pointwise_sandwich_when_fx_differs_from_fy():
    """``H^-1 (sum J_i^T (sigma^2 I + JX_i S_i JX_i^T) J_i) H^-1`` (the package docstring, item
    2) summed point by point with `point_jacobian`, for a K with fx != fy and anisotropic point
    covariances: the vectorised `pose_covariance` equals it. Scaling the v-v entry of
    ``JX S JX^T`` by fx fy instead of fy^2 passed every other test (all had fx == fy)."""
    rng = np.random.default_rng(3)
    X, x, T = _scene(40)
    x = x + rng.normal(0, 0.5, x.shape)
    A = rng.normal(0, 0.02, (len(X), 3, 3))
    S = A @ np.swapaxes(A, 1, 2) + 1e-5 * np.eye(3)
    model = pnp.UncertaintyModel(pixel_sigma_px=0.7, variance_factor=False)
    cov = pnp.pose_covariance(T, X, x, K, S, model=model)
    J = pnp_lin._jacobian(T, X, K).reshape(len(X), 2, 6)
    JX = pnp.point_jacobian(T, X, K)
    H = sum(j.T @ j for j in J)
    M = sum(j.T @ (0.49 * np.eye(2) + jx @ s @ jx.T) @ j for j, jx, s in zip(J, JX, S))
    Hi = np.linalg.inv(H)
    ref = Hi @ M @ Hi
    np.testing.assert_allclose(cov, 0.5 * (ref + ref.T), rtol=1e-8, atol=1e-14)


@pytest.mark.parametrize("last", [0.0, -1.0], ids=["zero", "negative"])
def test_a_normal_matrix_with_a_non_positive_diagonal_has_no_inverse(last):
    """`_regular_inverse` returns None for a normal matrix ``J^T J`` with a zero or negative
    diagonal entry (no such ``J^T J`` is positive definite): without that check the Jacobi
    scaling divides by its square root and numpy's eigensolver raised `LinAlgError` out of
    `solve_pnp`."""
    H = np.diag([1.0, 2.0, 3.0, 4.0, 5.0, last])
    assert pnp_cov._regular_inverse(H) is None


@pytest.mark.parametrize("inl", [None, np.zeros((0, 1), np.int32)], ids=["None", "empty"])
def test_opencv_success_without_inliers_is_no_pose(monkeypatch, inl):
    """OpenCV's ``solvePnPRansac`` reporting success but no inlier indices is no hypothesis
    (`_ransac_opencv` returns None), not its pose."""
    import cv2

    monkeypatch.setattr(cv2, "solvePnPRansac",
                        lambda *a, **k: (True, np.zeros((3, 1)), np.ones((3, 1)), inl))
    X, x, _ = _scene(20)
    assert pnp_ransac._ransac_opencv(X, x, K, 5.0, 100, 0.99, 0) is None


def test_fewer_than_min_points_inliers_fail_as_too_few_inliers_not_as_too_few_places(
        monkeypatch):
    """Five exact correspondences among gross outliers, from the exact RANSAC pose: the frame
    fails with "too few PnP inliers (5)" -- the inlier count -- not with the place count's
    reason (five inliers are never six places; testing ``n_in < MIN_POINTS - 1`` there passed
    every other test)."""
    X, x, T = _scene(12)
    x[5:] = x[5:] + 200.0 * np.sign(x[5:] - [320, 240])  # 7 gross outliers, 5 inliers
    monkeypatch.setattr(pnp_solve, "_ransac_opencv", lambda *a: invert_pose(T))
    res = pnp.solve_pnp(X, x, CAM, backend="opencv", reproj_error_px=4.0)
    assert not res.success and res.num_inliers == 5
    assert res.reason == "too few PnP inliers (5)"


def test_the_view_angle_term_is_there_at_a_sub_milliradian_angle():
    """A keyframe 1 mm beside the query, 2 m from the scene (theta ~ 5e-4 rad): the view-angle
    term is the documented (ratio theta)^2-scaled one, not zero -- only theta = 0 gives zero
    (`_view_angle_cov`); a threshold of 1e-3 rad on theta passed every other test (their
    keyframes sit 0.2 m and more to the side)."""
    from test_covariance_view_angle import _expected, _scene, _term

    query = np.eye(4)
    X, uv, g, centres = _scene(query, [1e-3, 0.0, 0.0])
    got = _term(query, X, uv, g, centres, 1.0)
    want, theta, d = _expected(query, X, centres[0], 1.0)
    assert 1e-4 < theta < 1e-3
    np.testing.assert_allclose(np.sqrt(got[:3, :3].diagonal()), theta * d, rtol=1e-5)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6 * np.abs(want).max())


@pytest.mark.parametrize("max_steps", [1, 2, 20])
def test_refine_inliers_hands_back_only_a_linearisation_taken_at_the_returned_pose(max_steps):
    """`_refine_inliers` returns (F, r, A) only when its last linearisation was at the pose it
    returns (else None, and `solve._finish` linearises again): from a pose off by ~5 mm /
    0.25 deg, cut after ``max_steps`` accepted steps, whatever it hands back equals the rows,
    residuals and normal matrix at the returned pose and inliers. Keeping the previous step's
    linearisation after an accepted step passed every other test (the covariance and RMS were
    then those of the pose one step before)."""
    X, x, T = _scene(80, seed=5)
    x = x + np.random.default_rng(1).normal(0, 0.3, x.shape)
    start = pnp_lin._perturb(T, np.array([0.004, -0.003, 0.002, 0.003, -0.002, 0.002]))
    rows = pnp_lin._Rows(np.ascontiguousarray(X.T), np.ascontiguousarray(x.T), K,
                         np.ones(len(X), bool), 20.0)
    from mast3r_ros.core.pnp.refine import _refine_inliers

    T_out, inl, _, ev, Fr = _refine_inliers(start, rows, max_steps=max_steps)
    assert not np.array_equal(T_out, start)
    if Fr is not None:
        F, r, A = (np.array(a, copy=True) for a in Fr)
        F2, r2 = rows.jacobian_rows(rows.evaluate(T_out), inl)
        np.testing.assert_array_equal(F, F2)
        np.testing.assert_array_equal(r, r2)
        np.testing.assert_array_equal(A, rows.normal_equations(T_out[:3, :3], F2, r2)[0])


def test_a_residual_exactly_at_the_threshold_is_an_inlier():
    """Inliers are the correspondences *within* the threshold, the bound included
    (`_Rows.inliers`): residuals (3, 4) px at a 5 px threshold (exact floats) are an inlier,
    (3, 4.000001) not; ``<`` for ``<=`` passed every other test."""
    rows = pnp_lin._Rows(np.zeros((3, 2)), np.zeros((2, 2)), K, np.ones(2, bool), 5.0)
    one = np.ones(2)
    ev = (one, one, one, one, np.array([3.0, 3.0]), np.array([4.0, 4.000001]))
    inl, e2 = rows.inliers(ev)
    assert inl.tolist() == [True, False] and e2[0] == 25.0
