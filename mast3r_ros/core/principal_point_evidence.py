"""Run-level evidence on the query camera's principal point, from the frames' own (no rclpy).

Each frame the focal gate judges (`query_checks.focal_gate`: a pose that passed the other
gates, with 3-D points from depth) also has the principal point offset (dcx, dcy) its inliers
fit with the pose and the focal scale (`pnp.principal_point.refitted_principal_point`), in
``FocalFit.principal_point`` (`PrincipalPointFit`). One frame's fit is weak: at the right K the
redkitchen frames' dcx spread over -11..+7 px, dcy over -15..+19 px (5-95 %). The frames
together are clear: `RunPrincipalPointEvidence` combines dcx and dcy each with the focal
evidence's statistics (`run_evidence.combine_measurements`: median, robust outlier cut,
inverse-variance mean with the Birge ratio) and gives a verdict when the whole
``significance``-sigma interval of either lies beyond `TOLERANCE_DEG` of view (``fx tan 1 deg``:
10.2 px at fx 585). On the redkitchen query (sift map, 50 frames; bench/bench_principal_point.py,
docs/bench/principal_point_cpu_2026-12-07p): the right K gives dcx -0.6 +- 0.5, dcy +1.2 +- 0.7
px; cx + 20 / + 40 / - 40 px give dcx -20.0 / -38.7 / +36.4 (+- 0.5-0.8), cy + 40 dcy -38.2 +-
0.7; fx, fy x1.1 dcx -1.0, dcy +1.2: a verdict at the four offsets, none at the right K or the
wrong focal length. metrics.json's ``camera_principal_point``, the CLI's end-of-run warning
and the node's /diagnostics report it; no frame is refused for its own fit (too weak), but
the localizer refuses poses while the run's evidence puts cx or cy beyond a wider band, 3 deg
of view (`localizer.principal_point_run_gate`: a rotated camera given its unrotated K published
poses up to 42 cm off).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Dict, Optional, Sequence

from .run_evidence import (Combined, RunFits, combine_measurements, consistent_note,
                           interval_outside)

# the verdict's band: a principal point off by more than this angle of view (fx tan 1 deg px)
TOLERANCE_DEG = 1.0
# the verdict's significance (sigmas), as the focal evidence's
SIGNIFICANCE = 4.0

# where to look for the intrinsics: offline (`principal_point_warning`'s default), in the node
# a fit under an fx within this fraction, and a cx, cy within this many pixels, of the fits kept
# is of the same calibration (float jitter of a driver's K; the fits' own sigmas are pixels)
SAME_FX_REL = 1e-4
SAME_CENTRE_PX = 0.05

CHECK_OFFLINE = "CameraInfo K, camera.yaml / --camera-info"
CHECK_NODE = "the CameraInfo topic's K, the driver's camera_info_url calibration file"


@dataclasses.dataclass(frozen=True)
class PrincipalPointFit:
    """One frame's fitted principal point offset, pixels: its inliers fit cx + ``dcx_px``, cy +
    ``dcy_px`` (1-sigma ``sigma_cx_px``, ``sigma_cy_px``) where the camera says ``cx_px``,
    ``cy_px``."""

    dcx_px: float
    dcy_px: float
    sigma_cx_px: float
    sigma_cy_px: float
    cx_px: float
    cy_px: float


@dataclasses.dataclass(frozen=True)
class PrincipalPointEvidence:
    """What a run's frames say about the principal point: ``dcx`` and ``dcy`` combined
    (`run_evidence.Combined`, pixels), ``tolerance_px`` (`TOLERANCE_DEG` at the camera's fx)
    and ``significance`` they were judged with, ``cx_off`` / ``cy_off`` the verdicts."""

    dcx: Combined
    dcy: Combined
    tolerance_px: float
    significance: float
    cx_off: bool
    cy_off: bool

    @property
    def off(self) -> bool:
        return self.cx_off or self.cy_off


def combine_principal_point_offsets(dcx: Sequence[float], sigma_cx: Sequence[float],
                                    dcy: Sequence[float], sigma_cy: Sequence[float],
                                    tolerance_px: float, significance: float = SIGNIFICANCE
                                    ) -> PrincipalPointEvidence:
    """The frames' offsets (N,) and their sigmas (N,), pixels, combined per axis
    (`run_evidence.combine_measurements`) and judged against ``tolerance_px`` at
    ``significance`` sigma."""
    cx = combine_measurements(dcx, sigma_cx, "principal point dcx (px)")
    cy = combine_measurements(dcy, sigma_cy, "principal point dcy (px)")
    return PrincipalPointEvidence(
        cx, cy, float(tolerance_px), float(significance),
        interval_outside(cx, -tolerance_px, tolerance_px, significance),
        interval_outside(cy, -tolerance_px, tolerance_px, significance))


def principal_point_warning(ev: PrincipalPointEvidence, cx_px: float, cy_px: float,
                            check: str = CHECK_OFFLINE, localized: bool = True) -> str:
    """The one-line warning of evidence whose verdict is off ('' otherwise): the cx, cy the
    frames fit, the camera's, and what to fix (``check``: where the intrinsics come from).
    ``localized`` False: no pose was published, so none is biased by it."""
    if not ev.off:
        return ""
    axes = [(name, c) for name, c, off in (("cx", ev.dcx, ev.cx_off), ("cy", ev.dcy, ev.cy_off))
            if off]
    frames = max(c.frames_used for _, c in axes)
    fitted = ", ".join(f"{name} {base + (c.value or 0.0):.1f} px" for name, base, c in
                       (("cx", cx_px, ev.dcx), ("cy", cy_px, ev.dcy)) if c.value is not None)
    off = "; ".join(f"{name} {c.value:+.1f} +-{c.sigma:.1f} px" for name, c in axes)
    return (f"the query camera's principal point looks wrong: over {frames} frames the inliers "
            f"fit {fitted}, not cx {cx_px:.1f}, cy {cy_px:.1f} ({off}; off by more than "
            f"{ev.tolerance_px:.1f} px, {TOLERANCE_DEG:g} deg of view, at {ev.significance:g} "
            f"sigma): recalibrate the camera, or fix the principal point (K's cx, cy) in its "
            f"intrinsics ({check}), and check whether the image is cropped or shifted from the "
            "calibrated one; the fit is against the map's 3-D points, placed with the K the map "
            "was built with, so a map built with the same wrong K hides it; "
            + ("poses under it are biased (cx 40 px off on the redkitchen data: 2.6 cm and 3.4 "
               "deg median, 10 cm at worst); while the frames put it more than 3 deg of view off "
               "the localizer refuses them, below that they are published" if localized else
               "no pose was localized (none published), so none is biased by it"))


class RunPrincipalPointEvidence(RunFits):
    """Frames' `PrincipalPointFit`s (each ``FocalFit.principal_point``) as they come ->
    `PrincipalPointEvidence`. Evidence is about one calibration: a fit under another fx, cx or
    cy (a new CameraInfo) starts it over; within `SAME_FX_REL` and `SAME_CENTRE_PX` of the
    first fit's it is the same one (a driver whose K jitters in its last digits started it over
    every frame, so a principal point held until confirmed was held for good).
    ``max_frames`` > 0 keeps only the most recent ones (the node:
    `focal_evidence.NODE_MAX_FRAMES`). Not thread-safe (the node locks)."""

    def __init__(self, max_frames: int = 0, tolerance_deg: float = TOLERANCE_DEG,
                 significance: float = SIGNIFICANCE) -> None:
        super().__init__(max_frames)
        self.tolerance_deg = float(tolerance_deg)
        self.significance = float(significance)
        self.camera: Optional[tuple] = None  # (fx, cx, cy) px of the fits kept

    def _same_camera(self, camera: tuple) -> bool:
        return (math.isclose(camera[0], self.camera[0], rel_tol=SAME_FX_REL)
                and all(abs(a - b) <= SAME_CENTRE_PX for a, b in zip(camera[1:],
                                                                    self.camera[1:])))

    def add(self, fit: Any) -> None:
        """Take one frame's `FocalFit` (None, or one without a principal point fit: the frame
        was not judged, nothing happens)."""
        pp: Optional[PrincipalPointFit] = getattr(fit, "principal_point", None)
        if pp is None:
            return
        self._take((float(fit.fx_px), float(pp.cx_px), float(pp.cy_px)),
                   (pp.dcx_px, pp.sigma_cx_px, pp.dcy_px, pp.sigma_cy_px),
                   getattr(fit, "camera", None))

    @property
    def tolerance_px(self) -> float:
        fx = self.camera[0] if self.camera else math.nan
        return fx * math.tan(math.radians(self.tolerance_deg))

    def evidence(self) -> PrincipalPointEvidence:
        cols = self._columns(4)
        return combine_principal_point_offsets(cols[0], cols[1], cols[2], cols[3],
                                               self.tolerance_px, self.significance)

    def warning(self, check: str = CHECK_OFFLINE, localized: bool = True) -> str:
        """`principal_point_warning` of the evidence so far ('' without a verdict)."""
        if self.camera is None:
            return ""
        return principal_point_warning(self.evidence(), self.camera[1], self.camera[2], check,
                                       localized)

    def report(self, localized: bool = True) -> Dict[str, Any]:
        """The evidence as JSON-ready values (metrics.json's ``camera_principal_point``)."""
        ev = self.evidence()
        fx, cx, cy = self.camera or (None, None, None)

        def axis(c: Combined, base: Optional[float], off: bool) -> Dict[str, Any]:
            return {"offset_px": c.value, "offset_sigma_px": c.sigma,
                    "fitted_px": None if c.value is None or base is None else base + c.value,
                    "frames_judged": c.frames_judged, "frames_used": c.frames_used,
                    "frames_outliers": c.frames_outliers, "chi2_per_dof": c.chi2_per_dof,
                    "consistent": c.consistent,
                    "consistent_note": consistent_note(c.consistent, c.chi2_per_dof, "off"),
                    "off": off}
        return {"fx_px": fx, "cx_px": cx, "cy_px": cy, "frames_fitted": len(self._fits),
                "cx": axis(ev.dcx, cx, ev.cx_off), "cy": axis(ev.dcy, cy, ev.cy_off),
                "tolerance_deg": self.tolerance_deg,
                "tolerance_px": None if fx is None else ev.tolerance_px,
                "significance": ev.significance, "off": ev.off,
                "warning": (principal_point_warning(ev, cx, cy, localized=localized) or None)
                if cx is not None and cy is not None else None,
                "frames_before_camera_change": self.frames_restarted}
