"""on_activate marked the node active (`_begin_activation`: worker started, activation epoch)
even when the lifecycle base class's on_activate returned FAILURE or ERROR: the node then took
frames while rclpy kept it inactive, and the subscriptions, service and timer it had created
stayed. `ExecutorSide._finish_activation` decides it without ROS: only SUCCESS activates;
anything else tears down what activate created (as a failed activate does), is logged and said
on /diagnostics, and the node returns that result. On the fake host of test_ros_teardown."""

from __future__ import annotations

from test_ros_teardown import FAILURE, SUCCESS, Host, Result


def _activating_host():
    host = Host()
    host._active = False  # configured, entities created, not yet active
    return host


def test_success_begins_the_activation():
    host = _activating_host()
    undone = []
    assert host._finish_activation(SUCCESS, SUCCESS, lambda: undone.append(1)) is True
    assert host._active and undone == [] and "worker.start" in host.events


def test_a_refused_base_activate_leaves_the_node_inactive_and_torn_down():
    for refused in (FAILURE, Result("ERROR")):
        host = _activating_host()
        assert host._finish_activation(refused, SUCCESS, host._teardown_active) is False
        assert not host._active
        assert "worker.start" not in host.events
        assert "destroy image_sub" in host.events and host._image_sub is None
        errors = [m for lvl, m in host.logger.lines if lvl == "error"]
        assert len(errors) == 1 and "stays inactive" in errors[0] and repr(refused) in errors[0]
        summary, values = host.diagnostics()
        assert summary.level == 2 and "on_activate returned" in values["config_error"]


def test_an_undo_that_raises_is_logged_not_raised():
    host = _activating_host()

    def undo():
        raise RuntimeError("InvalidHandle")
    assert host._finish_activation(FAILURE, SUCCESS, undo) is False
    assert any("undoing it also failed" in m for lvl, m in host.logger.lines if lvl == "error")
