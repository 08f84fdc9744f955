"""How the offline tools read a ROS 2 parameter file (`core.config.load_config_yaml`): the
cases a fresh user found where the CLI silently read something other than what rclpy would
give the node, or ended in a traceback."""

import pathlib
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
    # a pathlib.Path from Python code was told "quote it ('/maps/a')": str(path) is the fix
    with pytest.raises(ConfigError, match=r"'map_path' must be str, got PosixPath .*: pass "
                                          r"str\(path\) \('/maps/a'\)") as e:
        validate_param("map_path", pathlib.Path("/maps/a"))
    assert "quote" not in str(e.value), e.value


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


# ---- block keys as rclpy matches them, and the file's other checks (hand mutation testing) ----

@pytest.mark.parametrize("key, fqn, applies", [
    # '/**': any number of name tokens (zero included), '/*': exactly one, no partial match
    ("/**", "/mast3r_localizer", True), ("/**", "/a/b/mast3r_localizer", True),
    ("/*", "/mast3r_localizer", True), ("/*", "/robot1/mast3r_localizer", False),
    ("/robot1/*", "/robot1/mast3r_localizer", True),
    ("/robot1/*", "/robot1/arm/mast3r_localizer", False),
    ("/robot1/*", "/robot10/mast3r_localizer", False),
    ("/robot1/**", "/robot1/mast3r_localizer", True),
    ("/robot1/**", "/robot1/arm/mast3r_localizer", True),
    ("/robot1/**", "/robot2/mast3r_localizer", False),
    ("/**/mast3r_localizer", "/mast3r_localizer", True),
    ("/**/mast3r_localizer", "/a/b/mast3r_localizer", True),
    ("/*/mast3r_localizer", "/mast3r_localizer", False),
    ("/*/mast3r_localizer", "/robot1/mast3r_localizer", True),
    ("/*/mast3r_localizer", "/a/b/mast3r_localizer", False),
    ("/*/*", "/robot1/mast3r_localizer", True), ("/*/*", "/mast3r_localizer", False),
    ("/**/*", "/mast3r_localizer", True), ("/**/*", "/a/b/mast3r_localizer", True),
    # the whole name: a namespace alone, or the node's name as a prefix, is no match
    ("/robot1", "/robot1/mast3r_localizer", False),
    ("/robot1/mast3r", "/robot1/mast3r_localizer", False),
    # rclpy adds the leading '/': a bare name is the root namespace's node
    ("mast3r_localizer", "/mast3r_localizer", True),
    ("mast3r_localizer", "/robot1/mast3r_localizer", False),
    ("robot1/mast3r_localizer", "/robot1/mast3r_localizer", True),
    ("/mast3r_localizer", "/robot1/mast3r_localizer", False),
    # a key is a name, not a regular expression
    ("/robot.1/mast3r_localizer", "/robotx1/mast3r_localizer", False),
])
def test_block_keys_match_the_node_as_rclpy_matches_them(key, fqn, applies):
    """ROS 2 docs (Node arguments, parameter files): '*' matches a single token delimited by
    slashes, '**' zero or more; ROS_NOTES: for /probe/pnode 'probe/pnode', '/**', '/**/pnode'
    and '/probe/*' match, 'pnode' and '/pnode' do not."""
    from mast3r_ros.core.config.blocks import _rclpy_applies

    assert _rclpy_applies(key, fqn) is applies


def test_one_token_wildcards_do_not_reach_deeper_namespaces(load):
    text = _block("/robot1/mast3r_localizer", max_keyframes=3) + _block("/*", max_keyframes=5)
    assert load(text, "robot1").localizer.max_keyframes == 3  # '/*': the root's nodes only
    assert load(text, "/").localizer.max_keyframes == 5
    text = (_block("/robot1/arm/mast3r_localizer", max_keyframes=3)
            + _block("/robot1/*", max_keyframes=5))
    assert load(text, "robot1/arm").localizer.max_keyframes == 3  # robot1's nodes, not arm's


