"""The node's video subscription without ROS (`ros/video_input.py`): the callback's path from a
packet to a frame (`VideoReceipt._receive_video`, on test_ros_processing's fake host), the
configure check of image_transport ffmpeg / foxglove (message packages and PyAV), and the
warning for a best-effort video subscription. Real h264 packets (test_video_stream) in stand-in
messages with the real field names."""

from __future__ import annotations

import sys
import types
from types import SimpleNamespace as NS

import numpy as np
import pytest

av = pytest.importorskip("av", reason='PyAV is not installed (pip install -e ".[video]")')
pytest.importorskip("rosbags", reason="test_rosbag_video's helpers need rosbags")

from test_ros_processing import Host, camera_info  # noqa: E402
from test_rosbag_video import PICTURES, H, N, W, psnr  # noqa: E402
from test_video_stream import PACKETS, message  # noqa: E402

from mast3r_ros.core.config import validate_param  # noqa: E402
from mast3r_ros.core.errors import ConfigError  # noqa: E402
from mast3r_ros.core.video_decode import COMPRESSED_VIDEO_TYPE, FFMPEG_PACKET_TYPE  # noqa: E402
from mast3r_ros.core.video_stream import LiveVideo  # noqa: E402
from mast3r_ros.ros.video_input import (VideoReceipt, check_transport,  # noqa: E402
                                        reliability_note, video_message_type)

KINDS = [COMPRESSED_VIDEO_TYPE, FFMPEG_PACKET_TYPE]


class VideoHost(VideoReceipt, Host):
    def __init__(self, kind):
        super().__init__()
        self._camera_info = camera_info(W, H)
        self._video = LiveVideo("/cam/image_raw/x", kind)
        self.clock.now_ns = int(2.2e9)  # just after the last packet's stamp (2.1 s)


def _warnings(host):
    return [m for level, m in host.logger.lines if level == "warning"]


@pytest.mark.parametrize("kind", KINDS, ids=["CompressedVideo", "FFMPEGPacket"])
def test_every_packet_is_decoded_while_the_worker_takes_only_the_newest(kind):
    """The worker (busy localizing) takes the last picture only; it is right because every
    packet before it went through the decoder, and it localizes like an Image."""
    host = VideoHost(kind)
    offered = []
    for k in range(N):
        host._receive_video(message(kind, k), offered.append)
    assert len(offered) == N
    last = offered[-1]
    rgb = np.asarray(last.data).reshape(H, W, 3)
    assert psnr(rgb, PICTURES[N - 1]) > 30
    host._process(last)
    assert host._outputs.poses == [int(1e9) + (N - 1) * 100_000_000]
    assert host._localizer.last_frame.rgb.shape == (H, W, 3)


@pytest.mark.parametrize("kind", KINDS, ids=["CompressedVideo", "FFMPEGPacket"])
def test_a_mid_gop_join_is_counted_on_diagnostics_and_said_once_with_its_count(kind):
    host = VideoHost(kind)
    offered = []
    for k in range(2, N):
        host._receive_video(message(kind, k), offered.append)
    assert len(offered) == N - 5  # from the keyframe at 5 on
    warned = _warnings(host)
    assert len(warned) == 1 and "3 packets (t=1.200..1.400 s) not decoded" in warned[0]
    values = dict(host.summary().values)
    assert "waiting for a keyframe after joining the stream" in values["last_failure"]
    assert values["frames_refused"] == "3" and values["images_received"] == "10"


def test_a_damaged_packet_is_warned_about_and_counted():
    host = VideoHost(COMPRESSED_VIDEO_TYPE)
    offered = []
    bad = bytes(PACKETS[2][0][:6]) + b"\xff" * (len(PACKETS[2][0]) - 6)
    for k in range(N):
        host._receive_video(message(COMPRESSED_VIDEO_TYPE, k, data=bad if k == 2 else None),
                            offered.append)
    assert len(offered) == N - 3  # 2 and the pictures predicted from it, 3 and 4
    warned = _warnings(host)
    assert len(warned) == 1 and "video packet at 1.200 s gives no frame" in warned[0]


