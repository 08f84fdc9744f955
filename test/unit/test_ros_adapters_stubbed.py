"""The thin rclpy adapters (`ros/topics.py`, `ros/outputs.py`, `ros/tf_client.py`,
`ros/diagnostics_publisher.py`) without ROS: rclpy, tf2_ros and the message packages are stubs
that record what they are given, and `ros/conversions.py` is a stub that records its arguments
(its message fields are test_ros_conversions'). test/ros checks the same with rclpy; these run
everywhere, so a swapped argument (target/source, stamp/frame, depth) fails here too."""

from __future__ import annotations

import importlib
import sys
import types
from pathlib import Path
from types import SimpleNamespace as NS

import numpy as np
import pytest

from mast3r_ros.core.geometry import make_pose
from mast3r_ros.ros.frames import TfToPublish

ADAPTERS = ("topics", "outputs", "tf_client", "diagnostics_publisher")


class Duration:
    def __init__(self, seconds=0.0):
        self.seconds = seconds


class Time:
    def __init__(self, nanoseconds=0):
        self.nanoseconds = nanoseconds

    @classmethod
    def from_msg(cls, msg):
        return cls(msg.sec * 10**9 + msg.nanosec)


class Buffer:
    def __init__(self, cache_time=None):
        self.cache_time, self.calls, self.cleared = cache_time, [], 0
        q = (0.0, 0.0, np.sqrt(0.5), np.sqrt(0.5))          # 90 deg about z
        self.answer = NS(transform=NS(translation=NS(x=1.0, y=2.0, z=3.0),
                                      rotation=NS(x=q[0], y=q[1], z=q[2], w=q[3])))

    def lookup_transform(self, target, source, when, timeout=None):
        self.calls.append((target, source, when, timeout))
        return self.answer

    def clear(self):
        self.cleared += 1


class Listener:
    def __init__(self, buffer, node, spin_thread=True):
        self.buffer, self.node, self.spin_thread, self.unregistered = \
            buffer, node, spin_thread, False

    def unregister(self):
        self.unregistered = True


class Broadcaster:
    def __init__(self, node):
        self.node, self.sent, self.pub_tf = node, [], object()

    def sendTransform(self, msg):  # noqa: N802 - tf2_ros' name
        self.sent.append(msg)


class Pub:
    def __init__(self, msg_type, topic, qos):
        self.msg_type, self.topic, self.qos, self.sent = msg_type, topic, qos, []

    def publish(self, msg):
        self.sent.append(msg)


class Node:
    def __init__(self):
        self.pubs, self.destroyed, self.timers, self.errors = [], [], [], []

    def create_lifecycle_publisher(self, msg_type, topic, qos):
        self.pubs.append(Pub(msg_type, topic, qos))
        return self.pubs[-1]

    create_publisher = create_lifecycle_publisher

    def destroy_lifecycle_publisher(self, pub):
        self.destroyed.append(pub)

    destroy_publisher = destroy_lifecycle_publisher

    def create_timer(self, period, callback, clock=None):
        self.timers.append((period, callback, clock))

    def get_namespace(self):
        return "/robot1"

    def get_name(self):
        return "mast3r_localizer"

    def get_clock(self):
        return NS(now=lambda: NS(nanoseconds=1_700_000_000_123_456_789))

    def get_logger(self):
        return NS(error=lambda text, **kw: self.errors.append((text, kw)))


def _module(monkeypatch, name, **attrs):
    m = types.ModuleType(name)
    m.__dict__.update(attrs)
    monkeypatch.setitem(sys.modules, name, m)
    return m


