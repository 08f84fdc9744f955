"""Run-level evidence on the query images' lens distortion, from the frames' own (no rclpy).

Each frame the focal gate judges (`query_checks.focal_gate`: a pose that passed the other
gates, with 3-D points from depth) also has the residual radial distortion ``k1`` its inliers
fit beyond the distortion the camera states (`pnp.distortion.refitted_distortion`, the
Brown-Conrady radial model of OpenCV's camera model documentation, in normalized
coordinates), in ``FocalFit.distortion`` (`DistortionFit`). `RunDistortionEvidence` combines
the frames' ``k1`` with the focal evidence's statistics (`run_evidence.combine_measurements`:
median, robust outlier cut, inverse-variance mean with the Birge ratio) and gives a verdict
when the whole ``significance``-sigma interval lies beyond `TOLERANCE_DEG`: the residual
distortion moving the image corner by more than that angle of view (``k1`` 0.04 at 640x480,
fx 585; the same ``k1`` at any resize, normalized coordinates do not scale). Each frame's
sigma is floored at `SIGMA_FLOOR_K1` first: real frames scatter far more than their sigmas.

The diagnosis (`distortion_warning`) compares the fit with the camera's own ``k1``:

- the camera states a distortion and the frames fit about its opposite (`RECTIFIED_RATIO`),
  a window wholly beyond the band (`rectified_window_clear`: not for a camera whose own k1 is
  within 2.5 band widths, where a right camera's residual may lie): the images are already
  rectified (``image_rect``) and are undistorted a second time;
- the camera states none (D zero) and the frames fit one: the images are distorted (raw);
- otherwise the camera's D does not describe these images (another camera's calibration).

On the redkitchen data (sift map, 50 query frames; bench/bench_distortion_evidence.py,
docs/bench/distortion_evidence_cpu_2026-12-07x) see the README there for the figures. A wrong
distortion also makes the focal fit drift (PnP trades it for a focal scale), so the end-of-run
warnings name the distortion first and the focal warning points at it (`replay.metrics`).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Dict, Optional, Sequence, Tuple

import numpy as np

from .camera_key import CameraKey, camera_key
from .run_evidence import (Combined, RunFits, combine_measurements, consistent_note,
                           interval_outside)

# the verdict's band: a residual distortion moving the image corner by more than this angle
# (k1 0.04 at 640x480, fx 585: the corners 7 px)
TOLERANCE_DEG = 0.5
# each frame's k1 sigma is taken as at least this (added in quadrature): at the right camera
# the redkitchen frames' fits (map and query from one camera) scatter 0.10 about 0, 10x their
# own sigmas, and in runs of neighbouring frames (chi^2/dof 26): the inverse-variance mean
# followed the few frames with the smallest sigmas; with the floor the frames are consistent
# (chi^2/dof 0.9) and a wrong distortion still stands clear (module docstring)
SIGMA_FLOOR_K1 = 0.1
# the verdict's significance (sigmas), as the focal and principal point evidence's
SIGNIFICANCE = 4.0
# "already rectified": the fitted k1 is between these fractions of minus the camera's k1
RECTIFIED_RATIO = (0.4, 1.6)

# fx, the camera's k1 and the corner radius within this fraction of the first fit's: the same
# calibration (a driver's K jittering in its last digits started the evidence over every frame)
SAME_CAMERA_REL = 1e-4

# the mid-run rule (`RunDistortionEvidence.rectified_midrun`): fewest frames used before it is
# said, and how far inside the warning's band (sigmas) the fits must come back to release it
MIDRUN_MIN_FRAMES = 10
MIDRUN_RELEASE_SIGNIFICANCE = 2.0

CHECK_OFFLINE = "camera.yaml / --camera-info's distortion_coefficients"
CHECK_NODE = "the CameraInfo topic's D, the driver's camera_info_url calibration file"


@dataclasses.dataclass(frozen=True)
class DistortionFit:
    """One frame's fitted residual radial distortion: its inliers fit ``k1`` (1-sigma
    ``sigma_k1``; unitless, normalized coordinates) beyond the camera's distortion, whose own
    radial ``given_k1`` is NaN for a model without one (not plumb_bob / rational_polynomial)
    and whose coefficients are all zero when ``given_zero``; ``fx_px`` the camera's fx,
    ``corner_r`` the normalized radius of the image corner farthest from the principal
    point; ``through_keyframes``: the map's points were bent by the same k1 through their
    keyframes (`pnp.distortion.refitted_distortion`'s ``keyframes``: a map of the query's
    camera and D: not refused by the gate's band, `localizer.distortion_run_gate`; consistent
    poses where map and query images were rectified alike, not for rectified query images given
    the raw D against a map built right from the raw ones, which the gate's mid-run rule
    refuses: docs/bench/distortion_rect_midrun_cpu_2026-12-09d)."""

    k1: float
    sigma_k1: float
    given_k1: float
    given_zero: bool
    fx_px: float
    corner_r: float
    through_keyframes: bool = False


def distortion_fit(fit: Any, K: np.ndarray, width: int, height: int, model: str,
                   dist: np.ndarray, through_keyframes: bool = False,
                   camera: Optional[tuple] = None) -> Optional[DistortionFit]:
    """``fit`` ((k1, sigma, points) of `pnp.distortion.refitted_distortion`, or None) with
    the camera's ``K`` (3x3), image size (px) and distortion (``model``, ``dist``) as a
    `DistortionFit` (None without a fit); ``through_keyframes``: fitted with ``keyframes``;
    ``camera``: their `distortion_camera` where the caller has it (`distortion_camera_of`)."""
    if fit is None:
        return None
    fx, given, zero, corner_r = (camera if camera is not None else
                                 distortion_camera(K, width, height, model, dist))
    return DistortionFit(float(fit[0]), float(fit[1]), given, zero, fx, corner_r,
                         bool(through_keyframes))


def distortion_camera(K: np.ndarray, width: int, height: int, model: str,
                      dist: np.ndarray) -> tuple:
    """(fx px, given k1 (NaN for a model without one; 0.0 for an all-zero D), D all zero,
    normalized corner radius) of a camera: the calibration a `DistortionFit` is about
    (`RunDistortionEvidence.camera`)."""
    d = np.asarray(dist, np.float64).ravel()
    given = float(d[0]) if len(d) and model in ("plumb_bob", "rational_polynomial") else (
        0.0 if not np.any(d) else math.nan)
    cx, cy = float(K[0, 2]), float(K[1, 2])
    dx = max(cx, width - 1 - cx) / float(K[0, 0])
    dy = max(cy, height - 1 - cy) / float(K[1, 1])
    return float(K[0, 0]), given, not np.any(d), math.hypot(dx, dy)


_CAMERAS: Dict[CameraKey, tuple] = {}  # `distortion_camera_of`'s, by calibration
_MAX_CAMERAS = 64  # calibrations kept (then started over): a run has one or a few


def distortion_camera_of(cam: Any) -> Tuple[CameraKey, tuple]:
    """(`camera_key.camera_key` of ``cam``, its `distortion_camera`), the latter computed once
    per calibration (by its values, not the object: the node makes a new `CameraIntrinsics`
    per CameraInfo message) and kept: the localizer's run gate, the per-frame fit and the
    node's /diagnostics each asked for it every frame (4 times a frame)."""
    key = camera_key(cam)
    facts = _CAMERAS.get(key)
    if facts is None:
        if len(_CAMERAS) >= _MAX_CAMERAS:
            _CAMERAS.clear()
        facts = _CAMERAS[key] = distortion_camera(cam.K, cam.width, cam.height,
                                                  cam.distortion_model, cam.dist)
    return key, facts


