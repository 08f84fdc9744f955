"""Images (and CameraInfo) whose header frame_id the driver leaves empty: without
--pose-frames build-map told the user to pass the camera optical frame "the images' header
names" (it names none); with '--pose-frames map' it failed as "frame '' is not in the transform
tree (lookup map <- )". Both now say the frame_id is empty and list the tf's frames."""

from __future__ import annotations

import pytest

pytest.importorskip("rosbags", reason="rosbags is not installed (pip install rosbags)")

from rosbags.rosbag2 import StoragePlugin  # noqa: E402
from test_rosbag import rgbd_messages, write_bag  # noqa: E402

from mast3r_ros.replay.cli import main  # noqa: E402

DEPTH = "/camera/depth/image_rect_raw"


@pytest.fixture
def no_frame_id_bag(tmp_path):
    msgs = rgbd_messages()
    for topic, _, msg in msgs:
        if topic.startswith("/camera"):
            msg.header.frame_id = ""
    return write_bag(tmp_path / "bag", StoragePlugin.MCAP, msgs)


def _error(capsys, argv) -> str:
    capsys.readouterr()
    assert main([*argv, "--log-level", "warning"]) == 2
    (line,) = [ln for ln in capsys.readouterr().err.splitlines() if ": error: " in ln]
    return line


def test_without_pose_frames_the_empty_frame_id_is_said_with_the_tf_end_frames(
        no_frame_id_bag, tmp_path, capsys):
    line = _error(capsys, ["build-map", str(no_frame_id_bag), "--out", str(tmp_path / "m"),
                           "--depth-topic", DEPTH, "--matcher", "sift"])
    assert "--pose-frames map:CAMERA_OPTICAL_FRAME" in line, line
    assert "which the images' header leaves empty: one of its tf's end frames, " \
           "camera_optical)" in line, line


def test_pose_frames_with_no_camera_frame_and_an_empty_frame_id_says_so(
        no_frame_id_bag, tmp_path, capsys):
    line = _error(capsys, ["build-map", str(no_frame_id_bag), "--out", str(tmp_path / "m"),
                           "--depth-topic", DEPTH, "--matcher", "sift", "--pose-frames", "map"])
    assert "frame '' is not in the transform tree" not in line, line
    assert "--pose-frames map names no camera frame and the images' header frame_id is " \
           "empty" in line, line
    assert "--pose-frames map:FRAME, one of the tf's frames: base_link, camera_optical, map" \
           in line, line
    # the fix it names gets past the frame: this bag's sparse tf is what stops it then
    line = _error(capsys, ["build-map", str(no_frame_id_bag), "--out", str(tmp_path / "m"),
                           "--depth-topic", DEPTH, "--matcher", "sift", "--pose-frames",
                           "map:camera_optical"])
    assert "transform map -> base_link is not available at t=1.000000 s" in line, line
