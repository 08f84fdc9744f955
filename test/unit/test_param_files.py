"""How the offline tools read a ROS 2 parameter file (`core.config.load_config_yaml`): the
cases a fresh user found where the CLI silently read something other than what rclpy would
give the node, or ended in a traceback."""

import re

import pytest

from mast3r_ros.core.config import load_config_yaml, validate_param
from mast3r_ros.core.errors import ConfigError
from mast3r_ros.replay.cli import main


def _block(key, **params):
    return f"{key}:\n  ros__parameters:\n" + "".join(f"    {k}: {v}\n" for k, v in params.items())


@pytest.fixture
def load(tmp_path):
    def load(text, namespace=None):
        p = tmp_path / "p.yaml"
        p.write_text(text)
        return load_config_yaml(str(p), namespace=namespace)
    return load


def _one_line_error(capsys, argv):
    assert main(argv) == 2, argv
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def test_a_duplicate_key_is_refused_naming_it_and_its_line(load):
    """PyYAML keeps the last of two equal keys at the first one's position: two '/**' blocks
    read as one, in the wrong place for 'the later block wins'."""
    text = (_block("/**", tf_publish_rate=3.0) + _block("mast3r_localizer", tf_publish_rate=5.0)
            + _block("/**", max_keyframes=4))
    with pytest.raises(ConfigError, match=r"p\.yaml: duplicate key '/\*\*' at line 7"):
        load(text)
    with pytest.raises(ConfigError, match=r"duplicate key 'max_keyframes' at line 4 "):
        load("/**:\n  ros__parameters:\n    max_keyframes: 3\n    max_keyframes: 4\n")
    assert load("/**:\n  ros__parameters:\n    max_keyframes: 3\n").localizer.max_keyframes == 3


def test_ros_parameters_that_is_not_a_mapping_is_one_line_naming_the_block(load, tmp_path,
                                                                           capsys):
    """'ros__parameters: 5' (or a list) ended in AttributeError: 'list' object has no
    attribute 'items'."""
    for value, kind in (("5", "int"), ("[1, 2]", "list"), ("fast", "str")):
        with pytest.raises(ConfigError, match=rf"p\.yaml: '/\*\*': ros__parameters must be a "
                                              rf"mapping .*, got {kind}"):
            load(f"/**:\n  ros__parameters: {value}\n")
    assert load("/**:\n  ros__parameters:\n").localizer.max_keyframes == 2  # empty: defaults
    (tmp_path / "p.yaml").write_text("/**:\n  ros__parameters:\n    - max_keyframes: 3\n")
    err = _one_line_error(capsys, ["check-map", "m", "--params", str(tmp_path / "p.yaml")])
    assert "'/**': ros__parameters must be a mapping" in err


def test_an_empty_value_says_give_one_not_quote_it(load):
    """'map_path:' (or '~', YAML's null) said "quote it ('None')": following the hint named a
    folder 'None'. A list or a mapping is not fixed by quoting either."""
    for value in ("", "~", "null"):
        with pytest.raises(ConfigError) as e:
            load(f"mast3r_localizer:\n  ros__parameters:\n    map_path: {value}\n")
        msg = str(e.value)
        assert "'map_path' must be str, got nothing (YAML null)" in msg, msg
        assert "give it a value, or delete the line to keep the default ''" in msg, msg
        assert "quote" not in msg and "None" not in msg, msg
    with pytest.raises(ConfigError, match=r"'max_keyframes' must be int, got nothing .*give it "
                                          r"a value, or delete the line to keep the default 2"):
        load("mast3r_localizer:\n  ros__parameters:\n    max_keyframes:\n")
    with pytest.raises(ConfigError, match="'map_frame' must be str, got list") as e:
        load("mast3r_localizer:\n  ros__parameters:\n    map_frame: [a, b]\n")
    assert "quote" not in str(e.value) and "one value, not a list" in str(e.value), e.value
    with pytest.raises(ConfigError, match="'map_frame' must be str, got dict") as e:
        validate_param("map_frame", {"a": 1})
    assert "quote" not in str(e.value), e.value
    with pytest.raises(ConfigError, match=r"quote it \('12'\)"):  # still the hint for a number
        load("mast3r_localizer:\n  ros__parameters:\n    map_frame: 12\n")


