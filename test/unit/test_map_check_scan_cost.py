"""The focal / depth scan's score (`focal._ResidualScore`) is asked for ~170 factors a map: no
factor moves a keyframe's pose, so each pair's relative poses are computed once, not per
factor, and the scores are those a score computed afresh for each factor gives."""

import cv2
import numpy as np

from mast3r_ros.core.config import Config
from mast3r_ros.core.map_check import KeyframeRecord, focal
from mast3r_ros.core.map_check.measure import _prepare
from mast3r_ros.replay.synthetic import default_intrinsics, render_frames

CFG = Config().map_check


def test_each_pair_s_relative_pose_is_computed_once_for_every_factor(monkeypatch):
    frames = render_frames(40, default_intrinsics(120, 90), indices=range(0, 8, 2))
    views = [_prepare(KeyframeRecord(f.rgb, f.depth_m, f.intrinsics, f.map_from_cam,
                                     f.stamp_ns), i, CFG, cv2.ORB_create(200))
             for i, f in enumerate(frames)]
    keys = [(0, 1), (1, 2), (2, 3), (0, 2)]
    asks = [(1.0, 1.0), (1.1, 1.0), (0.9, 1.0), (1.0, 1.2), (1.3, 1.0)]
    fresh = [focal._ResidualScore(views, keys, CFG)(g, s) for g, s in asks]
    assert np.isfinite(fresh).all() and len(set(fresh)) == len(fresh), fresh
    calls = []
    real = focal.invert_pose
    monkeypatch.setattr(focal, "invert_pose", lambda T: calls.append(1) or real(T))
    score = focal._ResidualScore(views, keys, CFG)
    assert [score(g, s) for g, s in asks] == fresh
    assert len(calls) == 2 * len(keys), len(calls)  # b_from_a and its inverse, once a pair
