"""Inputs bench/fuzz_inputs.py's reader targets (``ros1_bag``, ``params``, ``euroc``,
``kitti``) found ending in a traceback, a hang or a wrong read: each is now a one-line
`Mast3rRosError` that says what is wrong."""

from __future__ import annotations

import pytest

from mast3r_ros.core.config import load_config_yaml
from mast3r_ros.core.errors import ConfigError


@pytest.mark.parametrize("body, anchor, line", [
    # an alias of its own mapping: a RecursionError in _flatten
    ("    gates: &g\n      min_inliers: 10\n      inner: *g\n", "g", 6),
    # aliases each doubling the one before: walked 2**N times (26 levels: a hang)
    ("    l0: &l0 {a: 1}\n    l1: &l1 {a: *l0, b: *l0}\n    l2: {a: *l1, b: *l1}\n", "l0", 5),
    # a plain alias, and a merge key: read, though rcl refuses the file
    ("    map_frame: &f world\n    odom_frame: *f\n", "f", 5),
])
def test_a_params_file_with_a_yaml_alias_is_refused_as_rcl_refuses_it(tmp_path, body, anchor,
                                                                      line):
    path = tmp_path / "p.yaml"
    path.write_text("/**:\n  ros__parameters:\n    max_keyframes: 3\n" + body)
    with pytest.raises(ConfigError, match=rf"p\.yaml: YAML alias '\*{anchor}' at line {line}: "
                                          r"ROS 2's parameter parser refuses aliases"):
        load_config_yaml(str(path))


def test_a_params_merge_key_alias_is_refused_and_an_anchor_alone_is_read(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("common: &c\n  ros__parameters:\n    max_keyframes: 3\n"
                    "/**/mast3r_localizer:\n  <<: *c\n")
    with pytest.raises(ConfigError, match=r"YAML alias '\*c' at line 5"):
        load_config_yaml(str(path))
    path.write_text("/**:\n  ros__parameters: &p\n    max_keyframes: 3\n")  # rcl reads it
    assert load_config_yaml(str(path)).localizer.max_keyframes == 3
