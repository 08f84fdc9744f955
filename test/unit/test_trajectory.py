"""The one pose-at-stamp rule (`mast3r_ros.core.trajectory`)."""

from __future__ import annotations

import numpy as np
import pytest

from mast3r_ros.core.errors import InputError
from mast3r_ros.core.trajectory import (
    bracketing_gaps,
    interpolate_pose,
    nearest_indices,
    lookup_samples,
    poses_at_stamps,
)
from mast3r_test_utils import pose

S = 1_000_000_000


GT0 = pose([0, 0, 0], [0, 0, 0])
GT1 = pose([0, 0.2, 0], [0.1, 0, 0])


def test_interpolate_pose_slerp():
    a = pose([0, 0, 0], [0, 0, 0])
    b = pose([0, 0, np.pi / 2], [2, 0, 0])
    mid = interpolate_pose(a, b, 0.5)
    np.testing.assert_allclose(mid, pose([0, 0, np.pi / 4], [1, 0, 0]), atol=1e-12)
    np.testing.assert_allclose(interpolate_pose(a, b, 1.0), b, atol=1e-12)
    # neither end the identity: the rotation turns from the first about the relative axis in
    # the first's own frame -- 90 deg about z, then a body x turn of 90 deg, halfway 45 deg
    c = pose([0, 0, np.pi / 2], [0, 0, 0])
    d = c @ pose([np.pi / 2, 0, 0], [0, 0, 0])
    np.testing.assert_allclose(interpolate_pose(c, d, 0.5), c @ pose([np.pi / 4, 0, 0], [0, 0, 0]),
                               atol=1e-12)


def test_nearest_within_tolerance_when_not_bracketed_closely():
    stamps = np.array([0, 10 * S])
    poses = np.stack([GT0, GT1])
    out, valid = poses_at_stamps(stamps, poses, [-5, 5 * S, 10 * S + 7], 10, S)
    assert valid.tolist() == [True, False, True]
    np.testing.assert_allclose(out[0], GT0)
    np.testing.assert_allclose(out[2], GT1)
    assert np.isnan(out[1]).all()


def test_interpolated_within_max_gap_exact_and_unsorted_input():
    stamps = np.array([2 * S, 0])  # unsorted on purpose
    poses = np.stack([GT1, GT0])
    out, valid = poses_at_stamps(stamps, poses, [S, 0, 3 * S], 0, 2 * S)
    assert valid.tolist() == [True, True, False]
    np.testing.assert_allclose(out[0], pose([0, 0.1, 0], [0.05, 0, 0]), atol=1e-12)
    np.testing.assert_array_equal(out[1], GT0)
    out, valid = poses_at_stamps(stamps, poses, [S], 0, 2 * S - 1)
    assert not valid[0]
    out, valid = poses_at_stamps(stamps, poses, [S], 0, None)  # None: any gap, as tf2
    assert valid[0]


def test_empty_trajectory_and_nearest_indices():
    out, valid = poses_at_stamps(np.zeros(0, np.int64), np.zeros((0, 4, 4)), [1, 2], 10, 10)
    assert out.shape == (2, 4, 4) and not valid.any()
    np.testing.assert_array_equal(nearest_indices([0, 10, 20], [4, 5, 6, 26], 5), [0, 0, 1, -1])


def test_stamps_that_are_not_integer_nanoseconds_are_refused():
    # float seconds were cast to int64: 0.0, 0.1, 0.2 s all became 0 ns and every query at
    # 0.05 s "matched" the first pose exactly
    stamps_s = np.array([0.0, 0.1, 0.2])
    poses = np.stack([GT0, GT1, GT0])
    with pytest.raises(InputError, match="stamps_ns must be integer nanoseconds.*1e9"):
        poses_at_stamps(stamps_s, poses, np.array([0]), 0, None)
    with pytest.raises(InputError, match="query_ns must be integer nanoseconds"):
        poses_at_stamps([0, S], poses[:2], np.array([0.05]), 0, None)
    with pytest.raises(InputError, match="tolerance_ns must be an integer"):
        poses_at_stamps([0, S], poses[:2], [0], 0.02, None)
    with pytest.raises(InputError, match="max_gap_ns must be an integer"):
        poses_at_stamps([0, S], poses[:2], [0], 0, 0.1)
    with pytest.raises(InputError, match="query_ns must be integer"):
        nearest_indices([0, S], [0.5], 10)
    with pytest.raises(InputError, match="stamps_ns must be integer"):
        bracketing_gaps(stamps_s, [0])
    # an empty list is an empty array of float64: still fine
    out, valid = poses_at_stamps([], np.zeros((0, 4, 4)), [5], 10, None)
    assert out.shape == (1, 4, 4) and not valid.any()


