"""A parameter file whose block names the node misspelt ('mast3r_localiser:'). A new user's
find: rcl reads such a file without a word and applies the block to no node, so the node ran on
its defaults (with map:= from the launch file it even started) while the user's values sat in
the file; `mast3r-ros --params` refused the same file. The node now logs a warning naming the
block and the key meant (`misspelt_node_block_warnings`, called from the node's start-up)."""

from __future__ import annotations

import ast
from pathlib import Path

from mast3r_ros.core.config import misspelt_node_block_warnings
from mast3r_ros.core.config.blocks import misspelt_namespace_key

FQN = "/mast3r_localizer"
BODY = "  ros__parameters:\n    matcher: sift\n"


def _argv(path):
    return ["localizer_node", "--ros-args", "--params-file", str(path), "-r", "image:=/cam"]


def test_a_misspelt_node_block_is_warned_about(tmp_path):
    path = tmp_path / "p.yaml"
    for key, fixed, fqn in (("mast3r_localiser", "mast3r_localizer", FQN),
                            ("/robot1/mast3r_localiser", "/robot1/mast3r_localizer",
                             "/robot1/mast3r_localizer"),
                            ("mast3r_localizer/", "mast3r_localizer", FQN)):
        path.write_text(f"/**:\n  ros__parameters:\n    use_sim_time: false\n{key}:\n{BODY}")
        lines = misspelt_node_block_warnings(_argv(path), fqn)
        assert len(lines) == 1, (key, lines)
        assert f"block {key!r} is applied to no node (did you mean {fixed!r}?)" in lines[0]
        assert str(path) in lines[0] and fqn in lines[0]


def test_right_and_other_blocks_say_nothing(tmp_path):
    path = tmp_path / "p.yaml"
    for key in ("mast3r_localizer", "/**/mast3r_localizer", "/robot2/mast3r_localizer",
                "localizer", "amcl", "/**"):
        path.write_text(f"{key}:\n{BODY}")
        assert misspelt_node_block_warnings(_argv(path), FQN) == [], key
    path.write_text("mast3r_localiser:\n" + BODY)
    assert misspelt_node_block_warnings(["--params-file", str(path)], FQN) == []  # not ROS args
    for text in ("[1, 2]\n", "a: [\n"):  # not a mapping, not YAML: rcl reports those itself
        path.write_text(text)
        assert misspelt_node_block_warnings(_argv(path), FQN) == []
    assert misspelt_node_block_warnings(_argv(tmp_path / "none.yaml"), FQN) == []


def test_the_node_logs_them_at_start_up():
    """The node (rclpy, not importable here) calls it in __init__ and logs each line."""
    src = Path(__file__).resolve().parents[2] / "mast3r_ros" / "ros" / "node.py"
    init = next(n for n in ast.walk(ast.parse(src.read_text()))
                if isinstance(n, ast.FunctionDef) and n.name == "__init__")
    loops = [n for n in ast.walk(init) if isinstance(n, ast.For)
             and isinstance(n.iter, ast.Call) and isinstance(n.iter.func, ast.Name)
             and n.iter.func.id == "misspelt_node_block_warnings"]
    assert loops and "warning" in ast.unparse(loops[0].body[0]), "not logged in __init__"


def test_a_file_shared_by_two_nodes_says_nothing(tmp_path):
    """Two cameras, two localizers ('mast3r_localizer', 'mast3r_localizer_2') and one file with
    both blocks: each node's name is a letter or two from the other's, and each node warned
    that the other's block 'is applied to no node', which rcl does apply, to the other node.
    A file with a block naming this node is one the user wrote for it: no warning."""
    path = tmp_path / "p.yaml"
    path.write_text(f"mast3r_localizer:\n{BODY}mast3r_localizer_2:\n{BODY}")
    for fqn in (FQN, "/mast3r_localizer_2"):
        assert misspelt_node_block_warnings(_argv(path), fqn) == [], fqn
    path.write_text(f"/robot1/mast3r_localizer:\n{BODY}/robot1/mast3r_localizer_2:\n{BODY}")
    assert misspelt_node_block_warnings(_argv(path), "/robot1/mast3r_localizer") == []
    # another namespace's block naming the node is no block of this node: the typo is said
    path.write_text(f"/robot1/mast3r_localizer:\n{BODY}/robot2/mast3r_localiser:\n{BODY}")
    lines = misspelt_node_block_warnings(_argv(path), "/robot2/mast3r_localizer")
    assert len(lines) == 1 and "'/robot2/mast3r_localiser'" in lines[0], lines


