"""OpenCV FileStorage calibrations written as XML or JSON (cv2.FileStorage picks the format by
the file name: OpenCV's calibration tutorial writes out_camera_data.xml by default).

A fresh user's find: `--camera-info out_camera_data.xml` was refused as "not a camera
calibration: its YAML is a str", and the same calibration as JSON was read as ROS's layout with
a warning that camera_calibration_parsers would refuse it. Both are read with cv2.FileStorage
now, as the YAML is."""

from __future__ import annotations

import logging

import pytest

from mast3r_ros.core.image_codec import intrinsics_from_camera_info, load_camera_info_yaml

from test_camera_info_formats import D5, K, _calibration, _opencv, _same


@pytest.mark.parametrize("name", ["out_camera_data.xml", "calib.json"])
def test_an_opencv_calibration_in_xml_or_json_reads_as_the_yaml(tmp_path, caplog, name):
    path = _opencv(tmp_path, _calibration(), name=name)
    with caplog.at_level(logging.INFO, logger="mast3r_ros"):
        cam = load_camera_info_yaml(path)
    _same(cam, intrinsics_from_camera_info(640, 480, K, D5, "plumb_bob"))
    said = [r.getMessage() for r in caplog.records]
    assert any("OpenCV FileStorage" in m for m in said), said
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], said
