"""A pose under a camera fx the run's frames have shown wrong fails (`focal_run_gate`).

With a deliberately wrong query K on the redkitchen data (sift, map depth) the per-frame focal
gate refused most frames, but 1-7 of 50 passed it 12 cm to 1 m off under a 1.2-14 cm sigma,
their inliers chosen under the wrong K fitting it (a fresh user's find: 9 of 10 frames refused,
the run's verdict WRONG, the tenth accepted 16 cm off at 5 cm). Such a frame's own fit cannot
tell (docs/bench/wrong_k_cpu_2026-12-06zs); the run's can."""

from __future__ import annotations

import dataclasses

import pytest

from mast3r_ros.core.config import config_from_params
from mast3r_ros.core.focal_evidence import FocalFit
from mast3r_ros.core.keyframes import KeyframeMap
from mast3r_ros.core.localizer import Localizer
from mast3r_ros.core.localizer import pipeline as localizer_pipeline
from mast3r_ros.core.localizer.focal_run_gate import REASON, RunFocalGate
from mast3r_ros.core.types import LocalizationResult
from mast3r_ros.replay.metrics import summarize
from mast3r_ros.replay.tum import TumSequence


@pytest.mark.parametrize("scales, passed, refused_as", [
    ((0.8,) * 5 + (1.0, 1.0), [False] * 7, "over 5 frames the inliers fit fx 210.0 px"),
    ((0.8, 1.0, 1.0), [False, False, True], "1 of the 2 frames so far under fx 262.5 px"),
    ((1.0,) * 3, [True] * 3, None)])
def test_frames_passing_their_own_focal_gate_fail_while_the_run_says_fx_is_off(
        tum, sift_map, monkeypatch, scales, passed, refused_as):
    """Stand-in per-frame gate: frame i's fit is ``scales[i]`` (+-0.2 %), refused as the real
    gate refuses it (over 5 % off) and passed otherwise. A 1.0x frame after five 0.8x ones (the
    run's verdict), or after one (before a verdict can come, half the fits so far off), fails
    as the run's; a right run loses none."""
    fits = iter(scales)

    def stand_in(max_error, cam, *args):
        s = next(fits)
        return ("focal stand-in" if abs(s - 1) > max_error else "",
                FocalFit(s, 0.002, float(cam.K[0, 0])))

    monkeypatch.setattr(localizer_pipeline, "focal_gate", stand_in)
    frame = TumSequence(tum[1])[3]
    cfg = config_from_params({"matcher": "sift"})
    with Localizer(KeyframeMap.load(sift_map), cfg.localizer, retrieval=cfg.retrieval) as loc:
        results = [loc.localize(frame) for _ in scales]
    assert [r.success for r in results] == passed
    ours = [r for r in results if r.reason.startswith(REASON)]
    assert len(ours) == sum(s == 1.0 and not ok for s, ok in zip(scales, passed))
    for r in ours:
        assert r.reason.startswith(f"{REASON} ({refused_as}"), r.reason
        assert r.map_from_cam is None and r.covariance is None and r.focal_fit is not None
    if ours:  # one failure_reasons key in metrics.json
        assert summarize(ours)["failure_reasons"] == {REASON: len(ours)}


def test_the_gate_counts_failed_frames_fits_and_starts_over_on_a_new_tolerance_or_fx():
    """Fits of frames other gates refused count (metrics.json's camera_focal combines them
    too); no fit (gate off, not judged) passes as it is; a new tolerance or fx starts over."""
    gate = RunFocalGate()
    fit = FocalFit(0.8, 0.002, 500.0)
    failed = LocalizationResult.failure(0, "too few inliers", focal_fit=fit)
    ok = LocalizationResult(True, 1, focal_fit=FocalFit(1.0, 0.002, 500.0))
    for _ in range(5):
        assert gate.judge(failed, 0.05) is failed
    assert "over 5 frames" in gate.judge(ok, 0.05).reason  # the verdict
    assert gate.judge(ok, 0.3).success                 # 0.8x is within 30 %: one fit anew
    assert not gate.judge(failed, 0.05).success        # anew: 1 fit of 1 off
    assert gate.judge(dataclasses.replace(ok, focal_fit=FocalFit(1.0, 0.002, 600.0)),
                      0.05).success                    # another fx: anew
    assert gate.judge(dataclasses.replace(ok, focal_fit=None), 0.05).success
    assert gate.judge(ok, 0.0).success                 # gates.max_focal_error 0: no gate
