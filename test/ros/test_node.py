"""In-process test of the lifecycle node on a ROS 2 machine (skipped where rclpy is missing).

A tiny map of a synthetic room is localized with the weight-free sift matcher: configure fails
cleanly on a bad map path and succeeds after the parameter is fixed; once active, images +
CameraInfo + TF (base_link->camera static, odom->base_link at the image stamps) give ~/pose,
map->odom on /tf and /diagnostics; a bad image does not stop the next one; ~/relocalize answers.
Transitions go through the lifecycle services, as `ros2 lifecycle set` sends them, so they run
on the node's own single-threaded executor (as in `main`); transitions under 30 Hz input never
crash it; SIGINT and SIGTERM end `main` within 2 s without a traceback; parameters are checked
and applied (or refused while configured) at set time.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy")

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus  # noqa: E402
from geometry_msgs.msg import PoseWithCovarianceStamped, TransformStamped  # noqa: E402
from lifecycle_msgs.msg import State, Transition  # noqa: E402
from lifecycle_msgs.srv import ChangeState, GetState  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.node import Node  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy  # noqa: E402
from scipy.spatial.transform import Rotation  # noqa: E402
from sensor_msgs.msg import CameraInfo, Image  # noqa: E402
from std_srvs.srv import Trigger  # noqa: E402
from tf2_msgs.msg import TFMessage  # noqa: E402
from tf2_ros import (StaticTransformBroadcaster, TransformBroadcaster,  # noqa: E402
                     TransformException)
from visualization_msgs.msg import Marker  # noqa: E402

from mast3r_ros.core import message_fields as mf  # noqa: E402
from mast3r_ros.core.geometry import invert_pose, make_pose  # noqa: E402
from mast3r_ros.core.keyframes import write_map  # noqa: E402
from mast3r_ros.replay.synthetic import default_intrinsics, render_frames  # noqa: E402
from mast3r_ros.ros import conversions as conv  # noqa: E402
from mast3r_ros.ros import debug_view  # noqa: E402
from mast3r_ros.ros.frames import TfToPublish, covariance_from_list  # noqa: E402
from mast3r_ros.ros.node import LocalizerNode  # noqa: E402

CAMERA_FRAME = "camera_optical"
BASE_FROM_CAM = make_pose(np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]]),
                          [0.2, 0.0, 0.3])
MAP_FROM_ODOM = make_pose(Rotation.from_euler("z", 20, degrees=True).as_matrix(),
                          [0.5, -0.3, 0.0])
TRANSITIONS = {"configure": Transition.TRANSITION_CONFIGURE,
               "activate": Transition.TRANSITION_ACTIVATE,
               "deactivate": Transition.TRANSITION_DEACTIVATE,
               "cleanup": Transition.TRANSITION_CLEANUP}
# rclpy raises on a raw change_state with a transition the current state lacks (ROS_NOTES 1; the
# node answers it success=false), so "shutdown" is sent with the id of the state it leaves from.
SHUTDOWN_FROM = {State.PRIMARY_STATE_UNCONFIGURED: Transition.TRANSITION_UNCONFIGURED_SHUTDOWN,
                 State.PRIMARY_STATE_INACTIVE: Transition.TRANSITION_INACTIVE_SHUTDOWN,
                 State.PRIMARY_STATE_ACTIVE: Transition.TRANSITION_ACTIVE_SHUTDOWN}


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    cam = default_intrinsics(320, 240)
    frames = list(render_frames(24, cam, seed=0))
    map_dir = write_map(str(tmp_path_factory.mktemp("map") / "map"),
                        [(f.rgb, f.intrinsics, f.map_from_cam, f.stamp_ns, f.depth_m)
                         for f in frames[0::2]])
    return map_dir, frames[1::2], cam


@pytest.fixture
def ros():
    rclpy.init()
    yield
    rclpy.try_shutdown()


def _tf_msg(parent: str, child: str, parent_from_child: np.ndarray, stamp) -> TransformStamped:
    msg = conv.transform_msg(TfToPublish(parent, child, parent_from_child), 0)
    msg.header.stamp = stamp
    return msg


def _camera_info(cam, stamp) -> CameraInfo:
    msg = CameraInfo()
    msg.header.stamp = stamp
    msg.header.frame_id = CAMERA_FRAME
    msg.width, msg.height = cam.width, cam.height
    msg.k = [float(v) for v in cam.K.reshape(-1)]
    msg.d = [0.0] * 5
    msg.distortion_model = "plumb_bob"
    return msg


class Harness:
    """Publishes the robot's side (camera, TF) and records what the localizer sends."""

    def __init__(self, cam) -> None:
        self.node = Node("mast3r_test_harness")
        self.cam = cam
        self.images = self.node.create_publisher(Image, "image", 1)
        self.infos = self.node.create_publisher(CameraInfo, "camera_info", 1)
        self.tf = TransformBroadcaster(self.node)
        self.static_tf = StaticTransformBroadcaster(self.node)
        latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)
        self.poses, self.tfs, self.diags = [], [], []
        self.node.create_subscription(PoseWithCovarianceStamped, "/mast3r_localizer/pose",
                                      lambda m: self.poses.append(m), latched)
        self.node.create_subscription(TFMessage, "/tf", lambda m: self.tfs.append(m), 100)
        self.node.create_subscription(DiagnosticArray, "/diagnostics",
                                      lambda m: self.diags.append(m), 10)
        self.relocalize = self.node.create_client(Trigger, "/mast3r_localizer/relocalize")
        self.change_state = self.node.create_client(ChangeState, "/mast3r_localizer/change_state")
        self.get_state = self.node.create_client(GetState, "/mast3r_localizer/get_state")
        self.static_tf.sendTransform([_tf_msg("base_link", CAMERA_FRAME, BASE_FROM_CAM,
                                              self.node.get_clock().now().to_msg())])

    def send(self, frame, encoding: str = "") -> int:
        """Odometry at the image stamp, CameraInfo, then the image; returns the stamp (ns)."""
        now = self.node.get_clock().now()
        stamp = now.to_msg()
        odom_from_base = invert_pose(MAP_FROM_ODOM) @ frame.map_from_cam @ invert_pose(
            BASE_FROM_CAM)
        for dt_ns in (-100_000_000, 100_000_000):
            t = mf.ns_to_stamp(now.nanoseconds + dt_ns)
            s = type(stamp)(sec=t[0], nanosec=t[1])
            self.tf.sendTransform(_tf_msg("odom", "base_link", odom_from_base, s))
        self.infos.publish(_camera_info(self.cam, stamp))
        msg = conv.image_msg(frame.rgb, now.nanoseconds, CAMERA_FRAME)
        if encoding:
            msg.encoding = encoding
        self.images.publish(msg)
        return now.nanoseconds

    def transition(self, name: str, timeout_s: float = 120.0) -> bool:
        """A lifecycle transition through the node's service (runs on the node's executor)."""
        assert self.change_state.wait_for_service(timeout_sec=10.0)
        tid = SHUTDOWN_FROM[self.state()] if name == "shutdown" else TRANSITIONS[name]
        future = self.change_state.call_async(
            ChangeState.Request(transition=Transition(id=tid)))
        assert _wait(future.done, timeout_s, step_s=0.05), f"{name}: no answer"
        return bool(future.result().success)

    def state(self) -> int:
        assert self.get_state.wait_for_service(timeout_sec=10.0)
        future = self.get_state.call_async(GetState.Request())
        assert _wait(future.done, 10.0, step_s=0.05)
        return future.result().current_state.id


