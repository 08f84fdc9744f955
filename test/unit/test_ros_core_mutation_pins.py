"""Pins for mutants of the ROS-free node modules and the core tracker / uncertainty /
localizer checks that survived their own tests (mutation audit 2026-12-07; the survivors and
why each matters are in docs/bench/mutation_cpu_2026-12-07)."""

from __future__ import annotations

import logging
import re
import struct
import warnings

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from mast3r_ros.core.config import TrackingConfig
from mast3r_ros.core.errors import InputError
from mast3r_ros.core.focal_evidence import FocalFit
from mast3r_ros.core.geometry import make_pose
from mast3r_ros.core.localizer import query_checks as qc
from mast3r_ros.core.localizer import results as lr
from mast3r_ros.core.tracker import Track
from mast3r_ros.core.types import CameraIntrinsics, Frame, LocalizationResult
from mast3r_ros.core.uncertainty import pointmap_point_covariance
from mast3r_ros.replay import metrics, metrics_table
from mast3r_ros.ros import admission
from mast3r_ros.ros import diagnostics as diag
from mast3r_ros.ros import odometry_gate as og


def test_odometry_never_vouches_while_the_gate_is_off():
    # odom_gate_translation_m 0 turns the gate off: every pose then needs confirm_frames,
    # however tight the prediction (`>= 0.0` for `> 0.0` accepted them unconfirmed)
    off = TrackingConfig(odom_gate_translation_m=0.0)
    assert not og.vouches(off, og.Tolerance(0.0, 0.0))
    assert og.vouches(TrackingConfig(), og.Tolerance(0.0, 0.0))


def test_pointmap_covariance_of_no_points_is_an_empty_stack_without_warnings():
    # a keyframe whose matched points are all invalid (mast3r.py keeps none): (0, 3, 3), not
    # None (removing the early return also gave np.mean's empty-slice RuntimeWarning)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        S = pointmap_point_covariance(np.zeros((0, 3)), np.zeros(0))
    assert isinstance(S, np.ndarray) and S.shape == (0, 3, 3)


def test_pointmap_covariance_default_alpha_is_the_training_value():
    # alpha = 0.2 (module docstring): sigma = 0.2 * mean |p| / conf
    S = pointmap_point_covariance(np.array([[0.0, 0.0, 2.0], [0.0, 0.0, 4.0]]),
                                  np.array([2.0, 2.0]))
    assert S.shape == (2, 3, 3)
    np.testing.assert_allclose(np.sqrt(S[:, 0, 0]), [0.2 * 3.0 / 2.0] * 2)


def _gate_with_fit(monkeypatch, s, sigma, max_error=0.05):
    monkeypatch.setattr(qc, "refitted_focal_scale", lambda *a, **k: (s, sigma))
    cam = CameraIntrinsics(K=np.array([[500.0, 0, 320], [0, 500, 240], [0, 0, 1]]),
                           width=640, height=480)
    return qc.focal_gate(max_error, cam, np.eye(4), np.zeros((8, 3)), np.zeros((8, 2)),
                         np.ones(8, bool), 3.0)


def test_the_focal_gate_fails_a_frame_at_four_sigma_not_two_or_eight(monkeypatch):
    # fitted 1.2x (log 0.182): failed at sigma 3 % (6.1 sigma), passed at sigma 5 % (3.6
    # sigma); FOCAL_SIGNIFICANCE 8 passed the first, 2 failed the second
    reason, fit = _gate_with_fit(monkeypatch, 1.2, 0.03)
    assert reason.startswith("the camera's focal length does not fit the inliers")
    assert "fx 600.0 px, not 500.0" in reason and fit.scale == 1.2 and fit.fx_px == 500.0
    reason, fit = _gate_with_fit(monkeypatch, 1.2, 0.05)
    assert reason == "" and fit.sigma_log == 0.05


