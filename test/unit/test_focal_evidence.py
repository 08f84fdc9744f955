"""Run-level focal-length evidence (`core.focal_evidence`): the frames' fitted focal scales
combined, so that a wrong fx is said once per run even where the per-frame gate
(``gates.max_focal_error``) lets some frames through.

Per-frame values here are fabricated: the combination and its guards. What a localize run
reports of it: test_focal_run_report.py.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from mast3r_ros.core import focal_evidence as fe
from mast3r_ros.core.focal_evidence import FocalFit, RunFocalEvidence, combine_focal_scales
from mast3r_ros.core.types import CameraIntrinsics


def _frames(log_mean, scatter, sigma, n, seed=0):
    """``n`` frames' (scales, sigmas): log s drawn about ``log_mean`` with sd ``scatter``, each
    claiming ``sigma``."""
    rng = np.random.default_rng(seed)
    return np.exp(rng.normal(log_mean, scatter, n)), np.full(n, sigma)


def test_a_right_calibration_is_not_called_wrong():
    s, sig = _frames(0.0, 0.01, 0.01, 40)
    ev = combine_focal_scales(s, sig, 0.05)
    assert ev.scale == pytest.approx(1.0, abs=0.005) and not ev.fx_off
    assert ev.frames_used == 40 and ev.consistent


def test_frames_that_each_pass_the_gate_add_up_to_a_wrong_focal_length():
    """fx 10 % too large: each frame 0.91 +- 0.03 (|log s| < 4 sigma: each passes the per-frame
    gate), 30 together are clear."""
    s, sig = _frames(math.log(0.91), 0.03, 0.03, 30)
    assert not (np.abs(np.log(s)) > 4 * sig).all()  # the per-frame gate passes some
    ev = combine_focal_scales(s, sig, 0.05)
    assert ev.scale == pytest.approx(0.91, rel=0.02) and ev.fx_off
    assert ev.sigma_log == pytest.approx(0.03 / math.sqrt(30), rel=0.3)
    warning = fe.focal_warning(ev, 585.0)
    assert f"fit fx {ev.scale * 585:.1f} px, not 585.0" in warning, warning
    assert "CameraInfo" in warning and "camera.yaml" in warning and "cropped" in warning


def test_confident_outlier_frames_do_not_move_the_estimate():
    """8 of 38 frames (a wrong keyframe, a wall) claim 0.70 at 0.5 %: an inverse-variance mean
    would follow them (to ~0.80, 'fx wrong'), as would a weighted median (they hold most of the
    weight); the median over frames and the cut do not."""
    s, sig = _frames(0.0, 0.01, 0.01, 30)
    s = np.concatenate([s, np.full(8, 0.70)])
    sig = np.concatenate([sig, np.full(8, 0.005)])
    naive = np.exp(np.sum(np.log(s) / sig ** 2) / np.sum(1 / sig ** 2))
    assert naive < 0.9
    ev = combine_focal_scales(s, sig, 0.05)
    assert ev.frames_outliers == 8 and ev.frames_used == 30
    assert ev.scale == pytest.approx(1.0, abs=0.01) and not ev.fx_off


def test_sigmas_that_understate_the_scatter_are_inflated():
    """20 frames at 1.065 scattering 3 % each claiming 0.3 %: the claimed sigmas would put the
    combination at 1.065 +- 0.07 % (5 % off at 20 sigma); their scatter says +- 0.7 %, not
    clear of the 5 % tolerance at 4 sigma, and not consistent."""
    s, sig = _frames(math.log(1.065), 0.03, 0.003, 20, seed=3)
    ev = combine_focal_scales(s, sig, 0.05)
    assert ev.chi2_per_dof > 50 and ev.consistent is False
    assert ev.sigma_log == pytest.approx(0.03 / math.sqrt(20), rel=0.4)
    assert not ev.fx_off
    assert ev.frames_outliers <= 1  # the cut scales with the robust scatter, not the sigmas


def test_a_significant_error_within_the_tolerance_is_not_called_wrong():
    s, sig = _frames(math.log(1.03), 0.001, 0.001, 50)
    ev = combine_focal_scales(s, sig, 0.05)
    assert ev.scale == pytest.approx(1.03, rel=1e-3) and not ev.fx_off
    assert combine_focal_scales(s, sig, 0.02).fx_off  # a tighter gate: it is


@pytest.mark.parametrize("log_mean", [math.log(1.2), math.log(0.85)])
def test_both_directions(log_mean):
    s, sig = _frames(log_mean, 0.02, 0.02, 10)
    assert combine_focal_scales(s, sig, 0.05).fx_off


def test_too_few_frames_and_unobservable_frames_give_no_verdict():
    s, sig = _frames(math.log(0.8), 0.01, 0.01, fe.MIN_FRAMES - 1)
    s = np.concatenate([s, [1.0, 1.0, np.nan]])
    sig = np.concatenate([sig, [np.inf, 0.0, 0.01]])  # a wall, a degenerate fit, a NaN
    ev = combine_focal_scales(s, sig, 0.05)
    assert ev.frames_judged == fe.MIN_FRAMES - 1 and ev.scale is None and not ev.fx_off
    with pytest.raises(ValueError, match="3 scales but 2 sigmas"):
        combine_focal_scales([1, 1, 1], [1, 1], 0.05)


def test_the_accumulator_starts_over_for_another_fx_and_stays_bounded():
    acc = RunFocalEvidence(0.05, max_frames=10)
    for _ in range(8):
        acc.add(FocalFit(0.8, 0.01, 500.0))
    acc.add(None)  # a frame not judged
    assert len(acc) == 8 and acc.evidence().fx_off
    assert "fit fx 400.0 px, not 500.0" in acc.warning()
    for _ in range(12):
        acc.add(FocalFit(1.0, 0.01, 400.0))  # recalibrated: the new fx is right
    assert len(acc) == 10 and acc.frames_restarted == 8 and acc.fx_px == 400.0
    assert not acc.evidence().fx_off and acc.warning() == ""
    rep = acc.report()
    assert rep["fx_fitted_px"] == pytest.approx(400.0) and rep["warning"] is None
    json.dumps(rep)  # JSON-ready


def test_the_gate_off_costs_no_fit_and_on_returns_the_fit(monkeypatch):
    from mast3r_ros.core.localizer import query_checks

    cam = CameraIntrinsics(K=[500, 0, 320, 0, 500, 240, 0, 0, 1], width=640, height=480)
    rng = np.random.default_rng(0)
    X = rng.uniform([-1, -1, 2], [1, 1, 4], (200, 3))
    K = cam.K * np.array([[1.1, 1, 1], [1, 1.1, 1], [1, 1, 1]])
    x = (X @ K.T)[:, :2] / X[:, 2:] + rng.normal(0, 0.5, (200, 2))
    mask = np.ones(len(X), bool)
    reason, fit = query_checks.focal_gate(0.05, cam, np.eye(4), X, x, mask, 5.0)
    assert "they fit 1.10x" in reason and fit.fx_px == 500.0
    assert fit.scale == pytest.approx(1.1, rel=0.01) and 0 < fit.sigma_log < 0.01
    monkeypatch.setattr(query_checks, "refitted_focal_scale",
                        lambda *a, **k: pytest.fail("fitted with the gate off"))
    assert query_checks.focal_gate(0.0, cam, np.eye(4), X, x, mask, 5.0) == ("", None)
