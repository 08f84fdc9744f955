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
