"""Pins from the mutation audit docs/bench/mutation_cpu_2026-12-06zz2 of
`mast3r_ros/core/map_check/measure.py` (follow-up of 06zd): behaviours its survivors changed
and no test of the map check's measurements held."""

from __future__ import annotations

import cv2
import numpy as np

from mast3r_ros.core.config import Config
from mast3r_ros.core.map_check import KeyframeRecord
from mast3r_ros.core.map_check.measure import StreamingMeasure
from mast3r_ros.replay.synthetic import default_intrinsics


def test_a_map_with_fewer_keyframes_than_neighbours_still_measures_its_first_pair():
    """`StreamingMeasure.close` finishes every keyframe no `add` finished, the first one too: two
    keyframes with ``neighbours`` 2 give the pair (0, 1) (starting at keyframe 1 left the map
    with no pair at all) and keep only light views."""
    cfg = Config().map_check
    assert cfg.neighbours == 2
    cam = default_intrinsics(32, 24)
    rgb = np.zeros((24, 32, 3), np.uint8)
    s = StreamingMeasure(cfg, cv2.ORB_create(), cv2.BFMatcher(cv2.NORM_HAMMING))
    for i in range(2):
        s.add(KeyframeRecord(rgb, np.ones((24, 32), np.float32), cam, np.eye(4), i))
    views, matches, pairs = s.close()
    assert list(matches) == [(0, 1)]
    assert [(p.a, p.b) for p in pairs] == [(0, 1)]
    assert all(v.depth is None for v in views)


def _orb_view(kp, desc):
    from mast3r_ros.core.map_check.measure import _View

    return _View(default_intrinsics(320, 240), 1.0, None, np.zeros((0, 3)), kp,
                 np.full(len(kp), np.nan), desc, np.eye(4), 320, 0, "k")


def test_an_orb_match_tied_with_the_second_best_fails_the_ratio_test_at_ratio_1():
    """`_match`'s ratio test is strict (best < ratio x second best), as the SIFT matcher's: at
    ``ratio`` 1 a keypoint whose descriptor has two equally near matches in the other keyframe
    is ambiguous and not matched (``<=`` kept every tie); the same keypoints matched once
    each pass."""
    import dataclasses

    from mast3r_ros.core.map_check.measure import _match

    cfg = dataclasses.replace(Config().map_check, sift_fallback=False, ratio=1.0)
    rng = np.random.default_rng(5)
    kp = rng.uniform(10, 230, (40, 2))
    desc = rng.integers(0, 256, (40, 32), dtype=np.uint8)
    bf = cv2.BFMatcher(cv2.NORM_HAMMING)
    once = _match(_orb_view(kp, desc), _orb_view(kp.copy(), desc.copy()), cfg, bf)
    assert once is not None and len(once.xa) >= cfg.min_matches
    twice = _orb_view(np.concatenate([kp, kp]), np.concatenate([desc, desc]))
    assert _match(_orb_view(kp, desc), twice, cfg, bf) is None


def test_depth_zero_negative_or_infinite_is_no_depth_in_a_prepared_keyframe():
    """`_prepare`: depth pixels 0 (the usual 'no reading'), negative or infinite are no depth
    (NaN) and lift no grid point (kept, a 0 lifted a point at the camera centre and a
    negative one behind it)."""
    from mast3r_ros.core.map_check.measure import _prepare

    cfg = Config().map_check
    depth = np.ones((24, 32), np.float32)
    depth[:, :8], depth[:, 8:16], depth[:, 16:24] = 0.0, -1.0, np.inf
    rec = KeyframeRecord(np.zeros((24, 32, 3), np.uint8), depth, default_intrinsics(32, 24),
                         np.eye(4), 0)
    v = _prepare(rec, 0, cfg, cv2.ORB_create())
    assert np.isnan(v.depth[:, :24]).all() and (v.depth[:, 24:] == 1.0).all()
    assert len(v.pts) and (v.pts[:, 2] == 1.0).all()


def test_reprojection_errors_are_in_camera_pixels_of_a_reduced_keyframe():
    """`_reproj_errors` gives camera pixels: keyframes worked on at half their camera's width
    (``scale`` 0.5 working px per camera px), a match 1 working px off is 2 camera px off
    (times the scale read 0.5), the px the limit ``max_reproj_frac`` x camera width is in."""
    from mast3r_ros.core.map_check.measure import _reproj_errors

    a, b = _orb_view(np.zeros((0, 2)), None), _orb_view(np.zeros((0, 2)), None)
    a.scale = b.scale = 0.5
    xa = np.array([[100.0, 80.0], [200.0, 150.0]])
    err = _reproj_errors(a, b, xa, np.full(2, 3.0), xa + [1.0, 0.0], np.eye(4), np.ones(1))
    np.testing.assert_allclose(err, [[2.0, 2.0]], atol=1e-9)


def test_depth_residuals_count_points_seen_in_the_last_pixel_cell():
    """`_depth_residuals` measures a point seen between the last two pixel centres of keyframe
    b (u 30.7 of a 32 px wide image, v 22.7 of 24 high: depth read through the cell before the
    last, `sample_depth`), not only up to the one before (``w - 1`` -> ``w - 2`` dropped them)."""
    from mast3r_ros.core.map_check.measure import _depth_residuals, _View

    cam = default_intrinsics(32, 24)
    for u, v in ((30.7, 5.0), (5.0, 22.7)):
        pts = np.array([[(u - cam.K[0, 2]) / cam.K[0, 0], (v - cam.K[1, 2]) / cam.K[1, 1], 1.0]])
        grid = _View(cam, 1.0, np.ones((24, 32), np.float32), pts, np.zeros((0, 2)), np.zeros(0),
                     None, np.eye(4), 32, 0, "k")
        np.testing.assert_allclose(_depth_residuals(grid, grid, np.eye(4), 1.0, 0.05), [0.0],
                                   atol=1e-9, err_msg=str((u, v)))


def test_a_prepared_keyframe_is_named_by_its_label_or_else_its_index():
    """`_prepare`: a keyframe's name in the report is its record's label, its index only when
    it has none (``or`` -> ``and`` named labelled keyframes by index, unlabelled ones '')."""
    from mast3r_ros.core.map_check.measure import _prepare

    cam = default_intrinsics(32, 24)
    rgb = np.zeros((24, 32, 3), np.uint8)
    for label, want in (("kf-7", "kf-7"), ("", "3")):
        rec = KeyframeRecord(rgb, None, cam, np.eye(4), 0, label)
        assert _prepare(rec, 3, Config().map_check, cv2.ORB_create()).label == want
