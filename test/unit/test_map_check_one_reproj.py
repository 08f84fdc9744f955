"""The colour-focal scan's one-pass score (`focal._pair_reproj_factors`) had its own copy of
`measure._reproj_errors` (`focal._reproj_factors`: lift, move, project, error), kept equal by
pins only: a change to the measure's projection reached the check's pairs and not the scan.
Both now run `measure._reproj_errors` (``focal`` rows), so such a change reaches both."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from test_map_check_fast_scan import _measured, _per_factor

from mast3r_ros.core.geometry import invert_pose
from mast3r_ros.core.map_check import focal, measure


def test_a_change_to_the_measures_projection_reaches_the_one_pass_scan(monkeypatch):
    views, matches, _ = _measured()
    lo, hi, n = focal._FOCAL_SCAN
    gs = np.exp(np.linspace(math.log(lo), math.log(hi), n))
    (a, b), m = next((k, m) for k, m in matches.items() if m is not None)
    b_from_a = invert_pose(views[b].pose) @ views[a].pose
    real = measure._project

    def shifted(pts, cam, *rest, **kw):  # every projection half a pixel to the right
        uv, z = real(pts, cam, *rest, **kw)
        return uv + np.array([0.5, 0.0]), z

    before, _ = focal._pair_reproj_factors(views[a], views[b], m, b_from_a, gs)
    monkeypatch.setattr(measure, "_project", shifted)
    fast, _ = focal._pair_reproj_factors(views[a], views[b], m, b_from_a, gs)
    slow, _ = _per_factor(views[a], views[b], m, b_from_a, gs)
    assert not np.array_equal(fast, before)
    assert np.array_equal(fast, slow)


def test_focal_rows_are_refused_for_a_distorted_camera():
    views, matches, _ = _measured(dist=[0.05, -0.01, 0.0, 0.0, 0.0])
    (a, b), m = next((k, m) for k, m in matches.items() if m is not None)
    va = dataclasses.replace(views[a])
    with pytest.raises(ValueError, match="pinhole"):
        measure._reproj_errors(va, views[b], m.xa, np.ones(len(m.xa)), m.xb, np.eye(4),
                               np.ones(2), np.array([0.9, 1.1]))
