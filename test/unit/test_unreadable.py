"""The one rule `localize` and `build-map` share for frames a recording lists but cannot read
(replay/unreadable.py), on its own: which frames are held, counted and refused, and which
warnings are logged (the commands' tests see only their first few)."""

from __future__ import annotations

import logging

import pytest

from mast3r_ros.core.errors import InputError
from mast3r_ros.core.types import UnreadableFrame
from mast3r_ros.replay.unreadable import (ALL_UNREADABLE_STOP, hold_unreadable,
                                          warn_unreadable)

S = 1_000_000_000


def _bad(k):
    return UnreadableFrame(k * S, f"cannot read frame {k}")


def test_unreadable_frames_are_counted_and_those_before_the_first_read_are_held():
    frames = [_bad(0), _bad(1), "read 2", _bad(3), "read 4", _bad(5)]
    got = []
    for f, n in hold_unreadable(frames):
        got.append((f if isinstance(f, str) else f.stamp_ns // S, n))
    assert got == [(0, 1), (1, 2), ("read 2", 0), (3, 3), ("read 4", 0), (5, 4)]


def test_a_frame_exempt_from_the_rule_is_taken_as_read():
    """A resumed run's recorded frame, unreadable now: yielded as read (n = 0), so that it
    neither counts nor, with the frames before it, makes a broken recording."""
    frames = [_bad(k) for k in range(ALL_UNREADABLE_STOP + 3)]
    got = list(hold_unreadable(frames, lambda f: f.stamp_ns == 3 * S))
    assert [(f.stamp_ns // S, n) for f, n in got[:5]] == [(0, 1), (1, 2), (2, 3), (3, 0), (4, 4)]
    assert got[-1][1] == ALL_UNREADABLE_STOP + 2


def test_the_only_frame_unreadable_is_named_so():
    with pytest.raises(InputError, match=r"^cannot read frame 0 \(the only frame is unreadable: "
                       "a broken recording, not one bad frame\\)$"):
        list(hold_unreadable([_bad(0)]))
    with pytest.raises(InputError, match=r"^cannot read frame 0 \(all 2 frames are unreadable"):
        list(hold_unreadable([_bad(0), _bad(1)]))


def test_the_first_ten_warned_one_by_one_then_every_hundredth(caplog):
    with caplog.at_level(logging.WARNING, logger="mast3r_ros.replay.unreadable"):
        for n in range(1, 302):
            warn_unreadable(_bad(n), n, "a failed frame")
    warned = {int(r.getMessage().split("t=")[1].split(".")[0]): r.getMessage()
              for r in caplog.records}
    assert sorted(warned) == list(range(1, 11)) + [100, 200, 300]
    assert warned[1] == "frame at t=1.000000 s skipped (a failed frame): cannot read frame 1"
    assert warned[9].endswith("cannot read frame 9")
    assert warned[10].endswith("cannot read frame 10 (10 unreadable frames so far; from here "
                               "on every 100th is logged)")
    assert warned[200].endswith("cannot read frame 200 (200 unreadable frames so far)")


def test_a_skipped_frame_is_placed_on_the_trajectory_whatever_the_order_of_the_poses():
    """keyframes.png's crosses (`plots.skipped_positions`): a skipped frame's position is the
    trajectory's at its stamp, interpolated in time and held at the ends, also when the posed
    frames came out of stamp order (a bag recorded out of order)."""
    import numpy as np

    from mast3r_ros.replay.plots import skipped_positions

    stamps = [2 * S, 0, 1 * S, 4 * S]
    poses = np.tile(np.eye(4), (4, 1, 1))
    poses[:, 0, 3] = [20.0, 0.0, 10.0, 40.0]  # x = 10 m/s * t
    poses[:, 1, 3] = [-2.0, 0.0, -1.0, -4.0]
    got = skipped_positions(stamps, poses, [S // 2, 3 * S, -S, 5 * S])
    np.testing.assert_allclose(got, [[5, -0.5, 0], [30, -3, 0], [0, 0, 0], [40, -4, 0]])
    assert skipped_positions(stamps, poses, []).shape == (0, 3)
