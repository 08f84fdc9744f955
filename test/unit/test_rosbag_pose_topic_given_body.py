"""--pose-topic TOPIC:BODY on an Odometry whose child_frame_id names another frame: BODY is
the body (one warning), as the docs say -- they said child_frame_id first, BODY only without
one, the opposite of what the reader does."""

from __future__ import annotations

import logging
import re

import pytest

pytest.importorskip("rosbags", reason="rosbags is not installed (pip install rosbags)")

from test_rosbag import pose  # noqa: E402
from test_rosbag_pose_topic_rigs import MOUNT, STAMPS, _check, _motion, _poses, _rig, _seq, _stream  # noqa: E402
from user_docs import user_docs_text  # noqa: E402

OTHER = pose([0.0, 0.0, 0.3], [0.05, 0.0, 0.0])  # camera_link beside camera_pose_frame


def test_a_given_body_wins_over_the_odometrys_child_frame(tmp_path, caplog):
    msgs = _rig("d435_color_optical_frame",
                [("camera_pose_frame", "camera_link", OTHER),
                 ("camera_link", "d435_color_optical_frame", MOUNT)],
                _stream("odometry", "/camera/odom/sample", "camera_odom_frame",
                        "camera_pose_frame"))
    with caplog.at_level(logging.WARNING):
        seq = _seq(tmp_path, msgs, pose_topic="/camera/odom/sample:camera_link")
    _check(_poses(seq), lambda t: _motion(t) @ MOUNT)  # camera_link's pose, not OTHER's
    assert "its child_frame_id is camera_pose_frame; its poses are read as those of " \
           "camera_link, as given" in caplog.text
    assert len(STAMPS) == len(seq)


def test_the_docs_give_body_before_child_frame_id():
    text = re.sub(r"\s+", " ", user_docs_text())
    assert "child_frame_id` (else `BODY`" not in text
    assert "the body being its `child_frame_id`, else the frame given after the topic" not in text
    assert "`BODY` the body when given (a warning when the `child_frame_id` names another), " \
           "else its `child_frame_id`" in text
    assert "the body being the frame given after the topic" in text
