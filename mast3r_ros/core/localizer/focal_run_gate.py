"""The run's focal-length verdict as a gate on the frames that follow it (no rclpy).

The per-frame focal gate (`query_checks.focal_gate`) judges a frame by its own inliers, and
those RANSAC chose under the wrong K fit it best: with a wrong camera K on the redkitchen data
(sift, map depth; fx x0.7 to x1.4) 1-11 of 50 frames still passed it 12 cm to 1.04 m off under
a 1.2-21 cm sigma, each frame's own fit 0.88-1.10x (+-0.3-4.4 %) where the truth was 0.71-1.43x.
No per-frame figure told them apart from right frames (docs/bench/wrong_k_cpu_2026-12-06zs).
The frames of the run, together (`focal_evidence.RunFocalEvidence`, what metrics.json's
``camera_focal`` and the node's /diagnostics combine), are clear after a few frames; once they
say the camera's fx is off by more than ``gates.max_focal_error`` at 4 sigma (``fx_off``),
every pose under that fx is biased along the view by about its scene depth times the error,
whatever its own fit says. `RunFocalGate` keeps that evidence as the localizer's frames come
and refuses a pose that passed every other gate while it says so. With the right K the
verdict never comes (the kitchen: 1.000x +-0.1 %), so no right frame is refused.

Before the verdict can come (fewer than `focal_evidence.MIN_FRAMES` fits combined), a pose is
refused while at least half of the fits so far under its fx failed the per-frame gate's test
(the second frame of a run whose first one the focal gate refused: fx x0.9, every 5th frame,
15.8 cm off under a 7 cm sigma). A right run refuses a frame there only after a per-frame
focal refusal among its first frames (none of the kitchen's 50), and for at most a few frames.
"""

from __future__ import annotations

import math
from typing import Any

from ..focal_evidence import MIN_FRAMES, NODE_MAX_FRAMES, RUN_GATE_REASON, RunFocalEvidence
from ..types import LocalizationResult
from .query_checks import FOCAL_SIGNIFICANCE
from .run_gate import RunGate, refused

REASON = RUN_GATE_REASON  # the words before " (": the same for every frame


class RunFocalGate(RunGate):
    """Every frame's `FocalFit` (``LocalizationResult.focal_fit``), passed or failed, in the
    order the frames come, over the last `NODE_MAX_FRAMES` (started over when the camera
    (`FocalFit.camera`) or the tolerance changes); `judge` turns a successful result into a
    failure while their combination says the fx is off. Not thread-safe (the localizer locks)."""

    def __init__(self) -> None:
        self._evidence: RunFocalEvidence = RunFocalEvidence(0.0, NODE_MAX_FRAMES)
        self._early = [0, 0]  # observable fits and those the per-frame test failed, this fx
        self._tolerance = 0.0  # judge's, for _take

    def _take(self, fit: Any) -> None:
        """Take ``fit``, starting the evidence over under another fx, calibration (any value of
        ``fit.camera``: size, K, model, a coefficient) or tolerance, and count it for the
        per-frame tests."""
        tolerance = self._tolerance
        if not math.isclose(self._evidence.tolerance, tolerance, rel_tol=1e-12):
            self._evidence = RunFocalEvidence(tolerance, NODE_MAX_FRAMES)
            self._early = [0, 0]
        # the evidence says when the camera changed (`RunFits.use_camera`: fx beyond
        # `focal_evidence.SAME_FX_REL`, any value of ``fit.camera``); here fx beyond 1e-9 did,
        # so a driver whose K jitters in its last digits (585.000 / 585.001) started it over
        # every frame and the gate never refused (30 frames 1.1x off: 0 refused, 24 steady)
        restarted = self._evidence.frames_restarted
        self._evidence.add(fit)
        if self._evidence.frames_restarted != restarted:
            self._early = [0, 0]
        s, sig = fit.scale, fit.sigma_log
        if math.isfinite(sig) and sig > 0 and math.isfinite(s) and s > 0:
            self._early[0] += 1
            self._early[1] += (abs(s - 1.0) > tolerance
                               and abs(math.log(s)) > FOCAL_SIGNIFICANCE * sig)

    def judge(self, result: LocalizationResult, tolerance: float) -> LocalizationResult:
        """``result`` with its fit taken; a failure naming the fx the run's frames fit when
        ``result`` succeeded and the evidence so far (this frame's fit included) has the verdict
        ``fx_off`` against ``tolerance`` (``gates.max_focal_error``; 0: no fits, no gate)."""
        self._tolerance = tolerance
        ev = self._judged(result, not tolerance <= 0)  # as ever: a NaN tolerance is judged
        if ev is None:
            return result
        fit = result.focal_fit
        fx = fit.fx_px
        own = (f"this frame's own fit {fit.scale:.2f}x passed gates.max_focal_error "
               f"{tolerance:g}, its pose is biased all the same")
        if ev.frames_used < MIN_FRAMES:  # too few fits for a verdict: the per-frame tests
            n, off = self._early
            if not off or 2 * off < n:
                return result
            detail = (f"{off} of the {n} frames so far under fx {fx:.1f} px fit a focal length "
                      f"over {100 * tolerance:g} % off it; {own}")
        elif ev.fx_off and ev.sigma_log is not None:
            detail = (f"over {ev.frames_used} frames the inliers fit fx {ev.scale * fx:.1f} px, "
                      f"not {fx:.1f}: {ev.scale:.3f}x +-{100 * ev.sigma_log:.1f} %; {own}")
        else:
            return result
        reason = (f"{REASON} ({detail}): wrong intrinsics (CameraInfo, camera.yaml) or a zoomed "
                  "or cropped image")
        return refused(result, reason)
