"""Trajectory error metrics (`mast3r_ros.replay.metrics`) on hand-made runs with known errors."""

from __future__ import annotations

import re

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from mast3r_ros.core.errors import InputError
from mast3r_ros.core.geometry import make_pose
from mast3r_ros.core.types import LocalizationResult
from mast3r_ros.replay import metrics, metrics_table


def _rz(deg, t):
    return make_pose(Rotation.from_euler("z", deg, degrees=True).as_matrix(), t)


def _run():
    """Five frames against ground truth at x = i metres, turned 10 i deg about z:
    0: exact; 1: 5 cm / 1 deg off; 2: 0.5 m off (exactly at the gross-error bound, not past it);
    3: failed; 4: 0.75 m off but without ground truth."""
    gt = np.stack([_rz(10 * i, [float(i), 0, 0]) for i in range(5)])
    gt[4] = np.nan
    res = [
        LocalizationResult(True, 0, gt[0].copy(), None),
        LocalizationResult(True, 1, _rz(11, [1.0, 0.05, 0]), None),
        LocalizationResult(True, 2, _rz(20, [2.0, 0, 0.5]), None),
        LocalizationResult.failure(3, "too few PnP inliers (3)"),
        LocalizationResult(True, 4, _rz(0, [4.75, 0, 0]), None),
    ]
    return res, gt


def test_frame_errors_and_summary_from_known_errors():
    res, gt = _run()
    err = metrics.frame_errors(res, gt)
    np.testing.assert_allclose(err[:3], [[0, 0], [0.05, 1.0], [0.5, 0.0]], atol=1e-9)
    assert np.isnan(err[3:]).all()  # the failure, and the frame without ground truth
    assert np.isnan(metrics.frame_errors(res, None)).all()
    m = metrics.summarize(res, gt)
    assert (m["frames"], m["localized"], m["frames_with_groundtruth"], m["evaluated"]) == (
        5, 4, 4, 3)
    assert m["localized_fraction"] == pytest.approx(0.8)
    assert m["gross_errors"] == 0  # 'more than 0.5 m off'
    assert m["translation_error_m"]["max"] == pytest.approx(0.5)
    assert m["translation_error_m"]["median"] == pytest.approx(0.05)
    assert m["translation_error_m"]["p90"] == pytest.approx(0.05 + 0.8 * 0.45)  # interpolated
    assert m["rotation_error_deg"]["mean"] == pytest.approx(1.0 / 3)
    # recall over the frames with ground truth (4, the failure among them), thresholds inclusive
    assert m["recall"] == pytest.approx({"5cm_5deg": 2 / 4, "25cm_2deg": 2 / 4,
                                         "50cm_5deg": 3 / 4, "500cm_10deg": 3 / 4})
    assert m["failure_reasons"] == {"too few PnP inliers": 1}
    gt2 = gt.copy()
    gt2[2, 2, 3] = -0.01  # 0.51 m off: a gross error
    assert metrics.summarize(res, gt2)["gross_errors"] == 1
    none = metrics.summarize(res, None)
    assert none["evaluated"] == 0 and set(none["recall"].values()) == {None}


def test_a_ground_truth_pose_with_one_nan_entry_is_unknown():
    """'NaN = unknown' holds for a pose with one NaN entry too (its translation's x): the frame
    has no ground truth, is not evaluated (no rotation error either) and is left out of
    recall's frames, as a pose of NaN only."""
    res, gt = _run()
    gt[1, 0, 3] = np.nan
    assert np.isnan(metrics.frame_errors(res, gt)[1]).all()
    m = metrics.summarize(res, gt)
    assert (m["frames_with_groundtruth"], m["evaluated"]) == (3, 2)
    assert m["recall"]["5cm_5deg"] == pytest.approx(1 / 3)


def test_a_failed_result_that_carries_a_pose_is_not_evaluated():
    """Errors are over successes only: a failure with a pose (a gate's rejected estimate, a
    hand-made result) neither counts as evaluated nor enters the error figures or recall."""
    gt = np.stack([np.eye(4)] * 2)
    res = [LocalizationResult(True, 0, np.eye(4), 1e-4 * np.eye(6)),
           LocalizationResult(False, 1, make_pose(np.eye(3), [3.0, 0, 0]), 1e-4 * np.eye(6),
                              reason="rejected by gate")]
    assert np.isnan(metrics.frame_errors(res, gt)[1]).all()
    m = metrics.summarize(res, gt)
    assert (m["evaluated"], m["gross_errors"]) == (1, 0)
    assert m["translation_error_m"]["max"] == 0.0
    assert m["recall"]["5cm_5deg"] == pytest.approx(0.5)
    assert m["covariance"]["evaluated"] == 1


def test_summary_has_the_same_keys_with_and_without_ground_truth():
    """metrics.json's shape does not depend on the ground truth: a reader can index
    m['recall'] always; null means 'not evaluated' (gross_errors too: 0 would claim frames
    were checked), a number only where frames were."""
    res, gt = _run()
    failed = [LocalizationResult.failure(i, "no match") for i in range(5)]
    runs = {"gt": metrics.summarize(res, gt), "no gt": metrics.summarize(res, None),
            "none localized": metrics.summarize(failed, gt)}

    def shape(d):  # the keys, nested; failure_reasons' and latency_s' are data, not shape
        return {k: shape(v) if isinstance(v, dict) and k not in (
            "failure_reasons", "latency_s") else None for k, v in d.items()}

    assert shape(runs["gt"]) == shape(runs["no gt"]) == shape(runs["none localized"])
    no_gt = runs["no gt"]
    assert no_gt["gross_errors"] is None and set(no_gt["recall"].values()) == {None}
    assert no_gt["covariance"]["evaluated"] == 0
    assert no_gt["covariance"]["position"] == {
        "coverage_95": None, "median_mahalanobis_sq": None, "p95_mahalanobis_sq": None,
        "beyond_3sigma": None, "frames": 0,
        "coverage": {"50": None, "90": None, "95": None, "99": None}}
    # ground truth but nothing localized: recall is 0 (of the frames with ground truth), no
    # error was measured
    none = runs["none localized"]
    assert set(none["recall"].values()) == {0.0} and none["gross_errors"] is None
    table = metrics_table.format_table(no_gt)  # the CLI's table takes the nulls
    assert "None" not in table and "recall" not in table


