"""Pins on `run_labels`' short-loop rule (a stamp back at its run's first one, the next not past
the top, starts a new run) that test_reader_gaps.py and test_rosbag_runs.py left free: each
failed on a hand mutant of runs.py."""

from __future__ import annotations

from mast3r_ros.replay.rosbag import run_labels


def test_a_replay_whose_next_stamp_equals_the_top_is_a_new_run():
    """'the next stamp stays at or below the highest': a next stamp equal to the top does not
    climb past it, so the replay from the first stamp is a new run (a rule of '< top' merged
    [0, 1, 2] and [0, 2, 3, 4, 5] into one run)."""
    assert run_labels([0, 1, 2, 0, 2, 3, 4, 5]) == [1] * 3 + [2] * 5


def test_a_new_run_has_its_own_first_stamp():
    """After a clock reset the new run's first stamp is the reset's: a late message of run 2
    (1, then 2 again) is older than run 1's first stamp 10 but not than run 2's 0, so it stays
    in run 2 (kept against run 1's first, it split off a run 3)."""
    assert run_labels([10, 11, 12, 0, 1, 2, 1, 2, 5, 6]) == [1] * 3 + [2] * 7
