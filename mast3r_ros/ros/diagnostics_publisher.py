"""Publishing the node's /diagnostics (imports rclpy message types and diagnostic_updater).

With ``diagnostic_updater`` installed an ``Updater`` (1 Hz) carries the summary; without it a
plain ``/diagnostics`` publisher and a 1 s timer do. Either runs in every lifecycle state, so it
is created once, in the node's ``__init__`` (a second Updater would redeclare its parameters).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from diagnostic_msgs.msg import DiagnosticArray

from mast3r_ros.ros import conversions as conv
from mast3r_ros.ros.diagnostics import DiagnosticsSummary

try:  # the ros/diagnostics package; fall back to a plain /diagnostics publisher without it
    from diagnostic_updater import Updater
except ImportError:  # pragma: no cover - depends on the install
    Updater = None

HARDWARE_ID = "mast3r_ros"


class DiagnosticsPublisher:
    """Publishes ``summary()`` as the status ``'<node name>: <task>'``."""

    def __init__(self, node: Any, task: str, summary: Callable[[], DiagnosticsSummary]) -> None:
        self._node = node
        self._summary = summary
        self.name = f"{node.get_name()}: {task}"
        self._updater = None
        self._pub = None
        if Updater is not None:
            try:
                self._updater = Updater(node, period=1.0)
            except TypeError:  # diagnostic_updater < 3 has no period argument
                self._updater = Updater(node)
            self._updater.setHardwareID(HARDWARE_ID)
            self._updater.add(task, self._fill)
        else:
            self._pub = node.create_publisher(DiagnosticArray, "/diagnostics", 10)
            node.create_timer(1.0, self._publish)

    def _fill(self, stat: Any) -> Any:
        s = self._summary()
        stat.summary(bytes([s.level]), s.message)
        for key, value in s.values:
            stat.add(key, value)
        return stat

    def _publish(self) -> None:
        try:
            msg = conv.diagnostic_array(self._summary(), self.name, HARDWARE_ID,
                                        self._node.get_clock().now().nanoseconds)
            self._pub.publish(msg)
        except Exception as err:  # noqa: BLE001 - never let a timer end spin()
            self._node.get_logger().error(f"diagnostics failed: {err!r}",
                                          throttle_duration_sec=10.0)
