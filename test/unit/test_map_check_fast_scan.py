"""The colour-focal scan scores every factor of a pair in one numpy pass
(`focal._pair_reproj_factors`) instead of rebuilding both views per factor and measuring them
with `_pair_reproj` (10x less time on redkitchen's check). The fast path must give the same
numbers, float for float, and the same fit: these compare it with the per-factor path."""

from __future__ import annotations

import dataclasses
import math

import cv2
import numpy as np
import pytest

from mast3r_ros.core.config import Config
from mast3r_ros.core.geometry import invert_pose
from mast3r_ros.core.map_check import KeyframeRecord, focal
from mast3r_ros.core.map_check.measure import StreamingMeasure, _pair_reproj
from mast3r_ros.replay.synthetic import default_intrinsics, render_frames

CFG = Config().map_check


def _measured(g=0.9, dist=None):
    """The synthetic walk's views, matches and pairs, its colour seen through fx, fy x g (the
    depth camera's K given), the camera with ``dist`` coefficients if given."""
    cam = default_intrinsics(160, 120)
    if dist is not None:
        cam = dataclasses.replace(cam, dist=np.asarray(dist, np.float64))
    colour = dataclasses.replace(cam, K=cam.K * np.array([[g], [g], [1.0]]))
    idx = range(0, 16, 2)
    recs = [KeyframeRecord(c.rgb, d.depth_m, cam, d.map_from_cam, d.stamp_ns)
            for d, c in zip(render_frames(40, cam, indices=idx),
                            render_frames(40, colour, indices=idx))]
    sm = StreamingMeasure(CFG, cv2.ORB_create(nfeatures=CFG.max_features),
                          cv2.BFMatcher(cv2.NORM_HAMMING))
    for r in recs:
        sm.add(r)
    return sm.close()


def _per_factor(va, vb, m, b_from_a, gs):
    """The previous scan's numbers: both views rebuilt with fx, fy x g, `_pair_reproj` each."""
    out = [_pair_reproj(focal._focal_times(va, g), focal._focal_times(vb, g), m, b_from_a,
                        np.ones(1)) for g in gs]
    return np.array([med[0] for med, _ in out]), out[-1][1]


@pytest.mark.parametrize("dist", [None, [0.05, -0.01, 0.0, 0.0, 0.0]])
def test_every_factor_in_one_pass_equals_the_views_rebuilt_per_factor(dist):
    views, matches, _ = _measured(dist=dist)
    lo, hi, n = focal._FOCAL_SCAN
    gs = np.exp(np.linspace(math.log(lo), math.log(hi), n))
    compared = 0
    for (a, b), m in matches.items():
        if m is None:
            continue
        b_from_a = invert_pose(views[b].pose) @ views[a].pose
        fast, n_fast = focal._pair_reproj_factors(views[a], views[b], m, b_from_a, gs)
        slow, n_slow = _per_factor(views[a], views[b], m, b_from_a, gs)
        assert n_fast == n_slow and fast.shape == (len(gs),)
        assert np.array_equal(fast, slow), (a, b, np.max(np.abs(fast - slow)))
        compared += 1
    assert compared >= 3


def test_the_scan_finds_the_same_fit_as_scoring_each_factor_alone(monkeypatch):
    """The whole fit, with the one-pass score, equals the fit with the per-factor path (and
    `_log_argmin` scanning one factor at a time) on a map whose colour fits x0.9."""
    views, matches, pairs = _measured(0.9)
    fast = focal._colour_focal_fit(views, matches, pairs, CFG)
    monkeypatch.setattr(focal, "_pair_reproj_factors", _per_factor)
    argmin = focal._log_argmin
    monkeypatch.setattr(focal, "_log_argmin",
                        lambda score, centre=1.0, many=None: argmin(score, centre))
    slow = focal._colour_focal_fit(views, matches, pairs, CFG)
    assert fast is not None and abs(fast[0] / 0.9 - 1) < 0.02, fast
    assert fast == slow


def test_each_factor_is_scored_once(monkeypatch):
    """The fit scored the factor it found two more times (the halving rule, the figures); each
    factor is now scored once, the spread's pairs in one pass per grid: at most three passes
    per pair scored (the given K, the grid, the refinement), one for the factor stated and its
    spread over the pairs (`focal_note.spread_grid`, whose medians score that factor too) and
    one to confirm."""
    views, matches, pairs = _measured(0.9)
    calls = []
    real = focal._pair_reproj_factors
    monkeypatch.setattr(focal, "_pair_reproj_factors",
                        lambda va, vb, m, bfa, gs: calls.append(len(gs)) or real(va, vb, m,
                                                                                  bfa, gs))
    fit = focal._colour_focal_fit(views, matches, pairs, CFG)
    assert fit is not None
    scored = sum(m is not None for m in matches.values())
    assert len(calls) == 5 * scored, (len(calls), scored)
    lo, hi, n = focal._FOCAL_SCAN
    assert sum(calls) <= scored * (1 + n + 2 * math.log(hi / lo) / (n - 1)
                                   / focal._FOCAL_REFINE_STEP + 2 + len(focal.spread_grid(1.0)))
