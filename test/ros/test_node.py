"""In-process test of the lifecycle node on a ROS 2 machine (skipped where rclpy is missing).

A tiny map of a synthetic room is localized with the weight-free sift matcher: configure fails
cleanly on a bad map path and succeeds after the parameter is fixed; once active, images +
CameraInfo + TF (base_link->camera static, odom->base_link at the image stamps) give ~/pose,
map->odom on /tf and /diagnostics; a bad image does not stop the next one; ~/relocalize answers.
"""

from __future__ import annotations

import os
import threading
import time

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy")

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus  # noqa: E402
from geometry_msgs.msg import PoseWithCovarianceStamped, TransformStamped  # noqa: E402
from rclpy.executors import MultiThreadedExecutor  # noqa: E402
from rclpy.lifecycle import TransitionCallbackReturn  # noqa: E402
from rclpy.node import Node  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy  # noqa: E402
from scipy.spatial.transform import Rotation  # noqa: E402
from sensor_msgs.msg import CameraInfo, Image  # noqa: E402
from std_srvs.srv import Trigger  # noqa: E402
from tf2_msgs.msg import TFMessage  # noqa: E402
from tf2_ros import StaticTransformBroadcaster, TransformBroadcaster  # noqa: E402

from mast3r_ros.core import message_fields as mf  # noqa: E402
from mast3r_ros.core.geometry import invert_pose, make_pose  # noqa: E402
from mast3r_ros.core.keyframes import write_map  # noqa: E402
from mast3r_ros.replay.synthetic import default_intrinsics, render_frames  # noqa: E402
from mast3r_ros.ros import conversions as conv  # noqa: E402
from mast3r_ros.ros.frames import TfToPublish, covariance_from_list  # noqa: E402
from mast3r_ros.ros.node import LocalizerNode  # noqa: E402

CAMERA_FRAME = "camera_optical"
BASE_FROM_CAM = make_pose(np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]]),
                          [0.2, 0.0, 0.3])
MAP_FROM_ODOM = make_pose(Rotation.from_euler("z", 20, degrees=True).as_matrix(),
                          [0.5, -0.3, 0.0])
SUCCESS = TransitionCallbackReturn.SUCCESS
FAILURE = TransitionCallbackReturn.FAILURE


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


def _wait(predicate, timeout_s: float, step=None) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        if step is not None:
            step()
        time.sleep(0.5)
    return predicate()


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
    executor = MultiThreadedExecutor(num_threads=4)
    executor.add_node(node)
    executor.add_node(harness.node)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    try:
        # a map that fails to load: configure fails, the node stays up for a retry
        assert node.trigger_configure() == FAILURE
        results = node.set_parameters([Parameter("map_path", value=map_dir)])
        assert all(r.successful for r in results)
        # an out-of-range value is refused at set time
        assert not node.set_parameters([Parameter("tf_publish_rate", value=-1.0)])[0].successful
        assert node.trigger_configure() == SUCCESS
        assert node.trigger_activate() == SUCCESS

        # bad input first: an unknown encoding is logged and dropped, the node keeps going
        harness.send(queries[0], encoding="nv21")
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

        # diagnostics under the node's name, with string values
        def ours():
            return [s for a in harness.diags for s in a.status if "mast3r_localizer" in s.name]
        assert _wait(lambda: any(s.level == DiagnosticStatus.OK for s in ours()), 10.0)
        values = {kv.key: kv.value for kv in ours()[-1].values}
        assert int(values["frames_localized"]) >= 1 and "rate_hz" in values

        assert harness.relocalize.wait_for_service(timeout_sec=5.0)
        future = harness.relocalize.call_async(Trigger.Request())
        assert _wait(future.done, 10.0)
        assert future.result().success

        assert node.trigger_deactivate() == SUCCESS
        assert node.trigger_cleanup() == SUCCESS
        assert node.trigger_shutdown() == SUCCESS
    finally:
        executor.shutdown()
        spinner.join(timeout=10.0)
        node.release_resources()
        node.destroy_node()
        harness.node.destroy_node()
