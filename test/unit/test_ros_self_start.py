"""Parameter ``autostart``: the node configures, then activates, itself once it spins
(`ros/self_start.py`), instead of launch's ChangeState events, whose configure to a respawned
process may reach the dead one's still-discovered service and be lost (rclpy #1191): the new
process stayed unconfigured for good. Without ROS: `SelfStart` alone, then its wiring in
`ExecutorSide` on the fake host of test_ros_teardown (the transitions as the node runs them,
`_run_transition`). test/ros runs it through rclpy's trigger_configure / trigger_activate."""

from __future__ import annotations

import re
from types import SimpleNamespace as NS

import pytest

from test_ros_teardown import FAILURE, SUCCESS, Host
from user_docs import ROOT

from mast3r_ros.ros import params
from mast3r_ros.ros.diagnostics import ERROR, OK
from mast3r_ros.ros.self_start import SELF_START_DELAY_S, SelfStart


class RCLError(Exception):
    """Stands for rclpy's RCLError (a transition the state machine does not allow)."""


def _run(start, calls, configure=SUCCESS, activate=SUCCESS, shutting_down=False):
    def step(name, result):
        def call():
            calls.append(name)
            if isinstance(result, Exception):
                raise result
            return result
        return call
    return start.run(step("configure", configure), step("activate", activate),
                     lambda r: r is SUCCESS, lambda: shutting_down)


def test_off_by_default_does_nothing():
    start, calls = SelfStart(False), []
    assert start.status == "off" and not start.pending
    assert _run(start, calls) == [] and calls == []
    assert start.note_transition("configure") == ""


def test_configures_then_activates_once():
    start, calls = SelfStart(True), []
    assert start.status == "pending"
    assert _run(start, calls) == [("info", "autostart: configured and activated")]
    assert calls == ["configure", "activate"] and start.status.startswith("done")
    assert _run(start, calls) == [] and calls == ["configure", "activate"]   # once


def test_a_failed_configure_leaves_the_node_unconfigured_and_says_what_to_do():
    start, calls = SelfStart(True, "/robot1/mast3r_localizer"), []
    ((level, line),) = _run(start, calls, configure=FAILURE)
    assert calls == ["configure"]                 # no activate of an unconfigured node
    assert level == "error" and "stays unconfigured" in line and "nothing retries" in line
    assert "`ros2 lifecycle set /robot1/mast3r_localizer configure` and `activate`" in line
    assert start.status == "configure failed: the node stays unconfigured"
    assert not start.request_error                # configure itself says why on /diagnostics


def test_a_failed_activate_is_said_with_the_command_to_retry():
    start, calls = SelfStart(True), []
    ((level, line),) = _run(start, calls, activate=FAILURE)
    assert calls == ["configure", "activate"] and level == "error"
    assert "`ros2 lifecycle set /mast3r_localizer activate`" in line
    assert start.status.startswith("activate failed: the node stays inactive")


def test_a_configure_cancelled_by_shutdown_is_no_error():
    start, calls = SelfStart(True), []
    ((level, line),) = _run(start, calls, configure=FAILURE, shutting_down=True)
    assert level == "info" and "shutting down" in line and calls == ["configure"]


def test_a_transition_that_cannot_be_requested_is_said_and_never_raised():
    """rclpy raises RCLError for a transition its state machine does not allow; out of the
    timer callback it would end spin()."""
    start, calls = SelfStart(True), []
    ((level, line),) = _run(start, calls, configure=RCLError("Transition is not registered"))
    assert level == "error" and "could not be requested" in line
    assert "ros2 lifecycle get /mast3r_localizer" in line
    assert "RCLError" in start.request_error and not start.pending


@pytest.mark.parametrize("outside", ["configure", "shutdown", "activate"])
def test_a_transition_from_outside_first_cancels_it(outside):
    """A lifecycle manager (or ros2 lifecycle set) got there first: no second configure, which
    rclpy would refuse, or take the node out of the manager's hands. The line suggests
    autostart false only for a configure, what a lifecycle manager sends first: a user's
    ``ros2 lifecycle set <node> shutdown`` before the timer was told to set it 'when a
    lifecycle manager drives the node' (the line deliberately changed)."""
    start, calls = SelfStart(True), []
    line = start.note_transition(outside)
    assert line.startswith(f"autostart: {outside} was requested from outside before the node "
                           "configured itself: the node leaves its lifecycle to whoever "
                           "requested it")
    hint = "(set autostart false when a lifecycle manager drives the node)"
    assert (hint in line) is (outside == "configure"), line
    assert line.endswith(hint if outside == "configure" else "whoever requested it"), line
    assert start.note_transition("activate") == ""             # said once
    assert _run(start, calls) == [] and calls == []
    assert start.status.startswith(f"not run: {outside} was requested from outside")


