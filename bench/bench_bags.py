"""The rosbag2 message builders the bag benchmarks share (``bench_long_bag.py``,
``bench_tf_second_pass.py``): rosbags' ROS 2 Humble types, a ``std_msgs/Header`` and a
``geometry_msgs/TransformStamped`` from integer nanosecond stamps. Without torch (unlike
``benchlib``): these scripts time bag reading only."""

from __future__ import annotations

from typing import Any, Sequence

from rosbags.typesys import Stores, get_typestore

TS = get_typestore(Stores.ROS2_HUMBLE)
T = TS.types
S = 1_000_000_000  # ns per s


def header(stamp_ns: int, frame: str) -> Any:
    """``std_msgs/msg/Header`` stamped ``stamp_ns`` (int ns since the epoch) in ``frame``."""
    return T["std_msgs/msg/Header"](
        stamp=T["builtin_interfaces/msg/Time"](sec=stamp_ns // S, nanosec=stamp_ns % S),
        frame_id=frame)


def transform_stamped(parent: str, child: str, stamp_ns: int, xyz: Sequence[float],
                      quat_xyzw: Sequence[float]) -> Any:
    """``geometry_msgs/msg/TransformStamped`` ``parent_from_child`` (REP-105: the child frame's
    pose in the parent's), translation ``xyz`` in metres, rotation ``quat_xyzw`` (x, y, z, w)."""
    return T["geometry_msgs/msg/TransformStamped"](
        header=header(stamp_ns, parent), child_frame_id=child,
        transform=T["geometry_msgs/msg/Transform"](
            translation=T["geometry_msgs/msg/Vector3"](*map(float, xyz)),
            rotation=T["geometry_msgs/msg/Quaternion"](*map(float, quat_xyzw))))
