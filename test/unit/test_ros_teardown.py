"""The node's teardown (deactivate, cleanup, shutdown, error, `main` at exit) without ROS
(`ros/executor_side.py`), on the fake host of test_ros_clock_jumps: what goes in which order,
what /diagnostics says after it, a frame still in inference while it runs, the transitions'
failures and the errors of the executor thread outside the frames."""

from __future__ import annotations

import threading
import time

import pytest

from test_ros_clock_jumps import Host as ClockHost
from test_ros_processing import Localizer, image, stamp

from mast3r_ros.ros.diagnostics import OK, WARN
from mast3r_ros.ros.worker import LatestMessageWorker


class Recorder:
    """Fake bond, worker, TF client, publishers and model writing what is done to them into
    one list, in order."""

    def __init__(self, events, name, fail=None):
        self.events, self.name, self.fail = events, name, fail

    def __getattr__(self, method):
        def call(*args):
            self.events.append(f"{self.name}.{method}")
            if method == self.fail:
                raise RuntimeError(f"{self.name}.{method} failed")
            return [] if method == "close" and self.name == "tf" else True
        return call


class Host(ClockHost):
    """A configured, active node with the entities activate creates."""

    def __init__(self, fail=None, **node):
        super().__init__(**node)
        self.events = []
        fail = fail or {}
        for attr in ("bond", "worker", "tf", "outputs", "localizer"):
            setattr(self, f"_{attr}", Recorder(self.events, attr, fail.get(attr)))
        for attr in ("image_sub", "info_sub", "initialpose_sub", "relocalize_srv", "tf_timer"):
            setattr(self, f"_{attr}", attr)
        self._join_timeout_s = 30.0
        self._worker_stopped = True

    def destroy_subscription(self, sub):
        self.events.append(f"destroy {sub}")

    destroy_service = destroy_timer = destroy_subscription

    def diagnostics(self):
        with self._lock:
            summary = self._diag.summary(1e9, self._tracking.track, self._active)
        return summary, dict(summary.values)


def test_cleanup_stops_reporting_the_configuration_warning():
    """A map_frame other than the map's is said on /diagnostics while configured; after cleanup
    that configuration is gone (a new map_frame may be set before the next configure), so the
    status must not keep saying it (it stayed until the next configure replaced it)."""
    host = Host()
    host._diag.config_warning = "map built in frame 'world', map_frame is 'map'"
    assert host.diagnostics()[1]["config_warning"].startswith("map built")
    host._teardown_configured()
    summary, values = host.diagnostics()
    assert values["config_warning"] == "none" and values["config_error"] == "none"
    assert summary.level == OK and values["state"] == "inactive"


def test_a_bad_start_up_parameter_stays_on_diagnostics_after_cleanup():
    host = Host()
    host._diag.parameter_errors = "parameter 'tf_publish_rate': out of range"
    host._teardown_configured()
    assert "tf_publish_rate" in host.diagnostics()[1]["config_error"]


def test_teardown_stops_the_worker_before_its_publishers_go_and_frees_the_model_last():
    """The frame in inference is waited for before the activate-time entities are destroyed,
    the worker is stopped before the TF client and publishers it publishes through are closed,
    and the model goes last (never under a running frame)."""
    host = Host()
    host._teardown_configured()
    assert host.events == [
        "bond.stop", "worker.pause", "destroy image_sub", "destroy info_sub",
        "destroy relocalize_srv", "destroy tf_timer", "worker.stop",
        "destroy initialpose_sub", "bond.close", "tf.close", "outputs.close",
        "localizer.close"]
    assert not host._active and host._tf is None and host._outputs is None
    assert host._localizer is None and host._cfg is None and host._image_sub is None


