"""The bond protocol state machine (`ros/bond_state.py`), without ROS.

The node's end talks to a second `BondState` standing in for the lifecycle manager's bondcpp
end (same protocol, bondcpp's states), over a simulated topic that delivers every message to
both ends (each end hears itself too, as on a real topic).
"""

from __future__ import annotations

from types import SimpleNamespace as NS

import pytest

from mast3r_ros.ros.bond_state import (
    BondEvent,
    BondPhase,
    BondReport,
    BondState,
    BreakCause,
    StatusData,
)

NODE = "mast3r_localizer"
DT = 0.01


class Topic:
    """Both ends on one 'bond' topic, stepped every 10 ms."""

    def __init__(self, node: BondState, manager: BondState) -> None:
        self.ends = (node, manager)
        self.t = 0.0
        self.sent: list[tuple[float, str, StatusData]] = []
        self.events: dict[str, list[BondEvent]] = {"node": [], "manager": []}

    def deliver(self, who: str, step) -> None:
        self.events[who] += step.events
        for data in step.publish:
            self.sent.append((self.t, who, data))
            for end, name in zip(self.ends, ("node", "manager")):
                reply = end.on_status(data, self.t)
                self.events[name] += reply.events
                if reply.publish:
                    self.deliver(name, NS(events=[], publish=reply.publish))

    def run(self, seconds: float, silent: tuple[str, ...] = ()) -> None:
        for _ in range(int(round(seconds / DT))):
            self.t += DT
            for end, name in zip(self.ends, ("node", "manager")):
                step = end.tick(self.t)
                if name in silent:
                    step.publish = []
                self.deliver(name, step)


def _pair(**node_kw):
    node = BondState(NODE, instance_id="node-uuid", **node_kw)
    manager = BondState(NODE, instance_id="manager-uuid", heartbeat_timeout_s=4.0)
    return node, manager, Topic(node, manager)


def test_forms_with_the_lifecycle_manager_and_heartbeats_at_nav2s_period():
    node, manager, topic = _pair()
    topic.deliver("node", node.start(0.0))               # on_activate
    topic.run(0.3)
    assert node.phase is BondPhase.WAITING_FOR_SISTER    # the manager creates its end later
    topic.deliver("manager", manager.start(topic.t))     # after the activate transition
    topic.run(1.0)
    assert node.formed and manager.formed
    assert topic.events["node"] == [BondEvent.FORMED]
    assert node.sister_instance_id == "manager-uuid"
    mine = [d for t, who, d in topic.sent if who == "node" and t > 0.4]
    assert 9 <= len(mine) <= 11                           # 0.1 s heartbeat period
    d = mine[-1]
    assert (d.id, d.instance_id, d.active) == (NODE, "node-uuid", True)
    assert (d.heartbeat_period, d.heartbeat_timeout) == (0.1, 4.0)


def test_other_bonds_and_our_own_messages_are_ignored():
    node, _, _ = _pair()
    node.start(0.0)
    for msg in (StatusData("amcl", "x", True, 4.0, 0.1), node.status(True)):
        step = node.on_status(msg, 0.1)
        assert not step.events and not step.publish
    assert node.phase is BondPhase.WAITING_FOR_SISTER


def test_deactivate_breaks_the_bond_and_the_manager_sees_it():
    node, manager, topic = _pair()
    topic.deliver("node", node.start(0.0))
    topic.deliver("manager", manager.start(0.0))
    topic.run(0.5)
    topic.deliver("node", node.break_bond(topic.t))      # on_deactivate
    assert topic.sent[-1][2].active is False
    topic.run(0.2)
    assert manager.broken and node.broken                # the manager acked at once
    assert BondEvent.BROKEN in topic.events["manager"]
    n = len(topic.sent)
    topic.run(1.0)
    assert len(topic.sent) == n                          # dead ends publish nothing


def test_manager_ending_the_bond_is_acknowledged():
    node, manager, topic = _pair()
    topic.deliver("node", node.start(0.0))
    topic.deliver("manager", manager.start(0.0))
    topic.run(0.5)
    topic.deliver("manager", manager.break_bond(topic.t))  # the manager deactivates us
    assert node.broken and node.sister_died_first
    assert any(who == "node" and not d.active for _, who, d in topic.sent)   # the ack
    assert topic.events["node"][-1] is BondEvent.BROKEN


def test_silence_breaks_the_bond_after_the_heartbeat_timeout():
    node, manager, topic = _pair()
    topic.deliver("node", node.start(0.0))
    topic.deliver("manager", manager.start(0.0))
    topic.run(0.5)
    topic.run(3.8, silent=("manager",))
    assert node.formed
    topic.run(0.4, silent=("manager",))
    assert node.broken


