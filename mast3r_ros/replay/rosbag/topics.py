"""Topics of a rosbag2: the message types read, and choosing the image, depth and CameraInfo
topics (given ones checked, others detected).

`_TopicSelection` is a base class of `BagSequence`: the one colour image topic (Image or
CompressedImage, skipping depth topics: 16UC1 / 32FC1, compressedDepth or 'depth' in the name;
else the one compressed video topic, `video`) and the one CameraInfo topic (preferring the
image's namespace) are detected when not given.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Dict, List, Optional

import yaml
from rosbags.highlevel import AnyReader

from . import realsense
from .opening import bag_label, bag_messages
from .video import VIDEO_TYPES, decoder_name
from ...core.errors import InputError
from ...core.message_fields import IntrinsicsCache, camera_info_reduction, header_stamp_ns
from ...core.types import CameraIntrinsics

log = logging.getLogger(__name__)

IMAGE_TYPE = "sensor_msgs/msg/Image"
COMPRESSED_IMAGE_TYPE = "sensor_msgs/msg/CompressedImage"
CAMERA_INFO_TYPE = "sensor_msgs/msg/CameraInfo"
TF_TYPE = "tf2_msgs/msg/TFMessage"
# robot motion some bags record instead of /tf (named when no tf moves the camera; read with
# --pose-topic, `pose_topic`)
ODOMETRY_TYPE = "nav_msgs/msg/Odometry"
# and ROS 1's tf/tfMessage, the same fields, in ROS 1 bags recorded before tf2 (the TUM RGB-D
# dataset's bags among them)
TF_TYPES = (TF_TYPE, "tf/msg/tfMessage")
IMAGE_TYPES = (IMAGE_TYPE, COMPRESSED_IMAGE_TYPE)
# what an image topic may be: the image types, or a compressed video (colour only, `video`)
COLOUR_TYPES = IMAGE_TYPES + VIDEO_TYPES
_DEPTH_RAW_ENCODINGS = ("16UC1", "32FC1")
# image_transport's, read here (ffmpeg: FFMPEGPacket; foxglove: foxglove_compressed_video_transport)
_TRANSPORTS = ("compressed", "compressedDepth", "ffmpeg", "foxglove")
# whether an image topic is depth is read from its first message that can be deserialized,
# among its first this many (all of them undeserializable: that error is raised)
_DEPTH_PROBE = 10


def warn_if_one_file_of_a_split_bag(path: Path) -> None:
    """Warn when ``path`` is one storage file of a bag folder whose metadata.yaml lists several
    (``max_bag_size``): what the others hold is not read (a /tf_static published once, latched,
    is in the first file only; frames then lack the camera's static transforms)."""
    meta = path.parent / "metadata.yaml"
    if not path.is_file() or not meta.is_file():
        return
    try:
        info = yaml.safe_load(meta.read_text(encoding="utf-8"))["rosbag2_bagfile_information"]
        files = [str(f) for f in info["relative_file_paths"]]
    except (OSError, ValueError, yaml.YAMLError, KeyError, TypeError):
        return  # not a rosbag2's metadata: nothing to say
    if len(files) > 1 and path.name in files:
        log.warning(
            "rosbag2 file %s is file %d of the %d files of the split bag %s (its metadata.yaml): "
            "only this file is read, without what the others recorded (a /tf_static published "
            "once, at the start, is in %s only); give the folder %s to read the whole "
            "recording", path, files.index(path.name) + 1, len(files), path.parent, files[0],
            path.parent)


def _image_namespace(topic: str) -> str:
    """/cam/color/image_raw/compressed -> /cam/color (the transport suffix is not a namespace)."""
    for suffix in _TRANSPORTS:
        topic = topic.removesuffix("/" + suffix)
    return topic.rsplit("/", 1)[0]


def images_frame(frame_ids: List[str]) -> str:
    """The images' header frame_id as tf2 names it (the first readable image's, ``frame_ids``
    as the bag reader collects them; a leading slash, ROS 1's habit, stripped), '' without
    one."""
    return frame_ids[0].lstrip("/") if frame_ids else ""


class _TopicSelection:
    """Topic selection of `BagSequence` (a base class of it). ``BagSequence.__init__`` sets the
    attributes annotated here; `BagSequence._deserialize` reads a depth candidate's first
    message that can be deserialized (of its first `_DEPTH_PROBE`)."""

    path: Path
    image_topic: str
    _topics: Dict[str, Any]  # topic -> rosbags TopicInfo
    _is_depth: Dict[str, bool]
    _info_cache: Dict[str, IntrinsicsCache]  # topic -> its conversion cache
    _reduced_by: Dict[int, str]  # id(intrinsics) -> `camera_info_reduction`
    _rectified: bool
    _frame_ids: List[str]
    camera_info_topic: Optional[str]
    # the CameraInfo topic was detected as the bag's only one, outside the image's namespace
    _info_elsewhere: bool = False
    _override: Optional[CameraIntrinsics]

    def _listing(self) -> str:
        return "\n".join(
            f"  {name} [{info.msgtype}] ({info.msgcount} messages)"
            for name, info in sorted(self._topics.items())
        )

    def _require(self, topic: str, types: Sequence[str], option: str) -> str:
        info = self._topics.get(topic)
        # the base topic's transport topics of a type ``option`` takes (a video: never depth)
        transports = [f"{topic.rstrip('/')}/{t}" for t in _TRANSPORTS if getattr(
            self._topics.get(f"{topic.rstrip('/')}/{t}"), "msgtype", None) in types
                      ] if info is None else []
        if transports and IMAGE_TYPE in types:  # the base topic given, as image_transport takes
            flag = {"image topic": "--image-topic", "depth topic": "--depth-topic"}[option]
            raise InputError(
                f"{option} {topic!r} is not in {bag_label(self.path)}, but its image_transport "
                f"topic {' and '.join(transports)} is (a bag records each transport as a topic "
                f"of its own): pass {flag} {transports[0]}")
        if info is None:
            _refuse_other_slashes(topic, self._topics, option, bag_label(self.path))
            raise InputError(
                f"{option} {topic!r} is not in {bag_label(self.path)}; its topics are:\n"
                f"{self._listing()}"
            )
        if info.msgtype not in types:
            raise InputError(
                f"{option} {topic!r} has type {info.msgtype}, expected {' or '.join(types)}"
            )
        if info.msgcount == 0:
            raise InputError(f"{option} {topic!r} has no messages in {bag_label(self.path)}")
        return topic

    def _candidates(self, types: Sequence[str]) -> List[str]:
        return sorted(
            n for n, i in self._topics.items() if i.msgtype in types and i.msgcount > 0
        )

    def _is_depth_topic(self, reader: AnyReader, topic: str) -> bool:
        if topic not in self._is_depth:
            self._is_depth[topic] = self._looks_like_depth(reader, topic)
        return self._is_depth[topic]

    def _looks_like_depth(self, reader: AnyReader, topic: str) -> bool:
        if "depth" in topic.lower():
            return True
        if self._topics[topic].msgtype in VIDEO_TYPES:  # never depth (`_select_depth_topic`)
            return False
        conns = self._topics[topic].connections
        gen = bag_messages(reader, connections=conns)
        first: Optional[InputError] = None
        try:  # the first message that can be deserialized (an image topic's bad one is a
            for n, (conn, _, raw) in enumerate(gen):  # failed frame of localize's, not a stop)
                try:
                    msg = self._deserialize(reader, raw, conn.msgtype, topic)
                    break
                except InputError as err:
                    first = first or err
                    if n + 1 >= _DEPTH_PROBE:
                        raise first from None
            else:
                raise first or InputError(f"{topic} has no messages in {bag_label(self.path)}")
        finally:
            gen.close()
        if conn.msgtype == IMAGE_TYPE:
            return msg.encoding in _DEPTH_RAW_ENCODINGS
        fmt = msg.format
        return "compresseddepth" in fmt.lower() or fmt.startswith(_DEPTH_RAW_ENCODINGS)

    def _check_camera_info_frame(self, info_frame_id: Optional[str]) -> None:
        """After the indexing pass: the CameraInfo's header frame_id (its first message's)
        against the images' (leading slashes aside; nothing said when either is empty, but for
        the bag's only CameraInfo topic in another namespace, of no frame: warned). Of
        another frame, the bag's only CameraInfo topic, detected in another namespace than the
        image topic's, is refused: it is another camera's calibration (a depth camera's
        /camera/depth/camera_info beside /camera/color/image_raw), taken it gives confident wrong
        poses. A topic given, or of the image's namespace, is warned about."""
        info = (info_frame_id or "").lstrip("/")
        image = images_frame(self._frame_ids)
        if not info and image and self._info_elsewhere:  # may be the images': warned
            log.warning("%s: the bag's only CameraInfo topic, %s, names no frame and is outside "
                        "%s: if it is another camera's calibration (a depth or infrared "
                        "camera's) the poses are wrong; pass the CameraInfo topic of %s "
                        "(--camera-info-topic), or its calibration as a camera_info YAML "
                        "(--camera-info)", bag_label(self.path), self.camera_info_topic,
                        _image_namespace(self.image_topic), self.image_topic)
        if not info or not image or info == image:
            return
        what = (f"{bag_label(self.path)}: the CameraInfo on {self.camera_info_topic} is of frame "
                f"'{info}', the images on {self.image_topic} of '{image}'")
        fix = (f"pass the CameraInfo topic of {self.image_topic} (--camera-info-topic), or its "
               "calibration as a camera_info YAML (--camera-info)")
        if self._info_elsewhere:
            raise InputError(f"{what}, and it is the bag's only CameraInfo topic, found outside "
                             f"{_image_namespace(self.image_topic)}: it is another camera's "
                             f"calibration, which would give wrong poses; {fix}")
        log.warning("%s: if it is another camera's calibration the poses are wrong; %s", what, fix)

    def _option(self, keyword: str, value: str = "...") -> str:
        """How a refusal names ``keyword``: the CLI's flag (``option_names``), else the API's."""
        names = getattr(self, "_option_names", {})
        return names.get(keyword) or f"BagSequence({keyword}={value})"

    def _select_image_topic(self, reader: AnyReader, topic: Optional[str]) -> str:
        """The image topic (given, else detected), a video topic's format checked (`video`:
        PyAV installed, a format it decodes) on its first readable message."""
        chosen = self._choose_image_topic(reader, topic)
        if self._topics[chosen].msgtype in VIDEO_TYPES:
            first = self._first_message(reader, chosen)
            decoder_name(first.video_format if first is not None else "h264", chosen)
        return chosen

    def _choose_image_topic(self, reader: AnyReader, topic: Optional[str]) -> str:
        if topic is not None:
            return self._require(topic, COLOUR_TYPES, "image topic")
        if realsense.is_realsense(self._topics):  # its colour stream, never an infrared one
            return self._realsense_image_topic()
        candidates = [
            t for t in self._candidates(IMAGE_TYPES) if not self._is_depth_topic(reader, t)
        ] or [t for t in self._candidates(VIDEO_TYPES)  # a video only without an image topic
              if not self._is_depth_topic(reader, t)]
        if len(candidates) == 1:
            return candidates[0]
        if not candidates:
            raise InputError(
                f"{bag_label(self.path)} has no colour image topic ({' or '.join(COLOUR_TYPES)}, "
                f"not depth); its topics are:\n{self._listing()}"
            )
        raise InputError(
            f"{bag_label(self.path)} has several image topics: {', '.join(candidates)}; choose one "
            f"with {self._option('image_topic')} (one camera a run; a map of several cameras: "
            "one build-map per camera, joined with merge-maps)"
        )

    def _select_depth_topic(self, topic: Optional[str],
                            reader: Optional[AnyReader] = None) -> Optional[str]:
        if topic is None:
            return None
        kind = getattr(self._topics.get(topic), "msgtype", None)
        if kind in VIDEO_TYPES:
            raise InputError(f"depth topic {topic!r} is a compressed video ({kind}): depth is "
                             "never read from video, whose lossy compression changes the "
                             "distances; give a depth topic of sensor_msgs/Image (16UC1, 32FC1) "
                             "or compressedDepth")
        self._require(topic, IMAGE_TYPES, "depth topic")
        if topic == self.image_topic:
            others = [t for t in self._candidates(IMAGE_TYPES) if t != topic]
            raise InputError(f"depth topic {topic!r} is also the image topic: the image topic "
                             f"is the colour camera's; pass it as "
                             f"{self._option('image_topic')}"
                             + (f": {', '.join(others)}" if others else ""))
        if reader is not None and realsense.is_realsense(self._topics):
            self._check_realsense_depth(reader, topic)  # aligned? its Depth Units
        return topic

    def _realsense_image_topic(self) -> str:
        """A RealSense recording's colour stream (``.../Color_N/image/data``), else a refusal
        naming its image streams (an infrared or fisheye one is grey: --image-topic)."""
        colour = [t for t in realsense.image_streams(self._topics, "Color")
                  if self._topics[t].msgcount > 0]
        if len(colour) == 1:
            return colour[0]
        if colour:
            raise InputError(f"{bag_label(self.path)} is a RealSense recording of several "
                             f"colour streams: {', '.join(colour)}; choose one with "
                             f"{self._option('image_topic')}")
        streams = [t for t in self._candidates(IMAGE_TYPES) if realsense.stream_of(t)]
        listed = ", ".join(streams) or "none"
        raise InputError(f"{bag_label(self.path)} is a RealSense recording without a colour "
                         f"stream (its image streams: {listed}): record the RGB camera too, or "
                         f"pass an infrared or fisheye stream (grey) with "
                         f"{self._option('image_topic')}")

    def _realsense_camera_info_topic(self) -> str:
        """The CameraInfo of a RealSense recording's image stream, ``<stream>/info/
        camera_info`` (every stream has one: another's is another camera's)."""
        topic = realsense.camera_info_topic_of(self.image_topic)
        if topic and topic in self._topics and self._topics[topic].msgcount > 0:
            return self._require(topic, (CAMERA_INFO_TYPE,), "camera_info topic")
        raise InputError(
            f"{bag_label(self.path)} is a RealSense recording without the calibration of "
            f"{self.image_topic} ({topic or '<stream>/info/camera_info'}): pass it as a "
            f"camera_info YAML ({self._option('camera_info', 'load_camera_info_yaml(path)')})")

    def _first_message(self, reader: AnyReader, topic: str) -> Any:
        """The first message of ``topic`` that can be deserialized (of its first
        `_DEPTH_PROBE`), None without one."""
        gen = bag_messages(reader, connections=self._topics[topic].connections)
        try:
            for n, (conn, _, raw) in enumerate(gen):
                try:
                    return self._deserialize(reader, raw, conn.msgtype, topic)
                except InputError:
                    if n + 1 >= _DEPTH_PROBE:
                        return None
        finally:
            gen.close()
        return None

    def _described(self, reader: AnyReader, topic: str) -> str:
        """"/cam/camera_info (frame 'cam_optical', 640x480)": a topic's first message's header
        frame_id and size (an Image's or a CameraInfo's), for a user choosing between topics."""
        msg = self._first_message(reader, topic)
        if msg is None:
            return f"{topic} (no readable message)"
        frame = str(getattr(getattr(msg, "header", None), "frame_id", "")).lstrip("/")
        size = (f", {msg.width}x{msg.height}" if getattr(msg, "width", 0)
                and getattr(msg, "height", 0) else "")
        return f"{topic} ({f'frame {frame!r}' if frame else 'no frame'}{size})"

    def _select_camera_info_topic(self, topic: Optional[str],
                                  reader: Optional[AnyReader] = None) -> Optional[str]:
        if self._override is not None:
            if topic is not None:
                log.warning("camera_info given: ignoring camera_info_topic %s", topic)
            return None
        if topic is not None:
            return self._require(topic, (CAMERA_INFO_TYPE,), "camera_info topic")
        if realsense.is_realsense(self._topics):  # the image stream's own <stream>/info/...
            return self._realsense_camera_info_topic()
        candidates = self._candidates((CAMERA_INFO_TYPE,))
        namespace = _image_namespace(self.image_topic)
        same = [t for t in candidates if t.rsplit("/", 1)[0] == namespace]
        if len(candidates) == 1:
            self._info_elsewhere = not same  # `check_camera_info_frame` refuses it of another frame
            return candidates[0]
        if len(same) == 1:
            return same[0]
        if not candidates:
            raise InputError(
                f"{bag_label(self.path)} has no {CAMERA_INFO_TYPE} topic, so the images have no "
                f"intrinsics: pass a camera_info topic ({self._option('camera_info_topic')}) or a "
                "camera_info YAML "
                f"({self._option('camera_info', 'load_camera_info_yaml(path)')})"
            )
        listed, images = ", ".join(candidates), self.image_topic
        if reader is not None:  # each with its frame and size, and the images' own
            listed = "; ".join(self._described(reader, t) for t in candidates)
            images = self._described(reader, self.image_topic)
        raise InputError(
            f"{bag_label(self.path)} has several CameraInfo topics: {listed}, none alone in the "
            f"namespace of {images}; choose one with {self._option('camera_info_topic')}"
        )

    def _intrinsics(self, msg: Any, topic: str) -> CameraIntrinsics:
        """The CameraInfo ``msg`` on ``topic`` as intrinsics (`InputError` naming its stamp)."""
        try:
            # converted once per calibration (a far principal point is warned about then)
            # its image topic named too: an image_rect read with K and D is warned about
            cache = self._info_cache.setdefault(topic, IntrinsicsCache(
                f"CameraInfo on {topic}", image_topic=self.image_topic))
            cam = cache(msg, self._rectified)
        except InputError as err:
            stamp_s = header_stamp_ns(msg.header) * 1e-9
            # a recorded message cannot be corrected: the fix a bag's user has is the calibration
            hint = "" if "--camera-info" in str(err) else (
                "; in a recording it cannot be changed: pass the streamed image's calibration "
                "as --camera-info YAML instead")
            raise InputError(f"CameraInfo on {topic} at t={stamp_s:.6f} s: {err}{hint}") from err
        reduced = camera_info_reduction(msg)
        if reduced:  # named when an image does not fit (`_frame`)
            self._reduced_by[id(cam)] = reduced
        return cam


_FLAGS = {"image topic": "--image-topic", "depth topic": "--depth-topic",
          "camera_info topic": "--camera-info-topic"}


def _refuse_other_slashes(topic: str, topics, option: str, label: str) -> None:
    """A topic typed without its leading '/' or with a trailing one (`cam/image`,
    `/cam/image/`): name the bag's spelling (ROS resolves `cam/image` in the root namespace
    to `/cam/image`; a bag records the resolved name)."""
    bare = topic.strip().strip("/")
    same = [name for name in sorted(topics) if bare and name.strip("/") == bare]
    if same:
        raise InputError(f"{option} {topic!r} is not in {label}, but {same[0]} is (a bag "
                         f"records the full topic name): pass {_FLAGS.get(option, option)} "
                         f"{same[0]}")