def test_mahalanobis_sq_known_values_in_map_axes():
    """Position error (0.3, 0, 0) m under sigma_x = 0.1 m: d^2 = 9; adding 0.1 m of ground-truth
    error per axis halves it. The rotation error is R_est R_gt^T as a map-axes rotation vector:
    the estimate is the truth turned 0.02 rad about the map's z; the truth's own rotation (90
    deg about x) turns that into its body y, where the covariance differs."""
    gt = make_pose(Rotation.from_euler("x", 90, degrees=True).as_matrix(), [1.0, 2.0, 3.0])
    est = make_pose(Rotation.from_rotvec([0, 0, 0.02]).as_matrix() @ gt[:3, :3],
                    [1.3, 2.0, 3.0])
    cov = np.diag([0.1 ** 2, 1.0, 1.0, 1.0, 1.0, 0.01 ** 2])
    dp, dr = metrics.mahalanobis_sq(est, gt, cov)
    assert dp == pytest.approx(9.0) and dr == pytest.approx(4.0)
    dp_gt, _ = metrics.mahalanobis_sq(est, gt, cov, gt_position_sigma_m=0.1)
    assert dp_gt == pytest.approx(4.5)
    # correlated rotation errors: e = 0.01 (1, 1, 0) rad under 1e-4 [[1, .5], [.5, 1]] rad^2
    # gives d^2 = 2 / 1.5 (2 if the correlation were ignored)
    est2 = make_pose(Rotation.from_rotvec([0.01, 0.01, 0]).as_matrix() @ gt[:3, :3], gt[:3, 3])
    cov2 = np.eye(6)
    cov2[3:5, 3:5] = 1e-4 * np.array([[1.0, 0.5], [0.5, 1.0]])
    assert metrics.mahalanobis_sq(est2, gt, cov2)[1] == pytest.approx(4.0 / 3.0, rel=1e-6)


def test_ground_truth_of_another_length_is_an_input_error_naming_both():
    res, gt = _run()
    for bad in (gt[:3], np.concatenate([gt, gt[:1]])):
        with pytest.raises(InputError, match=f"{len(bad)} poses for 5 results"):
            metrics.summarize(res, bad)
        with pytest.raises(InputError, match=f"{len(bad)} poses for 5 results"):
            metrics.covariance_calibration(res, bad)


def test_a_singular_covariance_block_has_no_mahalanobis_distance():
    """np.linalg.solve raised LinAlgError: the block's distance is NaN now, and the
    calibration leaves that frame out of the block (as a frame without a covariance)."""
    gt = _rz(0, [0, 0, 0])
    est = _rz(2, [0.1, 0, 0])
    cov = np.diag([0.01, 0.01, 0.01, 0.0, 0.0, 0.0])  # rotation block singular
    dp, dr = metrics.mahalanobis_sq(est, gt, cov)
    assert dp == pytest.approx(1.0) and np.isnan(dr)
    res = [LocalizationResult(True, 0, est, cov),
           LocalizationResult(True, 1, est, np.diag([0.01] * 3 + [1.0] * 3))]
    c = metrics.covariance_calibration(res, np.stack([gt, gt]))
    assert c["evaluated"] == 2 and c["position"]["median_mahalanobis_sq"] == pytest.approx(1.0)
    assert c["rotation"]["median_mahalanobis_sq"] == pytest.approx(np.radians(2) ** 2)
    # each block says how many frames it used: the singular rotation block is not one of them
    assert (c["position"]["frames"], c["rotation"]["frames"]) == (2, 1)
    table = metrics_table.format_table(metrics.summarize(res, np.stack([gt, gt])))
    rot = [ln for ln in table.splitlines() if "covariance rotation" in ln]
    assert len(rot) == 1 and "of 1 frames: singular blocks left out" in rot[0], table
    assert "left out" not in "".join(ln for ln in table.splitlines() if "position:" in ln)
    assert np.isnan(metrics.mahalanobis_sq(est, gt, np.full((6, 6), np.nan))).all()


def test_covariance_calibration_counts_the_chi2_bound_inclusively():
    """Coverage is the fraction with d^2 <= the chi^2(3) 95 % bound; frames without a
    covariance or ground truth are left out; sigmas are per-axis (trace / 3)."""
    gt = np.stack([np.eye(4)] * 4)
    gt[3] = np.nan
    b = np.sqrt(metrics.CHI2_3DOF_95)
    res = [LocalizationResult(True, i, make_pose(np.eye(3), [x, 0, 0]), 4e-2 * np.eye(6))
           for i, x in enumerate([0.0, 0.2 * b, 0.2 * b * 1.01])]
    res.append(LocalizationResult(True, 3, np.eye(4), np.eye(6)))  # no ground truth
    res.append(LocalizationResult(True, 4, np.eye(4), None))
    gt = np.concatenate([gt, np.eye(4)[None]])
    c = metrics.covariance_calibration(res, gt)
    assert c["evaluated"] == 3
    assert c["position"]["coverage_95"] == pytest.approx(2 / 3)
    assert c["position"]["median_mahalanobis_sq"] == pytest.approx(metrics.CHI2_3DOF_95,
                                                                   rel=1e-9)
    # the 95th percentile, interpolated between the two largest d^2 (b^2 and (1.01 b)^2)
    assert c["position"]["p95_mahalanobis_sq"] == pytest.approx(
        metrics.CHI2_3DOF_95 * (1 + 0.9 * (1.01 ** 2 - 1)), rel=1e-9)
    assert c["rotation"]["coverage_95"] == 1.0
    assert c["position_sigma_m_median"] == pytest.approx(0.2)
    assert c["rotation_sigma_deg_median"] == pytest.approx(np.degrees(0.2))


