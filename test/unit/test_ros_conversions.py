"""Outgoing message fields of `ros/conversions.py`, without ROS: the message packages are stubs
with the fields of their definitions, so a field layout error (quaternion order, sec/nanosec,
covariance order) fails here and not only in test/ros (which needs rclpy)."""

from __future__ import annotations

import importlib
import sys
import types
from types import SimpleNamespace as NS

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from mast3r_ros.core.geometry import make_pose
from mast3r_ros.ros.frames import TfToPublish


def _header():
    return NS(stamp=NS(sec=0, nanosec=0), frame_id="")


def _xyz():
    return NS(x=0.0, y=0.0, z=0.0)


def _stub(name, **attrs):
    m = types.ModuleType(name)
    m.__dict__.update(attrs)
    return m


@pytest.fixture
def conv(monkeypatch):
    pose_cov = lambda: NS(header=_header(), pose=NS(  # noqa: E731
        pose=NS(position=_xyz(), orientation=NS(x=0.0, y=0.0, z=0.0, w=1.0)),
        covariance=[0.0] * 36))
    tf = lambda: NS(header=_header(), child_frame_id="", transform=NS(  # noqa: E731
        translation=_xyz(), rotation=NS(x=0.0, y=0.0, z=0.0, w=1.0)))
    image = lambda: NS(header=_header(), height=0, width=0, encoding="",  # noqa: E731
                       is_bigendian=0, step=0, data=b"")
    marker = type("Marker", (), dict(ARROW=0, TEXT_VIEW_FACING=9, LINE_LIST=5, POINTS=8,
                                     ADD=0, DELETEALL=3))
    for name, attrs in {
        "diagnostic_msgs": {}, "geometry_msgs": {}, "rcl_interfaces": {}, "sensor_msgs": {},
        "visualization_msgs": {},
        "diagnostic_msgs.msg": dict(DiagnosticArray=NS, DiagnosticStatus=NS, KeyValue=NS),
        "geometry_msgs.msg": dict(Point=NS, PoseWithCovarianceStamped=pose_cov,
                                  TransformStamped=tf),
        "rcl_interfaces.msg": dict(FloatingPointRange=NS, IntegerRange=NS,
                                   ParameterDescriptor=NS),
        "sensor_msgs.msg": dict(Image=image),
        "visualization_msgs.msg": dict(Marker=marker, MarkerArray=NS),
    }.items():
        monkeypatch.setitem(sys.modules, name, _stub(name, **attrs))
    # the stubbed module must not outlive the test, in sys.modules nor as the package's
    # attribute (``from mast3r_ros.ros import conversions`` reads the attribute first)
    package = importlib.import_module("mast3r_ros.ros")
    monkeypatch.delitem(sys.modules, "mast3r_ros.ros.conversions", raising=False)
    before = package.__dict__.pop("conversions", None)
    module = importlib.import_module("mast3r_ros.ros.conversions")
    yield module
    sys.modules.pop("mast3r_ros.ros.conversions", None)
    package.__dict__.pop("conversions", None)
    if before is not None:
        package.conversions = before


def test_pose_with_covariance_fields(conv):
    rot = Rotation.from_euler("x", 90, degrees=True)       # q = (sin 45, 0, 0, cos 45)
    cov = np.arange(36, dtype=np.float64).reshape(6, 6)     # not symmetric: shows the order
    msg = conv.pose_with_covariance_msg(make_pose(rot.as_matrix(), [1.0, 2.0, 3.0]), cov,
                                        5_000_000_007, "map")
    assert (msg.header.stamp.sec, msg.header.stamp.nanosec) == (5, 7)
    assert msg.header.frame_id == "map"
    p, o = msg.pose.pose.position, msg.pose.pose.orientation
    assert (p.x, p.y, p.z) == (1.0, 2.0, 3.0)
    s = np.sqrt(0.5)
    np.testing.assert_allclose([o.x, o.y, o.z, o.w], [s, 0, 0, s], atol=1e-12)
    assert list(msg.pose.covariance) == [float(v) for v in range(36)]   # row-major
    assert msg.pose.covariance[1] == cov[0, 1]                        # (x, y), not (y, x)