def test_publishers_failing_to_close_still_release_the_model():
    """A publisher that cannot be destroyed is logged; the model (GPU memory) is released all
    the same (the error ended the teardown before it)."""
    host = Host(fail={"outputs": "close"})
    host._teardown_configured()
    assert host.events[-2:] == ["outputs.close", "localizer.close"]
    assert any("destroying the publishers failed" in m for lvl, m in host.logger.lines
               if lvl == "error")
    assert host._localizer is None and host._cfg is None


def test_an_entity_failing_to_be_destroyed_does_not_stop_the_teardown():
    """A destroy_subscription that raised ended the teardown there: the other entities, the
    worker and the model (GPU memory) stayed until another cleanup."""
    host = Host()

    def destroy(entity):
        host.events.append(f"destroy {entity}")
        if entity == "info_sub":
            raise RuntimeError("InvalidHandle")
    host.destroy_subscription = host.destroy_service = host.destroy_timer = destroy
    host._teardown_configured()
    assert "destroy tf_timer" in host.events and host.events[-1] == "localizer.close"
    assert [m for lvl, m in host.logger.lines if lvl == "error"] == [
        "destroying info_sub failed: RuntimeError('InvalidHandle')"]


class BlockingLocalizer(Localizer):
    def __init__(self):
        super().__init__()
        self.entered, self.release, self.closed = threading.Event(), threading.Event(), False

    def localize(self, *a, **k):
        self.entered.set()
        assert self.release.wait(10.0)
        return super().localize(*a, **k)

    def close(self):
        self.closed = True


def test_a_frame_outliving_cleanup_publishes_nothing_and_keeps_its_model():
    """Cleanup while a frame is in inference longer than the join timeout: the publishers are
    closed under it, the frame then ends without publishing, and its model is not freed under
    it (the process exit or a later stop frees the thread)."""
    host = ClockHost()
    host.destroy_subscription = host.destroy_service = host.destroy_timer = lambda e: None
    host._localizer = localizer = BlockingLocalizer()
    published = []
    host._outputs = Recorder(published, "outputs")
    host._bond = Recorder([], "bond")
    host._tf.close = lambda: []
    host._image_sub = host._info_sub = host._initialpose_sub = "sub"
    host._relocalize_srv = host._tf_timer = "entity"
    host._worker = worker = LatestMessageWorker(host._process, lambda: host._active,
                                                lambda: None, host._on_worker_error)
    host._join_timeout_s, host._worker_stopped = 0.0, True
    worker.start()
    worker.offer(image(stamp(0)))
    assert localizer.entered.wait(10.0)
    host._teardown_configured()
    assert not host._worker_stopped and not localizer.closed and host._outputs is None
    assert any("did not stop" in m for lvl, m in host.logger.lines if lvl == "error")
    localizer.release.set()
    assert worker.stop(10.0)
    assert published == ["outputs.close"] and localizer.calls == 1 and not localizer.closed
    assert host.logger.tracebacks() == 0


# ------------------------------------------------------------------ transitions

class Result:
    """Stands for rclpy's TransitionCallbackReturn (an enum: SUCCESS, FAILURE, ERROR)."""

    def __init__(self, name):
        self.name = name


SUCCESS, FAILURE = Result("SUCCESS"), Result("FAILURE")


def _raise(err):
    raise err


def test_an_activate_that_raises_is_an_error_on_diagnostics_until_a_transition_succeeds():
    """A failed activate (a create_subscription refusing the remapped image topic, say) was
    said only in the log: /diagnostics said STALE 'not active (configure and activate the
    lifecycle node)', so a robot monitor showed nothing wrong and suggested what had failed."""
    host = Host()
    host._active = False
    undone = []
    result = host._run_transition("activate", lambda: _raise(ValueError("bad topic '3d'")),
                                  lambda: undone.append(1), FAILURE, SUCCESS)
    assert result is FAILURE and undone == [1]
    assert host.logger.tracebacks() == 1
    summary, values = host.diagnostics()
    assert summary.level == 2 and summary.message.startswith(
        "activate failed: ValueError(\"bad topic '3d'\")")
    assert values["config_error"] == summary.message
    assert host._run_transition("cleanup", lambda: SUCCESS, None, FAILURE, SUCCESS) is SUCCESS
    summary, values = host.diagnostics()
    assert summary.level == OK and values["config_error"] == "none"


