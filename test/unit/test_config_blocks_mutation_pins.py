"""Pins of `core.config.every_node_only_names` (which of a node's parameter-file keys came only
from blocks for every node) that the mutation audit of 2026-12-06 found untested: ROS
arguments end at ``--`` (a program's own ``-p`` is not a ROS override), a block keyed by the
node's name without ``ros__parameters`` is a file rcl refuses (None: every key is said), and an
empty ``ros__parameters`` holds no names."""

from __future__ import annotations

from mast3r_ros.core.config import every_node_only_names

FQN = "/mast3r_localizer"
SHARED = "/**: {ros__parameters: {max_keyframe: 3, use_sim_time: true}}\n"


def test_ros_arguments_end_at_a_double_dash_and_a_program_p_is_not_one(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(SHARED)
    both = {"max_keyframe", "use_sim_time"}
    # a -p before --ros-args, or after its closing --, is the program's: not the node's key
    assert every_node_only_names(["-p", "max_keyframe:=4", "--ros-args", "--params-file",
                                  str(path)], FQN) == both
    assert every_node_only_names(["--ros-args", "--params-file", str(path), "--", "-p",
                                  "max_keyframe:=4"], FQN) == both
    # a --params-file after the closing -- is the program's too
    assert every_node_only_names(["--ros-args", "--", "--params-file", str(path)], FQN) == set()
    # inside: -p names the node's own key
    assert every_node_only_names(["--ros-args", "--params-file", str(path), "-p",
                                  "max_keyframe:=4"], FQN) == {"use_sim_time"}


def test_a_block_keyed_by_the_node_without_ros_parameters_gives_none(tmp_path):
    """rcl refuses such a file ('Cannot have a value before ros__parameters'): None, so the
    node says every unknown key, as for a file it cannot parse."""
    path = tmp_path / "p.yaml"
    path.write_text(SHARED + "mast3r_localizer: {max_keyframes: 3}\n")
    assert every_node_only_names(["--ros-args", "--params-file", str(path)], FQN) is None
    assert every_node_only_names(["--ros-args", "--params-file", str(path)],
                                 "/robot1/mast3r_localizer") is None


def test_an_empty_ros_parameters_block_holds_no_names(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(SHARED + "/**/mast3r_localizer: {ros__parameters: }\n")
    assert every_node_only_names(["--ros-args", "--params-file", str(path)], FQN) == {
        "max_keyframe", "use_sim_time"}