def test_transform_fields(conv):
    rot = Rotation.from_euler("y", 90, degrees=True)       # q = (0, sin 45, 0, cos 45)
    msg = conv.transform_msg(TfToPublish("odom", "base_link",
                                         make_pose(rot.as_matrix(), [4.0, 5.0, 6.0])),
                             1_999_999_999)
    assert (msg.header.stamp.sec, msg.header.stamp.nanosec) == (1, 999_999_999)
    assert (msg.header.frame_id, msg.child_frame_id) == ("odom", "base_link")
    tr, q = msg.transform.translation, msg.transform.rotation
    assert (tr.x, tr.y, tr.z) == (4.0, 5.0, 6.0)
    s = np.sqrt(0.5)
    np.testing.assert_allclose([q.x, q.y, q.z, q.w], [0, s, 0, s], atol=1e-12)


def test_image_fields(conv):
    rgb = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    msg = conv.image_msg(rgb, 42, "camera_optical")
    assert (msg.header.stamp.sec, msg.header.stamp.nanosec) == (0, 42)
    assert (msg.encoding, msg.height, msg.width, msg.step, msg.is_bigendian) == \
        ("rgb8", 2, 3, 9, 0)
    assert bytes(msg.data) == rgb.tobytes()


def test_keyframe_markers_are_frame_locked(conv, monkeypatch):
    """~/keyframes is published once, at activate, stamped then: before the first localization
    there is no map -> odom on TF. rviz2 transforms a marker that is not frame_locked once, at
    its header stamp (rviz_default_plugins MarkerBase::transform), and never again, so with the
    Fixed Frame `odom` (or any but the map) every keyframe marker stayed in error. frame_locked
    makes rviz re-transform it with the latest TF each update."""
    from mast3r_ros.ros.debug_view import keyframe_marker_specs

    class Marker:
        ARROW, TEXT_VIEW_FACING, LINE_LIST, POINTS, ADD, DELETEALL = 0, 9, 5, 8, 0, 3

        def __init__(self):
            self.header, self.ns, self.id, self.type, self.action = _header(), "", 0, 0, 0
            self.pose = NS(position=_xyz(), orientation=NS(x=0.0, y=0.0, z=0.0, w=1.0))
            self.scale, self.color = _xyz(), NS(r=0.0, g=0.0, b=0.0, a=0.0)
            self.text, self.points, self.frame_locked = "", [], False

    monkeypatch.setattr(conv, "Marker", Marker)
    monkeypatch.setattr(conv, "MarkerArray", lambda: NS(markers=[]))
    monkeypatch.setattr(conv, "_MARKER_TYPE", {"arrow": 0, "text": 9, "line_list": 5,
                                               "points": 8})
    specs = keyframe_marker_specs([("kf0", np.eye(4)), ("kf1", np.eye(4))])
    markers = conv.marker_array_msg(specs, "map", 7).markers
    assert markers[0].action == Marker.DELETEALL
    assert len(markers) == 1 + len(specs)
    assert all(m.frame_locked for m in markers[1:])
    assert all(m.header.frame_id == "map" for m in markers)


def _stub_markers(conv, monkeypatch):
    """visualization_msgs' Marker / MarkerArray as plain namespaces on ``conv``."""
    class Marker(NS):
        ADD, DELETEALL = 0, 3

        def __init__(self):
            super().__init__(header=_header(), ns="", id=0, type=0, action=0, text="", points=[],
                             frame_locked=False, scale=_xyz(), color=NS(r=0.0, g=0.0, b=0.0, a=0.0),
                             pose=NS(position=_xyz(), orientation=NS(x=0.0, y=0.0, z=0.0, w=1.0)))

    monkeypatch.setattr(conv, "Marker", Marker)
    monkeypatch.setattr(conv, "MarkerArray", lambda: NS(markers=[]))


def test_marker_points_keep_their_xyz_order(conv, monkeypatch):
    """A 'points'/'line_list' spec's (N, 3) rows become geometry_msgs/Point x, y, z in order."""
    from mast3r_ros.ros.debug_view import MarkerSpec

    _stub_markers(conv, monkeypatch)
    pts = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    spec = MarkerSpec("kf", 1, "points", (0.0, 0.0, 0.0), (0.0, 0.0, 0.0, 1.0), (0.1, 0.1, 0.0),
                      (1.0, 0.0, 0.0, 1.0), points=pts)
    marker = conv.marker_array_msg([spec], "map", 7).markers[1]
    assert [(p.x, p.y, p.z) for p in marker.points] == [(1.0, 2.0, 3.0), (4.0, 5.0, 6.0)]