def test_the_reliability_line_counts_frames_within_each_chi2_quantile():
    """``coverage`` holds the observed fraction within the chi^2(3) 50/90/95/99 % quantiles
    per block: a covariance can hold 95 % at the 95 % bound and still be
    overconfident at 50 % (a conservative bulk and a heavy tail look alike at one level)."""
    d2 = np.array([1.0, 2.0, 7.0, 10.0, 12.0])  # sigma 1 m: d^2 = e^2
    gt = np.stack([np.eye(4)] * len(d2))
    res = [LocalizationResult(True, i, make_pose(np.eye(3), [np.sqrt(v), 0, 0]), np.eye(6))
           for i, v in enumerate(d2)]
    c = metrics.covariance_calibration(res, gt)
    assert c["position"]["coverage"] == pytest.approx(
        {"50": 0.4, "90": 0.4, "95": 0.6, "99": 0.8})
    assert c["rotation"]["coverage"] == {"50": 1.0, "90": 1.0, "95": 1.0, "99": 1.0}
    # the levels' bounds are the chi^2(3) quantiles
    from scipy.stats import chi2
    assert {k: chi2.ppf(int(k) / 100, 3) for k in metrics.CHI2_3DOF_LEVELS} == pytest.approx(
        metrics.CHI2_3DOF_LEVELS)
    np.testing.assert_allclose(metrics.calibration_d2(res, gt)[:, 0], d2)


def _calibration_run(errors_m, sigma_m):
    """Successes at the origin with their position errors along x and an isotropic sigma."""
    gt = np.stack([np.eye(4)] * len(errors_m))
    res = [LocalizationResult(True, i, make_pose(np.eye(3), [e, 0, 0]), sigma_m ** 2 * np.eye(6))
           for i, e in enumerate(errors_m)]
    return metrics.summarize(res, gt)


def test_a_tail_of_confident_wrong_poses_is_named_in_the_table():
    """The verdict judged the median only: a run with a quarter of its poses 1 m off under a
    2 cm sigma (a zoomed camera, a wrong focal length on the redkitchen data: 8 of 33 poses
    0.5-1.3 m off) read '58 % / 4.1' with no verdict, as if the covariance could be trusted.
    The tail is judged as the median is, against the chi^2(3) 95 % bound."""
    rng = np.random.default_rng(0)
    good = list(np.abs(rng.normal(0, 0.02, 30)))            # calibrated: sigma 2 cm
    m = _calibration_run(good + [1.0] * 10, 0.02)
    pos = m["covariance"]["position"]
    assert pos["p95_mahalanobis_sq"] == pytest.approx(2500.0)
    assert metrics.calibration_verdict(pos["median_mahalanobis_sq"]) == ""  # the median alone
    row = next(r for r in metrics_table.format_table(m).splitlines() if "covariance position:" in r)
    assert "overconfident tail: the worst 5 % of errors ~18x sigma" in row, row
    # a calibrated run has no verdict; one 1 m error in 40 frames is below the 95th percentile
    # (it is counted as a gross error instead)
    for errors in (good + good[:10], good + good[:9] + [1.0]):
        m = _calibration_run(errors, 0.02)
        row = next(r for r in metrics_table.format_table(m).splitlines()
                   if "covariance position:" in r)
        assert "overconfident" not in row and "conservative" not in row, row
    # a conservative median and an overconfident tail are both named
    v = metrics.calibration_verdict(0.01, 800.0)
    assert v.startswith("conservative: sigma ~15x") and "overconfident tail" in v, v


def test_stage_latency_is_over_the_frames_that_ran_the_stage():
    """A frame that failed before PnP has no 'pnp' timing; it was counted as a 0 s PnP, so a run
    with half its frames failing showed half the real median PnP time."""
    res = []
    for i in range(6):
        if i % 2:
            r = LocalizationResult.failure(i, "too few matches (3)")
            r.timings_s = {"inference": 0.05, "matching": 0.01, "total": 0.06}
        else:
            r = LocalizationResult(True, i, np.eye(4), None)
            r.timings_s = {"inference": 0.05, "matching": 0.01, "pnp": 0.004, "total": 0.064}
        res.append(r)
    lat = metrics.summarize(res, None)["latency_s"]
    assert lat["pnp"] == {"median": pytest.approx(0.004), "p90": pytest.approx(0.004),
                          "frames": 3}
    assert lat["inference"]["frames"] == 6 and lat["total"]["median"] == pytest.approx(0.062)
    table = metrics_table.format_table(metrics.summarize(res, None))
    assert re.search(r"latency pnp \(median\) +4\.0 ms \(the 3 frames that reached it\)", table)
    assert re.search(r"latency total \(median\) +62\.0 ms\n", table)


