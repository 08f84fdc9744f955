"""What a localize run reports of the frames' focal-length evidence (`core.focal_evidence`):
results.jsonl's ``focal_fit`` per frame (kept by a resumed run), metrics.json's ``camera_focal``
and its summary row, and one warning at the end of ``mast3r-ros localize`` when the frames
together say the focal length is off (synthetic loop, camera.yaml 20 % off)."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

from mast3r_ros.core import focal_evidence as fe
from mast3r_ros.core.focal_evidence import FocalFit
from mast3r_ros.core.types import LocalizationResult
from mast3r_ros.replay.localize_run import result_record
from mast3r_ros.replay.metrics import summarize
from mast3r_ros.replay.metrics_table import format_table
from mast3r_ros.replay.run_resume import result_from_record


def _result(ok, fit):
    return LocalizationResult(ok, 1, np.eye(4) if ok else None, focal_fit=fit, reason="" if ok
                              else "the camera's focal length does not fit the inliers (x)")


def test_results_jsonl_keeps_the_fit_for_a_resumed_run():
    for fit in (FocalFit(0.91, 0.02, 585.0), FocalFit(1.0, math.inf, 585.0), None):
        line = json.loads(json.dumps(result_record(_result(True, fit))))  # inf is no JSON
        assert result_from_record(line).focal_fit == fit
    line.pop("focal_fit")  # a line of an older run
    assert result_from_record(line).focal_fit is None


def test_metrics_json_camera_focal_block_and_summary_row():
    assert summarize([_result(True, None)])["camera_focal"] is None  # gate off: not judged
    rng = np.random.default_rng(0)
    res = [_result(i % 4 == 0, FocalFit(float(np.exp(rng.normal(np.log(0.9), 0.02))), 0.02,
                                        585.0)) for i in range(20)]
    m = summarize(res)
    cf = m["camera_focal"]
    assert cf["frames_passed"] == 5 and cf["frames_used"] == 20 and cf["fx_off"]
    assert cf["fx_fitted_px"] == pytest.approx(0.9 * 585, rel=0.02)
    row = [ln for ln in format_table(m).splitlines() if "camera focal length" in ln]
    assert len(row) == 1 and "px fits, the camera's is 585.0" in row[0] and "WRONG" in row[0]
    # judged against the run's gate tolerance: a 15 % gate lets 10 % through
    assert not summarize(res, focal_tolerance=0.15)["camera_focal"]["fx_off"]


def _camera_file(tmp_path, frame, scale):
    from mast3r_ros.replay.synthetic import camera_yaml

    c = frame.intrinsics
    K = c.K.copy()
    K[:2, :2] *= scale
    p = tmp_path / f"camera_{scale}.yaml"
    p.write_text(camera_yaml(dataclasses.replace(c, K=K)))
    return str(p)


@pytest.mark.parametrize("scale,tolerance", [(1.0, None), (1.2, None), (1.2, 0.25)])
def test_localize_says_once_that_the_focal_length_is_wrong(tum, sift_map, tmp_path, capsys,
                                                           scale, tolerance):
    """The fx 20 % off is said once, not at the true fx, nor within the run's own
    gates.max_focal_error (25 %: judged against the configured gate, not the default)."""
    from mast3r_ros.replay.cli import main
    from mast3r_ros.replay.tum import TumSequence

    cam = _camera_file(tmp_path, TumSequence(tum[1])[0], scale)
    out = tmp_path / "run"
    extra = []
    if tolerance is not None:
        params = tmp_path / "params.yaml"
        params.write_text("/**/mast3r_localizer:\n  ros__parameters:\n    gates:\n"
                          f"      max_focal_error: {tolerance}\n")
        extra = ["--params", str(params)]
    capsys.readouterr()
    assert main(["localize", tum[1], "--map", sift_map, "--out", str(out), "--matcher", "sift",
                 "--camera-info", cam, "--log-level", "warning", *extra]) == 0
    cf = json.loads((out / "metrics.json").read_text())["camera_focal"]
    cap = capsys.readouterr()
    warned = [ln for ln in cap.err.splitlines() if "focal length looks wrong" in ln]
    assert cf["frames_used"] >= fe.MIN_FRAMES, cf
    if scale == 1.0:
        assert cf["scale"] == pytest.approx(1.0, abs=0.02) and not cf["fx_off"] and not warned
        return
    if tolerance is not None:
        assert cf["tolerance"] == tolerance and not cf["fx_off"] and not warned, cf
        assert cf["scale"] == pytest.approx(1 / scale, rel=0.05)
        return
    assert cf["fx_off"] and cf["scale"] == pytest.approx(1 / scale, rel=0.05), cf
    assert len(warned) == 1 and f"not {cf['fx_px']:.1f}" in warned[0], warned
    assert "WRONG, see the warning" in cap.out


def test_results_jsonl_keeps_the_scene_depth_for_a_resumed_run():
    """metrics.json's far_claims of a resumed run read the recorded frames' scene_depth_m."""
    r = LocalizationResult(True, 1, np.eye(4), scene_depth_m=2.6)
    line = json.loads(json.dumps(result_record(r)))
    assert line["scene_depth_m"] == 2.6 and result_from_record(line).scene_depth_m == 2.6
    line = json.loads(json.dumps(result_record(LocalizationResult.failure(1, "x"))))
    assert line["scene_depth_m"] is None
    assert math.isnan(result_from_record(line).scene_depth_m)
    del line["scene_depth_m"]  # written before it was recorded
    assert math.isnan(result_from_record(line).scene_depth_m)


def test_frames_the_run_gate_refused_count_as_passed_per_frame_and_are_named():
    """A wrong-K run whose frames all failed: 5 fits passed the per-frame gate and were refused
    only by the run-level gate. The row said '0 passed the per-frame gate' and the warning spoke
    of poses published meanwhile, when none was."""
    from mast3r_ros.core.localizer.focal_run_gate import REASON

    fits = [FocalFit(0.8, 0.01, 585.0) for _ in range(8)]
    res = [LocalizationResult.failure(1, f"{REASON} (x)", focal_fit=f) for f in fits[:5]]
    res += [_result(False, f) for f in fits[5:]]
    m = summarize(res)
    cf = m["camera_focal"]
    assert cf["frames_passed"] == 5 and cf["frames_refused_by_run_gate"] == 5, cf
    row = [ln for ln in format_table(m).splitlines() if "camera focal length" in ln][0]
    assert "5 passed the per-frame gate, all 5 refused by the run-level focal gate" in row, row
    assert "poses published meanwhile" not in cf["warning"]
    assert "no pose was localized" in cf["warning"], cf["warning"]
    ok = summarize([_result(True, f) for f in fits])["camera_focal"]  # localized: as before
    assert ok["frames_refused_by_run_gate"] == 0 and "poses published meanwhile" in ok["warning"]