@pytest.mark.parametrize("namespace, fqn", [
    ("", "/mast3r_localizer"), ("/", "/mast3r_localizer"), (" ", "/mast3r_localizer"),
    ("robot1", "/robot1/mast3r_localizer"), ("/robot1/", "/robot1/mast3r_localizer"),
    (" /robot1 ", "/robot1/mast3r_localizer"), ("//robot1//arm", "/robot1/arm/mast3r_localizer"),
    ("_r2/arm_1", "/_r2/arm_1/mast3r_localizer"),
])
def test_node_fqn(namespace, fqn):
    from mast3r_ros.core.config import node_fqn

    assert node_fqn(namespace) == fqn


@pytest.mark.parametrize("namespace, bad", [("1robot", "1robot"), ("robot1/2arm", "2arm"),
                                            ("robot-1", "robot-1"), ("robot 1", "robot 1"),
                                            ("robot1/*", "*")])
def test_node_fqn_refuses_what_ros_refuses(namespace, bad):
    """rmw_validate_namespace: tokens of letters, digits and '_', not starting with a digit."""
    from mast3r_ros.core.config import node_fqn

    with pytest.raises(ConfigError, match=rf"namespace '{re.escape(namespace)}': "
                                          rf"'{re.escape(bad)}' is not a ROS name"):
        node_fqn(namespace)


@pytest.mark.parametrize("key, namespace", [
    ("mast3r_localizer", ""), ("/mast3r_localizer", ""), ("/*", ""),
    ("/robot1/mast3r_localizer", "/robot1"), ("robot1/mast3r_localizer", "/robot1"),
    ("/robot1/*", "/robot1"), ("/robot1/**", "/robot1"), ("/a/b/mast3r_localizer", "/a/b"),
    ("/**", None), ("/**/mast3r_localizer", None), ("/*/mast3r_localizer", None),
    ("/**/*", None), ("/robot1/other_node", None), ("other_node", None),
])
def test_the_namespace_a_key_names_the_node_in(key, namespace):
    """`_namespace_of`'s docstring: the one namespace whose node the key names, None for
    another node's key or one for the node in any namespace."""
    from mast3r_ros.core.config.blocks import _namespace_of

    assert _namespace_of(key, "mast3r_localizer") == namespace


def test_a_near_miss_in_a_block_for_every_node_is_warned_about(load, caplog):
    """'/**: ros__parameters: max_keyframe: 3' ran with the default without a word (a fresh
    user's find): a block for every node may hold other nodes' parameters, so it is not an
    error, but a name one letter from ours is a warning naming the one meant; other nodes'
    names (use_sim_time, AMCL's max_particles) stay silent."""
    with caplog.at_level("WARNING", logger="mast3r_ros"):
        cfg = load("/**:\n  ros__parameters:\n    max_keyframe: 3\n    max_particles: 2000\n"
                   "    use_sim_time: true\n")
    assert cfg.localizer.max_keyframes == 2  # the default: the typo is not applied
    warned = [r.getMessage() for r in caplog.records]
    assert len(warned) == 1, warned
    assert "'max_keyframe'" in warned[0] and "did you mean 'max_keyframes'" in warned[0]
    assert "'/**'" in warned[0] and "ignored" in warned[0]


def test_a_misspelled_name_under_one_of_our_sections_is_warned_about(load, caplog):
    """'/**: ros__parameters: matching: {image_sise: 224}' ran at 512 without a word: the
    full name is no near miss of 'image_size' (another section), but 'matching.' is ours, so
    the last component is matched on its own. A RealSense block's 'align_depth.enable' (not
    our section) stays silent, though 'enable' is near 'map_check.enabled'."""
    with caplog.at_level("WARNING", logger="mast3r_ros"):
        cfg = load("/**:\n  ros__parameters:\n    matching:\n      image_sise: 224\n"
                   "    align_depth:\n      enable: true\n")
    assert cfg.model.image_size == 512  # the default: the typo is not applied
    warned = [r.getMessage() for r in caplog.records]
    assert len(warned) == 1, warned
    assert "'matching.image_sise'" in warned[0] and "did you mean 'image_size'" in warned[0]


