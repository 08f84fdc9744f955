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