NS_FQN = "/robot1/mast3r_localizer"


def test_a_bare_block_for_a_namespaced_node_names_the_namespace(tmp_path):
    """A reviewer's find: for the node /robot1/mast3r_localizer and a file with the blocks
    'mast3r_localizer:' and 'mast3r_localizer_2:', the node warned that 'mast3r_localizer_2'
    (the other camera's block, which rcl applies to /mast3r_localizer_2) 'is applied to no node
    (did you mean 'mast3r_localizer'?)', a key that reaches this node no more. rcl keys a bare
    name as the root namespace's node ('/mast3r_localizer'; ROS 2 docs, 'imu:' is '/imu'), so
    neither block reaches it: the warning now names the bare block and the namespace it lacks."""
    path = tmp_path / "p.yaml"
    for key, text in (("mast3r_localizer", f"mast3r_localizer:\n{BODY}mast3r_localizer_2:\n{BODY}"),
                      ("mast3r_localizer", f"mast3r_localizer:\n{BODY}"),
                      ("/mast3r_localizer", f"/mast3r_localizer:\n{BODY}"),
                      ("mast3r_localizer", f"/**:\n  ros__parameters:\n    use_sim_time: "
                                           f"false\nmast3r_localizer:\n{BODY}")):
        path.write_text(text)
        lines = misspelt_node_block_warnings(_argv(path), NS_FQN)
        assert len(lines) == 1, (text, lines)
        assert "mast3r_localizer_2" not in lines[0], lines  # the other node's, not a typo
        assert f"block {key!r} applies only to" in lines[0], lines
        assert "root namespace" in lines[0] and f"key it '{NS_FQN}'" in lines[0], lines
        assert str(path) in lines[0], lines


def test_a_misspelt_bare_block_for_a_namespaced_node_suggests_the_full_name(tmp_path):
    """'mast3r_localiser:' for /robot1/mast3r_localizer was told 'did you mean
    'mast3r_localizer'?', which would still reach no namespaced node."""
    path = tmp_path / "p.yaml"
    for key in ("mast3r_localiser", "mast3r_localizer/"):
        path.write_text(f"{key}:\n{BODY}")
        lines = misspelt_node_block_warnings(_argv(path), NS_FQN)
        assert len(lines) == 1, (key, lines)
        assert f"block {key!r} is applied to no node (did you mean '{NS_FQN}'?" in lines[0], lines
        assert "root namespace" in lines[0], lines


def test_blocks_rcl_applies_to_a_namespaced_node_are_never_warned_about(tmp_path):
    """Every key form rcl applies to /robot1/mast3r_localizer (ROS_NOTES: full name with or
    without the leading '/', namespaces nested, '/**/name', '/*/name'), beside another
    node's near name: the file is one for this node, nothing is a typo."""
    path = tmp_path / "p.yaml"
    for own in ("/robot1/mast3r_localizer:\n" + BODY, "robot1/mast3r_localizer:\n" + BODY,
                "robot1:\n  mast3r_localizer:\n    ros__parameters:\n      matcher: sift\n",
                "/robot1:\n  mast3r_localizer:\n    ros__parameters:\n      matcher: sift\n",
                "/**/mast3r_localizer:\n" + BODY, "/*/mast3r_localizer:\n" + BODY):
        for other in ("mast3r_localizer_2:\n" + BODY, "mast3r_localizer:\n" + BODY, ""):
            path.write_text(own + other)
            assert misspelt_node_block_warnings(_argv(path), NS_FQN) == [], (own, other)