def _wait(predicate, timeout_s: float, step=None, step_s: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        if step is not None:
            step()
        time.sleep(step_s)
    return predicate()


class Spinner:
    """A single-threaded executor in a thread; `error` keeps what ended spin(), if anything."""

    def __init__(self, *nodes) -> None:
        self.executor = SingleThreadedExecutor()
        for n in nodes:
            self.executor.add_node(n)
        self.error = None
        self.thread = threading.Thread(target=self._spin, daemon=True)
        self.thread.start()

    def _spin(self) -> None:
        try:
            self.executor.spin()
        except BaseException as err:  # noqa: BLE001 - recorded for the test to assert on
            self.error = err

    def stop(self) -> None:
        self.executor.shutdown()
        self.thread.join(timeout=10.0)


def test_large_map_markers_as_messages():
    """The compact ~/keyframes of a large map: a DELETEALL, a LINE_LIST and a POINTS whose
    ``points`` are geometry_msgs/Point, with the scales rviz reads (line width; point size)."""
    poses = np.tile(np.eye(4), (debug_view.LARGE_MAP_KEYFRAMES + 1, 1, 1))
    poses[:, 0, 3] = np.arange(len(poses), dtype=np.float64)
    specs = debug_view.keyframe_marker_specs(debug_view.keyframe_list(poses))
    clear, lines, dots = conv.marker_array_msg(specs, "map", 5).markers
    assert clear.action == Marker.DELETEALL
    assert (lines.type, dots.type) == (Marker.LINE_LIST, Marker.POINTS)
    assert len(lines.points) == 2 * len(poses) and len(dots.points) == len(poses)
    assert (lines.points[3].x, lines.points[3].z) == (1.0, 0.3) and dots.points[2].x == 2.0
    assert (lines.scale.x, lines.scale.y, dots.scale.y, dots.scale.z) == (0.02, 0.0, 0.06, 0.0)
    assert lines.pose.orientation.w == 1.0 and lines.header.frame_id == "map"
    assert lines.frame_locked and dots.frame_locked and not clear.frame_locked


def _release(node: LocalizerNode, harness: Harness, *spinners: Spinner) -> None:
    """A test's end: its executors stopped, then the localizer released and both nodes
    destroyed."""
    for spinner in spinners:
        spinner.stop()
    node.release_resources()
    node.destroy_node()
    harness.node.destroy_node()


def test_lifecycle_localizes_and_publishes(ros, scene):
    map_dir, queries, cam = scene
    node = LocalizerNode(parameter_overrides=[
        Parameter("matcher", value="sift"),
        Parameter("map_path", value=os.path.join(map_dir, "missing")),
        Parameter("gates.min_inliers", value=15),
        Parameter("max_image_age_s", value=5.0),
        Parameter("tf_timeout_s", value=0.5),
    ])
    harness = Harness(cam)
    built_on = []
    load = node._load_localizer
    node._load_localizer = lambda cfg: (built_on.append(threading.current_thread()), load(cfg))[1]
    spinner, harness_spinner = Spinner(node), Spinner(harness.node)
    try:
        # a map that fails to load: configure fails, the node stays up for a retry
        assert not harness.transition("configure")
        results = node.set_parameters([Parameter("map_path", value=map_dir)])
        assert all(r.successful for r in results)
        # an out-of-range value, or a device that does not exist, is refused at set time
        assert not node.set_parameters([Parameter("tf_publish_rate", value=-1.0)])[0].successful
        assert not node.set_parameters([Parameter("device", value="tpu")])[0].successful
        assert not node.set_parameters([Parameter("map_frame", value="/map")])[0].successful
        assert harness.transition("configure")
        # configured: a configure-time parameter is refused with the reason; a live one applies
        refused = node.set_parameters([Parameter("map_path", value="/elsewhere")])[0]
        assert not refused.successful and "configure" in refused.reason
        # ... but one set to the value it has is accepted (`ros2 param load` of a dump)
        assert node.set_parameters([Parameter("map_path", value=map_dir)])[0].successful
        # a double takes an integer (dynamic typing; `ros2 param set ... tf_publish_rate 10`),
        # checked by the node: of another type or out of range it is refused
        assert node.set_parameters([Parameter("tf_publish_rate", value=10)])[0].successful
        held = node.get_parameter("tf_publish_rate")
        jazzy = hasattr(node, "add_pre_set_parameters_callback")   # Iron+: stored as 10.0
        assert held.type_ == (Parameter.Type.DOUBLE if jazzy else Parameter.Type.INTEGER)
        for bad in (5000, "fast", True):
            assert not node.set_parameters([Parameter("tf_publish_rate", value=bad)])[0].successful
            # `ros2 param describe` keeps the type of the value held, not the refused one's
            assert node.describe_parameter("tf_publish_rate").type == held.type_.value
        assert harness.transition("activate")
        # built (and warmed up) on the thread that runs the frames: CUDA graphs are per thread
        assert built_on[-1] is node._worker._thread and built_on[-1].name == "mast3r_worker"
        assert node._tf_timer.timer_period_ns == 100_000_000
        assert node.set_parameters([Parameter("tf_publish_rate", value=20.0)])[0].successful
        assert node._tf_timer.timer_period_ns == 50_000_000

        # bad input first: an unknown encoding is logged and dropped, the node keeps going
        harness.send(queries[0], encoding="nv16")
        sent = []
        k = [0]

        def publish_next():
            sent.append(harness.send(queries[k[0] % len(queries)]))
            k[0] += 1

        assert _wait(lambda: len(harness.poses) >= 2, 90.0, publish_next), "no ~/pose"
        pose = harness.poses[-1]
        assert pose.header.frame_id == "map"
        stamp_ns = mf.header_stamp_ns(pose.header)
        assert stamp_ns in sent                              # stamped with the image time
        i = sent.index(stamp_ns) % len(queries)
        truth = queries[i].map_from_cam @ invert_pose(BASE_FROM_CAM)
        got = mf.pose_to_matrix(pose.pose.pose)
        assert np.linalg.norm(got[:3, 3] - truth[:3, 3]) < 0.05
        cov = covariance_from_list(pose.pose.covariance)
        np.testing.assert_allclose(cov, cov.T, atol=1e-12)
        assert np.linalg.eigvalsh(cov).min() >= 0 and cov[0, 0] > 0

        # map->odom on /tf, future-dated, equal to the truth
        def map_odom():
            return [t for m in harness.tfs for t in m.transforms
                    if t.header.frame_id == "map" and t.child_frame_id == "odom"]
        assert _wait(lambda: len(map_odom()) >= 3, 10.0)     # re-broadcast by the timer
        m2o = mf.transform_to_matrix(map_odom()[-1].transform)
        assert np.abs(m2o[:3, 3] - MAP_FROM_ODOM[:3, 3]).max() < 0.05
        stamps = [mf.header_stamp_ns(t.header) for t in map_odom()]
        assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)

        # diagnostics under the node's fully qualified name, with string values
        def ours():
            return [s for a in harness.diags for s in a.status if "mast3r_localizer" in s.name]
        assert _wait(lambda: any(s.level == DiagnosticStatus.OK for s in ours()), 10.0)
        status = ours()[-1]
        assert status.name == "/mast3r_localizer: localization"
        assert status.hardware_id == "/mast3r_localizer"
        values = {kv.key: kv.value for kv in status.values}
        assert int(values["frames_localized"]) >= 1 and "rate_hz" in values
        assert int(values["images_received"]) >= int(values["frames_processed"])

        assert harness.relocalize.wait_for_service(timeout_sec=5.0)
        future = harness.relocalize.call_async(Trigger.Request())
        assert _wait(future.done, 10.0)
        assert future.result().success

        assert harness.transition("deactivate")
        assert harness.transition("cleanup")
        assert harness.transition("shutdown")
        assert harness.state() == State.PRIMARY_STATE_FINALIZED
        assert spinner.error is None
    finally:
        _release(node, harness, spinner, harness_spinner)


