"""Pins from mutation audit 06j on replay/rosbag/run_choice.py: how the run warnings name a
stream (`_stream_name`): a topic as itself, whatever its length, a tf edge as 'tf PARENT ->
CHILD'."""

from __future__ import annotations

from mast3r_ros.replay.rosbag.run_choice import _stream_name


def test_a_topic_is_named_as_itself():
    assert _stream_name("/imu") == "/imu"
    # three characters, a tuple's length: still a topic, not read as ('tf', parent, child)
    assert _stream_name("/tf") == "/tf"


def test_a_tf_edge_is_named_by_its_frames():
    assert _stream_name(("tf", "map", "odom")) == "tf map -> odom"
