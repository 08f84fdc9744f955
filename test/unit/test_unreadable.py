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


def _resized(k, size=(320, 240), calib=(640, 480)):
    return UnreadableFrame(k * S, f"rgb/{k}.jpg is {size[0]}x{size[1]} but camera.yaml is for "
                           f"{calib[0]}x{calib[1]}", image_size=size, intrinsics_size=calib)


@pytest.mark.parametrize("n", [3, ALL_UNREADABLE_STOP])
def test_every_frame_of_another_size_than_the_calibration_is_not_called_broken(n):
    """A TUM folder whose images were resized after calibration (its own camera.yaml still for
    640x480): "rgb/0.jpg is 320x240 but camera.yaml is for 640x480 (the first 10 frames are
    unreadable: a broken recording, not one bad frame)". The images are fine; the calibration is
    of another size, and the scale that fits is said."""
    with pytest.raises(InputError) as e:
        list(hold_unreadable([_resized(k) for k in range(n)]))
    msg = str(e.value)
    assert "broken recording" not in msg, msg
    assert msg.startswith("rgb/0.jpg is 320x240 but camera.yaml is for 640x480 ("), msg
    assert ("are 320x240: the images read fine, the calibration is for another image size"
            in msg), msg
    assert ("resized by 0.5 after calibrating, the same one with fx, fy, cx, cy scaled by 0.5)"
            in msg), msg
    # another aspect ratio: no scale to suggest; frames of mixed sizes: still a broken recording
    with pytest.raises(InputError) as e:
        list(hold_unreadable([_resized(k, (320, 180)) for k in range(n)]))
    assert "another image size" in str(e.value) and "scaled by" not in str(e.value)
    with pytest.raises(InputError, match="a broken recording"):
        list(hold_unreadable([_resized(0), _bad(1), _bad(2)]))


def test_portrait_frames_under_a_landscape_calibration_are_said_turned():
    """Frames 480x640 under a camera.yaml for 640x480 (a camera mounted on its side) were told
    only 'the calibration is for another image size': width and height swapped is said."""
    with pytest.raises(InputError) as e:
        list(hold_unreadable([_resized(k, (480, 640)) for k in range(3)]))
    msg = str(e.value)
    assert "another image size" in msg and "scaled by" not in msg, msg
    assert "turned a quarter turn" in msg and "turned with them, for 480x640" in msg, msg
    with pytest.raises(InputError) as e:  # another size, not swapped: no turn said
        list(hold_unreadable([_resized(k, (480, 360)) for k in range(3)]))
    assert "quarter turn" not in str(e.value)


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
