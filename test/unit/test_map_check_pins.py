"""Pins from a mutation audit of the map check (mast3r_ros/core/map_check): each test fails with
one small mutation of the code it names, and holds the documented contract."""

import dataclasses
import math

import numpy as np

from mast3r_ros.core.config import MapCheckConfig
from mast3r_ros.core.map_check import KeyframeRecord
from mast3r_ros.core.map_check.measure import (StreamingMeasure, _lift, _Matches, _measure,
                                               _pair_ok, _pairs, _View)
from mast3r_ros.core.map_check.report import PairFigures
from mast3r_ros.replay.synthetic import default_intrinsics, render_frames


def _flat_view(depth_m=2.0):
    """A 40x30 pinhole view whose depth is a constant plane at depth_m."""
    cam = default_intrinsics(40, 30)
    depth = np.full((30, 40), depth_m, np.float32)
    ys, xs = np.mgrid[3:30:6, 3:36:6]
    px = np.stack([xs.ravel(), ys.ravel()], 1).astype(np.float64)
    pts = _lift(px, np.full(len(px), float(depth_m)), cam)
    return _View(cam, 1.0, depth, pts, px, np.full(len(px), float(depth_m)), None, np.eye(4),
                 40, 0, "v")


def test_a_pair_disagrees_when_either_figure_passes_its_threshold():
    """Module docstring: 'A pair disagrees when a figure passes its threshold': depth that
    agrees does not excuse a reprojection error over the limit, nor the other way round."""
    cfg = MapCheckConfig()
    good_depth = dict(depth_residual=0.0, depth_agree=1.0, depth_points=cfg.min_depth_points)
    bad_depth = dict(depth_residual=1.0, depth_agree=0.0, depth_points=cfg.min_depth_points)
    assert _pair_ok(PairFigures(0, 1, matches=30, reproj_px=50.0, **good_depth), cfg,
                    5.0) is False
    assert _pair_ok(PairFigures(0, 1, matches=30, reproj_px=1.0, **bad_depth), cfg,
                    5.0) is False
    assert _pair_ok(PairFigures(0, 1, matches=30, reproj_px=1.0, **good_depth), cfg, 5.0) is True


def test_reprojection_is_judged_from_exactly_min_matches():
    """A pair with exactly ``min_matches`` matches that carry depth gets its reprojection
    figure (the limit is 'at least', as for depth points)."""
    cfg = dataclasses.replace(MapCheckConfig(), min_depth_points=10 ** 6)  # depth not judged
    va, vb = _flat_view(), _flat_view()
    n = cfg.min_matches
    xa = va.kp[:n]
    assert len(xa) == n
    m = _Matches(xa, xa.copy(), np.full(n, 2.0), np.full(n, np.nan))  # one direction: n
    (f,) = _measure([va, vb], [np.eye(4), np.eye(4)], {(0, 1): m}, cfg)
    assert f.matches == n and f.reproj_px == 0.0 and f.ok is True
    assert math.isnan(f.depth_residual)


def test_the_streaming_check_matches_every_neighbouring_pair(monkeypatch):
    """`KeyframeCheck`: features are matched on every neighbouring pair, in `_pairs` order
    (consecutive ones only left the further neighbours to depth alone: 9 of 19 pairs on 7-Scenes
    redkitchen never had a match figure)."""
    import cv2

    from mast3r_ros.core.map_check import measure

    called = []
    real = measure._match
    monkeypatch.setattr(measure, "_match",
                        lambda va, vb, cfg, bf: called.append((va.label, vb.label))
                        or real(va, vb, cfg, bf))
    cfg = dataclasses.replace(MapCheckConfig(), neighbours=3)
    frames = list(render_frames(40, default_intrinsics(160, 120), indices=range(0, 10, 2)))
    stream = StreamingMeasure(cfg, cv2.ORB_create(nfeatures=cfg.max_features),
                              cv2.BFMatcher(cv2.NORM_HAMMING))
    for i, f in enumerate(frames):
        stream.add(KeyframeRecord(f.rgb, f.depth_m, f.intrinsics, f.map_from_cam, f.stamp_ns,
                                  str(i)))
    _, matches, pairs = stream.close()
    assert sorted(matches) == sorted((p.a, p.b) for p in pairs)
    assert called == [(str(a), str(b)) for a, b in _pairs(len(frames), cfg.neighbours)]
    assert all(matches[(a, b)] is not None for (a, b) in matches if b == a + 1)