def radial_judged(cam: Any) -> bool:
    """Whether the residual radial fit (`pnp.distortion`: Brown-Conrady's k1 on a pinhole) can
    judge ``cam``'s images: D zero, or a plumb_bob / rational_polynomial D (whose own k1 it is
    compared with). A fisheye (equidistant) D maps angles, not pinhole radii: its undistorted
    edge points lie far out, where a pinhole k1 is no model of its residual and the tolerance,
    computed at the pinhole corner, would not hold. Used by the per-frame fit
    (`localizer.query_checks.focal_gate`) and the map check's pairs (`map_check.distortion`)."""
    return not cam.has_distortion or cam.distortion_model in ("plumb_bob", "rational_polynomial")


def tolerance_k1(corner_r: float, tolerance_deg: float = TOLERANCE_DEG) -> float:
    """The ``k1`` that moves a point at normalized radius ``corner_r`` by ``tolerance_deg`` of
    view: ``k1 r^3`` normalized units, ``1 + r^2`` of them a radian there."""
    r = float(corner_r)
    return math.tan(math.radians(tolerance_deg)) * (1.0 + r * r) / r ** 3 if r > 0 else math.inf


@dataclasses.dataclass(frozen=True)
class DistortionEvidence:
    """What a run's frames say about the distortion: ``k1`` combined (`run_evidence.Combined`),
    ``tolerance_k1`` and ``significance`` it was judged with, ``off`` the verdict."""

    k1: Combined
    tolerance_k1: float
    significance: float
    off: bool