def test_its_own_transitions_do_not_cancel_it():
    start, calls = SelfStart(True), []

    def configure():
        calls.append(start.note_transition("configure"))         # the callback runs inside
        return SUCCESS

    def activate():
        calls.append(start.note_transition("activate"))
        return SUCCESS
    start.run(configure, activate, lambda r: r is SUCCESS, lambda: False)
    assert calls == ["", ""] and start.status.startswith("done")


# ------------------------------------------------------------------ ExecutorSide wiring

class Timer:
    cancelled = 0

    def cancel(self):
        self.cancelled += 1


def _unconfigured_host(enabled=True):
    host = Host()
    host._teardown_configured()
    host._self_start = SelfStart(enabled, "/mast3r_localizer")
    host._self_start_timer = Timer()
    return host


def _configure(host, fn):
    """`node.LocalizerNode.on_configure` without rclpy: ``fn`` in the transition wrapper."""
    return lambda: host._run_transition("configure", fn, None, FAILURE, SUCCESS)


def test_a_failed_self_configure_is_logged_on_diagnostics_and_leaves_the_node_up():
    """As a failed configure from outside: the node stays unconfigured (no activate), alive
    (nothing raised out of the timer), the reason ERROR on /diagnostics with ``autostart``
    saying the bring-up failed; the timer fires once."""
    host = _unconfigured_host()
    activated = []

    def load():
        raise ValueError("map folder '/maps/missing' does not exist")
    host._self_start_tick(_configure(host, load), lambda: activated.append(1) or SUCCESS,
                          SUCCESS)
    assert activated == [] and host._self_start_timer.cancelled == 1
    errors = [m for lvl, m in host.logger.lines if lvl == "error"]
    assert any("configure failed: ValueError" in m for m in errors)
    assert any(m.startswith("autostart: configure failed") for m in errors)
    summary, values = host.diagnostics()
    assert summary.level == ERROR and "/maps/missing" in values["config_error"]
    assert values["autostart"] == "configure failed: the node stays unconfigured"
    assert not host._active


def test_a_self_start_that_succeeds_says_so_on_diagnostics():
    host = _unconfigured_host()
    host._self_start_tick(_configure(host, lambda: SUCCESS), lambda: SUCCESS, SUCCESS)
    summary, values = host.diagnostics()
    assert values["autostart"] == "done: configured and activated"
    assert ("info", "autostart: configured and activated") in host.logger.lines


def test_a_configure_from_outside_before_the_timer_cancels_the_self_start():
    """Under a lifecycle manager with autostart left true by mistake: the manager's configure
    came first; the timer then does nothing (no second configure, refused by rclpy)."""
    host = _unconfigured_host()
    assert host._run_transition("configure", lambda: SUCCESS, None, FAILURE, SUCCESS) is SUCCESS
    configured = []
    host._self_start_tick(lambda: configured.append(1), lambda: configured.append(2), SUCCESS)
    assert configured == []
    infos = [m for lvl, m in host.logger.lines if m.startswith("autostart:")]
    assert len(infos) == 1 and "configure was requested from outside" in infos[0]
    assert host.diagnostics()[1]["autostart"].startswith("not run: configure was requested")


def test_a_transition_that_cannot_be_requested_is_an_error_on_diagnostics():
    host = _unconfigured_host()
    host._self_start_tick(lambda: (_ for _ in ()).throw(RCLError("Transition is not registered")),
                          lambda: SUCCESS, SUCCESS)
    summary, values = host.diagnostics()
    assert summary.level == ERROR and "could not be requested" in summary.message
    assert "RCLError" in values["autostart"]


