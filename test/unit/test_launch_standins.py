"""The launch file executed against stand-ins of Humble's and Jazzy's launch_ros (no ROS).

Jazzy's launch_ros (0.26.7+) gave ``LifecycleNode`` an ``autostart`` argument (default False)
that sends configure and then activate through ``LifecycleTransition`` regardless of how
configure ended; rclpy (Humble and Jazzy alike) dies on the resulting invalid
``change_state`` call after a failed configure (docs/ros_node.md, "Jazzy"). Humble's
``LifecycleNode`` has no such argument (TypeError). The launch file never passes it, and sends
no lifecycle request of its own either: its ``autostart`` is the node's parameter, with which the
node configures and activates itself (ros/self_start.py: a request to a respawned process may
be lost).
"""

from __future__ import annotations

import runpy
import sys
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAUNCH = ROOT / "launch" / "localize.launch.py"


class Recorded:
    """Any launch action/description: remembers its arguments."""

    def __init__(self, *args, **kwargs) -> None:
        self.args, self.kwargs = args, kwargs


class LaunchConfiguration(Recorded):
    def perform(self, context) -> str:
        return context.values[self.args[0]]


class HumbleLifecycleNode(Recorded):
    """launch_ros 0.19: ``LifecycleNode(*, name, namespace, **node_kwargs)``."""

    def __init__(self, *, name, namespace, **kwargs) -> None:
        if "autostart" in kwargs:
            raise TypeError("Node.__init__() got an unexpected keyword argument 'autostart'")
        super().__init__(name=name, namespace=namespace, **kwargs)


class JazzyLifecycleNode(Recorded):
    """launch_ros 0.26.7+: an ``autostart`` argument, default False."""

    def __init__(self, *, name, namespace, autostart: bool = False, **kwargs) -> None:
        super().__init__(name=name, namespace=namespace, **kwargs)
        self.node_autostart = autostart


def _modules(lifecycle_node: type) -> dict[str, types.ModuleType]:
    def mod(name: str, **attrs) -> types.ModuleType:
        m = types.ModuleType(name)
        m.__dict__.update(attrs)
        return m

    return {
        "ament_index_python": mod("ament_index_python"),
        "ament_index_python.packages": mod(
            "ament_index_python.packages",
            get_package_share_directory=lambda pkg: str(ROOT)),  # config/localize.yaml
        "launch": mod("launch", LaunchDescription=Recorded),
        "launch.actions": mod("launch.actions", DeclareLaunchArgument=Recorded,
                              OpaqueFunction=Recorded),
        "launch.substitutions": mod("launch.substitutions",
                                    LaunchConfiguration=LaunchConfiguration),
        "launch_ros": mod("launch_ros"),
        "launch_ros.actions": mod("launch_ros.actions", LifecycleNode=lifecycle_node),
        "launch_ros.parameter_descriptions": mod("launch_ros.parameter_descriptions",
                                                 ParameterValue=Recorded),
    }


def _launch(monkeypatch, lifecycle_node: type, autostart: str, pushed_namespace=None,
            **values):
    for name, module in _modules(lifecycle_node).items():
        monkeypatch.setitem(sys.modules, name, module)
    ns = runpy.run_path(str(LAUNCH))
    description = ns["generate_launch_description"]()
    declared = {a.args[0]: a.kwargs["default_value"] for a in description.args[0]
                if isinstance(a, Recorded) and "default_value" in a.kwargs}
    values = {**declared, "autostart": autostart, "map": "~/maps/office", **values}
    (opaque,) = [a for a in description.args[0] if "function" in a.kwargs]
    # launch's LaunchContext: PushRosNamespace keeps the namespace under "ros_namespace"
    pushed = {} if pushed_namespace is None else {"ros_namespace": pushed_namespace}
    return opaque.kwargs["function"](types.SimpleNamespace(values=values,
                                                           launch_configurations=pushed))


def _autostart_parameter(node):
    value = node.kwargs["parameters"][1]["autostart"]
    assert value.kwargs["value_type"] is bool
    return value.args[0]


