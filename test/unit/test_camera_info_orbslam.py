"""An ORB-SLAM settings file (ORB-SLAM2's TUM1.yaml layout, ORB-SLAM3's Camera1.* with
Camera.type) given as --camera-info or camera.yaml: it was refused as "an OpenCV FileStorage
YAML whose keys are not recognised"; its pinhole numbers are OpenCV's K and coefficients."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("cv2")

from mast3r_ros.core.errors import InputError  # noqa: E402
from mast3r_ros.core.image_codec import load_camera_info_yaml  # noqa: E402

ORBSLAM2 = """%YAML:1.0

# Camera Parameters. Adjust them!
Camera.fx: 517.306408
Camera.fy: 516.469215
Camera.cx: 318.643040
Camera.cy: 255.313989

Camera.k1: 0.262383
Camera.k2: -0.953104
Camera.p1: -0.005358
Camera.p2: 0.002628
Camera.k3: 1.163314
{size}
Camera.fps: 30.0
Camera.bf: 40.0
Camera.RGB: 1
ThDepth: 40.0
DepthMapFactor: 5000.0
ORBextractor.nFeatures: 1000
"""
SIZE = "Camera.width: 640\nCamera.height: 480\n"
ORBSLAM3_KB8 = """%YAML:1.0
File.version: "1.0"
Camera.type: "KannalaBrandt8"
Camera1.fx: 190.97847715128717
Camera1.fy: 190.9733070521226
Camera1.cx: 254.93170605935475
Camera1.cy: 256.8974428996504
Camera1.k1: 0.0034823894022493434
Camera1.k2: 0.0007150348452162257
Camera1.k3: -0.0020532361418706202
Camera1.k4: 0.00020293673591811182
Camera.width: 512
Camera.height: 512
Camera.fps: 20
"""


def _write(tmp_path, text):
    path = tmp_path / "settings.yaml"
    path.write_text(text)
    return path


def test_orbslam2_settings_are_read_as_plumb_bob(tmp_path):
    cam = load_camera_info_yaml(_write(tmp_path, ORBSLAM2.format(size=SIZE)))
    assert (cam.width, cam.height, cam.distortion_model) == (640, 480, "plumb_bob")
    np.testing.assert_array_equal(cam.K, [[517.306408, 0, 318.643040],
                                          [0, 516.469215, 255.313989], [0, 0, 1]])
    np.testing.assert_array_equal(cam.dist, [0.262383, -0.953104, -0.005358, 0.002628,
                                             1.163314])


def test_orbslam3_kannala_brandt_is_read_as_equidistant(tmp_path):
    cam = load_camera_info_yaml(_write(tmp_path, ORBSLAM3_KB8))
    assert (cam.width, cam.height, cam.distortion_model) == (512, 512, "equidistant")
    assert cam.K[0, 0] == 190.97847715128717 and cam.K[1, 2] == 256.8974428996504
    np.testing.assert_array_equal(cam.dist, [0.0034823894022493434, 0.0007150348452162257,
                                             -0.0020532361418706202, 0.00020293673591811182])


@pytest.mark.parametrize("text, says", [
    (ORBSLAM2.format(size=""), "without Camera.width and Camera.height (ORB-SLAM2 reads the "
                               "size from the images): add 'Camera.width: W'"),
    (ORBSLAM3_KB8.replace("KannalaBrandt8", "Omni"), "ORB-SLAM Camera.type 'Omni' has no"),
    (ORBSLAM3_KB8.replace("Camera1.k4: 0.00020293673591811182\n", ""),
     "Camera1.k4 must be a number, got missing"),
    (ORBSLAM2.format(size=SIZE).replace("Camera.p1: -0.005358\n", ""),
     "expected Camera.k1, Camera.k2, Camera.p1, Camera.p2 [and Camera.k3]"),
    (ORBSLAM2.format(size=SIZE).replace("Camera.fy: 516.469215", "Camera.fy: fast"),
     "Camera.fy must be a number, got 'fast'"),
])
def test_orbslam_settings_it_cannot_read_are_refused_naming_the_key(tmp_path, text, says):
    path = _write(tmp_path, text)
    with pytest.raises(InputError) as err:
        load_camera_info_yaml(path)
    assert str(err.value).startswith(f"{path}: ") and says in str(err.value), str(err.value)


def test_orbslam3_stereo_settings_read_camera1_and_say_so(tmp_path, caplog):
    # the field tester's find: a stereo file was read as Camera1 without a word, while a
    # Kalibr chain of two cameras is refused asking which
    import logging

    stereo = ORBSLAM3_KB8 + "".join(f"Camera2.{k}: {v}\n" for k, v in
                                    [("fx", 191.5), ("fy", 191.4), ("cx", 250.0), ("cy", 255.0),
                                     ("k1", 0.0), ("k2", 0.0), ("k3", 0.0), ("k4", 0.0)])
    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
        cam = load_camera_info_yaml(_write(tmp_path, stereo))
    assert cam.K[0, 0] == 190.97847715128717
    (warn,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "stereo settings file (Camera1 and Camera2): Camera1's calibration is read" in warn
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
        load_camera_info_yaml(_write(tmp_path, ORBSLAM3_KB8))
    assert not [r for r in caplog.records if r.levelno == logging.WARNING]


def test_orbslam_distortion_stopping_after_p1_is_refused_naming_the_count(tmp_path):
    """k1, k2, p1 (p2 and k3 left out): in order but no model's set: three of them, refused."""
    text = ORBSLAM2.format(size=SIZE).replace("Camera.p2: 0.002628\n", "").replace(
        "Camera.k3: 1.163314\n", "")
    with pytest.raises(InputError, match=r"must be Camera.k1, k2, p1, p2 \[and k3\], got 3 of"):
        load_camera_info_yaml(_write(tmp_path, text))


ORBSLAM3_RECTIFIED = """%YAML:1.0
File.version: "1.0"
Camera.type: "Rectified"
Camera1.fx: 435.2
Camera1.fy: 435.2
Camera1.cx: 367.5
Camera1.cy: 252.2
Camera.width: 752
Camera.height: 480
Stereo.b: 0.11
"""


@pytest.mark.parametrize("text", [
    ORBSLAM3_RECTIFIED,
    "".join(line + "\n" for line in ORBSLAM2.format(size=SIZE).splitlines()
            if not line.startswith(("Camera.k", "Camera.p"))),
], ids=["orbslam3_rectified", "orbslam2_without_coefficients"])
def test_orbslam_settings_without_distortion_read_as_an_undistorted_pinhole(tmp_path, text):
    """A rectified stereo file (no coefficients by design) and an ORB-SLAM2 file without any
    are read with zero distortion (pin of the 2026-12-06g mutation audit: the allowed counts
    (0, 4, 5) as (1, 4, 5) refused both)."""
    cam = load_camera_info_yaml(_write(tmp_path, text))
    assert cam.distortion_model == "plumb_bob" and not np.any(cam.dist)
    assert cam.K[0, 0] in (435.2, 517.306408)


def test_orbslam_distortion_of_k1_alone_is_refused_naming_the_count(tmp_path):
    text = "".join(line + "\n" for line in ORBSLAM2.format(size=SIZE).splitlines()
                   if not line.startswith(("Camera.k2", "Camera.k3", "Camera.p")))
    with pytest.raises(InputError, match=r"must be Camera.k1, k2, p1, p2 \[and k3\], got 1 of"):
        load_camera_info_yaml(_write(tmp_path, text))
