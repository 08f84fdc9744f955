"""/diagnostics counts the poses published degraded (`ros/diagnostics.py`), as `localize` does.

Before, a pose the distortion gate's mid-run rule publishes marked ('published, degraded: ...')
was a plain success on /diagnostics: ``frames_localized`` counted it and nothing else did, and
the status went WARN only while the LAST frame was marked: 5 marked poses then a clean one read
OK, "tracking". Now ``degraded_in_window``, ``frames_degraded`` and ``last_degraded`` say them,
and the WARN holds while any is in the window, naming how many and why.
"""

from __future__ import annotations

import re
import time

import numpy as np
import pytest

from mast3r_ros.core.localizer.distortion_run_gate import DEGRADED_REASON, RECTIFIED_REASON
from mast3r_ros.core.tracker import Track
from mast3r_ros.ros.diagnostics import OK, WARN, DiagnosticsWindow, FrameRecord

MARK = DEGRADED_REASON + " (over 20 frames the inliers fit ...): poses may be biased"


def _values(d, now_s):
    s = d.summary(now_s, Track.TRACKING, True)
    return s, dict(s.values)


def test_a_degraded_pose_is_counted_apart_from_the_plain_ones():
    d = DiagnosticsWindow()
    s, v = _values(d, 0.0)
    assert (v["degraded_in_window"], v["frames_degraded"], v["last_degraded"]) == \
        ("0", "0", "none")
    d.add(FrameRecord(0.4, True, 100, reason=MARK))
    s, v = _values(d, 0.5)
    assert v["frames_localized"] == "1"      # published all the same
    assert (v["degraded_in_window"], v["frames_degraded"], v["last_degraded"]) == \
        ("1", "1", MARK)


def test_the_warning_holds_while_degraded_poses_are_in_the_window():
    d = DiagnosticsWindow(window_s=10.0)
    d.start(0.0)
    for k in range(5):
        d.add(FrameRecord(0.1 * (k + 1), True, 100, reason=MARK))
    d.add(FrameRecord(0.6, True, 100))            # the last pose is not marked
    d.add(FrameRecord(0.7, False, 3, reason="too few inliers (3 < 30)"))
    s, v = _values(d, 0.8)
    assert s.level == WARN, s.message
    assert s.message.startswith(DEGRADED_REASON + ": 5 of the 6 poses published in the last "
                                "10 s; the last (over 20 frames"), s.message
    assert v["degraded_in_window"] == "5" and v["frames_localized"] == "6"
    for k in range(60):                           # clean poses until the marked ones age out
        d.add(FrameRecord(1.0 + 0.2 * k, True, 100))
    s, v = _values(d, 12.9)
    assert (s.level, s.message) == (OK, "tracking")
    assert v["degraded_in_window"] == "0"
    assert v["frames_degraded"] == "5" and v["last_degraded"] == MARK   # totals stay
    d.start(20.0)                                 # a new activation: the window starts over
    _, v = _values(d, 20.1)
    assert v["degraded_in_window"] == "0" and v["frames_degraded"] == "5"


def test_a_refusal_on_the_last_frame_comes_before_the_window_s_degraded_poses():
    d = DiagnosticsWindow()
    d.start(0.0)
    d.add(FrameRecord(0.1, True, 100, reason=MARK))
    d.add(FrameRecord(0.2, False, 100, reason=RECTIFIED_REASON + " (over 21 frames ...)"))
    s, v = _values(d, 0.3)
    assert s.level == WARN and s.message.startswith(RECTIFIED_REASON)
    assert v["degraded_in_window"] == "1" and v["last_failure"].startswith(RECTIFIED_REASON)