@pytest.fixture
def ros(monkeypatch):
    """The four adapters, imported against the stubs; ``ros.conv`` records conversions."""
    enum = lambda *names: NS(**{n: n for n in names})  # noqa: E731
    for pkg in ("rclpy", "tf2_ros", "sensor_msgs", "geometry_msgs", "visualization_msgs",
                "diagnostic_msgs"):
        _module(monkeypatch, pkg)
    _module(monkeypatch, "rclpy.qos", QoSProfile=lambda **kw: NS(**kw),
            HistoryPolicy=enum("KEEP_LAST", "KEEP_ALL"),
            ReliabilityPolicy=enum("RELIABLE", "BEST_EFFORT"),
            DurabilityPolicy=enum("VOLATILE", "TRANSIENT_LOCAL"))
    _module(monkeypatch, "rclpy.duration", Duration=Duration)
    _module(monkeypatch, "rclpy.time", Time=Time)
    _module(monkeypatch, "rclpy.clock", Clock=lambda clock_type: NS(clock_type=clock_type),
            ClockType=enum("STEADY_TIME", "ROS_TIME", "SYSTEM_TIME"))
    _module(monkeypatch, "tf2_ros", Buffer=Buffer, TransformListener=Listener,
            TransformBroadcaster=Broadcaster)
    _module(monkeypatch, "sensor_msgs.msg", Image="Image", CompressedImage="CompressedImage")
    _module(monkeypatch, "geometry_msgs.msg",
            PoseWithCovarianceStamped="PoseWithCovarianceStamped")
    _module(monkeypatch, "visualization_msgs.msg", MarkerArray="MarkerArray")
    _module(monkeypatch, "diagnostic_msgs.msg", DiagnosticArray="DiagnosticArray")
    conv = _module(monkeypatch, "mast3r_ros.ros.conversions")
    for fn in ("pose_with_covariance_msg", "transform_msg", "image_msg", "marker_array_msg",
               "diagnostic_array"):
        setattr(conv, fn, lambda *a, _fn=fn: (_fn, a))
    package = importlib.import_module("mast3r_ros.ros")
    saved = {n: package.__dict__.pop(n, None) for n in ADAPTERS + ("conversions",)}
    package.conversions = conv
    for n in ADAPTERS:
        monkeypatch.delitem(sys.modules, f"mast3r_ros.ros.{n}", raising=False)
    mods = NS(conv=conv, **{n: importlib.import_module(f"mast3r_ros.ros.{n}") for n in ADAPTERS})
    yield mods
    for n in ADAPTERS:
        sys.modules.pop(f"mast3r_ros.ros.{n}", None)
    for n, m in saved.items():
        package.__dict__.pop(n, None)
        if m is not None:
            setattr(package, n, m)


# ---------------------------------------------------------------------------------- topics

def test_qos_profiles(ros):
    """AMCL's pose QoS (reliable, transient local, depth 1) and the sensor QoS (depth 1,
    volatile, reliability from image_reliability)."""
    latched = ros.topics.latched()
    assert (latched.depth, latched.history, latched.reliability, latched.durability) == \
        (1, "KEEP_LAST", "RELIABLE", "TRANSIENT_LOCAL")
    for text, rel in (("reliable", "RELIABLE"), ("best_effort", "BEST_EFFORT")):
        s = ros.topics.sensor(text)
        assert (s.depth, s.history, s.reliability, s.durability) == \
            (1, "KEEP_LAST", rel, "VOLATILE")


def test_a_video_subscription_keeps_packets_an_image_one_only_the_newest(ros):
    """A video topic at depth 1 lost every packet that came while the executor was busy, and
    each loss breaks the pictures until the next keyframe; reliability is the parameter's."""
    for text, rel in (("reliable", "RELIABLE"), ("best_effort", "BEST_EFFORT")):
        for transport, depth in (("raw", 1), ("compressed", 1), ("ffmpeg", 30),
                                 ("foxglove", 30)):
            s = ros.topics.image_qos(transport, text)
            assert (s.depth, s.history, s.reliability, s.durability) == \
                (depth, "KEEP_LAST", rel, "VOLATILE")
    node_py = Path(ros.topics.__file__).with_name("node.py").read_text()  # imports rclpy
    assert "topics.image_qos(n.image_transport, n.image_reliability))" in node_py
    assert "check_transport(cfg.node.image_transport)" in node_py


def test_camera_info_qos_is_best_effort_whatever_the_image_reliability(ros):
    """The CameraInfo subscription took the image's reliability: with image_reliability
    'reliable', a driver publishing CameraInfo best effort delivered nothing (a reliable
    subscription receives nothing from a best-effort publisher; a best-effort one receives from
    both, ROS_NOTES 4). It is best effort, depth 1, on its own now, and the node uses it."""
    s = ros.topics.camera_info()
    assert (s.depth, s.history, s.reliability, s.durability) == \
        (1, "KEEP_LAST", "BEST_EFFORT", "VOLATILE")
    node_py = Path(ros.topics.__file__).with_name("node.py").read_text()  # imports rclpy
    assert "self._on_camera_info, topics.camera_info())" in node_py