def test_a_configure_that_raises_stays_a_configure_error_and_none_becomes_failure():
    host = Host()
    host._active = False
    assert host._run_transition("configure", lambda: _raise(OSError("disk")), None,
                                FAILURE, SUCCESS) is FAILURE
    assert host.diagnostics()[0].message.startswith("configure failed: OSError('disk')")
    # rclpy sticks in the transition on a None (ROS_NOTES 1): FAILURE instead, nothing undone
    assert host._run_transition("activate", lambda: None, lambda: _raise(AssertionError()),
                                FAILURE, SUCCESS) is FAILURE


def test_after_shutdown_diagnostics_says_the_node_must_be_restarted():
    """A finalized node cannot be configured again: 'configure and activate the lifecycle node'
    asked for what the lifecycle refuses."""
    host = Host()
    assert host._run_transition("shutdown", lambda: host._teardown_configured() or SUCCESS,
                                None, FAILURE, SUCCESS) is SUCCESS
    summary, values = host.diagnostics()
    assert summary.level == WARN and values["state"] == "finalized"
    assert "restart the node" in summary.message


# ------------------------------------------------------------------ errors outside the frames

def _now_summary(host):
    with host._lock:
        summary = host._diag.summary(time.monotonic(), host._tracking.track, host._active)
    return summary, dict(summary.values)


def test_a_failing_tf_rebroadcast_is_an_error_on_diagnostics():
    """The TF timer's exception was only logged (no traceback): /diagnostics kept saying OK
    'tracking' while no map->odom went out."""
    host = ClockHost()
    host._process(image(stamp(0)))                       # localized: a map->odom is held
    host._tf.send = lambda *a: _raise(RuntimeError("publisher's context is invalid"))
    for _ in range(3):
        host.clock.now_ns += 10 ** 8
        host._tf_tick()
    summary, values = _now_summary(host)
    assert summary.level == 2 and "TF re-broadcast failed" in summary.message
    assert values["errors"] == "3" and values["frames_processed"] == "1"
    assert host.logger.tracebacks() == 1                # then throttled one-liners


def test_an_exception_escaping_the_executor_is_an_error_not_a_failed_frame():
    """It was recorded as a frame that failed with an 'inference error': frames_processed and
    the success rate counted a frame that never was."""
    host = ClockHost()
    host._process(image(stamp(0)))
    try:
        raise KeyError("transition not registered")
    except KeyError as err:                             # as it escaped spin()
        host.report_executor_error(err)
    summary, values = _now_summary(host)
    assert summary.level == 2 and "the executor raised" in summary.message
    assert values["errors"] == "1" and values["frames_processed"] == "1"
    assert values["success_rate"] == "1.00" and host.logger.tracebacks() == 1


# ------------------------------------------------------------------ mutation-audit edges

def _errors(host):
    return [m for lvl, m in host.logger.lines if lvl == "error"]


def test_an_undo_that_raises_is_logged_and_the_transition_still_fails_cleanly():
    host = Host()
    host._active = False
    result = host._run_transition("activate", lambda: _raise(ValueError("topic")),
                                  lambda: _raise(RuntimeError("undo")), FAILURE, SUCCESS)
    assert result is FAILURE
    assert "activate: undoing it also failed: RuntimeError('undo')" in _errors(host)


def test_a_transition_returning_failure_keeps_the_earlier_error_on_diagnostics():
    """Only a transition that succeeded clears it: one that returned FAILURE (nothing raised)
    has not brought the node anywhere better."""
    host = Host()
    host._active = False
    host._run_transition("activate", lambda: _raise(ValueError("bad topic")), None, FAILURE,
                         SUCCESS)
    assert host._run_transition("activate", lambda: FAILURE, None, FAILURE, SUCCESS) is FAILURE
    summary, _ = host.diagnostics()
    assert summary.level == 2 and summary.message.startswith("activate failed: ValueError")


