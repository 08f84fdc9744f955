"""The map check's other focal fits leave out keyframe pairs of one place and one direction (the
same frame twice), as the colour-focal fit does (`baseline.with_baseline`): such a pair agrees
in depth under any focal length or depth factor, so it scored 0 at every factor (pulling the
scan's median to 0: a map with fx, fy 10 % off whose pairs were mostly copies got no fit) and
confirmed any factor (an implausible fx was "confirmed" at the first unit slip tried). The depth
residuals are stubbed: 0 for a copy, growing with the misfit of fx, fy for a pair that moves."""

from __future__ import annotations

import dataclasses
import math
from typing import Optional

import numpy as np
import pytest

from mast3r_ros.core.config import Config
from mast3r_ros.core.map_check import focal, measure

CFG = Config().map_check
TRUE_G = 0.9  # given / true fx, fy of the map's colour camera


@dataclasses.dataclass
class _V:
    pose: np.ndarray
    g: float = 1.0  # the factor fx, fy are divided by (`_focal_divided`, stubbed)
    depth: Optional[np.ndarray] = dataclasses.field(default_factory=lambda: np.ones((2, 2)))
    width_px: int = 160


def _residuals(va, vb, b_from_a, depth_scale, tol):
    if np.allclose(b_from_a, np.eye(4)):  # one frame twice: the same pixels, any K
        return np.zeros(CFG.min_depth_points)
    return np.full(CFG.min_depth_points, 0.001 + abs(math.log(va.g / TRUE_G)))


@pytest.fixture(autouse=True)
def _stubs(monkeypatch):
    for module in (focal, measure):
        monkeypatch.setattr(module, "_depth_residuals", _residuals)
    monkeypatch.setattr(focal, "_focal_divided",
                        lambda views, g: [dataclasses.replace(v, g=g) for v in views])


def _at(x):
    T = np.eye(4)
    T[0, 3] = x
    return T


def _views(xs):
    return [_V(_at(x)) for x in xs]


def test_copies_no_longer_pull_the_focal_scan_to_zero(monkeypatch):
    """Two pairs of copies beside one that moves: the median over [0, 0, r(g)] was 0 at every
    factor, so fx, fy 10 % off were not found."""
    monkeypatch.setattr(focal, "_focal_cause", lambda views, g, *a: ("focal_length", g))
    views = _views([0.0, 0.0, 0.0, 0.3])
    matches = {(0, 1): None, (1, 2): None, (2, 3): None}
    cause = focal._focal_scale(views, matches, CFG)
    assert cause is not None and abs(cause[1] / TRUE_G - 1) < 0.01, cause
    score = focal._residual_score(views, matches, CFG)
    assert score.keys == [(2, 3)]


def test_a_copy_alone_confirms_no_focal_factor():
    """fx of a map of one frame twice (and nothing else) was confirmed at any factor."""
    views = _views([0.0, 0.0])
    matches = {(0, 1): None}
    assert focal._residual_score(views, matches, CFG) is None
    assert not focal._focal_fits(views, matches, CFG, TRUE_G)
    assert focal._focal_slip(views, matches, CFG, fx=20.0, width_px=160) is None
    moved = _views([0.0, 0.3])  # a pair that moves confirms only the factor that fits
    assert focal._focal_fits(moved, matches, CFG, TRUE_G)
    assert not focal._focal_fits(moved, matches, CFG, 1.0)


def test_pairs_turned_in_place_are_kept():
    turned = _views([0.0, 0.0])
    c, s = math.cos(0.1), math.sin(0.1)
    turned[1].pose[:3, :3] = [[c, 0, s], [0, 1, 0], [-s, 0, c]]
    assert focal._residual_score(turned, {(0, 1): None}, CFG).keys == [(0, 1)]
