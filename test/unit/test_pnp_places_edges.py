"""Host-time rewrites of the pnp package at their edges (a mutation audit's pins):
`solve._greedy_places_prefix` with pixels exactly ``sep`` apart (one place in both counts,
``>`` not ``>=``, so the prefix shortcut stays the greedy count bit for bit; integer pixels
make the tie real) and `focal._reprojection_px` against `geometry.project`."""

from __future__ import annotations

import numpy as np

from mast3r_ros.core.pnp.refine import MIN_POINTS
from mast3r_ros.core.pnp.solve import _greedy_places, _greedy_places_prefix


def test_pixels_exactly_sep_apart_are_one_place_in_both_counts():
    p = np.array([[4.0 * i, 0.0] for i in range(10)])  # 4 px apart, sep 4
    assert _greedy_places(p, 4.0) == _greedy_places_prefix(p, 4.0) == 5
    p = np.array([[5.0 * i, 0.0] for i in range(10)])  # 5 px apart: each its own place
    assert _greedy_places(p, 4.0) == _greedy_places_prefix(p, 4.0) == MIN_POINTS


def test_the_focal_refit_reprojection_is_the_pixel_distance_inf_behind_the_camera():
    """`focal._reprojection_px` (rows form, host-time rewrite) against `geometry.project`: fx
    and fy, cx and cy apart, distances not squared, inf for a point behind the camera."""
    from mast3r_ros.core.geometry import invert_pose, project, transform_points
    from mast3r_ros.core.pnp.focal import _reprojection_px

    rng = np.random.default_rng(0)
    K = np.array([[500.0, 0, 300.0], [0, 560.0, 250.0], [0, 0, 1]])
    map_from_cam = np.eye(4)
    map_from_cam[:3, 3] = [0.1, -0.2, 0.3]
    X = rng.uniform([-1, -1, 2], [1, 1, 4], (20, 3))
    X[3, 2] = -1.0  # behind the camera
    xu = rng.uniform(0, 500, (20, 2))
    uv, z = project(transform_points(invert_pose(map_from_cam), X), K)
    want = np.where(z > 1e-9, np.linalg.norm(uv - xu, axis=1), np.inf)
    got = _reprojection_px(map_from_cam, X, xu, K)
    assert np.isinf(got[3]) and np.isfinite(np.delete(got, 3)).all()
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_the_refit_reselection_on_rows_cuts_exactly_where_the_pixel_distance_does():
    """`focal._within_px` (rows made once per `refitted_focal_scale` call, in place: issue 9's
    host time) keeps exactly the points whose `focal._reprojection_px` is below the threshold,
    with thresholds set to the points' own distances: a point at the threshold is out, and an
    ulp of other rounding in the distance (another order of the operations) would move it."""
    from mast3r_ros.core.geometry import invert_pose
    from mast3r_ros.core.pnp.focal import _reprojection_px, _within_px

    rng = np.random.default_rng(3)
    K = np.array([[512.3, 0, 301.7], [0, 498.9, 247.1], [0, 0, 1]])
    map_from_cam = np.eye(4)
    map_from_cam[:3, 3] = [0.13, -0.21, 0.37]
    X = rng.uniform([-1, -1, 1], [1, 1, 5], (400, 3))
    X[7, 2] = -2.0  # behind the camera: out at any threshold
    xu = rng.uniform(0, 600, (400, 2))
    d = _reprojection_px(map_from_cam, X, xu, K)
    Xt, xu_rows = np.ascontiguousarray(X.T), np.ascontiguousarray(xu.T)
    cam_from_map = invert_pose(map_from_cam)
    for thr in np.sort(d[np.isfinite(d)])[::20]:
        got = _within_px(cam_from_map, Xt, xu_rows, K, float(thr))
        np.testing.assert_array_equal(got, d < thr)
        assert not got[7]
