"""Mast3rMatcher's stored-depth points (points_source "depth"): the keyframe's depth at the
matched pixels, back-projected, and all of a keyframe's matches dropped when the network's
pointmap disagrees with that depth in scale (a map of another scene or depth in other units).
And `_pair`'s points in front of the keyframe camera. Pins from the 2026-12-06d mutation
audit (these survived test_matchers.py)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from mast3r_ros.core.matchers.mast3r import Mast3rMatcher
from mast3r_ros.core.types import CameraIntrinsics

K = np.array([[50.0, 0.0, 16.0], [0.0, 50.0, 12.0], [0.0, 0.0, 1.0]])


def _depth_points(pred_scale: float, n: int = 12):
    depth = np.full((24, 32), 2.0, np.float32)
    cam = CameraIntrinsics(32, 24, K, np.zeros(0), "plumb_bob")
    matcher = SimpleNamespace(
        kf_map=SimpleNamespace(keyframes=[SimpleNamespace(id=3, intrinsics=cam)],
                               depth=lambda index: depth),
        max_scale_error=0.25)
    kf_xy = np.stack([np.linspace(4.0, 28.0, n), np.linspace(3.0, 20.0, n)], axis=1)
    rays = np.concatenate([(kf_xy - K[:2, 2]) / 50.0, np.ones((n, 1))], axis=1)
    truth = rays * 2.0
    pts, ok = Mast3rMatcher._depth_points(matcher, 0, kf_xy, truth * pred_scale)
    return truth, pts, ok


@pytest.mark.parametrize("pred_scale", [1.0, 0.9, 1.2])
def test_points_are_the_stored_depth_when_the_pointmap_agrees(pred_scale):
    truth, pts, ok = _depth_points(pred_scale)
    assert ok.all()
    np.testing.assert_allclose(pts, truth, rtol=1e-5)


@pytest.mark.parametrize("pred_scale", [0.5, 2.0, 1.5])
def test_a_pointmap_at_another_scale_drops_every_match(pred_scale):
    _, _, ok = _depth_points(pred_scale)
    assert not ok.any()


def test_ten_points_are_enough_to_judge_the_scale():
    _, _, ok = _depth_points(2.0, n=10)
    assert not ok.any()


def test_pair_keeps_points_in_front_of_the_keyframe_at_any_depth():
    # the network's points in front of the keyframe camera (z > 0) are kept however near (a
    # desk 0.3 m away); ones at or behind its centre and non-finite ones are dropped
    from mast3r_ros.core.matchers.mast3r import FusedMatches

    cam = CameraIntrinsics(32, 24, K, np.zeros(0), "plumb_bob")
    map_from_cam = np.eye(4)
    map_from_cam[:3, 3] = [1.0, 2.0, 3.0]
    matcher = SimpleNamespace(
        kf_map=SimpleNamespace(keyframes=[SimpleNamespace(id=3, intrinsics=cam,
                                                          map_from_cam=map_from_cam)]),
        points_source="pointmap", kf_undistort_table=None, conf_alpha=0.2,
        enc_set=SimpleNamespace(to_orig=[np.eye(3)]))
    z = np.array([0.3, 0.8, 2.5, 0.0, -1.0, np.nan])
    n = z.size
    pts_cam = np.stack([np.full(n, 0.1), np.full(n, -0.1), z], axis=1)
    xy = np.stack([np.arange(n), np.arange(n)], axis=1).astype(np.int64)
    m = FusedMatches(np.zeros(n, np.int64), xy, xy + 1, pts_cam, pts_cam + [1.0, 2.0, 3.0],
                     np.full(n, 2.0))
    corr = Mast3rMatcher._pair(matcher, 0, m, np.eye(3))
    np.testing.assert_allclose(corr.points3d[:, 2], [3.3, 3.8, 5.5])
    np.testing.assert_allclose(corr.points2d, xy[:3] + 1)


def _depth_pair(query_cam=None):
    """`_pair` with points from the stored depth (2 m everywhere) of a distorted keyframe
    camera, 12 matches on the network grid (identity to the captured pixels); ``query_cam``
    distorted: the query pixels' undistorted twins come from the table."""
    from mast3r_ros.core.geometry import backproject, transform_points, undistort_pixels
    from mast3r_ros.core.grid_undistort import GridUndistortCache
    from mast3r_ros.core.matchers.mast3r import FusedMatches

    dist = np.array([-0.2, 0.05, 0.0, 0.0, 0.0])
    kcam = CameraIntrinsics(32, 24, K, dist, "plumb_bob")
    map_from_cam = np.eye(4)
    map_from_cam[:3, 3] = [1.0, 2.0, 3.0]
    depth = np.full((24, 32), 2.0, np.float32)
    matcher = SimpleNamespace(
        kf_map=SimpleNamespace(keyframes=[SimpleNamespace(id=3, intrinsics=kcam,
                                                          map_from_cam=map_from_cam)],
                               depth=lambda index: depth),
        points_source="depth", kf_undistort_table=GridUndistortCache(),
        undistort_table=GridUndistortCache(), max_scale_error=0.25, depth_sigma_k=1.6e-3,
        pixel_sigma_px=1.0, enc_set=SimpleNamespace(to_orig=[np.eye(3)]))
    matcher._depth_points = lambda *a: Mast3rMatcher._depth_points(matcher, *a)
    n = 12
    xy = np.stack([np.arange(2, 2 + 2 * n, 2), np.arange(1, 1 + n)], axis=1).astype(np.int64)
    truth = backproject(undistort_pixels(xy.astype(np.float64), K, dist), np.full(n, 2.0), K)
    m = FusedMatches(np.zeros(n, np.int64), xy, xy + 1, truth, truth + [1.0, 2.0, 3.0],
                     np.full(n, 2.0))
    grid = None if query_cam is None else (query_cam, (24, 32))
    corr = Mast3rMatcher._pair(matcher, 0, m, np.eye(3), grid, (24, 32))
    return corr, transform_points(map_from_cam, truth), xy


def test_depth_points_of_a_distorted_keyframe_with_an_undistorted_query():
    # the keyframe's depth back-projected through its undistorted pixels; an undistorted
    # query camera has no undistorted twins to pass on (the depth branch read them as if it
    # had: a TypeError)
    corr, expected, xy = _depth_pair()
    np.testing.assert_allclose(corr.points3d, expected, atol=1e-9)
    np.testing.assert_array_equal(corr.points2d, xy + 1)
    assert corr.points2d_undistorted is None


def test_depth_points_keep_the_distorted_query_pixels_undistorted_twins():
    from mast3r_ros.core.geometry import undistort_pixels

    qdist = np.array([0.1, -0.02, 0.0, 0.0, 0.0])
    qcam = CameraIntrinsics(32, 24, K, qdist, "plumb_bob")
    corr, expected, _ = _depth_pair(qcam)
    np.testing.assert_allclose(corr.points3d, expected, atol=1e-9)
    assert corr.points2d_undistorted is not None
    np.testing.assert_allclose(corr.points2d_undistorted,
                               undistort_pixels(corr.points2d, K, qdist), atol=1e-9)
