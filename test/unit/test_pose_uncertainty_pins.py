"""Pins of the one "uncertain for its distance" rule (`core.pose_uncertainty.FAR_CLAIM_RATIO`)
as localize's note (`replay.metrics.far_claims`) and the node's /diagnostics
(`ros.diagnostics`) apply it, which the mutation audit 2026-12-06i found untested: a pose
exactly at the ratio is not over it in either (both say "over"), and the count reads 0 before
any activation."""

from __future__ import annotations

import numpy as np

from mast3r_ros.core.pose_uncertainty import FAR_CLAIM_RATIO, sigma_depth_ratio
from mast3r_ros.core.tracker import Track
from mast3r_ros.core.types import LocalizationResult
from mast3r_ros.replay import metrics
from mast3r_ros.ros.diagnostics import DiagnosticsWindow, FrameRecord


def _posed(stamp, sigma_m, depth_m):
    cov = np.diag([sigma_m ** 2, 1e-6, 1e-6, 1e-6, 1e-6, 1e-6])
    return LocalizationResult(True, stamp, np.eye(4), cov, scene_depth_m=depth_m)


def test_a_pose_exactly_at_the_ratio_is_not_over_it_in_localize_or_the_node():
    """sigma 0.5 m at 10 m is FAR_CLAIM_RATIO exactly (in floating point too): not listed by
    far_claims nor counted by /diagnostics (`> ratio` -> `>=` in either); 0.6 m at 10 m is."""
    at, over = _posed(0, 0.5, 10.0), _posed(1, 0.6, 10.0)
    assert sigma_depth_ratio(at) == FAR_CLAIM_RATIO
    fc = metrics.far_claims([at, over])
    assert (fc["frames"], fc["of"], fc["stamps_ns"]) == (1, 2, [1])
    assert metrics.far_claims([at]) is None
    d = DiagnosticsWindow(window_s=10.0)
    d.start(0.0)
    d.add(FrameRecord(1.0, True, 100, sigma_depth_ratio=sigma_depth_ratio(at)))
    values = dict(d.summary(1.1, Track.TRACKING, True).values)
    assert values["poses_uncertain_for_distance"] == "0"
    assert values["last_uncertain_pose_ratio"] == "nan"


def test_the_count_is_0_before_any_activation():
    """/diagnostics of a node not yet activated (`start` not called): 0 and nan, not 1
    (`uncertain_poses = 0` -> 1 in __init__: `start` resets it only at activation)."""
    values = dict(DiagnosticsWindow(window_s=10.0).summary(0.5, Track.UNINITIALIZED,
                                                           False).values)
    assert values["poses_uncertain_for_distance"] == "0"
    assert values["last_uncertain_pose_ratio"] == "nan"
