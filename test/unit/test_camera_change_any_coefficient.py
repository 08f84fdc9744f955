"""A new CameraInfo whose D differs from the last one only in k2, p1, p2 or k3 (or whose model
name changed) is a new camera for every run-level evidence (`core.camera_key`).

Before: each evidence compared only the values its figures use (the focal evidence fx, the
principal point fx, cx, cy, the distortion fx, k1 and the corner radius): after 20 frames of a
camera whose D put k1 0.26 off (every pose refused), a corrected CameraInfo differing only in
k2 (or p1, p2, k3) kept the old camera's 20 fits in each evidence, so its poses were refused
and /diagnostics warned on the old camera's fits. After: each starts over (1 fit kept), and a
float round trip (float32) or a driver's jitter in the last digits is still one camera."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from mast3r_ros.core.camera_key import camera_key, same_camera
from mast3r_ros.core.distortion_evidence import (DistortionFit, RunDistortionEvidence,
                                                 distortion_camera)
from mast3r_ros.core.focal_evidence import FocalFit, RunFocalEvidence
from mast3r_ros.core.localizer.distortion_run_gate import RunDistortionGate
from mast3r_ros.core.localizer.focal_run_gate import RunFocalGate
from mast3r_ros.core.localizer.principal_point_run_gate import RunPrincipalPointGate
from mast3r_ros.core.principal_point_evidence import PrincipalPointFit, RunPrincipalPointEvidence
from mast3r_ros.core.types import CameraIntrinsics, LocalizationResult

K = [585.0, 0, 319.5, 0, 585.0, 239.5, 0, 0, 1]
D = [-0.25, 0.10, 0.0, 0.0, 0.0]
OLD = CameraIntrinsics(640, 480, K, D, "plumb_bob")
CHANGES = {"k2": (1, 0.0), "p1": (2, 0.01), "p2": (3, -0.01), "k3": (4, 0.05)}


def _new(coefficient: str) -> CameraIntrinsics:
    i, v = CHANGES[coefficient]
    d = list(D)
    d[i] = v
    return CameraIntrinsics(640, 480, K, d, "plumb_bob")


def _fit(cam: CameraIntrinsics, i: int, with_camera: bool = True, off: float = 1.0) -> FocalFit:
    """A frame's fit as `query_checks.focal_gate` makes it under ``cam``: ``off`` 1 focal 1.2x,
    cx 40 px left, a residual k1 -0.26 (each enough for a verdict); 0: the camera is right."""
    fx, given, zero, r = distortion_camera(cam.K, cam.width, cam.height, cam.distortion_model,
                                           cam.dist)
    return FocalFit(1.0 + 0.2 * off + 0.001 * (i % 2), 0.01, 585.0,
                    PrincipalPointFit(-40.0 * off + (i % 2), 0.0, 1.5, 1.5, 319.5, 239.5),
                    DistortionFit(-0.26 * off + 0.01 * (i % 2), 0.01, given, zero, fx, r),
                    camera_key(cam) if with_camera else None)


def _result(cam, i, with_camera=True, off=1.0):
    return LocalizationResult(True, i, np.eye(4), focal_fit=_fit(cam, i, with_camera, off))


@pytest.mark.parametrize("coefficient", sorted(CHANGES))
def test_the_evidences_start_over_when_only_one_other_coefficient_changes(coefficient):
    new = _new(coefficient)
    for ev in (RunFocalEvidence(0.05), RunPrincipalPointEvidence(), RunDistortionEvidence()):
        for i in range(20):
            ev.add(_fit(OLD, i))
        ev.add(_fit(new, 20))
        assert len(ev) == 1 and ev.frames_restarted == 20, type(ev).__name__


@pytest.mark.parametrize("coefficient", sorted(CHANGES))
def test_the_run_gates_start_over_and_publish_the_new_cameras_pose(coefficient):
    """The distortion and principal point gates are told the frame's camera (its fits may
    carry none: a frame without a fit); the focal gate reads it off the fits."""
    new = _new(coefficient)
    focal, pp, dist = RunFocalGate(), RunPrincipalPointGate(), RunDistortionGate()
    for i in range(20):
        r = focal.judge(_result(OLD, i), 0.05)
        r = dist.judge(pp.judge(r, True, OLD), True, OLD)
    assert not r.success  # the old camera: refused on its run's fits
    assert focal.judge(_result(new, 20, off=0.0), 0.05).success
    r = _result(new, 20, with_camera=False, off=0.0)
    assert dist.judge(pp.judge(r, True, new), True, new).success
    assert len(focal._evidence) == len(dist._evidence) == len(pp._evidence) == 1


def test_the_node_diagnostics_start_over_for_a_new_d():
    from mast3r_ros.ros.diagnostics import DiagnosticsWindow, FrameRecord

    w = DiagnosticsWindow()
    for i in range(20):
        w.add(FrameRecord(t_s=0.1 * i, success=True, focal_fit=_fit(OLD, i), camera=OLD))
    evidences = (w.focal, w.principal_point, w.distortion)
    assert all(ev.warning("X") for ev in evidences)
    new = _new("p1")  # its first frame gives no fit: the evidences start over all the same
    w.add(FrameRecord(t_s=2.0, success=True, focal_fit=None, camera=new))
    assert [ev.warning("X") for ev in evidences] == ["", "", ""]
    assert [len(ev) for ev in evidences] == [0, 0, 0]
    w.add(FrameRecord(t_s=2.1, success=True, focal_fit=_fit(new, 1, off=0.0)))
    assert [len(ev) for ev in evidences] == [1, 1, 1]


def test_a_model_rename_with_the_same_k1_is_a_new_camera_and_zeros_are_none():
    rational = CameraIntrinsics(640, 480, K, D + [0.0, 0.0, 0.01], "rational_polynomial")
    assert not same_camera(camera_key(OLD), camera_key(rational))
    none = [CameraIntrinsics(640, 480, K, [0.0] * n, m) for n, m in
            ((0, "plumb_bob"), (5, "plumb_bob"), (8, "rational_polynomial"))]
    assert all(same_camera(camera_key(none[0]), camera_key(c)) for c in none)


def test_float_round_trips_and_last_digit_jitter_are_one_camera():
    f32 = CameraIntrinsics(640, 480, np.float32(K).astype(np.float64),
                           np.float32(D).astype(np.float64), "plumb_bob")
    text = CameraIntrinsics(640, 480, [float(f"{v:.6g}") for v in K],
                            [float(f"{v:.6g}") for v in D], "plumb_bob")
    jitter = CameraIntrinsics(640, 480, [585.0 + 1e-3] + K[1:], D, "plumb_bob")
    four = CameraIntrinsics(640, 480, K, D[:4], "plumb_bob")  # k3 = 0 left out
    for cam in (f32, text, jitter, four):
        assert same_camera(camera_key(OLD), camera_key(cam))
    assert not same_camera(camera_key(OLD), camera_key(_new("p1")))
    ev = RunDistortionEvidence()
    for i, cam in enumerate((OLD, f32, text, jitter, four) * 4):
        ev.add(_fit(cam, i))
    assert len(ev) == 20 and ev.frames_restarted == 0


def test_the_focal_gates_fit_carries_the_frames_camera():
    from mast3r_ros.core.localizer.query_checks import focal_gate

    rng = np.random.default_rng(0)
    X = np.c_[rng.uniform(-1, 1, (200, 2)), rng.uniform(2, 4, 200)]
    xu = X[:, :2] / X[:, 2:] * 585.0 + [319.5, 239.5] + rng.normal(0, 0.3, (200, 2))
    _, fit = focal_gate(0.05, OLD, np.eye(4), X, xu, np.ones(200, bool), 3.0)
    assert fit.camera == camera_key(OLD) and fit.distortion is not None


def test_a_resumed_runs_fits_carry_the_recorded_camera():
    from mast3r_ros.replay.run_record import result_record
    from mast3r_ros.replay.run_resume import camera_record, result_from_record

    rec = result_record(_result(OLD, 0))
    rec["camera"] = camera_record(_new("k2"))
    back = result_from_record(json.loads(json.dumps(rec)))
    assert back.focal_fit.camera == camera_key(_new("k2"))


def test_the_map_check_groups_keyframes_within_a_float_round_trip():
    """Exact bytes split a map's keyframes of one camera into as many cameras as K's last
    digits (a driver's jitter), and pairs across them were never fitted; another D is still
    another camera."""
    from mast3r_ros.core.map_check import distortion
    from test_map_check_distortion import _pairs

    views, _ = _pairs(0.0, np.zeros(5), n_views=4)
    cam = views[1].cam
    views[1] = dataclasses.replace(views[1], cam=dataclasses.replace(
        cam, K=cam.K * [[1 + 1e-7], [1], [1]]))
    views[3] = dataclasses.replace(views[3], cam=dataclasses.replace(
        cam, dist=np.array([-0.25, 0.0, 0.01, 0.0, 0.0])))
    assert distortion._camera_groups(views) == [0, 0, 0, 1]


def test_the_focal_gate_refuses_under_a_k_jittering_in_its_last_digits():
    """The focal run gate started its evidence over at any fx change beyond 1e-9 (relative):
    under fx 585.000 / 585.001 it kept one fit, and 30 frames 1.1x off (each passing its own
    test) were all published; steady, 24 were refused. Now both refuse alike."""
    refused = []
    for jitter in (0.0, 1e-3):
        gate = RunFocalGate()
        refused.append(sum(not gate.judge(LocalizationResult(True, i, np.eye(4), focal_fit=FocalFit(
            1.1 * (1 + 0.01 * (-1) ** i), 0.03, 585.0 + jitter * (i % 2))), 0.05).success
            for i in range(30)))
    assert refused[0] == refused[1] > 20


def test_a_held_cameras_unfit_count_starts_over_for_a_new_d():
    """The principal point hold counted frames without a fit per (size, cx, cy): a new D (or
    fx) kept counting the old camera's frames toward 'cannot be released'."""
    from mast3r_ros.core.localizer.principal_point_run_gate import HELD_REASON

    held = CameraIntrinsics(640, 480, [1170.0, 0, 640.0, 0, 1170.0, 480.0, 0, 0, 1], D)
    new_d = CameraIntrinsics(640, 480, held.K, [-0.25, 0.1, 0.01, 0.0, 0.0])
    unfit = LocalizationResult(True, 1, np.eye(4), focal_fit=FocalFit(1.0, 0.002, 1170.0))
    gate = RunPrincipalPointGate()
    assert "3 frames in a row without" in [gate.judge(unfit, camera=held)
                                           for _ in range(3)][-1].reason
    again = gate.judge(unfit, camera=new_d)
    assert again.reason.startswith(HELD_REASON) and "1 frame without" in again.reason
    jitter = CameraIntrinsics(640, 480, held.K + [[0, 0, 1e-3], [0, 0, 0], [0, 0, 0]],
                              new_d.dist)
    assert "2 frames in a row without" in gate.judge(unfit, camera=jitter).reason
