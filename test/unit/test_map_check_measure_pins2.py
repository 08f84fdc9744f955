"""Pins from the mutation audits docs/bench/mutation_cpu_2026-12-06zz2 and
mutation_cpu_2026-12-07m of `mast3r_ros/core/map_check/measure.py` (follow-ups of 06zd):
behaviours their survivors changed and no test of the map check's measurements held."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from mast3r_ros.core.config import Config
from mast3r_ros.core.errors import InputError
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


# ---- pins from the follow-up audit docs/bench/mutation_cpu_2026-12-07m ----

def test_depth_stride_1_lifts_every_working_pixel():
    """``depth_stride_px`` N: every N-th working pixel is reprojected, the grid starting in the
    first cell (``N // 2``); at N = 1 that is every pixel of the depth image, the first row
    and column too (starting at ``N // 1`` skipped them)."""
    from mast3r_ros.core.map_check.measure import _prepare

    cfg = dataclasses.replace(Config().map_check, depth_stride_px=1)
    rec = KeyframeRecord(np.zeros((24, 32, 3), np.uint8), np.ones((24, 32), np.float32),
                         default_intrinsics(32, 24), np.eye(4), 0)
    v = _prepare(rec, 0, cfg, cv2.ORB_create())
    assert len(v.pts) == 24 * 32
    assert v.grid_px.min(axis=0).tolist() == [0.0, 0.0]


def test_a_keyframe_without_depth_keeps_its_orb_features_with_no_depth():
    """`_prepare` of a textured keyframe whose record has no depth image: its ORB keypoints
    are kept with depth NaN (``and`` -> ``or`` sampled the missing depth image: a crash)."""
    from mast3r_ros.core.map_check.measure import _prepare

    rgb = np.random.default_rng(3).integers(0, 256, (120, 160, 3), dtype=np.uint8)
    rec = KeyframeRecord(rgb, None, default_intrinsics(160, 120), np.eye(4), 0)
    v = _prepare(rec, 0, Config().map_check, cv2.ORB_create())
    assert len(v.kp) >= 8 and v.depth is None
    assert v.kp_depth.shape == (len(v.kp),) and np.isnan(v.kp_depth).all()


def test_a_pair_exactly_at_the_depth_limits_agrees():
    """`_pair_ok`: a pair disagrees when its median depth residual is larger than
    ``max_depth_residual`` or a smaller fraction than ``min_depth_agree`` agrees (the config's
    words): exactly at both limits it agrees, past either one it disagrees."""
    from mast3r_ros.core.map_check.measure import _pair_ok
    from mast3r_ros.core.map_check.report import PairFigures

    cfg = Config().map_check
    f = PairFigures(0, 1)
    f.depth_residual, f.depth_agree, f.depth_points = (cfg.max_depth_residual,
                                                       cfg.min_depth_agree, 500)
    assert _pair_ok(f, cfg, 10.0) is True
    # either one past its limit, the other within it: disagrees (``and`` -> ``or``: agreed)
    past = ((cfg.max_depth_residual * 1.01, 1.0), (0.0, cfg.min_depth_agree * 0.99))
    for residual, agree in past:
        f.depth_residual, f.depth_agree = residual, agree
        assert _pair_ok(f, cfg, 10.0) is False, (residual, agree)


def test_depth_residuals_count_points_seen_on_the_first_or_last_pixel_centres():
    """`_depth_residuals` measures a point seen exactly on keyframe b's first or last pixel
    column or row (u = 0 or w - 1, v = 0 or h - 1: `sample_depth` reads both ends; ``>=`` ->
    ``>`` or ``<=`` -> ``<`` dropped them)."""
    from mast3r_ros.core.map_check.measure import _depth_residuals, _project, _View

    cam = default_intrinsics(32, 24)
    for u, v in ((0.0, 5.0), (5.0, 0.0), (31.0, 5.0), (5.0, 23.0), (31.0, 23.0)):
        pts = np.array([[(u - cam.K[0, 2]) / cam.K[0, 0], (v - cam.K[1, 2]) / cam.K[1, 1], 1.0]])
        assert _project(pts, cam)[0].tolist() == [[u, v]]  # exactly on the pixel centre
        grid = _View(cam, 1.0, np.ones((24, 32), np.float32), pts, np.zeros((0, 2)), np.zeros(0),
                     None, np.eye(4), 32, 0, "k")
        np.testing.assert_allclose(_depth_residuals(grid, grid, np.eye(4), 1.0, 0.05), [0.0],
                                   atol=1e-9, err_msg=str((u, v)))


@pytest.mark.parametrize("pose", [np.full((4, 4), np.nan), np.eye(4)[:3]],
                         ids=["nan_4x4", "finite_3x4"])
def test_a_keyframe_pose_that_is_not_a_finite_4x4_is_refused_naming_it(pose):
    """`StreamingMeasure.add` refuses a pose that is a 4x4 with NaN or a finite matrix of
    another shape, naming the keyframe (``or`` -> ``and`` let each through: NaN figures, or a
    traceback at the first pair)."""
    cfg = Config().map_check
    s = StreamingMeasure(cfg, cv2.ORB_create(), cv2.BFMatcher(cv2.NORM_HAMMING))
    rec = KeyframeRecord(np.zeros((24, 32, 3), np.uint8), None, default_intrinsics(32, 24), pose,
                         0, "kf-9")
    with pytest.raises(InputError, match=r"^keyframe kf-9: map_from_cam must be a finite 4x4"):
        s.add(rec)


def test_eight_orb_features_are_enough_to_match_at_the_lowest_min_matches():
    """`_match` matches keyframes with as few as 8 ORB features (a fundamental matrix's
    minimum) when ``min_matches`` is at its lowest, 8 (``>= 8`` -> ``>= 9`` left such a pair
    unmatched)."""
    from mast3r_ros.core.map_check.measure import _match

    cfg = dataclasses.replace(Config().map_check, sift_fallback=False, min_matches=8)
    rng = np.random.default_rng(2)
    kp = rng.uniform(10, 230, (8, 2))
    desc = rng.integers(0, 256, (8, 32), dtype=np.uint8)
    m = _match(_orb_view(kp, desc), _orb_view(kp.copy(), desc.copy()), cfg,
               cv2.BFMatcher(cv2.NORM_HAMMING))
    assert m is not None and len(m.xa) == 8


def test_depth_residuals_are_relative_to_the_other_keyframes_depth():
    """`_depth_residuals` gives (predicted - read) / read: a point predicted at 2.2 m where
    keyframe b reads 2 m is 10 % off (times the read depth gave 0.4; every test depth read
    1 m)."""
    from mast3r_ros.core.map_check.measure import _depth_residuals, _View

    cam = default_intrinsics(32, 24)
    a = _View(cam, 1.0, None, np.array([[0.0, 0.0, 2.2]]), np.zeros((0, 2)), np.zeros(0), None,
              np.eye(4), 32, 0, "a")
    b = _View(cam, 1.0, np.full((24, 32), 2.0, np.float32), np.zeros((0, 3)), np.zeros((0, 2)),
              np.zeros(0), None, np.eye(4), 32, 0, "b")
    np.testing.assert_allclose(_depth_residuals(a, b, np.eye(4), 1.0, 0.5), [0.1], rtol=1e-6)


def test_a_keyframes_depth_agreement_pools_its_pairs_by_their_depth_points():
    """`_keyframe_figures`: a keyframe's fraction of depth agreeing is over all its pairs'
    depth points (50 % of 100 and 90 % of 300: 80 %), not a product or plain mean."""
    from mast3r_ros.core.map_check.measure import _keyframe_figures, _View
    from mast3r_ros.core.map_check.report import PairFigures

    pairs = []
    for b, agree, n in ((1, 0.5, 100), (2, 0.9, 300)):
        p = PairFigures(0, b)
        p.ok, p.depth_residual, p.depth_agree, p.depth_points = True, 0.01, agree, n
        pairs.append(p)
    cam = default_intrinsics(32, 24)
    views = [_View(cam, 1.0, None, np.zeros((0, 3)), np.zeros((0, 2)), np.zeros(0), None,
                   np.eye(4), 32, 0, str(i)) for i in range(3)]
    kfs = _keyframe_figures(views, pairs)
    assert kfs[0].depth_agree == pytest.approx(0.8)
    assert kfs[1].depth_agree == pytest.approx(0.5) and kfs[2].depth_agree == pytest.approx(0.9)


def test_a_pair_whose_fundamental_matrix_keeps_too_few_matches_is_not_matched():
    """`_match`: 30 ORB matches pass the ratio test, but only 15 of them are one scene seen
    from two poses (the rest scattered): the fundamental matrix keeps fewer than
    ``min_matches`` (20) and the pair is not matched (dropping that check returned the few
    inliers, so a pair was judged on them and never tried with SIFT)."""
    from mast3r_ros.core.map_check.measure import _match

    cfg = dataclasses.replace(Config().map_check, sift_fallback=False)
    K = default_intrinsics(320, 240).K
    rng = np.random.default_rng(0)
    X = np.c_[rng.uniform(-1, 1, (15, 2)), rng.uniform(2, 4, 15)]
    xa = (X / X[:, 2:]) @ K.T
    xb = ((X + [0.3, 0.05, 0.1]) / (X + [0.3, 0.05, 0.1])[:, 2:]) @ K.T
    xa = np.r_[xa[:, :2], rng.uniform(10, 300, (15, 2))]
    xb = np.r_[xb[:, :2], rng.uniform(10, 230, (15, 2))]
    desc = rng.integers(0, 256, (30, 32), dtype=np.uint8)
    assert _match(_orb_view(xa, desc), _orb_view(xb, desc.copy()), cfg,
                  cv2.BFMatcher(cv2.NORM_HAMMING)) is None


def test_a_depth_point_exactly_at_the_tolerance_agrees():
    """`_measure`: a depth point agrees when its residual is within ``depth_tolerance`` (the
    config's words), the end included: residuals of exactly 1/16 at tolerance 1/16 all agree
    (``<=`` -> ``<``: none); and exactly ``min_depth_points`` points judge the pair (fewer
    leave it unjudged; ``>=`` -> ``>`` needed one more)."""
    from mast3r_ros.core.map_check.measure import _measure, _View

    cfg = dataclasses.replace(Config().map_check, depth_tolerance=0.0625, min_depth_points=3)
    cam = default_intrinsics(32, 24)
    pts = np.array([[0.0, 0.0, 1.0625], [0.1, -0.05, 1.0625], [-0.2, 0.1, 1.0625]])
    a = _View(cam, 1.0, None, pts, np.zeros((0, 2)), np.zeros(0), None, np.eye(4), 32, 0, "a")
    b = _View(cam, 1.0, np.ones((24, 32), np.float32), np.zeros((0, 3)), np.zeros((0, 2)),
              np.zeros(0), None, np.eye(4), 32, 0, "b")
    (f,) = _measure([a, b], [np.eye(4), np.eye(4)], {(0, 1): None}, cfg)
    assert (f.depth_points, f.depth_residual, f.depth_agree) == (3, 0.0625, 1.0)


def test_a_prepared_keyframe_without_depth_predicts_no_depth_in_its_neighbour():
    """`_prepare` of a record without a depth image lifts no grid point, so against a
    neighbour with depth it gives no residual (a point left at its camera centre, 1 m in front
    of the neighbour, was measured against the neighbour's depth there), and the diagnosis
    scales its empty grid with the others' (`focal._focal_divided`; an empty grid of 4-vectors
    was a broadcasting error there)."""
    from mast3r_ros.core.map_check.focal import _focal_divided
    from mast3r_ros.core.map_check.measure import _depth_residuals, _prepare

    cfg, cam = Config().map_check, default_intrinsics(32, 24)
    rgb = np.zeros((24, 32, 3), np.uint8)
    bare = _prepare(KeyframeRecord(rgb, None, cam, np.eye(4), 0), 0, cfg, cv2.ORB_create())
    deep = _prepare(KeyframeRecord(rgb, np.ones((24, 32), np.float32), cam, np.eye(4), 0), 1,
                    cfg, cv2.ORB_create())
    b_from_a = np.eye(4)
    b_from_a[2, 3] = 1.0
    assert _depth_residuals(bare, deep, b_from_a, 1.0, 0.05).shape == (0,)
    assert _depth_residuals(deep, deep, b_from_a, 1.0, 0.5).size  # the same pose measures
    scaled = _focal_divided([bare, deep], 1.25)
    assert len(scaled[0].pts) == 0 and len(scaled[1].pts) == len(deep.pts)


def test_focal_rows_are_refused_when_one_keyframe_of_the_pair_is_distorted():
    """`_reproj_errors` with ``focal`` rows refuses a pair with one distorted keyframe, a (its
    pixels lifted) or b (projected), as two distorted ones: without the check on either, that
    keyframe's distortion under its given K was scored as if its fx, fy were scaled."""
    from mast3r_ros.core.map_check.measure import _reproj_errors

    a, b = _orb_view(np.zeros((0, 2)), None), _orb_view(np.zeros((0, 2)), None)
    a.cam = dataclasses.replace(a.cam, dist=np.array([0.05, -0.01, 0.0, 0.0, 0.0]))
    xa = np.array([[100.0, 80.0], [200.0, 150.0]])
    assert _reproj_errors(b, b, xa, np.full(2, 3.0), xa, np.eye(4), np.ones(2),
                          np.array([0.9, 1.1])).shape == (2, 2)
    for va, vb in ((a, b), (b, a)):
        with pytest.raises(ValueError, match="pinhole"):
            _reproj_errors(va, vb, xa, np.full(2, 3.0), xa, np.eye(4), np.ones(2),
                           np.array([0.9, 1.1]))


def test_the_reprojection_limit_of_a_reduced_record_is_in_its_cameras_pixels():
    """A record already reduced (a map build keeps small copies: 64 px camera at 32 px,
    ``camera_scale`` 0.5) is judged against ``max_reproj_frac`` x the camera's width, 64 px, the
    px its errors are in (times the scale read 16)."""
    from mast3r_ros.core.map_check.measure import _prepare, _reproj_limit_px

    cfg = Config().map_check
    rec = KeyframeRecord(np.zeros((48, 64, 3), np.uint8), np.ones((48, 64), np.float32),
                         default_intrinsics(64, 48), np.eye(4), 0).reduced(32)
    assert rec.camera_scale == 0.5
    v = _prepare(rec, 0, cfg, cv2.ORB_create())
    assert _reproj_limit_px(v, v, cfg) == pytest.approx(cfg.max_reproj_frac * 64)