def test_misspelled_ros_parameters_under_a_wildcard_key_are_refused(load):
    """'/**' is no node's name, so only the misspelling check stops its block from being taken
    for a namespace (and silently dropped): the docstring's 'ros__params' and a shouted
    'ROS__PARAMETERS' included. A namespace's node whose name merely resembles the key
    (ros_gz_bridge's 'parameter_bridge') is still a node."""
    for spelling in ("ros__params", "ROS__PARAMETERS", "Ros__parameters", "ros_parameters"):
        with pytest.raises(ConfigError, match=rf"'/\*\*' has no 'ros__parameters' \(it has "
                                              rf"'{spelling}'"):
            load(f"/**:\n  {spelling}:\n    max_keyframes: 3\n")
    text = ("robot1:\n  parameter_bridge:\n    ros__parameters:\n      config_file: x\n"
            "  mast3r_localizer:\n    ros__parameters:\n      max_keyframes: 3\n")
    assert load(text).localizer.max_keyframes == 3


def test_a_parameter_beside_ros_parameters_is_refused(load):
    """A new user's finding: 'max_keyframes: 2' indented beside ros__parameters instead of
    under it was silently ignored offline (the run used the default), while rcl refuses the
    whole file at the node's start ('Cannot have a value before ros__parameters'). A section
    indented beside it (a nested namespace for rcl) holding values is refused the same way; a
    nested node's own ros__parameters block is not."""
    for text, name in (
            ("mast3r_localizer:\n  ros__parameters:\n    prior_radius_m: 3.0\n"
             "  max_keyframes: 4\n", "max_keyframes"),
            ("/**:\n  max_keyframes: 4\n  ros__parameters:\n    prior_radius_m: 3.0\n",
             "max_keyframes"),
            ("mast3r_localizer:\n  ros__parameters:\n    max_keyframes: 3\n  gates:\n"
             "    min_inliers: 12\n", "gates.min_inliers")):
        with pytest.raises(ConfigError, match=rf"'{re.escape(name)}' beside ros__parameters, "
                                              "not under it"):
            load(text)
    text = ("/**:\n  ros__parameters:\n    max_keyframes: 3\n  other_node:\n"
            "    ros__parameters:\n      rate: 10\n")
    assert load(text).localizer.max_keyframes == 3


def test_a_block_keyed_by_the_node_in_a_namespace_needs_ros_parameters(load):
    """The node's name in a namespace, written in the key or nested, is the node's block, not
    a namespace to search (its parameters would silently vanish)."""
    for text, name in (("/robot1/mast3r_localizer:\n  max_keyframes: 3\n",
                        "/robot1/mast3r_localizer"),
                       ("robot1:\n  mast3r_localizer:\n    max_keyframes: 3\n",
                        "robot1/mast3r_localizer")):
        with pytest.raises(ConfigError, match=rf"'{re.escape(name)}' has no 'ros__parameters' "
                                              r"\(its keys: \['max_keyframes'\]\)"):
            load(text)


def test_a_file_that_is_not_a_mapping_of_blocks_is_refused_naming_the_form(load, tmp_path):
    for text in ("- mast3r_localizer\n", "mast3r_localizer\n", "3\n"):
        with pytest.raises(ConfigError, match=r"p\.yaml: expected 'mast3r_localizer: "
                                              r"\{ros__parameters: \.\.\.\}' at the top$"):
            load(text)
    for value in ("5", "[1, 2]"):  # a block for every node that holds no parameters
        with pytest.raises(ConfigError, match=r"p\.yaml: '/\*\*' must contain "
                                              r"'ros__parameters'$"):
            load(f"/**: {value}\n")
    missing = tmp_path / "nowhere.yaml"
    with pytest.raises(ConfigError, match=rf"^parameter file not found: "
                                          rf"{re.escape(str(missing))}$"):
        load_config_yaml(str(missing))  # a run's config.yaml (--resume): no --params to name
    # the CLI's --params: what to do, after the path (`missing_fix`)
    with pytest.raises(ConfigError, match=rf"^parameter file not found: "
                                          rf"{re.escape(str(missing))}; check the path$"):
        load_config_yaml(str(missing), missing_fix="check the path")
    with pytest.raises(ConfigError, match=r"(?s)p\.yaml: not valid YAML: .*unhashable key"):
        load("? [1, 2]\n: 3\n")  # a complex key: PyYAML's error, not a TypeError