def test_a_query_distortion_is_warned_about_past_one_and_a_half_pixels(caplog):
    # k1 0.0047 moves the corners 1.2 px from an undistorted map camera's (not warned), k1
    # 0.008 2.0 px (warned); the threshold doubled or halved swapped one of them
    K = np.array([[500.0, 0, 320], [0, 500, 240], [0, 0, 1]])
    map_dists = [(640, 480, "plumb_bob", np.zeros(5))]
    said = []
    for k1 in (0.0047, 0.008):
        cam = CameraIntrinsics(K=K, width=640, height=480, dist=np.array([k1, 0, 0, 0, 0.0]))
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger=qc.log.name):
            qc._warn_distortion_mismatch(cam, map_dists)
        said.append([r.getMessage() for r in caplog.records])
    assert said[0] == []
    (msg,) = said[1]
    assert "moves pixels by up to 2.0 px" in msg and "closest: none" in msg


def test_the_focal_gate_needs_both_off_by_more_than_the_tolerance_and_significant(monkeypatch):
    # `or` -> `and` failed a frame off by 20 % but not significant (above) and one significant
    # but within the tolerance (3 % at sigma 0.1 %)
    assert _gate_with_fit(monkeypatch, 1.2, 0.06)[0] == ""
    assert _gate_with_fit(monkeypatch, 1.03, 0.001)[0] == ""
    assert _gate_with_fit(monkeypatch, 1.03, 0.001, max_error=0.02)[0] != ""


def test_a_distortion_check_that_raises_costs_no_frame(monkeypatch):
    def broken(*a, **k):
        raise ValueError("cv2 says no")
    monkeypatch.setattr(qc, "distortion_shift_px", broken)
    cam = CameraIntrinsics(K=np.array([[500.0, 0, 320], [0, 500, 240], [0, 0, 1]]),
                           width=640, height=480)
    assert qc._warn_distortion_mismatch(cam, [(640, 480, "plumb_bob", np.zeros(5))]) is None


def test_localize_refuses_a_frame_without_intrinsics_by_name():
    frame = Frame(np.zeros((4, 4, 3), np.uint8), None, 1)
    with pytest.raises(InputError, match="frame has no camera intrinsics: pass a CameraInfo"):
        qc._checked_frame(frame)


def _skew_warnings(caplog, skew):
    K = np.array([[500.0, skew, 320], [0, 400, 100], [0, 0, 1]])
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger=qc.log.name):
        qc._warn_ignored_skew(CameraIntrinsics(K=K, width=640, height=480))
    return [r.getMessage() for r in caplog.records]


def test_the_skew_warning_names_the_skew_and_the_shift_at_the_farther_row(caplog):
    # shift = |skew| * max(cy, h - 1 - cy) / fy = 1.0 * 379 / 400 = 0.95 px (warned); no skew,
    # or 0.5 (0.47 px), is not warned about
    (msg,) = _skew_warnings(caplog, -1.0)
    assert "skew K[0,1] = -1," in msg and "moving pixels by up to 0.9 px" in msg
    assert _skew_warnings(caplog, 0.0) == [] and _skew_warnings(caplog, 0.5) == []


# ---- ros/diagnostics.py


def test_diagnostic_levels_are_diagnostic_msgs_bytes():
    # DiagnosticStatus OK 0, WARN 1, ERROR 2, STALE 3: another value is another level on
    # /diagnostics (the robot monitor showed a WARN as OK with WARN = 0)
    assert (diag.OK, diag.WARN, diag.ERROR, diag.STALE) == (0, 1, 2, 3)


def _focal_run(window, scale, t0=0.0):
    window.start(t0)
    for k in range(12):
        window.add(diag.FrameRecord(t0 + 0.1 * k, True, 100, focal_fit=FocalFit(
            scale * (1 + 0.01 * (-1) ** k), 0.02, 525.0)))
    return window.summary(t0 + 1.3, Track.TRACKING, True)


def test_the_focal_warning_judges_against_0_05_until_configured_otherwise():
    # 10 % off: WARN against the default 5 % (gates.max_focal_error's default), 6 % off OK
    # (not past 5 % by its 4 sigma; WARN against 2.5 %), 10 % OK once the node configures 15 %
    # (set_focal_tolerance without its assignment kept 5 %)
    assert _focal_run(diag.DiagnosticsWindow(), 0.9).level == diag.WARN
    assert _focal_run(diag.DiagnosticsWindow(), 0.94).level == diag.OK
    d = diag.DiagnosticsWindow()
    d.set_focal_tolerance(0.15)
    assert _focal_run(d, 0.9).level == diag.OK


