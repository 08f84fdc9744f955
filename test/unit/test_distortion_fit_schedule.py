"""Once a run's distortion evidence is settled, one frame in `FIT_STRIDE` is fitted
(`localizer.distortion_run_gate.RunDistortionGate.wants_fit`).

Before: every judged frame paid a residual distortion fit, 10-30 ms on a loaded 2-core CPU, all
run long, though after a few dozen frames of the right camera (or a run the gate already
refuses) another fit changes no verdict. After: an undecided run still fits every frame (its
verdict comes as soon as before); a settled one one frame in four, and the gate keeps refusing
the frames between (docs/bench/distortion_cost_cpu_2026-12-07zi)."""

from __future__ import annotations

import numpy as np

from mast3r_ros.core.distortion_evidence import DistortionFit
from mast3r_ros.core.focal_evidence import FocalFit
from mast3r_ros.core.localizer.distortion_run_gate import (FIT_STRIDE, SETTLE_MIN_FRAMES,
                                                           RunDistortionGate)
from mast3r_ros.core.types import LocalizationResult


def _fit(k1, i=0, sigma=0.01):
    return FocalFit(1.0, 0.002, 585.0, distortion=DistortionFit(
        k1 + (0.01 if i % 2 else -0.01), sigma, 0.0, True, 585.0, 0.6838))


def _result(fit):
    return LocalizationResult(True, 1, np.eye(4), focal_fit=fit)


def _run(gate, k1, frames):
    """Frames as the localizer gives them: asked, fitted when wanted; (fitted, published)."""
    fitted, published = [], []
    for i in range(frames):
        want = gate.wants_fit()
        fitted.append(want)
        r = gate.judge(_result(_fit(k1, i) if want else FocalFit(1.0, 0.002, 585.0)))
        published.append(r.success)
    return fitted, published


def test_an_undecided_run_fits_every_frame():
    # k1 -0.037 (map and query distorted alike, D zero): neither inside nor beyond the bands
    fitted, published = _run(RunDistortionGate(), -0.037, 80)
    assert all(fitted) and all(published)


def test_the_right_camera_settles_and_fits_one_frame_in_the_stride():
    gate = RunDistortionGate()
    fitted, published = _run(gate, 0.0, 120)
    assert all(published)
    first = fitted.index(False)
    # each frame's sigma is floored at 0.1: 2 sigma inside +-0.040 after about 26 frames
    assert SETTLE_MIN_FRAMES <= first <= 40, first
    assert abs(sum(fitted[first:]) - len(fitted[first:]) / FIT_STRIDE) <= 1
    assert gate.settled()


def test_a_refusing_gate_fits_one_frame_in_the_stride_and_refuses_the_rest():
    fitted, published = _run(RunDistortionGate(), -0.26, 60)
    first_refused = published.index(False)
    assert first_refused < 10 and not any(published[first_refused:])
    assert sum(fitted[first_refused + 1:]) <= len(fitted[first_refused + 1:]) // FIT_STRIDE + 1


def test_the_focal_gate_leaves_the_distortion_unfitted_when_told(monkeypatch):
    from mast3r_ros.core.localizer import query_checks
    from mast3r_ros.core.types import CameraIntrinsics

    def called(*_a, **_k):
        raise AssertionError("refitted_distortion called with fit_distortion False")

    rng = np.random.default_rng(0)
    cam = CameraIntrinsics(K=[500.0, 0, 320, 0, 500, 240, 0, 0, 1], width=640, height=480)
    m = np.c_[rng.uniform(-0.6, 0.6, 200), rng.uniform(-0.45, 0.45, 200)]
    z = rng.uniform(1.5, 5.0, 200)
    X, x = np.c_[m * z[:, None], z], m * 500 + [320, 240]
    monkeypatch.setattr(query_checks, "refitted_distortion", called)
    _, fit = query_checks.focal_gate(0.1, cam, np.eye(4), X, x, np.ones(200, bool), 3.0,
                                     fit_distortion=False)
    assert fit is not None and fit.distortion is None


def test_an_unfitted_frame_refused_for_its_focal_length_names_the_runs_distortion():
    """A frame the settled run leaves unfitted still says the distortion is the likelier cause
    of its focal misfit, from the run's combined k1 (before: only its own fit could)."""
    from mast3r_ros.core.localizer import query_checks
    from mast3r_ros.core.types import CameraIntrinsics

    gate = RunDistortionGate()
    assert gate.run_fit() is None
    _run(gate, -0.26, 30)
    run = gate.run_fit()
    assert run is not None and run.k1 < -0.2 and run.given_zero
    rng = np.random.default_rng(0)
    cam = CameraIntrinsics(K=[500.0, 0, 320, 0, 500, 240, 0, 0, 1], width=640, height=480)
    m = np.c_[rng.uniform(-0.6, 0.6, 200), rng.uniform(-0.45, 0.45, 200)]
    z = rng.uniform(1.5, 5.0, 200)
    X, x = np.c_[m * z[:, None], z], m * 550 + [320, 240]    # a focal 10 % off
    reason, _ = query_checks.focal_gate(0.05, cam, np.eye(4), X, x, np.ones(200, bool), 3.0,
                                        fit_distortion=False, run_distortion=run)
    assert "likelier a lens distortion" in reason and "this run's frames fit" in reason, reason


