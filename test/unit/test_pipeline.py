"""The offline pipeline drives the localizer through the one tracker (no model, no map)."""

from __future__ import annotations

import numpy as np

from mast3r_ros.core.tracker import Track, Tracker
from mast3r_ros.core.types import Frame, LocalizationResult
from mast3r_ros.replay.pipeline import localize_frames, select_frames
from mast3r_test_utils import pose

RGB = np.zeros((4, 4, 3), np.uint8)


class ScriptedLocalizer:
    """A stateless localizer (the Localizer contract's signature) that replays a script of
    successes and failures and records the hint it was given for each frame."""

    def __init__(self, script):
        self.script = list(script)
        self.hints = []

    def localize(self, frame, prior=None, force_global=False, *, hint=None, with_matches=False):
        self.hints.append(None if hint is None else hint[0, 3])
        if self.script.pop(0):
            return LocalizationResult(True, frame.stamp_ns, pose([0, 0, 0], [frame.stamp_ns, 0, 0]))
        return LocalizationResult.failure(frame.stamp_ns, "scripted failure")


def frames(stamps):
    return [Frame(RGB, None, s) for s in stamps]


def test_hint_is_the_last_success_until_lost():
    loc = ScriptedLocalizer([True, False, True, False, False, True])
    tracker = Tracker(lost_after_failures=2)
    out = list(localize_frames(loc, frames([1, 2, 3, 4, 5, 6]), tracker))
    assert [r.success for _, r in out] == [True, False, True, False, False, True]
    # frame 6 follows two failures: lost, so no hint (global retrieval)
    assert loc.hints == [None, 1.0, 1.0, 3.0, 3.0, None]
    assert tracker.track is Track.TRACKING and tracker.hint()[0, 3] == 6.0


def test_time_going_backwards_resets_and_global_only_gives_no_hint():
    loc = ScriptedLocalizer([True, True, True])
    list(localize_frames(loc, frames([5, 6, 2]), Tracker()))
    assert loc.hints == [None, 5.0, None]  # 2 < 6: tracking reset
    loc = ScriptedLocalizer([True, True])
    list(localize_frames(loc, frames([1, 2]), Tracker(), global_only=True))
    assert loc.hints == [None, None]


def test_select_frames_stride_and_limit():
    got = [f.stamp_ns for f in select_frames(frames(range(10)), stride=3, max_frames=3)]
    assert got == [0, 3, 6]