def test_first_frame_left_out_of_latency_when_no_warmup_ran():
    """Without the warm-up (the offline CLI's default on CPU) the first frame pays the one-time
    costs: it is reported alone, not folded into the median / p90."""
    res = []
    for i, total in enumerate((5.0, 0.06, 0.07, 0.06)):
        r = LocalizationResult(True, i, np.eye(4), None)
        r.timings_s = {"inference": total - 0.01, "total": total}
        res.append(r)
    cold = metrics.summarize(res, None, warmed_up=False)
    assert cold["latency_s"]["total"] == {"median": pytest.approx(0.06),
                                          "p90": pytest.approx(0.068), "frames": 3}
    assert cold["latency_first_frame_s"] == {"inference": pytest.approx(4.99), "total": 5.0}
    table = metrics_table.format_table(cold)
    assert re.search(r"latency total, first frame +5000\.0 ms \(no warm-up: one-time costs; "
                     r"left out of the medians\)", table)
    assert re.search(r"latency total \(median\) +60\.0 ms\n", table)  # not "3 frames reached"
    warm = metrics.summarize(res, None)  # warmed up: every frame counts, nothing apart
    assert warm["latency_s"]["total"]["frames"] == 4 and warm["latency_first_frame_s"] is None
    assert "first frame" not in metrics_table.format_table(warm)
    # an unreadable frame first (no timings: it ran nothing): the first frame localized is the
    # cold one, and the unreadable frames are counted apart
    bad = LocalizationResult.failure(9, "unreadable frame: cannot read colour image a (b).png",
                                     unreadable=True)
    cold = metrics.summarize([bad, *res, bad], None, warmed_up=False)
    assert cold["latency_first_frame_s"] == {"inference": pytest.approx(4.99), "total": 5.0}
    assert cold["latency_s"]["total"]["frames"] == 3
    assert cold["unreadable_frames"] == 2 and cold["failure_reasons"] == {"unreadable frame": 2}
    # the latency rows count the frames that were timed: not "(the 3 frames that reached it)"
    # when all 3 localized frames did (unreadable frames were counted in; a review's find)
    assert re.search(r"latency total \(median\) +60\.0 ms\n", metrics_table.format_table(cold))


def test_a_one_frame_cold_run_has_no_latency_median_of_one_time_costs():
    """One frame without a warm-up: its one-time costs (2.5 s on redkitchen, retrieval's
    2 s lazy set-up) were the medians, and latency_first_frame_s was left out, against
    docs/maps.md: 'Building a map' ('kept out of the latency medians'). They are the first
    frame's now; no median."""
    r = LocalizationResult(True, 0, np.eye(4), None)
    r.timings_s = {"retrieval": 2.04, "total": 2.54}
    one = metrics.summarize([r], None, warmed_up=False)
    assert one["latency_first_frame_s"] == {"retrieval": 2.04, "total": 2.54}
    assert one["latency_s"]["total"] == {"median": None, "p90": None, "frames": 0}
    table = metrics_table.format_table(one)
    assert re.search(r"latency total \(median\) +n/a \(only the first frame", table)
    assert re.search(r"latency total, first frame +2540\.0 ms", table)
    warm = metrics.summarize([r], None)  # warmed up: the frame is an ordinary one
    assert warm["latency_s"]["total"]["median"] == 2.54 and warm["latency_first_frame_s"] is None
    # several frames, a stage only the first ran (the others failed before PnP): absent, as
    # before, not a null median the README does not describe
    r2 = LocalizationResult.failure(1, "no match")
    r2.timings_s = {"total": 0.05}
    two = metrics.summarize([r, r2], None, warmed_up=False)
    assert "retrieval" not in two["latency_s"] and two["latency_s"]["total"]["median"] == 0.05


def test_unreadable_frames_are_counted_by_their_field_not_their_reason():
    """metrics took a frame for unreadable when its reason began 'unreadable frame:' (a string
    contract with localize_run); the result's ``unreadable`` field says it now: a localizer
    failure whose reason happens to start so is not one, an unreadable frame whatever its
    reason is, and localize's failed result and results.jsonl line carry the field."""
    from mast3r_ros.core.types import UnreadableFrame
    from mast3r_ros.core.tracker import Tracker
    from mast3r_ros.replay.localize_run import _unreadable_failure, result_record

    lookalike = LocalizationResult.failure(1, "unreadable frame: no match (0 inliers)")
    marked = LocalizationResult.failure(2, "any words", unreadable=True)
    plain = LocalizationResult.failure(3, "no match (0 inliers)")
    m = metrics.summarize([lookalike, marked, plain], None)
    assert m["unreadable_frames"] == 1
    assert m["failure_reasons"] == {"unreadable frame: no match": 1, "unreadable frame": 1,
                                    "no match": 1}
    r = _unreadable_failure(UnreadableFrame(4, "cannot read colour image x.png"), Tracker(3), 1)
    assert r.unreadable and not r.success and r.reason.startswith("unreadable frame: cannot")
    assert result_record(r)["unreadable"] is True
    assert result_record(plain)["unreadable"] is False


def _offset_run(offset, n=12, noise_m=0.01, seed=0):
    """``n`` frames localized within ``noise_m`` of the truth in the map frame, against ground
    truth given in another frame: ``offset`` @ gt_in_frame = the truth in the map frame."""
    rng = np.random.default_rng(seed)
    truth = np.stack([_rz(15 * i, [0.3 * i, 0.1 * np.sin(i), 0.05 * i]) for i in range(n)])
    res = []
    for i, T in enumerate(truth):
        est = T.copy()
        est[:3, 3] += rng.normal(0.0, noise_m, 3)
        res.append(LocalizationResult(True, i, est, None))
    return res, np.linalg.inv(offset) @ truth