def test_no_images_is_warned_about_after_five_seconds_by_default():
    d = diag.DiagnosticsWindow()
    d.start(0.0)
    assert d.summary(4.9, Track.UNINITIALIZED, True).message == "not localized yet"
    assert d.summary(5.1, Track.UNINITIALIZED, True).message.startswith("no images for 5.1 s")


def test_an_unexpected_error_is_the_level_for_ten_seconds_by_default():
    d = diag.DiagnosticsWindow()
    d.start(0.0)
    d.note_error(1.0, "executor: bang")
    assert d.summary(10.9, Track.TRACKING, True).level == diag.ERROR
    assert d.summary(11.5, Track.TRACKING, True).level != diag.ERROR


def test_a_cleanup_during_configure_ends_configuring():
    # a configure that failed while building the model: cleaned_up() must stop 'configuring'
    d = diag.DiagnosticsWindow()
    d.configuring_since_s = 1.0
    d.cleaned_up()
    s = d.summary(9.0, Track.UNINITIALIZED, active=False)
    assert dict(s.values)["state"] == "inactive" and s.message.startswith("not active")


def test_a_finalized_node_is_told_to_restart_not_to_configure():
    d = diag.DiagnosticsWindow()
    d.finalized = True
    s = d.summary(1.0, Track.UNINITIALIZED, active=False)
    assert s.level == diag.WARN and s.message.startswith("shut down (lifecycle state finalized)")
    assert dict(s.values)["state"] == "finalized"


def test_counts_start_at_zero_and_executor_errors_count():
    d = diag.DiagnosticsWindow()
    values = dict(d.summary(0.0, Track.UNINITIALIZED, active=False).values)
    for key in ("frames_refused", "frames_processed", "frames_localized", "errors", "resets"):
        assert values[key] == "0", key
    d.start(0.0)
    d.note_error(1.0, "TF timer: boom")
    d.note_error(2.0, "executor: bang")
    s = d.summary(2.5, Track.TRACKING, True)
    assert dict(s.values)["errors"] == "2" and s.level == diag.ERROR
    assert s.message == "unexpected error (traceback in the log): executor: bang"


# ---- replay/metrics.py


def _rz(deg, t):
    return make_pose(Rotation.from_euler("z", deg, degrees=True).as_matrix(), t)


def _path(n=12, noise_m=0.01):
    rng = np.random.default_rng(0)
    truth = np.stack([_rz(15 * i, [0.3 * i, 0.1 * np.sin(i), 0.05 * i]) for i in range(n)])
    res = []
    for i, T in enumerate(truth):
        est = T.copy()
        est[:3, 3] += rng.normal(0.0, noise_m, 3)
        res.append(LocalizationResult(True, i, est, None))
    return res, truth


@pytest.mark.parametrize("per_metre, unit", [(1e-3, "kilometres"), (100.0, "centimetres")])
def test_ground_truth_in_kilometres_or_centimetres_is_named_with_the_scale(per_metre, unit):
    res, gt = _path()
    gt[:, :3, 3] *= per_metre
    m = metrics.summarize(res, gt)
    assert m["frame_offset"]["scale"] == pytest.approx(1.0 / per_metre, rel=0.05)
    (row,) = [ln for ln in metrics_table.format_table(m).splitlines() if "ground truth frame" in ln]
    assert f"{unit}?" in row


