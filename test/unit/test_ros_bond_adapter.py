"""`ros/bond.py` (the rclpy side of the bond) against stand-ins of rclpy and bond.msg.

The real rclpy path runs under test/ros/ on a ROS 2 machine; here the wiring is checked: topic
``bond``, the node name as id, Nav2's period and timeout, active=false on stop, and no bond when
the ``bond`` package is missing or the period is 0.
"""

from __future__ import annotations

import importlib
import sys
import types
from types import SimpleNamespace as NS

import pytest


class Status:
    def __init__(self) -> None:
        self.header = NS(stamp=None)
        self.id = self.instance_id = ""
        self.active = False
        self.heartbeat_timeout = self.heartbeat_period = 0.0


class Logger:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []
        self.throttles: list[float] = []  # each line's rclpy throttle_duration_sec (0: none)

    def _log(self, level, text, kw):
        self.lines.append((level, text))
        self.throttles.append(kw.get("throttle_duration_sec", 0.0))

    def info(self, text, **kw):
        self._log("info", text, kw)

    def warning(self, text, **kw):
        self._log("warning", text, kw)

    def error(self, text, **kw):
        self._log("error", text, kw)


class FakeNode:
    def __init__(self) -> None:
        self.published: list[Status] = []
        self.created: list[tuple] = []
        self.destroyed: list[str] = []
        self.logger = Logger()

    def get_name(self):
        return "mast3r_localizer"

    def get_logger(self):
        return self.logger

    def get_clock(self):
        return NS(now=lambda: NS(to_msg=lambda: "stamp"))

    def create_publisher(self, msg_type, topic, qos):
        self.created.append(("pub", msg_type, topic, qos.depth))
        return NS(topic_name="/" + topic, publish=self.published.append)

    def create_subscription(self, msg_type, topic, cb, qos, callback_group=None):
        self.created.append(("sub", msg_type, topic, qos.depth))
        self.status_cb = cb
        return NS(kind="sub")

    def create_timer(self, period, cb, callback_group=None, clock=None):
        self.created.append(("timer", period))
        self.timer_clock = clock
        self.timer_cb = cb
        return NS(cancel=lambda: self.destroyed.append("cancel"))

    def destroy_timer(self, t):
        self.destroyed.append("timer")

    def destroy_subscription(self, s):
        self.destroyed.append("sub")

    def destroy_publisher(self, p):
        self.destroyed.append("pub")


@pytest.fixture
def bond_module(monkeypatch):
    def mod(name, **attrs):
        m = types.ModuleType(name)
        m.__dict__.update(attrs)
        monkeypatch.setitem(sys.modules, name, m)

    mod("rclpy")
    mod("rclpy.callback_groups", MutuallyExclusiveCallbackGroup=lambda: "group")
    mod("rclpy.clock", Clock=lambda clock_type: NS(clock_type=clock_type),
        ClockType=NS(STEADY_TIME="steady", ROS_TIME="ros", SYSTEM_TIME="system"))
    mod("rclpy.qos", QoSProfile=lambda depth: NS(depth=depth))
    mod("bond")
    mod("bond.msg", Status=Status)
    monkeypatch.delitem(sys.modules, "mast3r_ros.ros.bond", raising=False)
    module = importlib.import_module("mast3r_ros.ros.bond")
    yield module
    sys.modules.pop("mast3r_ros.ros.bond", None)


def test_bond_as_nav2_util_creates_it(bond_module):
    node = FakeNode()
    bond = bond_module.NodeBond(node)
    assert bond.start(0.1)
    assert ("pub", Status, "bond", 5) in node.created and ("sub", Status, "bond", 100) in \
        node.created
    assert ("timer", 0.05) in node.created
    # bondcpp's manager end times heartbeats out on wall time: ours must not stop with /clock
    assert node.timer_clock.clock_type == "steady"
    first = node.published[0]
    assert (first.id, first.active, first.heartbeat_period, first.heartbeat_timeout) == \
        ("mast3r_localizer", True, 0.1, 4.0)
    sister = NS(id="mast3r_localizer", instance_id="manager", active=True)
    node.status_cb(sister)
    assert bond.state.formed
    node.status_cb(NS(id="mast3r_localizer", instance_id=first.instance_id, active=False))
    assert bond.state.formed                               # our own echo is ignored
    bond.stop()
    assert node.published[-1].active is False
    assert node.destroyed == ["cancel", "timer", "sub"] and bond.state is None
    bond.stop()                                            # idempotent
    bond.close()
    assert node.destroyed[-1] == "pub"


def test_no_bond_when_disabled_or_missing(bond_module, monkeypatch):
    node = FakeNode()
    assert not bond_module.NodeBond(node).start(0.0) and not node.created
    monkeypatch.setitem(sys.modules, "bond.msg", None)     # import fails
    bond = bond_module.NodeBond(node)
    assert not bond.start(0.1) and not node.created
    assert node.logger.lines[-1][0] == "warning" and "bond_timeout: 0.0" in \
        node.logger.lines[-1][1]