def test_fits_through_the_maps_keyframes_are_warned_about_not_refused():
    """Map and query undistorted twice alike (a map of the query's own camera and D): the
    joint fit, its keyframes' focal scale free, fits about +0.19 +- 0.016, beyond the gate's
    band, yet the poses are consistent with the map (2.2 cm median): published, warned."""
    gate = RunDistortionGate()
    for i in range(40):
        d = DistortionFit(0.19 + (0.01 if i % 2 else -0.01), 0.01, -0.3, False, 585.0, 0.6838,
                          through_keyframes=True)
        assert gate.judge(_result(FocalFit(1.0, 0.002, 585.0, distortion=d))).success
    assert gate.settled()


def test_a_resumed_run_reads_the_fits_kind_and_older_lines_without_it():
    from mast3r_ros.replay.run_resume import _focal_fit

    rec = {"scale": 1.0, "sigma_log": 0.01, "fx_px": 585.0, "distortion": {
        "k1": 0.19, "sigma_k1": 0.01, "given_k1": -0.3, "given_zero": False, "fx_px": 585.0,
        "corner_r": 0.68}}
    assert _focal_fit(rec).distortion.through_keyframes is False     # a line before the field
    rec["distortion"]["through_keyframes"] = True
    assert _focal_fit(rec).distortion.through_keyframes is True


def test_a_new_camera_after_a_settled_run_fits_every_frame_again():
    """A settled run (the right camera: one frame in four fitted) whose CameraInfo then changes
    (a new D, a new K) starts its distortion evidence over; it also starts undecided: every
    frame of the new calibration is fitted until it settles in its own right (the old
    camera's settled verdict kept only one frame in four fitted)."""
    from mast3r_ros.core.types import CameraIntrinsics

    old = CameraIntrinsics(K=[585.0, 0, 319.5, 0, 585.0, 239.5, 0, 0, 1], width=640, height=480)
    new = CameraIntrinsics(K=[585.0, 0, 319.5, 0, 585.0, 239.5, 0, 0, 1], width=640, height=480,
                           dist=[-0.2, 0.0, 0.0, 0.0, 0.0])
    from mast3r_ros.core.distortion_evidence import distortion_camera

    fx, given, zero, r = distortion_camera(old.K, old.width, old.height, old.distortion_model,
                                           old.dist)
    gate = RunDistortionGate()
    for i in range(120):
        want = gate.wants_fit()
        fit = FocalFit(1.0, 0.002, fx, distortion=DistortionFit(
            0.01 if i % 2 else -0.01, 0.01, given, zero, fx, r)) if want else FocalFit(
                1.0, 0.002, fx)
        gate.judge(_result(fit), camera=old)
    assert gate.settled()
    gate.judge(_result(FocalFit(1.0, 0.002, 585.0)), camera=new)  # no fit on its first frame
    assert not gate.settled()
    assert all(gate.wants_fit() for _ in range(FIT_STRIDE + 1))


def _camera(d0=0.0):
    from mast3r_ros.core.types import CameraIntrinsics

    return CameraIntrinsics(K=[585.0, 0, 319.5, 0, 585.0, 239.5, 0, 0, 1], width=640,
                            height=480, dist=[d0, 0.0, 0.0, 0.0, 0.0])


def _camera_fit(cam, k1, i):
    from mast3r_ros.core.distortion_evidence import distortion_camera

    fx, given, zero, r = distortion_camera(cam.K, cam.width, cam.height,
                                           cam.distortion_model, cam.dist)
    return FocalFit(1.0, 0.002, fx, distortion=DistortionFit(
        k1 + (0.01 if i % 2 else -0.01), 0.01, given, zero, fx, r))


def test_a_new_cameras_first_frame_is_fitted_and_not_named_by_the_old_ones_fits():
    """The localizer asks `wants_fit` before the frame is judged: the frame's camera must
    restart the evidence there already. Before, a refusing run (k1 -0.26) whose CameraInfo was
    then corrected left the new camera's first frame unfitted three times in four, and
    `run_fit` handed the old camera's k1 to its focal reason."""
    old, new = _camera(), _camera(-0.2)
    for extra in range(FIT_STRIDE):  # whichever phase the stride is in
        gate = RunDistortionGate()
        for i in range(40 + extra):
            want = gate.wants_fit(old)
            gate.judge(_result(_camera_fit(old, -0.26, i) if want else
                               FocalFit(1.0, 0.002, 585.0)), camera=old)
        assert gate.settled() and gate.run_fit() is not None
        assert gate.wants_fit(new), extra
        assert gate.run_fit() is None


