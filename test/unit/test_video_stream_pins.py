"""Pins from the mutation audit of `core.video_stream` (docs/bench/mutation_cpu_2026-12-06w):
what a live stream keeps per packet, the picture's fields, and the refusal of a non-video
message type. Same stand-in messages as test_video_stream.py."""

from __future__ import annotations

import pytest

pytest.importorskip("av", reason='PyAV is not installed (pip install -e ".[video]")')
pytest.importorskip("rosbags", reason="test_rosbag_video's helpers need rosbags")

from test_rosbag_video import N  # noqa: E402
from test_video_stream import message  # noqa: E402

from mast3r_ros.core import video_stream  # noqa: E402
from mast3r_ros.core.video_decode import COMPRESSED_VIDEO_TYPE, FFMPEG_PACKET_TYPE  # noqa: E402
from mast3r_ros.core.video_stream import LiveVideo  # noqa: E402


def test_a_decoded_picture_says_little_endian_and_drops_the_frame_once_converted():
    """rgb8 is one byte a channel: is_bigendian 0, as sensor_msgs/Image of rgb8 from a
    camera driver; the PyAV frame is let go once its RGB bytes are made (a worker holding the
    picture holds the bytes only)."""
    stream = LiveVideo("/cam", COMPRESSED_VIDEO_TYPE)
    img = stream.receive(message(COMPRESSED_VIDEO_TYPE, 0)).image
    assert img.is_bigendian == 0
    assert img._picture is not None
    assert len(img.data) == 3 * img.width * img.height
    assert img._picture is None


@pytest.mark.parametrize("kind", [COMPRESSED_VIDEO_TYPE, FFMPEG_PACKET_TYPE])
def test_a_long_stream_keeps_no_record_per_packet(kind):
    """The decoder's record of the packets before its first keyframe (the bag reader's) is
    emptied every packet: a live subscription joined mid-GOP runs for hours."""
    stream = LiveVideo("/cam", kind)
    for k in range(2, N):
        stream.receive(message(kind, k))
        assert stream._decoder.fed == []


def test_the_format_s_decoder_is_looked_up_once_not_per_packet(monkeypatch):
    calls = []
    real = video_stream.decoder_name
    monkeypatch.setattr(video_stream, "decoder_name",
                        lambda *a, **k: calls.append(a) or real(*a, **k))
    stream = LiveVideo("/cam", COMPRESSED_VIDEO_TYPE)
    got = [stream.receive(message(COMPRESSED_VIDEO_TYPE, k)) for k in range(N)]
    assert all(r.image is not None for r in got)
    assert len(calls) == 1


def test_a_message_type_that_is_no_video_is_refused_at_creation():
    with pytest.raises(ValueError, match=r"not a video message type: 'sensor_msgs/msg/Image'"):
        LiveVideo("/cam", "sensor_msgs/msg/Image")


def test_a_keyframe_first_has_an_empty_note_and_a_malformed_stamp_is_minus_one():
    """`Received.stamp_ns` is -1 for a header stamp `stamp_to_ns` refuses (a negative
    nanosec: the worker refuses the frame by its header); ``note`` is a str, '' when nothing
    waited."""
    stream = LiveVideo("/cam", FFMPEG_PACKET_TYPE)
    first = stream.receive(message(FFMPEG_PACKET_TYPE, 0))
    assert first.note == "" and first.image is not None
    bad = message(FFMPEG_PACKET_TYPE, 1)
    bad.header.stamp.nanosec = -5
    r = stream.receive(bad)
    assert r.stamp_ns == -1 and r.image is not None
