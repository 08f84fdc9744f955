"""Publishing the node's /diagnostics (imports rclpy message types).

A plain ``/diagnostics`` publisher and a 1 s steady-clock timer, created once in the node's
``__init__`` and destroyed with the node, so they run in every lifecycle state (and while a
simulation's /clock is paused) and are never destroyed while the
executor spins. The status is named after the node's fully qualified name
(`diagnostics.status_identity`): ``diagnostic_updater.Updater`` names it after the bare node name,
so two robots' localizers could not be told apart.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Optional

from diagnostic_msgs.msg import DiagnosticArray
from rclpy.clock import Clock, ClockType

from mast3r_ros.ros import conversions as conv
from mast3r_ros.ros.diagnostics import DiagnosticsSummary, status_identity

PERIOD_S = 1.0


class DiagnosticsPublisher:
    """Publishes ``summary()`` as the status ``'<namespace>/<node name>: <task>'``.

    ``on_tick()``, if given, runs first on each timer tick (every second on the steady clock, in
    every state, not in `publish_now`): the node re-publishes there what waited for the ROS clock
    to run (the keyframe markers under ``use_sim_time``). Its exceptions are logged like the
    summary's, and the status is still published.
    """

    def __init__(self, node: Any, task: str, summary: Callable[[], DiagnosticsSummary],
                 shutting_down: Callable[[], bool] = lambda: False,
                 on_tick: Optional[Callable[[], None]] = None) -> None:
        self._node = node
        self._summary = summary
        self._on_tick = on_tick
        self._shutting_down = shutting_down  # then nothing is published (the context is going)
        self.name, self.hardware_id = status_identity(node.get_namespace(), node.get_name(), task)
        self._pub = node.create_publisher(DiagnosticArray, "/diagnostics", 10)
        # steady: under use_sim_time a timer on the node's clock stops with /clock (paused
        # simulation, before the first /clock), and /diagnostics is needed most then
        self._timer = node.create_timer(PERIOD_S, self._tick,
                                        clock=Clock(clock_type=ClockType.STEADY_TIME))

    def publish_now(self) -> None:
        """Publish the status now (the node calls it every second while configure blocks the
        executor, so the timer cannot fire). Never raises."""
        self._publish()

    def _tick(self) -> None:
        if self._on_tick is not None and not self._shutting_down():
            try:
                self._on_tick()
            except Exception as err:  # noqa: BLE001 - never let a timer end spin()
                self._node.get_logger().error(f"diagnostics tick failed: {err!r}",
                                              throttle_duration_sec=10.0)
        self._publish()

    def _publish(self) -> None:
        if self._shutting_down():
            return
        try:
            msg = conv.diagnostic_array(self._summary(), self.name, self.hardware_id,
                                        self._node.get_clock().now().nanoseconds)
            self._pub.publish(msg)
        except Exception as err:  # noqa: BLE001 - never let a timer end spin()
            self._node.get_logger().error(f"diagnostics failed: {err!r}",
                                          throttle_duration_sec=10.0)