def test_image_topic_and_topic_name(ros, monkeypatch):
    assert ros.topics.image_topic("compressed") == ("CompressedImage", "image/compressed")
    assert ros.topics.image_topic("raw") == ("Image", "image")
    _module(monkeypatch, "foxglove_msgs")
    _module(monkeypatch, "foxglove_msgs.msg", CompressedVideo="CompressedVideo")
    _module(monkeypatch, "ffmpeg_image_transport_msgs")
    _module(monkeypatch, "ffmpeg_image_transport_msgs.msg", FFMPEGPacket="FFMPEGPacket")
    assert ros.topics.image_topic("foxglove") == ("CompressedVideo", "image/foxglove")
    assert ros.topics.image_topic("ffmpeg") == ("FFMPEGPacket", "image/ffmpeg")
    assert ros.topics.topic_name(NS(topic_name="/cam/image", topic="image")) == "/cam/image"
    assert ros.topics.topic_name(NS(topic="image")) == "image"
    assert ros.topics.topic_name(object()) == "?"


# --------------------------------------------------------------------------------- outputs

def test_outputs_publishers_and_what_they_publish(ros):
    node = Node()
    out = ros.outputs.Outputs(node, "world", publish_debug_image=True)
    pose_pub, kf_pub, match_pub = node.pubs
    assert (pose_pub.msg_type, pose_pub.topic) == ("PoseWithCovarianceStamped", "~/pose")
    assert (kf_pub.msg_type, kf_pub.topic) == ("MarkerArray", "~/keyframes")
    assert (match_pub.msg_type, match_pub.topic, match_pub.qos) == ("Image", "~/matches", 1)
    for pub in (pose_pub, kf_pub):                    # latched, as AMCL's pose
        assert (pub.qos.depth, pub.qos.durability) == (1, "TRANSIENT_LOCAL")
    T, C = make_pose(np.eye(3), [1.0, 2.0, 3.0]), np.diag(np.arange(1.0, 7.0))
    out.pose(T, C, 5_000_000_007)
    (name, (t, c, stamp, frame)), = pose_pub.sent
    assert name == "pose_with_covariance_msg" and t is T and c is C
    assert (stamp, frame) == (5_000_000_007, "world")
    km = type("KM", (), dict(__len__=lambda self: 1, poses=lambda self: np.eye(4)[None],
                             keyframe=lambda self, i: NS(id="kf40")))()
    out.keyframes(km, 9)
    (name, (specs, frame, stamp)), = kf_pub.sent
    assert (name, frame, stamp) == ("marker_array_msg", "world", 9)
    assert [s.text for s in specs if s.kind == "text"] == ["kf40"]
    frame_ = NS(rgb=np.zeros((4, 6, 3), np.uint8), stamp_ns=77, frame_id="cam_optical")
    out.matches(frame_, None, km)
    (name, (rgb, stamp, frame_id)), = match_pub.sent
    assert (name, stamp, frame_id, rgb.shape) == ("image_msg", 77, "cam_optical", (4, 6, 3))
    out.close()
    assert node.destroyed == [pose_pub, kf_pub, match_pub]
    out.pose(T, C, 1)
    out.matches(frame_, None, km)
    assert len(pose_pub.sent) == len(match_pub.sent) == 1   # nothing after close


def test_outputs_without_the_debug_image(ros):
    node = Node()
    out = ros.outputs.Outputs(node, "map", publish_debug_image=False)
    assert [p.topic for p in node.pubs] == ["~/pose", "~/keyframes"]
    out.matches(NS(rgb=np.zeros((4, 6, 3), np.uint8), stamp_ns=1, frame_id="c"), None, None)
    out.close()
    assert node.destroyed == node.pubs


def test_outputs_closed_twice_destroy_each_publisher_once(ros):
    # close() is the teardown of a configured node's publishers: a second call (a teardown
    # path run again) must not hand the node a publisher it already destroyed
    node = Node()
    out = ros.outputs.Outputs(node, "map", publish_debug_image=True)
    out.close()
    out.close()
    assert node.destroyed == node.pubs and len(node.pubs) == 3


