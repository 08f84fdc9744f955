"""Static checks of the launch file, package.xml and setup files (no ROS needed).

The launch file is parsed with `ast`, never executed; package.xml must declare every ROS
package that the node, its glue and the launch file import.
"""

from __future__ import annotations

import ast
import configparser
import dataclasses
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from mast3r_ros.core.config import NodeConfig

ROOT = Path(__file__).resolve().parents[2]
LAUNCH = ROOT / "launch" / "localize.launch.py"
REQUIRED_ARGS = {"map", "checkpoint", "params_file", "namespace", "use_sim_time", "image_topic",
                 "camera_info_topic", "autostart", "log_level", "namespaced_tf",
                 "use_respawn"}
# Python module -> the package.xml key that provides it (where the names differ).
MODULE_TO_KEY = {"tf2_ros": "tf2_ros_py", "numpy": "python3-numpy", "scipy": "python3-scipy",
                 "cv2": "python3-opencv", "yaml": "python3-yaml", "PIL": "python3-pil",
                 "matplotlib": "python3-matplotlib", "tqdm": "python3-tqdm"}
# Imported, but deliberately installed outside rosdep (see package.xml).
NOT_ROSDEP = {"torch", "rosbags", "safetensors", "poselib", "faiss", "ray", "mast3r_ros",
              "onnx", "onnxscript", "onnxruntime", "tensorrt", "triton",  # pip-only extras
              "apsw",  # rosbags' own sqlite3 reader (0.10+), imported only to name its errors
              "av",  # the optional video extra (PyAV): only bags of video topics need it
              "grpc",  # Ray Client's (ray[client]): only a ray:// --ray-address imports it
              "threadpoolctl"}  # optional (apt python3-threadpoolctl; no rosdep key known)


def _calls(tree: ast.AST, name: str):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            if (isinstance(f, ast.Name) and f.id == name) or \
                    (isinstance(f, ast.Attribute) and f.attr == name):
                yield node


def _kw(call: ast.Call, name: str):
    for k in call.keywords:
        if k.arg == name:
            return k.value
    return None


def _const(node) -> object:
    return ast.literal_eval(node) if node is not None else None


@pytest.fixture(scope="module")
def launch_tree() -> ast.AST:
    return ast.parse(LAUNCH.read_text(encoding="utf-8"), str(LAUNCH))


def test_every_launch_argument_has_a_description(launch_tree):
    declared = {}
    for call in _calls(launch_tree, "DeclareLaunchArgument"):
        name = _const(call.args[0])
        desc = _const(_kw(call, "description"))
        assert isinstance(desc, str) and len(desc.strip()) > 10, f"{name}: no description"
        assert _kw(call, "default_value") is not None, f"{name}: no default"
        declared[name] = call
    assert REQUIRED_ARGS <= set(declared), REQUIRED_ARGS - set(declared)
    used = {_const(c.args[0]) for c in _calls(launch_tree, "LaunchConfiguration")}
    assert used <= set(declared), f"undeclared launch configurations: {used - set(declared)}"
    assert set(declared) <= used, f"declared but unused: {set(declared) - used}"


def test_lifecycle_node_action(launch_tree):
    (node,) = list(_calls(launch_tree, "LifecycleNode"))
    assert _const(_kw(node, "package")) == "mast3r_ros"
    assert _const(_kw(node, "executable")) == "localizer_node"
    assert _const(_kw(node, "name")) == "mast3r_localizer"
    assert _kw(node, "namespace") is not None                    # required on Humble
    for kw in ("parameters", "remappings", "ros_arguments"):
        assert _kw(node, kw) is not None, kw
    assert not any(k.arg == "autostart" for k in node.keywords)  # TypeError on Humble
    text = LAUNCH.read_text(encoding="utf-8")
    for topic in ('"image"', '"image/compressed"', '"image/ffmpeg"', '"image/foxglove"',
                  '"camera_info"'):
        assert topic in text
    assert "value_type=str" in text and "value_type=bool" in text
    assert "get_package_share_directory" in text and '"localize.yaml"' in text


