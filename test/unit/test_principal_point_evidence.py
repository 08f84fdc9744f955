"""The principal point the frames' inliers fit (`pnp.principal_point`), combined per run
(`core.principal_point_evidence`): metrics.json's camera_principal_point, the CLI's end-of-run
warning, the node's /diagnostics. Synthetic correspondences only (the redkitchen figures:
bench/bench_principal_point.py)."""

import json
import math
import warnings

import numpy as np
import pytest

from mast3r_ros.core.focal_evidence import FocalFit
from mast3r_ros.core.pnp.principal_point import refitted_principal_point
from mast3r_ros.core.principal_point_evidence import (PrincipalPointFit,
                                                      RunPrincipalPointEvidence)
from mast3r_ros.core.types import CameraIntrinsics, LocalizationResult

K = np.array([[500.0, 0, 320], [0, 500, 240], [0, 0, 1]])


def _scene(true_K, seed=0, n=300):
    """Points 1.5-5 m deep in view of the identity pose, their pixels through ``true_K``."""
    rng = np.random.default_rng(seed)
    X = np.c_[rng.uniform(-0.55, 0.55, n), rng.uniform(-0.4, 0.4, n), np.ones(n)]
    X *= rng.uniform(1.5, 5.0, n)[:, None]
    x = (X @ true_K.T)[:, :2] / X[:, 2:] + rng.normal(0, 0.5, (n, 2))
    return X, x, np.ones(n, bool)


def _shifted(dcx=0.0, dcy=0.0, scale=1.0):
    k = K.copy()
    k[:2, :2] *= scale
    k[0, 2] += dcx
    k[1, 2] += dcy
    return k


@pytest.mark.parametrize("dcx,dcy,scale", [(0, 0, 1.0), (-40, 0, 1.0), (0, 30, 1.0),
                                           (0, 0, 1.1)])
def test_the_fit_finds_the_offset_and_is_not_confused_by_the_focal_length(dcx, dcy, scale):
    X, x, mask = _scene(_shifted(dcx, dcy, scale))
    # the pose PnP would give under the given K is near; the fit starts from the true one
    fit = refitted_principal_point(np.eye(4), X, x, mask, K, 8.0)
    assert fit is not None
    got_x, got_y, sx, sy = fit
    assert 0 < sx < 3 and 0 < sy < 3, fit
    assert got_x == pytest.approx(dcx, abs=max(4 * sx, 1.0)), fit
    assert got_y == pytest.approx(dcy, abs=max(4 * sy, 1.0)), fit


def test_too_few_points_or_points_behind_are_not_judged():
    X, x, mask = _scene(K, n=11)
    assert refitted_principal_point(np.eye(4), X, x, mask, K, 8.0) is None
    X, x, mask = _scene(K)
    assert refitted_principal_point(np.eye(4), -X, x, mask, K, 8.0) is None


def test_the_focal_gate_hands_on_the_principal_point_fit():
    from mast3r_ros.core.localizer import query_checks

    cam = CameraIntrinsics(K=K.ravel().tolist(), width=640, height=480)
    X, x, mask = _scene(_shifted(-40))
    reason, fit = query_checks.focal_gate(0.05, cam, np.eye(4), X, x, mask, 8.0)
    pp = fit.principal_point
    assert reason == "" and (pp.cx_px, pp.cy_px) == (320.0, 240.0)
    assert pp.dcx_px == pytest.approx(-40, abs=2) and abs(pp.dcy_px) < 2


def _fits(dcx, dcy, n=8, fx=585.0, sigma=1.0):
    return [FocalFit(1.0, 0.01, fx, PrincipalPointFit(dcx + 0.3 * (-1) ** k, dcy - 0.2 * (-1) ** k,
                                                      sigma, sigma, 320.0, 240.0))
            for k in range(n)]


def test_the_run_says_the_principal_point_is_off_naming_the_cx_the_frames_fit():
    acc = RunPrincipalPointEvidence()
    for f in _fits(-39.5, 1.0):
        acc.add(f)
    acc.add(None)
    acc.add(FocalFit(1.0, 0.01, 585.0))  # no principal point fit: not judged
    ev = acc.evidence()
    assert len(acc) == 8 and ev.cx_off and not ev.cy_off and ev.off
    assert acc.tolerance_px == pytest.approx(585 * math.tan(math.radians(1)))
    w = acc.warning()
    assert "principal point looks wrong: over 8 frames the inliers fit cx 280.5 px" in w
    assert "not cx 320.0, cy 240.0 (cx -39.5 +-0.4 px;" in w and "cy -" not in w
    assert "recalibrate the camera" in w and "CameraInfo K" in w
    rep = acc.report()
    json.dumps(rep, allow_nan=False)
    assert rep["cx"]["fitted_px"] == pytest.approx(280.5) and rep["off"] and rep["warning"] == w


@pytest.mark.parametrize("dcx,dcy,sigma", [(0.0, 0.0, 1.0), (-8.0, 9.0, 0.2),
                                           (-12.0, 0.0, 5.0)])
def test_no_verdict_within_the_band_or_short_of_its_significance(dcx, dcy, sigma):
    """Within 1 deg of view (10.2 px at fx 585), or beyond it by less than 4 sigma (-12 +-
    1.8: 4 sigma reach back into the band), there is no verdict."""
    acc = RunPrincipalPointEvidence()
    for f in _fits(dcx, dcy, sigma=sigma):
        acc.add(f)
    assert not acc.evidence().off and acc.warning() == "" and acc.report()["warning"] is None


