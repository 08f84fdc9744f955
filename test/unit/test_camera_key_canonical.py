"""A distortion model renamed with the same coefficients is the same camera
(`core.camera_key`'s canonical key).

Before: the key held the model's name and D as written, so a CameraInfo (or camera.yaml) that
renamed plumb_bob D [k1 k2 p1 p2 k3] as rational_polynomial [k1 k2 p1 p2 k3 0 0 0] (the same
mapping: image_geometry hands either D to OpenCV, which reads the 8 as the rational model, 1 in
its denominator) started every run evidence over: 20 fits dropped, the frames of one
calibration judged on 1. After: one camera (the 20 kept); any real coefficient difference,
k4..k6 included, is still a new camera."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from mast3r_ros.core.camera_key import camera_key, key_of_values, same_camera
from mast3r_ros.core.distortion_evidence import (DistortionFit, RunDistortionEvidence,
                                                 distortion_camera)
from mast3r_ros.core.focal_evidence import FocalFit
from mast3r_ros.core.types import CameraIntrinsics

K = [585.0, 0, 319.5, 0, 585.0, 239.5, 0, 0, 1]
D5 = [-0.25, 0.10, 0.001, -0.002, 0.02]
PLUMB = CameraIntrinsics(640, 480, K, D5, "plumb_bob")
RATIONAL = CameraIntrinsics(640, 480, K, D5 + [0.0, 0.0, 0.0], "rational_polynomial")


def _fit(cam: CameraIntrinsics, i: int) -> FocalFit:
    fx, given, zero, r = distortion_camera(cam.K, cam.width, cam.height, cam.distortion_model,
                                           cam.dist)
    return FocalFit(1.0, 0.01, 585.0, None,
                    DistortionFit(-0.26 + 0.01 * (i % 2), 0.01, given, zero, fx, r),
                    camera_key(cam))


def test_opencv_maps_the_renamed_d_alike():
    """What the key relies on: OpenCV (what image_geometry hands D to) undistorts plumb_bob's
    5, the 8 with k4 k5 k6 zero, and 4 with 5 whose k3 is zero, to the same points."""
    px = np.random.default_rng(0).uniform([0, 0], [640, 480], (50, 1, 2))
    k = np.reshape(K, (3, 3))
    for a, b in ((D5, D5 + [0.0] * 3), (D5[:4], D5[:4] + [0.0]), ([], [0.0] * 5)):
        ua = cv2.undistortPoints(px, k, np.array(a, np.float64) if a else None)
        ub = cv2.undistortPoints(px, k, np.array(b, np.float64))
        assert np.array_equal(ua, ub)


def test_a_rename_with_the_same_coefficients_is_one_camera():
    assert RATIONAL.distortion_model == "rational_polynomial" and len(RATIONAL.dist) == 8
    assert camera_key(PLUMB) == camera_key(RATIONAL)  # one key: one cached distortion_camera
    assert same_camera(camera_key(PLUMB), camera_key(RATIONAL))
    ev = RunDistortionEvidence()
    for i in range(20):
        ev.add(_fit(PLUMB, i))
    ev.add(_fit(RATIONAL, 20))
    assert len(ev) == 21 and ev.frames_restarted == 0


def test_four_five_and_eight_with_trailing_zeros_are_one_camera():
    four = key_of_values(640, 480, K, D5[:4], "plumb_bob")
    for d, model in ((D5[:4] + [0.0], "plumb_bob"), (D5[:4] + [0.0] * 4, "rational_polynomial")):
        assert key_of_values(640, 480, K, d, model) == four
    assert key_of_values(640, 480, K, [0.0, 0.0, 0.0, 0.0, 0.0], "plumb_bob") == \
        key_of_values(640, 480, K, None, "rational_polynomial")


@pytest.mark.parametrize("i, value", [(5, 0.01), (6, -0.003), (7, 2e-6), (4, 0.021)])
def test_any_real_coefficient_difference_is_still_a_new_camera(i, value):
    d = D5 + [0.0, 0.0, 0.0]
    d[i] = value
    other = CameraIntrinsics(640, 480, K, d, "rational_polynomial")
    assert not same_camera(camera_key(PLUMB), camera_key(other))
    assert not same_camera(camera_key(other), camera_key(PLUMB))


def test_another_model_with_the_same_numbers_is_still_a_new_camera():
    fisheye = key_of_values(640, 480, K, D5[:4], "equidistant")
    assert not same_camera(fisheye, key_of_values(640, 480, K, D5[:4], "plumb_bob"))


def test_a_resumed_run_takes_a_renamed_model_as_its_camera():
    """`localize --resume` refused a frame whose camera.yaml renamed its model with the same
    coefficients ("was localized with the camera ..."); another coefficient is still refused."""
    import json
    import types

    from mast3r_ros.core.errors import InputError
    from mast3r_ros.replay.run_resume import camera_record, check_same_camera

    line = json.dumps({"camera": camera_record(PLUMB)})
    check_same_camera(line, types.SimpleNamespace(intrinsics=RATIONAL, stamp_ns=0))
    other = CameraIntrinsics(640, 480, K, D5 + [0.01, 0.0, 0.0], "rational_polynomial")
    with pytest.raises(InputError, match="was localized with the camera"):
        check_same_camera(line, types.SimpleNamespace(intrinsics=other, stamp_ns=0))


@pytest.mark.parametrize("damage", ["no dist", "K text", "not an object"])
def test_a_resumed_line_with_a_damaged_camera_is_refused_with_its_line(tmp_path, damage):
    """A results.jsonl line of a failed frame (no fit) whose ``camera`` lacks a value, or holds
    text, was read without looking at it; `check_same_camera` then read it as a key (the model
    renamed: compared as the mapping) and `localize --resume` ended in a KeyError traceback.
    Such a line is refused as any line that is no localize result, naming the file and line."""
    import json

    from mast3r_ros.core.errors import InputError
    from mast3r_ros.replay.run_resume import _read_results, camera_record

    camera = camera_record(PLUMB)
    if damage == "no dist":
        del camera["dist"]
    elif damage == "K text":
        camera["K"] = "585 0 320 0 585 240 0 0 1"
    else:
        camera = [640, 480]
    line = {"stamp_ns": 1, "frame_index": 0, "success": False, "reason": "too few inliers",
            "map_from_cam": None, "inliers": 0, "matches": 3, "inlier_ratio": 0.0,
            "reproj_rms_px": None, "keyframe_ids": [], "covariance": None, "timings_s": {},
            "focal_fit": None, "camera": camera}
    (tmp_path / "results.jsonl").write_text(json.dumps(line) + "\n")
    with pytest.raises(InputError, match=r"results\.jsonl line 1 is not a localize result"):
        _read_results(str(tmp_path))