@pytest.mark.parametrize("distro", [HumbleLifecycleNode, JazzyLifecycleNode])
@pytest.mark.parametrize("use_respawn", ["false", "true"])
def test_autostart_is_the_nodes_own_parameter_and_launch_sends_no_request(monkeypatch, distro,
                                                                         use_respawn):
    """autostart:=true configured the node through launch's ChangeState events, with
    use_respawn at each start of the process: the request to a respawned process may reach the
    dead one's still-discovered service and be lost (rclpy #1191), leaving it unconfigured for
    good. The node now brings itself up (parameter autostart, ros/self_start.py); launch emits
    no lifecycle event, so there is never a second configure to be refused."""
    (node,) = _launch(monkeypatch, distro, "true", use_respawn=use_respawn)
    assert isinstance(node, distro) and node.kwargs["name"] == "mast3r_localizer"
    assert getattr(node, "node_autostart", False) is False    # Jazzy's own autostart stays off
    assert _autostart_parameter(node) is True
    overrides = node.kwargs["parameters"][1]
    assert overrides["map_path"].args[0].endswith("maps/office")       # ~ expanded
    # log_level applies to the node's logger only, not to every rcl/rmw logger of the process
    assert node.kwargs["ros_arguments"] == ["--log-level", "mast3r_localizer:=info"]


@pytest.mark.parametrize("namespace", ["/robot1", "robot1/", "/fleet/robot1"])
def test_log_level_names_the_namespaced_nodes_logger(monkeypatch, namespace):
    """The logger of node /fleet/robot1/mast3r_localizer is fleet.robot1.mast3r_localizer
    (ROS_NOTES 2: `name:=debug` alone has no effect on a namespaced node)."""
    (node,) = _launch(monkeypatch, HumbleLifecycleNode, "true",
                      namespace=namespace, log_level="debug")
    want = namespace.strip("/").replace("/", ".") + ".mast3r_localizer:=debug"
    assert node.kwargs["ros_arguments"] == ["--log-level", want]


@pytest.mark.parametrize("namespace, want", [("", "fleet.mast3r_localizer"),
                                             ("robot1", "fleet.robot1.mast3r_localizer"),
                                             ("/robot1", "robot1.mast3r_localizer")])
def test_log_level_names_the_logger_under_a_pushed_namespace(monkeypatch, namespace, want):
    """Included under PushRosNamespace('/fleet'), launch_ros prefixes a relative namespace:
    the logger is fleet[.robot1].mast3r_localizer (it named robot1.mast3r_localizer, which
    does not exist, so log_level:= changed nothing)."""
    (node,) = _launch(monkeypatch, HumbleLifecycleNode, "true", pushed_namespace="/fleet",
                      namespace=namespace, log_level="debug")
    assert node.kwargs["ros_arguments"] == ["--log-level", f"{want}:=debug"]


@pytest.mark.parametrize("distro", [HumbleLifecycleNode, JazzyLifecycleNode])
def test_no_autostart_leaves_the_lifecycle_to_a_manager(monkeypatch, distro):
    """autostart:=false (Nav2): the node's parameter is false whatever params_file says, so
    a file's autostart: true cannot bring it up behind the lifecycle manager."""
    (node,) = _launch(monkeypatch, distro, "false")
    assert getattr(node, "node_autostart", False) is False
    assert _autostart_parameter(node) is False


@pytest.mark.parametrize("namespaced_tf", ["false", "true"])
def test_topics_follow_the_namespace_and_tf_can(monkeypatch, namespaced_tf):
    """Relative camera topics follow namespace:=robot1 (absolute defaults did not); TF stays
    global unless namespaced_tf (Nav2's multi-robot remapping of /tf to tf)."""
    (node,) = _launch(monkeypatch, HumbleLifecycleNode, "true", namespace="robot1",
                      namespaced_tf=namespaced_tf)
    remaps = dict(node.kwargs["remappings"])
    assert remaps["image"] == "camera/image_raw" and remaps["camera_info"] == \
        "camera/camera_info"
    assert ("/tf" in remaps) is (namespaced_tf == "true")
    if namespaced_tf == "true":
        assert remaps["/tf"] == "tf" and remaps["/tf_static"] == "tf_static"


@pytest.mark.parametrize("value, want", [("", None), ("true", True), ("false", False),
                                         ("True", True)])
def test_use_sim_time_overrides_the_parameter_file_only_when_given(monkeypatch, value, want):
    """A default 'false' override silently beat a Nav2 parameter file's use_sim_time: true
    (a fresh user's find); empty now leaves the file's value."""
    (node,) = _launch(monkeypatch, HumbleLifecycleNode, "true", use_sim_time=value)
    overrides = node.kwargs["parameters"][1]
    if want is None:
        assert "use_sim_time" not in overrides
    else:
        assert overrides["use_sim_time"].args[0] is want