def test_a_typo_in_a_block_naming_the_node_is_refused_whatever_its_namespace(load):
    """Unknown names were ignored in every key with a '*', so a typo in the shipped
    config/localize.yaml's '/**/mast3r_localizer' block was silently dropped. Only a block
    whose node name is a wildcard ('/**', '/*', '/robot1/*', '/**/*') may hold other nodes'
    parameters."""
    for key in ("/**/mast3r_localizer", "/*/mast3r_localizer", "mast3r_localizer",
                "/robot1/mast3r_localizer"):
        with pytest.raises(ConfigError, match=r"unknown parameter 'max_keyframe' \(did you mean "
                                              r"'max_keyframes'\?\)"):
            load(_block(key, max_keyframe=3))
    for key, ns in (("/**", None), ("/*", "/"), ("/robot1/*", "robot1"), ("/**/*", "robot1")):
        cfg = load(_block(key, robot_base_frame="base_link", tf_publish_rate=7.0), ns)
        assert cfg.node.tf_publish_rate == 7.0, key


def test_a_misspelled_ros_parameters_is_refused_naming_the_block(load, tmp_path, capsys):
    """A block lacking 'ros__parameters' was taken for a namespace and searched for nodes:
    robot1's misspelled block vanished, so robot2's values were used without --namespace and
    '--namespace robot1' said there was no block for robot1. (rcl refuses such a file: "Cannot
    have a value before ros__parameters".)"""
    text = ("/robot1/mast3r_localizer:\n  ros_parameters:\n    max_keyframes: 3\n"
            + _block("/robot2/mast3r_localizer", max_keyframes=4))
    for ns in (None, "robot1", "robot2"):
        with pytest.raises(ConfigError, match=r"p\.yaml: '/robot1/mast3r_localizer' has no "
                                              r"'ros__parameters' \(it has 'ros_parameters'"):
            load(text, ns)
    err = _one_line_error(capsys, ["check-map", "m", "--params", str(tmp_path / "p.yaml")])
    assert "'/robot1/mast3r_localizer' has no 'ros__parameters'" in err
    # nested namespaces, the node's bare name, a ROS 1 style block, an empty one
    for text, name in (("robot1:\n  mast3r_localizer:\n    ros__params:\n      max_keyframes: 3\n",
                        "robot1/mast3r_localizer"),
                       ("mast3r_localizer:\n  max_keyframes: 3\n", "mast3r_localizer"),
                       ("mast3r_localizer:\n", "mast3r_localizer"),
                       ("/**:\n  ros_parameters:\n    max_keyframes: 3\n", "/**")):
        with pytest.raises(ConfigError, match=f"'{re.escape(name)}' has no 'ros__parameters'"):
            load(text)
    # a namespace that holds nodes is still a namespace
    nested = "robot1:\n  mast3r_localizer:\n    ros__parameters:\n      max_keyframes: 3\n"
    assert load(nested).localizer.max_keyframes == 3