def test_parameters_written_at_the_top_level_are_refused_saying_to_indent_them(load):
    """A flat file ('matcher: sift', 'gates: {min_inliers: 12}') said only 'no parameters for
    node ... expected /**, mast3r_localizer ...', not that its keys are the node's parameters."""
    for text, key in (("matcher: sift\n", "matcher"), ("gates:\n  min_inliers: 12\n", "gates")):
        with pytest.raises(ConfigError, match=rf"no parameters for node .*sets the node's "
                                              rf"parameters \('{key}'\) at the top level; "
                                              rf"indent them under 'mast3r_localizer:' and "
                                              rf"'ros__parameters:'"):
            load(text)
    with pytest.raises(ConfigError, match=r"mast3r_localizer'\)$"):  # no parameter: no hint
        load("talker:\n  ros__parameters:\n    rate: 1\n")


def test_a_misspelt_top_level_key_is_named_with_what_it_probably_meant(load):
    """A new user's find: a block keyed 'mast3r_localiser:' (British spelling) and a flat
    'max_keyframe: 3' both said only "no parameters for node 'mast3r_localizer' (top-level
    keys: [...]; expected ...)", with no word of the typo, while a correctly spelt flat key
    got the 'indent it' hint and a misspelt key inside the block a 'did you mean'."""
    body = "  ros__parameters:\n    max_keyframes: 3\n"
    for key, fixed in (("mast3r_localiser", "mast3r_localizer"),
                       ("/robot1/mast3r_localiser", "/robot1/mast3r_localizer"),
                       ("/mast3r_localiser", "/mast3r_localizer"),
                       ("mast3r_localizer/", "mast3r_localizer")):
        with pytest.raises(ConfigError, match=rf"top-level keys: .*; '{re.escape(key)}' "
                                              rf"\(did you mean '{re.escape(fixed)}'\?\): a "
                                              rf"block applies only to the node it names"):
            load(f"{key}:\n{body}")
    with pytest.raises(ConfigError, match=r"sets the node's parameters \('max_keyframe' \(did "
                                          r"you mean 'max_keyframes'\?\)\) at the top level; "
                                          r"indent them under 'mast3r_localizer:'"):
        load("max_keyframe: 3\n")
    for other in ("talker", "localizer", "amcl"):  # another node's block: no hint
        with pytest.raises(ConfigError, match=r"mast3r_localizer'\)$"):
            load(f"{other}:\n{body}")


def test_a_misspelt_node_name_nested_under_a_namespace_is_named(load):
    """'robot1: {mast3r_localiser: ...}' was refused naming only the top-level key 'robot1':
    the misspelt node name nested under it is named now, as rcl reads it, with the key meant."""
    text = "robot1:\n  mast3r_localiser:\n    ros__parameters:\n      max_keyframes: 3\n"
    for namespace, who in ((None, "mast3r_localizer"), ("robot1", "/robot1/mast3r_localizer")):
        with pytest.raises(ConfigError, match=rf"no parameters for node '{who}' .*; "
                                              r"'robot1/mast3r_localiser' \(did you mean "
                                              r"'robot1/mast3r_localizer'\?\)"):
            load(text, namespace=namespace)


def test_rclpys_own_parameters_are_skipped_in_the_nodes_block(load):
    """use_sim_time (every distribution) and start_type_description_service (Jazzy) are
    declared by rclpy itself; qos_overrides.* by the publishers' QoS overriding options."""
    cfg = load(_block("mast3r_localizer", use_sim_time="true",
                      start_type_description_service="false", max_keyframes=3)
               + "    qos_overrides:\n      /tf:\n        publisher:\n          depth: 10\n")
    assert cfg.localizer.max_keyframes == 3