def test_no_empty_parameter_dict_when_nothing_overrides_the_file(monkeypatch):
    """No map, checkpoint or use_sim_time argument (all from the params file): the launch
    handed launch_ros an empty dict, which it writes as a parameter file of
    `ros__parameters: {}` for rcl to parse (a ROS integrator's review); now the file and
    the one override always given, ``autostart``."""
    (node,) = _launch(monkeypatch, HumbleLifecycleNode, "true", map="", checkpoint="",
                      use_sim_time="")
    assert list(node.kwargs["parameters"][1]) == ["autostart"]   # never an empty dict
    (node,) = _launch(monkeypatch, HumbleLifecycleNode, "true", checkpoint="")
    assert node.kwargs["parameters"][1]["map_path"].args[0].endswith("maps/office")


@pytest.mark.parametrize("given", ["/opt/ros/params/locaLize.yaml", "~/no_such_params.yaml",
                                   str(ROOT / "config")])
def test_a_params_file_that_is_not_a_file_stops_the_launch_naming_it(monkeypatch, given):
    """launch_ros only warns "Parameter file path is not a file" (launch_ros #401) and starts
    the node without it: its configure then failed with "map_path is empty", the wrong cause.
    The launch now raises (launch logs "Caught exception in launch: ..." and exits 1)."""
    with pytest.raises(RuntimeError, match="is not a file") as info:
        _launch(monkeypatch, HumbleLifecycleNode, "true", params_file=given)
    assert repr(given) in str(info.value)


def test_the_params_file_is_passed_expanded(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "p.yaml").write_text("/**:\n  ros__parameters: {}\n")
    (node,) = _launch(monkeypatch, HumbleLifecycleNode, "true", params_file="~/p.yaml")
    assert node.kwargs["parameters"][0] == str(tmp_path / "p.yaml")
    (node,) = _launch(monkeypatch, HumbleLifecycleNode, "true")   # the installed default
    assert node.kwargs["parameters"][0] == str(ROOT / "config" / "localize.yaml")


def test_every_parameter_the_launch_file_sets_is_declared_with_the_type_it_passes(monkeypatch):
    """The launch file's parameter dict names node parameters (or rclpy's use_sim_time) and
    types each as the node declares it (ROS_NOTES 2: a YAML-typed launch argument of another
    type kills the node at declare). A renamed parameter (map_path -> map) would otherwise be
    kept by rclpy without a word and the file's value used."""
    from mast3r_ros.core.config import ROS_BUILTIN_PARAMS, param_specs

    types_ = {s.name: s.type for s in param_specs()}
    types_.update({name: bool for name in ROS_BUILTIN_PARAMS})
    (node,) = _launch(monkeypatch, HumbleLifecycleNode, "true", use_sim_time="true",
                      checkpoint="/ckpt/mast3r.pth")
    overrides = node.kwargs["parameters"][1]
    assert set(overrides) == {"use_sim_time", "map_path", "checkpoint", "autostart"}
    for name, value in overrides.items():
        assert name in types_, f"the launch file sets '{name}', which the node does not declare"
        assert value.kwargs["value_type"] is types_[name], name
        assert type(value.args[0]) is types_[name], name


@pytest.mark.parametrize("given, base", [("/camera/color/image_raw", "/camera/color/image_raw"),
                                         ("/camera/color/image_raw/", "/camera/color/image_raw"),
                                         ("/camera/color/image_raw/compressed",
                                          "/camera/color/image_raw"),
                                         ("camera/image_raw/compressed/", "camera/image_raw"),
                                         ("/camera/image_raw/ffmpeg", "/camera/image_raw"),
                                         ("/camera/image_raw/foxglove/", "/camera/image_raw")])
