"""The query camera's distortion against the map keyframe cameras' (`query_checks.
_warn_distortion_mismatch`, run by `Localizer._check_query_camera` beside the K check).

A reviewer's 7-Scenes run (undistorted query frames): with D all zero the median error was
0.8 cm; with a plumb_bob D of (-0.3, 0.1, 0, 0, 0) -- rectified images given with the raw
camera's D, undistorted twice -- 9.9 cm median and 80 cm at worst, claiming 1 sigma 1.1 cm, and
no warning. Distortions are compared by how far they move pixels, not by their coefficients.
"""

import logging

import numpy as np
import pytest

from mast3r_ros.core.geometry import make_pose
from mast3r_ros.core.keyframes import KeyframeMap, write_map
from mast3r_ros.core.localizer import Localizer
from mast3r_ros.core.localizer.query_checks import DISTORTION_MISMATCH_PX, distortion_shift_px
from mast3r_ros.core.config import LocalizerConfig
from mast3r_ros.core.types import CameraIntrinsics

K = np.array([[585.0, 0, 320.0], [0, 585.0, 240.0], [0, 0, 1]])
RAW_D = [-0.3, 0.1, 0.0, 0.0, 0.0]


def _cam(dist=(), model="plumb_bob", w=640, h=480):
    return CameraIntrinsics(w, h, K.copy(), np.array(dist, np.float64), model)


def _map(tmp_path, cams):
    rng = np.random.default_rng(0)
    kfs = [(rng.integers(0, 255, (c.height, c.width, 3), dtype=np.uint8), c,
            make_pose(np.eye(3), [float(i), 0.0, 0.0]), 10 * i,
            np.full((c.height, c.width), 2.0, np.float32)) for i, c in enumerate(cams)]
    return KeyframeMap.load(write_map(str(tmp_path / "map"), kfs))


def _warnings(caplog, loc, *cams):
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="mast3r_ros.core.localizer"):
        for cam in cams:
            loc._check_query_camera(cam)
    return [r.getMessage() for r in caplog.records if "distortion (" in r.getMessage()]


@pytest.fixture(scope="module")
def undistorted_map(tmp_path_factory):
    return _map(tmp_path_factory.mktemp("d0"), [_cam(), _cam()])


def test_the_map_lists_its_distinct_distortions(undistorted_map, tmp_path):
    assert [(w, h, m, d.tolist()) for w, h, m, d in undistorted_map.distortions()] == [
        (640, 480, "", [])]
    kf_map = _map(tmp_path, [_cam(RAW_D), _cam([0.0] * 5), _cam(RAW_D, w=320, h=240)])
    got = sorted((w, h, m, d.tolist()) for w, h, m, d in kf_map.distortions())
    assert got == [(320, 240, "plumb_bob", RAW_D), (640, 480, "", []),
                   (640, 480, "plumb_bob", RAW_D)]


def test_rectified_images_given_the_raw_d_are_warned_about_once(undistorted_map, caplog):
    loc = Localizer(undistorted_map, LocalizerConfig(matcher="sift"))
    (msg,) = _warnings(caplog, loc, _cam(RAW_D), _cam(RAW_D))           # once per camera
    assert "the query camera 640x480's distortion (plumb_bob [-0.3, 0.1, 0, 0, 0])" in msg
    assert "differs from that of every map keyframe camera of that size (closest: none)" in msg
    assert "set image_rectified" in msg and "undistorted twice" in msg
    # offline, image_rectified reaches a rosbag2's CameraInfo only: a calibration file's fix
    assert "a calibration file, camera.yaml or --camera-info, is used as written" in msg
    # a map of rectified images queried with raw ones and their D is right: said so too
    assert "a map built from image_rect queried with image_raw and its D" in msg
    shift = distortion_shift_px(K, 640, 480, "plumb_bob", np.array(RAW_D), "", np.zeros(0))
    assert shift > 20 and f"up to {shift:.1f} px" in msg
    # the K check is untouched: the same K, nothing said about it
    assert not [r for r in caplog.records if "differs by" in r.getMessage()]


def test_a_distortion_moving_pixels_less_than_the_threshold_is_not_warned_about(
        undistorted_map, caplog):
    loc = Localizer(undistorted_map, LocalizerConfig(matcher="sift"))
    small = [-0.002, 0.0, 0.0, 0.0, 0.0]
    assert distortion_shift_px(K, 640, 480, "plumb_bob", np.array(small), "",
                               np.zeros(0)) < DISTORTION_MISMATCH_PX
    assert not _warnings(caplog, loc, _cam(), _cam([0.0] * 5), _cam(small))
    # another image size is another camera (or a resized stream): not compared
    assert not _warnings(caplog, loc, _cam(RAW_D, w=320, h=240))


def test_the_same_distortion_under_another_model_name_is_the_same(tmp_path, caplog):
    """Compared by the pixels they move: plumb_bob (k1, k2, 0, 0, 0) is rational_polynomial
    (k1, k2, 0, 0, 0, 0, 0, 0); a raw map queried with the raw camera is silent, and the
    rectified query of that map (no D) is warned about, naming the map's D."""
    loc = Localizer(_map(tmp_path, [_cam(RAW_D)]), LocalizerConfig(matcher="sift"))
    assert not _warnings(caplog, loc, _cam(RAW_D),
                         _cam(RAW_D + [0.0] * 3, "rational_polynomial"))
    (msg,) = _warnings(caplog, loc, _cam())
    assert "distortion (none)" in msg and "(closest: plumb_bob [-0.3, 0.1, 0, 0, 0])" in msg


def test_a_camera_with_the_same_k_and_another_d_is_checked_on_its_own(undistorted_map, caplog):
    """The record of checked cameras is per K and D: a query camera seen without D first, then
    with the raw D (a launch file changed, a second stream), is still checked."""
    loc = Localizer(undistorted_map, LocalizerConfig(matcher="sift"))
    assert not _warnings(caplog, loc, _cam())
    assert len(_warnings(caplog, loc, _cam(RAW_D), _cam(RAW_D))) == 1
    assert len(loc._cameras_checked) == 2


def test_a_camera_renamed_between_opencv_models_is_checked_once(undistorted_map, caplog):
    """plumb_bob (5) and rational_polynomial (8, k4 k5 k6 zero) with the same coefficients are
    one camera (`camera_key.key_of_values`): the mismatch is said once, and the renamed camera
    is not checked again (its model name was compared: checked, and warned about, twice)."""
    loc = Localizer(undistorted_map, LocalizerConfig(matcher="sift"))
    assert len(_warnings(caplog, loc, _cam(RAW_D),
                         _cam(RAW_D + [0.0] * 3, "rational_polynomial"), _cam(RAW_D))) == 1
    assert len(loc._cameras_checked) == 1
    # a coefficient beyond the five is still another camera
    assert len(_warnings(caplog, loc, _cam(RAW_D + [0.0, 0.01, 0.0], "rational_polynomial"))) == 1
