"""The bond protocol as bondcpp speaks it, without rclpy (the thin rclpy side is `ros/bond.py`).

Nav2's lifecycle manager (``nav2_lifecycle_manager``, ``bond_timeout`` > 0) creates, after it
activates a node, a ``bond::Bond`` on the topic ``bond`` with the node's name as the bond id and
waits up to ``bond_timeout`` for it to form; nav2_util's LifecycleNode creates the other end in
on_activate (``createBond``: topic ``bond``, id = node name, heartbeat period
``bond_heartbeat_period`` = 0.1 s, heartbeat timeout 4.0 s) and destroys it on deactivate and at
shutdown. Each side publishes ``bond/msg/Status`` (id, instance_id, active, heartbeat_timeout,
heartbeat_period) every heartbeat period.

States and transitions follow bondcpp's ``BondSM`` (bondcpp/src/BondSM_sm.cpp):

=====================  ====================================  =================================
state                  event                                 next (effects)
=====================  ====================================  =================================
WAITING_FOR_SISTER     sister alive                          ALIVE (formed)
WAITING_FOR_SISTER     sister dead                           DEAD (formed, sister died, broken)
WAITING_FOR_SISTER     connect timeout (10 s) / break        DEAD (broken)
ALIVE                  sister alive                          ALIVE (heartbeat timer restarted)
ALIVE                  sister dead                           DEAD (ack active=false, broken)
ALIVE                  heartbeat timeout (4 s)               DEAD (broken); kept, see below
ALIVE                  break                                 AWAIT_SISTER_DEATH (active=false)
AWAIT_SISTER_DEATH     sister dead / disconnect timeout 2 s  DEAD (broken)
DEAD                   anything                              DEAD
=====================  ====================================  =================================

Publishing: active=true every heartbeat period while WAITING_FOR_SISTER or ALIVE; active=false
every 0.05 s (``DEAD_PUBLISH_PERIOD``) while AWAIT_SISTER_DEATH; nothing once DEAD. Messages
with another id, or our own instance_id (we hear ourselves on the topic), are ignored.
One deliberate difference: bondcpp starts the heartbeat timeout only at the sister's second
heartbeat; here it starts when the bond forms (a sister that falls silent at once still breaks
it). Times are seconds on a monotonic clock, given by the caller.

``break_on_silence=False`` is bondcpp with its ``bond_disable_heartbeat_timeout`` parameter true,
which nav2_util's LifecycleNode sets on every Nav2 server ("server side never times out from
lifecycle manager"): a silent sister does not break the bond, the heartbeats go on, and the
timeout is only reported (`BondEvent.SILENT`, once per silence). The manager's end still times
the server out; were the server to break its end and fall silent instead, a manager that was
only slow for a few seconds (a loaded CPU) would then reset the whole Nav2 stack.
"""

from __future__ import annotations

import dataclasses
import enum
import uuid
from typing import Any, List, Optional, Tuple

# bond/msg/Constants.msg
DEAD_PUBLISH_PERIOD_S = 0.05
DEFAULT_CONNECT_TIMEOUT_S = 10.0
DEFAULT_HEARTBEAT_TIMEOUT_S = 4.0
DEFAULT_DISCONNECT_TIMEOUT_S = 2.0
# nav2_util::LifecycleNode::createBond
NAV2_TOPIC = "bond"
NAV2_HEARTBEAT_PERIOD_S = 0.1
NAV2_HEARTBEAT_TIMEOUT_S = 4.0


class BondPhase(enum.Enum):
    WAITING_FOR_SISTER = "waiting_for_sister"
    ALIVE = "alive"
    AWAIT_SISTER_DEATH = "await_sister_death"
    DEAD = "dead"


class BondEvent(enum.Enum):
    FORMED = "formed"
    BROKEN = "broken"
    SILENT = "silent"        # no heartbeat for the timeout, bond kept (break_on_silence False)


class BreakCause(enum.Enum):
    """Why a bond broke (`Step.cause`)."""

    NO_PEER = "no_peer"                  # nobody joined within the connect timeout
    PEER_ENDED = "peer_ended"            # the peer said active=false
    HEARTBEAT_TIMEOUT = "heartbeat_timeout"
    NO_ACK = "no_ack"                    # we ended it; the peer did not acknowledge in time
    BY_US = "by_us"                      # we ended it (acknowledged, or before it formed)


@dataclasses.dataclass(frozen=True)
class StatusData:
    """The fields of one ``bond/msg/Status`` to publish (the header is stamped by the caller)."""

    id: str
    instance_id: str
    active: bool
    heartbeat_timeout: float
    heartbeat_period: float


