"""`StretchLog` (core/localizer/stretch_log.py): when `localize` and the node log the distortion
gate's mid-run reasons. Before it, `stretch_news` alone said every stretch at once, and a state
flipping degraded / clean every frame was logged every other frame without bound."""

from __future__ import annotations

import numpy as np

from mast3r_ros.core.localizer.distortion_run_gate import DEGRADED_REASON, RECTIFIED_REASON
from mast3r_ros.core.localizer.stretch_log import StretchLog
from mast3r_ros.core.types import LocalizationResult

D = DEGRADED_REASON + " (over 20 frames ...)"
R = RECTIFIED_REASON + " (over 21 frames ...)"


def res(what):
    if what == "rect":
        return LocalizationResult.failure(0, R)
    return LocalizationResult(True, 0, np.eye(4), reason=D if what == "d" else "")


def test_flapping_every_frame_gives_a_line_a_reason_per_interval_with_the_count():
    log, said = StretchLog(10.0), []
    for k in range(100):                                 # 3.3 s at 30 Hz
        lines = log.note(res("d" if k % 2 == 0 else ""), 50.0 + k / 30)
        said += [lines.reason] * bool(lines.reason) + lines.summaries
    assert said == [D]                                   # was 50 lines
    lines = log.note(res(""), 60.0)                      # 10 s after the line: the summary
    assert lines.reason == "" and lines.summaries == [
        f"{DEGRADED_REASON}: 49 more stretches of it since its last line 10 s before, not "
        "logged one by one"]
    assert log.note(res("d"), 60.1).reason == ""         # held again: 10 s from the summary
    assert log.flush() == [f"{DEGRADED_REASON}: 1 more stretch of it after its last line, "
                           "not logged one by one"]


def test_the_first_stretch_after_a_quiet_interval_is_said_at_once():
    log = StretchLog(10.0)
    assert log.note(res("d"), 0.0).reason == D
    assert log.note(res("d"), 1.0).reason == ""          # the same stretch
    assert log.note(res(""), 2.0) == ("", [])
    assert log.note(res("d"), 12.0).reason == D          # quiet 12 s: at once, nothing held
    assert log.note(res("rect"), 12.1).reason == R       # another reason: its own interval
    assert log.note(res("d"), 12.2).reason == ""
    lines = log.note(res("d"), 22.0)                     # the same stretch: its summary due
    assert lines == ("", [f"{DEGRADED_REASON}: 1 more stretch of it since its last line 10 s "
                          "before, not logged one by one"])  # nothing held back for rect
    assert log.note(res(""), 22.1) == ("", [])


def test_a_clock_going_backwards_and_a_flush_say_the_next_stretch_at_once():
    log = StretchLog(10.0)
    assert log.note(res("d"), 100.0).reason == D
    for t, what in ((100.1, ""), (100.2, "d"), (100.3, "")):
        assert log.note(res(what), t) == ("", [])
    assert log.note(res("d"), 3.0).reason == (           # a bag loop's stamps: due at once
        f"{D} (1 more stretch of it since its last line, not logged one by one)")
    assert log.flush() == []
    assert log.note(res("d"), 3.1).reason == D           # a reactivation: the stretch anew