def test_the_nodes_end_outlives_a_silent_manager_as_nav2_servers_do():
    """nav2_util's LifecycleNode sets bondcpp's bond_disable_heartbeat_timeout: a server's end
    never breaks on the manager's silence. Ours broke after 4 s and stopped heartbeating, so a
    manager stalled a few seconds then broke its own end and reset the whole Nav2 stack."""
    node, manager, topic = _pair(break_on_silence=False)
    topic.deliver("node", node.start(0.0))
    topic.deliver("manager", manager.start(0.0))
    topic.run(0.5)
    topic.run(6.0, silent=("manager",))
    assert node.formed and topic.events["node"] == [BondEvent.FORMED, BondEvent.SILENT]
    late = [d for t, who, d in topic.sent if who == "node" and t > 6.0]
    assert late and all(d.active for d in late)             # heartbeats go on
    manager.break_bond(topic.t)                              # the manager ends it: a break
    topic.run(0.2)
    assert node.broken and topic.events["node"][-1] is BondEvent.BROKEN
    step = BondState(NODE, break_on_silence=False)
    step.start(0.0)
    step.on_status(StatusData(NODE, "manager-uuid", True, 4.0, 0.1), 0.1)
    silent = step.tick(4.2)
    assert silent.events == [BondEvent.SILENT] and silent.cause is None
    assert [lv for lv, _ in BondReport().lines(silent)] == ["notice"]
    assert step.tick(9.0).events == []                       # said once per silence
    step.on_status(StatusData(NODE, "manager-uuid", True, 4.0, 0.1), 9.1)
    assert step.tick(13.2).events == [BondEvent.SILENT]      # a new silence is said again


def test_timeouts_without_a_peer_or_its_ack():
    node = BondState(NODE)
    node.start(0.0)
    assert not node.tick(9.9).events
    step = node.tick(10.0)
    assert step.events == [BondEvent.BROKEN] and "10.0 s" in step.reason
    assert step.cause is BreakCause.NO_PEER
    node, manager, topic = _pair()
    topic.deliver("node", node.start(0.0))
    topic.deliver("manager", manager.start(0.0))
    topic.run(0.5)
    node.break_bond(topic.t)
    assert node.phase is BondPhase.AWAIT_SISTER_DEATH
    dying = [node.tick(topic.t + k * 0.05 + 1e-6) for k in range(1, 11)]
    assert all(s.publish and not s.publish[0].active for s in dying)   # active=false, 20 Hz
    assert node.tick(topic.t + 2.0).events == [BondEvent.BROKEN]


def _no_peer_step(t0: float = 0.0):
    node = BondState(NODE)
    node.start(t0)
    return node.tick(t0 + 10.0)


def test_no_manager_ever_is_said_once_at_info_not_as_a_broken_bond():
    """Run standalone (no nav2_lifecycle_manager), every activation's bond times out with no
    peer: one INFO line for the node's life, never a WARNING."""
    report = BondReport()
    lines = report.lines(_no_peer_step())
    assert len(lines) == 1 and lines[0][0] == "info"
    assert "no lifecycle manager joined the bond" in lines[0][1] and "10.0 s" in lines[0][1]
    for _ in range(3):                                   # re-activations: quiet
        assert report.lines(_no_peer_step()) == []


def test_a_bond_that_formed_and_broke_stays_a_warning():
    report = BondReport()
    node = BondState(NODE)
    node.start(0.0)
    step = node.on_status(StatusData(NODE, "manager-uuid", True, 4.0, 0.1), 0.1)
    assert report.lines(step) == [("info", "bond with the lifecycle manager formed")]
    step = node.tick(4.2)                                # the manager fell silent
    assert step.cause is BreakCause.HEARTBEAT_TIMEOUT
    assert [lv for lv, _ in report.lines(step)] == ["warning"]
    # a manager was there once: a later bond nobody joins is a fault, not a standalone run
    assert [lv for lv, _ in report.lines(_no_peer_step())] == ["warning"]
    ended = BondState(NODE)
    ended.start(0.0)
    step = ended.break_bond(1.0)                         # deactivate before it formed
    assert step.cause is BreakCause.BY_US and report.lines(step)[0][0] == "info"


def test_bad_arguments():
    with pytest.raises(ValueError, match="id"):
        BondState("")
    with pytest.raises(ValueError, match="heartbeat_period_s"):
        BondState(NODE, heartbeat_period_s=0.0)
    assert BondState(NODE).instance_id != BondState(NODE).instance_id   # uuid4 per end


def _alive(t: float = 0.0) -> BondState:
    node = BondState(NODE, instance_id="node-uuid")
    node.start(t)
    assert node.on_status(StatusData(NODE, "manager-uuid", True, 4.0, 0.1), t).events == \
        [BondEvent.FORMED]
    return node


@pytest.mark.parametrize("name", ["heartbeat_period_s", "heartbeat_timeout_s",
                                  "connect_timeout_s", "disconnect_timeout_s",
                                  "dead_publish_period_s"])
@pytest.mark.parametrize("value", [0.0, -1.0, float("nan")])
def test_every_period_and_timeout_must_be_positive(name, value):
    with pytest.raises(ValueError, match=name):
        BondState(NODE, **{name: value})