def _sift_node(map_dir: str) -> LocalizerNode:
    return LocalizerNode(parameter_overrides=[
        Parameter("matcher", value="sift"), Parameter("map_path", value=map_dir),
        Parameter("gates.min_inliers", value=15), Parameter("max_image_age_s", value=5.0),
        Parameter("tf_timeout_s", value=0.2), Parameter("tf_publish_rate", value=100.0)])


def test_transitions_under_30hz_input_never_crash(ros, scene):
    """Issue 10, item 1: deactivate/cleanup/shutdown while images, TF and timers are busy."""
    map_dir, queries, cam = scene
    node = _sift_node(map_dir)
    harness = Harness(cam)
    spinner, harness_spinner = Spinner(node), Spinner(harness.node)
    stop = threading.Event()

    def camera():
        k = 0
        while not stop.is_set():
            harness.send(queries[k % len(queries)])
            k += 1
            time.sleep(1 / 30)

    feeder = threading.Thread(target=camera, daemon=True)
    feeder.start()
    try:
        for cycle in range(20):
            assert harness.transition("configure"), cycle
            assert harness.transition("activate"), cycle
            time.sleep(0.3)
            assert harness.transition("deactivate"), cycle
            if cycle % 2:
                assert harness.transition("activate"), cycle
                time.sleep(0.2)
                assert harness.transition("shutdown" if cycle == 19 else "deactivate"), cycle
            if cycle < 19:
                assert harness.transition("cleanup"), cycle
            assert spinner.error is None, repr(spinner.error)
        assert harness.state() == State.PRIMARY_STATE_FINALIZED
        time.sleep(1.0)
        assert spinner.error is None and spinner.thread.is_alive()
    finally:
        stop.set()
        feeder.join(timeout=5.0)
        _release(node, harness, spinner, harness_spinner)


