"""on_activate marked the node active (`_begin_activation`: worker started, activation epoch)
even when the lifecycle base class's on_activate returned FAILURE or ERROR: the node then took
frames while rclpy kept it inactive, and the subscriptions, service and timer it had created
stayed. `ExecutorSide._finish_activation` decides it without ROS: only SUCCESS activates;
anything else tears down what activate created (as a failed activate does), is logged and said
on /diagnostics, and the node returns that result. On the fake host of test_ros_teardown."""

from __future__ import annotations

from test_ros_teardown import FAILURE, SUCCESS, Host, Result

ERROR = Result("ERROR")


def _activating_host():
    host = Host()
    host._active = False  # configured, entities created, not yet active
    return host


def test_success_begins_the_activation():
    host = _activating_host()
    undone = []
    assert host._finish_activation(SUCCESS, SUCCESS, lambda: undone.append(1), FAILURE) is True
    assert host._active and undone == [] and "worker.start" in host.events


def test_a_refused_base_activate_leaves_the_node_inactive_and_torn_down():
    for refused, then in ((FAILURE, "stays inactive"), (ERROR, "on_error follows")):
        host = _activating_host()
        assert host._finish_activation(refused, SUCCESS, host._teardown_active, FAILURE) is False
        assert not host._active
        assert "worker.start" not in host.events
        assert "destroy image_sub" in host.events and host._image_sub is None
        errors = [m for lvl, m in host.logger.lines if lvl == "error"]
        assert len(errors) == 1 and then in errors[0] and repr(refused) in errors[0]
        summary, values = host.diagnostics()
        assert summary.level == 2 and "on_activate returned" in values["config_error"]


def _activate_returning(host, result):
    """`node.LocalizerNode.on_activate` without rclpy: the base class returned ``result``."""
    def activate():
        host._finish_activation(result, SUCCESS, host._teardown_active, FAILURE)
        return result
    return host._run_transition("activate", activate, host._teardown_active, FAILURE, SUCCESS)


def test_an_error_from_the_base_activate_stays_on_diagnostics_through_on_error():
    """The base class's on_activate returned ERROR: the error line was logged, but the
    transition wrapper took anything but FAILURE for a success and cleared /diagnostics' error,
    and so did rclpy's on_error after it (its success only releases the configuration): the
    node went to unconfigured with /diagnostics saying STALE 'not active', nothing wrong. It
    stays ERROR until a later transition (configure) succeeds."""
    host = _activating_host()
    assert _activate_returning(host, ERROR) is ERROR
    # rclpy's error processing: on_error (node.on_error's guard) releases everything
    assert host._run_transition("error", lambda: host._teardown_configured() or SUCCESS, None,
                                FAILURE, SUCCESS) is SUCCESS
    summary, values = host.diagnostics()
    assert summary.level == 2 and "on_activate returned" in summary.message
    assert "on_error follows" in values["config_error"] and values["state"] == "inactive"
    assert host._run_transition("configure", lambda: SUCCESS, None, FAILURE, SUCCESS) is SUCCESS
    assert host.diagnostics()[1]["config_error"] == "none"


def test_an_error_a_transition_does_not_say_itself_is_said_and_a_failed_on_error_finalizes():
    """A deactivate whose base class returned ERROR said nothing anywhere; an on_error that
    fails makes rclpy finalize the node (ROS_NOTES 1), which /diagnostics must say."""
    host = _activating_host()
    assert host._run_transition("deactivate", lambda: ERROR, None, FAILURE, SUCCESS) is ERROR
    assert host.diagnostics()[1]["config_error"].startswith("deactivate returned")
    assert host._run_transition("error", lambda: FAILURE, None, FAILURE, SUCCESS) is FAILURE
    summary, values = host.diagnostics()
    assert values["state"] == "finalized" and "restart the node" in summary.message


def test_an_undo_that_raises_is_logged_not_raised():
    host = _activating_host()

    def undo():
        raise RuntimeError("InvalidHandle")
    assert host._finish_activation(FAILURE, SUCCESS, undo, FAILURE) is False
    assert any("undoing it also failed" in m for lvl, m in host.logger.lines if lvl == "error")