def test_wildcard_node_blocks_of_a_namespace_count_as_that_namespaces(load):
    """Blocks keyed '/robot1/*' and '/robot2/*' were ignored: without --namespace only '/**'
    was read, and '--namespace robot3' (a typo) silently took '/**' alone."""
    text = (_block("/**", tf_publish_rate=3.0, robot_base_frame="base_link")
            + _block("/robot1/*", max_keyframes=3, amcl_rate=1)
            + _block("/robot2/*", max_keyframes=4))
    with pytest.raises(ConfigError, match=r"pass --namespace one of: robot1, robot2$"):
        load(text)
    with pytest.raises(ConfigError, match=r"no block for '/robot3/mast3r_localizer' "
                                          r"\(--namespace robot3\): pass --namespace one of: "
                                          r"robot1, robot2$"):
        load(text, "robot3")
    for ns, k in (("robot1", 3), ("/robot2", 4)):
        cfg = load(text, ns)
        assert (cfg.localizer.max_keyframes, cfg.node.tf_publish_rate) == (k, 3.0), ns
    # one robot's: read without --namespace, as rclpy gives that robot's node
    cfg = load(_block("/**", tf_publish_rate=3.0) + _block("/robot1/*", max_keyframes=3))
    assert (cfg.localizer.max_keyframes, cfg.node.tf_publish_rate) == (3, 3.0)
    # '/robot1/**' (robot1 and the namespaces below it) names robot1 too
    text = _block("/robot1/**", max_keyframes=3) + _block("/robot2/mast3r_localizer",
                                                         max_keyframes=4)
    with pytest.raises(ConfigError, match=r"pass --namespace one of: robot1, robot2$"):
        load(text)
    assert load(text, "robot1/arm").localizer.max_keyframes == 3
    with pytest.raises(ConfigError, match=r"no block for '/robot3/mast3r_localizer'"):
        load(text, "robot3")


def test_blocks_rclpy_never_gives_one_node_are_not_merged(load, tmp_path):
    """A bare 'mast3r_localizer:' block (rclpy: the root namespace's node only) and
    '/robot1/mast3r_localizer:' were merged without --namespace, a mix no node ever runs.
    Several namespaces in the file now need --namespace ('/' is the root); one is read as
    rclpy gives that node its parameters; none (wildcards only) reads the wildcard blocks."""
    import argparse

    from mast3r_ros.replay.cli import load_params

    text = (_block("/**", tf_publish_rate=3.0) + _block("mast3r_localizer", max_keyframes=5)
            + _block("/robot1/mast3r_localizer", max_keyframes=3, map_path="one"))
    with pytest.raises(ConfigError, match=r"several namespaced nodes \['/mast3r_localizer', "
                                          r"'/robot1/mast3r_localizer'\]: pass --namespace one "
                                          r"of: / \(the root namespace\), robot1$"):
        load(text)
    root = load(text, "/")
    assert (root.localizer.max_keyframes, root.node.map_path, root.node.tf_publish_rate) == (
        5, "", 3.0)
    robot1 = load(text, "robot1")
    assert (robot1.localizer.max_keyframes, robot1.node.map_path) == (3, "one")
    args = argparse.Namespace(params=str(tmp_path / "p.yaml"), namespace="/")
    assert load_params(args).localizer.max_keyframes == 5  # --namespace / on the command line
    # '/*' is the root namespace's nodes only (rclpy), so it names the root namespace too
    text = _block("/*", max_keyframes=5) + _block("/robot1/mast3r_localizer", max_keyframes=3)
    with pytest.raises(ConfigError, match=r"one of: / \(the root namespace\), robot1$"):
        load(text)
    assert load(text, "/").localizer.max_keyframes == 5
    # one namespace: rclpy's blocks for that node, in file order (a later /** wins)
    one = (_block("/robot1/mast3r_localizer", max_keyframes=3, tf_publish_rate=5.0)
           + _block("/*/mast3r_localizer", map_path="any") + _block("/**", tf_publish_rate=3.0)
           + _block("/robot2/*/mast3r_localizer", max_keyframes=9))  # robot2/x's only
    cfg = load(one)
    assert (cfg.localizer.max_keyframes, cfg.node.map_path, cfg.node.tf_publish_rate) == (
        3, "any", 3.0)
    cfg = load(_block("mast3r_localizer", max_keyframes=5) + _block("/**/mast3r_localizer",
                                                                    map_path="m"))
    assert (cfg.localizer.max_keyframes, cfg.node.map_path) == (5, "m")
    # wildcards only: the blocks for the node in any namespace
    cfg = load(_block("/**", tf_publish_rate=3.0) + _block("/**/mast3r_localizer", map_path="m")
               + _block("/**/*", max_keyframes=4))
    assert (cfg.node.tf_publish_rate, cfg.node.map_path, cfg.localizer.max_keyframes) == (
        3.0, "m", 4)