def test_an_image_topic_given_as_the_compressed_stream_is_that_stream(monkeypatch, given, base):
    """image_topic:=/camera/color/image_raw/compressed (the name `ros2 topic list` shows) made
    the node subscribe to .../compressed/compressed (image_transport compressed) or an Image on
    a CompressedImage topic (raw): no image ever arrived, with no error."""
    (node,) = _launch(monkeypatch, HumbleLifecycleNode, "true", image_topic=given)
    remaps = dict(node.kwargs["remappings"])
    assert remaps["image"] == base and remaps["image/compressed"] == base + "/compressed"
    # the video streams too (image_transport ffmpeg / foxglove: the node subscribes to them)
    assert remaps["image/ffmpeg"] == base + "/ffmpeg"
    assert remaps["image/foxglove"] == base + "/foxglove"
    # a stream named: image_transport set to it over the file's raw (with raw the node
    # subscribed to the base topic's Image, never sent where only the stream is published)
    overrides = node.kwargs["parameters"][1]
    stream = given.rstrip("/").rpartition("/")[2]
    if stream in ("compressed", "ffmpeg", "foxglove"):
        assert overrides["image_transport"].args[0] == stream
        assert overrides["image_transport"].kwargs["value_type"] is str
    else:
        assert "image_transport" not in overrides


@pytest.mark.parametrize("image_topic, info_given, want", [
    ("/camera/color/image_raw", "", "/camera/color/camera_info"),
    ("/camera/color/image_raw/compressed", "", "/camera/color/camera_info"),
    ("/camera/color/image_raw/", "", "/camera/color/camera_info"),
    ("camera/image_raw", "", "camera/camera_info"),                 # the defaults, unchanged
    ("/image_raw", "", "/camera_info"),
    ("image_raw", "", "camera_info"),
    ("/camera/color/image_raw", "/cam_info_elsewhere", "/cam_info_elsewhere")])
def test_camera_info_follows_the_image_topic_unless_given(monkeypatch, image_topic, info_given,
                                                           want):
    """image_topic:=/camera/color/image_raw alone left the CameraInfo subscription on the
    fixed default camera/camera_info, which that camera never publishes: every image was
    refused for want of a CameraInfo. The ROS convention (image_transport's
    getCameraInfoTopic, image_pipeline's "Remapping camera_info Topics") is the image's
    sibling camera_info; an explicit camera_info_topic still wins."""
    (node,) = _launch(monkeypatch, HumbleLifecycleNode, "true", image_topic=image_topic,
                      camera_info_topic=info_given)
    assert dict(node.kwargs["remappings"])["camera_info"] == want


@pytest.mark.parametrize("autostart", ["true", "false"])
def test_use_respawn_restarts_the_node(monkeypatch, autostart):
    """Nav2's lifecycle manager reconnects to a crashed server only when launch respawns it
    (docs.nav2.org, Lifecycle Manager: attempt_respawn_reconnection); the node had no respawn,
    so a crash left the localization down for good. The respawned process gets the same
    parameters: with autostart it brings itself up, without it the manager does."""
    (node,) = _launch(monkeypatch, HumbleLifecycleNode, autostart, use_respawn="true")
    assert node.kwargs["respawn"] is True and node.kwargs["respawn_delay"] == 2.0
    assert _autostart_parameter(node) is (autostart == "true")


def test_no_respawn_by_default(monkeypatch):
    (node,) = _launch(monkeypatch, HumbleLifecycleNode, "true")
    assert node.kwargs["respawn"] is False and node.kwargs["respawn_delay"] == 0.0


@pytest.mark.parametrize("given", ["/compressed", "/compressed/", "//compressed", "/", ""])
def test_an_image_topic_with_no_base_stops_the_launch_naming_it(monkeypatch, given):
    """image_topic:=/compressed left an empty base topic: the node's image was remapped to ''
    (launch_ros failed on the invalid name, or the node subscribed to nothing it named). The
    launch now raises, naming the argument and a topic of the right form."""
    with pytest.raises(RuntimeError, match="names no image topic") as info:
        _launch(monkeypatch, HumbleLifecycleNode, "true", image_topic=given)
    assert f"image_topic:={given!r}" in str(info.value)
    assert "image_topic:=/camera/camera/color/image_raw/compressed" in str(info.value)
    assert "image_topic:=/camera/camera/color/image_raw (realsense-ros 4.54+; older " in str(
        info.value)


@pytest.mark.parametrize("argument", ["autostart", "use_respawn", "namespaced_tf",
                                      "use_sim_time"])
def test_a_boolean_argument_that_is_no_boolean_stops_the_launch_naming_it(monkeypatch,
                                                                          argument):
    """autostart:=ture was read as false: the node waited unconfigured, no error anywhere."""
    values = {"autostart": "true", argument: "ture"}
    with pytest.raises(RuntimeError, match=f"^{argument}:='ture' is not a boolean"):
        _launch(monkeypatch, HumbleLifecycleNode, **values)
    for word in ("True", "FALSE", " yes ", "0"):  # Nav2's 'True' / 'False' still read
        _launch(monkeypatch, HumbleLifecycleNode, **{**values, argument: word})


