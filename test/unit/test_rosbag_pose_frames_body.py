"""--pose-frames MAP:CAMERA naming a body frame (camera_link) instead of the optical frame the
images' header names: its poses are turned from the camera's, and localize's ground truth then
gives a silently wrong recall (build-map's map check alone catches it). Warned about at open."""

from __future__ import annotations

import logging

import numpy as np
import pytest

pytest.importorskip("rosbags", reason="rosbags is not installed (pip install rosbags)")

from rosbags.rosbag2 import StoragePlugin  # noqa: E402
from test_rosbag import MS, RGB, camera_info, header, image, pose, tf_message, write_bag  # noqa: E402

from mast3r_ros.replay.rosbag import BagSequence  # noqa: E402

OPTICAL = "camera_color_optical_frame"
# REP-103: the optical frame (z forward) in camera_link (x forward), 1.5 cm to the left
LINK_FROM_OPTICAL = np.array([[0.0, 0, 1, 0], [-1, 0, 0, 0.015], [0, -1, 0, 0], [0, 0, 0, 1]])


def _bag(tmp_path, link_from_optical):
    info = camera_info(900 * MS)
    info.header = header(900 * MS, OPTICAL)
    msgs = [("/camera/color/camera_info", 900 * MS, info),
            ("/tf_static", 0, tf_message([("camera_link", OPTICAL, 0, link_from_optical)]))]
    for k in range(4):
        t = 1000 * MS + k * 100 * MS
        msgs.append(("/tf", t, tf_message([("odom", "camera_link", t,
                                             pose([0, 0, 0.1 * k], [0.2 * k, 0, 0]))])))
        msgs.append(("/camera/color/image_raw", t + 1, image(t, "rgb8", RGB, frame_id=OPTICAL)))
    return write_bag(tmp_path / "bag", StoragePlugin.MCAP, sorted(msgs, key=lambda m: m[1]))


def test_pose_frames_naming_camera_link_beside_the_optical_frame_is_warned_about(tmp_path,
                                                                                 caplog):
    bag = _bag(tmp_path, LINK_FROM_OPTICAL)
    with caplog.at_level(logging.WARNING):
        seq = BagSequence(bag, pose_frames="odom:camera_link")
    said = [r.getMessage() for r in caplog.records if "camera_link" in r.getMessage()]
    assert len(said) == 1, caplog.text
    assert f"not the frame the images' header names ({OPTICAL})" in said[0]
    assert "turned 120 deg" in said[0]
    assert f"--pose-frames odom:{OPTICAL} (or odom alone)" in said[0]
    assert all(f.map_from_cam is not None for f in seq)  # read as asked: a warning, no refusal


@pytest.mark.parametrize("pose_frames", ["odom", f"odom:{OPTICAL}", "odom:camera_link"])
def test_pose_frames_of_the_images_frame_or_a_frame_not_turned_from_it_say_nothing(
        tmp_path, caplog, pose_frames):
    """The images' own frame, or a frame only moved from it (a mount without a turn):
    nothing to say."""
    bag = _bag(tmp_path, LINK_FROM_OPTICAL if pose_frames != "odom:camera_link"
               else pose([0, 0, 0], [0, 0.015, 0]))
    with caplog.at_level(logging.WARNING):
        BagSequence(bag, pose_frames=pose_frames)
    assert "not the frame the images' header names" not in caplog.text
