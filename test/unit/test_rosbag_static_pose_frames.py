"""A bag whose tf never moves the camera (only /tf_static; the robot's motion recorded as
nav_msgs/Odometry, or /tf left out of the recording): build-map without --pose-frames said to
pass the static tree's root ('--pose-frames base_link:camera_optical'), and doing so built a
map of 1 keyframe with exit 0 and no word. It is now named, with the Odometry topic, and pose
frames joined by /tf_static only are warned about (a camera that never moves is kept)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("rosbags", reason="rosbags is not installed (pip install rosbags)")

from rosbags.rosbag2 import StoragePlugin  # noqa: E402
from test_rosbag import T, rgbd_messages, write_bag  # noqa: E402

from mast3r_ros.core.tf_buffer import TransformBuffer  # noqa: E402
from mast3r_ros.replay.cli import main  # noqa: E402

DEPTH = "/camera/depth/image_rect_raw"


def _odometry(msg):
    """A tf message's one map -> base_link transform as nav_msgs/Odometry on /odom."""
    (ts,) = msg.transforms
    v, q = ts.transform.translation, ts.transform.rotation
    zero = T["geometry_msgs/msg/Vector3"](0.0, 0.0, 0.0)
    return T["nav_msgs/msg/Odometry"](
        header=ts.header, child_frame_id=ts.child_frame_id,
        pose=T["geometry_msgs/msg/PoseWithCovariance"](
            pose=T["geometry_msgs/msg/Pose"](
                position=T["geometry_msgs/msg/Point"](x=v.x, y=v.y, z=v.z), orientation=q),
            covariance=np.zeros(36)),
        twist=T["geometry_msgs/msg/TwistWithCovariance"](
            twist=T["geometry_msgs/msg/Twist"](linear=zero, angular=zero),
            covariance=np.zeros(36)))


@pytest.fixture
def odom_bag(tmp_path):
    msgs = [("/odom", t, _odometry(m)) if topic == "/tf" else (topic, t, m)
            for topic, t, m in rgbd_messages()]
    return write_bag(tmp_path / "odom_bag", StoragePlugin.MCAP, msgs)


def _error(capsys, argv) -> str:
    capsys.readouterr()
    assert main([*argv, "--log-level", "warning"]) == 2
    (line,) = [ln for ln in capsys.readouterr().err.splitlines() if ": error: " in ln]
    return line


def test_a_bag_whose_tf_is_static_only_is_not_told_to_use_its_root(odom_bag, tmp_path, capsys):
    line = _error(capsys, ["build-map", str(odom_bag), "--out", str(tmp_path / "m"),
                           "--depth-topic", DEPTH, "--matcher", "sift"])
    assert "--pose-frames base_link" not in line, line  # before: the static tree's root
    assert "only static transforms (/tf_static, nothing on /tf)" in line, line
    assert "motion is on /odom (nav_msgs/msg/Odometry)" in line, line
    assert line.endswith("--trajectory FILE"), line


def test_pose_frames_joined_by_tf_static_only_are_warned_about(odom_bag, tmp_path, capsys):
    capsys.readouterr()
    argv = ["build-map", str(odom_bag), "--out", str(tmp_path / "m"), "--depth-topic", DEPTH,
            "--matcher", "sift", "--pose-frames", "base_link:camera_optical",
            "--log-level", "warning"]
    assert main(argv) == 0  # a camera that never moves: one keyframe, kept
    err = capsys.readouterr().err
    said = [ln for ln in err.splitlines() if "are joined only by /tf_static" in ln]
    assert len(said) == 1, err  # once, not per frame
    assert "base_link:camera_optical" in said[0] and "base_link -> camera_optical" in said[0]
    assert "/odom (nav_msgs/msg/Odometry)" in said[0], said[0]


def test_static_between_names_only_all_static_chains():
    buf = TransformBuffer()
    buf.add_static("base_link", "camera_optical", np.eye(4))
    buf.add_static("base_link", "imu", np.eye(4))
    assert buf.static_between("base_link", "camera_optical") == [("base_link", "camera_optical")]
    assert sorted(buf.static_between("imu", "camera_optical")) == [
        ("base_link", "camera_optical"), ("base_link", "imu")]
    assert buf.static_between("camera_optical", "camera_optical") == []
    assert buf.static_between("map", "camera_optical") == []  # unknown frame
    buf.add_dynamic("map", "base_link", 0, np.eye(4))
    assert buf.static_between("map", "camera_optical") == []  # one edge moves
