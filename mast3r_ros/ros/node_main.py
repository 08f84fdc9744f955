"""The ``localizer_node`` console script: `ros.node.main`, with one clear line instead of an
ImportError traceback where ROS 2 is missing.

A pip install writes the script too (setup.py's entry points serve pip and colcon alike), and a
shell without ``source /opt/ros/<distro>/setup.bash`` has no rclpy. Both end here with exit
status 2 and what to do.
"""

from __future__ import annotations

import sys
from typing import List, Optional


def main(args: Optional[List[str]] = None) -> None:
    """Run the node (``ros2 run mast3r_ros localizer_node``); exit 2 with one line on stderr
    when rclpy or a ROS message package it needs cannot be imported."""
    try:
        import rclpy  # noqa: F401
    except ImportError as e:
        sys.stderr.write(
            f"localizer_node: error: ROS 2 is not available here ({e}): source "
            "/opt/ros/<distro>/setup.bash (Humble or Jazzy) and the workspace's "
            "install/setup.bash, then `ros2 run mast3r_ros localizer_node` (README: 'Install'). "
            "Without ROS, the offline tools are `mast3r-ros`.\n")
        raise SystemExit(2) from None
    try:
        from mast3r_ros.ros.node import main as node_main
    except ImportError as e:
        missing = getattr(e, "name", None) or str(e)
        sys.stderr.write(
            f"localizer_node: error: a ROS package the node needs is missing ({missing}): "
            "`rosdep install --from-paths src -y --ignore-src` in the workspace installs "
            "package.xml's dependencies.\n")
        raise SystemExit(2) from None
    node_main(args)


if __name__ == "__main__":
    main()