def _launch_function(launch_tree, name: str):
    """One top-level function of the launch file, with NODE_NAME, run without ROS."""
    body = [n for n in launch_tree.body if isinstance(n, ast.FunctionDef) and n.name == name]
    body += [n for n in launch_tree.body if isinstance(n, ast.Assign)
             and any(isinstance(t, ast.Name) and t.id == "NODE_NAME" for t in n.targets)]
    space: dict = {}
    exec(compile(ast.Module(body=body, type_ignores=[]), str(LAUNCH), "exec"), space)
    return space[name]


@pytest.mark.parametrize("pushed, namespace, logger", [
    (None, "", "mast3r_localizer"),
    (None, "robot1", "robot1.mast3r_localizer"),
    (None, "/robot1/", "robot1.mast3r_localizer"),
    ("/", "", "mast3r_localizer"),
    # PushRosNamespace / a namespaced include: launch_ros prefixes a relative namespace
    ("/fleet", "", "fleet.mast3r_localizer"),
    ("/fleet", "robot1", "fleet.robot1.mast3r_localizer"),
    ("/fleet/a", "robot1/cam", "fleet.a.robot1.cam.mast3r_localizer"),
    # ... and leaves an absolute one alone
    ("/fleet", "/robot1", "robot1.mast3r_localizer"),
])
def test_log_level_names_the_nodes_logger_under_a_pushed_namespace(launch_tree, pushed,
                                                                   namespace, logger):
    """`log_level:=` sets `<full namespace>.<name>:=level` (ROS_NOTES 2: a name without the
    namespace has no effect); under PushRosNamespace the namespace launch_ros gives the node."""
    assert _launch_function(launch_tree, "_logger_name")(pushed, namespace) == logger


def test_autostart_sends_no_lifecycle_request_from_launch(launch_tree):
    """The node brings itself up (its parameter autostart, ros/self_start.py): a ChangeState
    from launch to a respawned process may be lost (rclpy #1191), and one beside the node's own
    configure would be a second configure, refused ('transition not available')."""
    for action in ("ChangeState", "EmitEvent", "OnStateTransition", "OnProcessStart",
                   "LifecycleTransition"):
        assert not list(_calls(launch_tree, action)), action
    assert "lifecycle_msgs" not in _imports(LAUNCH)
    src = LAUNCH.read_text(encoding="utf-8")
    assert '"autostart": ParameterValue(' in src


def _imports(path: Path) -> set:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.add(node.module.split(".")[0])
    return out


def _exec_depends(tags=("exec_depend", "depend")) -> set:
    root = ET.parse(ROOT / "package.xml").getroot()
    return {e.text.strip() for tag in tags for e in root.iter(tag)}


def test_package_xml_declares_every_import():
    files = list((ROOT / "mast3r_ros" / "ros").glob("*.py")) + [LAUNCH]
    files += list((ROOT / "mast3r_ros" / "core").rglob("*.py"))
    files += list((ROOT / "mast3r_ros" / "replay").rglob("*.py"))
    stdlib = set(sys.stdlib_module_names)
    needed = set()
    for f in files:
        for mod in _imports(f) - stdlib - NOT_ROSDEP:
            needed.add(MODULE_TO_KEY.get(mod, mod))
    missing = needed - _exec_depends()
    assert not missing, f"package.xml lacks exec_depend for: {sorted(missing)}"
    for ros_pkg in ("rclpy", "launch_ros", "tf2_ros_py"):
        assert ros_pkg in needed
    # lifecycle_msgs: rclpy.lifecycle's own (and `ros2 lifecycle`'s); kept declared, though no
    # file here imports it since the launch file stopped sending lifecycle events
    assert "lifecycle_msgs" in _exec_depends()


def test_package_xml_declares_what_colcon_test_imports():
    """`colcon test` runs pytest over all of test/ (the ROS tests and the unit tests), so what
    they import comes from exec or test depends: test_packaging imports `packaging` and
    setuptools, which package.xml did not declare (rosdep installs only what is declared;
    python3-pytest brings packaging on Ubuntu only by chance of its own requirements)."""
    local = {p.stem for d in ("test", "bench") for p in (ROOT / d).rglob("*.py")}
    modules = {"pytest": "python3-pytest", "packaging": "python3-packaging",
               "setuptools": "python3-setuptools"}
    stdlib = set(sys.stdlib_module_names)
    needed = set()
    for f in (ROOT / "test").rglob("*.py"):
        for mod in _imports(f) - stdlib - NOT_ROSDEP - local:
            needed.add(modules.get(mod, MODULE_TO_KEY.get(mod, mod)))
    declared = _exec_depends(("exec_depend", "depend", "test_depend"))
    missing = needed - declared
    assert not missing, f"package.xml lacks test_depend for: {sorted(missing)}"
    assert {"rclpy", "tf2_msgs", "python3-pytest", "python3-numpy"} <= needed  # found the tree


