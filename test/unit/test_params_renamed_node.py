"""A copy of config/localize.yaml whose block names the node as a launch renamed it
('/**/localizer:') was refused by `check-params` and every offline tool with only "no parameters
for node 'mast3r_localizer' (top-level keys: ['/**/localizer']; expected ...)": no word that
the block holds this node's parameters under another name, nor of --node-name (check-params',
then every command's)."""

import re

import pytest

from mast3r_ros.core.config import load_config_yaml
from mast3r_ros.core.errors import ConfigError

BODY = ("  ros__parameters:\n    max_keyframes: 3\n    matcher: sift\n"
        "    gates:\n      max_jump_m: 2.0\n")


@pytest.mark.parametrize("key", ["/**/localizer", "localizer", "/robot1/front_localizer"])
def test_a_block_of_this_nodes_parameters_under_another_name_is_named(tmp_path, key):
    path = tmp_path / "p.yaml"
    path.write_text(f"{key}:\n{BODY}")
    name = key.rpartition("/")[2]
    with pytest.raises(ConfigError, match=(
            rf"; {re.escape(repr(key))} sets this node's parameters \(3 of them\) for a node "
            rf"named {re.escape(repr(name))} \(renamed by its launch\?\): pass --node-name "
            rf"{re.escape(name)} to read it \(every command taking the file has it\), or key "
            r"the block for 'mast3r_localizer' or for every node \('/\*\*'\)")):
        load_config_yaml(str(path))
    assert load_config_yaml(str(path), node_name=name).localizer.max_keyframes == 3


def test_another_nodes_block_gets_no_such_hint(tmp_path):
    path = tmp_path / "p.yaml"
    for text in ("amcl:\n  ros__parameters:\n    max_keyframes: 3\n    matcher: sift\n"
                 "    base_frame_id: base\n",  # not only ours: another node's
                 "localizer:\n  ros__parameters:\n    max_keyframes: 3\n"):  # one: too few
        path.write_text(text)
        with pytest.raises(ConfigError) as err:
            load_config_yaml(str(path))
        assert "--node-name" not in str(err.value)