def test_another_camera_starts_the_evidence_over_and_too_few_frames_give_none():
    acc = RunPrincipalPointEvidence()
    for f in _fits(-40.0, 0.0):
        acc.add(f)
    for f in _fits(0.0, 0.0, n=4, fx=600.0):  # a new CameraInfo
        acc.add(f)
    assert len(acc) == 4 and acc.frames_restarted == 8
    ev = acc.evidence()
    assert ev.dcx.value is None and not ev.off and acc.report()["cx"]["offset_px"] is None


def _result(ok, fit):
    return LocalizationResult(ok, 1, np.eye(4) if ok else None, focal_fit=fit,
                              reason="" if ok else "x")


def test_metrics_the_table_and_the_end_of_run_warning():
    from mast3r_ros.replay.metrics import camera_warnings, summarize
    from mast3r_ros.replay.metrics_table import format_table

    m = summarize([_result(True, f) for f in _fits(-39.5, 1.0)])
    cp = m["camera_principal_point"]
    assert cp["off"] and cp["cx"]["off"] and not cp["cy"]["off"]
    warnings = camera_warnings(m)
    assert len(warnings) == 1 and warnings[0] == cp["warning"]
    assert "poses under it are biased" in warnings[0] and "3 deg of view off" in warnings[0]
    row = "cx 280.5 px (-39.5 +-0.4), cy 241.0 px (+1.0 +-0.4) fit, the camera's are 320.0"
    assert row in format_table(m)
    none = summarize([_result(False, f) for f in _fits(-39.5, 1.0)])
    assert "no pose was localized" in camera_warnings(none)[0]
    assert summarize([_result(True, FocalFit(1.0, 0.01, 585.0))])[
        "camera_principal_point"] is None


def test_results_jsonl_keeps_the_principal_point_for_a_resumed_run():
    from mast3r_ros.replay.localize_run import result_record
    from mast3r_ros.replay.run_resume import result_from_record

    fit = _fits(-39.5, 1.0)[0]
    line = json.loads(json.dumps(result_record(_result(True, fit)), allow_nan=False))
    assert line["focal_fit"]["principal_point"]["dcx_px"] == fit.principal_point.dcx_px
    assert result_from_record(line).focal_fit.principal_point == fit.principal_point


def test_the_node_diagnostics_warn_with_the_cx_the_frames_fit():
    from mast3r_ros.core.tracker import Track
    from mast3r_ros.ros.diagnostics import WARN, DiagnosticsWindow, FrameRecord

    d = DiagnosticsWindow()
    d.set_focal_tolerance(0.05)
    d.start(0.0)
    for k, f in enumerate(_fits(-39.5, 1.0)):
        d.add(FrameRecord(0.1 * k, True, 100, focal_fit=f))
    s = d.summary(1.0, Track.TRACKING, True)
    values = dict(s.values)
    assert values["principal_point_offset_px"] == "cx -39.5 +- 0.4, cy +1.0 +- 0.4 (8 / 8 frames)"
    assert values["principal_point_fitted_px"] == "280.5, 241.0"
    assert s.level == WARN and "principal point looks wrong" in s.message
    assert "the CameraInfo topic's K" in s.message
    d.set_focal_tolerance(0.05)  # configured again: started over
    assert dict(d.summary(1.1, Track.TRACKING, True).values)[
        "principal_point_offset_px"] == "not judged (0 frames)"


def test_the_jacobian_is_exact_away_from_the_start():
    """An approximate Jacobian (the left perturbation's, exact only at w = 0) let
    Levenberg-Marquardt crawl to its evaluation limit on half the synthetic walk's frames."""
    from mast3r_ros.core.pnp.linearise import _so3_exp
    from mast3r_ros.core.pnp.principal_point import _residuals_and_jacobian

    rng = np.random.default_rng(0)
    R0, t0 = _so3_exp(rng.normal(0, 0.3, 3)), rng.normal(0, 1, 3)
    X, xu = rng.uniform(-1, 1, (20, 3)) + [0, 0, 6], rng.uniform(0, 600, (20, 2))
    p = np.r_[rng.normal(0, 0.4, 3), rng.normal(0, 0.2, 3), 0.1, 3.0, -2.0]
    _, J = _residuals_and_jacobian(R0, t0, X, xu, K, p, True)
    num = np.empty_like(J)
    for i in range(9):
        e = np.eye(9)[i] * 1e-6
        num[:, i] = (_residuals_and_jacobian(R0, t0, X, xu, K, p + e, False)[0]
                     - _residuals_and_jacobian(R0, t0, X, xu, K, p - e, False)[0]) / 2e-6
    assert np.abs(J - num).max() < 1e-6 * np.abs(J).max()


def test_points_on_one_line_are_not_judged_and_print_no_numpy_warning():
    # a user saw `principal_point.py:141: RuntimeWarning: invalid value encountered in sqrt`
    # mid-run (localize of a few stereo-depth frames): a degenerate fit's covariance has a
    # negative diagonal; it is not judged (None), quietly
    n = 100
    X = np.c_[np.linspace(-0.5, 0.5, n), np.linspace(-0.4, 0.4, n), np.linspace(1.5, 5, n)]
    x = (X @ K.T)[:, :2] / X[:, 2:]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert refitted_principal_point(np.eye(4), X, x, np.ones(n, bool), K, 8.0) is None