def test_package_xml_is_a_valid_ament_python_manifest():
    root = ET.parse(ROOT / "package.xml").getroot()
    assert root.get("format") == "3"
    assert root.findtext("name") == "mast3r_ros"
    assert root.find("export/build_type").text == "ament_python"
    email = root.find("maintainer").get("email")
    assert "@" in email and "." in email.split("@")[1] and not email.endswith("localhost")


def test_setup_installs_the_node_where_ros2_run_finds_it():
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    assert cfg["develop"]["script_dir"] == "$base/lib/mast3r_ros"
    assert cfg["install"]["install_scripts"] == "$base/lib/mast3r_ros"
    setup_py = (ROOT / "setup.py").read_text(encoding="utf-8")
    assert "localizer_node = mast3r_ros.ros.node_main:main" in setup_py
    assert "launch/*.launch.py" in setup_py and "config/*.yaml" in setup_py
    assert (ROOT / "resource" / "mast3r_ros").exists()


def test_node_docs_cover_the_interface():
    text = (ROOT / "docs" / "ros_node.md").read_text(encoding="utf-8")
    for f in dataclasses.fields(NodeConfig):
        assert f"`{f.name}`" in text, f"docs/ros_node.md does not describe {f.name}"
    for arg in REQUIRED_ARGS:
        assert f"`{arg}`" in text, f"docs/ros_node.md does not describe launch argument {arg}"
    for needle in ("bond_timeout: 0.0", "pose0: /mast3r_localizer/pose", "~/relocalize",
                   "map → odom"):
        assert needle in text


def _egg_requires(tmp_path, env_extra):
    import os
    import subprocess

    env = {k: v for k, v in os.environ.items() if k != "AMENT_PREFIX_PATH"}
    env.update(env_extra)
    subprocess.run([sys.executable, "setup.py", "-q", "egg_info", "-e", str(tmp_path)],
                   cwd=ROOT, env=env, check=True, capture_output=True)
    return (next(tmp_path.glob("*.egg-info")) / "requires.txt").read_text()


def _setup_requires(monkeypatch, argv, ament: bool):
    """install_requires of setup.py run as ``argv`` (setuptools.setup captured, nothing built)."""
    import runpy

    import setuptools

    got = {}
    monkeypatch.setattr(setuptools, "setup", lambda **kw: got.update(kw))
    monkeypatch.setattr(sys, "argv", ["setup.py", *argv])
    if ament:
        monkeypatch.setenv("AMENT_PREFIX_PATH", "/opt/ros/humble")
    else:
        monkeypatch.delenv("AMENT_PREFIX_PATH", raising=False)
    monkeypatch.chdir(ROOT)
    runpy.run_path(str(ROOT / "setup.py"))
    return " ".join(got["install_requires"])


def test_colcon_build_leaves_dependencies_to_rosdep(tmp_path, monkeypatch):
    """colcon (ROS sourced, setup.py install/develop) requires nothing pip-only (a missing
    rosbags would make `ros2 run` refuse to start); pip installs get every requirement, also in
    a shell where ROS is sourced (a fresh user's venv got no numpy, scipy or yaml)."""
    # the argv colcon_core/task/python/build.py gives setup.py, without and with --symlink-install
    colcon = ["egg_info", "--egg-base", "build/mast3r_ros", "build", "--build-base",
              "build/mast3r_ros/build", "install", "--prefix", "install/mast3r_ros", "--record",
              "install.log", "--single-version-externally-managed"]
    symlink = ["develop", "--prefix", "install/mast3r_ros", "--editable", "--build-directory",
               "build/mast3r_ros/build", "--no-deps"]
    for argv in (colcon, symlink):
        ros = _setup_requires(monkeypatch, argv, ament=True)
        assert "torch" not in ros and "rosbags" not in ros and "numpy" not in ros, argv
    # pip: PEP 517 steps, or an old setuptools' legacy editable (develop without --prefix)
    for argv in (["egg_info"], ["dist_info"], ["editable_wheel"], ["bdist_wheel"],
                 ["develop", "--no-deps"]):
        assert "rosbags" in _setup_requires(monkeypatch, argv, ament=True), argv
    assert "torch>" in _setup_requires(monkeypatch, colcon, ament=False)
    # and the real thing: pip's metadata step under a sourced ROS
    (tmp_path / "pip").mkdir()
    pip = _egg_requires(tmp_path / "pip", {"AMENT_PREFIX_PATH": "/opt/ros/humble"})
    assert "torch>" in pip and "rosbags" in pip


