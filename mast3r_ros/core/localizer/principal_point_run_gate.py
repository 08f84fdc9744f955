"""The run's principal-point verdict as a gate on the frames that follow it (no rclpy).

One frame's principal point fit is weak (`principal_point_evidence`: at the right K the
redkitchen frames' dcx spread over -11..+7 px), so no frame is refused for its own. The run's
frames together are not: a portrait-mounted camera given its landscape K (cx 320, cy 240 on
480x640 frames, the frames fitting cx 246, cy 314 +-1.6 px) had 33 of 50 redkitchen frames
published 8.9 cm median, 42 cm at worst off (recall 5cm_5deg 0 %), and a camera.yaml with cx and
cy swapped 25 of 50, 19 cm median, 37 cm at worst, each under a confident covariance, while the
run's evidence said WRONG from its fifth frame on (only an end-of-run warning said so).
`RunPrincipalPointGate` keeps that evidence (`RunPrincipalPointEvidence`, the node's last
`NODE_MAX_FRAMES` fits, started over when the camera changes, with a fit or not: a new K
whose first frames gave none was judged on the old K's fits) as the localizer's frames come
and refuses a pose that passed every other gate while its 4-sigma interval lies beyond
`GATE_DEG` of view: wider than the warning's 1 deg (`TOLERANCE_DEG`), so that an offset that
biases poses a few cm (cx + 20 px at fx 585: 2 deg) is warned about and still published, while
one of 3 deg or more (cx + 40 px: 3.4 deg median rotation error) is refused. With the right K the
frames fit well within it (redkitchen: dcx -0.6 +- 0.5, dcy +1.2 +- 0.7 px at 640x480; +0.3 +-
0.3, -2.2 +- 0.8 px at 160x120, where 3 deg is 7.7 px). ``gates.max_focal_error: 0`` turns it off
with the focal gates (no fits are made then).

Until the run has a verdict its first frames pass on their own, which is safe for a principal
point near the centre and not for one no calibration gives: a camera.yaml holding K at twice the
image's resolution (cx 640, cy 480 on 640x480 frames) had 3 redkitchen frames published 2.1 m
and 22 deg off before the fifth fit gave the verdict. A camera whose principal point lies more
than `SUSPECT_OFFSET` of the image's width or height from its centre (`suspect_principal_point`:
K for another resolution, or cx, cy given in other units or swapped; a crop's moved principal
point is the rightful exception) is held instead: its poses fail until `MIN_FRAMES` frames have
fit cx and cy and the run's evidence finds them within the gate.

A frame's fit needs `pnp.principal_point.MIN_POINTS` (12) inliers and a geometry that
converges; a held camera whose frames pass the other gates without one (``gates.min_inliers``
below 12, few depth points) was held for good, each pose refused as "0 of 5 frames fit so far"
with no word of why. The hold now counts those frames since the last fit, and after
`MAX_UNFIT_FRAMES` of them in a row (with fewer than `MIN_FRAMES` fits) its reason says it
cannot be released
(`UNCONFIRMABLE_REASON`, warned once per camera) and what to do. It stays refused rather than
released: the far principal point it holds is, but for a crop, a wrong K (K at twice the
resolution: 2.1 m off), and nothing in the run can tell the two apart.
"""

from __future__ import annotations

import logging
from typing import Optional

from ..camera_key import CameraKey, camera_key, same_camera
from ..focal_evidence import NODE_MAX_FRAMES
from ..pnp.principal_point import MIN_POINTS
from ..principal_point_evidence import RunPrincipalPointEvidence
from ..run_evidence import MIN_FRAMES
from ..types import CameraIntrinsics, LocalizationResult
from .run_gate import RunGate, refused

# the gate's band: a principal point off by more than this angle of view (fx tan 3 deg px)
GATE_DEG = 3.0
REASON = "the camera's principal point is wrong by this run's frames"
# a principal point further than this fraction of the image's width (height) from its centre:
# held until the run's frames confirm it (calibrations put it within ~5 %; K at 2x: 50 %, at
# 1.5x or 0.5x: 25 %)
SUSPECT_OFFSET = 0.2
HELD_REASON = "the camera's principal point is held until this run's frames confirm it"
# frames of a held camera with no principal point fit after which the hold is said to be one
# this run cannot release (2x MIN_FRAMES: a few unfit frames among fitted ones are usual)
MAX_UNFIT_FRAMES = 2 * MIN_FRAMES
UNCONFIRMABLE_REASON = ("the camera's principal point is held and this run's frames cannot "
                        "confirm it")

log = logging.getLogger(__name__)