class _StuckWorker:
    """A worker whose frame outlives every wait; records the timeouts it is given."""

    def __init__(self):
        self.waits = []

    def pause(self, timeout_s):
        self.waits.append(("pause", timeout_s))
        return False

    def stop(self, timeout_s):
        self.waits.append(("stop", timeout_s))
        return False


def test_a_frame_outliving_the_pause_is_said_and_not_waited_for_twice():
    """The pause waited its timeout already: the stop does not wait another one (a cleanup
    would take twice the join timeout), and the frame still in inference is logged, except at
    exit (main's teardown, where it is expected)."""
    host = Host()
    host._worker = worker = _StuckWorker()
    host._teardown_configured()
    assert worker.waits == [("pause", 30.0), ("stop", 0.0)]
    assert any("the frame in inference did not end within 30 s" in m for m in _errors(host))
    assert host.events[-1] != "localizer.close"  # not freed under the running frame
    quiet = Host()
    quiet._worker, quiet._exiting = _StuckWorker(), threading.Event()
    quiet._exiting.set()
    quiet._teardown_configured()
    assert not any("did not" in m for m in _errors(quiet))


def test_tf_client_close_problems_are_logged():
    host = Host()
    host._tf = type("Tf", (), {"close": lambda self: ["tf broadcaster: destroy failed"]})()
    host._teardown_configured()
    assert "tf broadcaster: destroy failed" in _errors(host)
    assert host.events[-1] == "localizer.close"


def test_an_unexpected_initialpose_error_is_an_error_on_diagnostics():
    """Not a lookup refusal (a warning) but a bug or a broken TF client: traceback once and
    ERROR on /diagnostics, as the TF timer's errors are."""
    from test_ros_clock_jumps import _initialpose

    host = ClockHost()
    host._active = True
    host._tf.lookup = lambda *a, **k: _raise(RuntimeError("buffer destroyed"))
    host._initial_pose(_initialpose())
    summary, values = _now_summary(host)
    assert summary.level == 2 and "/initialpose handling failed" in summary.message
    assert values["errors"] == "1" and host.logger.tracebacks() == 1


# ------------------------------------------------------------------ activations

def _activate(host):
    """What `node.LocalizerNode._activate` does without rclpy, around its entities."""
    host._begin_activation()


def test_a_frame_outliving_a_deactivate_is_not_published_into_the_next_activation():
    """Deactivate while a frame is in inference longer than the deactivate waits, then activate
    again before it ends: the frame found the node active again and published the old
    activation's pose (~/pose, /tf) into the new one. It is dropped, and /diagnostics (its
    last_failure, a dropped frame) and the log say why."""
    host = ClockHost()
    host.destroy_subscription = host.destroy_service = host.destroy_timer = lambda e: None
    host._localizer = localizer = BlockingLocalizer()
    host._bond = Recorder([], "bond")
    host._image_sub = host._info_sub = host._initialpose_sub = "sub"
    host._relocalize_srv = host._tf_timer = "entity"
    host._worker = worker = LatestMessageWorker(host._process, lambda: host._active,
                                                lambda: None, host._on_worker_error)
    host._join_timeout_s, host._worker_stopped = 0.0, True
    _activate(host)                                   # activation 1
    worker.offer(image(stamp(0)))
    assert localizer.entered.wait(10.0)
    assert not host._teardown_active()               # deactivate: the frame outlives the wait
    _activate(host)                                   # activation 2, the frame still runs
    localizer.release.set()
    assert worker.stop(10.0) and localizer.calls == 1
    assert host._outputs.poses == [] and host._tf.sent == []
    assert host._tracking.held_tf is None and host._tracking.consecutive_failures == 0
    summary, values = _now_summary(host)
    assert "deactivated during its inference" in values["last_failure"]
    assert values["dropped_in_window"] == "1" and values["frames_localized"] == "0"
    assert any("deactivated during its inference" in m for lvl, m in host.logger.lines
               if lvl == "warning")
    host._process(image(stamp(1)))                    # the new activation localizes
    assert host._outputs.poses == [stamp(1)]