@pytest.mark.parametrize("given", ["/camera/image_raw/theora", "/camera/image_raw/zstd/",
                                   "/camera/depth/image_raw/compressedDepth"])
def test_an_image_topic_of_another_transport_stops_the_launch_naming_it(monkeypatch, given):
    """image_topic:=/camera/image_raw/theora became an Image subscription on a theora packet
    topic: no image ever arrived, with no error."""
    with pytest.raises(RuntimeError, match="stream, which the node does not read") as info:
        _launch(monkeypatch, HumbleLifecycleNode, "true", image_topic=given)
    assert f"image_topic:={given!r}" in str(info.value)


def test_the_parameter_files_autostart_says_the_launch_overrides_it(monkeypatch):
    """The launch's autostart (default true) always overrides the file's, so a user who set
    autostart: false in the parameter file for Nav2, as its comment advised, still had the node
    bring itself up, and the manager's configure refused; the comment now says so."""
    from mast3r_ros.core.config import param_specs

    (node,) = _launch(monkeypatch, HumbleLifecycleNode, "true")   # the file: autostart false
    assert _autostart_parameter(node) is True
    (spec,) = [s for s in param_specs() if s.name == "autostart"]
    comment = (ROOT / "config" / "localize.yaml").read_text().split("autostart: false")[0]
    for text in (spec.description, comment):
        assert "localize.launch.py sets it" in " ".join(text.replace("#", " ").split())


def test_a_log_level_that_is_no_level_stops_the_launch_naming_it(monkeypatch):
    """log_level:=verbose went to rcl as '--log-level mast3r_localizer:=verbose', which the
    started node's rclpy.init refused with a traceback (each respawn again); 'warning', the
    mast3r-ros CLI's word, is rcl's 'warn'."""
    # unset, which the launch file takes, is named too (it listed only the other five)
    with pytest.raises(RuntimeError, match=r"^log_level:='verbose' is not a log level: give "
                                           r"one of debug, info, warn, error, fatal or unset "
                                           r"\(the node's logger then inherits rcl's default "
                                           r"level\)$"):
        _launch(monkeypatch, HumbleLifecycleNode, "true", log_level="verbose")
    for given, want in (("WARNING", "warn"), (" Debug ", "debug"), ("fatal", "fatal"),
                        ("UNSET", "unset")):
        (node,) = _launch(monkeypatch, HumbleLifecycleNode, "true", log_level=given)
        assert node.kwargs["ros_arguments"] == ["--log-level", f"mast3r_localizer:={want}"]


def test_the_log_level_argument_and_its_docs_name_every_level_it_takes(monkeypatch):
    """docs/ros_node.md's log_level row and the argument's description listed five levels,
    the launch file takes a sixth, unset (the logger inherits rcl's default level)."""
    for name, module in _modules(HumbleLifecycleNode).items():
        monkeypatch.setitem(sys.modules, name, module)
    ns = runpy.run_path(str(LAUNCH))
    (arg,) = [a for a in ns["generate_launch_description"]().args[0]
              if isinstance(a, Recorded) and a.args[:1] == ("log_level",)]
    (row,) = [ln for ln in (ROOT / "docs" / "ros_node.md").read_text().splitlines()
              if ln.startswith("| `log_level` |")]
    for text in (arg.kwargs["description"], row):
        named = [level for level in ns["LOG_LEVELS"] if level in text]
        assert named == list(ns["LOG_LEVELS"]), (named, text)
        assert "inherits rcl's default level" in text, text


@pytest.mark.parametrize("argument, parameter", [("map", "map_path"),
                                                 ("checkpoint", "checkpoint")])
def test_a_white_space_path_argument_stops_the_launch_naming_it(monkeypatch, argument,
                                                                parameter):
    """map:="  " was passed on as map_path '  ' (a folder of that name looked for at
    configure), unlike an empty map:= which leaves the file's: refused now, naming it."""
    with pytest.raises(RuntimeError, match="only white space") as info:
        _launch(monkeypatch, HumbleLifecycleNode, "true", **{argument: "  "})
    assert f"{argument}:='  '" in str(info.value) and parameter in str(info.value)