def test_autostart_off_leaves_diagnostics_and_transitions_as_they_were():
    """autostart false (Nav2's lifecycle manager drives the node): nothing is requested and
    the transitions log nothing more."""
    host = _unconfigured_host(enabled=False)
    assert host._run_transition("configure", lambda: SUCCESS, None, FAILURE, SUCCESS) is SUCCESS
    host._self_start_tick(lambda: pytest.fail("configured"), lambda: SUCCESS, SUCCESS)
    assert not [m for _, m in host.logger.lines if "autostart" in m]
    summary, values = host.diagnostics()
    assert values["autostart"] == "off" and summary.level == OK


def test_the_autostart_timer_runs_on_the_steady_clock_it_is_given():
    """On the node's clock, under use_sim_time, the one-shot timer waited for the first
    /clock (a bag not yet playing, a paused simulation): the node stayed unconfigured, then
    loaded its model while the bag played. It runs on the steady clock, as the diagnostics and
    bond timers do."""
    timers, steady, on_timer = [], object(), object()
    for enabled in (True, False):
        host = Host()
        host._teardown_configured()
        host.create_timer = lambda period, cb, clock=None: timers.append((period, cb, clock))
        host._begin_self_start(enabled, "/robot1/mast3r_localizer", on_timer, steady)
        assert host._self_start.node_name == "/robot1/mast3r_localizer"
        assert host.diagnostics()[1]["autostart"] == ("pending" if enabled else "off")
    assert timers == [(SELF_START_DELAY_S, on_timer, steady)]   # enabled only


def _change_state_request(transition_id, label=""):
    return NS(transition=NS(id=transition_id, label=label))


@pytest.mark.parametrize("self_started", [True, False])
def test_a_change_state_rclpy_cannot_run_is_answered_false_not_left_unanswered(self_started):
    """Nav2's lifecycle_manager sends configure (id 1, no label) to a node that configured
    itself: rclpy's service callback raises RCLError 'Transition is not registered' and the
    request was never answered (the manager's bring-up waited for ever; main spun on). It is
    answered success=false with one line naming the transition, the state and, after the
    node's own bring-up, the autostart setting to change."""
    host = _unconfigured_host()
    if self_started:
        host._self_start_tick(lambda: SUCCESS, lambda: SUCCESS, SUCCESS)

    def serve(request, response):
        raise RCLError("Transition is not registered")
    response = NS(success=None)
    assert host._answer_change_state(serve, _change_state_request(1), response,
                                     lambda: "active") is response
    assert response.success is False
    (line,) = [m for lvl, m in host.logger.lines if lvl == "error"]
    assert "could not run transition 1 (state now 'active'" in line and "RCLError" in line
    assert "success=false" in line
    assert ("autostart:=false" in line) is self_started


@pytest.mark.parametrize("configure, activate, state, bring_up", [
    (SUCCESS, FAILURE, "inactive", "activate failed: the node stays inactive"),
    (FAILURE, SUCCESS, "unconfigured", "configure failed: the node stays unconfigured"),
    (RCLError("Transition is not registered"), SUCCESS, "unconfigured", "")])
def test_the_autostart_hint_follows_any_transition_the_bring_up_ran(configure, activate,
                                                                    state, bring_up):
    """The node configured itself but its activate failed (inactive): a lifecycle manager's
    configure, refused, got no word of autostart (the hint came only after a bring-up that
    went all the way). It comes whenever the node's own bring-up ran a transition, with what
    became of it; not when none ran (configure could not even be requested)."""
    host = _unconfigured_host()

    def step(result):
        def call():
            if isinstance(result, Exception):
                raise result
            return result
        return call
    host._self_start_tick(step(configure), step(activate), SUCCESS)

    def serve(request, response):
        raise RCLError("Transition is not registered")
    host._answer_change_state(serve, _change_state_request(1), NS(success=None), lambda: state)
    line = [m for lvl, m in host.logger.lines if m.startswith("change_state:")][-1]
    assert ("set autostart false (launch argument autostart:=false)" in line) is bool(bring_up)
    if bring_up:
        assert f"the node ran its own bring-up first (parameter autostart true; {bring_up}" in line


