"""--pose-topic paths the mutation audit of 2026-12-05 found untested
(docs/bench/mutation_cpu_2026-12-05): some, not all, of the stream's poses invalid; a stream
whose header.frame_id is empty or whose body is given as that frame; a /tf (not /tf_static)
transform to the body taken as no mount; the INFO line naming the frames the lookup uses."""

from __future__ import annotations

import logging

import numpy as np
import pytest

pytest.importorskip("rosbags", reason="rosbags is not installed (pip install rosbags)")

from rosbags.rosbag2 import StoragePlugin  # noqa: E402
from test_rosbag import MS, tf_message, write_bag  # noqa: E402
from test_rosbag_pose_topic import _pose_msg  # noqa: E402
from test_rosbag_pose_topic_rigs import (  # noqa: E402
    MOUNT,
    ODOM_RIG,
    STAMPS,
    _motion,
    _odom_bag,
    _poses,
    _rig,
    _stream,
    _with_quaternion,
)

from mast3r_ros.core.errors import InputError  # noqa: E402
from mast3r_ros.replay.rosbag import BagSequence  # noqa: E402


def test_some_invalid_poses_are_counted_of_the_streams_messages(tmp_path, caplog):
    """3 of 8 quaternions NaN: the warning counts them of the stream's 8 messages ('all its 3'
    when the messages read were not counted)."""
    stream = _stream("odometry", "/odom", "odom", "base_link")
    for t in STAMPS[2:5]:
        _with_quaternion(stream, t, (np.nan, 0.0, 0.0, 1.0))
    with caplog.at_level(logging.INFO):
        _poses(BagSequence(_odom_bag(tmp_path, stream), pose_topic="/odom"))
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("--pose-topic /odom: 3 of its 8 messages had an invalid pose" in w
               for w in warned), warned
    # the frames the lookup uses, said once at INFO
    assert ("poses from /odom (nav_msgs/msg/Odometry, odom -> base_link), looked up as odom -> "
            "the images' frame") in caplog.text


def test_a_stream_with_an_empty_header_frame_id_is_refused(tmp_path):
    stream = _stream("odometry", "/odom", "odom", "base_link")
    for _, _, m in stream:
        m.header.frame_id = ""
    with pytest.raises(InputError, match=r"--pose-topic /odom: its messages' header.frame_id "
                                         r"is empty.*have the publisher set it"):
        BagSequence(_odom_bag(tmp_path, stream), pose_topic="/odom")


def test_a_body_given_as_the_streams_own_frame_is_refused(tmp_path):
    stream = _stream("pose", "/odom", "odom", "")
    with pytest.raises(InputError, match="the body frame 'odom' is the frame its poses are in"):
        BagSequence(_odom_bag(tmp_path, stream), pose_topic="/odom:odom")


def test_a_tf_transform_to_the_body_is_no_mount(tmp_path):
    """Only /tf_static transforms to the stream's body are read the other way round as its
    mount (`_join_by_mounts`): a /tf one (base_link -> body, moving) joins nothing, so the body
    the stream moves is not joined to the camera and that is said."""
    stream = _stream("odometry", "/odom", "odom", "t265_pose")
    moving = [("/tf", t, tf_message([("base_link", "t265_pose", t, MOUNT)])) for t in STAMPS]
    msgs = _rig("camera_color_optical_frame", [("base_link", "camera_color_optical_frame",
                                                 MOUNT)], stream + moving)
    bag = write_bag(tmp_path / "bag", StoragePlugin.MCAP, msgs)
    with pytest.raises(InputError, match="but no tf of .* joins t265_pose to "
                                         "camera_color_optical_frame"):
        _poses(BagSequence(bag, pose_topic="/odom"))


def test_repeated_stamps_of_another_tf_edge_are_not_the_streams(tmp_path, caplog):
    """/tf's own repeated samples (world -> marker, each stamp twice) are no message of the
    stream: no repeated-stamp warning names the pose topic."""
    from mast3r_ros.core.geometry import make_pose

    marker = make_pose(np.eye(3), [1.0, 0.0, 0.0])
    twice = [("/tf", t + k, tf_message([("world", "marker", t, marker)]))
             for t in STAMPS for k in (0, 1)]
    msgs = _rig("camera_color_optical_frame", [("base_link", "camera_color_optical_frame",
                                                 MOUNT)],
                _stream("odometry", "/odom", "odom", "base_link") + twice)
    _poses(BagSequence(write_bag(tmp_path / "bag", StoragePlugin.MCAP, msgs),
                       pose_topic="/odom"))
    assert "repeat an earlier message's stamp" not in caplog.text, caplog.text


@pytest.mark.parametrize("images_frame", ["odom", ""])
def test_a_pose_stamped_whose_images_name_no_usable_body_is_refused(tmp_path, images_frame):
    """A PoseStamped names no body, and the images' header frame_id is the poses' own frame or
    empty: refused asking for the body frame (not the generic 'name the moving frame')."""
    shown = "empty" if not images_frame else repr(images_frame)
    msgs = _rig(images_frame, [], _stream("pose", "/pose", "odom", ""))
    with pytest.raises(InputError, match=f"a geometry_msgs/msg/PoseStamped names no body frame "
                                         f"and the images' header frame_id is {shown}: give "
                                         "the frame its poses are of"):
        BagSequence(write_bag(tmp_path / "bag", StoragePlugin.MCAP, msgs), pose_topic="/pose")


def test_a_stream_whose_second_message_jumps_back_names_messages_1_and_2(tmp_path, caplog):
    """The jump right after the first message: the warning quotes messages 1 and 2."""
    images = [20_000 * MS + k * 100 * MS for k in range(8)]
    stream = [("/odom", t, _pose_msg("odometry", t - (10_000 * MS if k >= 1 else 0), "odom",
                                     "base_link", _motion(t))) for k, t in enumerate(images)]
    msgs = _rig("camera_color_optical_frame", ODOM_RIG, stream, images=images)
    _poses(BagSequence(write_bag(tmp_path / "bag", StoragePlugin.MCAP, msgs),
                       pose_topic="/odom"))
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("--pose-topic /odom: 7 of its 8 messages are not read: its header time jumps "
               "from t=20.000000 s back to t=10.100000 s (message 2)" in w for w in warned), warned