def test_poses_must_be_one_4x4_pose_per_stamp():
    with pytest.raises(InputError, match=r"poses must be \(3, 4, 4\).*\(2, 4, 4\)"):
        poses_at_stamps([0, S, 2 * S], np.stack([GT0, GT1]), [2 * S], 0, S)  # was IndexError
    with pytest.raises(InputError, match=r"poses must be \(2, 4, 4\).*\(2, 3, 4\)"):
        poses_at_stamps([0, S], np.stack([GT0, GT1])[:, :3], [0], 0, S)
    with pytest.raises(InputError, match=r"poses must be \(2, 4, 4\).*\(4, 4\)"):
        poses_at_stamps([0, S], GT0, [0], 0, S)
    # one stamp, one 4x4 pose: the reshape took it, and it is one pose per stamp
    out, valid = poses_at_stamps([S], GT1, [S, 2 * S], 0, None)
    assert valid.tolist() == [True, False]
    np.testing.assert_array_equal(out[0], GT1)


def test_exact_sample_taken_as_is_and_first_of_equal_stamps_wins():
    """Rule 1: a query at a sample's stamp takes that sample unchanged (not an interpolation
    that lands on it up to round-off); among equal stamps the first given wins, also after the
    samples had to be sorted."""
    mid = pose([0.3, -0.7, 1.1], [0.1, 0.2, 0.3])
    out, valid = poses_at_stamps(np.array([0, S, 2 * S]), np.stack([GT0, mid, GT1]), [S], 0, None)
    assert valid[0]
    np.testing.assert_array_equal(out[0], mid)
    other = pose([0, 0, 1.0], [5, 5, 5])
    stamps = np.array([2 * S, S, 0, S])  # unsorted: sorted stably, mid before other
    out, valid = poses_at_stamps(stamps, np.stack([GT1, mid, GT0, other]), [S], 0, None)
    assert valid[0]
    np.testing.assert_array_equal(out[0], mid)
    # long enough (20) for numpy's default, unstable sort to reorder equal stamps
    stamps = np.repeat(np.arange(10)[::-1], 2) * S  # 9, 9, 8, 8, ..., 0, 0
    poses = np.stack([pose([0, 0, 0.01 * i], [i, 0, 0]) for i in range(20)])
    out, valid = poses_at_stamps(stamps, poses, np.arange(10) * S, 0, None)
    assert valid.all()
    np.testing.assert_array_equal(out, poses[[2 * (9 - k) for k in range(10)]])


def test_first_of_equal_stamps_wins_in_interpolation_and_nearest_too():
    """The first-wins rule held for exact samples only: interpolation and the nearest sample
    after a duplicated stamp used its LAST pose (x = 1.1 at 10 ms instead of 0.2)."""
    ms = 1_000_000
    stamps = np.array([0, 0, 100 * ms])
    poses = np.stack([pose([0, 0, 0], [x, 0, 0]) for x in (0.0, 1.0, 2.0)])
    out, valid = poses_at_stamps(stamps, poses, [0, 10 * ms, 50 * ms], 20 * ms, 100 * ms)
    assert valid.all()
    np.testing.assert_allclose(out[:, 0, 3], [0.0, 0.2, 1.0], atol=1e-12)
    # a gap over max_gap_ns: the nearest sample within the tolerance, again the first given
    out, valid = poses_at_stamps(stamps, poses, [10 * ms], 20 * ms, 50 * ms)
    assert valid[0] and out[0, 0, 3] == 0.0


