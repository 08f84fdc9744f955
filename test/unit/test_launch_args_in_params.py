"""A launch argument written into the node's parameter file (``image_topic: ...``, a new
user's find) was refused as "unknown parameter 'image_topic'" (the offline tools) or warned of
as having no effect (the node), saying neither that it is an argument of localize.launch.py
nor how to give it. Every launch argument that is no node parameter is now named so."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from mast3r_ros.core.config import ROS_BUILTIN_PARAMS, param_specs, validate_param
from mast3r_ros.core.config.launch_args import LAUNCH_ONLY
from mast3r_ros.core.errors import ConfigError
from mast3r_ros.ros.params import unknown_parameter_warnings

LAUNCH = Path(__file__).resolve().parents[2] / "launch" / "localize.launch.py"


def test_every_launch_argument_that_is_no_node_parameter_is_listed():
    tree = ast.parse(LAUNCH.read_text(encoding="utf-8"))
    declared = {ast.literal_eval(n.args[0]) for n in ast.walk(tree) if isinstance(n, ast.Call)
                and getattr(n.func, "id", getattr(n.func, "attr", "")) == "DeclareLaunchArgument"}
    params = {s.name for s in param_specs()} | set(ROS_BUILTIN_PARAMS)
    assert "image_topic" in declared and "checkpoint" in params
    assert set(LAUNCH_ONLY) == declared - params


@pytest.mark.parametrize("name", sorted(LAUNCH_ONLY))
def test_a_launch_argument_in_the_file_is_named_with_its_launch_syntax(name):
    with pytest.raises(ConfigError) as err:
        validate_param(name, "/cam/img", "my.yaml")
    text = str(err.value)
    assert text.startswith(f"my.yaml: unknown parameter '{name}': an argument of "
                           "localize.launch.py, not a node parameter: give it as `ros2 launch "
                           f"mast3r_ros localize.launch.py {name}:=/cam/img`"), text
    assert "delete it from the parameter file" in text, text


def test_image_topic_names_the_remapping_too_and_the_node_says_the_same():
    with pytest.raises(ConfigError, match=r"remap the node's 'image' topic: --ros-args -r "
                                          r"image:=TOPIC"):
        validate_param("image_topic", "/camera/color/image_raw", "my.yaml")
    (line,) = unknown_parameter_warnings(["image_topic"])
    assert "has no effect: an argument of localize.launch.py" in line, line
    # the example as the launch file's usage gives it: realsense-ros 4.54+'s topic
    assert "image_topic:=/camera/camera/color/image_raw`" in line, line


@pytest.mark.parametrize("name", sorted(LAUNCH_ONLY))
def test_the_nodes_hint_is_right_for_a_file_key_and_a_dash_p_alike(name):
    """The node learns its overrides from rclpy's merged files and -p (it cannot tell which set
    a name): "delete it from the parameter file" was wrong for a `-p image_topic:=...`, and
    "set the parameter map_path in this file" named a file there was none of."""
    (line,) = unknown_parameter_warnings([name])
    assert line.endswith(f"and delete it from the parameter file, or drop the -p {name}:=... "
                         "that sets it"), line
    assert "this file" not in line, line
