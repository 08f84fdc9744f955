"""The node's bond over real rclpy topics (skipped where rclpy or the bond package is missing).

A plain node stands in for nav2_lifecycle_manager's bondcpp end: it publishes
``bond/msg/Status`` on ``bond`` with the node's name as id every 0.1 s; the node's `NodeBond`
must form, heartbeat with its own instance id, and end with ``active: false`` on stop.
"""

from __future__ import annotations

import time

import pytest

rclpy = pytest.importorskip("rclpy")
pytest.importorskip("bond.msg")

from bond.msg import Status  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.node import Node  # noqa: E402

from mast3r_ros.ros.bond import NodeBond  # noqa: E402

NAME = "mast3r_localizer_bond_test"


def _spin_until(executor, condition, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        executor.spin_once(timeout_sec=0.02)
        if condition():
            return True
    return False


def test_bond_forms_with_a_manager_end_and_ends_with_active_false():
    rclpy.init()
    try:
        node = Node(NAME)
        manager = Node("bond_manager_standin")
        heard: list = []
        manager.create_subscription(Status, "bond", heard.append, 100)
        pub = manager.create_publisher(Status, "bond", 5)

        def beat():
            msg = Status()
            msg.id, msg.instance_id, msg.active = NAME, "manager-instance", True
            msg.heartbeat_timeout, msg.heartbeat_period = 4.0, 0.1
            pub.publish(msg)

        manager.create_timer(0.1, beat)
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        executor.add_node(manager)
        bond = NodeBond(node)
        assert bond.start(0.1)
        assert _spin_until(executor, lambda: bond.state.formed, 5.0)
        mine = [m for m in heard if m.instance_id != "manager-instance"]
        assert mine and all(m.id == NAME and m.active for m in mine)
        assert mine[-1].heartbeat_period == pytest.approx(0.1)
        n = len(heard)
        bond.stop()
        assert _spin_until(executor, lambda: any(
            not m.active for m in heard[n:] if m.instance_id != "manager-instance"), 2.0)
        bond.close()
        node.destroy_node()
        manager.destroy_node()
    finally:
        rclpy.try_shutdown()
