"""The mid-run rule "rectified images given the raw camera's D" (`distortion_run_gate`) and a
camera whose own D is small: its right images' systematic residual is not called rectified.

Before: 'rectified' was a fitted k1 between 0.4 and 1.6 times minus the camera's own k1, beyond
the 0.5 deg band at 4 sigma. For a camera whose k1 is small (-0.05 at 640x480, fx 585: the
window +0.02..+0.08, reaching into the band, +-0.040) that window is where a right camera's
systematic positive residual lies: 200 frames of right images fitting +0.07 (the map's own
check under the same D: right) were refused from frame 181 on as "already rectified". After:
'rectified' also needs the window itself beyond the band (0.4 |k1| > the band's k1, the
camera's k1 beyond 0.100 at 640x480, fx 585), so the fit can only be the double undistortion;
the frames are published and the end of the run says the D does not match (a mismatch)."""

from __future__ import annotations

import numpy as np

from mast3r_ros.core.camera_key import camera_key
from mast3r_ros.core.distortion_evidence import (DistortionFit, RunDistortionEvidence,
                                                 distortion_camera, tolerance_k1)
from mast3r_ros.core.focal_evidence import FocalFit
from mast3r_ros.core.localizer.distortion_run_gate import RECTIFIED_REASON, RunDistortionGate
from mast3r_ros.core.types import CameraIntrinsics, LocalizationResult

K = [[585.0, 0, 319.5], [0, 585.0, 239.5], [0, 0, 1]]
SMALL = CameraIntrinsics(640, 480, K, [-0.05, 0.0, 0.0, 0.0, 0.0], "plumb_bob")
CAM = distortion_camera(SMALL.K, 640, 480, "plumb_bob", SMALL.dist)
# the map's own check (manifest consistency.distortion) under the same D: its images right
MAP_RIGHT = {"fx_px": 585.0, "given_k1": -0.05, "given_zero": False, "k1": 0.004,
             "k1_sigma": 0.03, "frames_used": 12, "off": False, "diagnosis": None}


def _fit(i: int, k1: float = 0.07, cam: CameraIntrinsics = SMALL) -> FocalFit:
    fx, given, zero, r = distortion_camera(cam.K, 640, 480, "plumb_bob", cam.dist)
    return FocalFit(1.0, 0.002, fx, distortion=DistortionFit(
        k1 + 0.02 * (-1) ** i, 0.01, given, zero, fx, r, through_keyframes=True),
        camera=camera_key(cam))


def test_the_construction_is_beyond_the_band_and_inside_the_window():
    """What the test below relies on: over 200 frames the residual is beyond the warning's
    band at 4 sigma (a verdict), at 1.4x minus the camera's k1, while the camera's k1 is
    within 2.5 band widths (its window reaches into the band)."""
    ev = RunDistortionEvidence()
    for i in range(200):
        ev.add(_fit(i))
    r = ev.report()
    assert r["off"] and 0.4 <= -r["k1"] / CAM[1] <= 1.6
    assert 0.4 * abs(CAM[1]) < tolerance_k1(CAM[3]) < abs(CAM[1])
    assert r["diagnosis"] == "mismatch" and "does not match the camera's D" in r["warning"]


def test_a_small_ds_systematic_residual_is_not_refused_as_rectified():
    gate = RunDistortionGate(MAP_RIGHT)
    out = [gate.judge(LocalizationResult(True, i, np.eye(4), focal_fit=_fit(i)), camera=SMALL)
           for i in range(200)]
    refused = [i for i, r in enumerate(out) if r.reason.startswith(RECTIFIED_REASON)]
    assert refused == [] and all(r.success and r.reason == "" for r in out)


def test_the_same_double_undistortion_of_a_larger_d_is_still_refused():
    """The defect the rule is for, at the window's weak end: a camera k1 -0.3 whose rectified
    frames fit +0.14 through the map's keyframes (0.47x) is refused mid-run."""
    raw = CameraIntrinsics(640, 480, K, [-0.3, 0.1, 0.0, 0.0, 0.0], "plumb_bob")
    gate = RunDistortionGate(dict(MAP_RIGHT, given_k1=-0.3))
    out = [gate.judge(LocalizationResult(True, i, np.eye(4), focal_fit=_fit(i, 0.14, raw)),
                      camera=raw) for i in range(40)]
    assert out[-1].reason.startswith(RECTIFIED_REASON) and not out[-1].success