def suspect_principal_point(cam: CameraIntrinsics) -> str:
    """'' for a camera whose principal point lies within `SUSPECT_OFFSET` of the image's width
    and height of its centre ((width - 1) / 2, (height - 1) / 2, pixels); else a phrase saying
    where it lies and, where K scaled by one factor would centre it, the resolution K fits."""
    K, w, h = cam.K, int(cam.width), int(cam.height)
    cx, cy = float(K[0, 2]), float(K[1, 2])
    ox, oy = cx / w - 0.5, cy / h - 0.5
    if max(abs(ox), abs(oy)) <= SUSPECT_OFFSET:
        return ""
    where = (f"cx {cx:.1f}, cy {cy:.1f} px lie {100 * abs(ox):.0f} % and {100 * abs(oy):.0f} % "
             f"of the image's width and height from the centre of these {w}x{h} images")
    sx, sy = 2 * cx / w, 2 * cy / h
    if sx > 0 and abs(sx / sy - 1) < 0.05:
        where += f" (a K made for {round(w * sx)}x{round(h * sy)} images?)"
    return where


class RunPrincipalPointGate(RunGate):
    """Every frame's principal point fit (``LocalizationResult.focal_fit.principal_point``),
    passed or failed, in the order the frames come; `judge` turns a successful result into a
    failure while their combination puts cx or cy more than `GATE_DEG` of view off. Not
    thread-safe (the localizer locks)."""

    def __init__(self) -> None:
        self._evidence = RunPrincipalPointEvidence(NODE_MAX_FRAMES, tolerance_deg=GATE_DEG)
        # the held camera (`camera_key.CameraKey`) and its frames without a fit
        self._held: Optional[CameraKey] = None
        self._unfit = 0
        self._warned = False

    def _count_unfit(self, camera: CameraIntrinsics, fitted: bool) -> int:
        """Frames in a row of the held ``camera`` whose inliers gave no principal point fit,
        this one included; 0 when ``fitted`` (fits still come: the run may yet confirm it);
        started over when the held camera changes (any value of it, `camera_key.same_camera`:
        it was size, cx and cy alone, so a new D or fx kept counting the old camera's frames)."""
        key = camera_key(camera)
        if self._held is None or not same_camera(self._held, key):
            self._held, self._unfit, self._warned = key, 0, False
        self._unfit = 0 if fitted else self._unfit + 1
        return self._unfit

    def judge(self, result: LocalizationResult, enabled: bool = True,
              camera: Optional[CameraIntrinsics] = None) -> LocalizationResult:
        """``result`` with its fit taken; a failure naming the cx, cy the run's frames fit when
        ``result`` succeeded and the evidence so far (this frame's fit included) puts the
        principal point off, or, for a ``camera`` (the frame's) whose principal point is
        `suspect_principal_point`, has not yet confirmed it. ``enabled`` False
        (``gates.max_focal_error`` 0): no gate. A result without a fit (no points from depth)
        is not judged. A ``camera`` other than the evidence's (any value of its K, size or D:
        a new CameraInfo, `camera_key.same_camera`)
        starts the evidence over even when this frame has no principal point fit: the new K
        is never judged, or released from a hold, by the old K's fits."""
        fit = result.focal_fit
        if camera is not None and enabled:  # a new K starts over, whether this frame fit or not
            self._evidence.use_camera((float(camera.K[0, 0]), float(camera.K[0, 2]),
                                       float(camera.K[1, 2])), camera_key(camera))
        suspect = suspect_principal_point(camera) if camera is not None else ""
        unfit = (self._count_unfit(camera, fit.principal_point is not None)
                 if suspect and fit is not None and enabled else 0)
        ev = self._judged(result, enabled, camera)
        if ev is None:
            return result
        # frames combined (below MIN_FRAMES nothing is: those with a fit, then)
        frames = min(c.frames_used if c.value is not None else c.frames_judged
                     for c in (ev.dcx, ev.dcy))
        if suspect and not ev.off and frames < MIN_FRAMES:
            return refused(result, self._held_reason(suspect, frames, unfit))
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
        return refused(result, reason)

    def _held_reason(self, suspect: str, frames: int, unfit: int) -> str:
        """The reason of a held pose: `HELD_REASON` while fits may still come, naming the frames
        without one; `UNCONFIRMABLE_REASON` (warned once per camera) after `MAX_UNFIT_FRAMES`."""
        why = (f"{unfit} frame{'' if unfit == 1 else 's in a row'} without a principal point "
               "fit: fewer "
               f"than {MIN_POINTS} inliers within the reprojection error, or a geometry that "
               "does not converge")
        if unfit < MAX_UNFIT_FRAMES:
            more = f", {why}" if unfit else ""
            return (f"{HELD_REASON} ({suspect}; {frames} of {MIN_FRAMES} frames fit so far"
                    f"{more}): wrong intrinsics (CameraInfo K, camera.yaml: a calibration for "
                    "another resolution) or a cropped image whose K is right")
        reason = (f"{UNCONFIRMABLE_REASON} ({suspect}; {frames} of {MIN_FRAMES} frames fit, "
                  f"{why}), so it stays held: give the K of these images (CameraInfo K, "
                  "camera.yaml: a calibration at this resolution); for a cropped image whose K "
                  f"is right, let frames fit it (gates.min_inliers {MIN_POINTS} or more, a "
                  "scene with more texture or depth) or turn the check off with "
                  "gates.max_focal_error 0")
        if not self._warned:
            self._warned = True
            log.warning("%s", reason)
        return reason