def test_doubles_are_typed_as_ros_types_them(load):
    """rcl types a value with strtod when strtol does not read all of it: any exponent form is
    a double (PyYAML 1.1 reads one without a dot or a signed exponent as a string). A bool is
    never a number."""
    def one(name, value):
        return load(_block("mast3r_localizer", **{name: value}))
    assert one("tf_publish_rate", "5e0").node.tf_publish_rate == 5.0
    assert one("tf_publish_rate", "2.5E1").node.tf_publish_rate == 25.0
    assert one("covariance.map_pose_sigma_m", "+1e-2").localizer.covariance.map_pose_sigma_m \
        == 0.01
    assert one("gates.max_jump_deg", ".5e2").localizer.gates.max_jump_deg == 50.0
    with pytest.raises(ConfigError, match=r"'tf_publish_rate' must be float, got str '1e-2 Hz'"):
        one("tf_publish_rate", "1e-2 Hz")
    with pytest.raises(ConfigError, match=r"'tf_publish_rate' must be float, got bool True$"):
        one("tf_publish_rate", "true")


def test_a_dumped_config_reads_back_in_any_namespace(tmp_path):
    """`dump_config_yaml` writes the effective config beside results: keyed for the node in any
    namespace, every nested parameter in its section."""
    from mast3r_ros.core.config import Config, config_from_params, dump_config_yaml

    cfg = config_from_params({"max_keyframes": 4, "gates.min_inliers": 50, "matcher": "sift",
                              "pose_at_stamp.tolerance_s": 0.05, "tf_publish_rate": 7.0})
    path = str(tmp_path / "config.yaml")
    dump_config_yaml(cfg, path)
    for ns in (None, "/", "robot1", "robot1/arm"):
        assert load_config_yaml(path, namespace=ns) == cfg, ns
    assert load_config_yaml(path) != Config()


def test_unset_parameters_keep_the_base_configs(load, tmp_path):
    from mast3r_ros.core.config import config_from_params

    base = config_from_params({"matcher": "sift", "max_keyframes": 4})
    p = tmp_path / "p.yaml"
    p.write_text(_block("mast3r_localizer", max_keyframes=3))
    cfg = load_config_yaml(str(p), base=base)
    assert (cfg.localizer.matcher, cfg.localizer.max_keyframes) == ("sift", 3)


def test_a_key_given_dotted_and_nested_in_one_block_is_a_duplicate_key(load):
    text = ("/**:\n  ros__parameters:\n    gates.min_inliers: 5\n    gates:\n"
            "      min_inliers: 6\n")
    with pytest.raises(ConfigError, match=r"p\.yaml: duplicate key 'gates\.min_inliers' "
                                          r"\(written 'gates\.min_inliers' and "
                                          r"'gates: \{min_inliers: \.\.\.\}'"):
        load(text)


def test_an_integer_for_a_double_is_the_float_and_out_of_range_says_the_range(load):
    """'-5' was refused as an integer (write -5.0), then '-5.0' as out of range: two round
    trips for one value. The node now takes an integer for a double (dynamic typing), and so
    does the file reader: 7 is 7.0, and -5 is refused for its range alone."""
    with pytest.raises(ConfigError) as e:
        load(_block("/**", **{"pnp.reproj_error_px": -5}))
    assert "parameter 'pnp.reproj_error_px' must be in [0.1, 100.0], got -5" in str(e.value)
    cfg = load(_block("/**", **{"pnp.reproj_error_px": 7}))
    assert cfg.localizer.pnp.reproj_error_px == 7.0


def test_an_empty_parameter_file_is_said_to_be_empty(load):
    for text in ("", "\n\n", "# only a comment\n"):
        with pytest.raises(ConfigError) as e:
            load(text)
        assert str(e.value).endswith("p.yaml: the file is empty (nothing but blank lines or "
                                     "comments): expected 'mast3r_localizer: {ros__parameters: "
                                     "...}' at the top"), str(e.value)
    with pytest.raises(ConfigError, match=r"p\.yaml: expected 'mast3r_localizer: "):
        load("- 1\n")


