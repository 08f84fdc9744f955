"""Run-level evidence on the query camera's focal length, from the frames' own (no rclpy).

Each frame whose pose passed the other gates, with 3-D points from depth, has the scale ``s`` on
its camera's focal lengths that its inliers fit and the standard deviation of ``log s``
(`pnp.focal.refitted_focal_scale`, `FocalFit`, in `LocalizationResult.focal_fit`). One frame's
evidence is weak: with fx 10 % too large on the redkitchen data 11 of 50 frames passed the
per-frame gate (``gates.max_focal_error``) 20-30 cm off, each looking like a frame whose ``s``
is not clear enough. The frames of a run, taken together, are clear: `combine_focal_scales`
combines them and `RunFocalEvidence` accumulates them as frames come (the replay CLI's
metrics.json ``camera_focal``, the node's /diagnostics).

The statistics, in ``y = log s`` (a focal-length error is a ratio; its sigma is relative):

1. **Robust centre.** The median ``m`` of ``y`` over the frames, not weighted: a frame whose
   fit went wrong (a pose on the wrong keyframe, inliers on one wall) comes with a sigma as
   wrong as its scale, often a small one, so weights are no guard against it (8 of 38 frames
   claiming 0.70 at 0.5 %, against 30 at 1.00 +- 1 %, hold the majority of the inverse-variance
   weight: a weighted median, and a weighted mean, follow them). Counting frames, up to half
   of them can be wrong.
2. **Scatter check.** Each frame's normalised residual ``z = (y - m) / sigma``; with sigmas
   that are right ``|z|`` has the half-normal median 0.6745, so ``k = max(1, 1.4826 median
   |z|)`` is how much the sigmas understate the scatter (a robust Birge ratio; a first-order
   sigma from the residuals of correlated matches is optimistic). Frames with ``|z| > OUTLIER_Z
   * k`` are outliers and left out.
3. **Combination.** The inverse-variance mean of the others, ``y = sum w y / sum w``, sigma
   ``1 / sqrt(sum w)``, scaled by the Birge ratio ``sqrt(chi2 / (n - 1))`` when over 1
   (the PDG's rule for measurements that scatter more than their sigmas say); ``consistent``
   is the chi^2 test of the kept frames about that mean at `CONSISTENCY_P` (False: the frames
   disagree beyond their sigmas, the sigma is the inflated one). On the redkitchen query (sift,
   50 frames) the frames scatter 3x their sigmas at the right calibration (chi^2/dof 9) and
   5-8x under a focal length 5-20 % off: False there, and the inflation is what makes the
   combined sigma honest.
4. **Verdict** (``fx_off``): at least `MIN_FRAMES` frames used and the whole
   ``significance``-sigma interval of ``s`` outside ``[1 - tolerance, 1 + tolerance]`` (the
   per-frame gate's band): the focal length is off by more than the gate's tolerance, not just
   off. Frames in a row see the same points, so their errors are not independent and the sigma
   may still be smaller than the truth; the tolerance, not the sigma, then decides at the true
   calibration (the kitchen: 1.0001 +- 0.06 %). With fx 10-20 % off the combination finds the
   true fx within 0.5 % (fx 584-587 px for 585); with fx 5 % off it lands on the band's edge
   (1.050x, 0.954x) and gives no verdict.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Dict, Optional, Sequence

import numpy as np

from .camera_key import CameraKey
from .distortion_evidence import DistortionFit
from .principal_point_evidence import PrincipalPointFit
from .run_evidence import (CONSISTENCY_P, MIN_FRAMES, OUTLIER_Z,  # noqa: F401 (re-exported)
                           RunFits, combine_measurements, consistent_note,
                           interval_outside)

# MIN_FRAMES (fewest frames before a verdict), OUTLIER_Z, CONSISTENCY_P: `run_evidence`'s, whose
# `combine_measurements` is steps 1-3 above (in y = log s)
# the verdict's significance (sigmas), as the per-frame gate's (`query_checks.FOCAL_SIGNIFICANCE`)
SIGNIFICANCE = 4.0
# `RunFocalEvidence` for the node: at most this many recent frames (a run of hours stays bounded)
NODE_MAX_FRAMES = 300
# a fit under an fx within this fraction of the evidence's is of the same calibration: a driver
# whose K jitters in its last digits (as `principal_point_evidence.SAME_FX_REL`) no longer
# starts the evidence over at every frame, which kept the focal run gate from a verdict
SAME_FX_REL = 1e-4


@dataclasses.dataclass(frozen=True)
class FocalFit:
    """One frame's fitted focal scale: ``scale`` (its inliers fit fx * scale, fy * scale),
    ``sigma_log`` the standard deviation of log(scale) (inf: not observable, e.g. points at
    one depth), ``fx_px`` the camera's fx (pixels) the scale is relative to;
    ``principal_point`` the (dcx, dcy) they fit too, ``distortion`` the residual k1; ``camera``
    the whole calibration the frame was localized with (`camera_key.CameraKey`; None where not
    known), which the run-level evidences keep their fits apart by."""

    scale: float
    sigma_log: float
    fx_px: float
    # the principal point offset the same inliers fit (`principal_point_evidence`), None where
    # not fitted; not compared: a FocalFit's equality is its focal figures'
    principal_point: Optional[PrincipalPointFit] = dataclasses.field(default=None, compare=False)
    # the residual radial distortion the same inliers fit (`distortion_evidence`), likewise
    distortion: Optional[DistortionFit] = dataclasses.field(default=None, compare=False)
    # the frame's calibration (`camera_key.camera_key`), likewise
    camera: Optional[CameraKey] = dataclasses.field(default=None, compare=False)


@dataclasses.dataclass(frozen=True)
class FocalEvidence:
    """What a run's frames say about the focal length (`combine_focal_scales`).

    ``scale`` (None below `MIN_FRAMES`) and ``sigma_log`` (of log scale, i.e. relative) of the
    combination; ``frames_judged`` frames with an observable fit, ``frames_used`` of them
    combined (the others ``frames_outliers``); ``chi2_per_dof`` of the used frames about the
    combined value (None for one frame) and ``consistent`` its test; ``fx_off`` the verdict;
    ``tolerance`` and ``significance`` it was judged with."""

    scale: Optional[float]
    sigma_log: Optional[float]
    frames_judged: int
    frames_used: int
    frames_outliers: int
    chi2_per_dof: Optional[float]
    consistent: Optional[bool]
    fx_off: bool
    tolerance: float
    significance: float


def combine_focal_scales(scales: Sequence[float], sigmas_log: Sequence[float],
                         tolerance: float, significance: float = SIGNIFICANCE) -> FocalEvidence:
    """Combine frames' focal scales (N,) and sigmas of their log (N,) into one (module
    docstring: median, robust outlier cut, inverse-variance mean with the Birge ratio,
    chi^2 consistency, verdict against ``tolerance`` (a fraction, the gate's) at
    ``significance`` sigma). Frames with a non-finite or non-positive scale or sigma (not
    observable) are not judged. `ValueError` for arrays of other lengths."""
    s = np.asarray(scales, np.float64).ravel()
    sig = np.asarray(sigmas_log, np.float64).ravel()
    if s.shape != sig.shape:
        raise ValueError(f"combine_focal_scales: {len(s)} scales but {len(sig)} sigmas")
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.where(np.isfinite(s) & (s > 0), np.log(np.where(s > 0, s, 1.0)), np.nan)
    c = combine_measurements(y, sig, "log focal scale")
    if c.value is None or c.sigma is None:
        return FocalEvidence(None, None, c.frames_judged, 0, 0, None, None, False, tolerance,
                             significance)
    # no scale is 100 % too small: a tolerance of 1 or more has no lower edge
    low = math.log1p(-tolerance) if tolerance < 1 else -math.inf
    off = interval_outside(c, low, math.log1p(tolerance), significance)
    return FocalEvidence(math.exp(c.value), c.sigma, c.frames_judged, c.frames_used,
                         c.frames_outliers, c.chi2_per_dof, c.consistent, bool(off), tolerance,
                         significance)


# the words before " (" of a failure the run-level focal gate (`localizer.focal_run_gate`) made:
# metrics.json's failure_reasons key, and how metrics tells its frames from per-frame failures
RUN_GATE_REASON = "the camera's focal length is wrong by this run's frames"

# where to look for the intrinsics: offline (`focal_warning`'s default), in the node
CHECK_OFFLINE = "CameraInfo, camera.yaml / --camera-info"
CHECK_NODE = "the CameraInfo topic, the driver's camera_info_url calibration file"


def focal_warning(ev: FocalEvidence, fx_px: float, check: str = CHECK_OFFLINE,
                  localized: bool = True) -> str:
    """The one-line warning of evidence whose verdict is ``fx_off`` ('' otherwise): the fx the
    frames fit (camera ``fx_px`` times the combined scale) and what to check (``check``: where
    the intrinsics come from, `CHECK_OFFLINE` or `CHECK_NODE`). ``localized`` False: no frame
    was localized (none passed the gates, the run-level focal gate included), so it says that no
    pose was published instead of that the published ones are biased."""
    if not ev.fx_off or ev.scale is None or ev.sigma_log is None:
        return ""
    return (f"the query camera's focal length looks wrong: over {ev.frames_used} frames the "
            f"inliers fit fx {ev.scale * fx_px:.1f} px, not {fx_px:.1f} ({ev.scale:.3f}x, "
            f"+-{100 * ev.sigma_log:.1f} %; off by more than gates.max_focal_error "
            f"{ev.tolerance:g} at {ev.significance:g} sigma): check the intrinsics ({check}) "
            "and whether the image is zoomed, cropped, binned or resized from the calibrated "
            "one; the fit is against the map's 3-D points, placed with the K the map was built "
            "with, so a query's K must be the map's (even where check-map notes that the "
            "colour images fit another); " + (
                "poses published meanwhile are biased along the view with a confident "
                "covariance" if localized else
                "no pose was localized (none published), so none is biased by it"))


class RunFocalEvidence(RunFits):
    """`FocalFit`s as frames come -> `FocalEvidence` (`combine_focal_scales`). Evidence is
    about one calibration: a fit relative to another fx (a new CameraInfo) starts it over.
    ``max_frames`` > 0 keeps only the most recent ones (the node: `NODE_MAX_FRAMES`). Not
    thread-safe (the node locks)."""

    def __init__(self, tolerance: float, max_frames: int = 0,
                 significance: float = SIGNIFICANCE) -> None:
        super().__init__(max_frames)
        self.tolerance = float(tolerance)
        self.significance = float(significance)

    @property
    def fx_px(self) -> Optional[float]:
        """The camera's fx (pixels) the fits kept are relative to (None before the first)."""
        return self.camera

    def _same_camera(self, camera: float) -> bool:
        # against the first fx of the calibration: a jitter below stays its own
        return math.isclose(camera, self.camera, rel_tol=SAME_FX_REL)

    def add(self, fit: Optional[FocalFit]) -> None:
        """Take one frame's fit (None: the frame was not judged, nothing happens)."""
        if fit is None:
            return
        self._take(float(fit.fx_px), (float(fit.scale), float(fit.sigma_log)),
                   getattr(fit, "camera", None))

    def evidence(self) -> FocalEvidence:
        s, sig = self._columns(2)
        return combine_focal_scales(s, sig, self.tolerance, self.significance)

    def warning(self, check: str = CHECK_OFFLINE) -> str:
        """`focal_warning` of the evidence so far ('' without a verdict)."""
        return focal_warning(self.evidence(), self.fx_px or 0.0, check)

    def report(self, localized: bool = True) -> Dict[str, Any]:
        """The evidence as JSON-ready values (metrics.json's ``camera_focal``; ``localized``:
        `focal_warning`'s)."""
        ev = self.evidence()
        fx = self.fx_px
        return {
            "fx_px": fx, "frames_fitted": len(self._fits), "frames_judged": ev.frames_judged,
            "frames_used": ev.frames_used, "frames_outliers": ev.frames_outliers,
            "scale": ev.scale, "scale_sigma": ev.sigma_log,
            "fx_fitted_px": None if ev.scale is None or fx is None else ev.scale * fx,
            "chi2_per_dof": ev.chi2_per_dof, "consistent": ev.consistent,
            "consistent_note": consistent_note(ev.consistent, ev.chi2_per_dof, "fx_off"),
            "tolerance": ev.tolerance, "significance": ev.significance,
            "fx_off": ev.fx_off,
            "warning": focal_warning(ev, fx or 0.0, localized=localized) or None,
            "frames_before_fx_change": self.frames_restarted}