class FailingNode(Node):
    """A node whose ``fail_at``-th create_lifecycle_publisher (from 0) raises, as rclpy's does
    when the context goes down during configure."""

    def __init__(self, fail_at):
        super().__init__()
        self.fail_at = fail_at

    def create_lifecycle_publisher(self, msg_type, topic, qos):
        if len(self.pubs) == self.fail_at:
            raise RuntimeError("rcl node's context is invalid")
        return super().create_lifecycle_publisher(msg_type, topic, qos)


@pytest.mark.parametrize("fail_at", [0, 1, 2])
def test_outputs_that_fail_part_way_destroy_the_publishers_they_created(ros, fail_at):
    """Outputs(...) raising in configure: the node's teardown never gets the half-built
    Outputs, so ~/pose (and ~/keyframes) stayed until destroy_node. They are destroyed before
    the constructor's own error is raised."""
    node = FailingNode(fail_at)
    with pytest.raises(RuntimeError, match="context is invalid"):
        ros.outputs.Outputs(node, "map", publish_debug_image=True)
    assert len(node.pubs) == fail_at and node.destroyed == node.pubs


def test_outputs_errors_are_dropped_only_while_shutting_down(ros):
    going = [False]
    node = Node()
    out = ros.outputs.Outputs(node, "map", False, shutting_down=lambda: going[0])

    def broken(msg):
        raise RuntimeError("context invalid")
    node.pubs[0].publish = broken
    with pytest.raises(RuntimeError):
        out.pose(np.eye(4), np.eye(6), 1)
    going[0] = True
    out.pose(np.eye(4), np.eye(6), 1)                   # the process is exiting: dropped


def _one_keyframe_map():
    return type("KM", (), dict(__len__=lambda self: 1, poses=lambda self: np.eye(4)[None],
                               keyframe=lambda self, i: NS(id="kf0")))()


def test_keyframes_stamped_0_under_sim_time_are_published_again_once_the_clock_runs(ros):
    """Activated under use_sim_time before /clock, the node clock reads 0: the latched
    ~/keyframes stayed stamped 0 (1970) for every late subscriber. Published again, once, with
    the first clock reading after /clock; a stamped publish is never repeated."""
    node = Node()
    out = ros.outputs.Outputs(node, "map", False)
    kf_pub = node.pubs[1]
    km = _one_keyframe_map()
    out.keyframes(km, 0)
    assert [sent[1][2] for sent in kf_pub.sent] == [0]
    assert out.restamp_keyframes(0) is False               # the clock still reads 0
    assert out.restamp_keyframes(42_000_000_000) is True
    assert [sent[1][2] for sent in kf_pub.sent] == [0, 42_000_000_000]
    assert out.restamp_keyframes(43_000_000_000) is False  # once
    out.keyframes(km, 7)                                    # activated with a running clock
    assert out.restamp_keyframes(8) is False and len(kf_pub.sent) == 3
    out.keyframes(km, 0)
    out.close()
    assert out.restamp_keyframes(9) is False and len(kf_pub.sent) == 4   # not after close


def test_keyframes_are_published_again_when_the_clock_jumps_back(ros):
    """``ros2 bag play --loop --clock`` under use_sim_time: the clock goes back to the bag's
    start, and the latched ~/keyframes stamped on the old timeline lay in the new one's future
    (rviz and late subscribers got markers from the future). Stamped again once the clock is
    more than a second behind their stamp; jitter, and a clock running on, publish nothing."""
    node = Node()
    out = ros.outputs.Outputs(node, "map", False)
    kf_pub = node.pubs[1]
    out.keyframes(_one_keyframe_map(), 100_000_000_000)
    assert out.restamp_keyframes(101_000_000_000) is False          # the clock runs on
    assert out.restamp_keyframes(99_500_000_000) is False           # jitter
    assert out.restamp_keyframes(0) is False                        # no reading
    assert out.restamp_keyframes(3_000_000_000) is True             # the bag looped
    assert [sent[1][2] for sent in kf_pub.sent] == [100_000_000_000, 3_000_000_000]
    assert out.restamp_keyframes(4_000_000_000) is False            # once per jump


# ------------------------------------------------------------------------------- tf_client

