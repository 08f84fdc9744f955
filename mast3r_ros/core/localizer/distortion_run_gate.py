"""The run's distortion verdict as a gate on the frames that follow it (no rclpy).

A query whose images carry a distortion the map's do not (barrel-distorted frames with D zero,
or rectified frames given the raw camera's D, against a map built right) is localized badly:
on the redkitchen data 44 and 39 of 50 frames published, 10.8 and 8.9 cm median, 27 and 21 cm
at worst, recall 5cm_5deg 6 % and 12 % (the right camera: 50, 1.1 cm, 92 %), while the run's
distortion evidence (`distortion_evidence`) fit k1 -0.249 and +0.319 +- 0.014.
`RunDistortionGate` keeps that evidence (the node's last `NODE_MAX_FRAMES` fits, started over
when the camera changes, with a fit or not: a new camera whose frames gave none was refused on
the old one's fits) as the localizer's frames come and refuses a pose that passed every
other gate while its 4-sigma interval lies beyond `GATE_DEG` of view at the image corner (k1
0.12 at 640x480): wider than the warning's 0.5 deg. Map and query undistorted twice alike fit
less (+0.172 +- 0.027: the map's points hide part of it) and publish most poses within 5 cm
(recall 72 %): warned about, not refused; so fits that bent the map's points through their
keyframes as well (`DistortionFit.through_keyframes`: a map of the query's own camera and D)
are not refused by this band, only by the mid-run rule below (the fit with the keyframes'
focal scale free fits +0.191 +- 0.016 there, docs/bench/distortion_cost_cpu_2026-12-07zi).
``gates.max_focal_error: 0`` turns it off with the focal gates (no fits are made then).

Cost: a fit is 10-30 ms a frame on a loaded 2-core CPU, almost all of it per-call overhead of
about 15 small least-squares evaluations (fewer points barely shorten it:
docs/bench/distortion_cost_cpu_2026-12-07zi). Once the evidence is settled (`RunDistortionGate
.settled`: the gate already refusing, or the frames' k1 well inside the warning's band) only one
frame in `FIT_STRIDE` is fitted (`wants_fit`); an undecided run fits every frame, so a verdict
comes as soon as before, and a change after a settled stretch is seen at most `FIT_STRIDE` - 1
frames later.

Rectified images given the raw camera's D against a map built right from the raw images with
that D: the query's D equals the map's, so the fits go through the map's keyframes and the gate
above never refuses them; yet every pose was 5-27 cm off (45 of 50 published, 9.2 cm median,
recall 5cm_5deg 6 %; docs/bench/distortion_rect_right_map_cpu_2026-12-07zr), and only the
end of the run said so. The mid-run rule (`RunDistortionEvidence.rectified_midrun`: the
end-of-run diagnosis 'rectified', at the warning's band, over at least `distortion_evidence
.MIDRUN_MIN_FRAMES` frames, held until the camera changes or the fits come back
`MIDRUN_RELEASE_SIGNIFICANCE` sigma inside the band) refuses each pose from the frame it
is first said (`RECTIFIED_REASON`) where the map's own distortion check (its manifest's
``consistency.distortion``, `map_check.distortion`) found the map's images right under the same
D (`map_images_right`: a check that records its camera, the same calibration, any coefficient and
the image size included): the query's images are not the map's kind. Where the map's check cannot
say so (none, another camera's, or the map's images rectified too: map and query alike, 2.2 cm
median, recall 72 %), the poses are published, marked (`DEGRADED_REASON` in their ``reason``):
docs/bench/distortion_rect_midrun_cpu_2026-12-09d.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Dict, Optional, Tuple

from ..camera_key import CameraKey, key_of_record, same_camera, within_of_record
from ..distortion_evidence import (MIDRUN_RELEASE_SIGNIFICANCE, TOLERANCE_DEG, DistortionEvidence,
                                   DistortionFit, RunDistortionEvidence, distortion_camera_of,
                                   tolerance_k1)
from ..run_evidence import MIN_FRAMES
from ..focal_evidence import NODE_MAX_FRAMES
from ..types import CameraIntrinsics, LocalizationResult
from .run_gate import RunGate, refused

# the gate's band: a residual distortion moving the image corner by more than this angle
GATE_DEG = 1.5
REASON = "the images' lens distortion is wrong by this run's frames"
# the mid-run rule's refusal (the words before " (": the same for every frame)
RECTIFIED_REASON = "the images look already rectified by this run's frames, the map's did not"
# ... and its mark on a pose published where the map's check cannot tell (`judge`)
DEGRADED_REASON = "published, degraded: the images look already rectified by this run's frames"
# the mid-run rule's reasons, logged at the first frame of each stretch of them by `localize` and
# the node (`stretch_news`; results.jsonl and /diagnostics have every frame's)
SAID_AT_ONCE = (RECTIFIED_REASON, DEGRADED_REASON)
# the map check's camera is the query's where fx and its k1 agree within this fraction
MAP_CAMERA_REL = 1e-3
# once settled, one frame in this many is fitted (`RunDistortionGate.wants_fit`)
FIT_STRIDE = 4
# settled silent: the k1 of at least `SETTLE_MIN_FRAMES` frames lies this many sigma inside the
# warning's band (`distortion_evidence.TOLERANCE_DEG`): the right redkitchen camera after about
# 26 frames (sigma floored at 0.1 a frame); its 4-sigma verdicts are the evidence's own
SETTLED_SIGNIFICANCE = 2.0
SETTLE_MIN_FRAMES = 10


def stretch_news(r: LocalizationResult, said: str) -> Tuple[bool, str]:
    """(whether ``r`` begins a stretch: its reason begins with one of `SAID_AT_ONCE` other than
    ``said``, the stretch so far; the stretch after ``r``): ``r``'s `SAID_AT_ONCE` key, else ''
    after a success (a clean pose ends it), else ``said`` (a frame failed for another reason
    does not). The one rule of `localize` (`localize_run.say_at_once`) and the node
    (`ros.processing`), which log ``r.reason`` when the first is True. Raises nothing."""
    key = next((k for k in SAID_AT_ONCE if r.reason.startswith(k)), "")
    return bool(key) and key != said, key or ("" if r.success else said)


def map_images_right(report: Optional[Dict[str, Any]], camera: Optional[tuple],
                     key: Optional[CameraKey] = None) -> bool:
    """Whether a map's own distortion check (``report``: its manifest's
    ``consistency.distortion``, `RunDistortionEvidence.report` of its keyframe pairs; None:
    not checked) judged its images right under ``camera`` ((fx px, given k1, D zero, corner
    radius): `distortion_camera`'s) with ``key`` (its `camera_key.CameraKey`): fitted over at
    least `run_evidence.MIN_FRAMES` pairs, no verdict (``off`` false), and of the same camera.
    A report naming its camera (``camera``, `camera_key.camera_record`: maps built since it was
    recorded) is the same camera only for a ``key`` `camera_key.same_camera` as its own (size,
    K, model, every coefficient; a query D differing in k2 alone, or another image size, was
    vouched for by the map's check of another camera), sizes and K within its ``within_px``
    where it was rebuilt from reduced records (`camera_key.within_of_record`); an unreadable
    one, or no ``key``, is not. A report without one (an older map) keeps the rule it was
    judged by: the same fx and given k1 (within `MAP_CAMERA_REL`)."""
    if not isinstance(report, dict) or camera is None or not math.isfinite(camera[1]):
        return False
    try:
        fx, given = float(report["fx_px"]), float(report["given_k1"])
        if "camera" in report:
            rebuilt = within_of_record(report["camera"])  # a rounding pixel is no other camera
            if key is None or not same_camera(key_of_record(report["camera"]), key, rebuilt):
                return False
        return (report.get("off") is False and report.get("k1") is not None
                and int(report.get("frames_used") or 0) >= MIN_FRAMES
                and math.isclose(fx, camera[0], rel_tol=MAP_CAMERA_REL)
                and math.isclose(given, camera[1], rel_tol=MAP_CAMERA_REL, abs_tol=1e-9))
    except (KeyError, TypeError, ValueError):  # an older or hand-made manifest: not judged
        return False


def _rectified_words(ev: DistortionEvidence, given_k1: float) -> str:
    c = ev.k1
    if c.value is None or c.sigma is None:  # held, but the fits kept since give no k1 (the
        # last `NODE_MAX_FRAMES` not observable): the figures were formatted from None
        return (f"said over earlier frames, the inliers fitting a residual radial k1 about "
                f"minus the camera's own {given_k1:+.3f}; of the fits kept since, "
                f"{c.frames_judged} give k1, too few to judge again")
    return (f"over {c.frames_used} frames the inliers fit a residual radial k1 {c.value:+.3f} "
            f"+-{c.sigma:.3f} beyond the camera's D, about minus its own k1 {given_k1:+.3f}")


# the mark's words for a map whose manifest records no distortion figure (``consistency.
# distortion``: a map built before build-map recorded it), naming the command that records it
NO_FIGURE = ("the map records no distortion figure to tell whether its images were bent alike "
             "(built before build-map recorded it? `mast3r-ros check-map MAP --record` adds "
             "it, and with it these poses are refused where the map's images fit right)")

FIX = ("give the raw images (image_raw) with this D, or the rectified images with the "
       "rectified camera (P as K, D zero; the node: image_rectified) (CameraInfo D, camera.yaml)")


class RunDistortionGate(RunGate):
    """Every frame's distortion fit (``LocalizationResult.focal_fit.distortion``), passed or
    failed, in the order the frames come; `judge` turns a successful result into a failure
    while their combination puts the residual k1 beyond `GATE_DEG`. Not thread-safe (the
    localizer locks). ``map_check``: the map's own distortion check (its manifest's
    ``consistency.distortion``; None: none), whether the mid-run rule refuses
    (`map_images_right`) or marks the poses (module docstring)."""

    def __init__(self, map_check: Optional[Dict[str, Any]] = None) -> None:
        self._map_check = map_check
        self._evidence = RunDistortionEvidence(NODE_MAX_FRAMES, tolerance_deg=GATE_DEG)
        self._judged_frames = 0  # frames judged with a fit (`judge`; `Localizer.recall` too)
        self._settled: bool = False
        self._stale = False   # fits added since `_settled` was computed
        self._through_keyframes = False  # the latest fit's (`DistortionFit`)

    def settled(self) -> bool:
        """Whether the fits so far decide both verdicts for a while: the gate's evidence is
        off (it refuses), or at least `SETTLE_MIN_FRAMES` frames put k1 `SETTLED_SIGNIFICANCE`
        sigma inside the warning's band (`distortion_evidence.TOLERANCE_DEG`)."""
        if self._stale:
            self._stale = False
            ev = self._evidence.evidence()
            c, cam = ev.k1, self._evidence.camera
            self._settled = bool(ev.off or (
                c.value is not None and c.sigma is not None and cam is not None
                and c.frames_used >= SETTLE_MIN_FRAMES
                and abs(c.value) + SETTLED_SIGNIFICANCE * c.sigma
                < tolerance_k1(cam[3], TOLERANCE_DEG)))
        return self._settled

    def run_fit(self) -> Optional[DistortionFit]:
        """The run's combined k1 as one `DistortionFit` while the gate refuses (its evidence
        off), else None: what a frame left unfitted (`wants_fit`) names in its focal reason."""
        ev, cam = self._evidence.evidence(), self._evidence.camera
        if not ev.off or cam is None or ev.k1.value is None or ev.k1.sigma is None:
            return None
        fx, given, zero, r = cam
        return DistortionFit(float(ev.k1.value), float(ev.k1.sigma), given, zero, fx, r)

    def wants_fit(self, camera: Optional[CameraIntrinsics] = None) -> bool:
        """Whether the next frame's distortion is to be fitted (`focal_gate`'s
        ``fit_distortion``): every frame until `settled`, then one in `FIT_STRIDE` of the
        frames judged with a fit (counted by `judge`, so a resumed run that recalls its
        results, `Localizer.recall`, fits the same frames as a run in one go). ``camera``
        (the frame's): `use_camera` first, so that a new calibration's first frame is fitted
        and never named by the old one's `run_fit`. A frame not fitted is still judged
        (`judge`) on the evidence so far."""
        self.use_camera(camera)
        return (not self.settled()
                or (self._judged_frames + 1) % FIT_STRIDE == 0)

    def use_camera(self, camera: Optional[CameraIntrinsics]) -> None:
        """Make ``camera`` (None: no change) the calibration the evidence is about: another
        than the evidence's (any value: size, K, model, a coefficient; `camera_key.same_camera`)
        starts it over, undecided (not `settled`)."""
        if camera is None:
            return
        before = self._evidence.camera
        key, facts = distortion_camera_of(camera)  # computed once per calibration
        self._evidence.use_camera(facts, key)
        if self._evidence.camera is not before:  # a new calibration: not settled yet
            self._stale = True

    def _take(self, fit: Any) -> None:
        """Take a frame's fit where it holds a distortion fit (a frame left unfitted by
        `wants_fit` has none) and mark the settled verdict stale."""
        if getattr(fit, "distortion", None) is not None:
            self._evidence.add(fit)
            self._stale = True
            self._through_keyframes = fit.distortion.through_keyframes

    def judge(self, result: LocalizationResult, enabled: bool = True,
              camera: Optional[CameraIntrinsics] = None) -> LocalizationResult:
        """``result`` with its fit taken; a failure naming the k1 the run's frames fit when
        ``result`` succeeded and the evidence so far (this frame's included) is off.
        ``enabled`` False (``gates.max_focal_error`` 0): no gate. A ``camera`` (the frame's)
        other than the evidence's starts it over even when this frame has no distortion fit
        (a fisheye D, which the fit cannot judge, or too few inliers): the new calibration is
        never refused on the old one's fits."""
        if enabled:
            self.use_camera(camera)
            if result.focal_fit is not None:  # the frames `wants_fit` strides over
                self._judged_frames += 1
        ev = self._judged(result, enabled, camera)
        if ev is None:
            if (enabled and result.focal_fit is not None and not result.success
                    and result.reason.startswith(RECTIFIED_REASON)):
                # a recorded refusal of the mid-run rule (`Localizer.recall`, a resumed run):
                # the run in one go judged it a success, so its hold moves here as it did there
                # (else a hold the fits dip under ends at the resume: frames refused in one go
                # were published after it)
                self._evidence.rectified_midrun()
            return result
        if ev.off and not self._through_keyframes:  # a map bent alike: not refused here
            c = ev.k1
            reason = (f"{REASON} (over {c.frames_used} frames the inliers fit a residual radial "
                      f"k1 {c.value:+.3f} +-{c.sigma:.3f} beyond the camera's D: more than "
                      f"{ev.tolerance_k1:.3f}, {GATE_DEG:g} deg of view at the corner, at "
                      f"{ev.significance:g} sigma): rectified images given the raw camera's D, "
                      "or distorted ones given D zero (CameraInfo D, camera.yaml)")
            return refused(result, reason)
        return self._rectified(result)

    def _rectified(self, result: LocalizationResult) -> LocalizationResult:
        """``result`` (a success) refused or marked by the mid-run rule (module docstring)."""
        held = self._evidence.rectified_midrun()
        cam = self._evidence.camera
        if held is None or cam is None:
            return result
        fit = _rectified_words(held, cam[1])
        check = self._map_check
        if map_images_right(check, cam, self._evidence.camera_key):
            return refused(result, (
                f"{RECTIFIED_REASON} ({fit}, while the map's own check fit k1 "
                f"{check['k1']:+.3f} over its keyframe pairs under the same D): rectified images "
                "(image_rect) given the raw camera's D are undistorted a second time and their "
                "poses are biased (the redkitchen data: 9 cm median, 27 cm at worst); " + FIX
                + f"; refused until the camera changes or the fits come back "
                f"{MIDRUN_RELEASE_SIGNIFICANCE:g} sigma inside the {TOLERANCE_DEG:g} deg band"))
        why = ("the map's own check found its images rectified too: map and query alike, "
               "both undistorted twice; correct the camera and build the map again"
               if isinstance(check, dict) and check.get("diagnosis") == "rectified" else
               "the map has no distortion check of this camera to tell whether its images "
               "were bent alike" if isinstance(check, dict) else NO_FIGURE)
        return dataclasses.replace(result, reason=(
            f"{DEGRADED_REASON} ({fit}): rectified images given the raw camera's D; {why}; "
            f"poses may be biased; " + FIX))
