"""Recordings of Intel RealSense Viewer and librealsense's recorder (``rs-record``,
``rs2::recorder``): ROS 1 bags in librealsense's own topic layout, read as any ROS 1 bag
with what that layout needs.

The layout (librealsense ``src/media/readme.md`` and ``src/media/ros/ros_file_format.h``):
``/file_version`` (std_msgs/UInt32), ``/device_<d>/info``, and per stream
``/device_<d>/sensor_<s>/<Stream>_<i>/image/data`` (sensor_msgs/Image: Color_0 rgb8/bgr8/...,
Depth_0 ``mono16``, Infrared_1 ``8UC1``), ``.../info/camera_info`` (sensor_msgs/CameraInfo: K
and D set, P and R zero, ``distortion_model`` librealsense's name such as 'Brown Conrady',
header empty), ``.../tf/<group>`` (geometry_msgs/Transform: the stream's extrinsic to the
reference of that group), and per sensor ``/device_<d>/sensor_<s>/option/<name>/value``
(std_msgs/Float32; 'Depth Units': metres per raw depth unit, 0.001 on most D400s, 0.0001 on a
D405). Since librealsense 2.3x each Image message also carries a float32 ``depth_units``
after ``data`` (its ``header.version`` '1'; a depth frame's unit, 0 after other streams'
images), 4 bytes the standard definition the bag declares does not have: `strip_depth_units`
drops them for the deserializer, `image_depth_units` reads them, and `depth_units_of` weighs
them against the option. The recorder records each sensor's own
streams: a D400's depth is the depth camera's, not aligned to the colour camera, and is
registered to it with the recorded extrinsics (`colour_from_depth`,
`core.depth_register`); the file holds no camera poses.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import re
import struct
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from ...core.errors import InputError
from ...core.geometry import invert_poses

log = logging.getLogger(__name__)

FILE_VERSION_TOPIC = "/file_version"
IMAGE_TYPE = "sensor_msgs/msg/Image"
CAMERA_INFO_TYPE = "sensor_msgs/msg/CameraInfo"
_IMAGE_DATA = re.compile(r"^(/device_\d+/sensor_(\d+)/([A-Za-z]+)_(\d+))/image/data$")
# librealsense's distortion names (rs2_distortion_to_string) -> sensor_msgs' for the same
# coefficients: Brown-Conrady is OpenCV's k1 k2 p1 p2 k3; Kannala-Brandt4 is the fisheye
# model (coefficients 0..3). The inverse and modified Brown-Conrady models are no OpenCV
# model: read only when all their coefficients are zero (the D400 colour cameras' own).
_DISTORTION = {"Brown Conrady": "plumb_bob", "None": "plumb_bob"}
_ZERO_ONLY = ("Inverse Brown Conrady", "Modified Brown Conrady")
# extrinsics of two streams closer than these are one frame (registered pixel for pixel)
_SAME_FRAME_M, _SAME_FRAME_RAD = 1e-4, 1e-4
# the farthest two cameras of one RealSense device are apart (a D455's stereo baseline is 95 mm)
_ONE_DEVICE_M = 0.5
# a RealSense depth unit, metres per raw value (librealsense's RS2_OPTION_DEPTH_UNITS: a D400
# holds it as whole micrometres, 0.001 m by default, its range the firmware's; a D405's 0.0001
# m, an L515's 0.00025 m): a recorded one outside this is damaged, not a device's
DEPTH_UNITS_RANGE_M = (1e-6, 0.01)
_UNITS_FIX = ("pass --depth-scale (raw units per metre: 1000 for 1 mm units, 10000 for a "
              "D405's 0.1 mm)")


def is_realsense(topics: Dict[str, Any]) -> bool:
    """Whether a bag's ``topics`` (topic -> rosbags TopicInfo, or any mapping of topic
    names) are librealsense's layout: ``/file_version`` and a ``/device_N/sensor_M/...``
    image stream."""
    return FILE_VERSION_TOPIC in topics and any(_IMAGE_DATA.match(t) for t in topics)


def reader_is_realsense(reader: Any) -> bool:
    """`is_realsense` of an open rosbags reader, worked out once per reader (the message
    loop asks for each message)."""
    said = getattr(reader, "_mast3r_realsense", None)
    if said is None:
        try:
            said = not getattr(reader, "is2", True) and is_realsense(reader.topics)
        except Exception:  # noqa: BLE001 - a damaged bag: its own refusal comes elsewhere
            said = False
        try:
            reader._mast3r_realsense = said
        except AttributeError:
            pass
    return bool(said)


def strip_depth_units(raw: bytes) -> Optional[bytes]:
    """A librealsense Image message's bytes without the float32 ``depth_units`` it writes
    after ``data`` (None when ``raw`` is too short to hold one): what rosbags' standard
    definition deserializes. Whether the rest is exactly one Image the deserializer checks."""
    return bytes(raw[:-4]) if len(raw) >= 4 else None


def image_depth_units(raw: bytes) -> Optional[float]:
    """The float32 ``depth_units`` (metres per raw value) librealsense 2.3x+ writes after a ROS 1
    sensor_msgs/Image's ``data`` in ``raw`` (its serialized bytes); None when the message ends
    with ``data`` (an older recorder's, or no librealsense Image) or is cut short."""
    try:
        at = 12  # header: seq, stamp
        for skip in (8, 5, 0):  # after frame_id: height, width; encoding: is_bigendian, step
            (size,) = struct.unpack_from("<I", raw, at)
            at += 4 + size + skip
    except struct.error:
        return None
    return float(np.frombuffer(raw, "<f4", 1, at)[0]) if len(raw) == at + 4 else None


def _rounded(units: float) -> float:
    """A float32 depth unit as the decimal written (0.0001 is 9.99999975e-05 as a float32)."""
    return float(f"{units:.7g}")


def _plausible(units: float) -> bool:
    return math.isfinite(units) and (DEPTH_UNITS_RANGE_M[0] <= _rounded(units)
                                     <= DEPTH_UNITS_RANGE_M[1])


def _outside(units: float) -> str:
    """'5 m per raw depth unit, outside the 1e-06 to 0.01 m ...'."""
    return (f"{_rounded(units):g} m per raw depth unit, outside the {DEPTH_UNITS_RANGE_M[0]:g} "
            f"to {DEPTH_UNITS_RANGE_M[1]:g} m a RealSense device uses (1 mm on most D400s): "
            "damaged, and depth read with it would be invalid or nonsense")


def depth_units_of(label: str, depth_topic: str, option_values: List[float],
                   image_units: Optional[float]) -> float:
    """The depth unit (metres per raw value) of a RealSense recording's depth stream: its
    'Depth Units' option (``option_values``: each value recorded, one message per change; a
    0, librealsense's unset, ignored beside another value or a carried unit), else the
    ``depth_units`` the first Image message not carrying 0 (unset) carries (``image_units``:
    None or 0, none carried; `image_depth_units`). Raises `InputError` (one line naming the
    topic and value, with the fix: --depth-scale) for an option value or carried unit outside
    `DEPTH_UNITS_RANGE_M` (NaN, 0, negative, 1e-45 m, 5 m), an option changed during the
    recording, a carried unit other than the option's (beyond float32 rounding), or neither."""
    stream, option = stream_of(depth_topic), depth_units_topic(depth_topic)
    carried = image_units if image_units else None  # 0: librealsense's unset
    stated = [v for v in option_values if v != 0]  # a 0 beside a unit, or a carried one: unset
    for value in option_values if not (stated or carried and _plausible(carried)) else stated:
        if not _plausible(value):
            raise InputError(f"{label}: the 'Depth Units' option of depth stream {stream} "
                             f"({option}) is {_outside(value)}; {_UNITS_FIX}")
    values = list(dict.fromkeys(_rounded(v) for v in stated))  # in recorded order
    if len(values) > 1:
        raise InputError(
            f"{label}: the 'Depth Units' of depth stream {stream} changed during the recording "
            f"({', '.join(f'{v:g} m' for v in values)}; {option}), so no one scale reads every "
            "depth frame: record again without changing it, or pass --depth-scale (raw units "
            "per metre) if you know which frames you read")
    if values:
        check_image_depth_units(label, depth_topic, values[0],
                                {} if carried is None else {f"{carried:.7g}": 1})
        return values[0]
    if carried is None:
        raise InputError(
            f"{label}: depth stream {stream} has no 'Depth Units' option recorded ({option}), "
            "nor do its Image messages carry a depth_units (other than 0, librealsense's "
            "unset), which says how many metres a raw "
            f"depth value is: {_UNITS_FIX}")
    if not _plausible(carried):
        raise InputError(
            f"{label}: depth stream {stream} has no 'Depth Units' option recorded ({option}), "
            f"and the depth_units its Image messages carry ({depth_topic}) is "
            f"{_outside(carried)}; {_UNITS_FIX}")
    return _rounded(carried)


def check_image_depth_units(label: str, depth_topic: str, option_units: Optional[float],
                            counts: Dict[str, int]) -> None:
    """Refuse (`InputError`, one line with the fix) the ``depth_units`` a RealSense depth
    stream's Image messages carry (``counts``: each value's '%.7g' -> how many images carry
    it) when they changed during the recording or one is not ``option_units`` (metres, the
    'Depth Units' option; None: not recorded) beyond float32 rounding. A 0 is librealsense's
    unset (written before the device reports its unit): without the option, images carrying
    it are read with the unit the others carry, and a warning counts them."""
    carried = {k: float(k) for k in counts if float(k) != 0}  # NaN kept: refused
    unset = sum(n for k, n in counts.items() if float(k) == 0)
    stream = stream_of(depth_topic)
    if len(carried) > 1:
        said = ", ".join(f"{v:g} m" for v in carried.values())
        raise InputError(
            f"{label}: the depth_units of depth stream {stream}'s Image messages changed "
            f"during the recording ({said}; {depth_topic}), "
            "so no one scale reads every depth frame: record again without changing it, or "
            "pass --depth-scale (raw units per metre) if you know which frames you read")
    (units,) = carried.values() if carried else (None,)
    if unset and units is not None and option_units is None:
        log.warning("%s: %d of the %d depth images on %s carry a depth_units of 0 "
                    "(librealsense's unset, written before the device reports its unit): read "
                    "with the unit the other %d carry, %g m; pass --depth-scale (raw units per "
                    "metre) if they were recorded in another", label, unset,
                    sum(counts.values()), depth_topic, sum(counts.values()) - unset, units)
    if units is None or option_units is None or (
            math.isclose(units, option_units, rel_tol=1e-6)):
        return
    option = depth_units_topic(depth_topic)
    raise InputError(
        f"{label}: depth stream {stream}'s 'Depth Units' option ({option}) says "
        f"{option_units:g} m per raw depth unit, but the depth_units its Image messages carry "
        f"({depth_topic}) {_rounded(units):g} m, so which the depth is in is unknown: pass "
        f"--depth-scale (raw units per metre: {1 / option_units:g} for the option's unit"
        + (f", {1 / _rounded(units):g} for the images'" if _plausible(units) else "") + ")")


def check_depth_scale(label: str, depth_topic: str, depth_scale: float, name: str) -> None:
    """Refuse (`InputError`, one line) a given depth scale (``name``: how the user gave it;
    raw units per metre) that is no RealSense depth unit, outside `DEPTH_UNITS_RANGE_M`: 0.001
    is metres per unit, the 'Depth Units' option's own convention (1000 units per metre)."""
    low, high = (1 / u for u in reversed(DEPTH_UNITS_RANGE_M))
    if low * (1 - 1e-9) <= depth_scale <= high * (1 + 1e-9):
        return
    hint = (f" (metres per unit? {depth_scale:g} m is {name} {1 / depth_scale:g})"
            if DEPTH_UNITS_RANGE_M[0] <= depth_scale <= DEPTH_UNITS_RANGE_M[1] else "")
    raise InputError(
        f"{name} {depth_scale:g} (raw depth units per metre) is no RealSense depth unit: "
        f"{label}'s depth stream {stream_of(depth_topic)} is a RealSense device's, whose unit "
        f"is {DEPTH_UNITS_RANGE_M[0]:g} to {DEPTH_UNITS_RANGE_M[1]:g} m, {low:g} to "
        f"{high:g} units per metre{hint}: 1000 for 1 mm units (most D400s), 10000 for a "
        "D405's 0.1 mm")


def standard_camera_info(msg: Any) -> Any:
    """A librealsense CameraInfo message with its distortion named as sensor_msgs names it:
    'Brown Conrady' (OpenCV's k1 k2 p1 p2 k3) and 'None' are ``plumb_bob``, 'Kannala Brandt4'
    ``equidistant`` (its first 4 coefficients), an inverse or modified Brown-Conrady model
    with all-zero coefficients (no distortion) ``plumb_bob``; any other model is kept, and
    refused where the message is converted (its name said). Other fields as they are."""
    model = getattr(msg, "distortion_model", None)
    d = np.asarray(getattr(msg, "D", getattr(msg, "d", ())), dtype=np.float64).reshape(-1)
    field = "D" if hasattr(msg, "D") else "d"
    if model in _DISTORTION:
        return dataclasses.replace(msg, distortion_model=_DISTORTION[model])
    if model in _ZERO_ONLY and not np.any(d):
        return dataclasses.replace(msg, distortion_model="plumb_bob", **{field: np.zeros(5)})
    if model == "Kannala Brandt4" and d.size >= 4:
        return dataclasses.replace(msg, distortion_model="equidistant", **{field: d[:4].copy()})
    return msg


# librealsense's encodings that are no sensor_msgs name (rs2_format_to_string: its formats
# without a ROS name keep their own): YUYV is YUY2's byte order (Y0 U Y1 V)
_ENCODINGS = {"YUYV": "yuv422_yuy2"}


def standard_image(msg: Any) -> Any:
    """A librealsense Image message with its encoding named as sensor_msgs names it ('YUYV',
    the colour camera's native format, is ``yuv422_yuy2``); other messages as they are."""
    encoding = getattr(msg, "encoding", None)
    if encoding in _ENCODINGS:
        return dataclasses.replace(msg, encoding=_ENCODINGS[encoding])
    return msg


def stream_of(topic: str) -> Optional[str]:
    """'/device_0/sensor_1/Color_0' of its image topic ``.../image/data``; None for another
    topic."""
    m = _IMAGE_DATA.match(topic)
    return m.group(1) if m else None


def image_streams(topics: Dict[str, Any], kind: str) -> List[str]:
    """The image data topics of streams of ``kind`` ('Color', 'Depth', 'Infrared',
    'Fisheye'), sorted."""
    return sorted(t for t in topics if (m := _IMAGE_DATA.match(t)) and m.group(3) == kind)


def camera_info_topic_of(image_topic: str) -> Optional[str]:
    """The CameraInfo topic of a stream's image topic (``<stream>/info/camera_info``)."""
    stream = stream_of(image_topic)
    return f"{stream}/info/camera_info" if stream else None


def depth_units_topic(depth_topic: str) -> Optional[str]:
    """'/device_0/sensor_0/option/Depth Units/value' of the depth stream's image topic."""
    stream = stream_of(depth_topic)
    return f"{stream.rsplit('/', 1)[0]}/option/Depth Units/value" if stream else None


def pose_streams(topics: Dict[str, Any]) -> List[str]:
    """A T265's pose stream topics (``.../Pose_N/pose/transform/data``), sorted."""
    return sorted(t for t in topics if re.match(r"^/device_\d+/sensor_\d+/Pose_\d+/pose/"
                                                r"transform/data$", t))


def extrinsic_topics(topics: Dict[str, Any], image_topic: str) -> Dict[str, str]:
    """group index -> the ``<stream>/tf/<group>`` topic of ``image_topic``'s stream."""
    stream = stream_of(image_topic)
    if stream is None:
        return {}
    prefix = f"{stream}/tf/"
    return {t[len(prefix):]: t for t in topics if t.startswith(prefix)}


def transform_matrix(msg: Any) -> Optional[np.ndarray]:
    """A geometry_msgs/Transform as a 4x4 float64 matrix (quaternion x, y, z, w, normalised);
    None for one that is no rigid transform: what `message_fields.transform_to_matrix` refuses
    (a non-finite value, a zero or near-zero quaternion, one whose norm overflows)."""
    from ...core.errors import InputError
    from ...core.message_fields import transform_to_matrix

    try:
        return transform_to_matrix(msg)
    except InputError:
        return None


def colour_from_depth(label: str, image_topic: str, depth_topic: str,
                      image_tf: Dict[str, np.ndarray], depth_tf: Dict[str, np.ndarray]
                      ) -> np.ndarray:
    """The 4x4 float64 transform from ``depth_topic``'s optical frame to ``image_topic``'s
    (metres): each stream's extrinsic to one reference group (``image_tf`` / ``depth_tf``:
    group -> 4x4 ``reference_from_stream``, from their ``tf/<group>`` topics; librealsense's
    rs2_extrinsics from the stream to the group's reference), the first group both have.
    Raises InputError (one line, with the fix) when no group has both (nothing tells where
    the depth camera is) or when the transform is not finite or puts the cameras more than
    0.5 m apart (a damaged extrinsic: one device's cameras are centimetres apart), so its
    depth cannot be registered to the colour image."""
    shared = sorted(set(image_tf) & set(depth_tf))
    if not shared:
        raise InputError(
            f"{label}: depth stream {stream_of(depth_topic)} is not aligned to "
            f"{stream_of(image_topic)} as far as the recording tells (no extrinsics of both "
            f"streams to one reference, {image_topic.rsplit('/image/', 1)[0]}/tf/N), so it "
            "cannot be registered to the colour image: play the recording through "
            "realsense2_camera (ROS: rosbag_filename, align_depth.enable true) and record its "
            "aligned_depth_to_color topic, or read it without --depth-topic (localize needs no "
            "depth; build-map's mast3r matcher neither)")
    with np.errstate(over="ignore", invalid="ignore"):  # an offset of 1e300 m: inf, refused
        rel = invert_poses(image_tf[shared[0]]) @ depth_tf[shared[0]]
        offset_m = float(np.linalg.norm(rel[:3, 3]))
    if not (np.isfinite(rel).all() and offset_m <= _ONE_DEVICE_M):
        raise InputError(
            f"{label}: depth stream {stream_of(depth_topic)} is not aligned to "
            f"{stream_of(image_topic)}: the depth camera is {offset_m * 1000:.1f} mm from the "
            f"colour camera by their extrinsics (group {shared[0]}), more than one RealSense "
            f"device's cameras are apart ({_ONE_DEVICE_M:g} m): a damaged extrinsic, so it "
            "cannot be registered to the colour image; play the recording through "
            "realsense2_camera (ROS: rosbag_filename, align_depth.enable true) and record its "
            "aligned_depth_to_color topic, or read it without --depth-topic")
    return rel


def offset_words(colour_from_depth: np.ndarray) -> Tuple[bool, str]:
    """(whether the two streams are one frame: within 0.1 mm and 0.1 mrad, '15.0 mm and
    0.12 deg') of a `colour_from_depth` transform."""
    offset_m = float(np.linalg.norm(colour_from_depth[:3, 3]))
    angle = float(np.arccos(np.clip((np.trace(colour_from_depth[:3, :3]) - 1) / 2, -1.0, 1.0)))
    same = offset_m <= _SAME_FRAME_M and angle <= _SAME_FRAME_RAD
    return same, f"{offset_m * 1000:.1f} mm and {np.degrees(angle):.2f} deg"


def no_pose_reason(label: str, topics: Dict[str, Any]) -> str:
    """Why a RealSense recording gives build-map no poses, with the fix (one line)."""
    poses = pose_streams(topics)
    t265 = (f" (its pose stream {poses[0]} is a T265's own pose, of another frame than the "
            "colour camera's: not read)" if poses else "")
    return (f"{label} is a RealSense recording (librealsense's rosbag), which holds no camera "
            f"poses{t265}: pass the colour camera's poses as a TUM trajectory, --trajectory "
            "FILE")