def test_an_activate_that_fails_late_leaves_the_publishers_disabled(ros, scene):
    """Activate failing after the base class enabled the lifecycle publishers (here: the
    keyframe markers) left the inactive node with them enabled; it undoes that now, and the
    next activate works."""
    map_dir, _, cam = scene
    node = _sift_node(map_dir)
    harness = Harness(cam)
    spinner, harness_spinner = Spinner(node), Spinner(harness.node)
    try:
        assert harness.transition("configure")
        outputs = node._outputs
        markers = outputs.keyframes

        def broken(*a, **k):
            raise RuntimeError("markers failed")

        outputs.keyframes = broken
        assert not harness.transition("activate")
        assert harness.state() == State.PRIMARY_STATE_INACTIVE
        assert not outputs._pose.is_activated and not outputs._keyframes.is_activated
        assert node._image_sub is None and node._tf_timer is None
        assert node._summary().message.startswith("activate failed: RuntimeError")   # ERROR
        outputs.keyframes = markers
        assert harness.transition("activate")
        assert outputs._pose.is_activated and node._diag.transition_error == ""
        assert spinner.error is None
    finally:
        _release(node, harness, spinner, harness_spinner)


def test_an_initialpose_sent_while_inactive_is_applied_at_activate(ros, scene):
    """As nav2_amcl: /initialpose is subscribed from configure on, and a pose received while
    the node is inactive (an rviz click before Nav2's lifecycle manager activates it) is kept
    and applied at activate, not dropped."""
    map_dir, queries, cam = scene
    node = _sift_node(map_dir)
    harness = Harness(cam)
    initialpose = harness.node.create_publisher(PoseWithCovarianceStamped, "initialpose", 10)
    spinner, harness_spinner = Spinner(node), Spinner(harness.node)
    try:
        assert harness.transition("configure")
        assert node._initialpose_sub is not None
        msg = PoseWithCovarianceStamped()
        msg.header.frame_id = "map"
        msg.pose.pose.position.x, msg.pose.pose.orientation.w = 1.0, 1.0
        assert _wait(lambda: initialpose.get_subscription_count() > 0, 10.0, step_s=0.05)
        assert _wait(lambda: (initialpose.publish(msg), node._pending_initial_pose)[1]
                     is not None, 10.0, step_s=0.2)
        # odometry for the pose (an image while inactive is counted, not localized)
        harness.send(queries[0])

        def has_odometry():
            try:
                node._tf.lookup("odom", "base_link", None, timeout_s=0.0)
                return True
            except TransformException:
                return False
        assert _wait(has_odometry, 10.0, step_s=0.05)
        assert harness.transition("activate")
        assert node._pending_initial_pose is None
        assert node._tracking.prior_source == "initialpose"
        assert spinner.error is None
    finally:
        _release(node, harness, spinner, harness_spinner)


