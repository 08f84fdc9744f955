"""Pins of the colour-focal scan's one-pass score (`focal._pair_reproj_factors`) that the
mutation audit of 2026-12-06 found untested: it equals the per-factor path for views read at
a working scale other than 1 (check-map reduces keyframes wider than its working width), and a
pair whose matches have depth in neither view scores NaN with no match measured."""

from __future__ import annotations

import dataclasses
import math
import types

import numpy as np
from test_map_check_fast_scan import _measured, _per_factor

from mast3r_ros.core.geometry import invert_pose
from mast3r_ros.core.map_check import focal


def test_one_pass_equals_per_factor_at_a_working_scale_other_than_1():
    views, matches, _ = _measured()
    lo, hi, n = focal._FOCAL_SCAN
    gs = np.exp(np.linspace(math.log(lo), math.log(hi), n))
    (a, b), m = next((k, m) for k, m in matches.items() if m is not None)
    va, vb = (dataclasses.replace(views[i], scale=0.5) for i in (a, b))
    b_from_a = invert_pose(vb.pose) @ va.pose
    fast, n_fast = focal._pair_reproj_factors(va, vb, m, b_from_a, gs)
    slow, n_slow = _per_factor(va, vb, m, b_from_a, gs)
    assert n_fast == n_slow > 0
    assert np.array_equal(fast, slow)


def test_a_pair_without_depth_in_either_view_scores_nan_with_no_match():
    view = types.SimpleNamespace(cam=types.SimpleNamespace(has_distortion=False))
    nan = np.full(3, np.nan)
    m = types.SimpleNamespace(xa=np.zeros((3, 2)), da=nan, xb=np.zeros((3, 2)), db=nan)
    med, n = focal._pair_reproj_factors(view, view, m, np.eye(4), np.array([0.9, 1.0, 1.1]))
    assert n == 0 and med.shape == (3,) and np.isnan(med).all()
