"""Keyframes one pixel high or wide (a line-scan camera, a misconfigured ROI, a thumbnail a
tool wrote at 1x1): the map check's ORB raised OpenCV's "(-215:Assertion failed) inv_scale_x >
0 in function 'resize'", so build-map ended in a traceback after reading the whole recording
(SIFT maps and localization of such images ran). Such a view has no ORB features: its pairs
are left unjudged and the map is written as 'not checked', as for any images that do not
match."""

from __future__ import annotations

import numpy as np
import pytest

from mast3r_ros.core.config import Config
from mast3r_ros.core.geometry import make_pose
from mast3r_ros.core.map_check import UNCHECKED, KeyframeRecord, check_keyframes
from mast3r_ros.core.types import CameraIntrinsics


@pytest.mark.parametrize("width, height", [(1, 1), (40, 1), (1, 30)])
def test_keyframes_one_pixel_high_or_wide_are_left_unchecked_not_a_crash(width, height):
    K = [[50.0, 0.0, (width - 1) / 2], [0.0, 50.0, (height - 1) / 2], [0.0, 0.0, 1.0]]
    cam = CameraIntrinsics(width, height, np.array(K))
    rng = np.random.default_rng(0)
    recs = [KeyframeRecord(rng.integers(0, 255, (height, width, 3), dtype=np.uint8),
                           np.full((height, width), 2.0, np.float32), cam,
                           make_pose(np.eye(3), np.array([0.05 * i, 0.0, 0.0])), i * 10**8)
            for i in range(4)]
    r = check_keyframes(recs, Config().map_check)
    assert r.verdict == UNCHECKED