def _self_starting(map_path: str, cam, *more: Parameter):
    """A sift node with parameter autostart reading ``map_path`` (and ``more``), a harness for
    ``cam``, both spinning: (node, harness, its spinner, the harness's spinner)."""
    node = LocalizerNode(parameter_overrides=[
        Parameter("matcher", value="sift"), Parameter("autostart", value=True),
        Parameter("map_path", value=map_path), *more])
    harness = Harness(cam)
    return node, harness, Spinner(node), Spinner(harness.node)


def test_autostart_brings_the_node_up_itself_and_a_failed_configure_leaves_it_up(ros, scene):
    """Parameter autostart (ros/self_start.py): the node configures, then activates, itself
    once it spins, through rclpy's trigger_configure / trigger_activate, with no change_state
    request (launch's to a respawned process could be lost). A configure that fails leaves it
    unconfigured and spinning, ERROR on /diagnostics; a configure from outside then works."""
    map_dir, _, cam = scene
    node, harness, spinner, harness_spinner = _self_starting(
        os.path.join(map_dir, "missing"), cam)
    try:
        assert _wait(lambda: node._self_start.status != "pending", 60.0, step_s=0.05)
        assert node._self_start.status == "configure failed: the node stays unconfigured"
        assert harness.state() == State.PRIMARY_STATE_UNCONFIGURED and spinner.error is None
        assert node._summary().level == 2 and "configure failed" in node._summary().message
        assert node.set_parameters([Parameter("map_path", value=map_dir)])[0].successful
        assert harness.transition("configure") and harness.transition("activate")
    finally:
        _release(node, harness, spinner, harness_spinner)
    node, harness, spinner, harness_spinner = _self_starting(map_dir, cam)
    try:
        assert _wait(lambda: node._self_start.status != "pending", 120.0, step_s=0.05)
        assert node._self_start.status == "done: configured and activated"
        assert harness.state() == State.PRIMARY_STATE_ACTIVE and spinner.error is None
        assert node._summary().level != 2
    finally:
        _release(node, harness, spinner, harness_spinner)


