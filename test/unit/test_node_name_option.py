"""`localize`, `build-map` (and every command with --params) read the blocks of a node named
`--node-name`, as `check-params --node-name` does. Before, only check-params had it: a user
whose launch renamed the node had to edit the parameter file for the offline tools."""

from __future__ import annotations

import argparse

import pytest

from mast3r_ros.core.config import NODE_NAME
from mast3r_ros.core.errors import ConfigError, InputError
from mast3r_ros.replay.cli import build_parser
from mast3r_ros.replay.cli_options import load_config

RENAMED = ("cam2_localizer:\n  ros__parameters:\n    max_keyframes: 4\n    matcher: sift\n"
           "    gates:\n      max_jump_m: 2.0\n")


def _args(command, *extra):
    head = {"localize": ["localize", "rec", "--map", "m", "--out", "o"],
            "build-map": ["build-map", "rec", "--out", "o"],
            "check-map": ["check-map", "m"]}[command]
    return build_parser().parse_args([*head, *extra])


@pytest.mark.parametrize("command", ["localize", "build-map", "check-map"])
def test_node_name_reads_the_renamed_nodes_block(tmp_path, command):
    f = tmp_path / "cam2.yaml"
    f.write_text(RENAMED)
    with pytest.raises(ConfigError, match="pass --node-name cam2_localizer"):
        load_config(_args(command, "--params", str(f)))
    cfg = load_config(_args(command, "--params", str(f), "--node-name", "cam2_localizer"))
    assert cfg.localizer.max_keyframes == 4


def test_node_name_errors_are_check_params_ones(tmp_path, capsys):
    """The same refusal, worded the same, from check-params and from localize."""
    from mast3r_ros.replay.cli import main

    f = tmp_path / "cam2.yaml"
    f.write_text(RENAMED)
    said = []
    for argv in (["check-params", str(f)], ["localize", "rec", "--map", "m", "--out", "o",
                                            "--params", str(f)]):
        assert main([*argv, "--node-name", "cam3_localizer", "--log-level", "error"]) == 2
        said.append(capsys.readouterr().err.split(": error: ", 1)[1])
    assert said[0] == said[1] and "no parameters for node 'cam3_localizer'" in said[0]


def test_node_name_without_params_is_refused_as_namespace_is():
    with pytest.raises(InputError, match=r"--node-name selects the node's blocks of a "
                                         r"parameter file: pass --params YAML too"):
        load_config(_args("localize", "--node-name", "cam2_localizer"))
    assert load_config(_args("localize")).localizer.max_keyframes > 0  # defaults, no file
    assert _args("check-map").node_name is None  # left out: NODE_NAME, as check-params'
    assert NODE_NAME == "mast3r_localizer"


def test_a_misspelt_node_name_is_offered_the_files_name(tmp_path):
    """`--node-name mast3r_localizr` on a file keyed for mast3r_localizer asked only 'did you
    mean /**/mast3r_localizr?' (rename the file's key to the typo); it now offers the
    --node-name that reads the block too. Without --node-name the hint is as it was."""
    f = tmp_path / "p.yaml"
    f.write_text("/**/mast3r_localizer:\n  ros__parameters:\n    max_keyframes: 4\n")
    with pytest.raises(ConfigError, match=r"\(did you mean '/\*\*/mast3r_localizr', or "
                                          r"--node-name mast3r_localizer\?\)"):
        load_config(_args("localize", "--params", str(f), "--node-name", "mast3r_localizr"))
    f.write_text("/**/mast3r_localiser:\n  ros__parameters:\n    max_keyframes: 4\n")
    with pytest.raises(ConfigError, match=r"\(did you mean '/\*\*/mast3r_localizer'\?\): a "
                                          "block applies"):
        load_config(_args("localize", "--params", str(f)))


@pytest.mark.parametrize("command", ["localize", "check-map"])
def test_a_node_name_with_its_namespace_is_split_by_every_command(tmp_path, command):
    """`--node-name /robot1/mast3r_localizer` (as `ros2 node list` prints it) is told to split
    it on every command taking --params, as check-params tells it (one check, shared)."""
    f = tmp_path / "p.yaml"
    f.write_text(RENAMED)
    with pytest.raises(ConfigError, match="--node-name mast3r_localizer --namespace /robot1"):
        load_config(_args(command, "--params", str(f), "--node-name",
                          "/robot1/mast3r_localizer"))


def test_a_node_name_with_the_root_namespace_s_slash_is_told_to_drop_it():
    """`--node-name /mast3r_localizer` is how `ros2 node list` prints a node in the root
    namespace; it was refused as 'not a ROS node name (letters, digits and '_' ...)', which it
    is once the '/' goes."""
    from mast3r_ros.replay.node_name_option import node_name

    with pytest.raises(ConfigError) as e:
        node_name(argparse.Namespace(node_name="/mast3r_localizer"))
    said = str(e.value)
    assert "not a ROS node name" not in said and "--node-name mast3r_localizer" in said, said