def test_ground_truth_in_another_frame_is_named_with_the_transform():
    # a map built from poses of one frame, evaluated against ground truth of another: every
    # error was reported as 4.5 m / 90 deg, a localization failure, with nothing saying that
    # one rigid transform explains them all
    offset = make_pose(Rotation.from_euler("y", 90, degrees=True).as_matrix(), [3.0, 0.0, -2.0])
    res, gt = _offset_run(offset)
    m = metrics.summarize(res, gt)
    assert m["translation_error_m"]["median"] > 1.0
    fo = m["frame_offset"]
    assert fo["rotation_deg"] == pytest.approx(90.0, abs=0.5)
    assert fo["frames"] == 12
    np.testing.assert_allclose(fo["map_from_groundtruth"], offset, atol=0.05)
    assert fo["aligned_translation_error_m_median"] < 0.03
    assert fo["aligned_rotation_error_deg_median"] < 0.5
    row = [ln for ln in metrics_table.format_table(m).splitlines() if "ground truth frame" in ln]
    assert row and "90" in row[0] and "another frame" in row[0], metrics_table.format_table(m)


def test_no_frame_offset_for_good_runs_random_failures_and_few_frames():
    res, gt = _offset_run(np.eye(4))
    assert metrics.summarize(res, gt)["frame_offset"] is None  # errors of 1 cm: nothing to say
    rng = np.random.default_rng(1)
    for r in res:  # poses gross and unrelated to each other: no one transform explains them
        r.map_from_cam[:3, 3] += rng.uniform(-3, 3, 3)
        r.map_from_cam[:3, :3] = Rotation.random(random_state=rng).as_matrix()
    assert metrics.summarize(res, gt)["frame_offset"] is None
    offset = _rz(90, [5.0, 0, 0])
    res, gt = _offset_run(offset, n=3)  # too few frames to tell
    assert metrics.summarize(res, gt)["frame_offset"] is None
    assert metrics.summarize(res, None)["frame_offset"] is None
    assert "ground truth frame" not in metrics_table.format_table(metrics.summarize(res, gt))


def test_table_says_how_many_localized_frames_have_no_ground_truth():
    # --groundtruth covering half the frames: the table read 'localized 50', 'evaluated 25'
    # and error figures over those 25, with nothing saying the other 25 were left out
    res, gt = _offset_run(np.eye(4), n=8)
    gt[4:] = np.nan
    table = metrics_table.format_table(metrics.summarize(res, gt))
    row, = [ln for ln in table.splitlines() if "evaluated against ground truth" in ln]
    assert row.split()[-1] != "4" and "4 localized frames have no ground-truth pose" in row
    full = metrics_table.format_table(metrics.summarize(*_offset_run(np.eye(4), n=8)))
    row, = [ln for ln in full.splitlines() if "evaluated against ground truth" in ln]
    assert row.split()[-1] == "8"
    # the count is of localized frames: the failure (frame 3) is not one of them
    row, = [ln for ln in metrics_table.format_table(metrics.summarize(*_run())).splitlines()
            if "evaluated against ground truth" in ln]
    assert row.endswith(" 3 (1 localized frame has no ground-truth pose: not evaluated)")


def test_calibration_verdict_of_errors_that_vanish_reads_as_a_bound():
    # ground truth equal to the estimates (a run's own trajectory.tum given as --groundtruth):
    # 'conservative: sigma ~infx the errors', and ~404043867070957x for a d^2 of 1.45e-29
    assert metrics.calibration_verdict(0.0) == "conservative: sigma >1000x the errors"
    assert metrics.calibration_verdict(1.45e-29) == "conservative: sigma >1000x the errors"
    assert metrics.calibration_verdict(0.00138) == "conservative: sigma ~41x the errors"
    assert metrics.calibration_verdict(1e9) == "overconfident: errors ~20559x sigma"


def test_results_jsonl_carries_the_covariance_that_metrics_json_scores():
    # metrics.json's covariance calibration could not be recomputed from the run's files:
    # trajectory.tum has the poses, but no file had the covariances it scored
    from mast3r_ros.replay.localize_run import result_record

    cov = np.diag([1e-4, 4e-4, 9e-4, 1e-6, 2e-6, 3e-6])
    cov[0, 1] = cov[1, 0] = 5e-5
    rec = result_record(LocalizationResult(True, 7, _rz(5, [1.0, 2.0, 3.0]), cov))
    np.testing.assert_array_equal(np.array(rec["covariance"]), cov)
    assert result_record(LocalizationResult.failure(8, "no match"))["covariance"] is None
    cov[5, 5] = np.nan   # json.dumps wrote NaN, which no JSON reader takes (a regression review)
    assert result_record(LocalizationResult(True, 9, np.eye(4), cov))["covariance"] is None


def test_groundtruth_file_says_how_many_frames_it_gives_a_pose(tmp_path, caplog):
    # the only count in the log was the TUM folder's own ('50 images, ..., 50 with ground
    # truth'), which a --groundtruth covering 25 of the frames replaces
    import logging

    from mast3r_ros.core.config import Config
    from mast3r_ros.replay.localize_run import _read_groundtruth

    path = tmp_path / "gt.txt"
    path.write_text("# timestamp tx ty tz qx qy qz qw\n"
                    + "".join(f"{i}.0 0 0 {i} 0 0 0 1\n" for i in range(5)))
    frames = np.arange(10, dtype=np.int64) * 1_000_000_000
    with caplog.at_level(logging.INFO, logger="mast3r_ros.replay.localize_run"):
        _read_groundtruth(str(path), frames, Config())
    assert f"--groundtruth {path}: a pose at 5 of the 10 frames" in caplog.text


