"""Pins of `core.keyframes.loader` that the mutation audit of 2026-12-06 found untested:
`depth_metres` keeps a stored 1 (one unit, the finest depth a map stores) as depth, and
`KeyframeMap.stored_pixels` of a keyframe without depth gives no depth and 0.0 units."""

from __future__ import annotations

import numpy as np

from mast3r_ros.core import keyframes as kfm
from mast3r_ros.core.keyframes import KeyframeMap
from mast3r_ros.core.keyframes.loader import depth_metres
from mast3r_ros.replay.synthetic import default_intrinsics, render_frames


def test_depth_metres_keeps_one_unit_and_makes_0_nan():
    d = depth_metres(np.array([[0, 1, 2, 65535]], np.uint16), 1000.0)
    assert d.dtype == np.float32
    assert np.isnan(d[0, 0])
    assert np.array_equal(d[0, 1:], np.float32([1, 2, 65535]) / np.float32(1000.0))


def test_stored_pixels_of_a_keyframe_without_depth(tmp_path):
    cam = default_intrinsics(64, 48)
    frames = [(f.rgb, cam, f.map_from_cam, f.stamp_ns, None)
              for f in render_frames(40, cam, indices=range(0, 4, 2))]
    kmap = KeyframeMap.load(kfm.write_map(str(tmp_path / "m"), frames, version=3))
    bgr, depth, units = kmap.stored_pixels(0)
    assert bgr.shape == (48, 64, 3) and bgr.dtype == np.uint8
    assert depth is None and units == 0.0 and isinstance(units, float)
