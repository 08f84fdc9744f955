"""What a bag's depth messages say when /tf_static joins the depth frame to the images': the
offset in millimetres as /tf_static has it (a camera 30 cm away is said to be 300 mm away, not
rounded to the 15 mm of a RealSense), and, for depth without a CameraInfo of its own, a fix
that asks for the CameraInfo only (its /tf_static is already recorded); and the depth so
registered is the colour camera's."""

from __future__ import annotations

import logging

import numpy as np
import pytest

pytest.importorskip("rosbags", reason="rosbags is not installed (pip install rosbags)")

from test_rosbag_depth_fixes import TOPIC, _static  # noqa: E402
from test_rosbag_depth_frame import CAM, COLOR, DEPTH, _bag  # noqa: E402

from mast3r_ros.replay.rosbag import BagSequence  # noqa: E402


def _apart_300_mm():
    """/tf_static putting the depth frame 0.1, 0.2, 0.2 m (300 mm) from the colour frame."""
    static = _static(0.0)
    static[1][3][:3, 3] = [0.1, 0.2, 0.2]
    return static


def _said(tmp_path, caplog, level, **kw):
    bag = _bag(tmp_path / "bag", TOPIC, DEPTH, **kw)
    with caplog.at_level(level):
        BagSequence(bag, image_topic=CAM, depth_topic=TOPIC)
    return [r.getMessage() for r in caplog.records if r.levelno >= level and TOPIC in
            r.getMessage()]


def test_the_offset_of_registered_depth_is_said_in_mm(tmp_path, caplog):
    said = _said(tmp_path, caplog, logging.INFO, depth_info_fx=20.0,
                 static_tf=_apart_300_mm())[0]
    assert f"registered to the images' frame '{COLOR}' with /tf_static (300.0 mm apart)" in said


def test_the_offset_of_depth_read_as_registered_is_said_in_mm(tmp_path, caplog):
    (said,) = _said(tmp_path, caplog, logging.WARNING, depth_info_fx=30.0,
                    static_tf=_apart_300_mm())
    assert "300.0 mm apart by /tf_static" in said, said


def test_depth_without_calibration_but_with_tf_static_asks_for_the_calibration_only(
        tmp_path, caplog):
    (said,) = _said(tmp_path, caplog, logging.WARNING, static_tf=_static(0.015))
    assert said.endswith("; or, when it is the depth camera's own stream, record its CameraInfo "
                         "beside it: it is then registered here"), said


def test_depth_registered_by_tf_static_is_the_colour_cameras_z(tmp_path):
    """The depth camera 0.2 m behind the colour one (and 0.1, 0.2 m aside): a wall 1 m before
    it is 1.2 m before the colour camera, and that is the depth read (pixel for pixel it would
    be 1.0 m), on the colour pixels both cameras see."""
    bag = _bag(tmp_path / "bag", TOPIC, DEPTH, depth_info_fx=20.0, static_tf=_apart_300_mm())
    frames = list(BagSequence(bag, image_topic=CAM, depth_topic=TOPIC))
    assert len(frames) == 3
    for i, f in enumerate(frames):
        covered = f.depth_m > 0
        assert 0 < covered.sum() < covered.size
        np.testing.assert_allclose(f.depth_m[covered], 1.2 + i / 1000, rtol=1e-5)
