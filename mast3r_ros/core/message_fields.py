"""ROS message fields <-> numpy, without ROS: one reader for the rosbag2 reader and the node.

Every function reads attributes only (duck typing), so it takes rclpy messages, the messages
``rosbags`` deserializes and plain namespaces alike:

* ``builtin_interfaces/Time`` (sec, nanosec) <-> integer nanoseconds; ``std_msgs/Header`` stamp;
* ``geometry_msgs/Transform`` and ``Pose`` -> 4x4 ``parent_from_child`` float64, and 4x4 <->
  (translation, quaternion x y z w) as geometry_msgs orders it;
* ``sensor_msgs/CameraInfo`` -> `CameraIntrinsics`;
* ``sensor_msgs/Image`` and ``CompressedImage`` -> pixels and `Frame` (decoding itself is
  `mast3r_ros.core.image_codec`). The image-vs-intrinsics size check is `Frame`'s own.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Sequence
from typing import Any, Optional, Tuple

import numpy as np
from scipy.spatial.transform import Rotation

from . import image_codec
from .errors import InputError
from .geometry import finite_pose, is_valid_pose, make_pose, non_rigid_reason
from .line_throttle import LineThrottle
from .said_once import SaidOnce, without_numbers
from .image_codec.camera_info import _message_binning, _message_size, _roi_fields, _uint32
from .image_codec.bayer_watch import BayerWatch, warn_bayer_stream
from .types import CameraIntrinsics, Frame, check_stamp_ns

log = logging.getLogger(__name__)

NS_PER_S = 1_000_000_000


def frame_id_problem(frame: Any) -> str:
    """What keeps ``frame`` from being a TF frame name (``std_msgs/Header.frame_id``), "" when
    nothing: not a string, blank, white space around it (a different frame to tf2 than the
    name it looks like) or a leading '/' (tf2 rejects it). One rule for the node's frame
    parameters and the frame a map is written in (`MapWriter`)."""
    if not isinstance(frame, str):
        return f"a frame name is a string, got {type(frame).__name__} {frame!r}"
    if not frame.strip():
        return f"a frame name must not be empty, got {frame!r}"
    if frame != frame.strip():
        return f"a frame name must not have white space around it, got {frame!r}"
    if frame.startswith("/"):
        return f"a frame name must not start with '/' (tf2 rejects it), got {frame!r}"
    return ""


def tf2_frame_name(frame: str) -> str:
    """The tf2 frame name a map manifest's ``map_frame`` was meant as: white space around it
    and a leading '/' (ROS 1's global prefix, which tf2 rejects) removed. Maps written before
    `MapWriter` checked the name (`frame_id_problem`) can carry '/map' from a user's
    parameters; they are read as 'map', which the node accepts. "" when nothing is left."""
    return re.sub(r"^[\s/]+", "", frame).strip()  # '/ /map' too


# header frame ids warned about by `header_frame_name`, and those whose 16UC1 images
# `frame_from_image_message` warned about (once each), keyed `without_numbers`: a driver that
# puts a counter or a stamp in its frame_id made a new one, and a line, per image
_SLASHED_FRAME_IDS = SaidOnce()
_DEPTH_ENCODED_FRAME_IDS = SaidOnce()


def header_frame_name(frame_id: str) -> str:
    """A message header's ``frame_id`` as tf2 names the frame: a leading '/' (ROS 1's global
    prefix) removed, since tf2 strips it from the transforms it is given and refuses it in a
    lookup, so '/camera_optical' is the frame 'camera_optical'; warned about once per frame id
    (ids that differ only in their numbers, a driver's counter, are one: `without_numbers`).
    Unlike `tf2_frame_name` (a map manifest's name), white space is kept: tf2 keeps it, so
    ' camera' is another frame. Applied once, where a `Frame` is built from a message
    (`frame_from_image_message`), so that what the frame is published or compared under (the
    node's debug image, a bag's --pose-frames) is the name tf2 knows."""
    name = frame_id.lstrip("/")
    said = _SLASHED_FRAME_IDS.say(without_numbers(frame_id)) if name != frame_id else None
    if said is not None:  # at most a few ids of letters changing every image (`SaidOnce.say`)
        log.warning("image header frame_id %r starts with '/' (ROS 1's global prefix), which "
                    "tf2 refuses: read as the frame %r; set the camera driver's frame id to "
                    "%r%s", frame_id, name, name, said)
    return name


# --------------------------------------------------------------------------------------------
# Time


INT32_MAX = 2**31 - 1


def stamp_to_ns(sec: int, nanosec: int) -> int:
    """``builtin_interfaces/Time`` fields -> integer nanoseconds (a Python int).

    ``sec``: int32 seconds (negative before the epoch); ``nanosec``: uint32 nanoseconds, which
    the message type wants below 1e9: one of 1e9 or more (a driver rounding 0.9999999995 s up)
    is carried into the seconds, as its meaning is unambiguous, so that a recording holding
    one is still read. Each is a Python int or numpy integer. Raises InputError for a float or
    bool (a float would be truncated), a ``sec`` outside int32 or a negative ``nanosec``
    (neither can come from a real message).
    """
    sec = check_stamp_ns(sec, "builtin_interfaces/Time sec", unit="seconds")
    nanosec = check_stamp_ns(nanosec, "builtin_interfaces/Time nanosec")
    if not -INT32_MAX - 1 <= sec <= INT32_MAX:
        raise InputError(f"builtin_interfaces/Time sec must fit int32 (|sec| < 2**31), got "
                         f"{sec}; the stamp was written wrongly by its publisher")
    if nanosec < 0:
        raise InputError(f"builtin_interfaces/Time nanosec is unsigned, got {nanosec}; the stamp "
                         "was written wrongly by its publisher")
    return sec * NS_PER_S + nanosec


def ns_to_stamp(stamp_ns: int) -> Tuple[int, int]:
    """Integer nanoseconds (a Python int or numpy integer) -> (sec, nanosec), Python ints with
    0 <= nanosec < 1e9 and sec <= 2**31 - 1, as ``builtin_interfaces/Time`` requires.

    Raises InputError for a float or bool (float seconds were truncated as nanoseconds), a
    negative stamp, or one past Time's int32 seconds (year 2038).
    """
    stamp_ns = check_stamp_ns(stamp_ns, "ROS stamp")
    if stamp_ns < 0:
        raise InputError(f"a ROS stamp cannot be negative, got {stamp_ns} ns")
    sec, nanosec = divmod(stamp_ns, NS_PER_S)
    if sec > INT32_MAX:
        raise InputError(f"ROS stamp {stamp_ns} ns is {sec} s, past builtin_interfaces/Time's "
                         f"int32 sec ({INT32_MAX}); pass nanoseconds, not a larger unit")
    return sec, nanosec


def header_stamp_ns(header: Any) -> int:
    """``std_msgs/Header`` (``header.stamp.sec``, ``.nanosec``) -> integer nanoseconds.
    Raises InputError for fields `stamp_to_ns` refuses."""
    return stamp_to_ns(header.stamp.sec, header.stamp.nanosec)


# --------------------------------------------------------------------------------------------
# Poses


def matrix_to_tq(pose: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """4x4 pose -> (translation (3,), quaternion (x, y, z, w) with w >= 0), float64. Raises
    InputError unless the pose is a finite 4x4 rigid transform within `geometry.is_valid_pose`'s
    tolerance (orthonormal rotation with det +1, last row 0 0 0 1): a scale, shear, reflection
    or projective row has no quaternion, and would be published as some other rotation."""
    pose = finite_pose(pose, "pose")
    if not is_valid_pose(pose):
        raise InputError(f"pose must be a rigid 4x4 transform: {non_rigid_reason(pose)}; pass "
                         "a rotation and translation only (no scale)")
    q = Rotation.from_matrix(pose[:3, :3]).as_quat()
    if q[3] < 0:
        q = -q
    return pose[:3, 3].copy(), q


def _numbers(values: Sequence[float], count: int, what: str) -> np.ndarray:
    """``values`` as (count,) float64; InputError naming ``what`` (its layout) otherwise."""
    try:
        a = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"pose {what} must be {count} numbers, got {values!r}") from None
    if a.size != count:
        raise InputError(f"pose {what} must be {count} numbers, got {a.size}")
    return a.reshape(count)


def _checked_tq(translation: Sequence[float], quat_xyzw: Sequence[float]
                ) -> Tuple[np.ndarray, np.ndarray, float]:
    """`tq_to_matrix`'s checks: (translation (3,), quaternion (4,) as given, its norm)."""
    t = _numbers(translation, 3, "translation (x, y, z)")
    q = _numbers(quat_xyzw, 4, "quaternion (x, y, z, w)")
    if not (np.isfinite(t).all() and np.isfinite(q).all()):
        raise InputError(f"pose has non-finite values: t={t.tolist()}, q={q.tolist()}")
    with np.errstate(over="ignore"):  # refused below, without numpy's warning
        norm = float(np.linalg.norm(q))
    if norm == 0.0:
        raise InputError("pose quaternion is all zeros (an unset orientation); "
                         "expected a unit quaternion such as w=1")
    if norm < 1e-6:
        raise InputError(f"pose quaternion norm is {norm:.3g}, near zero (under 1e-06): "
                         f"q={q.tolist()} has no reliable direction; expected a unit "
                         "quaternion such as w=1")
    if norm == np.inf:  # its square overflowed: q / norm would be all zeros (scipy's ValueError)
        raise InputError(f"pose quaternion q={q.tolist()} is too large to normalise (its norm "
                         "overflows); expected a unit quaternion such as w=1")
    return t, q, norm


def tq_to_matrix(translation: Sequence[float], quat_xyzw: Sequence[float]) -> np.ndarray:
    """(translation (3,) metres, quaternion (4,) x y z w) -> 4x4 float64; the quaternion is
    normalised.

    Raises InputError for another count of numbers, a non-finite value or a quaternion whose
    norm is (near) zero: under 1e-6 (an unset message field, or one written wrongly).
    """
    t, q, norm = _checked_tq(translation, quat_xyzw)
    return checked_tq_to_matrix(t, q, norm)


def checked_tq_to_matrix(t: np.ndarray, q: np.ndarray, norm: float) -> np.ndarray:
    """`tq_to_matrix` of numbers it has checked already: ``t`` (3,) and ``q`` (4,) float64, and
    ``norm`` = float(np.linalg.norm(q)); the same matrix, bit for bit, without the checks (a
    tf edge's stored samples, built per lookup)."""
    return make_pose(Rotation.from_quat(q / norm).as_matrix(), t)


def transform_to_matrix(transform: Any) -> np.ndarray:
    """``geometry_msgs/Transform`` (translation, rotation) -> 4x4 ``parent_from_child``."""
    t, r = transform.translation, transform.rotation
    return tq_to_matrix((t.x, t.y, t.z), (r.x, r.y, r.z, r.w))


def transform_to_tq(transform: Any) -> Tuple[np.ndarray, np.ndarray]:
    """``geometry_msgs/Transform`` -> (translation (3,) metres, quaternion (4,) x y z w as
    given, not normalised), float64, checked as `transform_to_matrix` checks them (same
    InputError) but without building the matrix: `tq_to_matrix` of the two is that matrix, bit
    for bit. What a reader keeps of many transforms (56 B each, not a 4x4 array)."""
    t, r = transform.translation, transform.rotation
    t, q, _ = _checked_tq((t.x, t.y, t.z), (r.x, r.y, r.z, r.w))
    return t, q


def pose_to_matrix(pose: Any) -> np.ndarray:
    """``geometry_msgs/Pose`` (position, orientation) -> 4x4 ``frame_from_body``."""
    p, o = pose.position, pose.orientation
    return tq_to_matrix((p.x, p.y, p.z), (o.x, o.y, o.z, o.w))


# --------------------------------------------------------------------------------------------
# Camera and images


_ARRAY_FIELDS = {"k": "9 numbers (K, row-major 3x3)", "p": "12 numbers (P, row-major 3x4)",
                 "r": "9 numbers (R, row-major 3x3)",
                 "d": "the distortion coefficients, numbers (empty for none)"}


def _float_fields(values: Any, name: str) -> tuple:
    """A CameraInfo float64[] field (``k``, ``d``, ``p``, ``r``) as a tuple of floats; InputError
    naming it for anything but real numbers: a string ('30' was read as 30.0 without a word,
    'a' raised a bare ValueError), a bool (True was 1.0) or a non-sequence (None: TypeError)."""
    expected = _ARRAY_FIELDS[name]
    if isinstance(values, np.ndarray) and values.dtype.kind in "fiu":  # rclpy, rosbags
        return tuple(values.astype(np.float64).reshape(-1).tolist())
    if isinstance(values, (str, bytes)) or not isinstance(values, (Sequence, np.ndarray)):
        raise InputError(f"CameraInfo {name} must be a sequence of {expected}, got "
                         f"{type(values).__name__} {values!r:.60}")
    for i, v in enumerate(values):
        if (isinstance(v, (bool, np.bool_))
                or not isinstance(v, (int, float, np.integer, np.floating))):
            raise InputError(f"CameraInfo {name}[{i}] must be a number, got "
                             f"{type(v).__name__} {v!r:.40}; {name} holds {expected}")
    return tuple(float(v) for v in values)


def _array_field(info: Any, name: str) -> Any:
    """CameraInfo array field ``name`` (``k``, ``d``, ``p``, ``r``; None when absent): ROS 2's
    lower-case name, else ROS 1's upper-case one (``K``, ``D``, ...), which a ROS 1 bag's
    messages keep when rosbags reads them (a ROS 1 bag failed with an AttributeError on 'k')."""
    value = getattr(info, name, None)
    return getattr(info, name.upper(), None) if value is None else value


def _binning(info: Any, name: str) -> int:
    """A CameraInfo binning factor (`_message_binning`); absent or None: no binning. Not
    ``or 0``: an empty string or False was read as no binning without a word."""
    value = getattr(info, name, None)
    return 1 if value is None else _message_binning(value, name)


def _camera_info_fields(info: Any, rectified: bool) -> tuple:
    """Every CameraInfo field the conversion reads, as plain hashable values: the input of
    `camera_info_to_intrinsics` and, being exactly that, `IntrinsicsCache`'s key (a key that
    left out binning and ROI once kept a stale principal point). Raises InputError for a
    malformed ROI, or an array field (k, d, p, r) that is not a sequence of numbers."""
    roi = getattr(info, "roi", None)
    # checked, not int(): a duck-typed message's width 640.7 was read as 640, True as 1
    common = (_message_size(info.width, "width"), _message_size(info.height, "height"),
              _binning(info, "binning_x"), _binning(info, "binning_y"),
              None if roi is None else _roi_fields(roi))
    if rectified:
        r = _array_field(info, "r")  # rclpy gives numpy arrays: no truth value
        return (True,) + common + (_float_fields(_array_field(info, "p"), "p"),
                                   None if r is None else _float_fields(r, "r"))
    # not str(): None was refused as an "unsupported distortion model 'None'", b'plumb_bob' as
    # "b'plumb_bob'"; check_distortion names a non-string as such
    k = _float_fields(_array_field(info, "k"), "k")
    return (False,) + common + (k, _float_fields(_array_field(info, "d"), "d"),
                                info.distortion_model, _p_of_unset_k(info, k))


def _p_of_unset_k(info: Any, k: tuple) -> Optional[tuple]:
    """P's 12 numbers when K is all zero (else None, and None for a P that is absent or not
    numbers: K's own refusal is said then): what tells a CameraInfo of a rectified stream
    alone from an uncalibrated camera's (`_refuse_p_without_k`)."""
    if any(k):
        return None
    try:
        return _float_fields(_array_field(info, "p"), "p")
    except (InputError, TypeError):
        return None


def _refuse_p_without_k(k: tuple, p: Optional[tuple]) -> None:
    """InputError for a CameraInfo read as the raw image (image_rectified false) whose K is all
    zero but whose P has a focal length (`image_codec.projection_without_k`): a driver that
    publishes only the rectified image's projection. The message says how to read it:
    image_rectified for a rectified stream, a camera_info YAML for a raw one."""
    focal = image_codec.projection_without_k(k, p)
    if focal:
        raise InputError(
            f"CameraInfo K is all zeros but P is set ({focal}): it describes only a rectified "
            "image (image_geometry projects with P; K and D, the raw image's model, are unset) "
            "and the image is read as the raw one (image_rectified false); if the image topic "
            "is rectified (the driver's image_rect / image_rect_color, or a camera that "
            "rectifies on board), set image_rectified: true (the node parameter, or in the "
            "--params YAML of build-map / localize) to read P with no distortion; if it is the "
            "raw image, calibrate the camera, or pass its calibration as a camera_info YAML "
            "(--camera-info)")


def _intrinsics_from_fields(fields: tuple) -> CameraIntrinsics:
    rectified, width, height, binning_x, binning_y, roi = fields[:6]
    binning = dict(binning_x=binning_x, binning_y=binning_y, roi=roi)
    if rectified:
        p, r = fields[6:]
        return image_codec.rectified_intrinsics_from_camera_info(width, height, p, r, **binning)
    k, d, model, p = fields[6:]
    _refuse_p_without_k(k, p)
    return image_codec.intrinsics_from_camera_info(width, height, k, d, model, **binning)


def camera_info_to_intrinsics(info: Any, rectified: bool = False) -> CameraIntrinsics:
    """``sensor_msgs/CameraInfo`` -> `CameraIntrinsics`.

    ``rectified``: the image stream is rectified (``image_rect``: parameter
    ``image_rectified``), so its intrinsics are P's with no distortion
    (`image_codec.rectified_intrinsics_from_camera_info`; monocular only).

    The fields go through `image_codec.intrinsics_from_camera_info`, binning and ROI included
    (as image_geometry applies them; a message without those fields is read as unbinned and
    uncropped). Raises InputError for an uncalibrated (all-zero K) or malformed message.
    """
    return _intrinsics_from_fields(_camera_info_fields(info, rectified))


def camera_info_reduction(info: Any) -> str:
    """'CameraInfo WxH with binning BXxBY and/or roi WxH at (X, Y)' when the CameraInfo's
    binning or ROI reduce its full-sensor size and K (as image_geometry applies them), else ''
    (for errors about an image whose size does not fit the reduced intrinsics)."""
    bx, by = _binning(info, "binning_x"), _binning(info, "binning_y")
    width, height = _message_size(info.width, "width"), _message_size(info.height, "height")
    roi = getattr(info, "roi", None)
    x, y, w, h = (0, 0, 0, 0) if roi is None else _roi_fields(roi)
    parts = []
    if bx > 1 or by > 1:
        parts.append(f"binning {bx}x{by}")
    if w > 0 and h > 0 and (x, y, w, h) != (0, 0, width, height):
        parts.append(f"roi {w}x{h} at ({x}, {y})")
    return f"CameraInfo {width}x{height} with {' and '.join(parts)}" if parts else ""


# why an image does not fit a CameraInfo that `camera_info_reduction` describes
REDUCED_TWICE_HINT = ("whose size and K must be the full sensor's (image_geometry divides them by "
                      "the binning, crops them to the roi); a driver that publishes the reduced "
                      "size and K must leave binning_x/binning_y 0 and roi empty")


def is_compressed(msg: Any) -> bool:
    """True for a ``sensor_msgs/CompressedImage`` (it has ``format``; an Image has ``encoding``)."""
    return hasattr(msg, "format") and not hasattr(msg, "encoding")


def decode_image_message(msg: Any) -> Tuple[np.ndarray, str]:
    """An Image or CompressedImage -> (array, raw encoding) as `image_codec.decode_image` gives.

    Raises InputError for an unsupported encoding or format, data of the wrong size, or a
    size or ``is_bigendian`` that is not a whole number (0 or 1 for ``is_bigendian``).
    """
    if is_compressed(msg):
        return image_codec.decode_compressed(msg.format, msg.data)
    if not isinstance(msg.encoding, str):  # b'mono16' was "unsupported", a list a TypeError
        raise InputError(f"sensor_msgs/Image encoding must be a string ('rgb8', 'mono16', ...), "
                         f"got {type(msg.encoding).__name__} {msg.encoding!r:.40}")
    sizes = []
    for name in ("height", "width", "step"):  # checked, not int(): 2.7 rows were read as 2
        value = getattr(msg, name)
        size = _uint32(value)
        if size is None:
            raise InputError(f"sensor_msgs/Image {name} must be a whole number >= 0 (uint32), "
                             f"got {value!r}")
        sizes.append(size)
    # checked, not bool(): a duck-typed message's "0" (a string) was read as big-endian
    flag = msg.is_bigendian
    bigendian = bool(flag) if isinstance(flag, (bool, np.bool_)) else _uint32(flag)
    if bigendian not in (0, 1):
        raise InputError(f"sensor_msgs/Image is_bigendian must be 0 or 1 (uint8: 1 for big-endian "
                         f"16/32-bit data), got {flag!r}")
    array = image_codec.decode_image(msg.encoding, *sizes, msg.data, bool(bigendian))
    return array, msg.encoding


def frame_from_image_message(msg: Any, intrinsics: Optional[CameraIntrinsics], *,
                             depth_m: Optional[np.ndarray] = None,
                             map_from_cam: Optional[np.ndarray] = None, topic: str = "",
                             bayer_watch: Optional[BayerWatch] = None) -> Frame:
    """An Image or CompressedImage -> `Frame` (rgb (H, W, 3) uint8), stamped with its header.

    ``stamp_ns`` and ``frame_id`` come from ``msg.header``, the frame id as tf2 names it (a
    leading '/' removed, warned about once: `header_frame_name`). 16-bit images are scaled as
    cv_bridge scales them; 10- to 14-bit data in them is warned about once per frame_id and
    encoding (`image_codec.warn_low_bit_depth`; frame ids that differ only in their numbers, a
    driver's counter, are one: `said_once.without_numbers`, as for 16UC1's own warning); a
    mono8 / mono16 stream of raw Bayer mosaics once per ``topic`` (its source: a bag's, the
    node's) by ``bayer_watch``, whose image samples it judges (`bayer_watch.warn_bayer_stream`).
    Raises InputError for an undecodable image or one whose size differs from ``intrinsics`` (a
    CameraInfo of another stream).
    """
    array, encoding = decode_image_message(msg)
    stream = without_numbers(str(msg.header.frame_id))  # a counter in it: still one stream
    said = _DEPTH_ENCODED_FRAME_IDS.say(stream) if encoding == "16UC1" else None
    if said is not None:
        # REP-118's depth encoding: a depth topic given as the image topic reads as a dark
        # grey picture (depth in mm, mostly over 4096: no low-bit-depth warning either)
        log.warning("16UC1 images of frame_id '%s' are read as the colour image (as mono16), "
                    "but 16UC1 is the depth encoding (REP-118, millimetres): if this is a "
                    "depth topic, give the colour topic as the image topic (--image-topic, or "
                    "the node's image remapping) and this one as the depth topic%s",
                    msg.header.frame_id, said)
    image_codec.warn_low_bit_depth(  # 16UC1 up to 12 bits: depth in mm has its own warning
        array, f"{encoding} images of frame_id '{msg.header.frame_id}'",
        "publish them at the full 16-bit range (shift the sensor's bits up) or as 8-bit",
        max_bits=12 if encoding == "16UC1" else 14, key=f"{encoding} images of frame_id '{stream}'")
    warn_bayer_stream(array, encoding, msg.header.frame_id, topic, bayer_watch)  # a mosaic?
    return Frame(rgb=image_codec.to_rgb8(array, encoding), intrinsics=intrinsics,
                 stamp_ns=header_stamp_ns(msg.header),
                 frame_id=header_frame_name(msg.header.frame_id),
                 depth_m=depth_m, map_from_cam=map_from_cam)


# image_proc's names: image_rect / image_rect_color (and a driver's image_rect_raw) are
# rectified, image_raw / image_color / image_mono are not; a transport's suffix comes after them
_TRANSPORT_SUFFIXES = ("compressed", "compressedDepth", "theora", "zstd", "ffmpeg", "foxglove")


def _topic_image_kind(topic: str) -> str:
    """'rectified', 'raw' or '' (the name does not say) for an image topic's last name."""
    parts = [p for p in topic.split("/") if p]
    while parts and parts[-1] in _TRANSPORT_SUFFIXES:
        parts.pop()
    name = parts[-1] if parts else ""
    if name.startswith("image_rect"):
        return "rectified"
    return "raw" if name in ("image_raw", "image_color", "image_mono") else ""


def rectification_mismatch(image_topic: str, info: Any, rectified: bool) -> str:
    """Why the name of ``image_topic`` contradicts how its CameraInfo ``info`` is read, or '':
    an image_proc ``image_rect*`` topic read as unrectified (K and D: ``rectified`` false), or
    an ``image_raw`` / ``image_color`` / ``image_mono`` one read as rectified (P, no
    distortion), when the two models differ: a non-zero D, or a P whose 3x3 is not K (a P of
    zeros, never rectified, is left to the conversion). A name is a convention, not proof: the
    caller warns and reads the image as configured. Fields the read does not use and that are
    malformed (a rectified read's K) give '' here: never a refusal of their own."""
    kind = _topic_image_kind(image_topic)
    if not kind or (kind == "rectified") == bool(rectified):
        return ""
    try:
        k, d, p = (np.asarray(_float_fields(_array_field(info, n), n)) for n in ("k", "d", "p"))
    except (InputError, AttributeError):
        return ""
    if k.size != 9 or p.size != 12 or not np.any(p):
        return ""
    differs = []
    if np.any(d):
        differs.append(f"D {np.round(d, 6).tolist()}")
    if not np.allclose(p.reshape(3, 4)[:, :3], k.reshape(3, 3), rtol=0.0, atol=1e-3):
        differs.append(f"P's fx fy cx cy {p[0]:g} {p[5]:g} {p[2]:g} {p[6]:g} against K's "
                       f"{k[0]:g} {k[4]:g} {k[2]:g} {k[5]:g}")
    if not differs:
        return ""
    what = " and ".join(differs)
    if rectified:
        return (f"image topic {image_topic} is the unrectified image by its name, but "
                "image_rectified is true: it is read with the CameraInfo's P and no distortion, "
                f"the model of image_proc's rectified image, not K and D ({what}); set "
                "image_rectified: false for it, or subscribe to the rectified topic (image_rect)")
    return (f"image topic {image_topic} is rectified by its name (image_proc's image_rect*), but "
            "image_rectified is false: it is read with the CameraInfo's K and D, which describe "
            f"the raw image ({what}), so the rectified pixels are undistorted again; set "
            "image_rectified: true (the node parameter, or in the --params YAML of build-map / "
            "localize) to read P with no distortion")


# a calibration warning (far principal point, rectification by the topic's name) of each kind
# comes at most this often (`IntrinsicsCache`: the first at once)
CALIBRATION_LINE_INTERVAL_S = 10.0


class IntrinsicsCache:
    """`camera_info_to_intrinsics` that converts again only when the CameraInfo fields change.

    A camera publishes the same CameraInfo beside every image; call the cache with each one.
    A calibration's principal point far outside the image (`image_codec.far_principal_point`)
    and, with ``image_topic`` (the image stream the CameraInfo describes, when known), a name
    that contradicts the ``rectified`` read (`rectification_mismatch`) are warned about when it
    is converted; a K changing at every message was a line a message, so each of the two says
    its first line at once and then at most one every `CALIBRATION_LINE_INTERVAL_S` of
    ``clock`` (seconds, monotonic; the node passes its own), counting the calibrations held
    back since.
    """

    def __init__(self, source: str = "CameraInfo", image_topic: Optional[str] = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._key: Optional[tuple] = None
        self._value: Optional[CameraIntrinsics] = None
        self._source = source  # what the warnings name (a topic)
        self._image_topic = image_topic
        self._lines = LineThrottle(CALIBRATION_LINE_INTERVAL_S, clock)

    def __call__(self, info: Any, rectified: bool = False) -> CameraIntrinsics:
        key = _camera_info_fields(info, rectified)
        if key != self._key or self._value is None:
            self._value = _intrinsics_from_fields(key)
            self._key = key
            # once per calibration, not per message: a principal point far outside the image
            # (K of another resolution) gave only the localizer's 'differs from the map' line,
            # and none without a map camera of that size
            width, height, mat = key[1], key[2], key[6]
            cx, cy = (mat[2], mat[6]) if rectified else (mat[2], mat[5])
            far = image_codec.far_principal_point(
                cx, cy, width, height, f"{self._source} (P)" if rectified else self._source)
            why = (rectification_mismatch(self._image_topic, info, rectified)
                   if self._image_topic else "")
            for kind, text in (("principal_point", far),
                               ("rectification", why and f"{self._source}: {why}")):
                held = self._lines.due(kind) if text else None
                if held is not None:  # a K changing at every message: a line every 10 s
                    log.warning("%s%s", text, LineThrottle.again(held, "calibrations like it"))
        return self._value
