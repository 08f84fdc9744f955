"""The node's /diagnostics summary, without ROS (`ros/diagnostics.py`)."""

from __future__ import annotations

import pytest

from mast3r_ros.core.tracker import Track
from mast3r_ros.ros.diagnostics import (
    ERROR,
    OK,
    STALE,
    WARN,
    DiagnosticsWindow,
    FrameRecord,
)


def test_diagnostics_levels():
    d = DiagnosticsWindow(window_s=10.0, no_image_warn_s=5.0)
    s = d.summary(0.0, Track.UNINITIALIZED, active=False)
    assert s.level == OK and s.message.startswith("not active")
    d.start(0.0)
    s = d.summary(1.0, Track.UNINITIALIZED, active=True)
    assert s.level == WARN and "not localized" in s.message
    assert d.summary(6.0, Track.UNINITIALIZED, True).message.startswith("no images")
    for k in range(10):
        d.add(FrameRecord(6.0 + 0.2 * k, True, 120 + k, 0.15, 0.1,
                             timings_s=(("inference", 0.08), ("pnp", 0.01))))
    s = d.summary(8.0, Track.TRACKING, True)
    assert s.level == OK and s.message == "tracking"
    values = dict(s.values)
    assert all(isinstance(v, str) for v in values.values())
    assert values["inliers"] == "129"
    assert float(values["rate_hz"]) == pytest.approx(10 / 8.0, rel=1e-3)
    assert values["latency_s"] == "0.150" and values["success_rate"] == "1.00"
    assert values["time_inference_ms"] == "80.0" and values["last_failure"] == "none"
    d.add(FrameRecord(8.1, False, 3, reason="too few inliers (3 < 30)"))
    s = d.summary(8.2, Track.TRACKING, True)
    assert s.level == WARN and "too few inliers" in s.message
    assert dict(s.values)["last_failure"] == "too few inliers (3 < 30)"
    assert d.summary(8.2, Track.LOST, True).level == WARN
    d.add(FrameRecord(8.3, False, reason="inference error: RuntimeError('CUDA')", error=True))
    s = d.summary(8.4, Track.TRACKING, True)
    assert s.level == ERROR and "CUDA" in s.message
    d.add(FrameRecord(20.0, True, 200, 0.1, 0.1))         # errors age out of the window
    assert d.summary(20.1, Track.TRACKING, True).level == OK
    d.add(FrameRecord(20.2, False, dropped=True, reason="replaced by a newer image"))
    values = dict(d.summary(20.3, Track.TRACKING, True).values)
    assert values["dropped_in_window"] == "1" and values["errors"] == "1"
    d.start(100.0)                                       # re-activated much later
    assert not d.summary(101.0, Track.TRACKING, True).message.startswith("no images")
    assert d.summary(106.0, Track.TRACKING, True).message.startswith("no images")




def test_images_arriving_are_never_reported_as_no_images():
    """Zero-stamp camera (cases/zero-header-stamp): 10 Hz arrive, every one is refused."""
    d = DiagnosticsWindow(window_s=10.0, no_image_warn_s=5.0)
    d.start(0.0)
    reason = "header.stamp is zero: the camera driver does not stamp its images"
    for k in range(100):
        t = 0.1 * k
        d.note_arrival(t, 0)
        d.add(FrameRecord(t, False, reason=reason, dropped=True, refused=True))
    s = d.summary(9.95, Track.UNINITIALIZED, True)
    values = dict(s.values)
    assert s.level == WARN and not s.message.startswith("no images")
    assert "images arrive" in s.message and "stamp is zero" in s.message
    assert values["images_received"] == "100" and values["stamps_zero"] == "100"
    assert values["frames_refused"] == "100" and values["last_failure"] == reason
    assert float(values["arrival_rate_hz"]) == pytest.approx(10.0, rel=0.02)
    assert values["rate_hz"] == "0.00"
    # the camera stops: now it is "no images"
    assert d.summary(16.0, Track.UNINITIALIZED, True).message.startswith("no images")