def test_ground_truth_at_one_place_gives_no_offset_and_no_warning():
    res, gt = _path()
    gt[:] = _rz(0, [5.0, 0.0, 0.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = metrics.summarize(res, gt)
    assert m["translation_error_m"]["median"] > 1.0 and m["frame_offset"] is None


def test_a_run_without_unreadable_frames_counts_none_and_prints_no_row():
    res, gt = _path(n=3)
    m = metrics.summarize(res, gt)
    assert m["unreadable_frames"] == 0
    assert "unreadable" not in metrics_table.format_table(m)


def test_one_cold_frame_is_said_as_the_first_frame_not_one_process():
    res, _ = _path(n=3)
    for r in res:
        r.timings_s = {"total": 0.1}
    m = metrics.summarize(res, None, warmed_up=False)
    assert m["latency_left_out"] == {
        "frames": 1, "why": "no warm-up: the first frame localized pays the one-time costs"}


def test_the_table_prints_rotation_errors_in_degrees_unscaled():
    gt = np.stack([_rz(0, [float(i), 0.0, 0.0]) for i in range(3)])
    res = [LocalizationResult(True, i, _rz(1.0, [float(i), 0.0, 0.0]), None) for i in range(3)]
    (row,) = [ln for ln in metrics_table.format_table(metrics.summarize(res, gt)).splitlines()
              if "rotation error median" in ln]
    assert row.endswith("1.00 deg / 1.00 deg / 1.00 deg")


def test_the_table_prints_the_recall_at_each_threshold():
    gt = np.stack([_rz(0, [float(i), 0.0, 0.0]) for i in range(4)])
    res = [LocalizationResult(True, i, _rz(3.0, [float(i), 0.0, 0.0]), None) for i in range(4)]
    table = metrics_table.format_table(metrics.summarize(res, gt))
    assert re.search(r"recall 5cm_5deg +100\.0 %", table)
    assert re.search(r"recall 25cm_2deg +0\.0 %", table)


# ---- core/localizer/results.py


def test_the_matches_of_a_frame_without_correspondences_are_empty_arrays():
    # the debug picture of a frame no keyframe matched: (0, 2) pixels and (0,) int64 indices
    m = lr._match_debug(np.zeros((0, 2)), [], [], np.zeros(0, bool))
    assert m.keyframe_xy.shape == (0, 2) and m.keyframe_xy.dtype == np.float64
    assert m.keyframe_index.shape == (0,) and m.keyframe_index.dtype == np.int64


class _Counting:
    name = "sift"

    def __init__(self, n):
        self.n = n

    def query_feature_count(self, state):
        return self.n


def test_the_no_match_reason_blames_the_image_only_below_what_is_needed():
    reason = "too few correspondences (5 < 6)"
    # a matcher that does not count its query features (mast3r): the reason as it is
    assert lr._no_match_reason(object(), None, reason, 6, False) == reason
    assert lr._no_match_reason(_Counting(6), None, reason, 6, False) == (
        f"{reason}; the query image has 6 sift keypoints")
    # need == PnP's minimum: no gates.min_inliers named
    assert lr._no_match_reason(_Counting(5), None, reason, 6, False) == (
        "too few features in the query image (5 < 6 sift keypoints: dark, overexposed, blank "
        "or out of focus?)")


# ---- ros/admission.py: the JPEG header's frame size


def _sof(marker, w, h):
    # SOFn: length 11 (8 + 3 for one component), precision 8, height, width, 1 component
    return bytes([0xFF, marker]) + struct.pack(">HBHHB", 11, 8, h, w, 1) + b"\x01\x11\x00"


@pytest.mark.parametrize("not_sof", [0xC8, 0xCC])
def test_jpg_and_dac_segments_are_not_read_as_the_frame_size(not_sof):
    # JPG (C8) and DAC (CC) lie in the SOF range but carry no size; the SOF0 after them does
    head = b"\xff\xd8" + bytes([0xFF, not_sof]) + struct.pack(">HHH", 6, 999, 999)
    assert admission.compressed_image_size(head + _sof(0xC0, 640, 480)) == (640, 480)


def test_sof15_carries_the_frame_size_and_a_cut_sof_gives_none():
    assert admission.compressed_image_size(b"\xff\xd8" + _sof(0xCF, 320, 240)) == (320, 240)
    # a SOF cut inside its width: no size (the decoder decides), not a struct.error
    assert admission.compressed_image_size(b"\xff\xd8" + _sof(0xC0, 320, 240)[:8]) is None