def test_one_pose_and_every_pose_are_worded_as_such():
    """Not '1 of the 1 poses' nor '3 of the 3 poses': the single pose of the window is 'the 1
    pose', with its reason's details; every pose of the window is 'all 3 poses'."""
    d = DiagnosticsWindow()
    d.start(0.0)
    d.add(FrameRecord(0.1, True, 100, reason=MARK))
    s, _ = _values(d, 0.2)
    detail = MARK[len(DEGRADED_REASON):]     # ' (over 20 frames ...): poses may be biased'
    assert s.message == f"{DEGRADED_REASON}: the 1 pose published in the last 10 s{detail}"
    d.add(FrameRecord(0.3, True, 100, reason=MARK))
    d.add(FrameRecord(0.4, True, 100, reason=MARK))
    s, _ = _values(d, 0.5)
    assert s.message == (f"{DEGRADED_REASON}: all 3 poses published in the last 10 s; the "
                         f"last{detail}")
    d.add(FrameRecord(0.6, True, 100))
    s, _ = _values(d, 0.7)
    assert s.message.startswith(f"{DEGRADED_REASON}: 3 of the 4 poses published")
    d.add(FrameRecord(0.8, True, 100, reason="another caveat (x)"))
    d.add(FrameRecord(0.9, False, 3, reason="too few inliers (3 < 30)"))
    s, _ = _values(d, 1.0)
    assert s.message.startswith(f"4 of the 5 poses published in the last 10 s degraded "
                                f"({DEGRADED_REASON}: 3; another caveat: 1)"), s.message


def test_several_caveats_are_each_counted_in_the_message():
    """Any published pose with a reason is one with a caveat (as metrics.json's
    degraded_poses): with two kinds in the window the message counts each."""
    d = DiagnosticsWindow()
    d.start(0.0)
    d.add(FrameRecord(0.1, True, 100, reason=MARK))
    d.add(FrameRecord(0.2, True, 100, reason="another caveat (x)"))
    d.add(FrameRecord(0.3, True, 100, reason=MARK))
    d.add(FrameRecord(0.4, True, 100))
    s, v = _values(d, 0.5)
    assert s.level == WARN
    assert s.message == (f"3 of the 4 poses published in the last 10 s degraded "
                         f"({DEGRADED_REASON}: 2; another caveat: 1); the last: {MARK}")
    assert v["degraded_in_window"] == "3" and v["frames_degraded"] == "3"


def test_the_node_counts_a_degraded_pose_and_publishes_it_as_any_other():
    """Through the node's frame path: the marked pose is published with the same pose and
    covariance as an unmarked one (nothing on ~/pose or TF tells them apart; /diagnostics and
    its WARN are where a consumer sees the mark)."""
    import dataclasses

    from test_ros_processing import Host, Localizer, image, stamp

    loc = Localizer()
    plain = loc.localize
    loc.localize = lambda *a, **k: dataclasses.replace(plain(*a, **k), reason=MARK)
    host, clean = Host(localizer=loc), Host()
    host._process(image(stamp(0)))
    clean._process(image(stamp(0)))
    assert host._outputs.poses == clean._outputs.poses == [stamp(0)]
    (pose, cov), (pose0, cov0) = host._outputs.published[0], clean._outputs.published[0]
    np.testing.assert_array_equal(pose, pose0)
    np.testing.assert_array_equal(cov, cov0)
    s = host._diag.summary(time.monotonic(), host._tracking.track, True)
    v = dict(s.values)
    assert v["frames_localized"] == "1" and v["degraded_in_window"] == "1"
    assert v["frames_degraded"] == "1" and v["last_degraded"] == MARK
    assert s.level == WARN and s.message == f"{DEGRADED_REASON}: the 1 pose published in the " \
        f"last 10 s{MARK[len(DEGRADED_REASON):]}"


def _scripted_host(plan, monkeypatch):
    """A node (`test_ros_processing.Host`) whose localizer follows ``plan``: "d" a pose
    published degraded, "" a clean one, "fail" another failure, "rect" the mid-run refusal;
    its monotonic clock (``clock.t``) set by the test."""
    import dataclasses
    from types import SimpleNamespace as NS

    from test_ros_processing import Host, Localizer

    from mast3r_ros.ros import processing

    clock = NS(t=1000.0)
    monkeypatch.setattr(processing, "time", NS(monotonic=lambda: clock.t))
    reasons = {"d": MARK, "": "", "fail": "too few inliers (3 < 30)",
               "rect": RECTIFIED_REASON + " (over 21 frames ...)"}
    loc = Localizer()
    plain = loc.localize

    def localize(*a, **k):
        r, why = plain(*a, **k), reasons[plan[(loc.calls - 1) % len(plan)]]
        return dataclasses.replace(r, reason=why) if why in ("", MARK) else \
            dataclasses.replace(r, success=False, map_from_cam=None, reason=why)

    loc.localize = localize
    return Host(localizer=loc), clock


