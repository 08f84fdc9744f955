"""Pins from the mutation audit docs/bench/mutation_cpu_2026-12-06zd of
`mast3r_ros/core/map_check/measure.py`: behaviours its survivors changed and no test held."""

from __future__ import annotations

import dataclasses

import numpy as np

from mast3r_ros.core.map_check.measure import _all_agree, _depth_residuals, _View
from mast3r_ros.core.map_check.report import PairFigures
from mast3r_ros.replay.synthetic import default_intrinsics


def view(depth, pts):
    cam = default_intrinsics(32, 24)
    return _View(cam, 1.0, depth, pts, np.zeros((0, 2)), np.zeros(0), None, np.eye(4), 32, 0,
                 "k")


def test_a_keyframe_without_depth_gives_no_depth_residuals_against_it():
    """A keyframe whose record has no depth image (``depth`` None) beside one with a depth
    grid: no residuals either way, not an AttributeError on the missing depth (``or`` ->
    ``and`` read ``vb.depth.shape``)."""
    grid = view(np.ones((24, 32), np.float32), np.array([[0.0, 0.0, 1.0], [0.1, 0.0, 1.0]]))
    bare = view(None, np.zeros((0, 3)))
    for a, b in ((grid, bare), (bare, grid)):
        r = _depth_residuals(a, b, np.eye(4), 1.0, 0.05)
        assert r.shape == (0,)
    assert len(_depth_residuals(grid, grid, np.eye(4), 1.0, 0.05)) == 2


def figures(*oks):
    out = []
    for ok in oks:
        p = PairFigures(0, 1)
        p.ok = ok
        out.append(p)
    return out


def test_a_candidate_k_fits_when_every_judged_pair_agrees_and_one_is_judged():
    """`_all_agree`: True only when at least one pair agrees and none disagrees (unjudged pairs,
    ok None, left out); the diagnosis names a K from it (return dropped: never)."""
    assert _all_agree(figures(True)) is True
    assert _all_agree(figures(True, None)) is True
    assert not _all_agree(figures(None, None))
    assert not _all_agree(figures(True, False))
    assert not _all_agree([])


def test_matches_with_depth_only_in_the_second_keyframe_are_measured_from_it():
    """`_pair_reproj` measures both directions: matches whose depth is only in keyframe b
    (a's depth NaN, its depth image missing or holed there) are lifted from b into a; with the
    b-to-a part dropped the pair read no reprojection (NaN, 0 matches)."""
    from mast3r_ros.core.map_check.measure import _Matches, _pair_reproj

    a, b = view(None, np.zeros((0, 3))), view(None, np.zeros((0, 3)))
    xy = np.array([[5.0, 6.0], [20.0, 10.0], [12.0, 18.0]])
    m = _Matches(xy, xy.copy(), np.full(3, np.nan), np.full(3, 2.0))
    med, n = _pair_reproj(a, b, m, np.eye(4), np.ones(1))
    assert n == 3
    np.testing.assert_allclose(med, [0.0], atol=1e-9)
    both = _Matches(xy, xy.copy(), np.full(3, 2.0), np.full(3, 2.0))
    assert _pair_reproj(a, b, both, np.eye(4), np.ones(1))[1] == 6


def test_the_streaming_measure_notes_whether_any_keyframe_had_depth():
    """`StreamingMeasure.any_depth`: a map whose keyframes have depth images but no judged pair
    says 'no neighbouring keyframes overlap or match', not 'no keyframe has depth' (the flag
    never set read every map so)."""
    import cv2

    from mast3r_ros.core.config import Config
    from mast3r_ros.core.map_check import KeyframeRecord
    from mast3r_ros.core.map_check.measure import StreamingMeasure

    cfg = Config().map_check
    cam = default_intrinsics(32, 24)
    rgb = np.zeros((24, 32, 3), np.uint8)
    for depth, want in ((None, False), (np.ones((24, 32), np.float32), True)):
        s = StreamingMeasure(cfg, cv2.ORB_create(), cv2.BFMatcher(cv2.NORM_HAMMING))
        for i in range(2):
            s.add(KeyframeRecord(rgb, depth if i == 1 else None, cam, np.eye(4), i))
        assert s.any_depth is want


