"""A map's manifest.json given as --params (tab completion in the map folder; JSON is YAML):
the line said "it sets the node's parameters ('retrieval') at the top level; indent them under
'mast3r_localizer:' and 'ros__parameters:'", telling the user to edit the map's manifest into
a parameter file. It is named for what it is now, with the files --params takes."""

from __future__ import annotations

import pytest

from mast3r_ros.core.config import load_config_yaml
from mast3r_ros.core.errors import ConfigError
from mast3r_ros.replay.cli import main


def test_a_map_manifest_given_as_params_is_named_for_what_it_is(sift_map):
    with pytest.raises(ConfigError) as err:
        load_config_yaml(f"{sift_map}/manifest.json")
    text = str(err.value)
    assert "manifest" in text and "not a ROS parameter file" in text, text
    assert "build_config.yaml" in text and "indent" not in text, text


def test_the_cli_says_it_in_one_line(tum, sift_map, tmp_path, capsys):
    assert main(["localize", tum[1], "--map", sift_map, "--out", str(tmp_path / "r"),
                 "--matcher", "sift", "--params", f"{sift_map}/manifest.json"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "keyframe map's manifest" in err[0], err
