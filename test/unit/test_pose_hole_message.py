"""Frames in a hole of the poses (ground truth 100 Hz with 4 s missing: tracking lost, the
motion capture paused) got the fix 'set pose_at_stamp: max_gap_s: 4', which interpolates a
straight line across the hole and makes the motion in between up. A gap far wider than the
poses' own spacing is now said to be a hole, and the frames in it left out, with the right
choice (supply the poses of that stretch); poses sampled sparsely everywhere, or in bursts
(a gap within `EDGE_GAP_PERIODS` of their usual longest step, the 90th percentile of their
spacing), still get the max_gap_s fix."""

from __future__ import annotations

import types

import numpy as np
import pytest

from mast3r_ros.core.config import PoseAtStampConfig
from mast3r_ros.replay.pipeline import _why_no_pose, poses_not_at_frames

S, MS = 1_000_000_000, 1_000_000
RULE = PoseAtStampConfig()


def test_a_4_s_hole_in_100_hz_ground_truth_is_called_a_hole_not_a_max_gap_fix():
    stamps = np.array([t for t in range(0, 10 * S + 1, 10 * MS) if not 3 * S < t < 7 * S])
    frames = np.arange(0, 10 * S, 500 * MS)
    missing = [int(t) for t in frames if 3 * S < t < 7 * S]
    text = poses_not_at_frames(("groundtruth.txt", stamps), frames, missing, RULE)
    assert "max_gap_s: 4" not in text and "set 'pose_at_stamp" not in text, text
    assert "that gap is a hole in the poses (4.000 s without one, where 9 in 10 of their " \
           "steps are at most 0.010 s: tracking lost or recording paused), not sparse " \
           "poses: the frames in it are left out" in text, text
    assert "supply the poses of that stretch" in text, text


def test_sparse_poses_everywhere_still_get_the_max_gap_fix():
    """Keyframe-only SLAM output at 1 Hz: every gap is its spacing; 2 s (one pose missing)
    is no hole either (as a tf edge's lost message)."""
    stamps = np.array([0, 1, 2, 3, 5, 6, 7, 8]) * S
    frames = np.arange(0, 8 * S, 250 * MS)
    missing = [int(t) for t in frames if t % S]
    text = poses_not_at_frames(("traj.txt", stamps), frames, missing, RULE)
    assert text.endswith("to interpolate across gaps up to 2.000 s, set 'pose_at_stamp: "
                         "max_gap_s: 2' (under ros__parameters) in a --params YAML"), text


def test_a_hole_in_a_fast_tf_edge_is_called_a_hole():
    """tf: the gap and the spacing of the edge it fell in (`BagSequence.no_pose_spacing_s`)."""
    source = types.SimpleNamespace(
        no_pose_reason="transform odom -> base_link is not available at t=2.400000 s",
        no_pose_gap_s=0.5, no_pose_spacing_s=0.02, stamps_ns=np.arange(0, 3 * S, 100 * MS))
    text = _why_no_pose(source, None, [2400 * MS], RULE)
    assert "set 'pose_at_stamp" not in text, text
    assert "a hole in the poses (0.500 s without one, where 9 in 10 of their steps are at " \
           "most 0.020 s" in text, text
    slow = types.SimpleNamespace(**{**vars(source), "no_pose_spacing_s": None})
    assert _why_no_pose(slow, None, [2400 * MS], RULE).endswith(
        "set 'pose_at_stamp: max_gap_s: 0.5' (under ros__parameters) in a --params YAML")


def test_a_bursty_tf_edge_gap_is_no_hole_and_a_hole_in_a_fast_edge_is(tmp_path):
    """The edge's own usual longest step comes with the refusal (`ExtrapolationError`):
    samples in bursts of three 20 ms apart every 0.2 s pause 0.16 s as a rule (no hole); a
    50 Hz edge without a sample for 0.5 s has a hole."""
    from mast3r_ros.core.tf_buffer import ExtrapolationError, TransformBuffer

    def refusal(stamps, at):
        b = TransformBuffer()
        for t in stamps:
            b.add_dynamic("map", "base", t, np.eye(4))
        try:
            b.lookup("map", "base", at, 0, 100 * MS)
        except ExtrapolationError as err:
            return err
        raise AssertionError("no refusal")

    bursts = [S + k * 200 * MS + d * MS for k in range(6) for d in (-20, 0, 20)]
    err = refusal(bursts, S + 100 * MS)
    assert (err.gap_ns, err.spacing_ns) == (160 * MS, pytest.approx(160 * MS))
    fast = [t for t in range(S, 3 * S + 1, 20 * MS) if not 2200 * MS < t < 2700 * MS]
    err = refusal(fast, 2400 * MS)
    assert (err.gap_ns, err.spacing_ns) == (500 * MS, pytest.approx(20 * MS))