def test_a_fisheye_keyframe_is_projected_with_the_equidistant_model():
    """`_project` for an ``equidistant`` camera is OpenCV's fisheye model (r = f theta_d,
    theta_d = theta (1 + k1 theta^2 + ...)), not plumb_bob's with the same four numbers read
    as k1, k2, p1, p2 (``==`` -> ``!=`` swapped the two)."""
    from mast3r_ros.core.map_check.measure import _project
    from mast3r_ros.core.types import CameraIntrinsics

    K = np.array([[200.0, 0.0, 160.0], [0.0, 200.0, 120.0], [0.0, 0.0, 1.0]])
    k = np.array([0.1, -0.05, 0.01, 0.002])
    cam = CameraIntrinsics(320, 240, K, k, "equidistant")
    pt = np.array([[0.4, -0.3, 1.0]])
    uv, z = _project(pt, cam)
    r = np.hypot(0.4, 0.3)
    th = np.arctan(r)
    thd = th * (1 + k[0] * th ** 2 + k[1] * th ** 4 + k[2] * th ** 6 + k[3] * th ** 8)
    want = [160.0 + 200.0 * thd / r * 0.4, 120.0 - 200.0 * thd / r * 0.3]
    np.testing.assert_allclose(uv[0], want, atol=1e-6)
    assert z[0] == 1.0


def test_sift_of_a_view_without_its_grey_image_is_no_features():
    """`_sift_of` on a view whose grey image was let go: no features (kept on the view), not
    None for `_match` to read ``.desc`` of."""
    from mast3r_ros.core.config import Config
    from mast3r_ros.core.map_check.measure import _sift_of

    v = view(None, np.zeros((0, 3)))
    f = _sift_of(v, Config().map_check)
    assert f.xy.shape == (0, 2) and f.desc.shape == (0, 128)
    assert v.sift is f


def test_a_keyframe_without_orb_features_is_not_matched_with_orb():
    """A pair where one keyframe has no ORB features (a blank image: ``desc`` None) is not
    ORB-matched (every one of desc, desc, 8 keypoints, 8 keypoints is needed): None with the
    SIFT fallback off, no cv2 error from matching None."""
    import cv2

    from mast3r_ros.core.config import Config
    from mast3r_ros.core.map_check.measure import _match

    cfg = dataclasses.replace(Config().map_check, sift_fallback=False)
    rng = np.random.default_rng(3)
    textured = view(None, np.zeros((0, 3)))
    textured.kp = rng.uniform(0, 30, (40, 2))
    textured.desc = rng.integers(0, 256, (40, 32), dtype=np.uint8)
    blank = view(None, np.zeros((0, 3)))
    bf = cv2.BFMatcher(cv2.NORM_HAMMING)
    for a, b in ((textured, blank), (blank, textured)):
        assert _match(a, b, cfg, bf) is None


def test_keyframe_figures_pool_only_judged_pairs():
    """`_keyframe_figures`: a keyframe's neighbours and figures are its judged pairs' (ok not
    None); one whose only pair is unjudged has none and ok None (``is not None`` -> ``is
    None`` pooled the unjudged ones)."""
    from mast3r_ros.core.map_check.measure import _keyframe_figures

    judged = PairFigures(0, 1)
    judged.ok, judged.reproj_px = True, 1.5
    unjudged = PairFigures(1, 2)
    views = [view(None, np.zeros((0, 3))) for _ in range(3)]
    kfs = _keyframe_figures(views, [judged, unjudged])
    assert [k.neighbours for k in kfs] == [[1], [0], []]
    assert [k.ok for k in kfs] == [True, True, None]
    assert kfs[0].reproj_px == 1.5


def test_a_depth_grid_seen_outside_the_other_keyframe_gives_no_residuals():
    """Grid points that project outside keyframe b's image: no residuals (not one of 0 counted
    as an agreeing depth point)."""
    grid = view(np.ones((24, 32), np.float32), np.array([[10.0, 0.0, 1.0], [-9.0, 8.0, 1.0]]))
    assert _depth_residuals(grid, grid, np.eye(4), 1.0, 0.05).shape == (0,)


