"""Pins of `replay.metrics.far_claims` (localize's note on poses uncertain for their distance)
that the mutation audit of 2026-12-06 found untested: a frame without a scene depth (0) is not
judged (sigma / 0 raised), a scene nearer than 1 m is judged, and the note lists the first 5
such frames' stamps."""

from __future__ import annotations

import numpy as np

from mast3r_ros.core.types import LocalizationResult
from mast3r_ros.replay import metrics


def _posed(stamp, sigma_m, depth_m):
    cov = np.diag([1e-6, sigma_m ** 2, 1e-6, 1e-6, 1e-6, 1e-6])
    return LocalizationResult(True, stamp, np.eye(4), cov, scene_depth_m=depth_m)


def test_a_frame_with_scene_depth_0_is_not_judged():
    fc = metrics.far_claims([_posed(0, 0.3, 0.0), _posed(1, 0.3, 2.0)])
    assert (fc["frames"], fc["of"], fc["stamps_ns"]) == (1, 1, [1])


def test_a_scene_nearer_than_a_metre_is_judged():
    fc = metrics.far_claims([_posed(0, 0.2, 0.8), _posed(1, 0.01, 0.5)])
    assert (fc["frames"], fc["of"], fc["stamps_ns"]) == (1, 2, [0])
    assert fc["max_ratio"] == 0.2 / 0.8


def test_the_first_five_such_frames_are_listed():
    fc = metrics.far_claims([_posed(k, 0.3, 2.0) for k in range(7)])
    assert (fc["frames"], fc["of"], fc["stamps_ns"]) == (7, 7, [0, 1, 2, 3, 4])