def test_autostart_needs_no_clock_and_a_late_configure_is_answered_false(ros, scene):
    """Under use_sim_time with no /clock yet (a bag not yet playing) the node still brings
    itself up: its one-shot timer is steady (on the node's clock it waited for /clock). A
    configure then sent as Nav2's lifecycle_manager sends it (transition id, no label) is
    answered success=false: rclpy's RCLError left it unanswered, the manager waiting for ever."""
    map_dir, _, cam = scene
    node, harness, spinner, harness_spinner = _self_starting(
        map_dir, cam, Parameter("use_sim_time", value=True))
    try:
        assert _wait(lambda: node._self_start.status != "pending", 120.0, step_s=0.05)
        assert node._self_start.status == "done: configured and activated"
        assert harness.transition("configure", timeout_s=10.0) is False
        assert harness.state() == State.PRIMARY_STATE_ACTIVE and spinner.error is None
    finally:
        _release(node, harness, spinner, harness_spinner)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signals_end_main_quickly_without_a_traceback(ros, scene, sig):
    """Issue 10, items 1 and 6: `main` under images ends within 2 s, exit code 0, no traceback."""
    map_dir, queries, cam = scene
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, "-c", "from mast3r_ros.ros.node import main; main()", "--ros-args",
         "-p", "matcher:=sift", "-p", f"map_path:={map_dir}", "-p", "max_image_age_s:=5.0",
         "-p", "gates.min_inliers:=15"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True,
        start_new_session=True)
    harness = Harness(cam)
    harness_spinner = Spinner(harness.node)
    try:
        assert harness.transition("configure") and harness.transition("activate")
        assert _wait(lambda: len(harness.poses) >= 1, 60.0,
                     lambda: harness.send(queries[0]), step_s=0.1)
        for k in range(10):                                     # images keep arriving
            harness.send(queries[k % len(queries)])
            time.sleep(0.03)
        t0 = time.monotonic()
        os.killpg(proc.pid, sig)                                # as Ctrl-C to the process group
        out, err = proc.communicate(timeout=10.0)
        elapsed = time.monotonic() - t0
        assert elapsed <= 2.0, elapsed
        assert proc.returncode == 0, err
        assert "Traceback" not in err + out and "context is invalid" not in err + out
    finally:
        if proc.poll() is None:
            proc.kill()
        harness_spinner.stop()
        harness.node.destroy_node()


def test_keyframes_under_sim_time_are_stamped_again_once_clock_runs(ros, scene):
    """use_sim_time, activated before the first /clock: ~/keyframes goes out stamped 0
    (frame-locked: rviz shows it), then again stamped with the clock within about a second of
    /clock starting, so the latched message a late subscriber gets is not dated 1970."""
    from rclpy.time import Time
    from rosgraph_msgs.msg import Clock as ClockMsg
    from visualization_msgs.msg import MarkerArray

    map_dir, _, cam = scene
    node = LocalizerNode(parameter_overrides=[
        Parameter("matcher", value="sift"), Parameter("map_path", value=map_dir),
        Parameter("use_sim_time", value=True)])
    harness = Harness(cam)
    latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                         durability=DurabilityPolicy.TRANSIENT_LOCAL)
    stamps = []
    harness.node.create_subscription(
        MarkerArray, "/mast3r_localizer/keyframes",
        lambda m: stamps.append(mf.header_stamp_ns(m.markers[0].header)), latched)
    clock = harness.node.create_publisher(ClockMsg, "/clock", 10)
    spinner, harness_spinner = Spinner(node), Spinner(harness.node)
    try:
        assert harness.transition("configure") and harness.transition("activate")
        assert _wait(lambda: stamps, 10.0, step_s=0.05) and stamps == [0]
        tick = lambda: clock.publish(ClockMsg(clock=Time(seconds=1000).to_msg()))  # noqa: E731
        assert _wait(lambda: len(stamps) >= 2, 10.0, step=tick, step_s=0.2)
        assert stamps[1] >= 1000 * 10**9
        time.sleep(2.5)
        assert len(stamps) == 2                        # once
        assert spinner.error is None
    finally:
        _release(node, harness, spinner, harness_spinner)
