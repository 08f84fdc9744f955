"""A parameter file whose block names the node misspelt ('mast3r_localiser:'). A new user's
find: rcl reads such a file without a word and applies the block to no node, so the node ran on
its defaults (with map:= from the launch file it even started) while the user's values sat in
the file; `mast3r-ros --params` refused the same file. The node now logs a warning naming the
block and the key meant (`misspelt_node_block_warnings`, called from the node's start-up)."""

from __future__ import annotations

import ast
from pathlib import Path

from mast3r_ros.core.config import misspelt_node_block_warnings

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
