"""A camera fit without its camera key (a results.jsonl line without ``camera``: hand-made,
merged or older; a `FocalFit` made without ``camera=``) is never combined with a known
camera's fits (`run_evidence.RunFits`).

Before: `same_camera(None, key)` was True, so such fits were compared on each evidence's own few
values only (fx, k1, corner radius) and took the key of the first fit that had one: 20 recorded
frames of a camera whose k2 was wrong (residual k1 -0.26), then 10 frames of the corrected
camera (k2 changed, k1 the same) -> metrics.json's camera_distortion combined all 30 (k1 -0.168,
"the query images' distortion does not match the camera's D") and a resumed run's gate
refused 4 of the corrected camera's 10 poses on the old camera's fits. After: the 20 are
dropped when the first keyed fit comes (said once), the 10 are judged alone (no warning, 10 of
10 published); fits all without a key are combined on their values, as before."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from mast3r_ros.core import run_evidence
from mast3r_ros.core.camera_key import camera_key
from mast3r_ros.core.distortion_evidence import (DistortionFit, RunDistortionEvidence,
                                                 distortion_camera)
from mast3r_ros.core.focal_evidence import FocalFit
from mast3r_ros.core.localizer.distortion_run_gate import RunDistortionGate
from mast3r_ros.core.types import CameraIntrinsics, LocalizationResult

K = [585.0, 0, 319.5, 0, 585.0, 239.5, 0, 0, 1]
OLD = CameraIntrinsics(640, 480, K, [-0.25, 0.10, 0.0, 0.0, 0.0], "plumb_bob")
NEW = CameraIntrinsics(640, 480, K, [-0.25, -0.05, 0.0, 0.0, 0.0], "plumb_bob")  # k2 fixed


@pytest.fixture(autouse=True)
def _unsaid(monkeypatch):
    monkeypatch.setattr(run_evidence, "_said_untied", [], raising=False)


def _result(cam, i, k1, keyed=True):
    fx, given, zero, r = distortion_camera(cam.K, 640, 480, "plumb_bob", cam.dist)
    return LocalizationResult(True, i, np.eye(4), focal_fit=FocalFit(
        1.0, 0.01, 585.0, None, DistortionFit(k1 + 0.01 * (i % 2), 0.01, given, zero, fx, r),
        camera_key(cam) if keyed else None))


def _lines_without_camera():
    """20 results.jsonl lines of the old camera written without ``camera``, read back."""
    from mast3r_ros.replay.run_record import result_record
    from mast3r_ros.replay.run_resume import result_from_record

    out = [result_from_record(json.loads(json.dumps(result_record(_result(OLD, i, -0.26)))))
           for i in range(20)]
    assert all(r.focal_fit.camera is None for r in out)
    return out


def test_metrics_do_not_judge_the_corrected_camera_on_fits_without_a_camera(caplog):
    from mast3r_ros.replay.metrics import camera_distortion

    with caplog.at_level(logging.WARNING, logger="mast3r_ros.core.run_evidence"):
        m = camera_distortion(_lines_without_camera() + [_result(NEW, 20 + i, 0.0)
                                                          for i in range(10)])
    assert m["frames_fitted"] == 10 and m["warning"] is None and not m["off"]
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 1 and "20 camera fit(s) recorded without their camera" in said[0]
    assert "cannot be tied to a camera" in said[0]


def test_a_resumed_gate_publishes_the_corrected_cameras_poses():
    gate = RunDistortionGate()
    for r in _lines_without_camera():  # recalled without a camera (`_recorded_camera`)
        gate.judge(r, True, None)
    out = [gate.judge(_result(NEW, 20 + i, 0.0), True, NEW) for i in range(10)]
    assert all(r.success and r.reason == "" for r in out)


def test_a_fit_without_a_camera_beside_a_known_one_is_left_out_once_said(caplog):
    ev = RunDistortionEvidence()
    with caplog.at_level(logging.WARNING, logger="mast3r_ros.core.run_evidence"):
        for i in range(10):
            ev.add(_result(NEW, i, 0.0).focal_fit)
        for i in range(5):
            ev.add(_result(OLD, i, -0.26, keyed=False).focal_fit)
    assert len(ev) == 10 and ev.untied_fits == 5 and ev.frames_restarted == 0
    assert len(caplog.records) == 1 and "left out of" in caplog.records[0].getMessage()


def test_fits_all_without_a_camera_are_combined_as_before():
    ev = RunDistortionEvidence()
    for i in range(20):
        ev.add(_result(OLD, i, -0.26, keyed=False).focal_fit)
    assert len(ev) == 20 and ev.untied_fits == 0 and ev.report()["off"]


def test_a_recorded_fit_with_its_camera_is_recalled_with_the_frames():
    from mast3r_ros.replay.localize_run import _recorded_camera

    frame = type("F", (), {"intrinsics": NEW})()
    assert _recorded_camera(frame, _result(NEW, 0, 0.0)) is NEW
    assert _recorded_camera(frame, LocalizationResult(True, 0, np.eye(4))) is NEW
    assert _recorded_camera(frame, _result(NEW, 0, 0.0, keyed=False)) is None
