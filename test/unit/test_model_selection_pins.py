"""Pins of `core.pnp.model_selection` that its behaviour tests leave open (mutation audit
docs/bench/mutation_cpu_2026-12-07zt): the depth band's exact value, the trigger's bound, which
matches a bootstrap draw holds (whole image cells, every cell drawable), when a draw's RANSAC
runs at all, each draw's own RANSAC seed, and a draw kept at exactly `MIN_POINTS` inliers."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from mast3r_ros.core.pnp import model_selection
from mast3r_ros.core.pnp.model_selection import depth_band, model_selection_cov, needs_draws
from mast3r_ros.core.pnp.refine import MIN_POINTS

K = np.array([[500.0, 0.0, 320.0], [0.0, 500.0, 240.0], [0.0, 0.0, 1.0]])
KW = dict(backend="opencv", reproj_error_px=5.0, max_iterations=100, confidence=0.999, seed=3)


def _on_axis(z):
    """Map points at depths ``z`` straight ahead of a camera at the map origin."""
    z = np.asarray(z, np.float64)
    return np.c_[np.zeros_like(z), np.zeros_like(z), z]


def test_depth_band_is_the_10_to_90_percent_spread_over_their_sum():
    # depths 1..11 m: z10 = 2, z90 = 10, so (10 - 2) / (10 + 2)
    assert depth_band(np.eye(4), _on_axis(np.arange(1.0, 12.0))) == pytest.approx(8.0 / 12.0)
    assert depth_band(np.eye(4), _on_axis([2.5] * 7)) == 0.0  # one depth: 0, not nan
    assert np.isnan(depth_band(np.eye(4), _on_axis([-3.0] * 4)))  # behind the camera


def test_a_band_over_half_is_judged_below_one():
    """Only ``max_band`` >= 1 takes every frame: a bound of 0.6 still skips a 0.67 band."""
    X = _on_axis(np.arange(1.0, 12.0))
    assert not needs_draws(np.eye(4), X, 0.6)
    assert needs_draws(np.eye(4), X, 0.7)


# nine matches in three 40 px cells, their rows interleaved: the map point's x is its index
CELLS = {0: [0, 4, 7], 1: [1, 5], 2: [2, 3, 6, 8]}
CELL_XY = {0: (5.0, 5.0), 1: (85.0, 5.0), 2: (5.0, 85.0)}


def _cells_frame():
    xu = np.zeros((9, 2))
    for c, members in CELLS.items():
        xu[members] = CELL_XY[c] + 0.5 * np.arange(len(members))[:, None]
    X = np.c_[np.arange(9.0), np.zeros(9), np.full(9, 2.0)]
    return X, xu


def _spy(monkeypatch, name="_ransac_opencv"):
    seen = []

    def spy(X, x, *args):
        seen.append((np.array(X), args))
        return None  # no pose: the draw is left out, the next one runs

    monkeypatch.setattr(model_selection, name, spy)
    return seen


def test_a_draw_holds_whole_cells_and_every_cell_can_be_drawn(monkeypatch):
    seen = _spy(monkeypatch)
    X, xu = _cells_frame()
    assert model_selection_cov(np.eye(4), X, xu, K, (640, 480), draws=16, max_points=0,
                               **KW) is None
    assert len(seen) == 16
    drawn = set()
    for Xh, _ in seen:
        n = Counter(int(i) for i in Xh[:, 0])
        times = {c: {n[m] for m in members} for c, members in CELLS.items()}
        assert all(len(t) == 1 for t in times.values()), times  # a cell drawn whole
        assert sum(t.pop() for t in times.values()) == 3  # as many cells as the frame has
        drawn |= {c for c, members in CELLS.items() if n[members[0]]}
    assert drawn == set(CELLS)


def test_ransac_hypothesises_on_max_points_of_a_draw_and_all_with_zero(monkeypatch):
    seen = _spy(monkeypatch)
    X, xu = _cells_frame()
    model_selection_cov(np.eye(4), X, xu, K, (640, 480), draws=4, max_points=0, **KW)
    sizes = [len(Xh) for Xh, _ in seen]
    assert all(s >= 6 for s in sizes), sizes  # three cells of two to four matches, all taken
    seen.clear()
    model_selection_cov(np.eye(4), X, xu, K, (640, 480), draws=4, max_points=4, **KW)
    assert [len(Xh) for Xh, _ in seen] == [4] * 4


def test_fewer_than_min_points_matches_run_no_ransac(monkeypatch):
    seen = _spy(monkeypatch)
    X, xu = _cells_frame()
    n = MIN_POINTS - 1
    assert model_selection_cov(np.eye(4), X[:n], xu[:n], K, (640, 480), draws=4, **KW) is None
    assert seen == []


def test_each_draw_seeds_its_own_poselib_ransac(monkeypatch):
    seen = _spy(monkeypatch, "_ransac_poselib")
    X, xu = _cells_frame()
    kw = dict(KW, backend="poselib")
    model_selection_cov(np.eye(4), X, xu, K, (640, 480), draws=6, **kw)
    seeds = [args[-1] for _, args in seen]
    assert len(seeds) == 6 and len(set(seeds)) == 6, seeds


def test_a_draw_with_exactly_min_points_inliers_counts(monkeypatch):
    """Six exact matches in one (large) cell: every draw is those six, all inliers of the
    true pose that RANSAC is made to return: the draws count, a spread of zero."""
    rng = np.random.default_rng(0)
    uv = np.c_[rng.uniform(50, 590, MIN_POINTS), rng.uniform(50, 430, MIN_POINTS)]
    z = rng.uniform(1.0, 4.0, MIN_POINTS)
    X = np.c_[(uv[:, 0] - 320) / 500 * z, (uv[:, 1] - 240) / 500 * z, z]
    monkeypatch.setattr(model_selection, "_ransac_opencv", lambda *a: np.eye(4))
    C = model_selection_cov(np.eye(4), X, uv, K, (640, 480), draws=3, cell_px=1e4, **KW)
    assert C is not None and np.allclose(C, 0.0, atol=1e-12)


def test_a_bound_of_one_takes_a_band_over_one_and_a_moved_camera_is_judged_from_itself():
    # points from behind the camera to 3 m: z10 < 0, a band over 1, drawn at a bound of 1
    X = _on_axis(np.linspace(-1.0, 3.0, 11))
    assert depth_band(np.eye(4), X) > 1.0
    assert needs_draws(np.eye(4), X, 1.0) and not needs_draws(np.eye(4), X, 0.9)
    # depths measured from the camera's centre: one 5 m back sees 1..11 m as 6..16 m
    T = np.eye(4)
    T[2, 3] = -5.0
    assert depth_band(T, _on_axis(np.arange(1.0, 12.0))) == pytest.approx(8.0 / 22.0)


def _six_exact():
    rng = np.random.default_rng(0)
    uv = np.c_[rng.uniform(50, 590, MIN_POINTS), rng.uniform(50, 430, MIN_POINTS)]
    z = rng.uniform(1.0, 4.0, MIN_POINTS)
    return np.c_[(uv[:, 0] - 320) / 500 * z, (uv[:, 1] - 240) / 500 * z, z], uv


def test_one_draw_is_enough(monkeypatch):
    X, uv = _six_exact()
    monkeypatch.setattr(model_selection, "_ransac_opencv", lambda *a: np.eye(4))
    C = model_selection_cov(np.eye(4), X, uv, K, (640, 480), draws=1, cell_px=1e4, **KW)
    assert C is not None and np.allclose(C, 0.0, atol=1e-12)


def test_a_draw_refined_to_fewer_than_min_points_inliers_is_left_out(monkeypatch):
    X, uv = _six_exact()
    uv = uv.copy()
    uv[:3] += 50.0  # three of the six far off the pose RANSAC returns
    monkeypatch.setattr(model_selection, "_ransac_opencv", lambda *a: np.eye(4))
    assert model_selection_cov(np.eye(4), X, uv, K, (640, 480), draws=3, cell_px=1e4,
                               **KW) is None


def test_ransac_s_subset_holds_each_drawn_match_once(monkeypatch):
    """One cell (every draw all nine matches): RANSAC's four are four different matches."""
    seen = _spy(monkeypatch)
    X, xu = _cells_frame()
    model_selection_cov(np.eye(4), X, xu, K, (640, 480), draws=16, max_points=4, cell_px=1e4,
                        **KW)
    assert len(seen) == 16
    assert all(len(set(Xh[:, 0])) == 4 for Xh, _ in seen), [Xh[:, 0] for Xh, _ in seen]


def test_the_band_s_edges():
    """A band exactly at the bound is not below it (no draws); a scene under 1 m deep has a
    band (scale-free), and one centred on the camera's plane (z10 = -z90) has none."""
    X = _on_axis(np.arange(1.0, 12.0))
    assert not needs_draws(np.eye(4), X, depth_band(np.eye(4), X))
    assert depth_band(np.eye(4), 0.04 * X) == pytest.approx(8.0 / 12.0)
    assert np.isnan(depth_band(np.eye(4), _on_axis([-1.0] * 5 + [1.0] * 5)))


def test_depth_band_constant_is_the_shipped_setting():
    from mast3r_ros.core.config import config_from_params

    shipped = config_from_params({}).localizer.covariance.model_selection_depth_band
    assert model_selection.DEPTH_BAND == shipped == 0.125


def test_a_subset_of_one(monkeypatch):
    seen = _spy(monkeypatch)
    X, xu = _cells_frame()
    model_selection_cov(np.eye(4), X, xu, K, (640, 480), draws=2, max_points=1, **KW)
    assert [len(Xh) for Xh, _ in seen] == [1, 1]
