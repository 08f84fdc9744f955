"""Pins on ROS 1's upper-case CameraInfo fields (D, K, R, P: a ROS 1 bag's messages as rosbags
reads them) that test_message_fields.py and test_ros1_bag.py left free: each test failed on a
hand mutant of message_fields.py."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from mast3r_ros.core import message_fields as mf
from mast3r_ros.core.errors import InputError

K = [500.0, 0.0, 320.0, 0.0, 500.0, 240.0, 0.0, 0.0, 1.0]
P = [500.0, 0.0, 320.0, 0.0, 0.0, 500.0, 240.0, 0.0, 0.0, 0.0, 1.0, 0.0]


def _ros1_info(d, r):
    return SimpleNamespace(width=640, height=480, distortion_model="plumb_bob",
                           D=np.array(d, float), K=np.array(K), R=np.array(r, float).reshape(-1),
                           P=np.array(P), binning_x=0, binning_y=0, roi=None)


def test_a_ros1_stereo_r_is_refused_on_a_rectified_read():
    """R is read by its ROS 1 name too: a stereo rectification (R not the identity) is refused
    for image_rectified, as a ROS 2 message's r is (the lower-case name alone let it through)."""
    turned = [[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
    with pytest.raises(InputError, match="CameraInfo R is not the identity"):
        mf.camera_info_to_intrinsics(_ros1_info([0.0] * 5, turned), rectified=True)
    cam = mf.camera_info_to_intrinsics(_ros1_info([0.0] * 5, np.eye(3)), rectified=True)
    assert (cam.width, cam.height) == (640, 480)


def test_a_ros1_rectified_topic_read_unrectified_is_warned():
    """rectification_mismatch reads K, D and P by their ROS 1 names: an image_rect topic with a
    non-zero D read as raw is warned of (getattr of 'k' gave up silently)."""
    said = mf.rectification_mismatch("/cam/image_rect", _ros1_info([0.1, 0, 0, 0, 0], np.eye(3)),
                                     rectified=False)
    assert said.startswith("image topic /cam/image_rect is rectified by its name") and \
        "D [0.1, 0.0, 0.0, 0.0, 0.0]" in said, said