def test_a_change_state_rclpy_runs_is_its_own_answer():
    host = _unconfigured_host()
    answered = NS(success=True)
    assert host._answer_change_state(lambda req, resp: answered,
                                     _change_state_request(3, "activate"), NS(success=None),
                                     lambda: "inactive") is answered
    assert not [m for lvl, m in host.logger.lines if lvl == "error"]

    def interrupted(request, response):
        raise KeyboardInterrupt                    # Ctrl-C still ends the process
    with pytest.raises(KeyboardInterrupt):
        host._answer_change_state(interrupted, _change_state_request(1), NS(success=None),
                                  lambda: "unconfigured")


# ------------------------------------------------------------------ the parameter

def test_autostart_is_read_at_start_and_a_set_that_changes_it_is_refused():
    """A ``ros2 param set autostart`` would change nothing (the timer is made at start): it is
    refused with the reason, in every state; a set to its own value (``ros2 param load`` of the
    node's dump) is accepted."""
    for configured in (False, True):
        ok, reason = params.check_parameter_update("autostart", True, configured, False)
        assert not ok and "read only when the node starts" in reason
        assert params.check_parameter_update("autostart", False, configured, False) == (True, "")
    (desc,) = [d for d in params.all_parameter_descriptors() if d.name == "autostart"]
    assert desc.type == "bool" and desc.default is False and not desc.read_only
    assert "Read when the node starts." in desc.description
    assert "Read at configure" not in desc.description


def test_every_autostart_value_on_diagnostics_is_named_in_the_docs():
    """The /diagnostics value ``autostart`` as docs/ros_node.md lists it: each value
    `SelfStart` can report (up to its ':') is named there, in the /diagnostics paragraph."""
    statuses = set()
    for configure, activate, down, outside in [
            (SUCCESS, SUCCESS, False, ""), (FAILURE, SUCCESS, False, ""),
            (SUCCESS, FAILURE, False, ""), (FAILURE, SUCCESS, True, ""),
            (RCLError("x"), SUCCESS, False, ""), (SUCCESS, RCLError("x"), False, ""),
            (SUCCESS, SUCCESS, False, "configure")]:
        for enabled in (False, True):
            start = SelfStart(enabled)
            statuses.add(start.status)
            if outside:
                start.note_transition(outside)
            _run(start, [], configure, activate, down)
            statuses.add(start.status)
    text = " ".join((ROOT / "docs" / "ros_node.md").read_text(encoding="utf-8").split())
    (paragraph,) = re.findall(r"`autostart` \(the node's own bring-up: .*?section Lifecycle\)",
                              text)
    named = {status.split(":")[0] + (":" if ":" in status else "`") for status in statuses}
    assert len(named) == 9
    assert not [n for n in named if f"`{n}" not in paragraph], paragraph


def test_a_configure_from_outside_says_the_cancelled_self_start_on_diagnostics_at_once():
    """/diagnostics says the bring-up was cancelled as the outside configure begins (a model
    load of seconds), not 'pending' until the timer fires (mutation_cpu_2026-12-06f)."""
    host = _unconfigured_host()
    seen = []

    def load():
        seen.append(host.diagnostics()[1]["autostart"])
        return SUCCESS
    assert host._run_transition("configure", load, None, FAILURE, SUCCESS) is SUCCESS
    assert len(seen) == 1 and seen[0].startswith("not run: configure was requested")


def test_a_refused_autostart_value_is_a_warning_on_diagnostics_while_not_active():
    """-p autostart:=maybe: the refusal was only in the ``autostart`` value, the level OK.
    `_begin_self_start` with the start-up parameter errors: the value names it and the level
    is WARN with the reason until the node is activated."""
    from mast3r_ros.ros.diagnostics import WARN
    from test_ros_params import FakeNode

    errors = params.declare_parameters(FakeNode({"autostart": "maybe"}), lambda d: None)
    host = Host()
    host._teardown_configured()
    host._begin_self_start(False, "/mast3r_localizer", None, None, errors)
    summary, values = host.diagnostics()
    assert values["autostart"] == params.refused_start_status("off", "autostart", errors)
    assert summary.level == WARN and errors["autostart"] in summary.message
    host2 = Host()
    host2._teardown_configured()
    host2._begin_self_start(False, "/mast3r_localizer", None, None, {})
    summary, values = host2.diagnostics()
    assert summary.level == OK and values["autostart"] == "off"
