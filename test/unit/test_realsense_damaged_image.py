"""A RealSense recording's Image that stays unreadable once librealsense's trailing
``depth_units`` is stripped (8 bytes too many, not 4) is one unreadable frame named with
rosbags' own error, not a crash of the whole read."""

from __future__ import annotations

import pytest

pytest.importorskip("rosbags", reason="rosbags is not installed (pip install rosbags)")

from rosbags.rosbag1 import Reader, Writer  # noqa: E402

from mast3r_ros.replay.rosbag import BagSequence  # noqa: E402

from test_realsense_bag import COLOUR, TS, write_realsense_bag  # noqa: E402


def test_an_image_longer_than_its_depth_units_is_an_unreadable_frame(tmp_path):
    src = write_realsense_bag(tmp_path / "rs.bag")
    bag = tmp_path / "damaged.bag"
    with Reader(src) as reader, Writer(bag) as writer:
        conns, n = {}, 0
        for conn, t, raw in reader.messages():
            if conn.topic not in conns:
                conns[conn.topic] = writer.add_connection(conn.topic, conn.msgtype,
                                                          typestore=TS)
            if conn.topic == COLOUR:
                n += 1
                raw = raw + b"\0" * 4 if n == 2 else raw  # the second image: 4 bytes more
            writer.write(conns[conn.topic], t, raw)
    frames = list(BagSequence(str(bag)).frames_or_unreadable())
    assert [type(f).__name__ for f in frames] == ["Frame", "UnreadableFrame", "Frame"]
    reason = frames[1].reason
    assert reason.startswith(f"{COLOUR}: the message received at bag time 0.200000 s could not "
                             "be deserialized: ROS1 message size mismatch"), reason
