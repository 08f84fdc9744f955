"""Outgoing ROS messages built from the core's numpy types and the node's plain data.

Incoming messages are read by `mast3r_ros.core.message_fields` (ROS-free). Stamps are integer
nanoseconds (the image's header stamp), never ``now()`` unless a caller says so.
"""

from __future__ import annotations

from typing import Optional

from collections.abc import Sequence

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import Point, PoseWithCovarianceStamped, TransformStamped
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from sensor_msgs.msg import Image
from visualization_msgs.msg import Marker, MarkerArray

from mast3r_ros.core import image_codec
from mast3r_ros.core.message_fields import matrix_to_tq, ns_to_stamp
from mast3r_ros.ros.debug_view import MarkerSpec
from mast3r_ros.ros.diagnostics import DiagnosticsSummary
from mast3r_ros.ros.frames import TfToPublish, covariance_to_list
from mast3r_ros.ros.params import ParamDescriptorData


def set_stamp(header, stamp_ns: int) -> None:
    """Write integer nanoseconds into ``header.stamp`` (builtin_interfaces/Time)."""
    header.stamp.sec, header.stamp.nanosec = ns_to_stamp(stamp_ns)


def pose_with_covariance_msg(map_from_base: np.ndarray, covariance: np.ndarray, stamp_ns: int,
                             frame_id: str) -> PoseWithCovarianceStamped:
    """Base pose in ``frame_id`` with its 6x6 covariance (x y z rotX rotY rotZ, row-major).
    Raises InputError for a pose that is not a finite 4x4 matrix or a covariance not 6x6."""
    msg = PoseWithCovarianceStamped()
    set_stamp(msg.header, stamp_ns)
    msg.header.frame_id = frame_id
    t, q = matrix_to_tq(map_from_base)
    p, o = msg.pose.pose.position, msg.pose.pose.orientation
    p.x, p.y, p.z = (float(v) for v in t)
    o.x, o.y, o.z, o.w = (float(v) for v in q)
    msg.pose.covariance = covariance_to_list(covariance)
    return msg


def transform_msg(tf: TfToPublish, stamp_ns: int) -> TransformStamped:
    """``parent_from_child`` as a TransformStamped (header = parent, child_frame_id = child).
    Raises InputError for a transform that is not a finite 4x4 matrix."""
    msg = TransformStamped()
    set_stamp(msg.header, stamp_ns)
    msg.header.frame_id = tf.parent
    msg.child_frame_id = tf.child
    t, q = matrix_to_tq(tf.parent_from_child)
    tr, rot = msg.transform.translation, msg.transform.rotation
    tr.x, tr.y, tr.z = (float(v) for v in t)
    rot.x, rot.y, rot.z, rot.w = (float(v) for v in q)
    return msg


def image_msg(rgb: np.ndarray, stamp_ns: int, frame_id: str) -> Image:
    """(H, W, 3) uint8 RGB -> sensor_msgs/Image (rgb8)."""
    encoding, height, width, step, data = image_codec.encode_image(rgb)
    msg = Image()
    set_stamp(msg.header, stamp_ns)
    msg.header.frame_id = frame_id
    msg.encoding = encoding
    msg.height, msg.width, msg.step = int(height), int(width), int(step)
    msg.is_bigendian = 0
    msg.data = data
    return msg


_MARKER_TYPE = {"arrow": Marker.ARROW, "text": Marker.TEXT_VIEW_FACING,
                "line_list": Marker.LINE_LIST, "points": Marker.POINTS}


def marker_array_msg(specs: Sequence[MarkerSpec], frame_id: str, stamp_ns: int) -> MarkerArray:
    """Markers from plain specs, preceded by a DELETEALL so a re-published map replaces the old.
    A spec's ``points`` become ``Marker.points`` (geometry_msgs/Point[]; one color for all).
    The markers are ``frame_locked``: rviz transforms an unlocked marker once, at its stamp,
    and they are published at activate, before any map -> odom exists (a Fixed Frame other
    than the map then showed none); locked ones are re-transformed with the latest TF."""
    out = MarkerArray()
    clear = Marker()
    clear.header.frame_id = frame_id
    set_stamp(clear.header, stamp_ns)
    clear.action = Marker.DELETEALL
    out.markers.append(clear)
    for spec in specs:
        m = Marker()
        m.header.frame_id = frame_id
        set_stamp(m.header, stamp_ns)
        m.ns, m.id = spec.ns, int(spec.id)
        m.type, m.action = _MARKER_TYPE[spec.kind], Marker.ADD
        m.frame_locked = True
        m.pose.position.x, m.pose.position.y, m.pose.position.z = spec.position
        o = m.pose.orientation
        o.x, o.y, o.z, o.w = spec.orientation_xyzw
        m.scale.x, m.scale.y, m.scale.z = spec.scale
        m.color.r, m.color.g, m.color.b, m.color.a = spec.color_rgba
        m.text = spec.text
        if spec.points is not None:
            m.points = [Point(x=x, y=y, z=z) for x, y, z in spec.points.tolist()]
        out.markers.append(m)
    return out


def diagnostic_status(summary: DiagnosticsSummary, name: str,
                      hardware_id: str) -> DiagnosticStatus:
    """A summary as DiagnosticStatus; the level becomes the byte the message field requires."""
    status = DiagnosticStatus()
    status.level = bytes([int(summary.level)])
    status.name = name
    status.message = summary.message
    status.hardware_id = hardware_id
    status.values = [KeyValue(key=k, value=str(v)) for k, v in summary.values]
    return status


def diagnostic_array(summary: DiagnosticsSummary, name: str, hardware_id: str,
                     stamp_ns: Optional[int]) -> DiagnosticArray:
    msg = DiagnosticArray()
    if stamp_ns is not None and stamp_ns >= 0:
        set_stamp(msg.header, stamp_ns)
    msg.status = [diagnostic_status(summary, name, hardware_id)]
    return msg


def parameter_descriptor_msg(d: ParamDescriptorData) -> ParameterDescriptor:
    """Descriptor data -> rcl_interfaces/ParameterDescriptor (with its integer/float range;
    ``dynamic_typing`` for doubles, so that an integer is accepted: rclpy then applies the
    float range to DOUBLE values only, and the node checks the others itself)."""
    desc = ParameterDescriptor(description=d.description, read_only=d.read_only,
                               additional_constraints=d.choices_text,
                               dynamic_typing=d.dynamic_typing)
    if d.lo is not None and d.type == "integer":
        desc.integer_range = [IntegerRange(from_value=int(d.lo), to_value=int(d.hi), step=1)]
    elif d.lo is not None and d.type == "double":
        desc.floating_point_range = [
            FloatingPointRange(from_value=float(d.lo), to_value=float(d.hi), step=0.0)]
    return desc