def test_ground_truth_in_millimetres_is_named_with_the_scale():
    # --groundtruth with translations in millimetres: median 889 m off at 0.55 deg on the
    # redkitchen run, and nothing said why
    res, gt = _offset_run(np.eye(4))
    gt[:, :3, 3] *= 1000.0
    m = metrics.summarize(res, gt)
    fo = m["frame_offset"]
    assert fo["scale"] == pytest.approx(1e-3, rel=0.05)
    assert fo["aligned_translation_error_m_median"] < 0.05
    row, = [ln for ln in metrics_table.format_table(m).splitlines() if "ground truth frame" in ln]
    assert "millimetres?" in row and "frame or unit" in row
    res, gt = _offset_run(_rz(30, [2.0, 0.0, 0.0]))
    assert metrics.summarize(res, gt)["frame_offset"]["scale"] == 1.0


def test_no_frame_offset_for_estimates_that_only_scale_or_stick():
    # the scaled transform took its scale from the centres' spreads, whatever it was: estimates
    # stuck at one pose (spread 0) gave scale 0 and format_table a ZeroDivisionError, and a run
    # drifting along its path (1.67x the true path) read as ground truth in another unit
    truth = np.stack([_rz(0, [0.06 * i, 0.0, 1.0]) for i in range(50)])  # 3 m, no turning
    stuck = [LocalizationResult(True, i, _rz(0, [0.0, 0.0, 1.0]), None) for i in range(50)]
    m = metrics.summarize(stuck, truth)
    assert m["frame_offset"] is None
    assert "ground truth frame" not in metrics_table.format_table(m)
    drift = [LocalizationResult(True, i, _rz(0, [0.1 * i, 0.0, 1.0]), None) for i in range(50)]
    assert metrics.summarize(drift, truth)["frame_offset"] is None


def test_the_sigma_medians_cover_every_localized_frame_with_or_without_ground_truth():
    """A new user's finding: metrics.json's covariance.position_sigma_m_median and
    rotation_sigma_deg_median were null for a run without ground truth (they were taken over
    the evaluated frames only), so the sigma the node publishes could not be seen. They need no
    truth: every localized frame with a finite covariance counts; the coverage figures stay
    over the evaluated frames."""
    cov = [np.diag([0.01, 0.01, 0.01, 1e-4, 1e-4, 1e-4]),  # sigma 0.1 m, 0.01 rad
           np.diag([0.04, 0.04, 0.04, 4e-4, 4e-4, 4e-4]),  # 0.2 m, 0.02 rad
           np.diag([0.09, 0.09, 0.09, 9e-4, 9e-4, 9e-4])]  # 0.3 m, 0.03 rad
    res = [LocalizationResult(True, i, np.eye(4), c) for i, c in enumerate(cov)]
    res.append(LocalizationResult(True, 3, np.eye(4), np.full((6, 6), np.nan)))  # not counted
    res.append(LocalizationResult(True, 4, np.eye(4), None))
    res.append(LocalizationResult.failure(5, "too few inliers"))
    for gt in (None, np.full((6, 4, 4), np.nan)):  # no truth at all, or none for any frame
        c = metrics.summarize(res, gt)["covariance"]
        assert c["position_sigma_m_median"] == pytest.approx(0.2)
        assert c["rotation_sigma_deg_median"] == pytest.approx(np.degrees(0.02))
        assert c["evaluated"] == 0 and c["position"]["coverage_95"] is None
    gt = np.full((6, 4, 4), np.nan)
    gt[0] = np.eye(4)  # truth for the first frame only: coverage over it, sigmas over all
    c = metrics.summarize(res, gt)["covariance"]
    assert c["evaluated"] == 1 and c["position"]["frames"] == 1
    assert c["position"]["coverage_95"] == 1.0
    assert c["position_sigma_m_median"] == pytest.approx(0.2)
    assert metrics.summarize([], None)["covariance"]["position_sigma_m_median"] is None
    # the console table shows them, with or without truth (it showed no covariance line at all
    # without truth); none without a localized frame with a covariance
    for truth in (None, gt):
        row, = [ln for ln in metrics_table.format_table(metrics.summarize(res, truth)).splitlines()
                if "sigma median" in ln]
        assert "20.00 cm / 1.15 deg" in row, row
    assert "sigma median" not in metrics_table.format_table(metrics.summarize(res[3:], None))


# ---------------------------------------------------------------------------------------------
# mutation-audit additions: the figures of metrics.json and the table, at their edges


def test_an_empty_run_reads_zero_localized_and_prints():
    m = metrics.summarize([], None)
    assert m["localized_fraction"] == 0.0 and m["frames"] == 0
    assert re.search(r"localized +0 \(0\.0 %\)\n", metrics_table.format_table(m))


def test_recall_needs_both_thresholds_each_inclusive(monkeypatch):
    """Frame 0 exactly at 5 cm / 5 deg counts; frame 1, 1 cm but 6 deg off, does not."""
    res = [LocalizationResult(True, i, np.eye(4), None) for i in range(2)]
    monkeypatch.setattr(metrics, "frame_errors",
                        lambda results, gt: np.array([[0.05, 5.0], [0.01, 6.0]]))
    m = metrics.summarize(res, np.stack([np.eye(4)] * 2))
    assert m["recall"]["5cm_5deg"] == 0.5 and m["recall"]["500cm_10deg"] == 1.0