def test_other_nodes_sections_in_a_block_for_every_node_are_ignored_as_before(load):
    """A '/**' block holds other nodes' parameters: another node's 'device: {port: ...}' was
    read as our 'device' set to a dict, and another node's key written dotted and nested was a
    duplicate-key error, refusing files that loaded before (a regression review's find). Our
    own names keep both rules, in every block."""
    cfg = load("/**:\n  ros__parameters:\n    use_sim_time: true\n"
               "    device: {port: /dev/ttyUSB0, baud: 115200}\n"
               "    other.rate: 5\n    other: {rate: 6}\n"
               "mast3r_localizer:\n  ros__parameters: {matcher: sift}\n")
    assert cfg.model.device == "auto" and cfg.localizer.matcher == "sift"
    with pytest.raises(ConfigError, match="duplicate key 'gates.min_inliers'"):
        load("/**:\n  ros__parameters:\n    gates.min_inliers: 5\n    gates: {min_inliers: 6}\n")
    with pytest.raises(ConfigError, match="parameter 'device' must be str, got dict"):
        load("mast3r_localizer:\n  ros__parameters:\n    device: {port: /dev/ttyUSB0}\n")


def test_a_missing_params_file_says_what_to_do(capsys, tmp_path):
    """`--params /nope.yaml` said only 'parameter file not found: /nope.yaml': now what to do,
    check the path or leave --params out for the defaults (the shipped-file hint below, and a
    path with a blank at its edge, keep their own advice)."""
    missing = str(tmp_path / "nope.yaml")
    line = _one_line_error(capsys, ["check-map", str(tmp_path / "no_map"), "--params", missing])
    assert line == (f"mast3r-ros check-map: error: parameter file not found: {missing}; check "
                    "the path, or leave --params out for the defaults"), line
    (tmp_path / "p.yaml").write_text("mast3r_localizer:\n  ros__parameters: {}\n")
    line = _one_line_error(capsys, ["check-map", str(tmp_path / "no_map"), "--params",
                                    str(tmp_path / "p.yaml ")])
    assert line.endswith("exists without it; remove the space)"), line


def test_the_readmes_params_path_outside_the_checkout_names_the_installed_file(
        capsys, monkeypatch, tmp_path):
    """`--params config/localize.yaml` (the README's line) run from any folder but the
    checkout, as a pip or colcon user does: the error said only 'not found'; it names the
    folder the path was taken from and the parameter file that came with the package."""
    from mast3r_ros.core.config.param_file import _shipped_params_file

    monkeypatch.chdir(tmp_path)
    shipped = _shipped_params_file()
    assert shipped and load_config_yaml(shipped) is not None
    line = _one_line_error(capsys, ["check-map", str(tmp_path / "no_map"),
                                    "--params", "config/localize.yaml"])
    assert line == (f"mast3r-ros check-map: error: parameter file not found: config/localize.yaml"
                    f" (relative to {tmp_path}); the one that comes with mast3r_ros is {shipped}")
    # a wheel's or colcon's layout: <prefix>/lib/pythonX.Y/site-packages/mast3r_ros and
    # <prefix>/share/mast3r_ros/config/localize.yaml
    here = tmp_path / "venv/lib/python3.11/site-packages/mast3r_ros/core/config/param_file.py"
    here.parent.mkdir(parents=True)
    here.touch()
    assert _shipped_params_file(str(here)) is None
    installed = tmp_path / "venv/share/mast3r_ros/config/localize.yaml"
    installed.parent.mkdir(parents=True)
    installed.write_text("mast3r_localizer:\n  ros__parameters: {}\n")
    assert _shipped_params_file(str(here)) == str(installed)


@pytest.mark.parametrize("value, got", [("5", "got 5"), ("", "got nothing (YAML null)")])
def test_a_section_given_one_value_is_named_a_section_not_an_unknown_parameter(load, value,
                                                                                 got):
    """`gates: 5` (or a bare `gates:` whose parameters were deleted) was refused as 'unknown
    parameter 'gates'', though gates is the section config/localize.yaml itself holds: the
    user was told the name is wrong when the shape is. Now the error says it is a section."""
    with pytest.raises(ConfigError) as err:
        load(f"mast3r_localizer:\n  ros__parameters:\n    gates: {value}\n")
    msg = str(err.value)
    assert "unknown" not in msg, msg
    assert "'gates' is a section of parameters (gates." in msg and got in msg, msg
    assert "write its parameters indented under 'gates:'" in msg, msg


