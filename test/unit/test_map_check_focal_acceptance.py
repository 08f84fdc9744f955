"""When the map check accepts an fx slip (`focal._focal_slip`): only a factor under which every
judged pair agrees, with at least one judged -- one pair that still disagrees rejects it, and
the next candidate is tried; and which pairs the focal scan scores."""

from __future__ import annotations

import numpy as np

from mast3r_ros.core.map_check import focal
from mast3r_ros.core.map_check.report import PairFigures


def _slip_with(monkeypatch, verdicts):
    """_focal_slip of fx 5000 px on a 640 px wide image (7.3 deg: implausible), each candidate
    measured as the next list of pair verdicts; (the factor accepted, factors tried)."""
    tried = []

    def measure(views, poses, matches, cfg):
        tried.append(len(tried))
        return [PairFigures(0, i + 1, ok=ok) for i, ok in enumerate(verdicts[len(tried) - 1])]

    monkeypatch.setattr(focal, "_measure", measure)
    return focal._focal_slip([], {}, None, 5000.0, 640.0), len(tried)


def test_one_pair_still_disagreeing_rejects_a_slip(monkeypatch):
    # x10 (fx 500 px, 65 deg) first: one pair agrees, one does not; then x5 (1000 px): agrees
    assert _slip_with(monkeypatch, [[True, False], [True, None], [True], [True]]) == (5.0, 2)


def test_a_slip_with_no_pair_judged_is_not_accepted(monkeypatch):
    assert _slip_with(monkeypatch, [[None, None], [False], [None], [None, True]]) == (4.0, 4)
    assert _slip_with(monkeypatch, [[None], [None], [None], [None]]) == (None, 4)


def test_a_scanned_focal_factor_fits_only_when_every_judged_pair_agrees(monkeypatch):
    """`_focal_fits` (the focal factor found by the residual scan, and `_depth_or_focal`'s):
    the same rule."""
    for verdicts, fits in (([True, False], False), ([None, None], False), ([True, None], True)):
        monkeypatch.setattr(focal, "_measure",
                            lambda *a, v=verdicts: [PairFigures(0, i + 1, ok=ok)
                                                    for i, ok in enumerate(v)])
        assert focal._focal_fits([], {}, None, 1.2) is fits, verdicts


def test_the_focal_scan_scores_pairs_with_depth_at_one_end():
    """A map whose keyframes alternate with and without depth still gets a focal scan: each
    pair with depth at one end at least is scored, only those without any are left out."""
    from types import SimpleNamespace

    poses = [np.eye(4) for _ in range(3)]
    for k, pose in enumerate(poses):  # apart: pairs without baseline are left out too
        pose[0, 3] = 0.1 * k
    views = [SimpleNamespace(depth=d, pose=p) for d, p in zip((np.ones((2, 2)), None, None),
                                                              poses)]
    score = focal._residual_score(views, {(0, 1): 1, (1, 2): 1, (2, 0): 1}, None)
    assert score is not None and score.keys == [(0, 1), (2, 0)]
    assert focal._residual_score(views[1:], {(0, 1): 1}, None) is None