def test_heartbeats_go_out_once_per_period_on_a_steady_grid():
    """start() sends the first at once, the next is due one period later, on the grid
    0.125, 0.25, ... (a period exact in binary) even when ticks come late; a tick a whole
    period late, or after a stall, sends one message and the grid restarts from then."""
    node = BondState(NODE, heartbeat_period_s=0.125)
    assert [d.active for d in node.start(0.0).publish] == [True]

    def sent(t):
        return len(node.tick(t).publish)
    assert sent(0.0625) == 0 and sent(0.124) == 0
    assert sent(0.125) == 1                       # due exactly now
    assert sent(0.2) == 0
    assert sent(0.255) == 1                       # 5 ms late: the next is still due at 0.375
    assert sent(0.375) == 1
    assert sent(0.5) == 1                         # next due 0.625
    assert sent(0.75) == 1                        # a whole period late: next due 0.875
    assert sent(0.76) == 0
    assert sent(0.875) == 1
    assert sent(2.0) == 1                         # a stall: one message, not 9
    assert sent(2.01) == 0 and sent(2.1) == 0
    assert sent(2.125) == 1


def test_starting_again_does_nothing():
    node = _alive(0.0)                            # the sister's heartbeat at 0.0: due by 4.0
    step = node.start(1.0)
    assert step.publish == [] and step.events == [] and node.formed
    assert node.tick(3.99).events == []
    assert node.tick(4.0).cause is BreakCause.HEARTBEAT_TIMEOUT


def test_a_status_heard_before_start_is_ignored():
    node = BondState(NODE, instance_id="node-uuid")
    step = node.on_status(StatusData(NODE, "manager-uuid", False, 4.0, 0.1), 0.0)
    assert step.events == [] and step.publish == [] and node.sister_instance_id == ""
    node.start(0.1)
    assert node.phase is BondPhase.WAITING_FOR_SISTER


def test_the_sister_is_the_first_instance_heard():
    node = _alive(0.0)
    node.on_status(StatusData(NODE, "another-manager", True, 4.0, 0.1), 0.5)
    assert node.sister_instance_id == "manager-uuid"


def test_a_peer_that_ends_the_bond_before_it_formed_forms_and_breaks_it_and_is_acked():
    """bondcpp's WAITING_FOR_SISTER + SisterDead: the bond counts as formed, then broken by
    the peer, and the death is acknowledged at once."""
    node = BondState(NODE, instance_id="node-uuid")
    node.start(0.0)
    step = node.on_status(StatusData(NODE, "manager-uuid", False, 4.0, 0.1), 0.2)
    assert step.events == [BondEvent.FORMED, BondEvent.BROKEN]
    assert step.cause is BreakCause.PEER_ENDED and node.sister_died_first
    assert [(d.instance_id, d.active) for d in step.publish] == [("node-uuid", False)]
    assert node.broken
    assert [lv for lv, _ in BondReport().lines(step)] == ["info", "warning"]


def test_causes_when_we_end_the_bond():
    """Ended by us and acknowledged: BY_US (an INFO line); ended by us, never acknowledged
    within the disconnect timeout: NO_ACK (a WARNING)."""
    node = _alive(0.0)
    node.break_bond(1.0)
    step = node.on_status(StatusData(NODE, "manager-uuid", False, 4.0, 0.1), 1.1)
    assert step.events == [BondEvent.BROKEN] and step.cause is BreakCause.BY_US
    assert step.publish == [] and not node.sister_died_first
    assert BondReport().lines(step)[0][0] == "info"
    node = _alive(0.0)
    node.break_bond(1.0)
    assert node.tick(2.99).events == []
    step = node.tick(3.0)                          # disconnect timeout 2 s
    assert step.cause is BreakCause.NO_ACK
    assert BondReport().lines(step)[0][0] == "warning"


def test_ending_a_bond_before_it_formed_still_says_active_false():
    node = BondState(NODE, instance_id="node-uuid")
    node.start(0.0)
    step = node.break_bond(0.5)
    assert [(d.id, d.instance_id, d.active) for d in step.publish] == \
        [(NODE, "node-uuid", False)]
    assert node.broken and node.break_bond(0.6).publish == []


def test_ending_bond_repeats_active_false_every_50_ms_and_the_silence_notice_says_why():
    """bond/msg/Constants.msg's DEAD_PUBLISH_PERIOD is 0.05 s: once we end a formed bond,
    active=false goes out at once and then every 50 ms until the peer acknowledges; and the
    notice of a silent manager names the silence (mutation audit survivors)."""
    end = BondState(NODE)
    end.start(0.0)
    end.on_status(StatusData(NODE, "manager-uuid", True, 4.0, 0.1), 0.05)
    first = end.break_bond(1.0)
    assert [d.active for d in first.publish] == [False]
    assert end.tick(1.04).publish == []
    assert [d.active for d in end.tick(1.051).publish] == [False]
    assert end.tick(1.09).publish == []
    assert [d.active for d in end.tick(1.101).publish] == [False]
    kept = BondState(NODE, break_on_silence=False)
    kept.start(0.0)
    kept.on_status(StatusData(NODE, "manager-uuid", True, 4.0, 0.1), 0.1)
    (level, text), = BondReport().lines(kept.tick(4.2))
    assert level == "notice" and "no heartbeat from the peer for 4.0 s" in text
