"""What only the log said, now on /diagnostics too (`DiagnosticsWindow.note`), without ROS: an
/initialpose the node ignored (WARN), a broken bond with Nav2's lifecycle manager (ERROR), a
frame in inference outliving a deactivate's or a cleanup's wait (ERROR), each for the window."""

from __future__ import annotations

import threading
import time

import pytest
from test_ros_clock_jumps import Host, _initialpose
from test_ros_processing import image, stamp

from mast3r_ros.core.tracker import Track
from mast3r_ros.ros.diagnostics import ERROR, OK, WARN, DiagnosticsWindow, FrameRecord


def _now(host):
    with host._lock:
        summary = host._diag.summary(time.monotonic(), host._tracking.track, host._active)
    return summary, dict(summary.values)


def _tracking_host():
    """An active host whose first frame localized: /diagnostics says OK 'tracking'."""
    host = Host()
    host._active = True
    host._process(image(stamp(0)))
    assert _now(host)[0].level == OK
    return host


def test_an_ignored_initialpose_is_a_warning_on_diagnostics():
    """An operator's /initialpose in the wrong frame was refused in the log only: a user
    watching /diagnostics saw OK 'tracking' and no reason why the robot did not move."""
    host = _tracking_host()
    host._initial_pose(_initialpose(frame_id="odom"))
    summary, values = _now(host)
    assert summary.level == WARN, summary.message
    assert summary.message.startswith("ignoring /initialpose") and "'odom'" in summary.message
    assert values["last_initialpose_ignored"] == summary.message


def test_an_initialpose_sent_to_an_inactive_node_is_a_value_not_a_level():
    host = Host()
    host._active = False
    host._cfg = None                        # unconfigured (configured: kept for activate)
    host._initial_pose(_initialpose())
    summary, values = _now(host)
    assert summary.level == OK
    assert values["last_initialpose_ignored"] == ("ignoring /initialpose: the node is not "
                                                  "configured")


def test_a_broken_bond_is_an_error_on_diagnostics_until_the_next_activation():
    """Nav2's lifecycle manager takes a lost bond as the node being down (and brings the stack
    down): said as a warning in the log only, /diagnostics kept saying OK."""
    host = _tracking_host()
    host._bond_broken("bond with the lifecycle manager broken: no heartbeat from the peer for "
                      "4.0 s")
    summary, values = _now(host)
    assert summary.level == ERROR and "no heartbeat" in summary.message
    assert "lifecycle manager takes the node as down" in values["last_bond_failure"]
    with host._lock:
        host._diag.start(time.monotonic())            # activated again: a new bond
    summary, values = _now(host)
    assert summary.level != ERROR and "no heartbeat" in values["last_bond_failure"]


class _StuckWorker:
    def pause(self, timeout_s):
        return False

    def stop(self, timeout_s):
        return False


def _stuck_host():
    from test_ros_teardown import Host as TeardownHost

    host = TeardownHost()
    host._worker = _StuckWorker()
    return host


def test_a_frame_outliving_the_deactivate_wait_is_an_error_on_diagnostics():
    """The deactivate's frame still in inference after 30 s was logged as an error, while
    /diagnostics said STALE 'not active' as after any deactivate."""
    host = _stuck_host()
    host._teardown_active()
    summary, values = _now(host)
    assert summary.level == ERROR, summary.message
    assert "did not end within 30 s" in summary.message
    assert values["last_teardown_problem"] == summary.message


def test_an_inference_thread_outliving_cleanup_is_an_error_on_diagnostics_but_not_at_exit():
    host = _stuck_host()
    host._teardown_configured()
    summary, _ = _now(host)
    assert summary.level == ERROR and "did not stop within 30 s" in summary.message
    quiet = _stuck_host()
    quiet._exiting = threading.Event()
    quiet._exiting.set()
    quiet._teardown_configured()
    assert _now(quiet)[1]["last_teardown_problem"] == "none"


def test_a_note_sets_the_level_for_the_window_only():
    diag = DiagnosticsWindow(window_s=10.0)
    diag.start(0.0)
    diag.add(FrameRecord(100.0, True, 50))
    diag.note(100.0, "initialpose_ignored", WARN, "ignoring /initialpose: x")
    assert diag.summary(100.5, Track.TRACKING, True).level == WARN
    diag.add(FrameRecord(111.0, True, 50))
    later = diag.summary(111.0, Track.TRACKING, True)
    assert later.level == OK and dict(later.values)["last_initialpose_ignored"].endswith("x")
    with pytest.raises(ValueError):
        diag.note(0.0, "other", WARN, "")
