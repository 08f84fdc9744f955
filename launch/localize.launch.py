"""Start the mast3r_localizer lifecycle node.

    ros2 launch mast3r_ros localize.launch.py map:=/path/to/map
    ros2 launch mast3r_ros localize.launch.py map:=/maps/office checkpoint:=/models/mast3r.pth \
        image_topic:=/camera/camera/color/image_raw \
        camera_info_topic:=/camera/camera/color/camera_info
    (realsense-ros 4.54+ topics; older releases name them /camera/color/...: `ros2 topic list`)

Parameters come from ``params_file`` (default: the installed config/localize.yaml); ``map`` and
``checkpoint`` override ``map_path`` and ``checkpoint`` when given. ``autostart`` is passed to
the node as its parameter ``autostart`` (true: the node configures, then activates, itself once
it spins; false: it waits, for nav2_lifecycle_manager, which it answers with its bond;
docs/ros_node.md). The launch sends no lifecycle request itself.

Why not launch's lifecycle events (``ChangeState`` configure, then activate on ``inactive``):
with ``use_respawn`` the configure of a respawned process went as a ``change_state`` request,
which may reach the dead process's service while it is still discovered and be lost, leaving
the new process unconfigured for good (mast3r_ros/ros/self_start.py). Jazzy's launch_ros
(0.26.7+) ``LifecycleNode(autostart=True)`` is no way out either: it requests activate even
after a failed configure (an invalid transition, which rclpy raises on; the node answers it
``success: false``), and Humble's has no such argument (TypeError); it is never passed.

A ``params_file`` that is not a file stops the launch with an error naming it: launch_ros only
warns "Parameter file path is not a file" (launch_ros issue #401) and starts the node without
it, whose configure then failed with "map_path is empty", pointing at the wrong cause. The
exception is launch's "Caught exception in launch" error, and ``ros2 launch`` exits 1.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import LifecycleNode
from launch_ros.parameter_descriptions import ParameterValue

TRUE_WORDS = ("true", "1", "yes", "on")
FALSE_WORDS = ("false", "0", "no", "off")
NODE_NAME = "mast3r_localizer"
RESPAWN_DELAY_S = 2.0
# image_transport streams the node subscribes to (parameter image_transport), beside raw
STREAMS = ("compressed", "ffmpeg", "foxglove")
# image_transport streams the node cannot subscribe to
OTHER_TRANSPORTS = ("compressedDepth", "theora", "zstd")
# rcl's severity names (`--log-level`, any case); 'warning' (Python's and mast3r-ros
# --log-level's word) is given to rcl as its 'warn'; 'unset': the logger inherits rcl's default
LOG_LEVELS = ("debug", "info", "warn", "error", "fatal", "unset")


def _is_true(text: str, argument: str = "") -> bool:
    """``text`` as a boolean launch argument. RuntimeError, naming ``argument``, for a word that
    is neither true nor false: ``autostart:=ture`` was read as false, and the node then waited
    unconfigured with no error."""
    word = text.strip().lower()
    if word in TRUE_WORDS or word in FALSE_WORDS:
        return word in TRUE_WORDS
    raise RuntimeError(f"{argument or 'argument'}:={text!r} is not a boolean: give true or false")


def _path(text: str, argument: str, parameter: str) -> str:
    """A path launch argument, ``~`` expanded; '' (not given) leaves params_file's value.
    RuntimeError, naming ``argument``, for one that is only white space (``map:=" $MAP"``
    with MAP unset): the node refused it as parameter ``parameter`` only at start-up."""
    if text and not text.strip():
        raise RuntimeError(f"{argument}:={text!r} is only white space, an empty path: give "
                           f"it, or leave {argument} out to take {parameter} of params_file")
    return os.path.expanduser(text)


def _log_level(text: str) -> str:
    """``text`` as the node logger's severity for rcl's ``--log-level``, lower case;
    ``warning`` as ``warn``. RuntimeError for another word: rcl refused it only inside the
    started node (rclpy.init's RCLError traceback, again at each respawn)."""
    word = text.strip().lower()
    word = "warn" if word == "warning" else word
    if word not in LOG_LEVELS:
        raise RuntimeError(f"log_level:={text!r} is not a log level: give one of "
                           f"{', '.join(LOG_LEVELS[:-1])} or {LOG_LEVELS[-1]} (the node's "
                           "logger then inherits rcl's default level)")
    return word


def _params_file(context) -> str:
    """The ``params_file`` argument, ``~`` expanded; RuntimeError when it is not a file."""
    given = LaunchConfiguration("params_file").perform(context)
    path = os.path.expanduser(given)
    if not os.path.isfile(path):
        where = "" if path == given else f" ({path})"
        raise RuntimeError(
            f"params_file:={given!r}{where} is not a file: check the path, or leave "
            "params_file out for the installed config/localize.yaml (launch_ros would only "
            "warn and start the node without its parameters)")
    return path


def _logger_name(pushed_namespace, namespace):
    """The node's logger, ``<full namespace>.<name>`` with dots for slashes: the namespace as
    launch_ros resolves it (a relative ``namespace`` under the one pushed by PushRosNamespace or
    a namespaced include, an absolute one alone). ``--log-level <name>:=debug`` with a name that
    is not this one changes nothing (ROS_NOTES 2)."""
    pushed_namespace, namespace = (pushed_namespace or "").strip(), (namespace or "").strip()
    full = namespace if namespace.startswith("/") else f"{pushed_namespace}/{namespace}"
    return ".".join([t for t in full.split("/") if t] + [NODE_NAME])


def _stream(image_topic):
    """The image_transport stream ``image_topic`` names (one of `STREAMS`), or ''."""
    last = image_topic.rstrip("/").rpartition("/")[2]
    return last if last in STREAMS else ""


def _image_remaps(image_topic):
    """Remaps of the node's ``image`` and its streams ``image/compressed``, ``image/ffmpeg``,
    ``image/foxglove`` for ``image_topic``. A topic given as a stream itself
    (``/camera/image_raw/compressed``, as ``ros2 topic list`` shows it) is that stream's base
    topic plus the stream's name: the compressed one used to become
    ``.../compressed/compressed``, or a raw Image subscription on a CompressedImage topic, and
    no image ever arrived. RuntimeError when no base topic is left (``/compressed``, ``/``,
    an empty argument): the remap to '' failed inside launch_ros with an invalid-name error
    that named neither the argument nor the fix."""
    topic = image_topic.rstrip("/")
    last = topic.rpartition("/")[2]
    if last in OTHER_TRANSPORTS and topic != last:
        raise RuntimeError(
            f"image_topic:={image_topic!r} is image_transport's '{last}' stream, which the node "
            "does not read (raw Image or its /compressed, /ffmpeg, /foxglove stream only): give "
            "the camera's Image topic, or republish the stream as images (docs/ros_node.md, "
            "image_transport)")
    stream = _stream(topic)
    base = topic[:-len(stream) - 1] if stream else topic
    if not base.strip("/ "):
        raise RuntimeError(
            f"image_topic:={image_topic!r} names no image topic (the compressed stream of "
            "nothing): give the camera's Image topic, e.g. "
            "image_topic:=/camera/camera/color/image_raw (realsense-ros 4.54+; older releases: "
            "/camera/color/image_raw), or its compressed stream, "
            "image_topic:=/camera/camera/color/image_raw/compressed")
    return [("image", base), ("image/compressed", base + "/compressed"),
            ("image/ffmpeg", base + "/ffmpeg"), ("image/foxglove", base + "/foxglove")]


def _camera_info_topic(image_topic, given):
    """The CameraInfo topic: ``given`` (``camera_info_topic``) when not empty, else the image
    stream's sibling ``camera_info``, as image_transport names it (``getCameraInfoTopic``: the
    base topic's last name replaced, so ``/camera/camera/color/image_raw`` and its
    ``/compressed`` stream go with ``/camera/camera/color/camera_info``). A fixed default left
    ``image_topic:=`` alone listening to ``camera/camera_info``, which such a camera never
    publishes: every image was refused as having no CameraInfo."""
    given = given.strip()
    if given:
        return given
    base = _image_remaps(image_topic)[0][1]
    head, sep, _ = base.rpartition("/")
    return f"{head}{sep}camera_info"


def _node(context):
    """Built at launch time so that an empty map/checkpoint/use_sim_time argument leaves the
    parameter file's value. ``autostart`` always overrides the file's: under Nav2
    (``autostart:=false``) a file's ``autostart: true`` must not bring the node up behind the
    lifecycle manager, whose own configure would then be refused."""
    params_file = _params_file(context)
    # the node's own bring-up, also at each respawn (no lifecycle request from launch)
    overrides = {"autostart": ParameterValue(
        _is_true(LaunchConfiguration("autostart").perform(context), "autostart"),
        value_type=bool)}
    use_sim_time = LaunchConfiguration("use_sim_time").perform(context).strip()
    if use_sim_time:  # else a Nav2 file's use_sim_time: true was overridden by a default false
        overrides["use_sim_time"] = ParameterValue(_is_true(use_sim_time, "use_sim_time"),
                                                   value_type=bool)
    map_path = _path(LaunchConfiguration("map").perform(context), "map", "map_path")
    if map_path:
        overrides["map_path"] = ParameterValue(map_path, value_type=str)
    checkpoint = _path(LaunchConfiguration("checkpoint").perform(context), "checkpoint",
                       "checkpoint")
    if checkpoint:
        overrides["checkpoint"] = ParameterValue(checkpoint, value_type=str)
    image_topic = LaunchConfiguration("image_topic").perform(context)
    if _stream(image_topic):
        # the user named a stream itself (CompressedImage, video): with params_file's 'raw'
        # (the default) the node subscribed to the base topic's Image, which a bag or a robot
        # publishing only that stream never sends
        overrides["image_transport"] = ParameterValue(_stream(image_topic), value_type=str)
    # `--log-level debug` alone switches every logger of the process to debug, rcl's and rmw's
    # included (ROS_NOTES 2): only the node's own logger is named
    logger = _logger_name(context.launch_configurations.get("ros_namespace"),
                          LaunchConfiguration("namespace").perform(context))
    log_level = _log_level(LaunchConfiguration("log_level").perform(context))
    respawn = _is_true(LaunchConfiguration("use_respawn").perform(context), "use_respawn")
    namespaced_tf = _is_true(LaunchConfiguration("namespaced_tf").perform(context),
                             "namespaced_tf")
    node = LifecycleNode(
        package="mast3r_ros",
        executable="localizer_node",
        name="mast3r_localizer",  # NODE_NAME (a literal: test_launch_static reads it)
        namespace=LaunchConfiguration("namespace"),
        output="screen",
        parameters=[params_file, overrides],   # never empty: autostart is always given
        remappings=[
            *_image_remaps(image_topic),
            ("camera_info", _camera_info_topic(
                image_topic, LaunchConfiguration("camera_info_topic").perform(context))),
        ] + ([("/tf", "tf"), ("/tf_static", "tf_static")]  # Nav2's multi-robot pattern
             if namespaced_tf else []),
        ros_arguments=["--log-level", f"{logger}:={log_level}"],
        # Nav2's use_respawn (nav2_bringup: respawn_delay 2 s): the lifecycle manager's
        # attempt_respawn_reconnection brings a crashed server back only when launch respawns it
        respawn=respawn, respawn_delay=RESPAWN_DELAY_S if respawn else 0.0,
    )
    return [node]


def generate_launch_description():
    default_params = os.path.join(get_package_share_directory("mast3r_ros"), "config",
                                  "localize.yaml")
    return LaunchDescription([
        DeclareLaunchArgument(
            "map", default_value="",
            description="Keyframe map folder from `mast3r-ros build-map`; overrides map_path in "
                        "params_file when not empty."),
        DeclareLaunchArgument(
            "checkpoint", default_value="",
            description="MASt3R checkpoint (.pth file or Hugging Face folder); overrides "
                        "checkpoint in params_file when not empty. Not needed with matcher sift."),
        DeclareLaunchArgument(
            "params_file", default_value=default_params,
            description="ROS 2 parameter file for the node (default: the installed "
                        "config/localize.yaml)."),
        DeclareLaunchArgument(
            "namespace", default_value="",
            description="Namespace of the node and of its relative topics (multi-robot setups)."),
        DeclareLaunchArgument(
            "use_sim_time", default_value="",
            description="true: use /clock (simulation or `ros2 bag play --clock`) instead of "
                        "wall time; false: wall time; empty (default): as params_file says "
                        "(wall time when it does not)."),
        DeclareLaunchArgument(
            "image_topic", default_value="camera/image_raw",
            description="sensor_msgs/Image topic (relative names follow the namespace: "
                        "/camera/image_raw without one); with image_transport 'compressed' the "
                        "node subscribes to <image_topic>/compressed, 'ffmpeg' / 'foxglove' to "
                        "<image_topic>/ffmpeg / foxglove (an image_topic given as "
                        "<base>/compressed, /ffmpeg or /foxglove is that stream: image_transport "
                        "is set to its name over params_file's)."),
        DeclareLaunchArgument(
            "camera_info_topic", default_value="",
            description="sensor_msgs/CameraInfo topic of the same camera and resolution "
                        "(relative: follows the namespace); empty (default): image_topic's "
                        "sibling camera_info, as image_transport names it "
                        "(/camera/camera/color/image_raw -> "
                        "/camera/camera/color/camera_info)."),
        DeclareLaunchArgument(
            "namespaced_tf", default_value="false",
            description="Remap /tf and /tf_static to the namespace's tf and tf_static "
                        "(Nav2's multi-robot pattern: one TF tree per robot)."),
        DeclareLaunchArgument(
            "autostart", default_value="true",
            description="The node configures and activates itself once it starts (its "
                        "parameter autostart), again after each respawn; set false when "
                        "nav2_lifecycle_manager (or you) drives the lifecycle."),
        DeclareLaunchArgument(
            "use_respawn", default_value="false",
            description="Start the node again 2 s after it dies (Nav2's use_respawn): "
                        "nav2_lifecycle_manager's attempt_respawn_reconnection then brings it "
                        "up again; with autostart the new process configures and activates "
                        "itself."),
        DeclareLaunchArgument(
            "log_level", default_value="info",
            description="Logging level of the node's logger (and, through it, of the "
                        "library's log lines): debug, info, warn, error, fatal, or unset "
                        "(the logger inherits rcl's default level). rcl/rmw internals stay at "
                        "their default."),
        OpaqueFunction(function=_node),
    ])