def test_a_decoder_error_is_reported_not_raised(monkeypatch):
    host = VideoHost(COMPRESSED_VIDEO_TYPE)
    monkeypatch.setitem(sys.modules, "av", None)  # PyAV gone: receive raises InputError
    host._receive_video(message(COMPRESSED_VIDEO_TYPE, 0), lambda m: None)
    assert any("video packet dropped, decoding it failed" in m
               for level, m in host.logger.lines if level == "error")


def _stub(monkeypatch, package, name):
    msg = types.ModuleType(f"{package}.msg")
    setattr(msg, name, name)
    monkeypatch.setitem(sys.modules, package, types.ModuleType(package))
    monkeypatch.setitem(sys.modules, f"{package}.msg", msg)


@pytest.mark.parametrize("transport, package, name, topic, apt", [
    ("ffmpeg", "ffmpeg_image_transport_msgs", "FFMPEGPacket", "image/ffmpeg",
     "ros-$ROS_DISTRO-ffmpeg-image-transport-msgs"),
    ("foxglove", "foxglove_msgs", "CompressedVideo", "image/foxglove",
     "ros-$ROS_DISTRO-foxglove-msgs")])
def test_the_transport_s_message_is_imported_only_then_and_refused_naming_its_apt_package(
        monkeypatch, transport, package, name, topic, apt):
    monkeypatch.setitem(sys.modules, f"{package}.msg", None)
    with pytest.raises(ConfigError) as err:
        check_transport(transport)
    text = str(err.value)
    assert "\n" not in text and f"sudo apt install {apt} " in text
    assert text.startswith(f"parameter 'image_transport' is '{transport}'")
    _stub(monkeypatch, package, name)
    assert video_message_type(transport)[::2] == (name, topic)
    check_transport(transport)
    monkeypatch.setitem(sys.modules, "av", None)
    with pytest.raises(ConfigError, match=r"^parameter 'image_transport' is '\w+', but reading "
                                          r"a video topic .* needs PyAV, which is not "
                                          r"installed: .*pip install"):
        check_transport(transport)


def test_raw_and_compressed_need_neither_package_nor_pyav(monkeypatch):
    for package in ("foxglove_msgs.msg", "ffmpeg_image_transport_msgs.msg", "av"):
        monkeypatch.setitem(sys.modules, package, None)
    check_transport("raw")
    check_transport("compressed")


def test_the_video_transports_are_parameter_choices():
    """image_transport ffmpeg / foxglove was refused ('read from bags only')."""
    for transport in ("raw", "compressed", "ffmpeg", "foxglove"):
        assert validate_param("image_transport", transport) == transport


def test_a_best_effort_video_subscription_is_warned_about():
    assert "set image_reliability reliable" in reliability_note("ffmpeg", "best_effort")
    assert reliability_note("ffmpeg", "reliable") == ""
    assert reliability_note("raw", "best_effort") == ""
    assert NS  # the stand-ins are SimpleNamespace (test_video_stream.message)


def test_deactivate_drops_the_decoder_and_a_packet_after_it_is_not_decoded_or_counted():
    """Was: deactivate and cleanup destroyed the subscription but kept the activation's
    LiveVideo (an FFmpeg decoder and the packets awaiting pictures) until the next activate,
    and a packet rclpy still handed over after the deactivate (taken in the executor's last
    wait) was decoded and counted on /diagnostics while inactive. The decoder now goes with
    its subscription; activate makes a new one (node._activate)."""
    from test_ros_teardown import Host as TeardownHost

    class Node(VideoReceipt, TeardownHost):
        pass

    host = Node()
    host._video = LiveVideo("/cam/image_raw/x", COMPRESSED_VIDEO_TYPE)
    host._teardown_active()
    assert host._video is None
    offered = []
    host._receive_video(message(COMPRESSED_VIDEO_TYPE, 0), offered.append)
    assert offered == [] and dict(host.summary().values)["images_received"] == "0"
