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


def test_a_tf_jump_under_receive_times_is_warned_of_once(tmp_path, caplog):
    """Two tf edges jumping back while the images are read by receive times: one warning (the
    first edge's), as `_warn_tf_jump_under_receive` says."""
    import logging
    from types import SimpleNamespace

    import numpy as np

    from mast3r_ros.replay.rosbag.run_choice import _RunChoice

    bag = SimpleNamespace(_image_stamp="receive", _option_names={}, path=str(tmp_path / "b.db3"))
    samples = SimpleNamespace(stamps=np.array([1, 2, 3], np.int64).tobytes())
    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
        for parent, child in (("map", "odom"), ("odom", "base")):
            _RunChoice._warn_tf_jump_under_receive(bag, parent, child, samples,
                                                   np.array([1, 2]), 3)
    said = [r.getMessage() for r in caplog.records if "jumps back" in r.getMessage()]
    assert len(said) == 1 and "tf map -> odom" in said[0], said