def _stretch_lines(host, before=0):
    return [m for lvl, m in host.logger.lines[before:] if lvl == "warning"
            and (DEGRADED_REASON in m or RECTIFIED_REASON in m)]


def test_the_node_logs_the_first_degraded_pose_of_each_stretch(monkeypatch):
    """As `localize` (`say_at_once`, one rule: `StretchLog`): a WARN line at the first pose
    published degraded, none for the next ones, again after a clean pose or when the mid-run
    rule's reason changes (a refusal between, itself logged at once as the first of its
    stretch) or after a reactivation, not after a failure for another reason: each here after
    a quiet 11 s (flapping faster: the next test). Before, the node logged no line at all for
    the poses it published degraded."""
    from test_ros_processing import image, stamp

    plan = ["d", "d", "d", "", "d", "fail", "d", "rect", "rect", "d", "d", "d"]
    host, clock = _scripted_host(plan, monkeypatch)
    said = []
    for k in range(len(plan)):
        clock.t += 11.0 if k in (4, 9) else 0.01
        before = len(host.logger.lines)
        if k == 11:                              # deactivated and activated again
            host._set_active(False)
            host._set_active(True)
        host._process(image(stamp(k)))
        said.append(_stretch_lines(host, before))
    assert len(host._outputs.poses) == 9       # every pose published, marked or not
    # the first refusal of its stretch too, though a failure was logged 0.02 s before it (the
    # throttle's 5 s); the second is throttled as any failure
    assert [len(s) for s in said] == [1, 0, 0, 0, 1, 0, 0, 1, 0, 1, 0, 1], host.logger.lines
    assert said[0] == [f"image at {stamp(0) / 1e9:.3f} s: {MARK}"]


@pytest.mark.parametrize("plan", [["d", ""], ["d", "rect"]])
def test_a_degraded_state_flapping_every_frame_logs_a_bounded_number_of_lines(plan,
                                                                             monkeypatch):
    """Degraded / clean (or degraded / refused) every frame, 100 frames at 30 Hz: every
    degraded frame began a stretch and was logged at once, 50 lines (100 with the refusals).
    Now a reason's first line at once, then at most one a reason every 10 s, saying how many
    stretches it held back; after a quiet 10 s the count held back is said in one line; a
    deactivate says what is held back then; /diagnostics counts every frame."""
    from test_ros_processing import image

    host, clock = _scripted_host(plan, monkeypatch)
    start = 100 * 10 ** 9 - 10 ** 9 // 2

    def run(frames):
        for _ in range(frames):
            k = host._localizer.calls
            clock.t += 1 / 30
            host.clock.now_ns = start + k * 10 ** 9 // 30 + 10 ** 7   # the node's ROS clock
            host._process(image(start + k * 10 ** 9 // 30))

    run(100)
    lines = _stretch_lines(host)
    # with the refusals: the first of each reason, and one held back by the failures' own 5 s
    # throttle (the first "failed" line), as a refusal within a stretch always was
    assert len(lines) == (1 if plan[1] == "" else 3), lines
    assert lines[0] == f"image at {start / 1e9:.3f} s: {MARK}"
    assert dict(host.summary().values)["frames_degraded"] == "50"
    run(300)                                           # 10 s more
    host._set_active(False)                            # a deactivate says what is held back
    lines = _stretch_lines(host)
    assert len(lines) <= (4 if plan[1] == "" else 10), lines  # were 200 (400 with refusals)
    assert lines[-1].startswith(f"{DEGRADED_REASON}: ") or lines[-2].startswith(
        f"{DEGRADED_REASON}: "), lines
    # every degraded stretch is said: a line of its own, or counted in one
    held = [int(n) for m in lines if m.startswith(DEGRADED_REASON) or MARK in m
            for n in re.findall(r"(\d+) more stretch", m)]
    assert sum(MARK in m for m in lines) + sum(held) == 200, lines
    assert "since its last line 10 s before, not logged one by one" in " ".join(lines)
