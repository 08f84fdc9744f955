"""Pin from mutation audit 06k on replay/rosbag/run_choice.py: read with image_stamp 'receive',
a tf edge whose header time does not jump back is not warned of as jumping back (the check of
its runs after the one read, `labels > keep` -> `>=`, #123, survived: no test read such a bag
with receive and looked for the warning, which then named every edge of the run read)."""

from __future__ import annotations

import logging

import pytest

pytest.importorskip("rosbags", reason="rosbags is not installed (pip install rosbags)")

from test_rosbag import BASE_FROM_CAM, MS, S, camera_info, pose, tf_message  # noqa: E402
from test_rosbag_values import bag_of, colour  # noqa: E402

from mast3r_ros.replay.rosbag import BagSequence  # noqa: E402


def test_receive_on_a_bag_whose_tf_stays_in_one_run_says_no_jump(tmp_path, caplog):
    """Images and map -> base_link both stamped 1.0 .. 1.5 s, never going back, recorded as
    stamped (the images 1 ms later): read with receive, nothing is said of a jump."""
    msgs = [("/cam/camera_info", 0, camera_info(S)),
            ("/tf_static", 0, tf_message([("base_link", "camera_optical", 0, BASE_FROM_CAM)]))]
    for k in range(6):
        t = (1000 + 100 * k) * MS
        msgs.append(("/tf", t, tf_message([("map", "base_link", t,
                                             pose([0, 0, 0], [0.1 * k, 0, 0]))])))
        msgs.append(("/cam/image", t + MS, colour(t)))
    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
        seq = BagSequence(bag_of(tmp_path, msgs), pose_frames="map:camera_optical",
                          image_stamp="receive", option_names={"image_stamp": "--image-stamp"})
    assert len(seq) == 6
    said = [r.getMessage() for r in caplog.records if "jumps back" in r.getMessage()]
    assert not said, said