def test_tf_client_lookup_send_clear_close(ros):
    node = Node()
    tf = ros.tf_client.TfClient(node)
    assert tf.buffer.cache_time.seconds == 10.0
    assert tf._listener.spin_thread is False and tf._listener.node is node
    np.testing.assert_array_equal(tf.lookup("base", "base", None, 0.5), np.eye(4))
    assert tf.buffer.calls == []                       # no lookup of the identity
    got = tf.lookup("base_link", "camera_optical", NS(sec=3, nanosec=7), 0.25)
    (target, source, when, timeout), = tf.buffer.calls
    assert (target, source, when.nanoseconds, timeout.seconds) == \
        ("base_link", "camera_optical", 3_000_000_007, 0.25)
    # translation (1, 2, 3), rotation 90 deg about z: x -> y
    np.testing.assert_allclose(got, make_pose([[0, -1, 0], [1, 0, 0], [0, 0, 1]], [1, 2, 3]),
                               atol=1e-12)
    tf.lookup("map", "odom", None, 0.1)
    assert tf.buffer.calls[-1][2].nanoseconds == 0       # Time(): the latest
    t = TfToPublish("map", "odom", np.eye(4))
    tf.send(t, 123)
    assert tf._broadcaster.sent == [("transform_msg", (t, 123))]
    tf.clear()
    assert tf.buffer.cleared == 1
    pub_tf = tf._broadcaster.pub_tf
    tf.close()
    assert tf._listener.unregistered and node.destroyed == [pub_tf]
    tf.send(t, 124)
    assert len(tf._broadcaster.sent) == 1              # nothing after close


def test_tf_client_close_is_idempotent_and_never_raises(ros):
    """A second close (and tf2_ros' TransformListener.__del__, which unregisters again) did
    it all again; an unregister that raised skipped destroying the /tf publisher and escaped
    into the node's teardown, which then never released the model."""
    node = Node()
    tf = ros.tf_client.TfClient(node)
    calls = []
    tf._listener.unregister = lambda: calls.append("unregister")
    assert tf.close() == [] and calls == ["unregister"] and len(node.destroyed) == 1
    assert tf.close() == [] and calls == ["unregister"] and len(node.destroyed) == 1

    node = Node()
    tf = ros.tf_client.TfClient(node)

    def broken():
        raise RuntimeError("subscription's handle is invalid")
    tf._listener.unregister = broken
    problems = tf.close()
    assert problems == ["unregistering the TF listener: "
                        "RuntimeError(\"subscription's handle is invalid\")"]
    assert node.destroyed == [tf._broadcaster.pub_tf]    # the publisher still destroyed
    assert tf.close() == []


def test_tf_client_that_fails_to_create_its_broadcaster_unregisters_its_listener(ros,
                                                                                monkeypatch):
    made = []

    class Recording(Listener):
        def __init__(self, *a, **k):
            super().__init__(*a, **k)
            made.append(self)

    def no_broadcaster(node):
        raise RuntimeError("context is not valid")
    monkeypatch.setattr(ros.tf_client, "_Listener", Recording)
    monkeypatch.setattr(ros.tf_client, "TransformBroadcaster", no_broadcaster)
    with pytest.raises(RuntimeError, match="context is not valid"):
        ros.tf_client.TfClient(Node())
    assert made[0].unregistered


class HumbleListener:
    """tf2_ros_py 0.25's TransformListener in what matters here: two create_subscription
    calls in __init__, and a __del__ whose unregister reads both attributes unguarded."""

    def __init__(self, buffer, node, *, spin_thread=False):
        self.buffer, self.node = buffer, node
        self.tf_sub = node.create_subscription("TFMessage", "/tf")
        self.tf_static_sub = node.create_subscription("TFMessage", "/tf_static")

    def __del__(self):
        self.unregister()

    def unregister(self):
        self.node.destroy_subscription(self.tf_sub)
        self.node.destroy_subscription(self.tf_static_sub)


class SubscribingNode(Node):
    def __init__(self, fail_at):
        super().__init__()
        self.subs, self.fail_at = [], fail_at

    def create_subscription(self, msg_type, topic):
        if len(self.subs) == self.fail_at:
            raise RuntimeError("rcl node's context is invalid")
        self.subs.append(topic)
        return topic

    def destroy_subscription(self, sub):
        self.destroyed.append(sub)