def _fix_for(gap_s, spacing_s):
    source = types.SimpleNamespace(
        no_pose_reason="transform odom -> base_link is not available", no_pose_gap_s=gap_s,
        no_pose_spacing_s=spacing_s, stamps_ns=np.arange(0, 3 * S, 100 * MS))
    return _why_no_pose(source, None, [2400 * MS], RULE)


def test_a_hole_is_a_gap_over_2_5_usual_steps():
    assert "max_gap_s: 0.048" in _fix_for(0.048, 0.02)  # 2.4 steps: one lost message
    assert "a hole in the poses" in _fix_for(0.052, 0.02)  # 2.6


def test_a_trajectory_s_hole_takes_the_90th_percentile_of_two_dozen_poses_or_bursts():
    """Two dozen poses 0.1 s apart with 0.6 s missing in the middle: a hole. Poses in bursts
    (20, 20, 160 ms steps) missing 0.3 s: within 2.5x their usual longest step (0.16 s), no
    hole (their median step, 20 ms, would call it one)."""
    stamps = np.r_[np.arange(12), np.arange(12) + 17] * 100 * MS
    frames = np.r_[stamps, 1400 * MS]
    text = poses_not_at_frames(("traj.txt", stamps), frames, [1400 * MS], RULE)
    assert "a hole in the poses (0.600 s without one" in text, text
    steps = [20, 20, 160] * 6
    bursts = np.cumsum([0] + steps) * MS
    bursts = np.r_[bursts, bursts[-1] + 300 * MS, bursts[-1] + 320 * MS]
    frames = bursts[:-2] + 5 * MS
    frames = np.r_[frames, bursts[-3] + 150 * MS]
    text = poses_not_at_frames(("traj.txt", bursts), frames, [int(frames[-1])], RULE)
    assert "a hole" not in text and "max_gap_s: 0.3'" in text, text


def test_the_spacing_given_is_that_of_the_edge_with_the_widest_gap():
    from mast3r_ros.replay.rosbag.poses import _TfPoses

    poses = types.SimpleNamespace(_no_pose={
        1: ("slow edge", 100 * MS, 40.0 * MS), 2: ("fast edge", 500 * MS, 20.0 * MS),
        3: ("unknown frame", 0, 0.0)})
    assert _TfPoses.no_pose_gap_s.fget(poses) == pytest.approx(0.5)
    assert _TfPoses.no_pose_spacing_s.fget(poses) == pytest.approx(0.02)


def test_an_edge_s_usual_step_is_taken_again_after_samples_are_added():
    """The 90th percentile is computed once per refusal of an edge, and again once samples
    were added since (a stale one would call a later edge's gap a hole or not wrongly)."""
    from mast3r_ros.core.tf_buffer import ExtrapolationError, TransformBuffer

    b = TransformBuffer()
    fast = [t for t in range(S, 3 * S + 1, 20 * MS) if not 2200 * MS < t < 2700 * MS]
    for t in fast:
        b.add_dynamic("map", "base", t, np.eye(4))
    with pytest.raises(ExtrapolationError) as err:
        b.lookup("map", "base", 2400 * MS, 0, 100 * MS)
    assert err.value.spacing_ns == pytest.approx(20 * MS)
    for k in range(1, 400):  # then 100 ms apart for 40 s
        b.add_dynamic("map", "base", 3 * S + k * 100 * MS, np.eye(4))
    with pytest.raises(ExtrapolationError) as err:
        b.lookup("map", "base", 2400 * MS, 0, 100 * MS)
    assert err.value.spacing_ns == pytest.approx(100 * MS)