def _nested(ns, name):
    return f"{ns}:\n  {name}:\n    ros__parameters:\n      matcher: sift\n"


def test_a_misspelt_node_name_nested_under_a_namespace_is_warned_about(tmp_path):
    """'robot1: {mast3r_localiser: {ros__parameters: ...}}' (Nav2's RewrittenYaml form) said
    nothing: only top-level keys were compared with the node's name. The nested key is named
    as rcl reads it, with the key meant; the offline tools' refusal names it too."""
    path = tmp_path / "p.yaml"
    for text in (_nested("robot1", "mast3r_localiser"), _nested("/robot1", "mast3r_localiser"),
                 "/**:\n  ros__parameters:\n    use_sim_time: false\n"
                 + _nested("robot1", "mast3r_localiser")):
        path.write_text(text)
        lines = misspelt_node_block_warnings(_argv(path), NS_FQN)
        assert len(lines) == 1, (text, lines)
        ns = text.split("\n  mast3r_localiser")[0].rsplit("\n", 1)[-1].rstrip(":")
        assert (f"block '{ns}/mast3r_localiser' is applied to no node (did you mean "
                f"'{ns}/mast3r_localizer'?)") in lines[0], lines
        assert str(path) in lines[0] and NS_FQN in lines[0], lines
    # two levels of namespaces, for the node in the root namespace too
    path.write_text("fleet:\n  robot1:\n    mast3r_localiser:\n      ros__parameters: {}\n")
    lines = misspelt_node_block_warnings(_argv(path), FQN)
    assert len(lines) == 1 and "'fleet/robot1/mast3r_localiser'" in lines[0], lines
    # this node's own block beside it: a shared file, its near names other nodes'
    path.write_text(_nested("robot1", "mast3r_localizer") + _nested("robot2", "mast3r_localiser"))
    assert misspelt_node_block_warnings(_argv(path), NS_FQN) == []


def test_a_near_name_beside_the_name_it_is_near_is_another_nodes(tmp_path):
    """A second camera's 'mast3r_localizer_2' block beside robot1's 'mast3r_localizer' is no
    typo of it, for a node of another namespace either: the key it would be meant as is
    there already."""
    path = tmp_path / "p.yaml"
    for text in (_nested("robot1", "mast3r_localizer") + "  mast3r_localizer_2:\n"
                 "    ros__parameters: {}\n",
                 f"/robot1/mast3r_localizer:\n{BODY}/robot1/mast3r_localizer_2:\n{BODY}"):
        path.write_text(text)
        assert misspelt_node_block_warnings(_argv(path), "/robot3/mast3r_localizer") == [], text


def test_a_namespace_typo_is_warned_about_where_no_block_is_for_the_node(tmp_path):
    """'/robot_1/mast3r_localizer:' for the node /robot1/mast3r_localizer was silent: rcl
    applies the block to no node of this robot. With no block for this node in the file
    (a '/**' block for every node says nothing of which robot the file is for), a block one
    typo from its namespace (case, '_', '-', a letter added, dropped, changed or swapped) is
    named with the key meant."""
    path = tmp_path / "p.yaml"
    every = "/**:\n  ros__parameters:\n    use_sim_time: false\n"
    for key, ns in (("/robot_1/mast3r_localizer", "/robot_1"),
                    ("robot-1/mast3r_localizer", "/robot-1"),
                    ("/Robot1/mast3r_localizer", "/Robot1"), ("/robto1/*", "/robto1"),
                    ("/robt1/mast3r_localizer", "/robt1"), ("/roboot1/**", "/roboot1")):
        for text in (f"{key}:\n{BODY}", f"{every}{key}:\n{BODY}", every + _nested(
                ns, "mast3r_localizer") if key.endswith("localizer") else f"{key}:\n{BODY}"):
            path.write_text(text)
            lines = misspelt_node_block_warnings(_argv(path), NS_FQN)
            assert len(lines) == 1, (text, lines)
            last = key.rpartition("/")[2]
            assert f"namespace {ns!r}, a typo away from the node's '/robot1'" in lines[0], lines
            assert f"did you mean '/robot1/{last}'?" in lines[0], lines
            assert str(path) in lines[0] and "another robot's" in lines[0], lines


