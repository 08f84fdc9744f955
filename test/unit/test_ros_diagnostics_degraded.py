"""/diagnostics counts the poses published degraded (`ros/diagnostics.py`), as `localize` does.

Before, a pose the distortion gate's mid-run rule publishes marked ('published, degraded: ...')
was a plain success on /diagnostics: ``frames_localized`` counted it and nothing else did, and
the status went WARN only while the LAST frame was marked: 5 marked poses then a clean one read
OK, "tracking". Now ``degraded_in_window``, ``frames_degraded`` and ``last_degraded`` say them,
and the WARN holds while any is in the window, naming how many and why.
"""

from __future__ import annotations

import time

import numpy as np

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


def test_the_node_logs_the_first_degraded_pose_of_each_stretch():
    """As `localize` (`say_at_once`, one rule: `stretch_news`): a WARN line at the first pose
    published degraded, none for the next ones, again after a clean pose or when the mid-run
    rule's reason changes (a refusal between, itself logged at once as the first of its
    stretch) or after a reactivation, not after a failure for another reason. Before,
    the node logged no line at all for the poses it published degraded."""
    import dataclasses

    from test_ros_processing import Host, Localizer, image, stamp

    plan = ["d", "d", "d", "", "d", "fail", "d", "rect", "rect", "d", "d", "d"]
    reasons = {"d": MARK, "": "", "fail": "too few inliers (3 < 30)",
               "rect": RECTIFIED_REASON + " (over 21 frames ...)"}
    loc = Localizer()
    plain = loc.localize

    def localize(*a, **k):
        r, why = plain(*a, **k), reasons[plan[loc.calls - 1]]
        return dataclasses.replace(r, reason=why) if why in ("", MARK) else \
            dataclasses.replace(r, success=False, map_from_cam=None, reason=why)

    loc.localize = localize
    host = Host(localizer=loc)
    said = []
    for k in range(len(plan)):
        before = len(host.logger.lines)
        if k == 11:                              # deactivated and activated again
            host._set_active(False)
            host._set_active(True)
        host._process(image(stamp(k)))
        said.append([m for lvl, m in host.logger.lines[before:] if lvl == "warning"
                     and (DEGRADED_REASON in m or RECTIFIED_REASON in m)])
    assert len(host._outputs.poses) == 9       # every pose published, marked or not
    # the first refusal of its stretch too, though a failure was logged 0.02 s before it (the
    # throttle's 5 s); the second is throttled as any failure
    assert [len(s) for s in said] == [1, 0, 0, 0, 1, 0, 0, 1, 0, 1, 0, 1], host.logger.lines
    assert said[0] == [f"image at {stamp(0) / 1e9:.3f} s: {MARK}"]
