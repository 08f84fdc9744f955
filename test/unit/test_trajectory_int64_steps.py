"""Steps between int64 nanosecond stamps are exact over all of int64 (`trajectory.stamp_steps`):
``np.diff`` wraps a step from near 2**63 back to near -2**63 into a small step forward, so a
clock reset there was not seen (`clock_reset_note`, `overlapping_reset`), as the tf lookups'
stamp differences were not before (`_ns_apart`)."""

from __future__ import annotations

import numpy as np

from mast3r_ros.core import trajectory
from mast3r_ros.core.trajectory import clock_reset_note, overlapping_reset

LO, HI = -2 ** 63, 2 ** 63 - 1
S = 1_000_000_000


def test_stamp_steps_are_exact_from_one_end_of_int64_to_the_other():
    stamp_steps = trajectory.stamp_steps
    apart, back = stamp_steps(np.array([LO, HI, LO, 0, 5], np.int64))
    assert apart.dtype == np.uint64 and back.dtype == bool
    assert [int(a) for a in apart] == [2 ** 64 - 1, 2 ** 64 - 1, 2 ** 63, 5]
    assert back.tolist() == [False, True, False, False]
    apart, back = stamp_steps(np.array([7], np.int64))
    assert apart.shape == back.shape == (0,)


def test_a_clock_reset_from_the_top_of_int64_to_its_bottom_is_noted():
    """Three frames a second apart up to 2**63 - 1 ns, then two from -2**63: the step back
    wrapped to 2 s forward and no reset was noted."""
    s = np.array([HI - 3 * S, HI - 2 * S, HI - S, LO + 5, LO + S + 5], np.int64)
    note = clock_reset_note(s)
    assert note.startswith("; it goes back 18446744072.710 s, once"), note
    assert clock_reset_note(np.sort(s)) == ""          # sorted: no step back


def test_two_recordings_interleaved_across_the_whole_int64_range_are_split():
    before = [LO + 10, LO + 30, HI - 20, HI]
    after = [LO + 20, LO + 40, HI - 10]
    assert overlapping_reset(np.array(before + after, np.int64)) == len(before) - 1
