"""The node's end of Nav2's bond: `bond_state.BondState` on a ``bond`` publisher/subscription.

What nav2_util's LifecycleNode does in C++ (``createBond`` in on_activate, ``destroyBond`` on
deactivate and at shutdown), for this Python node: bond id = the node name, topic ``bond``
(relative: it follows the node's namespace, as the lifecycle manager's does), heartbeat period
``bond_heartbeat_period`` (Nav2's 0.1 s), heartbeat timeout 4 s, and, as nav2_util sets
``bond_disable_heartbeat_timeout``, a silent manager does not break our end (the heartbeats go
on; the silence is logged once). With the ``bond`` message
package missing, or ``bond_heartbeat_period`` 0, there is no bond (set the lifecycle manager's
``bond_timeout: 0.0`` then). A broken bond is logged and handed to ``on_broken`` (the node says
it on /diagnostics); the lifecycle manager reacts to it.
Run without a lifecycle manager, no peer ever joins: said once at INFO (`BondReport`).

Threads: the timer and the subscription run in their own callback group; `start`/`stop` come
from transition callbacks; a lock guards the state and the entities.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Optional

from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.clock import Clock, ClockType
from rclpy.qos import QoSProfile

from mast3r_ros.ros.bond_state import (
    DEAD_PUBLISH_PERIOD_S,
    NAV2_HEARTBEAT_TIMEOUT_S,
    NAV2_TOPIC,
    BondReport,
    BondState,
    Step,
)


def status_type() -> Optional[Any]:
    """``bond.msg.Status``, or None when the bond package is not installed."""
    try:
        from bond.msg import Status
    except ImportError:
        return None
    return Status


class NodeBond:
    """Create in the node's ``__init__``; `start` on activate, `stop` on deactivate/cleanup/
    shutdown/error (idempotent), `close` when the node goes. `stop` and `close` never raise (a
    teardown must go on); ``shutting_down()`` True silences a publish that fails because the
    context is already gone (SIGINT/SIGTERM); ``on_broken(text)`` gets each warning line of a
    broken bond (`BondReport`: not one we ended, nor a standalone run's), with our lock held."""

    def __init__(self, node: Any, shutting_down: Optional[Callable[[], bool]] = None,
                 on_broken: Optional[Callable[[str], None]] = None) -> None:
        self._node = node
        self._shutting_down = shutting_down or (lambda: False)
        self._on_broken = on_broken or (lambda text: None)
        self._lock = threading.Lock()
        self._state: Optional[BondState] = None
        self._pub = self._sub = self._timer = None
        self._group = MutuallyExclusiveCallbackGroup()
        self._warned = False
        self._report = BondReport()   # across activations: "no manager" is said once

    @property
    def state(self) -> Optional[BondState]:
        return self._state

    def start(self, heartbeat_period_s: float) -> bool:
        """Form a bond with the lifecycle manager; False when it is disabled or unavailable."""
        log = self._node.get_logger()
        if heartbeat_period_s <= 0.0:
            return False
        status = status_type()
        if status is None:
            if not self._warned:
                log.warning("no Nav2 bond: the ROS package 'bond' is not installed; under "
                            "nav2_lifecycle_manager set bond_timeout: 0.0 or install "
                            "ros-$ROS_DISTRO-bond")
                self._warned = True
            return False
        with self._lock:
            if self._state is not None:
                return True
            self._state = BondState(self._node.get_name(), heartbeat_period_s=heartbeat_period_s,
                                    heartbeat_timeout_s=NAV2_HEARTBEAT_TIMEOUT_S,
                                    break_on_silence=False)
            if self._pub is None:
                self._pub = self._node.create_publisher(status, NAV2_TOPIC,
                                                        QoSProfile(depth=5))
            self._sub = self._node.create_subscription(
                status, NAV2_TOPIC, self._on_status, QoSProfile(depth=100),
                callback_group=self._group)
            # a steady timer, as bondcpp's (create_wall_timer): the manager times heartbeats out
            # on wall time, so heartbeats on the node's clock would stop with /clock under
            # use_sim_time (a paused simulation, or before the first /clock) and the manager
            # would break the bond and bring the stack down
            self._timer = self._node.create_timer(
                min(DEAD_PUBLISH_PERIOD_S, heartbeat_period_s), self._on_timer,
                callback_group=self._group, clock=Clock(clock_type=ClockType.STEADY_TIME))
            self._apply(self._state.start(time.monotonic()))
            log.info(f"bond '{self._state.id}' started on topic "
                     f"'{_bond_topic(self._pub)}' (heartbeat {heartbeat_period_s:.2f} s)")
        return True

    def stop(self) -> None:
        """Break the bond (active=false goes out) and stop its timer and subscription."""
        try:
            self._stop()
        except Exception as err:  # noqa: BLE001 - a teardown must go on
            self._node.get_logger().error(f"ending the bond failed: {err!r}")

    def _stop(self) -> None:
        with self._lock:
            state, self._state = self._state, None
            timer, self._timer = self._timer, None
            sub, self._sub = self._sub, None
            if state is not None:
                self._apply(state.break_bond(time.monotonic()))
        if timer is not None:
            timer.cancel()
            self._node.destroy_timer(timer)
        if sub is not None:
            self._node.destroy_subscription(sub)
        if state is not None:
            self._node.get_logger().info(f"bond '{state.id}' ended")

    def close(self) -> None:
        """`stop`, then destroy the publisher (kept across stop so the last active=false is
        not lost with its writer)."""
        self.stop()
        with self._lock:
            pub, self._pub = self._pub, None
        if pub is not None:
            try:
                self._node.destroy_publisher(pub)
            except Exception as err:  # noqa: BLE001
                self._node.get_logger().error(f"destroying the bond publisher failed: {err!r}")

    # --- callbacks -------------------------------------------------------------------------
    def _on_status(self, msg: Any) -> None:
        try:
            with self._lock:
                if self._state is None:
                    return
                self._apply(self._state.on_status(msg, time.monotonic()))
        except Exception as err:  # noqa: BLE001 - never let a callback end spin()
            # throttled as the heartbeat's: the manager's status comes every heartbeat period
            self._node.get_logger().error(f"bond status handling failed: {err!r}",
                                          throttle_duration_sec=5.0)

    def _on_timer(self) -> None:
        try:
            with self._lock:
                if self._state is None:
                    return
                self._apply(self._state.tick(time.monotonic()))
        except Exception as err:  # noqa: BLE001
            self._node.get_logger().error(f"bond heartbeat failed: {err!r}",
                                          throttle_duration_sec=5.0)

    def _apply(self, step: Step) -> None:
        """Publish and log what ``step`` asks for (called with the lock held)."""
        pub = self._pub
        status = status_type() if step.publish else None
        for data in step.publish:
            if pub is None or status is None:
                break
            try:
                msg = status()
                msg.header.stamp = self._node.get_clock().now().to_msg()
                msg.id = data.id
                msg.instance_id = data.instance_id
                msg.active = data.active
                msg.heartbeat_timeout = float(data.heartbeat_timeout)
                msg.heartbeat_period = float(data.heartbeat_period)
                pub.publish(msg)
            except Exception as err:  # noqa: BLE001 - e.g. the context (or clock) is gone at exit
                if not self._shutting_down():
                    self._node.get_logger().warning(f"bond status not published: {err!r}",
                                                    throttle_duration_sec=5.0)
                break
        log = self._node.get_logger()
        for level, text in self._report.lines(step):
            # one call site per severity: rclpy refuses a second severity at the same site
            if level == "info":
                log.info(text)
            elif level == "notice":
                log.warning(text)
            else:
                log.warning(text)
                self._on_broken(text)


def _bond_topic(entity: Any) -> str:
    return getattr(entity, "topic_name", NAV2_TOPIC)