@pytest.mark.parametrize("fail_at", [0, 1])
def test_a_tf_listener_that_fails_part_way_is_undone_without_an_ignored_exception(
        ros, monkeypatch, fail_at):
    """Humble's TransformListener.__del__ printed 'Exception ignored in ... __del__'
    (AttributeError: no tf_sub / tf_static_sub) when its constructor had failed part-way, e.g.
    the context going down during configure; the /tf subscription it had made is destroyed."""
    import gc

    monkeypatch.setattr(sys.modules["tf2_ros"], "TransformListener", HumbleListener)
    tf_client = importlib.reload(ros.tf_client)
    ignored = []
    monkeypatch.setattr(sys, "unraisablehook", ignored.append)
    node = SubscribingNode(fail_at)
    with pytest.raises(RuntimeError, match="context is invalid"):
        tf_client.TfClient(node)
    gc.collect()
    assert [u.exc_value for u in ignored] == []
    assert node.destroyed == node.subs == ["/tf"][:fail_at]

    node = SubscribingNode(fail_at=9)                    # built: close, then __del__ as usual
    tf = tf_client.TfClient(node)
    assert tf.close() == [] and node.destroyed[:2] == ["/tf", "/tf_static"]
    del tf
    gc.collect()
    assert node.destroyed[3:] == ["/tf", "/tf_static"] and ignored == []


# -------------------------------------------------------------------- diagnostics_publisher

def test_diagnostics_publisher_publishes_the_summary_with_the_node_identity(ros):
    node = Node()
    summary = object()
    dp = ros.diagnostics_publisher.DiagnosticsPublisher(node, "localization", lambda: summary)
    pub, = node.pubs
    assert (pub.msg_type, pub.topic, pub.qos) == ("DiagnosticArray", "/diagnostics", 10)
    (period, callback, clock), = node.timers
    assert period == 1.0 and clock.clock_type == "STEADY_TIME"
    callback()
    dp.publish_now()
    expected = ("diagnostic_array", (summary, "/robot1/mast3r_localizer: localization",
                                     "/robot1/mast3r_localizer", 1_700_000_000_123_456_789))
    assert pub.sent == [expected, expected]


def test_a_failing_summary_is_logged_throttled_and_never_raised(ros):
    node = Node()
    dp = ros.diagnostics_publisher.DiagnosticsPublisher(node, "localization", lambda: 1 / 0)
    dp.publish_now()
    (text, kw), = node.errors
    assert "ZeroDivisionError" in text and kw == {"throttle_duration_sec": 10.0}
    assert node.pubs[0].sent == []

    def gone(msg):
        raise RuntimeError("publisher's context is invalid")
    ok = ros.diagnostics_publisher.DiagnosticsPublisher(node, "localization", lambda: None)
    node.pubs[-1].publish = gone
    node.timers[-1][1]()                                # the timer's callback: never raises
    assert "RuntimeError" in node.errors[-1][0]
    assert ok.name == "/robot1/mast3r_localizer: localization"


def test_the_diagnostics_timer_runs_on_tick_first_and_publish_now_does_not(ros):
    """The node's keyframe re-stamp hangs on this steady 1 s tick (it runs in every state and
    under a paused /clock); a failing tick is logged and the status still goes out; nothing
    runs while the process is exiting."""
    node, ticks, going = Node(), [], [False]
    ros.diagnostics_publisher.DiagnosticsPublisher(
        node, "localization", lambda: "s", lambda: going[0], lambda: ticks.append(1))
    pub, = node.pubs
    node.timers[-1][1]()
    assert ticks == [1] and len(pub.sent) == 1
    going[0] = True
    node.timers[-1][1]()
    assert ticks == [1] and len(pub.sent) == 1

    node = Node()
    dp = ros.diagnostics_publisher.DiagnosticsPublisher(node, "localization", lambda: "s",
                                                        on_tick=lambda: 1 / 0)
    dp.publish_now()                                    # configure's heartbeat: no tick
    assert node.errors == []
    node.timers[-1][1]()
    (text, kw), = node.errors
    assert "tick" in text and "ZeroDivisionError" in text
    assert kw == {"throttle_duration_sec": 10.0} and len(node.pubs[0].sent) == 2