def test_repeated_stamps_are_counted():
    d = DiagnosticsWindow()
    d.start(0.0)
    for k in range(6):
        d.note_arrival(0.1 * k, 1_000_000_000 * (k // 2 + 1))       # each stamp twice
    assert dict(d.summary(1.0, Track.UNINITIALIZED, True).values)["stamps_repeated"] == "3"


def test_resets_are_named():
    d = DiagnosticsWindow()
    d.start(0.0)
    d.note_reset(1.0, "image time went backwards (12.000 -> 3.000 s)")
    s = d.summary(1.5, Track.UNINITIALIZED, True)
    values = dict(s.values)
    assert values["resets"] == "1" and "went backwards" in values["last_reset"]
    assert "went backwards" in s.message
    d.add(FrameRecord(1.6, False, reason="too few inliers (3 < 30)"))
    assert "too few inliers" in d.summary(1.7, Track.UNINITIALIZED, True).message


def test_status_identity_carries_the_namespace():
    from mast3r_ros.ros.diagnostics import status_identity
    assert status_identity("/", "mast3r_localizer", "localization") == \
        ("/mast3r_localizer: localization", "/mast3r_localizer")
    name, hw = status_identity("/robot1", "mast3r_localizer", "localization")
    assert name == "/robot1/mast3r_localizer: localization" and hw == "/robot1/mast3r_localizer"
    assert status_identity("/robot2", "mast3r_localizer", "localization")[0] != name


def test_last_failure_names_an_unexpected_error():
    d = DiagnosticsWindow()
    d.start(0.0)
    for k in range(10):
        d.add(FrameRecord(0.1 * k, False, reason="inference failed: RuntimeError('shape')",
                          error=True))
    s = d.summary(1.0, Track.TRACKING, True)
    values = dict(s.values)
    assert s.level == ERROR and "RuntimeError('shape')" in s.message
    assert values["errors"] == "10" and "RuntimeError" in values["last_failure"]


def test_the_diagnostics_timer_runs_on_the_steady_clock(monkeypatch):
    """Under use_sim_time a timer on the node's clock stops with /clock (a paused simulation,
    before the first /clock): /diagnostics, promised every second in every state, would stop."""
    import importlib
    import sys
    import types
    from types import SimpleNamespace as NS

    def mod(name, **attrs):
        m = types.ModuleType(name)
        m.__dict__.update(attrs)
        monkeypatch.setitem(sys.modules, name, m)
    mod("diagnostic_msgs")
    mod("diagnostic_msgs.msg", DiagnosticArray=object)
    mod("rclpy")
    mod("rclpy.clock", Clock=lambda clock_type: NS(clock_type=clock_type),
        ClockType=NS(STEADY_TIME="steady", ROS_TIME="ros"))
    monkeypatch.delitem(sys.modules, "mast3r_ros.ros.diagnostics_publisher", raising=False)
    monkeypatch.delitem(sys.modules, "mast3r_ros.ros.conversions", raising=False)
    conv = types.ModuleType("mast3r_ros.ros.conversions")
    monkeypatch.setitem(sys.modules, "mast3r_ros.ros.conversions", conv)
    monkeypatch.setattr(sys.modules["mast3r_ros.ros"], "conversions", conv, raising=False)
    dp = importlib.import_module("mast3r_ros.ros.diagnostics_publisher")
    timers = []
    node = NS(get_namespace=lambda: "/", get_name=lambda: "mast3r_localizer",
              create_publisher=lambda *a: NS(),
              create_timer=lambda period, cb, clock=None: timers.append((period, clock)))
    dp.DiagnosticsPublisher(node, "localization", lambda: None)
    (period, clock), = timers
    assert period == 1.0 and clock.clock_type == "steady"
    # shutting down (SIGTERM during a long configure): nothing published, nothing logged
    going = dp.DiagnosticsPublisher(node, "localization", lambda: 1 / 0, lambda: True)
    going.publish_now()
    sys.modules.pop("mast3r_ros.ros.diagnostics_publisher", None)


def test_configuring_is_said_while_the_model_loads():
    """Configure blocks the executor for minutes (a compile, a TensorRT build); the node
    publishes from its wait (`LatestMessageWorker.call`'s heartbeat) and says what it does."""
    d = DiagnosticsWindow()
    d.configuring_since_s = 100.0
    s = d.summary(142.4, Track.UNINITIALIZED, active=False)
    assert s.level == OK and s.message == ("configuring: loading the model and the map "
                                           "(42 s so far)")
    assert dict(s.values)["state"] == "configuring"
    d.configuring_since_s = None
    s = d.summary(143.0, Track.UNINITIALIZED, active=False)
    assert s.message.startswith("not active") and dict(s.values)["state"] == "inactive"


def test_latency_processing_and_stage_times_are_medians_of_handled_frames():
    """Medians, not means, and of the handled frames only (a dropped frame ran no stage).
    Latencies 0.1, 0.2, 0.9 s: median 0.2 (mean 0.4); processing 0.05, 0.06, 0.4 s: median
    0.06; inference 10, 20, 300 ms: median 20 ms (mean 110)."""
    d = DiagnosticsWindow()
    d.start(0.0)
    for k, (lat, proc, inf) in enumerate(((0.1, 0.05, 0.01), (0.9, 0.4, 0.3),
                                          (0.2, 0.06, 0.02))):
        d.add(FrameRecord(1.0 + k, True, 100, lat, proc, timings_s=(("inference", inf),)))
    d.add(FrameRecord(4.0, False, latency_s=7.0, processing_s=7.0, dropped=True,
                      reason="replaced by a newer image", timings_s=(("inference", 7.0),)))
    values = dict(d.summary(4.5, Track.TRACKING, True).values)
    assert values["latency_s"] == "0.200"
    assert values["processing_s"] == "0.060"
    assert values["time_inference_ms"] == "20.0"


def test_the_window_holds_frames_exactly_window_s_old():
    """The window is [now - window_s, now] for every statistic, as `ArrivalStats` keeps its
    arrivals: a frame (or an error) exactly 10 s old is still in it, one older is not."""
    d = DiagnosticsWindow(window_s=10.0)
    d.start(0.0)
    d.add(FrameRecord(0.0, False, dropped=True, reason="replaced by a newer image"))
    assert dict(d.summary(10.0, Track.TRACKING, True).values)["dropped_in_window"] == "1"
    assert dict(d.summary(10.5, Track.TRACKING, True).values)["dropped_in_window"] == "0"
    e = DiagnosticsWindow(window_s=10.0)
    e.start(0.0)
    e.add(FrameRecord(2.0, False, reason="inference error: RuntimeError('CUDA')", error=True))
    e.note_arrival(11.5, 1)
    assert e.summary(12.0, Track.TRACKING, True).level == ERROR
    assert e.summary(12.25, Track.TRACKING, True).level != ERROR


def test_totals_count_each_kind_of_frame_once():
    """3 localized + 1 failed = 4 processed; 2 dropped (one of them refused at the boundary)
    are neither processed nor localized."""
    d = DiagnosticsWindow()
    d.start(0.0)
    for t in (1.0, 1.1, 1.2):
        d.add(FrameRecord(t, True, 100, 0.1, 0.1))
    d.add(FrameRecord(1.3, False, 3, reason="too few inliers (3 < 30)"))
    d.add(FrameRecord(1.4, False, dropped=True, reason="replaced by a newer image"))
    d.add(FrameRecord(1.5, False, dropped=True, refused=True, reason="header.stamp is zero"))
    values = dict(d.summary(2.0, Track.TRACKING, True).values)
    assert values["frames_processed"] == "4"
    assert values["frames_localized"] == "3"
    assert values["frames_refused"] == "1"
    assert values["dropped_in_window"] == "2"
    d.note_reset(2.1, "image time went backwards (12.000 -> 3.000 s)")
    d.note_reset(2.2, "/initialpose received")
    values = dict(d.summary(2.3, Track.UNINITIALIZED, True).values)
    assert values["resets"] == "2" and values["last_reset"] == "/initialpose received"


def test_last_failure_is_only_set_by_a_failure_that_names_its_reason():
    d = DiagnosticsWindow()
    d.start(0.0)
    d.add(FrameRecord(1.0, False, reason="too few inliers (3 < 30)"))
    d.add(FrameRecord(1.1, False))                       # no reason: the last one stays
    d.add(FrameRecord(1.2, True, 100, reason="accepted"))  # a success is not a failure
    assert dict(d.summary(1.3, Track.TRACKING, True).values)["last_failure"] == \
        "too few inliers (3 < 30)"


def test_rate_counts_handled_frames_over_the_window_or_since_activation():
    """100 frames at 10 Hz in the last 10 s, activated 30 s ago: 100 / 10 s = 10 Hz (not
    100 / 30 s). Dropped frames count in neither rate_hz nor success_rate."""
    d = DiagnosticsWindow(window_s=10.0)
    d.start(0.0)
    for k in range(100):
        d.add(FrameRecord(20.0 + 0.1 * k, True, 100, 0.1, 0.1))
    assert dict(d.summary(29.95, Track.TRACKING, True).values)["rate_hz"] == "10.00"
    e = DiagnosticsWindow(window_s=10.0)
    e.start(0.0)
    for k in range(4):               # 2 localized, 2 failed, 4 dropped over 8 s
        e.add(FrameRecord(1.0 + k, k % 2 == 0, 100, reason="" if k % 2 == 0 else "x"))
        e.add(FrameRecord(1.5 + k, False, dropped=True, reason="replaced by a newer image"))
    values = dict(e.summary(8.0, Track.TRACKING, True).values)
    assert values["rate_hz"] == "0.50"                   # 4 handled / 8 s since activation
    assert values["success_rate"] == "0.50"              # 2 / 4 handled


def test_arrival_rate_counts_from_activation_when_that_is_recent():
    """20 images at 10 Hz since an activation 2 s ago: 10 Hz, not 20 / 10 s window = 2 Hz."""
    d = DiagnosticsWindow(window_s=10.0)
    d.start(100.0)
    for k in range(20):
        d.note_arrival(100.0 + 0.1 * k, 1_000_000_000 + k)
    assert dict(d.summary(102.0, Track.UNINITIALIZED, True).values)["arrival_rate_hz"] == \
        "10.00"


def test_images_arriving_before_the_first_frame_is_handled_are_not_no_images():
    """A first frame that takes longer than no_image_warn_s (a compile on the first
    inference): images arrive, none has been handled yet. Not "no images", and not "none
    reaches the localizer" either (one is in it)."""
    d = DiagnosticsWindow(window_s=10.0, no_image_warn_s=5.0)
    d.start(0.0)
    for k in range(100):
        d.note_arrival(0.1 * k, 1_000_000_000 + k)
    s = d.summary(9.95, Track.UNINITIALIZED, True)
    assert s.level == WARN and s.message == "not localized yet"


def test_arriving_and_no_images_meet_at_exactly_no_image_warn_s():
    """The two claims are complements: 5.0 s after the last image it still counts as
    arriving (so it is not "no images"); a moment later it is "no images"."""
    d = DiagnosticsWindow(window_s=10.0, no_image_warn_s=5.0)
    d.start(0.0)
    for k in range(9):                                   # 0.0 .. 4.0 s, all refused
        d.note_arrival(0.5 * k, 0)
        d.add(FrameRecord(0.5 * k, False, reason="header.stamp is zero", dropped=True,
                          refused=True))
    s = d.summary(9.0, Track.UNINITIALIZED, True)
    assert s.level == WARN and s.message.startswith("images arrive") and \
        s.message.endswith("header.stamp is zero")
    assert d.summary(9.25, Track.UNINITIALIZED, True).message.startswith("no images for 5.2 s")


@pytest.mark.parametrize("t0", [100.0, 0.0])
def test_just_after_activation_refusals_say_not_localized_yet(t0):
    """For no_image_warn_s after activation, refused images give "not localized yet (last
    failure: ...)"; the "none reaches the localizer" warning comes after that. An activation
    at monotonic time 0.0 is an activation too (it was read as "never activated")."""
    d = DiagnosticsWindow(window_s=10.0, no_image_warn_s=5.0)
    d.start(t0)
    for k in range(21):
        d.note_arrival(t0 + 0.1 * k, 0)
        d.add(FrameRecord(t0 + 0.1 * k, False, reason="header.stamp is zero", dropped=True,
                          refused=True))
    s = d.summary(t0 + 2.5, Track.UNINITIALIZED, True)
    assert s.message == "not localized yet (last failure: header.stamp is zero)"


def test_lost_is_a_warning_and_the_state_is_the_tracks():
    d = DiagnosticsWindow()
    d.start(0.0)
    d.add(FrameRecord(1.0, True, 100, 0.1, 0.1))
    d.add(FrameRecord(1.1, False, reason="too few inliers (3 < 30)"))
    d.add(FrameRecord(1.2, True, 100, 0.1, 0.1))          # the last frame succeeded
    s = d.summary(1.5, Track.LOST, True)
    assert s.level == WARN and s.message == ("lost, relocalizing globally (last failure: "
                                             "too few inliers (3 < 30))")
    assert dict(s.values)["state"] == "lost"
    assert dict(d.summary(1.5, Track.UNINITIALIZED, True).values)["state"] == "uninitialized"


def test_rates_after_a_deactivate_and_activate_count_only_the_frames_since():
    """Active 20 s at 10 Hz, deactivated, activated again at 21 s, 1 s of frames at 10 Hz since:
    10 Hz. The frames of the earlier activation still in the 10 s window were divided by the
    1 s since this one: 90 Hz rate_hz and arrival_rate_hz (Nav2's pause/resume)."""
    d = DiagnosticsWindow(window_s=10.0)
    d.start(0.0)
    for k in range(200):
        d.note_arrival(0.1 * k, 1_000_000_000 + k)
        d.add(FrameRecord(0.1 * k, True, 100, 0.1, 0.1))
    d.start(21.0)
    for k in range(10):
        d.note_arrival(21.0 + 0.1 * k, 30_000_000_000 + k)
        d.add(FrameRecord(21.0 + 0.1 * k, True, 100, 0.1, 0.1))
    values = dict(d.summary(22.0, Track.TRACKING, True).values)
    assert values["rate_hz"] == "10.00" and values["arrival_rate_hz"] == "10.00", values


def test_window_figures_after_a_reactivation_are_the_new_activations():
    """200 failed frames, deactivated, activated again: 10 localized frames since. The success
    rate, latency and inliers are this activation's (they mixed in the earlier frames still in
    the 10 s window: success_rate 0.05 for 10 of 10; diff review); the totals stay."""
    d = DiagnosticsWindow(window_s=10.0)
    d.start(0.0)
    for k in range(200):
        d.add(FrameRecord(0.1 * k, False, 0, 0.5, 0.5))
    d.start(21.0)
    for k in range(10):
        d.add(FrameRecord(21.0 + 0.1 * k, True, 100, 0.1, 0.1))
    values = dict(d.summary(22.0, Track.TRACKING, True).values)
    assert values["success_rate"] == "1.00" and values["latency_s"] == "0.100", values


def _focal(k, scale, fx=525.0):
    from mast3r_ros.core.focal_evidence import FocalFit

    # frames that each pass the per-frame gate (2 sigma) and fail it, alike
    return FocalFit(scale * (1 + 0.01 * ((-1) ** k)), 0.02, fx)


def test_a_wrong_focal_length_over_the_frames_is_a_warning_naming_the_fitted_fx():
    d = DiagnosticsWindow(window_s=10.0, no_image_warn_s=5.0)
    d.set_focal_tolerance(0.05)
    d.start(0.0)
    for k in range(4):
        d.add(FrameRecord(0.1 * k + 0.1, True, 100, 0.1, 0.1, focal_fit=_focal(k, 0.9)))
    s = d.summary(0.5, Track.TRACKING, True)   # 4 frames: no verdict yet
    assert s.level == OK and dict(s.values)["focal_scale"] == "not judged (4 frames)"
    for k in range(4, 12):
        d.add(FrameRecord(0.1 * k + 0.1, k % 3 != 0, 100, 0.1, 0.1,
                          reason="" if k % 3 else "the camera's focal length does not fit",
                          focal_fit=_focal(k, 0.9)))
    d.add(FrameRecord(1.3, False, reason="too few inliers (3 < 30)"))  # not judged
    s = d.summary(1.4, Track.TRACKING, True)
    values = dict(s.values)
    assert s.level == WARN and "inliers fit fx 472.5 px, not 525.0" in s.message, s.message
    assert "camera_info_url" in s.message and "cropped" in s.message
    assert values["focal_fx_fitted_px"] == "472.5"
    assert values["focal_scale"].startswith("0.900 +- ") and "(12 frames)" in values["focal_scale"]
    assert d.summary(1.4, Track.LOST, True).message == s.message  # the cause, said first
    d.start(50.0)                              # reactivated (maybe recalibrated): starts over
    assert "focal" not in d.summary(50.1, Track.TRACKING, True).message


def test_the_focal_warning_follows_the_configured_tolerance_and_a_right_fx_is_ok():
    d = DiagnosticsWindow()
    d.start(0.0)
    for k in range(12):
        d.add(FrameRecord(0.1 * k, True, 100, focal_fit=_focal(k, 1.0)))
    assert d.summary(1.3, Track.TRACKING, True).level == OK
    d.set_focal_tolerance(0.15)
    for k in range(12):
        d.add(FrameRecord(1.3 + 0.1 * k, True, 100, focal_fit=_focal(k, 0.9)))
    assert d.summary(2.6, Track.TRACKING, True).level == OK  # 10 % is within a 15 % gate


def test_why_the_node_is_not_configured_is_an_error_on_diagnostics():
    """A failed configure or a bad start-up parameter value was said only in the log, while
    /diagnostics said STALE 'not active (configure and activate ...)': a robot monitor showed
    nothing wrong. Now ERROR with the reason, until a configure succeeds."""
    d = DiagnosticsWindow()
    d.parameter_errors = "parameter 'tf_publish_rate': expecting type 'DOUBLE'"
    s = d.summary(1.0, Track.UNINITIALIZED, active=False)
    assert s.level == ERROR and s.message == (
        "invalid parameter values, configure will fail until they are set right: "
        "parameter 'tf_publish_rate': expecting type 'DOUBLE'")
    assert dict(s.values)["config_error"] == s.message
    d.configure_error = "map folder not found: /maps/x"      # the last configure's, first
    s = d.summary(2.0, Track.UNINITIALIZED, active=False)
    assert s.level == ERROR and s.message == "configure failed: map folder not found: /maps/x"
    d.configuring_since_s = 2.0                               # a configure under way says so
    assert d.summary(3.0, Track.UNINITIALIZED, active=False).level == OK
    d.configuring_since_s = None
    d.configure_error = d.parameter_errors = ""               # configured
    s = d.summary(4.0, Track.UNINITIALIZED, active=False)
    assert s.level == OK and dict(s.values)["config_error"] == "none"


def test_a_node_not_active_is_never_stale():
    """/diagnostics said STALE while the node was not active. STALE is for a status that
    stopped coming (diagnostic_aggregator marks an item stale when its updates stop), and the
    aggregator's GenericAnalyzerBase::report turns a group header whose items are STALE, but not
    all of them, into ERROR: a node paused by Nav2's lifecycle manager showed its group as an
    error. Unconfigured, inactive or configuring with nothing wrong is OK (the message and
    `state` say it); finalized, a node that never localizes again until restarted, is a
    warning; a failed configure stays an error."""
    d = DiagnosticsWindow()
    for configuring in (None, 5.0):
        d.configuring_since_s = configuring
        s = d.summary(10.0, Track.UNINITIALIZED, active=False)
        assert s.level == OK and s.level != STALE
        assert dict(s.values)["state"] == ("inactive" if configuring is None else "configuring")
    d.configuring_since_s = None
    d.finalized = True
    assert d.summary(10.0, Track.UNINITIALIZED, active=False).level == WARN
    d.finalized = False
    d.configure_error = "map folder not found: /maps/x"
    assert d.summary(10.0, Track.UNINITIALIZED, active=False).level == ERROR


def test_poses_uncertain_for_their_distance_are_counted_since_activation():
    """localize's "poses uncertain for their distance", live: the count since activation and the
    last one's ratio, over the one threshold (`FAR_CLAIM_RATIO`)."""
    from mast3r_ros.core.pose_uncertainty import FAR_CLAIM_RATIO
    from mast3r_ros.replay import metrics

    assert metrics.FAR_CLAIM_RATIO is FAR_CLAIM_RATIO  # defined once
    d = DiagnosticsWindow(window_s=10.0)
    d.start(0.0)
    values = dict(d.summary(0.1, Track.TRACKING, True).values)
    assert values["poses_uncertain_for_distance"] == "0"
    assert values["last_uncertain_pose_ratio"] == "nan"
    d.add(FrameRecord(1.0, True, 100, sigma_depth_ratio=0.2))
    d.add(FrameRecord(1.1, True, 100, sigma_depth_ratio=0.01))        # certain enough
    d.add(FrameRecord(1.2, True, 100))                                # not judged (NaN)
    d.add(FrameRecord(1.3, False, 10, reason="x", sigma_depth_ratio=0.9))  # not a pose
    d.add(FrameRecord(1.4, True, 100, sigma_depth_ratio=0.083))
    values = dict(d.summary(1.5, Track.TRACKING, True).values)
    # plain numbers, as the other counters: a monitor plots a KeyValue "to track over time"
    assert values["poses_uncertain_for_distance"] == "2"
    assert values["last_uncertain_pose_ratio"] == "0.083"
    d.start(2.0)                                                      # a new activation
    assert dict(d.summary(2.1, Track.TRACKING, True).values)[
        "poses_uncertain_for_distance"] == "0"


def test_sigma_depth_ratio_of_a_result():
    import numpy as np

    from mast3r_ros.core.pose_uncertainty import sigma_depth_ratio
    from mast3r_ros.core.types import LocalizationResult

    cov = np.diag([0.04, 0.01, 0.01, 1e-4, 1e-4, 1e-4])                # worst axis 0.2 m
    r = LocalizationResult(True, 1, np.eye(4), cov, scene_depth_m=2.0)
    assert sigma_depth_ratio(r) == pytest.approx(0.1)
    assert np.isnan(sigma_depth_ratio(LocalizationResult(True, 1, np.eye(4), cov)))
    assert np.isnan(sigma_depth_ratio(LocalizationResult.failure(1, "x")))


def test_a_refused_autostart_is_a_warning_until_the_node_is_activated():
    """-p autostart:=maybe: the node was told to bring itself up and could not (false is in
    force); /diagnostics stayed OK 'not active (configure and activate ...)', the refusal only
    in the ``autostart`` value, so rqt_robot_monitor showed nothing wrong. WARN with the reason
    while it is not active; an error (a failed configure) still comes first, and once the node
    is activated (from outside) a later inactive state is no longer the refusal's."""
    d = DiagnosticsWindow()
    d.autostart_refused = "parameter 'autostart': expecting type 'BOOL', got 'maybe'"
    s = d.summary(1.0, Track.UNINITIALIZED, active=False)
    assert s.level == WARN and s.message == (
        "not active: autostart was refused (parameter 'autostart': expecting type 'BOOL', got "
        "'maybe'), so the node did not configure and activate itself: start the node again "
        "with autostart set right, or configure and activate it through its lifecycle "
        "services")
    d.configure_error = "map folder not found: /maps/x"
    assert d.summary(2.0, Track.UNINITIALIZED, active=False).level == ERROR
    d.configure_error = ""
    d.start(3.0)                                       # activated from outside
    assert d.autostart_refused == ""
    d.add(FrameRecord(3.5, True, 100))
    assert d.summary(4.0, Track.TRACKING, True).level == OK
    s = d.summary(5.0, Track.TRACKING, active=False)   # deactivated by whoever drives it
    assert s.level == OK and s.message.startswith("not active (configure")