def test_check_map_ignores_a_recorded_depth_unit_that_is_not_a_positive_number(monkeypatch):
    """`check_map` words the --depth-scale fix with the build's recorded raw depth unit only
    when it is one (finite, > 0): a manifest holding 0, a negative or a non-finite number
    (hand-edited, or a broken build) is not passed on as a unit."""
    import mast3r_ros.core.map_check as mc

    seen = []
    monkeypatch.setattr(mc, "check_keyframes",
                        lambda recs, cfg, depth_units_per_m=None, progress=None, **_:
                        seen.append(depth_units_per_m))
    monkeypatch.setattr(mc, "MapRecords", lambda m, width=None: [])

    class _Map:
        def __init__(self, units):
            self.manifest = {"consistency": {"depth_units_per_m": units}}

    for units in (0, -1000, 0.0, math.inf, math.nan, 5000):
        mc.check_map(_Map(units), MapCheckConfig())
    assert seen == [None] * 5 + [5000.0]


def test_the_reported_reprojection_limit_is_that_of_the_widest_camera():
    """The report's ``max_reproj_px`` is the limit the pairs were judged with:
    ``max_reproj_frac`` of the wider camera's width (`_reproj_limit_px`), not the narrower."""
    from mast3r_ros.core.map_check import check_keyframes

    cfg = MapCheckConfig()
    recs = []
    for w in (160, 320):
        (f,) = render_frames(40, default_intrinsics(w, w * 3 // 4), indices=[0])
        recs.append(KeyframeRecord(f.rgb, f.depth_m, f.intrinsics, f.map_from_cam, f.stamp_ns))
    rep = check_keyframes(recs, cfg)
    assert rep.thresholds["max_reproj_px"] == cfg.max_reproj_frac * 320


def test_bad_keyframes_leaves_the_unchecked_ones_out():
    """`ConsistencyReport.bad_keyframes`: keyframes that agree with none of their checked
    neighbours (``ok`` False); unchecked ones (``ok`` None) are not listed."""
    from mast3r_ros.core.map_check import INCONSISTENT, ConsistencyReport, KeyframeFigures

    kfs = [KeyframeFigures(i, str(i), math.nan, math.nan, math.nan, [], ok)
           for i, ok in enumerate([None, False, True, None, False])]
    assert ConsistencyReport(INCONSISTENT, kfs, [], "").bad_keyframes() == [1, 4]


def test_a_list_of_exactly_the_limit_is_given_whole():
    from mast3r_ros.core.map_check.report import MAX_LISTED, _listed

    items = [str(i) for i in range(MAX_LISTED)]
    assert _listed(items) == ", ".join(items)
    assert _listed(items + ["x"]).endswith(", ... (1 more)")


def test_an_infinite_figure_is_written_as_null_in_the_manifest():
    """`to_manifest`: 'NaN/inf written as null' (a match behind the camera reads inf px):
    the manifest stays strict JSON."""
    import json

    from mast3r_ros.core.map_check import INCONSISTENT, ConsistencyReport, KeyframeFigures

    kfs = [KeyframeFigures(0, "0", 0.1, 0.9, math.inf, [1], False)]
    pairs = [PairFigures(0, 1, matches=30, reproj_px=math.inf, depth_residual=-math.inf)]
    out = ConsistencyReport(INCONSISTENT, kfs, pairs, "m").to_manifest()
    json.dumps(out, allow_nan=False)
    assert out["pairs"][0]["reproj_px"] is None and out["keyframes"][0]["reproj_px"] is None


def test_the_trajectory_unit_is_named_for_a_factor_below_one_by_median_or_top_depth():
    """`_trajectory_unit_instead`: only a factor < 1 (the fix would enlarge the depth), and
    then when the median would leave the plausible range OR the top would pass the 16-bit
    format's 655.35 m."""
    from mast3r_ros.core.map_check.diagnose import _trajectory_unit_instead

    assert _trajectory_unit_instead(1.0, (2.0, 700.0)) is False  # no fix to the depth at all
    assert _trajectory_unit_instead(0.01, (0.5, 10.0)) is True   # median 50 m, top 1000 m
    assert _trajectory_unit_instead(0.01, (2.0, 5.0)) is True    # median 200 m
    assert _trajectory_unit_instead(0.1, (2.0, 5.0)) is False    # 20 m, 50 m: plausible


def test_unit_confusions_are_named_within_15_percent_only():
    """`_nice_factors`: confusions within 15 % of the fitted factor (both neighbours of
    7-Scenes' 4.47), else the factor itself to 2 digits."""
    from mast3r_ros.core.map_check.diagnose import _nice_factors

    assert _nice_factors(4.47) == [4.0, 5.0]
    assert _nice_factors(1.3) == [1.3]
    assert _nice_factors(1.1) == [1.0]