def test_lookup_samples_are_made_once_and_then_used_as_they_are(monkeypatch):
    """A tf edge with one repeated stamp copied its whole trajectory on every lookup (34 ms a
    lookup on an hour at 100 Hz): `lookup_samples` sorts and keeps the first of equal stamps
    once, and each lookup (`poses_at_samples`) takes them as they are: no pass over them at all
    (it checked their order and repeats per lookup: 0.6 ms on that hour)."""
    from mast3r_ros.core import trajectory
    from mast3r_ros.core.tf_buffer import TransformBuffer

    stamps = np.array([2, 0, 1, 1, 3]) * S
    poses = np.stack([pose([0, 0, 0], [x, 0, 0]) for x in (2.0, 0.0, 1.0, 9.0, 3.0)])
    st, po = lookup_samples(stamps, poses)
    np.testing.assert_array_equal(st, np.arange(4) * S)
    np.testing.assert_allclose(po[:, 0, 3], [0.0, 1.0, 2.0, 3.0])  # the first of the two at 1 s
    assert np.shares_memory(lookup_samples(st, po)[0], st)  # clean samples: not copied
    calls = []
    real = trajectory._first_of_sorted

    def spy(a, b):
        out = real(a, b)
        calls.append(out[0] is a)
        return out

    monkeypatch.setattr(trajectory, "_first_of_sorted", spy)
    buf = TransformBuffer()
    for t, p in zip(stamps, poses):
        buf.add_dynamic("map", "base_link", int(t), p)
    for t in (S, S + S // 2, 3 * S):
        buf.lookup("map", "base_link", t)
    assert calls == [False], calls  # prepared once, then used as they are
    np.testing.assert_allclose(buf.lookup("map", "base_link", S + S // 2)[0, 3], 1.5)


def test_a_non_finite_pose_is_an_input_error_naming_its_sample():
    """One NaN pose next to the query raised numpy's 'SVD did not converge' (interpolation) or
    returned a NaN pose marked valid (an exact query)."""
    stamps = np.array([0, S, 2 * S])
    poses = np.stack([GT0, GT1, GT0])
    poses[1, 0, 3] = np.nan
    for query in (S // 2, S):
        with pytest.raises(InputError, match=r"poses_at_stamps: the pose at stamp 1000000000 "
                                             r"ns is not finite: .*nan at \[0, 3\]"):
            poses_at_stamps(stamps, poses, [query], 0, None)
    with pytest.raises(InputError, match=r"interpolate_pose: a_from_b1 .*not finite"):
        interpolate_pose(GT0, poses[1], 0.5)
    # a sample no query uses is not read: checking the whole trajectory on every lookup made a
    # bag's tf lookups O(N) (17 ms each on an hour's edge at 100 Hz)
    stamps, poses = np.array([0, S, 2 * S, 3 * S]), np.stack([GT0, GT1, GT0, GT1])
    poses[3, 0, 3] = np.nan
    out, valid = poses_at_stamps(stamps, poses, [S // 2, 2 * S], 0, None)
    assert valid.all() and np.isfinite(out).all()


def test_negative_tolerance_or_gap_and_alpha_outside_0_1_are_refused():
    """tolerance_ns=-1 and max_gap_ns=-1 were accepted (no sample ever that near: no pose,
    no word); interpolate_pose(alpha=2) extrapolated silently."""
    stamps, poses = np.array([0, S]), np.stack([GT0, GT1])
    for kw, name in ((dict(tolerance_ns=-1, max_gap_ns=None), "tolerance_ns"),
                     (dict(tolerance_ns=0, max_gap_ns=-1), "max_gap_ns")):
        with pytest.raises(InputError, match=rf"poses_at_stamps: {name} must be >= 0 ns, got -1"):
            poses_at_stamps(stamps, poses, [S // 2], **kw)
    with pytest.raises(InputError, match=r"nearest_indices: tolerance_ns must be >= 0 ns"):
        nearest_indices(stamps, [0], -1)
    for alpha in (2.0, -0.5, float("nan")):
        with pytest.raises(InputError, match=r"interpolate_pose: alpha must be in \[0, 1\]"):
            interpolate_pose(GT0, GT1, alpha)


def test_a_clock_reset_is_one_step_back_of_more_than_a_second():
    """10 ms frames, then one step back: 0.53 s is not named a clock reset (a second at
    least), 2.03 s is, with where."""
    from mast3r_ros.core.trajectory import clock_reset_note

    ms = 1_000_000
    assert clock_reset_note([0, 10 * ms, 20 * ms, 30 * ms, -500 * ms]) == ""
    note = clock_reset_note([0, 10 * ms, 20 * ms, 30 * ms, -2000 * ms])
    assert note.startswith("; it goes back 2.030 s, once (t=0.030 -> -2.000 s)"), note
    assert clock_reset_note([0, 10 * ms, 20 * ms, 30 * ms, -970 * ms]) == ""  # 1 s: not more
    # 100 ms frames back 3.3 s (33 steps, more than 10) to before the first: a reset
    note = clock_reset_note([0, 100 * ms, 200 * ms, 300 * ms, -3000 * ms])
    assert note.startswith("; it goes back 3.300 s, once"), note


def test_an_overlapping_reset_is_one_step_back_into_the_stamps_before_it():
    """Two runs of 5 Hz frames, the second stamped from 50 ms after the first's start (the
    bag-time-jump case): the one step back (1.75 s, under 10 frame steps) lands among the
    earlier stamps and is a clock reset; a swapped pair of lines, or a second run entirely
    before the first, is not (sorting interleaves nothing there)."""
    from mast3r_ros.core.trajectory import clock_reset_note, overlapping_reset

    ms = 1_000_000
    run1 = [1000_000 * ms + 200 * ms * k for k in range(10)]
    run2 = [1000_050 * ms + 200 * ms * k for k in range(10)]
    assert overlapping_reset(run1 + run2) == 9
    assert clock_reset_note(run1 + run2).startswith("; it goes back 1.750 s, once")
    assert overlapping_reset([0, 10, 30, 20, 40, 50]) is None               # a swapped pair
    assert overlapping_reset(run2[5:] + run1[:5]) is None                   # runs apart
    assert overlapping_reset(run1) is None and overlapping_reset([3, 1, 2, 0]) is None


def test_lines_written_late_are_no_reset_but_a_run_on_the_samples_of_another_is():
    """Lines exported in receive order, two of them two lines late (0 1 2 3 4 7 8 5 6 9 10:
    the field tester's groundtruth.txt), go back once into earlier stamps but only fill the
    hole they left: refused as two recordings across a reset, they are one recording. A
    second run whose stamps fall between the first's samples, or on them, still is a reset."""
    from mast3r_ros.core.trajectory import overlapping_reset

    assert overlapping_reset([0, 1, 2, 3, 4, 7, 8, 5, 6, 9, 10]) is None
    assert overlapping_reset([0, 10, 20, 30, 40, 70, 80, 50, 55, 60, 90, 100]) is None
    run1 = [10 * k for k in range(10)]
    assert overlapping_reset(run1 + [5 + 10 * k for k in range(10)]) == 9    # between samples
    assert overlapping_reset(run1 + [10 * k for k in range(3, 12)]) == 9     # on the samples
    # a block written late: 5..9 after 10..12, each part filling the other's hole
    assert overlapping_reset([0, 1, 2, 3, 10, 11, 12, 5, 6, 7, 8, 9, 13]) is None
    # one part in a hole of the other, the other not in one of its own: a reset
    assert overlapping_reset([0, 2, 4, 6, 20, 22, 24, 10, 12, 14, 16, 18, 21, 23, 26]) == 6


def test_frame_spacing_names_integer_micro_and_milliseconds_but_not_a_fast_camera():
    """rgb.txt stamps written as integers above 1e12 are read as nanoseconds: integer
    microseconds (milliseconds) since the epoch then space 30 Hz frames 33 us (33 ns) apart,
    which is named with the unit and the fix; a real camera of 1 kHz (1 ms) or 200 Hz in
    integer nanoseconds is not, nor are stamps that were not written as integers."""
    from mast3r_ros.core.trajectory import frame_spacing_unit_mismatch

    us = [1_403_636_579_000_000 + 33_333 * k for k in range(5)]
    why = frame_spacing_unit_mismatch(us, integer_ns=True)
    assert why.startswith(f"its integer stamps ({us[0]}..{us[-1]}) are read as nanoseconds "
                          "(integers above 1e12), which puts the frames 33.3 us apart (a 30000 "
                          "Hz camera); as microseconds they are 33.3 ms apart: "), why
    assert why.endswith("(divide by 1000000) or to integer nanoseconds (multiply by 1000)")
    ms = [1_403_636_579_000 + 33 * k for k in range(5)]
    assert "; as milliseconds they are 33 ms apart" in frame_spacing_unit_mismatch(ms, True)
    assert frame_spacing_unit_mismatch(us, integer_ns=False) is None
    for step_ns in (1_000_000, 5_000_000):  # a 1 kHz and a 200 Hz camera, in nanoseconds
        ns = [1_403_636_579 * S + step_ns * k for k in range(5)]
        assert frame_spacing_unit_mismatch(ns, integer_ns=True) is None


def test_zero_tolerances_and_gap_are_a_valid_pose_rule():
    """0 s is a rule (exact stamps only, no interpolation), not a bad one: only a negative
    value is refused."""
    from mast3r_ros.core.config import PoseAtStampConfig
    from mast3r_ros.core.trajectory import check_pose_rule

    rule = PoseAtStampConfig(tolerance_s=0.0, max_gap_s=0.0)
    assert check_pose_rule(0.0, rule) is rule
    assert check_pose_rule(0, None) == PoseAtStampConfig()
    with pytest.raises(InputError, match=r"sync_tolerance_s must be >= 0 \(a number of seconds\), "
                                         r"got -1e-09"):
        check_pose_rule(-1e-9, rule)


def test_an_overlapping_reset_needs_two_stamps_of_each_part_in_the_others_span():
    """The bounds of `overlapping_reset`'s rule: a stamp equal to the other part's first or
    last stamp counts as inside its span; one stamp of a part inside (a single line out of
    place) is no reset, two are; and two steps back are a file out of order, not a reset."""
    from mast3r_ros.core.trajectory import overlapping_reset

    run1 = [10 * k for k in range(10)]                                  # 0 .. 90
    assert overlapping_reset(run1 + [0, 45, 100, 110, 120]) == 9        # back to the first
    assert overlapping_reset(run1 + [45, 90, 100, 110]) == 9            # on the last
    assert overlapping_reset(run1 + [80, 90, 100, 110]) == 9            # two of run1 on run2's
    assert overlapping_reset(run1 + [75, 85, 95, 105]) == 9             # two of each inside
    assert overlapping_reset(run1 + [45, 100, 110]) is None             # one line of run2 inside
    # the same reset followed by a second step back: out of order, not one reset
    assert overlapping_reset(run1 + [5 + 10 * k for k in range(10)]) == 9
    assert overlapping_reset(run1 + [5 + 10 * k for k in range(10)] + [96, 94]) is None


def test_a_hole_is_a_step_longer_than_one_and_a_half_median_steps():
    """`overlapping_reset`'s holes: a step of 1.2 median steps is none (the second run's lines
    in it are samples of another recording), one of 2 is (lines written late); the median is
    of the steps forward, a repeated stamp's zero step not counted; a stamp on a sample of the
    other part is in no hole of it, even when a long step follows the sample; and both parts
    must fill holes of the other for the step back to be lines written late."""
    from mast3r_ros.core.trajectory import overlapping_reset

    assert overlapping_reset([0, 10, 20, 30, 42, 52, 62] + [35, 38, 70, 80]) == 6
    assert overlapping_reset([0, 10, 20, 40, 50] + [27, 33, 60, 70]) is None
    assert overlapping_reset([0, 0, 10, 10, 20, 20, 30, 30, 40, 40]
                             + [5, 15, 45, 46, 47, 48, 49, 50]) == 9
    assert overlapping_reset([2, 8, 21, 24] + [8, 13, 14, 17, 25, 27]) == 3
    assert overlapping_reset([5, 13, 14, 24, 26] + [9, 11, 12, 24]) == 4  # 24 after a hole
    # run2 fills run1's holes (30..100, 100..200) but run1's 100 and 200 are no holes of run2
    run2 = list(range(40, 100, 2)) + [101] + list(range(150, 200, 2)) + [201, 203]
    assert overlapping_reset([0, 10, 20, 30, 100, 200] + run2) == 5


def test_python_int_stamps_at_the_int64_bounds():
    """Stamps given as Python ints (an object array: numpy's for ints past int64): -2**63 and
    2**63 - 1 are int64 stamps; 2**63 is refused naming it (not numpy's OverflowError)."""
    from mast3r_ros.core.trajectory import nearest_indices

    ends = np.array([-2 ** 63, 0, 2 ** 63 - 1], dtype=object)
    assert nearest_indices(ends, ends, 0).tolist() == [0, 1, 2]
    with pytest.raises(InputError, match=f"a stamp of {2 ** 63} ns lies outside int64"):
        nearest_indices(np.array([0, 2 ** 63], dtype=object), np.array([0]), 0)