def _robot_localization_snippet() -> dict:
    """The YAML block of docs/ros_node.md's robot_localization section, parsed."""
    import yaml

    text = (ROOT / "docs" / "ros_node.md").read_text(encoding="utf-8")
    section = text.split("### 4b. With robot_localization", 1)[1]
    block = section.split("```yaml", 1)[1].split("```", 1)[0]
    return yaml.safe_load(block)


def test_robot_localization_snippet_fuses_the_lagged_pose_at_its_stamp():
    """~/pose is stamped with the image time and published after inference (tenths of a second
    to seconds later). robot_localization corrects its current state with a measurement older
    than its last update, without predicting (filter_base.cpp processMeasurement: "Only want to
    carry out a prediction if it's forward in time. Otherwise, just correct."), unless
    smooth_lagged_data reverts to the state at the stamp; history_length must cover the lag,
    at most max_image_age_s plus the inference time: about a second a frame on the Jetson the
    node targets (docs/gpu.md, AGX Orin without TensorRT). A pose older than the history is not
    reverted to, and ROS 2's robot_localization says nothing then (the warning is commented
    out): the snippet's 2.0 s was exactly 1 s + 1 s, no margin."""
    ekf = _robot_localization_snippet()["ekf_filter_node_map"]["ros__parameters"]
    assert ekf.get("smooth_lagged_data") is True
    max_age = next(f.default for f in dataclasses.fields(NodeConfig)
                   if f.name == "max_image_age_s")
    orin_frame_s = 1.0
    assert "about 1 Hz on an AGX Orin" in " ".join(
        (ROOT / "docs" / "gpu.md").read_text(encoding="utf-8").split())
    assert float(ekf.get("history_length", 0.0)) > max_age + orin_frame_s
    assert ekf["pose0"] == "/mast3r_localizer/pose"


def _interface_table_names() -> set:
    """The first column of docs/ros_node.md's Interfaces table, without backquotes."""
    text = (ROOT / "docs" / "ros_node.md").read_text(encoding="utf-8")
    table = text.split("## Interfaces", 1)[1].split("\n\n", 2)[1]
    return {row.split("|")[1].strip().split("`")[1] for row in table.splitlines()[2:]}


def test_every_topic_and_service_the_node_creates_is_in_the_interface_table():
    """The topics and services of create_publisher / create_lifecycle_publisher /
    create_subscription / create_service calls in mast3r_ros/ros (literal names, the bond's
    NAV2_TOPIC, the image topics of `topics.image_topic`), each a row of the Interfaces table."""
    import re

    from mast3r_ros.ros.bond_state import NAV2_TOPIC

    pattern = re.compile(r"create_(?:lifecycle_publisher|publisher|subscription|service)\(\s*"
                         r"\w+,\s*(\"[^\"]+\"|NAV2_TOPIC)")
    from mast3r_ros.ros.video_input import VIDEO_TRANSPORTS

    names = {"image", "image/compressed"}      # topics.image_topic('raw' / 'compressed')
    names |= {row[3] for row in VIDEO_TRANSPORTS.values()}  # ffmpeg, foxglove
    for f in (ROOT / "mast3r_ros" / "ros").glob("*.py"):
        for literal in pattern.findall(f.read_text(encoding="utf-8")):
            names.add(NAV2_TOPIC if literal == "NAV2_TOPIC" else literal.strip('"'))
    assert {"~/pose", "initialpose", "/diagnostics", NAV2_TOPIC} <= names
    missing = names - _interface_table_names()
    assert not missing, f"docs/ros_node.md's Interfaces table lacks {sorted(missing)}"
