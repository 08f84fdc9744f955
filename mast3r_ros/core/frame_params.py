"""The node's frame parameters checked as its configure checks them, ROS-free: the node
(`ros/params.validate_node_config`) and ``mast3r-ros check-params`` share this one rule, so a
parameter file that check-params calls valid is one whose frames the node accepts."""

from __future__ import annotations

from .message_fields import frame_id_problem

FRAME_PARAMS = ("map_frame", "odom_frame", "base_frame")


def frame_params_problem(map_frame: str, odom_frame: str, base_frame: str) -> str:
    """Why the node would refuse these frame parameters at configure, "" when it would not:
    a name tf2 rejects (empty, white space around it, a leading '/'; ``odom_frame`` may be
    empty: no odometry) or two of them equal (``map -> odom`` with ``odom_frame`` equal to
    ``map_frame`` would be a transform of a frame to itself)."""
    values = {"map_frame": map_frame, "odom_frame": odom_frame, "base_frame": base_frame}
    for name in FRAME_PARAMS:
        value = values[name]
        why = frame_id_problem(value) if value or name != "odom_frame" else ""
        if why:
            return f"parameter '{name}': {why}"
    frames = [map_frame, base_frame] + ([odom_frame] if odom_frame else [])
    if len(set(frames)) != len(frames):
        return (f"parameters map_frame, odom_frame and base_frame must differ, got "
                f"{map_frame!r}, {odom_frame!r}, {base_frame!r}")
    return ""
