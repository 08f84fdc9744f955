"""A camera calibration given as --groundtruth (camera.yaml, sensor.yaml, a CameraInfo YAML)
was refused naming the file and line ('expected timestamp tx ty ...') but not that the file is
a calibration: now it says so, and what --groundtruth expects."""

from __future__ import annotations

import shutil

import pytest

from mast3r_ros.core.errors import InputError
from mast3r_ros.replay.cli import main
from mast3r_ros.replay.tum_trajectory import read_tum_trajectory

ROS_CAMERA_YAML = """image_width: 640
image_height: 480
camera_name: camera
camera_matrix:
  rows: 3
  cols: 3
  data: [585.0, 0.0, 320.0, 0.0, 585.0, 240.0, 0.0, 0.0, 1.0]
distortion_model: plumb_bob
"""
EUROC_SENSOR_YAML = """# General sensor definitions.
sensor_type: camera
comment: VI-Sensor cam0 (MT9M034)
T_BS:
  cols: 4
  rows: 4
  data: [1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0]
rate_hz: 20
resolution: [752, 480]
camera_model: pinhole
intrinsics: [458.654, 457.296, 367.215, 248.375]
"""
CAMERA_INFO_ECHO = """header:
  stamp:
    sec: 0
    nanosec: 0
  frame_id: camera
height: 480
width: 640
distortion_model: plumb_bob
d: [0.0, 0.0, 0.0, 0.0, 0.0]
k: [585.0, 0.0, 320.0, 0.0, 585.0, 240.0, 0.0, 0.0, 1.0]
"""
ORB_SLAM = """%YAML:1.0
Camera.fx: 535.4
Camera.fy: 539.2
"""


@pytest.mark.parametrize("text, key", [(ROS_CAMERA_YAML, "image_width"),
                                       (EUROC_SENSOR_YAML, "camera_model"),
                                       (CAMERA_INFO_ECHO, "distortion_model"),
                                       (ORB_SLAM, "Camera.fx")])
def test_a_calibration_read_as_a_trajectory_is_named_as_one(tmp_path, text, key):
    path = tmp_path / "camera.yaml"
    path.write_text(text)
    with pytest.raises(InputError) as e:
        read_tum_trajectory(path)
    msg = str(e.value)
    assert f"{path}:" in msg and "a camera calibration" in msg and repr(key) in msg, msg
    assert "timestamp tx ty tz qx qy qz qw" in msg and "--camera-info" in msg, msg


def test_a_bad_trajectory_line_is_not_called_a_calibration(tmp_path):
    path = tmp_path / "gt.txt"
    path.write_text("1.0 0 0 0 0 0 0\n")
    with pytest.raises(InputError) as e:
        read_tum_trajectory(path)
    assert "calibration" not in str(e.value)


def test_localize_groundtruth_camera_yaml_says_it_is_a_calibration(tmp_path, tum, sift_map,
                                                                     capsys):
    cam = tmp_path / "camera.yaml"
    shutil.copy(f"{tum[1]}/camera.yaml", cam)
    assert main(["localize", tum[1], "--map", sift_map, "--out", str(tmp_path / "run"),
                 "--matcher", "sift", "--groundtruth", str(cam)]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("mast3r-ros localize: error: ") and "a camera calibration" in err, err
    assert "--groundtruth" in err and "--camera-info" in err, err