@dataclasses.dataclass
class Step:
    """What one call asks the caller to do: publish these statuses, report these events (the
    cause and reason say why a bond broke)."""

    publish: List[StatusData] = dataclasses.field(default_factory=list)
    events: List[BondEvent] = dataclasses.field(default_factory=list)
    reason: str = ""
    cause: Optional[BreakCause] = None


class BondState:
    """One end of a bond (see the module docstring). Not thread-safe: the caller holds a lock.

    ``break_on_silence`` False: the peer's silence is reported, not a break (see the module
    docstring; what the node's end does, as Nav2's servers). Raises ValueError for an empty id
    or a non-positive period or timeout.
    """

    def __init__(self, bond_id: str, *, instance_id: Optional[str] = None,
                 heartbeat_period_s: float = NAV2_HEARTBEAT_PERIOD_S,
                 heartbeat_timeout_s: float = NAV2_HEARTBEAT_TIMEOUT_S,
                 connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S,
                 disconnect_timeout_s: float = DEFAULT_DISCONNECT_TIMEOUT_S,
                 dead_publish_period_s: float = DEAD_PUBLISH_PERIOD_S,
                 break_on_silence: bool = True) -> None:
        if not bond_id:
            raise ValueError("a bond needs an id (Nav2 uses the node name)")
        for name, value in (("heartbeat_period_s", heartbeat_period_s),
                            ("heartbeat_timeout_s", heartbeat_timeout_s),
                            ("connect_timeout_s", connect_timeout_s),
                            ("disconnect_timeout_s", disconnect_timeout_s),
                            ("dead_publish_period_s", dead_publish_period_s)):
            if not value > 0.0:
                raise ValueError(f"bond {name} must be > 0, got {value}")
        self.id = bond_id
        self.instance_id = instance_id or str(uuid.uuid4())
        self.heartbeat_period_s = float(heartbeat_period_s)
        self.heartbeat_timeout_s = float(heartbeat_timeout_s)
        self.connect_timeout_s = float(connect_timeout_s)
        self.disconnect_timeout_s = float(disconnect_timeout_s)
        self.dead_publish_period_s = float(dead_publish_period_s)
        self.break_on_silence = bool(break_on_silence)
        self.phase: Optional[BondPhase] = None          # None until start()
        self.sister_instance_id = ""
        self.sister_died_first = False
        self._deadline: Optional[float] = None          # connect / heartbeat / disconnect
        self._next_publish = 0.0

    # --- helpers ---------------------------------------------------------------------------
    @property
    def started(self) -> bool:
        return self.phase is not None

    @property
    def formed(self) -> bool:
        return self.phase is BondPhase.ALIVE

    @property
    def broken(self) -> bool:
        return self.phase is BondPhase.DEAD

    def status(self, active: bool) -> StatusData:
        return StatusData(self.id, self.instance_id, active, self.heartbeat_timeout_s,
                          self.heartbeat_period_s)

    def _die(self, step: Step, cause: BreakCause, reason: str) -> Step:
        self.phase = BondPhase.DEAD
        self._deadline = None
        step.events.append(BondEvent.BROKEN)
        step.cause, step.reason = cause, reason
        return step

    # --- events ----------------------------------------------------------------------------
    def start(self, now_s: float) -> Step:
        """Start waiting for the sister: the first heartbeat goes out at once."""
        if self.started:
            return Step()
        self.phase = BondPhase.WAITING_FOR_SISTER
        self._deadline = now_s + self.connect_timeout_s
        self._next_publish = now_s + self.heartbeat_period_s
        return Step(publish=[self.status(True)])

    def on_status(self, msg: Any, now_s: float) -> Step:
        """A ``bond/msg/Status`` (or anything with its fields) heard on the bond topic."""
        step = Step()
        if not self.started or msg.id != self.id or msg.instance_id == self.instance_id:
            return step
        if not self.sister_instance_id:
            self.sister_instance_id = msg.instance_id
        phase = self.phase
        if msg.active:
            if phase is BondPhase.WAITING_FOR_SISTER:
                self.phase = BondPhase.ALIVE
                self._deadline = now_s + self.heartbeat_timeout_s
                step.events.append(BondEvent.FORMED)
            elif phase is BondPhase.ALIVE:
                self._deadline = now_s + self.heartbeat_timeout_s
            return step
        if phase is BondPhase.WAITING_FOR_SISTER:
            step.events.append(BondEvent.FORMED)
            self.sister_died_first = True
            self._die(step, BreakCause.PEER_ENDED, "the peer ended the bond before it formed")
        elif phase is BondPhase.ALIVE:
            self.sister_died_first = True
            self._die(step, BreakCause.PEER_ENDED, "the peer ended the bond")
        elif phase is BondPhase.AWAIT_SISTER_DEATH:
            self._die(step, BreakCause.BY_US, "bond ended by us, acknowledged by the peer")
        if self.sister_died_first:
            step.publish.append(self.status(False))     # immediate ack of the sister's death
        return step

    def _in_bond(self) -> bool:
        """Started and not dead: the timers and breaking the bond have something to do."""
        return self.phase is not None and self.phase is not BondPhase.DEAD

    def tick(self, now_s: float) -> Step:
        """Timers: call at least every ``dead_publish_period_s``; publishes what is due."""
        if not self._in_bond():
            return Step()
        step, phase = Step(), self.phase
        if self._deadline is not None and now_s >= self._deadline:
            if phase is BondPhase.WAITING_FOR_SISTER:
                return self._die(step, BreakCause.NO_PEER, f"no peer joined the bond within "
                                       f"{self.connect_timeout_s:.1f} s")
            if phase is BondPhase.ALIVE:
                silence = f"no heartbeat from the peer for {self.heartbeat_timeout_s:.1f} s"
                if self.break_on_silence:
                    return self._die(step, BreakCause.HEARTBEAT_TIMEOUT, silence)
                # said once; the peer's next heartbeat arms the timeout again
                self._deadline = None
                step.events.append(BondEvent.SILENT)
                step.reason = silence
            else:
                return self._die(step, BreakCause.NO_ACK,
                                 "the peer did not acknowledge the end of the bond")
        if now_s >= self._next_publish:
            dying = phase is BondPhase.AWAIT_SISTER_DEATH
            step.publish.append(self.status(not dying))
            period = self.dead_publish_period_s if dying else self.heartbeat_period_s
            # a steady rate, as a wall timer; after a stall, one message and on from now
            self._next_publish += period
            if self._next_publish <= now_s:
                self._next_publish = now_s + period
        return step

    def break_bond(self, now_s: float) -> Step:
        """End the bond from this side (deactivate, cleanup, shutdown): active=false goes out."""
        if not self._in_bond():
            return Step()
        step, phase = Step(), self.phase
        if phase is BondPhase.ALIVE:
            self.phase = BondPhase.AWAIT_SISTER_DEATH
            self._deadline = now_s + self.disconnect_timeout_s
            self._next_publish = now_s + self.dead_publish_period_s
        elif phase is BondPhase.WAITING_FOR_SISTER:
            self._die(step, BreakCause.BY_US, "bond ended by us before it formed")
        step.publish.append(self.status(False))
        return step


