"""Pin from the mutation audit docs/bench/mutation_cpu_2026-12-06w: a video packet the
executor delivers while the node holds no stream (inactive: ``_video`` is None until
activate) is let go, neither counted nor reported as a decoding failure."""

from __future__ import annotations

import pytest

pytest.importorskip("av", reason='PyAV is not installed (pip install -e ".[video]")')
pytest.importorskip("rosbags", reason="test_rosbag_video's helpers need rosbags")

from test_ros_video_receipt import VideoHost  # noqa: E402
from test_video_stream import message  # noqa: E402

from mast3r_ros.core.video_decode import COMPRESSED_VIDEO_TYPE  # noqa: E402


def test_a_packet_arriving_with_no_stream_is_let_go_without_an_error():
    host = VideoHost(COMPRESSED_VIDEO_TYPE)
    host._video = None
    offered = []
    host._receive_video(message(COMPRESSED_VIDEO_TYPE, 0), offered.append)
    assert offered == [] and host.logger.lines == []
    assert dict(host.summary().values)["images_received"] == "0"


def test_a_packet_that_fails_to_decode_is_an_arrival_with_no_stamp_not_a_zero_stamp(
        monkeypatch):
    """It is counted in images_received (an arrival, whatever became of it) with the stamp
    -1: neither a zero stamp (stamps_zero) nor a repeat."""
    import sys

    host = VideoHost(COMPRESSED_VIDEO_TYPE)
    monkeypatch.setitem(sys.modules, "av", None)  # PyAV gone: receive raises InputError
    host._receive_video(message(COMPRESSED_VIDEO_TYPE, 0), lambda m: None)
    values = dict(host.summary().values)
    assert values["images_received"] == "1" and values["stamps_zero"] == "0"


def test_the_packets_waiting_for_a_keyframe_are_dropped_frames():
    host = VideoHost(COMPRESSED_VIDEO_TYPE)
    for k in range(2, 6):
        host._receive_video(message(COMPRESSED_VIDEO_TYPE, k), lambda m: None)
    assert host._diag.total["dropped"] == 3 and host._diag.total["refused"] == 3
