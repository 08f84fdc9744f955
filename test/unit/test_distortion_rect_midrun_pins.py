"""Pins of the mid-run rule's figures (`RunDistortionEvidence.rectified_midrun`) and of the
per-calibration facts cache (`distortion_camera_of`) that the rule's own tests leave open
(mutation audit 2026-12-09g): the frame count it waits for and the release margin as numbers
(a test written with the imported constant passes whatever it is), the cache's bound, and
`distortion_fit`'s default."""

from __future__ import annotations

import numpy as np

from mast3r_ros.core import distortion_evidence as de
from mast3r_ros.core.distortion_evidence import RunDistortionEvidence, distortion_fit
from mast3r_ros.core.types import CameraIntrinsics
from test_distortion_rect_midrun import _fit, _said

K = [585.0, 0.0, 319.5, 0.0, 585.0, 239.5, 0.0, 0.0, 1.0]


def test_it_is_said_at_the_tenth_frame():
    said = _said(RunDistortionEvidence(), [_fit(0.3)] * 12)
    assert said.index(True) == 9  # MIDRUN_MIN_FRAMES: 10 frames used


def test_it_holds_until_the_fits_come_two_sigma_inside_the_band():
    """k1 0.020 +- 0.016 over 40 frames against the band's 0.040: one sigma inside the band,
    not two: still held (the docstring's `MIDRUN_RELEASE_SIGNIFICANCE` 2)."""
    ev = RunDistortionEvidence(max_frames=40)
    assert _said(ev, [_fit(0.3)] * 12)[-1]
    assert all(_said(ev, [_fit(0.02, 0.005)] * 40))
    c = ev.evidence().k1
    assert c.value + c.sigma < de.tolerance_k1(0.6838) < c.value + 2 * c.sigma


def test_the_facts_cache_keeps_64_calibrations_then_starts_over(monkeypatch):
    monkeypatch.setattr(de, "_CAMERAS", {})
    cams = [CameraIntrinsics(640, 480, [500.0 + i] + K[1:], [-0.1, 0, 0, 0, 0], "plumb_bob")
            for i in range(65)]
    for cam in cams[:64]:
        de.distortion_camera_of(cam)
    assert len(de._CAMERAS) == 64
    key, facts = de.distortion_camera_of(cams[64])
    assert len(de._CAMERAS) == 1 and facts[0] == 564.0


def test_a_fit_is_not_through_keyframes_unless_said():
    d = distortion_fit((0.1, 0.01, 100), np.array(K).reshape(3, 3), 640, 480, "plumb_bob",
                       [-0.3, 0.1, 0, 0, 0])
    assert d.through_keyframes is False


def test_map_images_right_is_a_bool_with_its_frames_and_camera_edges():
    from mast3r_ros.core.localizer.distortion_run_gate import map_images_right
    from test_distortion_rect_midrun import CORNER_R, MAP_RIGHT, RAW_K1
    cam = (585.0, RAW_K1, False, CORNER_R)
    for report in (None, {"verdict": "consistent"}, dict(MAP_RIGHT, fx_px="x")):
        assert map_images_right(report, cam) is False
    for n, right in ((5, True), (4, False)):  # run_evidence.MIN_FRAMES 5 pairs fitted
        assert map_images_right(dict(MAP_RIGHT, frames_used=n), cam) is right
    for rel, right in ((0.7e-3, True), (1.4e-3, False)):  # MAP_CAMERA_REL 1e-3
        assert map_images_right(dict(MAP_RIGHT, fx_px=585.0 * (1 + rel)), cam) is right
        assert map_images_right(dict(MAP_RIGHT, given_k1=RAW_K1 * (1 + rel)), cam) is right


def test_the_refusal_names_the_cameras_own_k1():
    from mast3r_ros.core.localizer.distortion_run_gate import RunDistortionGate
    from mast3r_ros.core.types import LocalizationResult
    from test_distortion_rect_midrun import MAP_RIGHT
    gate = RunDistortionGate(MAP_RIGHT)
    out = [gate.judge(LocalizationResult(True, i, np.eye(4), focal_fit=_fit(0.3)))
           for i in range(10)]
    assert "about minus its own k1 -0.300" in out[-1].reason
