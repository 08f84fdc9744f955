"""`core.focal_evidence` at its edges, on frames whose values are chosen so that each statistic
is known by hand: the robust cut's threshold, the inverse-variance mean, chi^2 and its test, the
Birge ratio (inflating only), the verdict's band (1 +- tolerance on the scale, not symmetric in
log), its significance, the frame counts, and the accumulator's bookkeeping. Each pins a
mutation that the statistical tests of test_focal_evidence.py let through (a mutation audit)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mast3r_ros.core import focal_evidence as fe
from mast3r_ros.core.focal_evidence import FocalFit, RunFocalEvidence, combine_focal_scales


def _at(center, offsets, sigma=0.01):
    """Frames at log s = log(center) + sigma * offsets, each claiming ``sigma``."""
    y = math.log(center) + sigma * np.asarray(offsets, np.float64)
    return np.exp(y), np.full(len(y), sigma)


def test_the_combination_by_hand():
    """Five frames at 0 +- (2, 1, 0) sigma: mean 0, chi^2 10 over 4 dof (Birge ratio 2.5), the
    sigma 0.01 / sqrt(5) inflated by sqrt(2.5), p = Q(2, 5) = 6 e^-5 = 0.040: consistent."""
    ev = combine_focal_scales(*_at(1.0, [-2, -1, 0, 1, 2]), 0.05)
    assert ev.scale == pytest.approx(1.0, abs=1e-12)
    assert ev.chi2_per_dof == pytest.approx(2.5)
    assert ev.sigma_log == pytest.approx(0.01 / math.sqrt(5) * math.sqrt(2.5))
    assert ev.consistent is True and ev.frames_used == 5 and ev.frames_outliers == 0


def test_the_mean_is_weighted_by_inverse_variance():
    """Frames claiming a 4x smaller sigma weigh 16x: (16 * 0.02 + 0) / 17 in log."""
    s = np.exp([0.02, 0.02, 0.02, 0.0, 0.0, 0.0])
    sig = np.array([0.005, 0.005, 0.005, 0.02, 0.02, 0.02])
    ev = combine_focal_scales(s, sig, 0.5)
    assert math.log(ev.scale) == pytest.approx(16 * 0.02 / 17)


def test_sigmas_larger_than_the_scatter_are_not_deflated():
    """chi^2/dof 0.25 (the frames agree better than their sigmas say): the sigma stays 0.01 /
    sqrt(5); the Birge ratio only inflates."""
    ev = combine_focal_scales(*_at(1.0, [-0.5, -0.5, 0, 0.5, 0.5]), 0.05)
    assert ev.chi2_per_dof == pytest.approx(0.25)
    assert ev.sigma_log == pytest.approx(0.01 / math.sqrt(5))


@pytest.mark.parametrize("offsets, consistent", [
    ([-2, -2, 0, 2, 2], True),   # chi^2 16, 4 dof: p = Q(2, 8) = 9 e^-8 = 0.0030 >= 1e-3
    ([-3, -1, 0, 1, 3], False),  # chi^2 20: p = Q(2, 10) = 11 e^-10 = 0.00050 < 1e-3
])
def test_the_chi2_test_at_its_p_value(offsets, consistent):
    ev = combine_focal_scales(*_at(1.0, offsets), 0.05)
    assert ev.frames_used == 5 and ev.consistent is consistent
    assert ev.chi2_per_dof == pytest.approx(sum(o * o for o in offsets) / 4)


def test_the_outlier_cut_is_five_robust_sigma():
    """Median |z| 1 -> k = 1.4826, the cut at 7.41 sigma: a frame 7 sigma off stays, one 8 off
    goes (3 or 8 robust sigma, or a scatter scale without 1.4826, would keep or cut both)."""
    ev = combine_focal_scales(*_at(1.0, [-1, -1, -1, 0, 0, 0, 1, 1, 1, 7, -8]), 0.05)
    assert (ev.frames_judged, ev.frames_used, ev.frames_outliers) == (11, 10, 1)


def test_a_scatter_smaller_than_the_sigmas_does_not_tighten_the_cut():
    """Frames agreeing within 0.1 sigma: k stays 1 (not 0.15), so a frame 3 of its sigmas off is
    no outlier."""
    ev = combine_focal_scales(*_at(1.0, [-0.1, 0, 0, 0.1, 3]), 0.05)
    assert ev.frames_used == 5 and ev.frames_outliers == 0


def test_min_frames_give_a_verdict_and_fewer_left_after_the_cut_do_not():
    ev = combine_focal_scales(*_at(0.8, [0] * fe.MIN_FRAMES), 0.05)
    assert ev.frames_used == fe.MIN_FRAMES and ev.fx_off
    # one of five is an outlier: four frames used, the scale said but no verdict
    ev = combine_focal_scales(*_at(0.8, [0, 0, 0, 0, 9]), 0.05)
    assert ev.frames_used == fe.MIN_FRAMES - 1 and ev.frames_outliers == 1
    assert ev.scale == pytest.approx(0.8) and not ev.fx_off


@pytest.mark.parametrize("center, off", [(1.051, True), (1.049, False), (0.951, False),
                                         (0.949, True)])
def test_the_band_is_one_plus_minus_the_tolerance_on_the_scale(center, off):
    """The gate's band [0.95, 1.05], not +-log(1.05) (0.9524 below) nor +-log(0.95) (1.0526
    above): precise frames just inside and outside each edge."""
    ev = combine_focal_scales(*_at(center, [0] * 8, sigma=1e-5), 0.05)
    assert ev.fx_off is off


def test_a_mean_below_the_band_whose_interval_reaches_into_it_is_not_called_wrong():
    """0.94x, sigma 0.89 % after the Birge inflation: 4 sigma up reaches 0.974, inside the band
    (a 4-sigma interval taken downwards only would call it)."""
    ev = combine_focal_scales(*_at(0.94, [-2, -2, 0, 2, 2]), 0.05)
    assert ev.scale == pytest.approx(0.94) and not ev.fx_off
    assert math.exp(math.log(ev.scale) + 4 * ev.sigma_log) > 0.95


def test_the_verdict_is_at_four_sigma():
    """1.083x +- 0.89 %: clear of 1.05 at 3 sigma, not at 4."""
    s, sig = _at(1.0834, [-2, -2, 0, 2, 2])
    assert not combine_focal_scales(s, sig, 0.05).fx_off
    assert combine_focal_scales(s, sig, 0.05, significance=3.0).fx_off


@pytest.mark.parametrize("tolerance", [1.0, 1.5])
def test_a_tolerance_of_100_percent_or_more_judges_only_too_large(tolerance):
    """gates.max_focal_error takes up to 10: no scale is 100 % too small (log1p(-1) would
    raise)."""
    assert not combine_focal_scales(*_at(0.3, [0] * 6), tolerance).fx_off
    assert combine_focal_scales(*_at(3.0, [0] * 6), tolerance).fx_off


def test_zero_and_infinite_scales_are_not_judged():
    s, sig = _at(0.8, [0] * 5)
    ev = combine_focal_scales(np.append(s, [0.0, np.inf]), np.append(sig, [0.01, 0.01]), 0.05)
    assert ev.frames_judged == 5 and ev.scale == pytest.approx(0.8)


def test_the_accumulator_restarts_at_each_fx_change_and_counts_every_drop():
    acc = RunFocalEvidence(0.05)
    for fx, n in ((500.0, 6), (400.0, 3), (450.0, 2)):
        for _ in range(n):
            acc.add(FocalFit(0.8, 0.01, fx))
    # the 3 fits at fx 400 are gone (not evicted: unbounded); 6 + 3 dropped
    assert len(acc) == 2 and acc.frames_restarted == 9
    rep = acc.report()
    assert rep["frames_before_fx_change"] == 9 and rep["frames_fitted"] == 2
    assert rep["frames_judged"] == 2 and rep["fx_px"] == 450.0


def test_the_report_counts_outliers_and_the_node_keeps_the_last_300():
    acc = RunFocalEvidence(0.05)
    s, sig = _at(1.0, [-1, -1, -1, 0, 0, 0, 1, 1, 1, 7, -8, math.nan])
    for a, b in zip(s, sig):
        acc.add(FocalFit(float(a), float(b), 500.0))
    rep = acc.report()
    assert (rep["frames_fitted"], rep["frames_judged"], rep["frames_used"],
            rep["frames_outliers"]) == (12, 11, 10, 1)
    assert rep["consistent"] is False and rep["scale_sigma"] == pytest.approx(
        acc.evidence().sigma_log)
    acc.clear()
    assert len(acc) == 0 and acc.report()["fx_px"] is None
    node = RunFocalEvidence(0.05, fe.NODE_MAX_FRAMES)
    for _ in range(fe.NODE_MAX_FRAMES + 50):
        node.add(FocalFit(1.0, 0.01, 500.0))
    assert len(node) == fe.NODE_MAX_FRAMES == 300


def test_the_warning_gives_the_sigma_in_percent():
    ev = combine_focal_scales(*_at(0.8, [-2, -2, 0, 2, 2]), 0.05)
    assert "(0.800x, +-0.9 %;" in fe.focal_warning(ev, 500.0)


# --------------------------------------------------------------------------------------------
# where the evidence is used: metrics.json's row, results.jsonl, /diagnostics, the focal gate


def _result(ok, fit):
    from mast3r_ros.core.types import LocalizationResult

    return LocalizationResult(ok, 1, np.eye(4) if ok else None, focal_fit=fit,
                              reason="" if ok else "the camera's focal length does not fit (x)")


def test_the_summary_row_by_hand():
    """Five fits at 0.8x (+-0.01 each: 0.45 % together), one 9 sigma off (an outlier), three of
    them localized, two more frames localized without a fit (not judged: not counted)."""
    from mast3r_ros.replay.metrics import summarize
    from mast3r_ros.replay.metrics_table import format_table

    fits = [FocalFit(0.8, 0.01, 500.0)] * 5 + [FocalFit(0.8 * math.exp(0.09), 0.01, 500.0)]
    res = [_result(i < 3, f) for i, f in enumerate(fits)] + [_result(True, None)] * 2
    m = summarize(res)
    assert m["camera_focal"]["frames_passed"] == 3
    (row,) = [ln for ln in format_table(m).splitlines() if "camera focal length" in ln]
    assert row.endswith("0.800x +-0.4 %: fx 400.0 px fits, the camera's is 500.0 (5 frames, "
                        "1 more left out as an outlier; 3 passed the per-frame gate): WRONG, "
                        "see the warning"), row
    m = summarize(res[:3])
    (row,) = [ln for ln in format_table(m).splitlines() if "camera focal length" in ln]
    assert row.endswith("3 frames judged: too few for a verdict (fx 500.0 px)"), row


def test_a_frame_record_is_strict_json_without_an_observable_fit():
    """sigma inf (points at one depth) is written null: json's 'Infinity' is no JSON (jq,
    other readers refuse it)."""
    import json

    from mast3r_ros.replay.localize_run import result_record

    rec = result_record(_result(True, FocalFit(1.0, math.inf, 585.0)))
    assert json.loads(json.dumps(rec, allow_nan=False))["focal_fit"] == {
        "scale": 1.0, "fx_px": 585.0, "sigma_log": None}


def test_diagnostics_keep_the_last_300_fits_and_count_the_frames_used():
    from mast3r_ros.core.tracker import Track
    from mast3r_ros.ros.diagnostics import DiagnosticsWindow, FrameRecord

    for configured in (False, True):
        d = DiagnosticsWindow()
        if configured:
            d.set_focal_tolerance(0.05)
        d.start(0.0)
        for k in range(fe.NODE_MAX_FRAMES + 20):
            d.add(FrameRecord(0.001 * k, True, 100, focal_fit=FocalFit(1.0, 0.01, 500.0)))
        assert len(d.focal) == fe.NODE_MAX_FRAMES, configured
    d = DiagnosticsWindow()
    d.start(0.0)
    for k, f in enumerate([FocalFit(0.8, 0.01, 500.0)] * 5 + [FocalFit(0.5, 0.01, 500.0)]):
        d.add(FrameRecord(0.1 * k, True, 100, focal_fit=f))
    values = dict(d.summary(1.0, Track.TRACKING, True).values)
    assert values["focal_scale"] == "0.800 +- 0.4 % (5 frames)", values


def test_the_gate_hands_on_its_fit_as_fitted():
    """The FocalFit is refitted_focal_scale's (s, sigma) and the camera's fx (not fy)."""
    from mast3r_ros.core.blas_threads import single_blas_thread
    from mast3r_ros.core.localizer import query_checks
    from mast3r_ros.core.pnp.focal import refitted_focal_scale
    from mast3r_ros.core.types import CameraIntrinsics

    cam = CameraIntrinsics(K=[500, 0, 320, 0, 540, 240, 0, 0, 1], width=640, height=480)
    rng = np.random.default_rng(1)
    X = rng.uniform([-1, -1, 2], [1, 1, 4], (200, 3))
    K = cam.K * np.array([[0.97, 1, 1], [1, 0.97, 1], [1, 1, 1]])
    x = (X @ K.T)[:, :2] / X[:, 2:] + rng.normal(0, 0.5, (200, 2))
    mask = np.ones(len(X), bool)
    reason, fit = query_checks.focal_gate(0.05, cam, np.eye(4), X, x, mask, 5.0)
    with single_blas_thread():  # as the gate fits (numpy 1.21's OpenBLAS differs in the last
        # digits with its threads)
        s, sigma = refitted_focal_scale(np.eye(4), X, x, mask, cam.K, 5.0,
                                        query_checks.FOCAL_MAX_POINTS)
    assert reason == "" and fit == FocalFit(s, sigma, 500.0)


def test_the_summary_row_counts_the_outlier_fits_it_left_out():
    """A 20-frame bag run printed '(19 frames, 20 passed the per-frame gate)': more frames
    passed than were counted, with nothing saying that one fit was left out as an outlier."""
    from mast3r_ros.replay.metrics import summarize
    from mast3r_ros.replay.metrics_table import format_table

    fits = [FocalFit(1.0, 0.01, 500.0)] * 5 + [FocalFit(math.exp(0.09), 0.01, 500.0)]
    m = summarize([_result(True, f) for f in fits])
    (row,) = [ln for ln in format_table(m).splitlines() if "camera focal length" in ln]
    assert ("(5 frames, 1 more left out as an outlier; 6 passed the per-frame gate)"
            in row), row


def test_a_k_jittering_in_its_last_digits_is_one_calibration_for_the_focal_evidence():
    """A driver whose fx jitters in its last digits (585.0, 585.001, ...) started the run's focal
    evidence over at every frame (1e-9), so the focal run gate never had a verdict; within 1e-4
    it is one calibration, and a real new fx still starts it over."""
    from mast3r_ros.core.focal_evidence import FocalFit, RunFocalEvidence

    run = RunFocalEvidence(0.05)
    for i in range(8):
        run.add(FocalFit(1.2, 0.01, 585.0 + 0.001 * (i % 2)))
    assert len(run) == 8 and run.evidence().fx_off
    run.add(FocalFit(1.2, 0.01, 600.0))
    assert len(run) == 1 and run.frames_restarted == 8