def test_cold_frames_of_a_resumed_run_are_the_timed_ones_the_first_reported():
    """``cold`` marks the first frame of each process; an unreadable one ran nothing and is
    not left out (nor reported); the first frame's timings are the earliest cold frame's."""
    bad = LocalizationResult.failure(0, "unreadable frame: x.png", unreadable=True)
    res = [bad]
    for i, total in enumerate((4.0, 0.06, 3.0, 0.07), start=1):
        r = LocalizationResult(True, i, np.eye(4), None)
        r.timings_s = {"total": total}
        res.append(r)
    m = metrics.summarize(res, None, cold={0, 1, 3})
    assert m["latency_first_frame_s"] == {"total": 4.0}
    assert m["latency_left_out"] == {
        "frames": 2, "why": "no warm-up: the first frame localized by each of the 2 processes "
                            "of a resumed run pays the one-time costs"}
    assert m["latency_s"]["total"] == {"median": pytest.approx(0.065),
                                       "p90": pytest.approx(0.069), "frames": 2}
    table = metrics_table.format_table(m)
    assert re.search(r"unreadable \(failed, skipped\) +1\n", table)
    assert re.search(r"left out of the medians\); so is the first frame of each later process "
                     r"of the resumed run \(2 frames left out\)", table)
    one = metrics_table.format_table(metrics.summarize(res, None, warmed_up=False))
    assert re.search(r"left out of the medians\)\n", one) and "later process" not in one


def test_table_error_rows_in_centimetres_and_no_unposed_note_without_ground_truth():
    res, gt = _run()
    table = metrics_table.format_table(metrics.summarize(res, gt))
    assert re.search(r"translation error median / mean / p90 +5\.00 cm / 18\.33 cm / 41\.00 cm",
                     table)
    assert re.search(r"max translation error +50\.00 cm", table)
    assert "ground-truth pose" not in metrics_table.format_table(metrics.summarize(res, None))


def test_frame_offset_from_exactly_the_fewest_frames_and_only_past_the_gross_bound():
    offset = _rz(90, [5.0, 0, 0])
    res, gt = _offset_run(offset, n=metrics.FRAME_OFFSET_MIN_FRAMES)
    assert metrics.summarize(res, gt)["frame_offset"]["frames"] == metrics.FRAME_OFFSET_MIN_FRAMES
    # every frame exactly 0.5 m off (GROSS_ERROR_M, not past it): not gross, nothing to explain
    truth = [_rz(0, [float(i), 0.0, 0.0]) for i in range(6)]
    est = [LocalizationResult(True, i, _rz(0, [i + 0.5, 0.0, 0.0]), None) for i in range(6)]
    m = metrics.summarize(est, np.stack(truth))
    assert m["translation_error_m"]["median"] == 0.5 and m["frame_offset"] is None


def test_frame_offset_of_a_shift_with_rotation_noise_it_cannot_remove():
    """Ground truth 2 m off with 1 deg of per-frame rotation noise: the transform removes the
    shift; the rotation error, fine already, need not drop FRAME_OFFSET_GAIN times."""
    res, gt = _offset_run(make_pose(np.eye(3), [2.0, 0.0, 0.0]))
    rng = np.random.default_rng(3)
    for r in res:
        axis = rng.normal(size=3)
        r.map_from_cam[:3, :3] = (Rotation.from_rotvec(np.radians(1.0) * axis
                                                        / np.linalg.norm(axis)).as_matrix()
                                  @ r.map_from_cam[:3, :3])
    fo = metrics.summarize(res, gt)["frame_offset"]
    assert fo is not None and fo["translation_m"] == pytest.approx(2.0, abs=0.05)
    assert fo["aligned_rotation_error_deg_median"] > 0.5


def test_frame_offset_shift_is_a_median_and_the_matrix_carries_the_scale():
    offset = _rz(30, [2.0, 1.0, 0.0])
    res, gt = _offset_run(offset)
    res[0].map_from_cam[:3, 3] += [6.0, 0.0, 0.0]  # one frame 6 m off: the shift ignores it
    fo = metrics.summarize(res, gt)["frame_offset"]
    np.testing.assert_allclose(np.array(fo["map_from_groundtruth"])[:3, 3], offset[:3, 3],
                               atol=0.05)
    res, gt = _offset_run(np.eye(4))
    gt[:, :3, 3] *= 1000.0
    fo = metrics.summarize(res, gt)["frame_offset"]
    np.testing.assert_allclose(np.array(fo["map_from_groundtruth"])[:3, :3], 1e-3 * np.eye(3),
                               atol=5e-5)
    res, gt = _offset_run(np.eye(4))
    gt[:, :3, 3] *= 1000.0 / 1.3  # 1.3e-3: 30 % from millimetres, no unit
    assert metrics.summarize(res, gt)["frame_offset"] is None


def test_position_sigma_median_is_the_rms_of_the_axes_and_the_gt_block_its_own():
    cov = np.diag([1e-4, 4e-4, 16e-4, 1e-4, 1e-4, 1e-4])
    res = [LocalizationResult(True, 0, make_pose(np.eye(3), [0.01, 0.0, 0.0]), cov)]
    c = metrics.covariance_calibration(res, np.stack([np.eye(4)]))
    assert c["position_sigma_m_median"] == pytest.approx(np.sqrt(7e-4))
    assert c["position"]["median_mahalanobis_sq"] == pytest.approx(1.0)
    assert c["position_gt_1cm"]["median_mahalanobis_sq"] == pytest.approx(0.5)
    c = metrics.covariance_calibration(res, np.stack([np.eye(4)]), gt_position_sigma_m=0.02)
    assert c["position_gt_2cm"]["median_mahalanobis_sq"] == pytest.approx(0.2)


