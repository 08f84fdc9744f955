"""What to say of a launch argument written into the node's parameter file
(`launch_argument_hint`).

``localize.launch.py``'s arguments are not all node parameters: ``image_topic:=`` and
``camera_info_topic:=`` remap the node's topics, ``namespace:=`` places it, ``map:=`` sets the
parameter ``map_path``, ... A params file holding
``image_topic: /camera/camera/color/image_raw`` was refused with "unknown parameter
'image_topic'" (the offline tools) or warned of (the node), naming neither the launch argument
nor the remapping. `LAUNCH_ONLY` lists every argument of
the launch file that is no node parameter (``checkpoint``, ``autostart`` and ``use_sim_time``
are parameters too: a file may set them) with how to give it instead."""

from __future__ import annotations

from typing import Any

LAUNCH_FILE = "localize.launch.py"

# launch argument -> (an example value, what else gives it besides the launch argument); the
# topics are realsense-ros 4.54+'s, as the launch file's usage and error hint give them
LAUNCH_ONLY = {
    "image_topic": ("/camera/camera/color/image_raw",
                    "or remap the node's 'image' topic: --ros-args -r image:=TOPIC"),
    "camera_info_topic": ("/camera/camera/color/camera_info",
                          "or remap the node's 'camera_info' topic: --ros-args -r "
                          "camera_info:=TOPIC"),
    "map": ("maps/kitchen", "or set the parameter map_path instead"),
    "namespace": ("robot1", "or --ros-args -r __ns:=/robot1"),
    "namespaced_tf": ("true", "it remaps /tf and /tf_static to the namespace's"),
    "use_respawn": ("true", "a launch setting: the process is started again"),
    "log_level": ("debug", "or --ros-args --log-level mast3r_localizer:=debug"),
    "params_file": ("my_localize.yaml", "it names the parameter file"),
}


def launch_argument_hint(name: str, value: Any = None,
                         where: str = "the parameter file") -> str:
    """``: an argument of localize.launch.py, not a node parameter: ...`` for a `LAUNCH_ONLY`
    ``name`` found in a parameter file (``value``, a string there, in the example), else '';
    ``where``: what it is to be deleted from (the offline tools: the parameter file; the node,
    which cannot tell a file's key from a ``-p name:=value`` (rclpy merges them): both)."""
    if name not in LAUNCH_ONLY:
        return ""
    example, other = LAUNCH_ONLY[name]
    if isinstance(value, str) and value.strip() and not any(c.isspace() for c in value):
        example = value
    return (f": an argument of {LAUNCH_FILE}, not a node parameter: give it as "
            f"`ros2 launch mast3r_ros {LAUNCH_FILE} {name}:={example}` ({other}) and delete "
            f"it from {where}")
