"""What the code offers and what the docs name agree (the README read with its docs/*.md pages,
``user_docs``): each calibration file format the README's Supported inputs table lists for
`--camera-info` is named in the option's help (the help named three of the six after Kalibr,
EuRoC and ORB-SLAM files were added); docs/ros_node.md names every /diagnostics value and every
topic and service the node creates."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from mast3r_ros.replay.cli import build_parser
from user_docs import user_docs_text

ROOT = Path(__file__).resolve().parents[2]

# (the words of the format's row in the README's table, the words its help must hold)
CALIBRATION_FORMATS = [
    ("camera_calibration_parsers layout", "camera_info YAML"),
    ("saved with `ros2 topic echo TOPIC --once", "ros2 topic echo --once"),
    ("an OpenCV FileStorage YAML", "OpenCV FileStorage YAML"),
    ("a Kalibr camera chain", "Kalibr"),
    ("an EuRoC/ASL camera `sensor.yaml`", "EuRoC"),
    ("an ORB-SLAM settings file", "ORB-SLAM"),
]


def _help_of(command: str, flag: str) -> str:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    action = next(a for a in sub.choices[command]._actions if flag in a.option_strings)
    return " ".join(action.help.split())


def test_camera_info_help_names_every_calibration_format_the_readme_lists():
    readme = user_docs_text()
    table = readme[readme.index("| camera calibration YAML"):]
    table = table[:table.index("\n| TUM text files")]
    rows = [row for row in table.splitlines() if row.startswith("|")]
    assert len(rows) == len(CALIBRATION_FORMATS), (
        "the README's calibration rows changed: add the new format here and to --camera-info")
    for command in ("build-map", "localize"):
        text = _help_of(command, "--camera-info")
        for readme_words, help_words in CALIBRATION_FORMATS:
            assert readme_words in " ".join(table.split()), readme_words
            assert re.search(re.escape(help_words), text), (
                f"{command} --camera-info's help does not name {help_words!r}: {text}")


def test_ros_node_md_names_every_diagnostics_value():
    """docs/ros_node.md's Diagnostics section lists the key/values the node puts on
    /diagnostics; a value added to `ros.diagnostics` without its word there is one a user
    reading `ros2 topic echo /diagnostics` cannot look up."""
    from mast3r_ros.core.tracker import Track
    from mast3r_ros.ros.diagnostics import DiagnosticsWindow

    text = (ROOT / "docs" / "ros_node.md").read_text(encoding="utf-8")
    section = text[text.index("### Diagnostics"):text.index("## Lifecycle")]
    keys = [k for k, _ in DiagnosticsWindow().summary(1.0, Track.TRACKING, True).values]
    assert len(keys) >= 20, keys
    missing = [k for k in keys if f"`{k}`" not in section]
    assert not missing, f"/diagnostics values docs/ros_node.md does not name: {missing}"


def test_ros_node_md_interfaces_table_lists_every_topic_and_service_the_node_creates():
    """Every publisher, subscription and service name in `mast3r_ros/ros/` (string literals
    given to create_*; the image topics of `topics.image_topic`, the bond's topic) has a row
    in docs/ros_node.md's Interfaces table, so a topic added or renamed there is not missing
    from the one place a user looks its QoS up."""
    from mast3r_ros.ros.bond_state import NAV2_TOPIC

    names = {NAV2_TOPIC, "image", "image/compressed"}  # topics.image_topic (imports rclpy)
    for path in (ROOT / "mast3r_ros" / "ros").glob("*.py"):
        source = path.read_text(encoding="utf-8")
        names |= set(re.findall(r"create_(?:lifecycle_)?(?:publisher|subscription|service)\("
                                r"\s*\w+,\s*\"([^\"]+)\"", source))
    assert {"~/pose", "camera_info", "~/relocalize", "/diagnostics"} <= names, names
    text = (ROOT / "docs" / "ros_node.md").read_text(encoding="utf-8")
    table = text[text.index("## Interfaces"):text.index("### Covariance")]
    rows = set(re.findall(r"^\| `([^`]+)` \(", table, flags=re.M))
    assert not names - rows, f"topics or services missing from the Interfaces table: {names - rows}"


def test_every_supported_image_encoding_is_in_the_readmes_supported_inputs_table():
    """The README's `Image` encodings rows and docs/ros_node.md's image topic row list what
    `image_codec.raw` decodes (the 16-bit Bayer names as `*16` / `bayer_* 8/16`)."""
    from mast3r_ros.core.image_codec.raw import DEPTH_ENCODINGS, SUPPORTED_ENCODINGS

    readme = user_docs_text()
    rows = readme[readme.index("| `Image` encodings"):readme.index("| Image `header.frame_id`")]
    node_md = (ROOT / "docs" / "ros_node.md").read_text(encoding="utf-8")
    image_row = next(line for line in node_md.splitlines() if line.startswith("| `image` (sub)"))
    missing = []
    for enc in SUPPORTED_ENCODINGS:
        bayer16 = enc.startswith("bayer_") and enc.endswith("16")
        if not (f"`{enc}`" in rows or bayer16 and "`*16`" in rows):
            missing.append(f"README: {enc}")
        if enc not in DEPTH_ENCODINGS[2:] and not (
                re.search(rf"(?<![\w]){re.escape(enc)}(?![\w])", image_row)
                or enc.startswith("bayer_") and "bayer_* 8/16" in image_row):
            missing.append(f"docs/ros_node.md: {enc}")
    assert not missing, f"supported encodings the docs do not list: {missing}"


def test_the_readmes_layout_names_every_ros_module_on_the_right_side():
    """Development > Layout says which `mast3r_ros/ros` modules are rclpy-free policy and which
    are the adapters that import rclpy; test_core_no_rclpy's `ROS_ADAPTERS` is what the code
    is held to. A module added to ros/ (or moved across) without its word there fails."""
    from test_core_no_rclpy import ROS_ADAPTERS

    readme = " ".join(user_docs_text().split())
    m = re.search(r"Its policy lives in rclpy-free modules \((.*?)\), testable without ROS; only "
                  r"the adapters import rclpy or message packages: (.*?)\. ", readme)
    assert m, "the README's layout no longer says which ros/ modules are policy and adapters"
    policy, adapters = (set(re.findall(r"`(\w+)`", g)) for g in m.groups())
    policy -= {"localizer_node"}  # the script node_main is, named beside it
    modules = {p.stem for p in (ROOT / "mast3r_ros" / "ros").glob("*.py")} - {"__init__"}
    assert adapters == ROS_ADAPTERS, (sorted(adapters), sorted(ROS_ADAPTERS))
    assert policy == modules - ROS_ADAPTERS, (sorted(policy ^ (modules - ROS_ADAPTERS)))


def test_ros_node_md_names_every_diagnostics_state():
    """`state` on /diagnostics reads 'uninitialized', 'lost', 'inactive', 'configuring', ...:
    the Diagnostics section listed the key without its values, so a user seeing 'inactive'
    or 'configuring' there had to search the rest of the page."""
    from mast3r_ros.core.tracker import Track
    from mast3r_ros.ros.diagnostics import DiagnosticsWindow

    states = set()
    for track in Track:
        states.add(dict(DiagnosticsWindow().summary(1.0, track, True).values)["state"])
    for setup in ({}, {"configuring_since_s": 0.5}, {"finalized": True}):
        window = DiagnosticsWindow()
        for name, value in setup.items():
            setattr(window, name, value)
        states.add(dict(window.summary(1.0, Track.TRACKING, False).values)["state"])
    assert len(states) == 6, states
    text = (ROOT / "docs" / "ros_node.md").read_text(encoding="utf-8")
    section = text[text.index("### Diagnostics"):text.index("## Lifecycle")]
    start = re.search(r"Values:\s+(?:- )?`state`", section)  # a sentence or a list
    assert start, "the Diagnostics section's 'Values: `state` ...' is gone"
    values = section[start.start():][:400]
    missing = [s for s in sorted(states) if f"`{s}`" not in values]
    assert not missing, f"`state` values the Diagnostics section does not name: {missing}"


# the recording kinds the README's commands table says REC may be (its words) -> the words
# build-map's and localize's SOURCE help, its option group and the default poses must hold
RECORDING_KINDS = [("a TUM RGB-D folder", "TUM RGB-D"), ("an EuRoC/ASL dataset folder", "EuRoC"),
                   ("a KITTI odometry sequence", "KITTI"), ("rosbag2 (mcap", "rosbag2"),
                   ("a ROS 1 `.bag` too", "ROS 1 .bag")]


def test_source_help_names_every_recording_kind_the_readme_lists():
    """`mast3r-ros build-map --help` said SOURCE is a "TUM RGB-D folder or rosbag2" (and the
    default poses "the source's groundtruth.txt") after EuRoC/ASL and KITTI folders were read
    as SOURCE: a user reading --help did not learn they could pass one."""
    readme = user_docs_text()
    rec = readme[readme.index("`REC` is "):]
    rec = " ".join(rec[:rec.index("\n\n")].split())
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for command, poses_flag in (("build-map", "--trajectory"), ("localize", "--groundtruth")):
        cmd = sub.choices[command]
        source = next(a for a in cmd._actions if a.dest == "source")
        group = next(g.title for g in cmd._action_groups if g.title.startswith("source"))
        poses = _help_of(command, poses_flag)
        for readme_words, help_words in RECORDING_KINDS:
            assert readme_words in rec, readme_words
            for what, text in (("SOURCE", source.help), ("its option group", group)):
                assert help_words in text, f"{command} {what} does not name {help_words}: {text}"
            if "bag" not in help_words:  # the folders' own ground truth is the default
                assert help_words.split()[0] in poses, f"{command} {poses_flag}: {poses}"


# what the README says of an option that --help must say too (option, its words in --help)
HELP_FACTS = [
    ("build-map", "--depth-topic", "registered to the colour image when /tf_static"),
    ("build-map", "--depth-scale", "a RealSense recording: its Depth Units"),
    ("build-map", "--sync-tolerance", "EuRoC --stereo-depth: cam0/cam1"),
    ("build-map", "--stereo-depth", "KITTI image_1 / image_3"),
    ("build-map", "--stereo-depth", "(not --camera-info)"),
    ("build-map", "--out", "not SOURCE, inside it or holding it"),
    ("localize", "--out", "not SOURCE, inside it or holding it"),
]


def test_help_states_what_the_readme_says_of_the_option():
    """build-map's --help called --depth-topic a 'registered depth image topic' after a depth
    camera's own stream came to be registered (RealSense extrinsics, /tf_static), said nothing of
    a RealSense recording's Depth Units under --depth-scale, nor that --sync-tolerance pairs
    EuRoC's cam0 and cam1 for --stereo-depth, whose own help named cam1 only (KITTI's are
    image_1 / image_3) and not that --camera-info does not enter it; --out did not say that
    one that is SOURCE, inside it or holding it is refused."""
    for command, flag, words in HELP_FACTS:
        text = _help_of(command, flag)
        assert words in text, f"{command} {flag}'s help lacks {words!r}: {text}"
    assert "registered depth image topic" not in _help_of("build-map", "--depth-topic")