def test_calibration_verdict_bounds_are_inclusive_and_a_tail_alone_reads_cleanly():
    med, b95 = metrics.CHI2_3DOF_MEDIAN, metrics.CHI2_3DOF_95
    assert metrics.calibration_verdict(med / 9) == ""           # sigma exactly 3x: within
    errors_3x = float(np.nextafter(9 * med, np.inf))  # the float where errors are exactly 3x
    assert np.sqrt(med / errors_3x) == 1.0 / metrics.MISCALIBRATED_SIGMA_RATIO
    assert metrics.calibration_verdict(errors_3x) == ""
    assert metrics.calibration_verdict(med, 9 * b95) == ""      # a tail exactly 3x: within
    assert metrics.calibration_verdict(med, 16 * b95) == (
        "overconfident tail: the worst 5 % of errors ~4x sigma")


def test_an_infinite_variance_gives_no_distance_not_a_small_one():
    """solve() of diag(inf, 1, 1) answers (0, 1, 1): an error along the infinite axis would
    count as no error at all."""
    cov = np.eye(6) * 1e-4
    cov[0, 0] = np.inf
    dp, dr = metrics.mahalanobis_sq(make_pose(np.eye(3), [0.01, 0.0, 0.0]), np.eye(4), cov)
    assert np.isnan(dp) and dr == pytest.approx(0.0)


def test_covariance_is_not_judged_against_ground_truth_in_another_frame_or_unit():
    """Ground truth in millimetres read 'covariance position: ... overconfident: errors ~54870x
    sigma' on redkitchen under the row that says the errors are one unit slip: the covariance
    was judged against errors that are not the localizer's. With a `frame_offset` the
    covariance rows keep their figures and say why they give no verdict."""
    res, gt = _offset_run(np.eye(4))
    res = [LocalizationResult(True, r.stamp_ns, r.map_from_cam, 0.002 ** 2 * np.eye(6))
           for r in res]
    good = metrics.summarize(res, gt)  # 1 cm errors under a 2 mm sigma: overconfident
    assert good["frame_offset"] is None and "overconfident" in metrics_table.format_table(good)
    gt[:, :3, 3] *= 1000.0
    m = metrics.summarize(res, gt)
    assert m["frame_offset"] is not None
    rows = [r for r in metrics_table.format_table(m).splitlines() if "chi2 95 %" in r]
    assert len(rows) == 3
    for row in rows:
        assert "overconfident" not in row and "not judged: the ground truth looks given in " \
            "another frame or unit (the 'ground truth frame' row)" in row, row


def _posed(stamp, sigma_m, depth_m):
    cov = np.diag([1e-6, sigma_m ** 2, 1e-6, 1e-6, 1e-6, 1e-6])
    return LocalizationResult(True, stamp, np.eye(4), cov, scene_depth_m=depth_m)


def test_poses_uncertain_for_their_distance_are_named_with_the_gate_that_refuses_them():
    """A wrong-consensus pose from a place the map saw only from afar (redkitchen: 0.6-1.3 m
    off, sigma 15-30 cm at 2.3-2.7 m) passes the default gates: the run summary counts such
    poses, without ground truth, and names gates.max_position_sigma_ratio; right poses (1-6
    cm at 1.5-3 m) are not counted."""
    right = [_posed(i, 0.01 + 0.01 * (i % 5), 2.0) for i in range(8)]
    m = metrics.summarize(right)
    assert m["far_claims"] is None
    assert "uncertain for their distance" not in metrics_table.format_table(m)
    run = right + [_posed(8, 0.19, 2.7), _posed(9, 0.30, 2.6),
                   LocalizationResult.failure(10, "too few inliers (3 < 30)")]
    m = metrics.summarize(run)
    fc = m["far_claims"]
    assert (fc["frames"], fc["of"], fc["stamps_ns"]) == (2, 10, [8, 9])
    assert fc["max_ratio"] == pytest.approx(0.30 / 2.6)
    row = metrics_table.format_table(m)
    assert "2 of 10 localized frames claim a 1-sigma position over 5 % of the distance" in row
    assert "set gates.max_position_sigma_ratio 0.05" in row, row
    # no depth (a result written by an older mast3r_ros): not judged, not counted
    assert metrics.summarize([_posed(0, 0.3, float("nan"))])["far_claims"] is None


def test_the_uncertain_poses_row_names_the_gates_own_default(monkeypatch):
    """The row's '(default 0.5; ...)' is GateConfig's default, not a second copy of it: a
    changed default would otherwise be misstated in every run summary."""
    from mast3r_ros.core.config import GateConfig

    m = metrics.summarize([_posed(0, 0.30, 2.6)])
    assert "(default 0.5;" in metrics_table.format_table(m)
    monkeypatch.setattr(GateConfig, "max_position_sigma_ratio", 0.4)
    row = metrics_table.format_table(m)
    assert "(default 0.4;" in row and "default 0.5" not in row, row


def test_the_uncertain_poses_row_never_says_up_to_the_threshold_it_is_over():
    """A pose just over the 5 % ratio (5.12 % on the d405 case) read 'over 5 % ...
    (up to 5 %': the largest ratio is given to three figures, so it is over what it exceeds."""
    m = metrics.summarize([_posed(0, 0.01, 2.0), _posed(1, 0.104, 2.0)])
    row = metrics_table.format_table(m)
    assert "over 5 % of the distance to what they matched (up to 5.2 %;" in row, row
    m = metrics.summarize([_posed(0, 0.30, 2.6)])
    assert "(up to 11.5 %;" in metrics_table.format_table(m)