def combine_distortions(k1: Sequence[float], sigma: Sequence[float], tolerance: float,
                        significance: float = SIGNIFICANCE,
                        floor: float = SIGMA_FLOOR_K1) -> DistortionEvidence:
    """The frames' ``k1`` (N,) and sigmas (N,) combined (each sigma at least ``floor``,
    `SIGMA_FLOOR_K1`) and judged against ``tolerance``."""
    s = np.asarray(sigma, np.float64)
    c = combine_measurements(k1, np.where(np.isfinite(s) & (s > 0), np.hypot(s, floor), s),
                             "residual distortion k1")
    return DistortionEvidence(c, float(tolerance), float(significance),
                              interval_outside(c, -tolerance, tolerance, significance))


def rectified_window_clear(ev: DistortionEvidence, given_k1: float) -> bool:
    """Whether a fit of ``RECTIFIED_RATIO`` times minus the camera's ``given_k1`` lies beyond
    ``ev``'s band (``tolerance_k1``) at the window's low end: the double undistortion of the
    camera's own k1 is then off whatever part of it the map's points hide. A camera whose k1 is
    smaller (within 2.5 band widths: 0.100 at 640x480, fx 585) has its window reach into the
    band, where a right camera's systematic residual lies (a small D fitting +0.07, 1.4x minus
    its k1 -0.05, was refused mid-run as rectified although its map's check found its images
    right): such a fit is not called rectified."""
    return bool(np.isfinite(given_k1)
                and RECTIFIED_RATIO[0] * abs(given_k1) > ev.tolerance_k1)


def diagnosis(ev: DistortionEvidence, given_k1: float, given_zero: bool) -> str:
    """'rectified', 'distorted' or 'mismatch' for evidence whose verdict is off ('' else):
    'rectified' a fitted k1 of ``RECTIFIED_RATIO`` times minus the camera's own where that
    window lies beyond the band (`rectified_window_clear`)."""
    if not ev.off or ev.k1.value is None:
        return ""
    if given_zero:
        return "distorted"
    if np.isfinite(given_k1) and given_k1 != 0 and rectified_window_clear(ev, given_k1):
        ratio = -ev.k1.value / given_k1
        if RECTIFIED_RATIO[0] <= ratio <= RECTIFIED_RATIO[1]:
            return "rectified"
    return "mismatch"


