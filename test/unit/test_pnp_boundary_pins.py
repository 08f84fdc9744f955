"""Boundaries of `solve_pnp`'s argument checks, its place count and `focal_scale`'s minimum,
each as documented, pinned where a one-token change (``>`` for ``>=``, 8 for 7) passed every
other test."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from mast3r_ros.core import pnp
from mast3r_ros.core.errors import ConfigError
from mast3r_ros.core.geometry import make_pose, transform_points
from mast3r_ros.core.pnp.focal import focal_scale
from mast3r_ros.core.pnp.solve import _separated_places
from mast3r_ros.core.types import CameraIntrinsics

CAM = CameraIntrinsics(640, 480, [[525.0, 0, 319.5], [0, 525.0, 239.5], [0, 0, 1]])
K = CAM.K


def _scene(n, seed=0, K=K):
    """n exact correspondences of a camera ``map_from_cam`` T (points 1-4 m deep) seen through
    ``K`` (this file's square-pixel one by default)."""
    rng = np.random.default_rng(seed)
    T = make_pose(Rotation.from_rotvec([0.1, -0.2, 0.05]).as_matrix(), [1.0, 2.0, 0.5])
    px = rng.uniform([20, 20], [620, 460], (n, 2))
    z = rng.uniform(1.0, 4.0, n)
    pts = np.stack([(px[:, 0] - K[0, 2]) / K[0, 0] * z, (px[:, 1] - K[1, 2]) / K[1, 1] * z, z], 1)
    return transform_points(T, pts), px, T


@pytest.mark.parametrize("kw", [dict(reproj_error_px=0.0), dict(confidence=0.0),
                                dict(confidence=1.0)],
                         ids=["threshold 0", "confidence 0", "confidence 1"])
def test_the_open_bounds_of_threshold_and_confidence_are_refused(kw):
    """``reproj_error_px`` <= 0 and ``confidence`` outside the open (0, 1) are a ConfigError
    (the docstring): the bounds themselves too."""
    X, x, _ = _scene(60)
    with pytest.raises(ConfigError, match="solve_pnp: needs"):
        pnp.solve_pnp(X, x, CAM, backend="opencv", **kw)


def test_pixels_exactly_twice_the_threshold_apart_are_one_place():
    """Places are counted among pixels *over* ``sep`` apart: seven pixels exactly 8 px apart
    in a row (sep 8, an exact float distance) are four places (0, 16, 32, 48), not seven."""
    xu = np.column_stack([np.arange(7) * 8.0, np.zeros(7)])
    assert _separated_places(xu, np.ones(7, bool), 8.0) == 4


def test_focal_scale_needs_eight_points():
    """`focal_scale` judges from 8 points on, and returns (1.0, inf) below (the docstring)."""
    X, x, T = _scene(8)
    assert focal_scale(T, X[:7], x[:7], K) == (1.0, float("inf"))
    s, sigma = focal_scale(T, X, x, K)
    assert s == pytest.approx(1.0, abs=1e-9) and np.isfinite(sigma)


def test_refitted_focal_scale_refits_once_per_round_while_the_inliers_change(monkeypatch):
    """`refitted_focal_scale` fits once, then ``rounds`` more times while the inliers chosen
    again keep changing (the docstring): under a K 20 % too long the tight inliers change in
    every round here, so ``rounds`` 0, 1, 2 take 1, 2, 3 fits (one round fewer gave 1, 1, 2)."""
    from test_focal_gate import _wall_and_room

    from mast3r_ros.core.pnp import focal

    Kf = np.array([[600.0, 0, 320], [0, 600.0, 240], [0, 0, 1]])
    pose, X, x = _wall_and_room(Kf, 1 / 1.2, seed=1)
    tight = focal._reprojection_px(pose, X, x, Kf) < 1.0
    real, fits = focal._fit_rows, []  # each round's fit

    def counted(*a):
        fits.append(1)
        return real(*a)

    monkeypatch.setattr(focal, "_fit_rows", counted)
    counts = []
    for rounds in (0, 1, 2):
        fits.clear()
        focal.refitted_focal_scale(pose, X, x, tight, Kf, 5.0, rounds=rounds)
        counts.append(len(fits))
    assert counts == [1, 2, 3], counts


def test_a_residual_exactly_at_the_threshold_is_an_inlier():
    """Inliers are the correspondences *within* the threshold, its bound included (as
    `solve_pnp`'s ``norm(r) <= reproj_error_px``): a residual of exactly 4 px at a 4 px
    threshold is one; just over it is not."""
    from mast3r_ros.core.pnp.linearise import _Rows

    Kr = np.array([[100.0, 0.0, 0.0], [0.0, 100.0, 0.0], [0.0, 0.0, 1.0]])
    Xt = np.array([[0.0, 0.0], [0.0, 0.0], [1.0, 1.0]])  # two points on the axis, 1 m ahead
    xt = np.array([[4.0, np.nextafter(4.0, 5.0)], [0.0, 0.0]])
    rows = _Rows(Xt, xt, Kr, np.ones(2, bool), 4.0)
    inl, e2 = rows.inliers(rows.evaluate(np.eye(4)))
    assert e2[0] == 16.0 and inl.tolist() == [True, False]


@pytest.mark.parametrize("angle", [1e-9, 1e-6, 5e-3, 0.5])
def test_the_pose_perturbation_is_an_exact_rotation_at_every_size(angle):
    """`_perturb` rotates by exp([dtheta]_x) (Rodrigues; a series only where it is exact to
    round-off): the result equals scipy's rotation of that vector to 1e-15, small or not."""
    from mast3r_ros.core.pnp.linearise import _perturb

    w = angle * np.array([0.6, -0.48, 0.64])
    R = _perturb(np.eye(4), np.concatenate([np.zeros(3), w]))[:3, :3]
    np.testing.assert_allclose(R, Rotation.from_rotvec(w).as_matrix(), rtol=0, atol=1e-15)


def test_so3_exp_is_rodrigues_expression_bit_for_bit():
    """`_so3_exp` builds ``[w]_x`` from Python floats and sums ``I + a W + b W^2`` in place
    (issue 9's host time: it runs once per refinement trial and focal-fit step): the bits of
    the expression ``np.eye(3) + a * W + b * (W @ W)`` (and of the series below 1e-8 rad),
    over rotation vectors from 1e-14 to 5 rad."""
    from mast3r_ros.core.pnp.linearise import _so3_exp

    def expression(w):
        th2 = float(w @ w)
        W = np.array([[0.0, -w[2], w[1]], [w[2], 0.0, -w[0]], [-w[1], w[0], 0.0]])
        if th2 < 1e-16:
            return np.eye(3) + W + 0.5 * (W @ W)
        th = np.sqrt(th2)
        return np.eye(3) + (np.sin(th) / th) * W + ((1.0 - np.cos(th)) / th2) * (W @ W)

    rng = np.random.default_rng(0)
    for _ in range(3000):
        w = rng.normal(0, 10.0 ** rng.uniform(-14, 0.5), 3)
        np.testing.assert_array_equal(_so3_exp(w), expression(w))
    np.testing.assert_array_equal(_so3_exp(np.zeros(3)), np.eye(3))