def test_a_parameter_file_indented_with_tabs_says_to_indent_with_spaces(load):
    """A parameter file indented with tabs (an editor's default) was refused with PyYAML's
    'found character '\\t' that cannot start any token' and its source spelled out; the
    camera_info reader said 'YAML indents with spaces, not tabs', the parameter reader did not."""
    with pytest.raises(ConfigError) as err:
        load("mast3r_localizer:\n\tros__parameters:\n\t\tmatcher: sift\n")
    assert str(err.value).endswith(
        "p.yaml: not valid YAML: line 2, column 1: while scanning for the next token, found "
        "character '\\t' that cannot start any token; YAML indents with spaces, not tabs"
    ), err.value


@pytest.mark.parametrize("written, integer", [("1e3", 1000), ("'1000'", 1000), ("2.0e0", 2),
                                              ("'3.0'", 3)])
def test_an_integer_written_as_a_string_says_how_to_write_it(load, written, integer):
    """A new user's finding: 'max_keyframes: 1e3' said "must be int, got str '1e3'" (PyYAML's
    YAML 1.1 reads 1e3 as a string; ROS reads it as a double, refused for an integer too), with
    no word on the fix. Still refused, as the node would refuse it, now naming the integer."""
    with pytest.raises(ConfigError) as e:
        load(_block("mast3r_localizer", max_keyframes=written))
    msg = str(e.value)
    assert "parameter 'max_keyframes' must be int, got str" in msg, msg
    assert f"write it as {integer}, an integer without quotes, '.' or exponent" in msg, msg


def test_a_string_that_is_no_integer_gets_no_integer_hint(load):
    for written in ("2.5e0", "lots", "1e999", "nan"):
        with pytest.raises(ConfigError, match="'max_keyframes' must be int, got str") as e:
            load(_block("mast3r_localizer", max_keyframes=f"'{written}'"))
        assert "write it as" not in str(e.value), str(e.value)


@pytest.mark.parametrize("encoding, bom", [("utf-16-le", b"\xff\xfe"), ("utf-8", b"\xef\xbb\xbf")])
def test_a_parameter_file_saved_on_windows_reads_like_utf8(tmp_path, encoding, bom):
    """Windows PowerShell 5's `>` (Get-Content ... > localize.yaml) and Notepad's "Unicode"
    write UTF-16 LE with a BOM and CRLF: --params refused it as "not a UTF-8 text file (byte
    0: invalid start byte)" although the BOM names the encoding."""
    text = _block("mast3r_localizer", max_keyframes=3, image_size=384).replace("\n", "\r\n")
    p = tmp_path / "localize.yaml"
    p.write_bytes(bom + text.encode(encoding))
    config = load_config_yaml(str(p))
    assert (config.localizer.max_keyframes, config.model.image_size) == (3, 384)
    p.write_bytes(bom + text.encode(encoding)[:-1])  # cut inside its last character
    if encoding == "utf-16-le":
        with pytest.raises(ConfigError, match="localize.yaml is not a UTF-16 text file"):
            load_config_yaml(str(p))


def test_a_folder_of_several_yaml_files_names_the_first_three(tmp_path):
    """A folder given as the parameter file names the YAML files in it to give (.yaml and .yml
    alike), the first three of several, sorted."""
    folder = tmp_path / "config"
    folder.mkdir()
    for name in ("a.yml", "b.yaml", "c.yaml", "d.yaml", "notes.txt"):
        (folder / name).write_text("/**:\n  ros__parameters: {}\n")
    with pytest.raises(ConfigError) as err:
        load_config_yaml(str(folder))
    assert str(err.value).endswith(
        f"is a folder: give the YAML file itself, e.g. {folder / 'a.yml'}, {folder / 'b.yaml'}, "
        f"{folder / 'c.yaml'}"), str(err.value)