def test_initialpose_while_inactive_is_kept_and_applied_at_activate():
    """nav2_amcl subscribes /initialpose at configure and applies a pose received while
    inactive when it is activated (init_pose_received_on_inactive); an rviz click before Nav2's
    lifecycle manager activated this node was dropped instead. The subscription now outlives a
    deactivate, the latest kept pose is applied at activate, and cleanup forgets it."""
    from test_ros_clock_jumps import LatestTf, _initialpose
    host = Host()
    host._tf = LatestTf()                                  # lookups, not recorded calls
    host._teardown_active()                                # deactivate: configured, inactive
    assert host._initialpose_sub == "initialpose_sub"
    assert "destroy initialpose_sub" not in host.events
    host._initial_pose(_initialpose(x=5.0))
    host._initial_pose(_initialpose(x=1.0, frame_id="odom"))   # wrong frame: refused now
    host._initial_pose(_initialpose(x=1.0))                   # the latest one is kept
    lines = host.logger.lines
    assert [lvl for lvl, _ in lines] == ["info", "warning", "info"]
    assert "kept" in lines[0][1] and "applied when the node is activated" in lines[0][1]
    assert "set rviz's fixed frame" in lines[1][1] and "replacing" in lines[2][1]
    assert host._tracking.prior_source == ""
    host._begin_activation()
    assert host._active and host._tracking.prior_source == "initialpose"
    assert host.logger.lines[-1][1].startswith("initial pose received (1.00, 2.00, 0.00)")
    host._begin_activation()                               # applied once, not again
    assert sum("initial pose received (" in m for _, m in host.logger.lines) == 1
    host._teardown_active()
    host._initial_pose(_initialpose())
    host._tf.close = lambda: []
    host._teardown_configured()                            # cleanup: the kept pose goes
    assert "destroy initialpose_sub" in host.events and host._initialpose_sub is None
    assert host._pending_initial_pose is None


def test_initialpose_to_an_unconfigured_node_is_ignored_with_the_reason():
    from test_ros_clock_jumps import _initialpose
    host = Host()
    host._teardown_configured()
    host._initial_pose(_initialpose())
    assert host.logger.lines[-1] == ("warning",
                                     "ignoring /initialpose: the node is not configured")


def test_configure_subscribes_initialpose_first_and_a_failed_one_unsubscribes():
    """/initialpose is subscribed before the model loads (a click meanwhile waits in its
    queue, then is kept for activate) and is gone again after a configure that failed or
    raised, as the rest of the configuration."""
    host = Host()
    host._initialpose_sub = None
    order = []

    def subscribe():
        order.append("subscribe")
        return "initialpose_sub"

    def load(result):
        def run():
            order.append("load")
            if isinstance(result, Exception):
                raise result
            return result
        return run
    assert host._configure_subscribed(subscribe, load(SUCCESS), SUCCESS) is SUCCESS
    assert order == ["subscribe", "load"] and host._initialpose_sub == "initialpose_sub"
    assert host._configure_subscribed(subscribe, load(FAILURE), SUCCESS) is FAILURE
    assert host._initialpose_sub is None and host.events[-1] == "destroy initialpose_sub"
    with pytest.raises(RuntimeError, match="boom"):
        host._configure_subscribed(subscribe, load(RuntimeError("boom")), SUCCESS)
    assert host._initialpose_sub is None and host.events.count("destroy initialpose_sub") == 2