@pytest.mark.parametrize("level", [0, 1, 2, 3])
def test_diagnostic_level_is_the_summary_level_byte(conv, level):
    """DiagnosticStatus.level is a byte: OK 0, WARN 1, ERROR 2, STALE 3, each kept as it is."""
    from mast3r_ros.ros.diagnostics import DiagnosticsSummary

    status = conv.diagnostic_status(DiagnosticsSummary(level, "m", [("k", 1)]), "loc", "hw")
    assert status.level == bytes([level])
    assert (status.name, status.message, status.hardware_id) == ("loc", "m", "hw")
    assert [(kv.key, kv.value) for kv in status.values] == [("k", "1")]


def test_image_frame_and_marker_stamps_and_text(conv, monkeypatch):
    """The debug image carries its frame; every marker (the DELETEALL too) the given stamp, and
    a text marker its text (mutation audit: each assignment removed passed)."""
    from mast3r_ros.ros.debug_view import MarkerSpec

    assert conv.image_msg(np.zeros((2, 3, 3), np.uint8), 42, "cam_opt").header.frame_id == \
        "cam_opt"

    _stub_markers(conv, monkeypatch)
    spec = MarkerSpec("kf_names", 4, "text", (1.0, 2.0, 3.0), (0.0, 0.0, 0.0, 1.0),
                      (0.0, 0.0, 0.1), (1.0, 1.0, 1.0, 1.0), text="kf 12")
    clear, text = conv.marker_array_msg([spec], "map", 3_000_000_007).markers
    assert [(m.header.stamp.sec, m.header.stamp.nanosec) for m in (clear, text)] == [(3, 7)] * 2
    assert text.text == "kf 12" and (text.ns, text.id) == ("kf_names", 4)


def test_diagnostic_array_stamp_only_when_known_and_its_status(conv, monkeypatch):
    from mast3r_ros.ros.diagnostics import DiagnosticsSummary

    monkeypatch.setattr(conv, "DiagnosticArray", lambda: NS(header=_header(), status=[]))
    summary = DiagnosticsSummary(1, "lost", [("state", "lost")])
    for stamp, want in ((5_000_000_001, (5, 1)), (0, (0, 0)), (None, None), (-1, None)):
        msg = conv.diagnostic_array(summary, "loc", "hw", stamp)
        assert msg.header.stamp == (NS(sec=0, nanosec=0) if want is None
                                    else NS(sec=want[0], nanosec=want[1]))
        (status,) = msg.status
        assert (status.level, status.name, status.message) == (b"\x01", "loc", "lost")
    # stamp 0 is set (sim time at its start), not skipped: the stub header is marked first
    hdr = NS(stamp=NS(sec=9, nanosec=9), frame_id="")
    monkeypatch.setattr(conv, "DiagnosticArray", lambda: NS(header=hdr, status=[]))
    assert conv.diagnostic_array(summary, "loc", "hw", 0).header.stamp == NS(sec=0, nanosec=0)
    hdr.stamp = NS(sec=9, nanosec=9)
    assert conv.diagnostic_array(summary, "loc", "hw", -5).header.stamp == NS(sec=9, nanosec=9)


def test_parameter_descriptor_ranges_by_type(conv):
    from mast3r_ros.ros.params import ParamDescriptorData

    def desc(**kw):
        return conv.parameter_descriptor_msg(ParamDescriptorData(
            name="p", default=None, choices_text="", read_only=False, **kw))

    i = desc(description="n", type="integer", lo=1, hi=9)
    (r,) = i.integer_range
    assert (r.from_value, r.to_value, r.step) == (1, 9, 1)
    assert not hasattr(i, "floating_point_range")
    assert i.dynamic_typing is False
    d = desc(description="x", type="double", lo=0.5, hi=2.0, dynamic_typing=True)
    assert d.dynamic_typing is True             # an integer (10 for 10.0) passes rclpy
    (r,) = d.floating_point_range
    assert (r.from_value, r.to_value, r.step) == (0.5, 2.0, 0.0)
    assert not hasattr(d, "integer_range")
    free = desc(description="s", type="double", lo=None, hi=None)
    assert not hasattr(free, "integer_range") and not hasattr(free, "floating_point_range")
    assert desc(description="b", type="string", lo=1, hi=2).__dict__.keys() == free.__dict__.keys()
