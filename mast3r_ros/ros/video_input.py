"""The node's video subscription (parameter ``image_transport`` ``ffmpeg`` or ``foxglove``),
rclpy-free: which message type on which topic, checked at configure (`check_transport`), and
the callback's path from a packet to a frame offered to the worker (`VideoReceipt`).

The topics are image_transport's: a plugin's subscriber listens on ``<base>/<transport name>``,
``image/ffmpeg`` (ffmpeg_image_transport's FFMPEGPacket) and ``image/foxglove``
(foxglove_compressed_video_transport's CompressedVideo). The message types are imported only
when one of them is chosen, so neither package is needed otherwise.

Where the decoding runs: in the subscription callback, on the executor thread, every packet in
arrival order (`core.video_stream.LiveVideo`); the one-slot worker queue then takes the decoded
picture as it takes an Image. Decoding in the worker would skip the packets of the frames it
replaces while the localizer is busy, and a P-frame needs them all; a decoding thread of its
own would need an unbounded queue and its own lifecycle for 1.4-3 ms a 640x480 h264
packet (docs/bench/video_live_cpu_2026-12-06m: 30 packets/s take 4-9 % of the executor
thread, whose TF re-broadcast at 20 Hz waits at most one packet). The RGB conversion is left to
the worker (`DecodedPicture`), so a frame it never takes is never converted.
"""

from __future__ import annotations

import importlib
import time
from typing import Any, Callable, Dict, Optional, Tuple

from mast3r_ros.core.errors import ConfigError, InputError
from mast3r_ros.core.video_decode import COMPRESSED_VIDEO_TYPE, FFMPEG_PACKET_TYPE, _av
from mast3r_ros.core.video_stream import LiveVideo
from mast3r_ros.ros.diagnostics import FrameRecord

# transport -> (message package, type, ROS type name, relative topic, apt package)
VIDEO_TRANSPORTS: Dict[str, Tuple[str, str, str, str, str]] = {
    "ffmpeg": ("ffmpeg_image_transport_msgs", "FFMPEGPacket", FFMPEG_PACKET_TYPE,
               "image/ffmpeg", "ros-$ROS_DISTRO-ffmpeg-image-transport-msgs"),
    "foxglove": ("foxglove_msgs", "CompressedVideo", COMPRESSED_VIDEO_TYPE, "image/foxglove",
                 "ros-$ROS_DISTRO-foxglove-msgs"),
}
# subscription depth of a video topic: a packet dropped from the queue breaks the pictures
# until the next keyframe (both plugins publish with depth >= 2 GOPs, reliability as given)
VIDEO_DEPTH = 30


def video_message_type(transport: str) -> Tuple[Any, str, str]:
    """(message class, ROS type name, relative topic) of a video ``transport``; `ConfigError`
    in one line naming the apt package: to install when its message package does not import,
    to upgrade when it imports without the message (an older release)."""
    package, name, type_name, topic, apt = VIDEO_TRANSPORTS[transport]
    try:
        module = importlib.import_module(f"{package}.msg")
    except ImportError as err:  # not installed (or its setup.bash not sourced)
        raise ConfigError(f"parameter 'image_transport' is {transport!r}, whose message "
                          f"{type_name} does not import ({err}): sudo apt install "
                          f"{apt} (and source /opt/ros/$ROS_DISTRO/setup.bash), "
                          "or use image_transport raw / compressed") from err
    try:
        return getattr(module, name), type_name, topic
    except AttributeError as err:  # installed, a release older than the message
        where = getattr(module, "__file__", None)
        raise ConfigError(f"parameter 'image_transport' is {transport!r}, whose message "
                          f"{type_name} is missing: the installed {package} "
                          f"{'(' + where + ') ' if where else ''}has no {name} (a release "
                          f"from before it): sudo apt update && sudo apt upgrade {apt} (or "
                          "rebuild it from a newer source), or use image_transport raw / "
                          "compressed") from err


def check_transport(transport: str) -> None:
    """Configure's check of ``image_transport``: a video one needs its message package and
    PyAV (`ConfigError`, one line naming the install); raw and compressed need nothing."""
    if transport not in VIDEO_TRANSPORTS:
        return
    video_message_type(transport)
    try:
        _av()
    except InputError as err:
        raise ConfigError(f"parameter 'image_transport' is {transport!r}, but {err}") from err


def reliability_note(transport: str, reliability: str) -> str:
    """A warning for a video ``transport`` subscribed best effort ('' otherwise): a packet
    lost on the way (Wi-Fi drops a fragment of a large keyframe) breaks the pictures until the
    next keyframe, while both plugins publish reliable unless their node is told otherwise."""
    if transport not in VIDEO_TRANSPORTS or reliability == "reliable":
        return ""
    return (f"image_transport {transport} is subscribed best effort (image_reliability "
            "best_effort): each packet lost on the way leaves no frame until the next keyframe; "
            "ffmpeg_image_transport and foxglove_compressed_video_transport publish reliable "
            "unless their node is told otherwise: set image_reliability reliable (a best-effort "
            "publisher then delivers nothing, said by rclpy as an incompatible QoS)")


class VideoReceipt:
    """Mixin of `node.LocalizerNode` (with `processing.FrameProcessing`): the video
    subscription's callback. ``_video`` is the activation's `LiveVideo` (a new one each
    activate: the stream is joined anew)."""

    _video: Optional[LiveVideo] = None

    def _receive_video(self, msg: Any, offer: Callable[[Any], Any]) -> None:
        """Decode ``msg`` (executor thread, never raises): its picture goes the way of an
        Image (`FrameProcessing._receive_image`); a packet without one is counted as a
        dropped, refused arrival on /diagnostics with why, and warned about (throttled) unless
        it waits for a keyframe: that wait is said when it starts mid-stream (a lost keyframe
        or packet) and, with its count, when it ends (`Received.note`)."""
        stream = self._video
        if stream is None:
            return
        try:
            got = stream.receive(msg)
        except Exception as err:  # noqa: BLE001 - out of the callback it would end spin()
            self._note_arrival(-1)
            self._report_error("video packet dropped, decoding it failed", err)
            return
        if got.note:  # a wait's start or end: a line of each every 5 s at most (a lossy link)
            self._warn_throttled("video_wait_" + ("start" if got.kind == "video_waiting"
                                                  else "end"), got.note)
        if got.image is not None:
            self._receive_image(got.image, offer)
            return
        stamp_ns = got.stamp_ns
        self._note_arrival(stamp_ns)
        self._record(FrameRecord(time.monotonic(), False, reason=got.reason, dropped=True,
                                 refused=True))
        if got.kind != "video_waiting":
            self._warn_throttled(got.kind, f"video packet at {stamp_ns / 1e9:.3f} s gives no "
                                           f"frame: {got.reason}")
