"""localize on a bag with /tf but without --pose-frames: the no-ground-truth note told every
bag to 'pass --pose-frames map', a frame a T265's tf (camera_odom_frame -> camera_pose_frame)
or robot_localization's (odom -> base_link) does not have -- the next run was refused. It
now names the bag's own tf root and the images' frame, as build-map's refusal does."""

from __future__ import annotations

from types import SimpleNamespace as NS

import pytest

pytest.importorskip("rosbags", reason="rosbags is not installed (pip install rosbags)")

from test_rosbag_pose_topic_rigs import MOUNT, STAMPS, _motion, _rig, _seq  # noqa: E402
from test_rosbag import tf_message  # noqa: E402

from mast3r_ros.replay.run_notes import no_groundtruth_hint  # noqa: E402


def test_the_hint_names_the_bags_tf_root_and_the_images_frame(tmp_path):
    tf = [("/tf", t, tf_message([("camera_odom_frame", "camera_pose_frame", t, _motion(t))]))
          for t in STAMPS]
    msgs = _rig("d435_color_optical_frame",
                [("camera_pose_frame", "d435_color_optical_frame", MOUNT)], tf)
    seq = _seq(tmp_path, msgs)  # localize's read: no --pose-frames
    hint = no_groundtruth_hint(seq, NS(pose_frames=None, pose_topic=None))
    assert "--pose-frames map " not in hint and "'map'" not in hint, hint
    assert "pass --pose-frames camera_odom_frame:d435_color_optical_frame" in hint, hint
    assert hint.endswith("or --groundtruth FILE (TUM)"), hint
    assert hint.startswith("no frame was evaluated: rosbag2 "), hint