def distortion_warning(ev: DistortionEvidence, given_k1: float, given_zero: bool,
                       fx_px: float, corner_r: float, check: str = CHECK_OFFLINE,
                       localized: bool = True, subject: str = "query") -> str:
    """The one-line warning of evidence whose verdict is off ('' otherwise): what the frames
    fit, the diagnosis (`diagnosis`) and what to fix (``check``: where D comes from).
    ``subject`` "map": the measurements are a map's keyframe pairs (`map_check.distortion`),
    worded so, with the map to build again (``localized`` is then unused)."""
    what = diagnosis(ev, given_k1, given_zero)
    if not what:
        return ""
    k = ev.k1
    shift = abs(k.value) * corner_r ** 3 * fx_px
    on_map = subject == "map"
    images = "the map's images" if on_map else "the query images"
    fitted = (f"over {k.frames_used} keyframe pairs the matches fit" if on_map else
              f"over {k.frames_used} frames the inliers fit")
    fitted += (f" a residual radial distortion k1 "
               f"{k.value:+.3f} +-{k.sigma:.3f} beyond the camera's D (moving the image corners "
               f"by about {shift:.0f} px; more than {ev.tolerance_k1:.3f}, {TOLERANCE_DEG:g} deg "
               f"of view at the corner, at {ev.significance:g} sigma)")
    if what == "rectified":
        head = (f"{images} look already rectified: " + fitted + f", about minus the "
                f"camera's own k1 {given_k1:+.3f}, so a distortion is removed that the images "
                "no longer have: give the rectified camera (P as K, D zero) with rectified "
                "images (image_rect), or the raw images (image_raw) with this D; the node: set "
                f"image_rectified ({check})")
    elif what == "distorted":
        kind = "barrel" if k.value < 0 else "pincushion"
        head = (f"{images} look distorted ({kind}) but the camera's D is zero: "
                + fitted + ": calibrate the camera (ROS camera_calibration, OpenCV) and pass "
                f"its D ({check}), or give rectified images (image_rect)")
    else:
        head = (f"{images}' distortion does not match the camera's D: " + fitted
                + f" (the camera's own k1 {given_k1:+.3f}): recalibrate, or check that the "
                f"calibration is this camera's ({check})")
    if on_map:
        return head + ("; the map's points were placed from depth along the same bent rays, "
                       "so poses localized against it are biased (the redkitchen data: 32 cm "
                       "at worst): correct the camera, build the map again, and give its "
                       "queries the same camera")
    return head + ("; poses are biased by it (the redkitchen data: 32 cm at worst), and a "
                   "focal-length warning in the same run is likely this distortion; the fit is "
                   "against the map's 3-D points, so a map built from the same images with the "
                   "same D hides part of it" if localized else
                   "; no pose was localized (none published)")


