"""The run's principal-point verdict as a gate on the frames that follow it (no rclpy).

One frame's principal point fit is weak (`principal_point_evidence`: at the right K the
redkitchen frames' dcx spread over -11..+7 px), so no frame is refused for its own. The run's
frames together are not: a portrait-mounted camera given its landscape K (cx 320, cy 240 on
480x640 frames, the frames fitting cx 246, cy 314 +-1.6 px) had 33 of 50 redkitchen frames
published 8.9 cm median, 42 cm at worst off (recall 5cm_5deg 0 %), and a camera.yaml with cx and
cy swapped 25 of 50, 19 cm median, 37 cm at worst, each under a confident covariance, while the
run's evidence said WRONG from its fifth frame on (only an end-of-run warning said so).
`RunPrincipalPointGate` keeps that evidence (`RunPrincipalPointEvidence`, the node's last
`NODE_MAX_FRAMES` fits, started over when the camera changes) as the localizer's frames come
and refuses a pose that passed every other gate while its 4-sigma interval lies beyond
`GATE_DEG` of view: wider than the warning's 1 deg (`TOLERANCE_DEG`), so that an offset that
biases poses a few cm (cx + 20 px at fx 585: 2 deg) is warned about and still published, while
one of 3 deg or more (cx + 40 px: 3.4 deg median rotation error) is refused. With the right K the
frames fit well within it (redkitchen: dcx -0.6 +- 0.5, dcy +1.2 +- 0.7 px at 640x480; +0.3 +-
0.3, -2.2 +- 0.8 px at 160x120, where 3 deg is 7.7 px). ``gates.max_focal_error: 0`` turns it off
with the focal gates (no fits are made then).
"""

from __future__ import annotations

import dataclasses

from ..focal_evidence import NODE_MAX_FRAMES
from ..principal_point_evidence import RunPrincipalPointEvidence
from ..types import LocalizationResult

# the gate's band: a principal point off by more than this angle of view (fx tan 3 deg px)
GATE_DEG = 3.0
REASON = "the camera's principal point is wrong by this run's frames"


class RunPrincipalPointGate:
    """Every frame's principal point fit (``LocalizationResult.focal_fit.principal_point``),
    passed or failed, in the order the frames come; `judge` turns a successful result into a
    failure while their combination puts cx or cy more than `GATE_DEG` of view off. Not
    thread-safe (the localizer locks)."""

    def __init__(self) -> None:
        self._evidence = RunPrincipalPointEvidence(NODE_MAX_FRAMES, tolerance_deg=GATE_DEG)

    def judge(self, result: LocalizationResult, enabled: bool = True) -> LocalizationResult:
        """``result`` with its fit taken; a failure naming the cx, cy the run's frames fit when
        ``result`` succeeded and the evidence so far (this frame's fit included) puts the
        principal point off. ``enabled`` False (``gates.max_focal_error`` 0): no gate."""
        fit = result.focal_fit
        if fit is None or not enabled:
            return result
        self._evidence.add(fit)
        if not result.success:
            return result
        ev = self._evidence.evidence()
        if not ev.off or self._evidence.camera is None:
            return result
        _, cx, cy = self._evidence.camera
        off = "; ".join(f"{name} {base + c.value:.1f} px, not {base:.1f} ({c.value:+.1f} "
                        f"+-{c.sigma:.1f})" for name, base, c, bad in
                        (("cx", cx, ev.dcx, ev.cx_off), ("cy", cy, ev.dcy, ev.cy_off)) if bad)
        frames = max(c.frames_used for c in (ev.dcx, ev.dcy))
        reason = (f"{REASON} (over {frames} frames the inliers fit {off}: more than "
                  f"{ev.tolerance_px:.1f} px, {GATE_DEG:g} deg of view, off at "
                  f"{ev.significance:g} sigma): wrong intrinsics (CameraInfo K, camera.yaml; "
                  "a rotated camera given its unrotated K) or a cropped or shifted image")
        return dataclasses.replace(result, success=False, reason=reason, map_from_cam=None,
                                   covariance=None, position_sigma_m=None)