def test_stop_never_raises_and_is_silent_at_exit(bond_module):
    node = FakeNode()
    exiting = [False]
    bond = bond_module.NodeBond(node, lambda: exiting[0])
    assert bond.start(0.1)

    def dead_context(msg):
        raise RuntimeError("Failed to publish: publisher's context is invalid")

    bond._pub.publish = dead_context
    exiting[0] = True
    n = len(node.logger.lines)
    bond.stop()                                            # no exception
    assert "timer" in node.destroyed and "sub" in node.destroyed
    assert not [ln for ln in node.logger.lines[n:] if ln[0] != "info"]
    bond.close()


def test_standalone_run_says_once_at_info_that_no_manager_joined(bond_module, monkeypatch):
    """No nav2_lifecycle_manager (``ros2 launch`` with autostart): each activation's bond times
    out with no peer; that is one INFO line, not a WARNING per activation. A bond that a
    manager joined and that then broke is still a WARNING."""
    clock = [100.0]
    monkeypatch.setattr(bond_module, "time", NS(monotonic=lambda: clock[0]))
    node = FakeNode()
    bond = bond_module.NodeBond(node)
    for _ in range(3):                                     # activate ... deactivate, 3 times
        assert bond.start(0.1)
        clock[0] += 10.5
        node.timer_cb()
        assert bond.state.broken
        bond.stop()
    said = [ln for ln in node.logger.lines if "lifecycle manager" in ln[1]]
    assert len(said) == 1 and said[0][0] == "info" and "no lifecycle manager joined" in said[0][1]
    assert not [ln for ln in node.logger.lines if ln[0] != "info"]
    assert bond.start(0.1)                                 # now a manager joins ...
    node.status_cb(NS(id="mast3r_localizer", instance_id="manager", active=True))
    clock[0] += 4.5                                        # ... and falls silent
    node.timer_cb()
    assert node.logger.lines[-1][0] == "warning" and "no heartbeat" in node.logger.lines[-1][1]
    node.status_cb(NS(id="mast3r_localizer", instance_id="manager", active=False))
    assert node.logger.lines[-1][0] == "warning" and "broken" in node.logger.lines[-1][1]


def test_a_broken_bond_is_handed_to_the_node_for_diagnostics(bond_module, monkeypatch):
    """A bond a manager joined and that then broke was only logged: the node's /diagnostics
    never heard of it. ``on_broken`` gets the warning; a standalone run's bond nobody joined
    and a bond we ended ourselves are not problems and are not handed on."""
    clock = [100.0]
    monkeypatch.setattr(bond_module, "time", NS(monotonic=lambda: clock[0]))
    node, broken = FakeNode(), []
    bond = bond_module.NodeBond(node, on_broken=broken.append)
    assert bond.start(0.1)
    clock[0] += 10.5
    node.timer_cb()                                        # no manager: standalone
    bond.stop()
    assert bond.start(0.1)
    node.status_cb(NS(id="mast3r_localizer", instance_id="manager", active=True))
    bond.stop()                                            # ended by us
    assert broken == []
    assert bond.start(0.1)
    node.status_cb(NS(id="mast3r_localizer", instance_id="manager", active=True))
    clock[0] += 4.5
    sent = len(node.published)
    node.timer_cb()                                        # the manager fell silent
    # as Nav2's servers (nav2_util sets bond_disable_heartbeat_timeout): our end is kept and
    # keeps heartbeating, the silence is only logged; the manager's end decides
    assert broken == [] and bond.state.formed
    assert node.published[sent:] and node.published[-1].active is True
    assert node.logger.lines[-1][0] == "warning" and "no heartbeat" in node.logger.lines[-1][1]
    node.status_cb(NS(id="mast3r_localizer", instance_id="manager", active=False))
    assert len(broken) == 1 and "broken" in broken[0] and "ended" in broken[0]


def test_a_status_message_that_fails_to_be_handled_is_logged_throttled(bond_module):
    """The manager's status comes every heartbeat period (0.1 s under Nav2): an error handling
    each was an error line each, 10 a second without bound. Throttled now, as the heartbeat's
    own error (rclpy's throttle_duration_sec, by call site)."""
    node = FakeNode()
    bond = bond_module.NodeBond(node)
    assert bond.start(0.1)
    node.status_cb(NS())                                   # no id: handling it raises
    errors = [(line, t) for line, t in zip(node.logger.lines, node.logger.throttles)
              if line[0] == "error"]
    assert len(errors) == 1 and "bond status handling failed" in errors[0][0][1], errors
    assert errors[0][1] == 5.0
    bond.stop()
    bond.close()
