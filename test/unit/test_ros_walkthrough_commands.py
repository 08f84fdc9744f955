"""The ROS commands of the user docs' walkthrough (docs/ros_node.md: record, build, launch, run)
run as written on a robot: what they need is installed by the same block, and the paths they
name exist where the command runs (a colcon workspace, not this checkout)."""

from __future__ import annotations

import re

from user_docs import user_docs

INSTALLED_SHARE = "$(ros2 pkg prefix mast3r_ros)/share/mast3r_ros/"


def _commands(text: str):
    """Every shell command of ``text``'s fenced blocks and inline code spans, a backslash
    continuation joined into one line, comments dropped."""
    blocks = re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.S)
    spans = re.findall(r"(?<!`)`([^`\n]+)`(?!`)", re.sub(r"```.*?```", "", text, flags=re.S))
    for block in blocks + spans:
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split(" # ")[0].strip()
            if line:
                yield " ".join(line.split())


def test_finder_joins_continued_lines():
    text = "x `ros2 run a b --ros-args -p c:=1` y\n```\nros2 bag record \\\n  -s mcap /t # c\n```\n"
    assert sorted(_commands(text)) == ["ros2 bag record -s mcap /t",
                                       "ros2 run a b --ros-args -p c:=1"]


def test_an_mcap_recording_installs_the_mcap_plugin_in_the_same_block():
    """Humble's ros2 bag knows only sqlite3 without ros-humble-rosbag2-storage-mcap (not part of
    ros-humble-desktop / ros-base): `-s mcap` then stops with "invalid choice: 'mcap'"
    (ros2/rosbag2#1477)."""
    checked, wrong = 0, []
    for doc, text in user_docs().items():
        for block in re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.S):
            if not re.search(r"ros2 bag record[^\n]*(-s|--storage) mcap", block):
                continue
            checked += 1
            if "rosbag2-storage-mcap" not in block:
                wrong.append(f"{doc}: {block.splitlines()[0]}")
    assert checked >= 1, checked  # the walkthrough's recording step was found
    assert not wrong, f"`ros2 bag record -s mcap` without installing the plugin: {wrong}"


def test_ros2_run_commands_name_the_installed_parameter_file():
    """After `colcon build` the commands run in the workspace (or anywhere): a relative
    `config/localize.yaml` is not there; the installed copy is under the package's share."""
    checked, wrong = 0, []
    for doc, text in user_docs().items():
        for cmd in _commands(text):
            if not cmd.startswith("ros2 run mast3r_ros "):
                continue
            for path in re.findall(r"--params(?:-file)? (\$\([^)]*\)\S*|\S+)", cmd):
                checked += 1
                if not (path.startswith(INSTALLED_SHARE) or path.startswith(("/", "$HOME"))):
                    wrong.append(f"{doc}: {cmd}")
    assert checked >= 2, checked  # build-map's --params and the node's --params-file
    assert not wrong, f"ros2 run commands with a parameter file relative to the checkout: {wrong}"


def test_ros2_run_of_the_node_remaps_its_camera_topics():
    """The launch file remaps `image` and `camera_info` (image_topic:=, camera_info_topic:=);
    a bare `ros2 run` of the node listens on /image and /camera_info, where no driver publishes,
    and the node then waits for images forever."""
    runs = [(doc, cmd) for doc, text in user_docs().items() for cmd in _commands(text)
            if cmd.startswith("ros2 run mast3r_ros localizer_node")]
    assert runs
    wrong = [f"{doc}: {cmd}" for doc, cmd in runs
             if "-r image:=" not in cmd or "-r camera_info:=" not in cmd]
    assert not wrong, f"ros2 run of the node without its camera remaps: {wrong}"


def test_rosdep_skip_keys_name_keys_package_xml_declares():
    """On JetPack, NVIDIA's OpenCV is not Ubuntu's python3-opencv, which rosdep would install
    beside it or over it (dpkg 'trying to overwrite', dusty-nv/jetson-containers#89): the docs
    say how to skip that key, and a skipped key must be one package.xml declares (a misspelt
    key is skipped silently and the package still comes)."""
    import xml.etree.ElementTree as ET
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    keys = {e.text.strip() for e in ET.parse(root / "package.xml").getroot()
            if e.tag.endswith("depend") and e.text}
    named = set()
    for doc, text in user_docs().items():
        for cmd in _commands(text):
            for arg in re.findall(r'--skip-keys[ =](?:"([^"]+)"|(\S+))', cmd):
                named |= {(doc, k) for k in (arg[0] or arg[1]).split()}
    assert ("docs/ros_node.md", "python3-opencv") in named, sorted(named)
    assert not [(doc, k) for doc, k in named if k not in keys], sorted(named)