def test_another_robots_block_is_no_namespace_typo(tmp_path):
    """Two robots sharing a file is normal: where a block is for this node (its name or its
    namespace's wildcard, as rcl applies them) nothing is said of the other robot's, however
    near; nor of a namespace with other numbers (robot2, robot11) or far from ours."""
    path = tmp_path / "p.yaml"
    for own in ("/robot1/mast3r_localizer", "robot1/mast3r_localizer", "/robot1/*",
                "/robot1/**", "/**/mast3r_localizer", "/*/mast3r_localizer"):
        for other in ("/robot_1/mast3r_localizer", "/Robot1/*"):
            path.write_text(f"{own}:\n{BODY}{other}:\n{BODY}")
            assert misspelt_node_block_warnings(_argv(path), NS_FQN) == [], (own, other)
    path.write_text(_nested("robot1", "mast3r_localizer") + _nested("robot_1", "mast3r_localizer"))
    assert misspelt_node_block_warnings(_argv(path), NS_FQN) == []
    for other in ("/robot2/mast3r_localizer", "/robot11/mast3r_localizer", "/robot/*", "/rob/*",
                  "/lidar1/mast3r_localizer", "/robot_1/amcl", "/robot_1/*/mast3r_localizer",
                  "/rabat1/mast3r_localizer"):  # two edits: a name of its own
        path.write_text(f"{other}:\n{BODY}")
        assert misspelt_node_block_warnings(_argv(path), NS_FQN) == [], other
    path.write_text(f"/robot_1/mast3r_localizer:\n{BODY}")  # the root namespace's node
    assert misspelt_node_block_warnings(_argv(path), FQN) == []
    # a block naming the node in any namespace is for it ('/**/mast3r_localizer', the only key)
    for own in ("/**/mast3r_localizer", "/*/mast3r_localizer", "robot1/*"):
        assert misspelt_namespace_key([own, "/robot_1/mast3r_localizer"], NS_FQN) is None, own
    assert misspelt_namespace_key(["/**", "/robot_1/mast3r_localizer"], NS_FQN) == \
        "/robot_1/mast3r_localizer"
    # a short name a letter from another is a name of its own ('/cam' and '/car'), but not
    # one that differs only in case or '_'
    assert misspelt_namespace_key(["/car/mast3r_localizer"], "/cam/mast3r_localizer") is None
    assert misspelt_namespace_key(["/CAM/*"], "/cam/mast3r_localizer") == "/CAM/*"


def test_the_offline_params_say_what_the_node_says(tmp_path, caplog):
    """A '/**' block beside 'mast3r_localizr:' (or a block nested under a misspelt namespace):
    the node warned that the block reaches it not, while `mast3r-ros localize --params` read
    the '/**' block alone without a word. `load_config_yaml` now logs the node's own line."""
    from mast3r_ros.core.config import load_config_yaml

    path = tmp_path / "p.yaml"
    every = "/**:\n  ros__parameters:\n    use_sim_time: false\n"
    for text, namespace, fqn in (
            (f"{every}mast3r_localizr:\n{BODY}", None, FQN),
            (f"{every}/robot1/mast3r_localiser:\n{BODY}", "robot1", NS_FQN),
            (every + _nested("robot1", "mast3r_localiser"), None, FQN)):
        path.write_text(text)
        caplog.clear()
        with caplog.at_level("WARNING", logger="mast3r_ros"):
            cfg = load_config_yaml(str(path), namespace=namespace)
        assert cfg.localizer.matcher != "sift", text  # the misspelt block is not applied
        node = misspelt_node_block_warnings(_argv(path), fqn)
        assert [r.getMessage() for r in caplog.records] == node, text
        assert len(node) == 1, text
