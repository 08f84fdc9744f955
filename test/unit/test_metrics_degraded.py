"""Poses published with a caveat are counted apart in a run's metrics (`metrics_degraded`).

Field case (docs/bench/distortion_rect_midrun_cpu_2026-12-09d, "rectified both"): 50 of 50 poses
published, 40 of them with the reason "published, degraded: the images look already rectified
by this run's frames (...)"; metrics.json said ``failure_reasons: {}`` and nothing else, the
printed table 50 localized: only results.jsonl carried the mark.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from mast3r_ros.core.localizer.distortion_run_gate import DEGRADED_REASON, RunDistortionGate
from mast3r_ros.core.types import LocalizationResult
from mast3r_ros.replay.metrics import summarize
from mast3r_ros.replay.metrics_table import format_table

MARK = f"{DEGRADED_REASON} (over 11 frames the inliers fit k1 +0.346): rectified images ..."


def _pose(x: float) -> np.ndarray:
    p = np.eye(4)
    p[0, 3] = x
    return p


def _run(n_good: int = 10, n_marked: int = 40):
    """n_good poses 1 cm off, then n_marked marked degraded 3 cm off, and one failure."""
    res, gt = [], []
    for i in range(n_good + n_marked):
        marked = i >= n_good
        res.append(LocalizationResult(True, i, _pose(0.1 * i + (0.03 if marked else 0.01)),
                                      reason=MARK if marked else ""))
        gt.append(_pose(0.1 * i))
    res.append(LocalizationResult.failure(99, "too few PnP inliers (3)"))
    gt.append(_pose(5.0))
    return res, np.stack(gt)


def test_metrics_count_the_poses_published_degraded_with_their_errors_apart():
    res, gt = _run()
    m = summarize(res, gt)
    d = m["degraded_poses"]
    assert d["frames"] == 40 and d["reasons"] == {DEGRADED_REASON: 40}
    assert d["evaluated"] == 40 and d["translation_error_m"]["median"] == pytest.approx(0.03)
    nd = d["not_degraded"]
    assert nd["localized"] == nd["evaluated"] == 10
    assert nd["translation_error_m"]["median"] == pytest.approx(0.01)
    # they are published poses: localized and the run's error figures count them, the failures
    # do not
    assert m["localized"] == 50 and m["failure_reasons"] == {"too few PnP inliers": 1}
    assert m["translation_error_m"]["median"] == pytest.approx(0.03)
    json.dumps(m)  # metrics.json


def test_the_rotation_statistics_are_the_rotation_errors():
    """Each group's rotation figures come from the rotation column (mutation audit
    2026-12-09g: the translation column in their place passed every test)."""
    from mast3r_ros.replay.metrics_degraded import degraded_poses
    res = [LocalizationResult(True, 0, np.eye(4), reason=MARK),
           LocalizationResult(True, 1, np.eye(4))]
    d = degraded_poses(res, np.array([[0.03, 2.0], [0.01, 0.5]]))
    assert d["rotation_error_deg"]["median"] == 2.0
    assert d["not_degraded"]["rotation_error_deg"]["median"] == 0.5


def test_the_key_is_there_without_marked_poses_or_ground_truth():
    res, gt = _run(n_marked=0)
    for m in (summarize(res, gt), summarize(res, None)):
        d = m["degraded_poses"]
        assert d["frames"] == 0 and d["reasons"] == {}
        assert d["not_degraded"]["localized"] == 10
    assert summarize(res, None)["degraded_poses"]["not_degraded"]["evaluated"] == 0
    assert set(summarize(_run()[0], None)["degraded_poses"]) == set(d)
    assert summarize([], None)["degraded_poses"]["frames"] == 0


def test_the_table_says_them_and_an_older_metrics_json_still_prints():
    res, gt = _run()
    table = format_table(summarize(res, gt))
    (row,) = [line for line in table.splitlines() if "published, degraded" in line]
    assert ("40 of the 50 localized (the images look already rectified by this run's frames: "
            "40;") in row
    assert "median error 3.00 cm" in row and "the 10 others' 1.00 cm" in row
    # without ground truth: the count, no error figures
    assert "40 of the 50 localized" in format_table(summarize(res, None))
    # a run without marked poses, or one written before the key: no row, no error
    assert "degraded" not in format_table(summarize(*_run(n_marked=0)))
    older = summarize(res, gt)
    del older["degraded_poses"]
    assert "degraded" not in format_table(older)


def test_a_resumed_run_counts_the_recorded_marks():
    """--resume summarizes the stopped run's results.jsonl records with the new frames'."""
    from mast3r_ros.replay.run_record import result_record
    from mast3r_ros.replay.run_resume import result_from_record

    res, gt = _run(n_good=2, n_marked=3)
    back = [result_from_record(json.loads(json.dumps(result_record(r)))) for r in res]
    assert summarize(back, gt)["degraded_poses"] == summarize(res, gt)["degraded_poses"]


def test_localize_writes_and_prints_them(tum, sift_map, tmp_path, monkeypatch, capsys):
    """A run whose poses the distortion gate marks (stubbed: every pose after the first)."""
    from mast3r_ros.replay.cli import main

    real = RunDistortionGate.judge
    seen = []

    def marking(self, result, *a, **kw):
        out = real(self, result, *a, **kw)
        if out.success:
            seen.append(out.stamp_ns)
            if len(seen) > 1:
                out.reason = MARK
        return out

    monkeypatch.setattr(RunDistortionGate, "judge", marking)
    run = tmp_path / "run"
    assert main(["localize", tum[1], "--map", sift_map, "--out", str(run), "--matcher", "sift",
                 "--log-level", "error", "--max-frames", "4"]) == 0
    m = json.loads((run / "metrics.json").read_text())
    assert m["localized"] == len(seen) >= 3
    assert m["degraded_poses"]["reasons"] == {DEGRADED_REASON: len(seen) - 1}
    assert m["degraded_poses"]["not_degraded"]["localized"] == 1
    assert m["failure_reasons"] == {}
    (row,) = [r for r in capsys.readouterr().out.splitlines() if "published, degraded" in r]
    assert f"  {len(seen) - 1} of the {len(seen)} localized (" in row


def test_recall_is_split_between_the_degraded_poses_and_the_others():
    """metrics.json said one recall for the run: 40 marked poses and 10 clean ones read as one
    figure. Now each group's recall with its counts, the failed frame counted against the
    others as the run's recall counts it, so that the counts add up to the run's."""
    res, gt = _run(n_good=10, n_marked=40)
    for i in range(10, 20):  # ten of the marked poses 8 cm off: outside 5 cm
        res[i].map_from_cam[0, 3] = 0.1 * i + 0.08
    m = summarize(res, gt)
    d = m["degraded_poses"]
    assert d["recall"]["5cm_5deg"] == {"within": 30, "of": 40, "fraction": 0.75}
    assert d["not_degraded"]["recall"]["5cm_5deg"] == {"within": 10, "of": 11,
                                                       "fraction": pytest.approx(10 / 11)}
    assert (30 + 10) / (40 + 11) == pytest.approx(m["recall"]["5cm_5deg"])
    assert set(d["recall"]) == set(m["recall"])  # every threshold of the run's
    (row,) = [line for line in format_table(m).splitlines() if "published, degraded" in line]
    assert "; recall 5cm_5deg 75.0 % (30 of 40), the others' 90.9 % (10 of 11," in row, row
    # without ground truth: no fraction, no recall words
    nogt = summarize(res, None)["degraded_poses"]
    assert nogt["recall"]["5cm_5deg"] == {"within": 0, "of": 0, "fraction": None}
    assert "recall" not in [ln for ln in format_table(summarize(res, None)).splitlines()
                            if "published, degraded" in ln][0]
    json.dumps(m)