class RunDistortionEvidence(RunFits):
    """Frames' `DistortionFit`s (each ``FocalFit.distortion``) as they come ->
    `DistortionEvidence`. Evidence is about one calibration: a fit under another fx, k1 or
    corner radius (beyond `SAME_CAMERA_REL` of the first fit's), or of a frame whose whole
    calibration differs (`FocalFit.camera`, `camera_key.same_camera`: any other coefficient,
    model, K or size), starts it over.
    ``max_frames`` > 0 keeps the most recent ones. Not thread-safe (the node locks)."""

    def __init__(self, max_frames: int = 0, tolerance_deg: float = TOLERANCE_DEG,
                 significance: float = SIGNIFICANCE, subject: str = "query") -> None:
        super().__init__(max_frames)
        self.subject = subject  # `distortion_warning`'s: "map" for a map's keyframe pairs
        self.tolerance_deg = float(tolerance_deg)
        self.significance = float(significance)
        self.camera: Optional[tuple] = None  # (fx, given_k1, given_zero, corner_r)
        self._rectified_held = False  # `rectified_midrun`'s verdict, held

    def use_camera(self, camera: Any, key: Optional[CameraKey] = None) -> None:
        before = self.camera
        super().use_camera(camera, key)
        if self.camera is not before:  # another calibration: the mid-run verdict starts over
            self._rectified_held = False

    def clear(self) -> None:
        super().clear()
        self._rectified_held = False

    def rectified_midrun(self) -> Optional[DistortionEvidence]:
        """The mid-run rule "rectified images given the raw camera's D": the evidence of the
        fits so far, judged at the warning's band (`TOLERANCE_DEG`, `SIGNIFICANCE` sigma,
        whatever this evidence's own ``tolerance_deg``), from the first call at which it
        gives the end-of-run diagnosis 'rectified' (`diagnosis`: k1 about minus the camera's
        own, `RECTIFIED_RATIO`) over at least `MIDRUN_MIN_FRAMES` frames, and then on (held:
        a run of frames whose fits dip back below 4 sigma does not end it) until the camera
        changes (`use_camera`, `clear`) or the fits put k1 `MIDRUN_RELEASE_SIGNIFICANCE`
        sigma inside the band; None otherwise. On the redkitchen data (rectified images with
        the raw D, a map built right from the raw ones) it is said at the 19th frame, where
        the end-of-run verdict would come and go (docs/bench/distortion_rect_midrun_cpu_
        2026-12-09d). The distortion a camera without D (zero) states is never called
        rectified."""
        if self.camera is None:
            self._rectified_held = False
            return None
        _fx, given, zero, r = self.camera
        cols = self._columns(2)
        ev = combine_distortions(cols[0], cols[1], tolerance_k1(r, TOLERANCE_DEG), SIGNIFICANCE)
        c = ev.k1
        if not self._rectified_held:
            self._rectified_held = (c.frames_used >= MIDRUN_MIN_FRAMES
                                    and diagnosis(ev, given, zero) == "rectified")
        elif (c.value is not None and c.sigma is not None
              and abs(c.value) + MIDRUN_RELEASE_SIGNIFICANCE * c.sigma < ev.tolerance_k1):
            self._rectified_held = False
        return ev if self._rectified_held else None

    def _same_camera(self, camera: tuple) -> bool:
        return camera[2] == self.camera[2] and all(
            math.isclose(a, b, rel_tol=SAME_CAMERA_REL, abs_tol=1e-9)
            or (math.isnan(a) and math.isnan(b))
            for a, b in zip(camera[:2] + camera[3:], self.camera[:2] + self.camera[3:]))

    def add(self, fit: Any) -> None:
        """Take one frame's `FocalFit` (None, or one without a distortion fit: nothing)."""
        d: Optional[DistortionFit] = getattr(fit, "distortion", None)
        if d is None:
            return
        self._take((d.fx_px, d.given_k1, d.given_zero, d.corner_r), (d.k1, d.sigma_k1),
                   getattr(fit, "camera", None))

    def evidence(self) -> DistortionEvidence:
        cols = self._columns(2)
        tol = tolerance_k1(self.camera[3], self.tolerance_deg) if self.camera else math.inf
        return combine_distortions(cols[0], cols[1], tol, self.significance)

    def warning(self, check: str = CHECK_OFFLINE, localized: bool = True) -> str:
        """`distortion_warning` of the evidence so far ('' without a verdict)."""
        if self.camera is None:
            return ""
        fx, given, zero, r = self.camera
        return distortion_warning(self.evidence(), given, zero, fx, r, check, localized,
                                  self.subject)

    def report(self, localized: bool = True) -> Dict[str, Any]:
        """The evidence as JSON-ready values (metrics.json's ``camera_distortion``)."""
        ev = self.evidence()
        fx, given, zero, r = self.camera or (None, None, None, None)
        c = ev.k1
        return {"fx_px": fx, "given_k1": None if given is None or math.isnan(given) else given,
                "given_zero": zero, "corner_r": r, "frames_fitted": len(self._fits),
                "k1": c.value, "k1_sigma": c.sigma, "frames_judged": c.frames_judged,
                "frames_used": c.frames_used, "frames_outliers": c.frames_outliers,
                "chi2_per_dof": c.chi2_per_dof, "consistent": c.consistent,
                "consistent_note": consistent_note(c.consistent, c.chi2_per_dof, "off"),
                "tolerance_deg": self.tolerance_deg,
                "tolerance_k1": None if fx is None else ev.tolerance_k1,
                "significance": ev.significance, "off": ev.off,
                "diagnosis": (diagnosis(ev, given, zero) or None) if fx is not None else None,
                "warning": (self.warning(localized=localized) or None),
                "frames_before_camera_change": self.frames_restarted}