def test_a_pair_exactly_at_the_reprojection_limit_agrees():
    """`_pair_ok`: the limit is inclusive (reprojection error <= ``max_reproj_frac`` x the
    width), as the depth limits are."""
    from mast3r_ros.core.config import Config
    from mast3r_ros.core.map_check.measure import _pair_ok

    p = PairFigures(0, 1)
    p.reproj_px = 25.6
    assert _pair_ok(p, Config().map_check, 25.6) is True
    assert _pair_ok(p, Config().map_check, 25.5) is False


def test_orb_matches_a_keyframe_with_its_copy_point_for_point():
    """`_match` keeps each keypoint's best ORB match (the ratio test against the second best):
    a keyframe with a copy of itself matches every kept keypoint to the same pixel."""
    import cv2

    from mast3r_ros.core.config import Config
    from mast3r_ros.core.map_check import KeyframeRecord
    from mast3r_ros.core.map_check.measure import _match, _prepare
    from mast3r_ros.replay.synthetic import render_frames

    cfg = dataclasses.replace(Config().map_check, sift_fallback=False)
    cam = default_intrinsics(320, 240)
    f = next(iter(render_frames(40, cam, indices=[0])))
    rec = KeyframeRecord(f.rgb, f.depth_m, cam, f.map_from_cam, f.stamp_ns)
    orb = cv2.ORB_create(cfg.max_features)
    a, b = _prepare(rec, 0, cfg, orb), _prepare(rec, 1, cfg, orb)
    m = _match(a, b, cfg, cv2.BFMatcher(cv2.NORM_HAMMING))
    assert m is not None and len(m.xa) >= cfg.min_matches
    np.testing.assert_array_equal(m.xa, m.xb)


def test_a_light_view_keeps_no_grid_points_or_features():
    """`_light`: what a measured keyframe keeps has no depth, grid points, keypoints or
    descriptors (a stray zero point read as a grid point at the camera centre)."""
    from mast3r_ros.core.map_check.measure import _light

    v = _light(view(np.ones((24, 32), np.float32), np.array([[0.0, 0.0, 1.0]])))
    assert v.depth is None and v.pts.shape == (0, 3) and v.kp.shape == (0, 2)
    assert v.kp_depth.shape == (0,) and v.desc is None and v.grey is None


def test_the_distinct_cameras_of_the_views_are_each_listed_once():
    """`_cameras`: each distinct size and K once (the colour focal fit checks every camera's
    divided K is a camera's; the list dropped read None there, a TypeError)."""
    from mast3r_ros.core.map_check.measure import _cameras

    a, b, c = (view(None, np.zeros((0, 3))) for _ in range(3))
    K = c.cam.K.copy()
    K[0, 0] += 1.0
    c.cam = dataclasses.replace(c.cam, K=K)
    cams = _cameras([a, b, c])
    assert [cam.K[0, 0] for cam in cams] == [a.cam.K[0, 0], a.cam.K[0, 0] + 1.0]


def test_depth_residuals_count_points_seen_between_the_first_and_last_pixel_centres():
    """`_depth_residuals`' image bounds, pixel centres 0 .. w - 1 and 0 .. h - 1 of keyframe
    b: points seen at u or v 0.3 are measured, ones at -0.7 or past the last centre (31.3,
    23.3 in a 32x24 image) are not."""
    pix = [(0.3, 5.0), (5.0, 0.3), (-0.7, 5.0), (5.0, -0.7), (31.3, 5.0), (5.0, 23.3)]
    for i, (u, v) in enumerate(pix):
        pts = np.array([[(u - 15.5) / 26.25, (v - 11.5) / 26.25, 1.0]])
        grid = view(np.ones((24, 32), np.float32), pts)
        assert len(_depth_residuals(grid, grid, np.eye(4), 1.0, 0.05)) == (i < 2), (u, v)
