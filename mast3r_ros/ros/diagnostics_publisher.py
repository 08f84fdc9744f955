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
from typing import Any

from diagnostic_msgs.msg import DiagnosticArray
from rclpy.clock import Clock, ClockType

from mast3r_ros.ros import conversions as conv
from mast3r_ros.ros.diagnostics import DiagnosticsSummary, status_identity

PERIOD_S = 1.0


class DiagnosticsPublisher:
    """Publishes ``summary()`` as the status ``'<namespace>/<node name>: <task>'``."""

    def __init__(self, node: Any, task: str, summary: Callable[[], DiagnosticsSummary],
                 shutting_down: Callable[[], bool] = lambda: False) -> None:
        self._node = node
        self._summary = summary
        self._shutting_down = shutting_down  # then nothing is published (the context is going)
        self.name, self.hardware_id = status_identity(node.get_namespace(), node.get_name(), task)
        self._pub = node.create_publisher(DiagnosticArray, "/diagnostics", 10)
        # steady: under use_sim_time a timer on the node's clock stops with /clock (paused
        # simulation, before the first /clock), and /diagnostics is needed most then
        self._timer = node.create_timer(PERIOD_S, self._publish,
                                        clock=Clock(clock_type=ClockType.STEADY_TIME))

    def publish_now(self) -> None:
        """Publish the status now (the node calls it every second while configure blocks the
        executor, so the timer cannot fire). Never raises."""
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
