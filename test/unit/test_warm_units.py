"""`core.localizer.warm`'s parts called directly: the preload's size limit and quiet stop, and
whether the query-camera check of a map camera is silent (the same formula as the warning)."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from mast3r_ros.core.errors import InputError
from mast3r_ros.core.localizer import query_checks, warm
from mast3r_ros.core.types import CameraIntrinsics


class Matcher:
    """A matcher's preload: loads what it is asked for, or fails as a corrupt chunk does."""

    def __init__(self, fail=None):
        self.asked, self.fail = None, fail

    def preload(self, ids):
        self.asked = list(ids)
        if self.fail is not None:
            raise self.fail
        return len(self.asked)


def test_a_map_of_exactly_the_limit_is_preloaded_whole_and_a_larger_one_not_at_all():
    n = warm.PRELOAD_MAX_KEYFRAMES
    m = Matcher()
    assert warm.preload_keyframes(m, n) == n and m.asked == list(range(n))
    m = Matcher()
    assert warm.preload_keyframes(m, n + 1) == 0 and m.asked is None
    assert warm.preload_keyframes(object(), 3) == 0          # a matcher without a preload


def test_a_keyframe_that_fails_to_load_stops_the_preload_quietly():
    """A corrupt chunk is the error of the frame that needs it, not the warm-up's."""
    assert warm.preload_keyframes(Matcher(InputError("chunk 3 is damaged")), 4) == 0
    with pytest.raises(RuntimeError):                         # a bug is not swallowed
        warm.preload_keyframes(Matcher(RuntimeError("bug")), 4)


def _cam(skew, cy, fy):
    K = np.array([[500.0, skew, 320.0], [0.0, fy, cy], [0.0, 0.0, 1.0]])
    return CameraIntrinsics(640, 480, K)


@pytest.mark.parametrize("skew, cy, fy, silent", [
    (0.5, 100.0, 379.0, True),    # shifts the bottom row (379 px below cy) by exactly 0.5 px
    (0.5, 100.0, 378.0, False),   # just over
    (1.0, 100.0, 500.0, False),   # 0.2 px at the top row, 0.76 px at the bottom: the bottom's
    (-1.0, 379.0, 500.0, False),  # a negative skew, the top row the farther
])
def test_the_map_camera_check_is_silent_exactly_when_the_skew_warning_is(skew, cy, fy, silent,
                                                                        caplog):
    cam = _cam(skew, cy, fy)
    assert warm.camera_check_is_silent(cam) is silent
    with caplog.at_level(logging.WARNING, logger=query_checks.log.name):
        query_checks._warn_ignored_skew(cam)
    assert (not caplog.records) is silent


def test_the_fabricated_pnp_problem_is_exact_for_a_camera_of_two_focal_lengths():
    """Each point projects onto its pixel (fx != fy: the rows' focal length is fy's)."""
    K = np.array([[500.0, 0.0, 300.0], [0.0, 420.0, 250.0], [0.0, 0.0, 1.0]])
    cam = CameraIntrinsics(640, 480, K)
    X, px = warm.fabricated_pnp_problem(cam)
    assert X.shape == (64, 3) and px.shape == (64, 2)
    assert (X[:, 2] >= 1.0).all() and (X[:, 2] <= 4.0).all()
    uvw = X @ K.T
    np.testing.assert_allclose(uvw[:, :2] / uvw[:, 2:], px, atol=1e-9)


def test_warm_pnp_runs_the_live_frames_pnp_with_their_keyframe_groups(monkeypatch):
    """The warm-up's PnP is the live frames' (config.pnp, seed, ``groups`` keyframes: the
    per-keyframe terms of the covariance are warmed too) and it warms one undistortion."""
    from types import SimpleNamespace

    from mast3r_ros.core.config import LocalizerConfig

    calls = {}
    monkeypatch.setattr(warm, "solve_pnp", lambda *a, **k: calls.setdefault("pnp", (a, k)))
    monkeypatch.setattr(warm, "undistort_pixels",
                        lambda *a: calls.setdefault("undistort", a))
    cfg = LocalizerConfig()
    cam = _cam(0.0, 240.0, 500.0)
    warm.warm_pnp(SimpleNamespace(intrinsics=cam), 3, cfg, 7, "model")
    (X, px, plain), kw = calls["pnp"]
    assert kw["seed"] == 7 and kw["uncertainty"] == "model"
    assert kw["backend"] == cfg.pnp.backend and kw["refine"] == cfg.pnp.refine
    assert sorted(set(kw["groups"].tolist())) == [0, 1, 2] and kw["group_centres"].shape == (3, 3)
    assert kw["points_cov"].shape == (64, 3, 3)
    np.testing.assert_array_equal(plain.K, cam.K)
    assert len(calls["undistort"][0]) == 4


def test_the_mast3r_matcher_warms_the_longer_walks_and_others_do_not():
    """A matcher whose config has ``cuda_graph`` (mast3r) is warmed under
    `warming_longer_walks`, so the first live frame whose walks run long does not pay that
    branch's one-time cost; a matcher without it (sift) gets a no-op (`not hasattr` ->
    `hasattr` swapped the two: mutation audit)."""
    import contextlib
    from types import SimpleNamespace as NS

    from mast3r_ros.core.localizer.warm import long_walks_warmed
    from mast3r_ros.core.matchers import fixed_matching

    assert isinstance(long_walks_warmed(NS(cfg=NS())), contextlib.nullcontext)
    assert isinstance(long_walks_warmed(NS()), contextlib.nullcontext)
    with long_walks_warmed(NS(cfg=NS(cuda_graph=False))):
        assert fixed_matching._WARMING.on
    assert not getattr(fixed_matching._WARMING, "on", False)


def test_warm_pnp_runs_the_per_frame_camera_fits_where_the_live_frames_do(monkeypatch):
    """The first live frame paid the camera fits' first call (scipy's import, ~150 ms: the
    review): the warm-up runs `focal_gate` on its points when the fits run live (points from
    depth, the focal gate on), and not otherwise."""
    import dataclasses
    from types import SimpleNamespace

    from mast3r_ros.core.config import LocalizerConfig

    calls = []
    monkeypatch.setattr(warm, "solve_pnp", lambda *a, **k: None)
    monkeypatch.setattr(warm, "focal_gate", lambda *a: calls.append(a) or ("", None))
    cam = _cam(0.0, 240.0, 500.0)
    cfg = LocalizerConfig()
    on = dataclasses.replace(cfg, matcher="sift")
    assert on.points_from_depth
    warm.warm_pnp(SimpleNamespace(intrinsics=cam), 1, on, 7, "model")
    assert len(calls) == 1
    max_error, _, pose, X, px, inliers, thr = calls[0]
    assert max_error == on.gates.max_focal_error > 0 and thr == on.pnp.reproj_error_px
    np.testing.assert_array_equal(pose, np.eye(4))
    assert X.shape == (64, 3) and px.shape == (64, 2) and inliers.all()
    off = dataclasses.replace(on, gates=dataclasses.replace(on.gates, max_focal_error=0.0))
    warm.warm_pnp(SimpleNamespace(intrinsics=cam), 1, off, 7, "model")
    pointmaps = dataclasses.replace(cfg, matcher="mast3r", points_source="pointmap")
    assert not pointmaps.points_from_depth
    warm.warm_pnp(SimpleNamespace(intrinsics=cam), 1, pointmaps, 7, "model")
    assert len(calls) == 1
