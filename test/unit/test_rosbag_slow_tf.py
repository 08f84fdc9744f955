"""A bag whose map -> odom comes from a localizer at 5 Hz (REP 105: map -> odom is published
slowly; AMCL, slam_toolbox's localization) and odom -> base_link from odometry at 50 Hz: with
the default pose_at_stamp.max_gap_s of 0.1 s every image between two map -> odom samples got no
pose (tf2 interpolates them). Each edge is now interpolated across up to 2.5 times its own
median sample spacing; a hole in the 50 Hz odometry is still a gap."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("rosbags", reason="rosbags is not installed (pip install rosbags)")

from rosbags.rosbag2 import StoragePlugin  # noqa: E402
from test_rosbag import (BASE_FROM_CAM, MS, RGB, S, camera_info, image, pose,  # noqa: E402
                         tf_message, write_bag)

from mast3r_ros.replay.rosbag import BagSequence  # noqa: E402


def _map_from_odom(t):
    return pose([0, 0, 0.05 * t / S], [0.2 * t / S, 0.1, 0])


def _odom_from_base(t):
    return pose([0, 0, 0], [t / S, 0, 0])


def test_images_between_5_hz_map_to_odom_samples_get_a_pose(tmp_path):
    msgs = [("/tf_static", 0, tf_message([("base_link", "camera_optical", 0, BASE_FROM_CAM)])),
            ("/camera/color/camera_info", 0, camera_info(900 * MS))]
    for t in range(S, 3 * S + 1, 200 * MS):  # map -> odom at 5 Hz
        msgs.append(("/tf", t, tf_message([("map", "odom", t, _map_from_odom(t))])))
    for t in range(S, 3 * S + 1, 20 * MS):  # odom -> base_link at 50 Hz, none from 2.2 to 2.7 s
        if not 2200 * MS < t < 2700 * MS:
            msgs.append(("/tf", t, tf_message([("odom", "base_link", t, _odom_from_base(t))])))
    stamps = [S + k * 100 * MS + 30 * MS for k in range(19)]  # 1.03 .. 2.83 s: off the samples
    msgs += [("/camera/color/image_raw", t, image(t, "rgb8", RGB)) for t in stamps]
    bag = write_bag(tmp_path / "bag", StoragePlugin.MCAP, sorted(msgs, key=lambda m: m[1]))
    seq = BagSequence(bag, pose_frames="map:camera_optical")  # max_gap_s 0.1 s
    got = {f.stamp_ns: f.map_from_cam for f in seq}
    in_hole = [t for t in stamps if 2200 * MS < t < 2700 * MS]
    assert in_hole and all(got[t] is None for t in in_hole)
    assert seq.no_pose_count == len(in_hole) and seq.no_pose_gap_s == pytest.approx(0.5)
    assert seq.no_pose_spacing_s == pytest.approx(0.02)  # a hole in it, not its rate
    assert "transform odom -> base_link is not available" in seq.no_pose_reason
    for t in set(stamps) - set(in_hole):
        assert got[t] is not None, t * 1e-9
        np.testing.assert_allclose(got[t], _map_from_odom(t) @ _odom_from_base(t)
                                   @ BASE_FROM_CAM, atol=1e-9)