class BondReport:
    """What the node logs about its bonds, over the node's life (one instance across all its
    activations): `lines` turns a `Step` into ``(level, text)`` pairs, level 'info',
    'warning' (a broken bond) or 'notice' (the manager silent, the bond kept: a warning to
    log, not a broken bond).

    A bond that formed and then broke is a WARNING (the lifecycle manager acts on it). A bond
    that no peer joined within the connect timeout, on a node whose bonds no peer has ever
    joined, is a node run without nav2_lifecycle_manager: said once, at INFO, then silent. Once
    a peer has joined, a bond nobody joins is a WARNING again (the manager went away).
    """

    def __init__(self) -> None:
        self.peer_ever_joined = False
        self._said_standalone = False

    def lines(self, step: Step) -> List[Tuple[str, str]]:
        out: List[Tuple[str, str]] = []
        for event in step.events:
            if event is BondEvent.FORMED:
                self.peer_ever_joined = True
                out.append(("info", "bond with the lifecycle manager formed"))
            elif event is BondEvent.SILENT:
                out.append(("notice", f"bond with the lifecycle manager: {step.reason}; the "
                                      "bond is kept and heartbeats go on, as Nav2's servers "
                                      "do (the manager decides)"))
            elif step.cause is BreakCause.BY_US:
                out.append(("info", f"bond with the lifecycle manager ended: {step.reason}"))
            elif step.cause is BreakCause.NO_PEER and not self.peer_ever_joined:
                if not self._said_standalone:
                    self._said_standalone = True
                    out.append(("info", f"no lifecycle manager joined the bond ({step.reason}): "
                                        "running without one (bond_heartbeat_period: 0.0 "
                                        "starts no bond)"))
            else:
                out.append(("warning", f"bond with the lifecycle manager broken: {step.reason}"))
        return out
