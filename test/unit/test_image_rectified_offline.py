"""`image_rectified: true` in a --params file read by build-map / localize on a recording whose
calibration is a file (a TUM folder's camera.yaml, EuRoC's sensor.yaml, --camera-info).

Field case: rectified 7-Scenes frames given with a camera.yaml holding the raw camera's D; the
distortion warning said "set image_rectified", the user did, and the run came out the same
(4.6 cm median instead of 1.1 cm) without a word: the parameter applies to a rosbag2's CameraInfo
topic only, a calibration file is used as written. It is now said, with what to do instead.
"""

import logging

import cv2
import numpy as np

from mast3r_ros.replay.sources import SourceOptions, open_source

CAMERA_YAML = """image_width: 32
image_height: 24
camera_name: cam
camera_matrix: {rows: 3, cols: 3, data: [30, 0, 16, 0, 30, 12, 0, 0, 1]}
distortion_model: plumb_bob
distortion_coefficients: {rows: 1, cols: 5, data: [0.2, -0.5, 0, 0, 0.3]}
rectification_matrix: {rows: 3, cols: 3, data: [1, 0, 0, 0, 1, 0, 0, 0, 1]}
projection_matrix: {rows: 3, cols: 4, data: [30, 0, 16, 0, 0, 30, 12, 0, 0, 0, 1, 0]}
"""


def _tum(tmp_path):
    folder = tmp_path / "rec"
    (folder / "rgb").mkdir(parents=True)
    cv2.imwrite(str(folder / "rgb" / "0.png"), np.zeros((24, 32, 3), np.uint8))
    (folder / "rgb.txt").write_text("0.0 rgb/0.png\n")
    (folder / "camera.yaml").write_text(CAMERA_YAML)
    return str(folder)


def test_image_rectified_with_a_tum_folder_is_said_to_be_ignored(tmp_path, caplog):
    folder = _tum(tmp_path)
    with caplog.at_level(logging.WARNING, logger="mast3r_ros.replay"):
        open_source(folder, SourceOptions(image_rectified=True, read_depth=False))
    text = " ".join(r.getMessage() for r in caplog.records)
    assert "image_rectified" in text and "camera.yaml" in text, text
    assert "zero distortion" in text, text


def test_no_word_without_image_rectified(tmp_path, caplog):
    folder = _tum(tmp_path)
    with caplog.at_level(logging.WARNING, logger="mast3r_ros.replay"):
        open_source(folder, SourceOptions(read_depth=False))
    assert not [r for r in caplog.records if "image_rectified" in r.getMessage()]
