"""The node's subscribed topic types and QoS profiles (imports rclpy and sensor_msgs)."""

from __future__ import annotations

from typing import Any, Tuple

from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CompressedImage, Image

from mast3r_ros.ros.video_input import VIDEO_DEPTH, VIDEO_TRANSPORTS, video_message_type


def latched() -> QoSProfile:
    """AMCL's pose QoS: reliable, transient local, depth 1 (late subscribers get the last one)."""
    return QoSProfile(depth=1, history=HistoryPolicy.KEEP_LAST,
                      reliability=ReliabilityPolicy.RELIABLE,
                      durability=DurabilityPolicy.TRANSIENT_LOCAL)


def sensor(reliability: str, depth: int = 1) -> QoSProfile:
    """Sensor-data style, depth 1: a slow model drops stale frames instead of queueing them.

    ``reliability`` is 'reliable' or 'best_effort' (parameter ``image_reliability``).
    """
    rel = (ReliabilityPolicy.RELIABLE if reliability == "reliable"
           else ReliabilityPolicy.BEST_EFFORT)
    return QoSProfile(depth=depth, history=HistoryPolicy.KEEP_LAST, reliability=rel,
                      durability=DurabilityPolicy.VOLATILE)


def image_qos(transport: str, reliability: str) -> QoSProfile:
    """The image subscription's QoS: `sensor` (depth 1: the worker takes the newest frame
    anyway); a video transport's keeps `video_input.VIDEO_DEPTH` packets, as every packet is
    decoded (a dropped one breaks the pictures until the next keyframe) and the callback
    drains the queue at once. Reliability is ``image_reliability`` either way: a reliable
    subscription receives nothing from a best-effort publisher (ROS_NOTES 4)."""
    return sensor(reliability, VIDEO_DEPTH if transport in VIDEO_TRANSPORTS else 1)


def camera_info() -> QoSProfile:
    """The CameraInfo subscription's QoS: best effort, depth 1, volatile, whatever
    ``image_reliability`` says. A best-effort subscription receives from reliable and
    best-effort publishers alike, while a reliable one receives nothing from a best-effort
    publisher (ROS_NOTES 4), and only the latest CameraInfo is used: there is nothing to gain
    from asking for reliable delivery, and a camera driver publishing its CameraInfo best
    effort with a reliable image would otherwise leave every frame without intrinsics."""
    return sensor("best_effort")


def image_topic(transport: str) -> Tuple[type, str]:
    """(message type, relative topic) of the image subscription for ``image_transport``:
    'compressed' -> CompressedImage on ``image/compressed``, 'raw' -> Image on ``image``,
    'ffmpeg' / 'foxglove' -> FFMPEGPacket on ``image/ffmpeg`` / CompressedVideo on
    ``image/foxglove`` (imported only then: `video_input.video_message_type`)."""
    if transport in VIDEO_TRANSPORTS:
        msg_type, _, topic = video_message_type(transport)
        return msg_type, topic
    if transport == "compressed":
        return CompressedImage, "image/compressed"
    return Image, "image"


def topic_name(entity: Any) -> str:
    """Resolved topic name of a subscription (``topic_name``), else the name it was given."""
    try:
        return str(entity.topic_name)
    except Exception:  # noqa: BLE001 - only for log messages
        return str(getattr(entity, "topic", "?"))
