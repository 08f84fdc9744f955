"""The run's distortion verdict as a gate on the frames that follow it (no rclpy).

A query whose images carry a distortion the map's do not (barrel-distorted frames with D zero,
or rectified frames given the raw camera's D, against a map built right) is localized badly:
on the redkitchen data 44 and 39 of 50 frames published, 10.8 and 8.9 cm median, 27 and 21 cm
at worst, recall 5cm_5deg 6 % and 12 % (the right camera: 50, 1.1 cm, 92 %), while the run's
distortion evidence (`distortion_evidence`) fit k1 -0.249 and +0.319 +- 0.014.
`RunDistortionGate` keeps that evidence (the node's last `NODE_MAX_FRAMES` fits, started over
when the camera changes) as the localizer's frames come and refuses a pose that passed every
other gate while its 4-sigma interval lies beyond `GATE_DEG` of view at the image corner (k1
0.12 at 640x480): wider than the warning's 0.5 deg. Map and query undistorted twice alike fit
less (+0.172 +- 0.027: the map's points hide part of it) and publish most poses within 5 cm
(recall 72 %): warned about, not refused. ``gates.max_focal_error: 0`` turns it off with the
focal gates (no fits are made then).
"""

from __future__ import annotations

from ..distortion_evidence import RunDistortionEvidence
from ..focal_evidence import NODE_MAX_FRAMES
from ..types import LocalizationResult
from .run_gate import RunGate, refused

# the gate's band: a residual distortion moving the image corner by more than this angle
GATE_DEG = 1.5
REASON = "the images' lens distortion is wrong by this run's frames"


class RunDistortionGate(RunGate):
    """Every frame's distortion fit (``LocalizationResult.focal_fit.distortion``), passed or
    failed, in the order the frames come; `judge` turns a successful result into a failure
    while their combination puts the residual k1 beyond `GATE_DEG`. Not thread-safe (the
    localizer locks)."""

    def __init__(self) -> None:
        self._evidence = RunDistortionEvidence(NODE_MAX_FRAMES, tolerance_deg=GATE_DEG)

    def judge(self, result: LocalizationResult, enabled: bool = True) -> LocalizationResult:
        """``result`` with its fit taken; a failure naming the k1 the run's frames fit when
        ``result`` succeeded and the evidence so far (this frame's included) is off.
        ``enabled`` False (``gates.max_focal_error`` 0): no gate."""
        ev = self._judged(result, enabled)
        if ev is None or not ev.off:
            return result
        c = ev.k1
        reason = (f"{REASON} (over {c.frames_used} frames the inliers fit a residual radial k1 "
                  f"{c.value:+.3f} +-{c.sigma:.3f} beyond the camera's D: more than "
                  f"{ev.tolerance_k1:.3f}, {GATE_DEG:g} deg of view at the corner, at "
                  f"{ev.significance:g} sigma): rectified images given the raw camera's D, or "
                  "distorted ones given D zero (CameraInfo D, camera.yaml)")
        return refused(result, reason)