def test_a_resumed_run_fits_the_same_frames_as_a_run_in_one_go():
    """`Localizer.recall` judges a resumed run's recorded results without asking `wants_fit`;
    the stride counts judged frames, so the frames fitted after the resume are those a run in
    one go fitted (before: the count of `wants_fit` calls restarted at the resume, and another
    phase of frames was fitted: results.jsonl's fits and the evidence differed)."""
    cam = _camera()

    def live(gate, start, stop, fitted, results):
        for i in range(start, stop):
            want = gate.wants_fit(cam)
            fitted.append(want)
            r = gate.judge(_result(_camera_fit(cam, 0.0, i) if want else
                                   FocalFit(1.0, 0.002, 585.0)), camera=cam)
            results.append(r)

    fitted, results = [], []
    live(RunDistortionGate(), 0, 120, fitted, results)
    assert not all(fitted[60:])                  # settled by then: the stride is in effect
    for cut in (61, 62, 63, 64, 90):
        gate = RunDistortionGate()
        for r in results[:cut]:                  # recalled: judged, never asked
            gate.judge(r, camera=cam)
        after = []
        live(gate, cut, 120, after, [])
        assert after == fitted[cut:], cut


def test_recall_restarts_the_run_gates_on_the_recorded_frames_camera():
    """A resumed run whose CameraInfo had changed on frames without a fit judges them as a
    live run did: `Localizer.recall` passes the frame's camera to the principal point and
    distortion gates (before: only a fit restarted them, so the resumed run refused the new
    camera's frames on the old camera's fits)."""
    import threading
    import types

    from mast3r_ros.core.localizer.focal_run_gate import RunFocalGate
    from mast3r_ros.core.localizer.pipeline import Localizer
    from mast3r_ros.core.localizer.principal_point_run_gate import RunPrincipalPointGate

    old, new = _camera(), _camera(-0.2)
    host = types.SimpleNamespace(
        _lock=threading.Lock(), _focal_run=RunFocalGate(), _pp_run=RunPrincipalPointGate(),
        _dist_run=RunDistortionGate(),
        config=types.SimpleNamespace(gates=types.SimpleNamespace(max_focal_error=0.1)))
    for i in range(30):
        Localizer.recall(host, _result(_camera_fit(old, -0.26, i)), old)
    assert not host._dist_run.judge(_result(FocalFit(1.0, 0.002, 585.0))).success
    Localizer.recall(host, _result(FocalFit(1.0, 0.002, 585.0)), new)   # no fit, new camera
    assert host._dist_run.judge(_result(FocalFit(1.0, 0.002, 585.0))).success


def test_a_resumed_runs_recorded_frames_are_recalled_with_their_camera():
    """`localize_frames` hands each recorded frame's intrinsics to `Localizer.recall`."""
    from mast3r_ros.core.tracker import Tracker
    from mast3r_ros.core.types import Frame
    from mast3r_ros.replay.localize_run import localize_frames

    class _Recalling:
        def __init__(self):
            self.cameras = []

        def recall(self, result, camera=None):
            self.cameras.append(camera)

    cam = _camera()
    frames = [Frame(np.zeros((480, 640, 3), np.uint8), cam, (i + 1) * 10 ** 9)
              for i in range(2)]
    done = {i: LocalizationResult(True, f.stamp_ns, np.eye(4)) for i, f in enumerate(frames)}
    loc = _Recalling()
    assert len(list(localize_frames(loc, frames, Tracker(), done=done))) == 2
    assert loc.cameras == [cam, cam]


def test_a_resumed_held_camera_counts_its_recorded_unfit_frames():
    """A held principal point (a K for twice the resolution) whose recorded frames gave no
    principal point fit: after the resume the hold says it cannot be confirmed as a run in one
    go did (before: recall passed no camera, the count of unfit frames started over)."""
    import threading
    import types

    from mast3r_ros.core.localizer.focal_run_gate import RunFocalGate
    from mast3r_ros.core.localizer.pipeline import Localizer
    from mast3r_ros.core.localizer.principal_point_run_gate import (MAX_UNFIT_FRAMES,
                                                                    UNCONFIRMABLE_REASON,
                                                                    RunPrincipalPointGate)
    from mast3r_ros.core.types import CameraIntrinsics

    held = CameraIntrinsics(K=[1170.0, 0, 639.5, 0, 1170.0, 479.5, 0, 0, 1], width=640,
                            height=480)
    host = types.SimpleNamespace(
        _lock=threading.Lock(), _focal_run=RunFocalGate(), _pp_run=RunPrincipalPointGate(),
        _dist_run=RunDistortionGate(),
        config=types.SimpleNamespace(gates=types.SimpleNamespace(max_focal_error=0.1)))
    unfit = _result(FocalFit(1.0, 0.002, 1170.0))
    for _ in range(MAX_UNFIT_FRAMES):
        Localizer.recall(host, unfit, held)
    r = host._pp_run.judge(unfit, True, held)
    assert not r.success and r.reason.startswith(UNCONFIRMABLE_REASON), r.reason
