"""Map check evidence on the keyframes' lens distortion: the residual radial ``k1`` their pairs
fit (`map_distortion`).

A wrong distortion passes the rest of the map check: rectified images given with the raw
camera's D (undistorted twice), or distorted images given with D zero, bend every keyframe's
rays alike, and the depth and matches of neighbouring keyframes still agree within the
check's thresholds. Each pair (a, b) of keyframes whose verified matches have depth at a
(`measure._Matches`) is one measurement: a's matched pixels lifted with a's depth and pose
(its distortion removed) are the points, b's matched pixels (its distortion removed) where
they are seen, and `pnp.distortion.refitted_distortion` fits b's pose, a focal scale and a
residual radial ``k1`` -- with the points' own rays in a bent by the same ``k1`` (its
``keyframes``: both images are the same lens's). The pairs' fits are combined and judged as a
run's frames are (`distortion_evidence.RunDistortionEvidence`: the same tolerance, sigma
floor and diagnoses), and worded for the map (``subject`` "map"). Pairs of one place and one
direction (`baseline.with_baseline`) fit nothing and are left out; only pairs whose two
keyframes have one camera (size, K, D, within `camera_key.same_camera`) are fitted, and the
camera with the most pairs is judged (a merged map of several cameras: that one). The report
names that camera (``camera``: its `camera_key.camera_record`, `MapDistortionEvidence`), so
that the localizer's mid-run rule takes the map's verdict only for the same calibration
(`localizer.distortion_run_gate.map_images_right`: size, K, model and every coefficient).

Figures: docs/bench/distortion_map_check_cpu_2026-12-07zd.
"""

from __future__ import annotations

import dataclasses
import types
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from ..camera_key import CameraKey, camera_key, camera_record, same_camera
from ..distortion_evidence import RunDistortionEvidence, distortion_fit, radial_judged
from ..geometry import invert_pose, undistort_pixels
from ..pnp.distortion import refitted_distortion
from .baseline import with_baseline
from .measure import _lift, _View, camera_px
from .records import _Cause, rebuilt_calibration

# the fit's inlier threshold after its robust round, as a fraction of the working image width
# (3.2 px at the check's 320 px): the matches are verified with a fundamental matrix already
REPROJ_FRAC = 0.01
# ... and at least this (working px)
MIN_REPROJ_PX = 2.0
# pairs fitted at most, spread over the map (each a least-squares fit of ~10 ms)
MAX_PAIRS = 200


def _camera_px(v: _View) -> Tuple[np.ndarray, int, int]:
    """(K (3x3), width, height) of ``v``'s camera in camera pixels (its K is at working px:
    pixel centres map as x' = s (x + 0.5) - 0.5): `measure.camera_px`, per axis."""
    return camera_px(v)


class MapDistortionEvidence(RunDistortionEvidence):
    """The keyframe pairs' evidence (``subject`` "map") and the camera it judged: ``checked``
    (`camera_key.camera_record` of its camera image's intrinsics, px; None before a fit), which
    `report` gives as ``camera`` (the manifest's ``consistency.distortion.camera``)."""

    def __init__(self) -> None:
        super().__init__(subject="map")
        self.checked: Optional[Dict[str, Any]] = None

    def report(self, localized: bool = True) -> Dict[str, Any]:
        out = super().report(localized)
        if self.checked is not None:
            out["camera"] = self.checked
        return out


def _checked_camera(v: _View) -> Tuple[Dict[str, Any], CameraKey]:
    """(`camera_record` of ``v``'s camera image's calibration, its key): its own intrinsics
    where known (`KeyframeRecord.calibration`), else rebuilt from ``v``'s (`records.
    rebuilt_calibration`), the record naming how far that may be off (``within_px``)."""
    cam, within = v.camera_intrinsics, v.camera_within_px
    if cam is None:
        cam, within = rebuilt_calibration(v.cam, v.scale, v.width_px)
    return camera_record(cam, within), camera_key(cam)


def _camera_groups(views: List[_View]) -> List[int]:
    """Each view's camera as an index into the distinct calibrations among ``views``: one
    `camera_key.same_camera` as an earlier view's (within float round-trips and a driver's
    jitter in the last digits, which exact bytes split into many) is its group."""
    firsts: List[CameraKey] = []
    out = []
    for v in views:
        key = camera_key(v.cam)
        out.append(next((i for i, k in enumerate(firsts) if same_camera(k, key)), len(firsts)))
        if out[-1] == len(firsts):
            firsts.append(key)
    return out


def pair_distortion(va: _View, vb: _View, m: Any) -> Optional[Tuple[float, float, int]]:
    """(k1, sigma, points) that pair (a, b)'s matches ``m`` (`measure._Matches`, working px,
    depth in metres at a) fit (module docstring), or None when it cannot be judged (too few
    matches with depth at a, `refitted_distortion`'s own reasons)."""
    ok = np.isfinite(m.da) & (m.da > 0)
    if not ok.any():
        return None
    Xa = _lift(m.xa[ok], m.da[ok], va.cam)                   # a's camera frame, metres
    X = Xa @ va.pose[:3, :3].T + va.pose[:3, 3]              # map frame
    xb = np.asarray(m.xb[ok], np.float64)
    xu = (undistort_pixels(xb, vb.cam.K, vb.cam.dist, vb.cam.distortion_model)
          if vb.cam.has_distortion else xb)
    thr = max(MIN_REPROJ_PX, REPROJ_FRAC * vb.cam.width)
    return refitted_distortion(vb.pose, X, xu, np.ones(len(X), bool), vb.cam.K, thr,
                               keyframes=(invert_pose(va.pose)[None], np.zeros(len(X), int)),
                               keyframe_scale=False)  # a pair's points: k1 sigma 0.040 -> 0.066


def map_distortion(views: List[_View], matches: Dict[Tuple[int, int], Any]
                   ) -> Optional[MapDistortionEvidence]:
    """The keyframe pairs' residual distortion evidence (module docstring), worded for a map,
    or None when no pair could be fitted (no matches with depth, fisheye cameras with a
    nonzero D: `distortion_evidence.radial_judged`)."""
    group = _camera_groups(views)
    keys = with_baseline(views, [k for k, m in matches.items() if m is not None
                                 and group[k[0]] == group[k[1]]
                                 and radial_judged(views[k[0]].cam)])
    by_camera: Dict[int, List[Tuple[int, int]]] = {}
    for k in keys:
        by_camera.setdefault(group[k[0]], []).append(k)
    if not by_camera:
        return None
    keys = max(by_camera.values(), key=len)
    keys = [keys[i] for i in np.unique(np.linspace(0, len(keys) - 1, MAX_PAIRS).astype(int))]
    ev = MapDistortionEvidence()
    for a, b in keys:
        fit = pair_distortion(views[a], views[b], matches[(a, b)])
        K, w, h = _camera_px(views[b])
        d = distortion_fit(fit, K, w, h, views[b].cam.distortion_model, views[b].cam.dist)
        record, key = _checked_camera(views[b])
        ev.add(types.SimpleNamespace(distortion=d, camera=key))
        if ev.camera_key is key:  # the calibration the fits kept are about: this one's
            ev.checked = record
    return ev if len(ev) else None


# `lens_cause`'s words per diagnosis (`distortion_evidence.diagnosis`): (what, fix)
_LENS_WORDS = {
    "distorted": ("the images look distorted ({kind}) but the camera's D is zero",
                  "calibrate the camera (ROS camera_calibration, OpenCV) and pass its D "
                  "(camera.yaml / --camera-info's distortion_coefficients), or give rectified "
                  "images (image_rect)"),
    "rectified": ("the images look already rectified but are given the camera's raw D (its "
                  "k1 {given:+.3f})",
                  "give the rectified camera (P as K, D zero) with rectified images "
                  "(image_rect), or the raw images (image_raw) with this D"),
    "mismatch": ("the images' distortion does not match the camera's D (its k1 {given:+.3f})",
                 "recalibrate, or check that the calibration is this camera's (camera.yaml / "
                 "--camera-info's distortion_coefficients)"),
}


def lens_cause(views: List[_View], matches: Dict[Tuple[int, int], Any]) -> Optional[_Cause]:
    """The cause ``lens_distortion`` (not confirmed) of a map that fails where the colour focal
    rule holds (every pair's depth agrees, the matches do not: `focal._colour_focal`) when its
    pairs' residual distortion is off (`map_distortion`, its diagnosis): a lens distortion the
    camera's D lacks bends the matches as a focal scale does, and its fix is the camera's D,
    not registering the depth. None when the pairs name no distortion. The redkitchen map
    distorted (k1 -0.3, k2 0.1) with D zero at 320x240: one pair's reprojection 26.9 px over
    its 26 px limit was named "the colour images fit fx, fy x0.856 ... register the depth";
    its pairs fit k1 -0.327 +-0.045 (docs/bench/map_check_lens_cpu_2026-12-10h)."""
    lens = map_distortion(views, matches)
    rep = lens.report() if lens is not None else {}
    if rep.get("diagnosis") not in _LENS_WORDS:
        return None
    what, fix = _LENS_WORDS[rep["diagnosis"]]
    k1, given = rep["k1"], rep["given_k1"] if rep["given_k1"] is not None else float("nan")
    return _Cause(
        "lens_distortion", 1.0,
        what.format(kind="barrel" if k1 < 0 else "pincushion", given=given)
        + f": over {rep['frames_used']} keyframe pairs the matches fit a residual radial "
        f"distortion k1 {k1:+.3f} +-{rep['k1_sigma']:.3f} beyond the camera's D (more than "
        f"{rep['tolerance_k1']:.3f}, {rep['tolerance_deg']:g} deg of view at the corner, at "
        f"{rep['significance']:g} sigma), which bends the matches as a focal length off would",
        f"{fix}; build the map again with it", False)


def lens_unjudged(lens: Optional[RunDistortionEvidence], views: List[_View],
                  matches: Dict[Tuple[int, int], Any]) -> str:
    """Why a consistent map's pairs gave the lens distortion no verdict, in words ('' when they
    gave one, or no view): fewer than `run_evidence.MIN_FRAMES` pairs fitted (each needs
    `pnp.distortion.MIN_POINTS` inliers with depth), or fisheye cameras with a D (no pinhole
    k1 models them: `distortion_evidence.radial_judged`). Said with a map's colour-focal note
    (`unjudged_note`) or, without one, on its own (`ConsistencyReport.lens_note`: a small map
    with no note was silent about its lens). At 160x120 the redkitchen map distorted
    (k1 -0.3) with D zero fitted 2 of 9 pairs (-0.23 +-0.03, -0.34 +-0.03; the others 8 to 23
    matches with depth) and said nothing of it, while its colour focal note (x0.823, the
    distortion fitted as a focal scale) read "no action needed"."""
    from ..pnp.distortion import MIN_POINTS
    from ..run_evidence import MIN_FRAMES

    rep = lens.report() if lens is not None else {}
    if rep.get("k1") is not None or not views:
        return ""
    if not any(radial_judged(v.cam) for v in views):  # every camera a fisheye's with its D
        return ("the lens distortion was not judged: the check fits a pinhole's residual "
                f"radial k1, which models no {views[0].cam.distortion_model} D")
    tried = with_baseline(views, [k for k, m in matches.items() if m is not None])
    with_depth = [int((np.isfinite(matches[k].da) & (matches[k].da > 0)).sum()) for k in tried]
    v = views[0]
    _, w, h = camera_px(v)  # the camera's, per axis (a 752x480 one was said as 752x479)
    size = f"{w}x{h}"
    have = (f"; their matches with depth {min(with_depth)} to {max(with_depth)}"
            if with_depth else "")
    return (f"the lens distortion was not judged: {rep.get('frames_fitted', 0)} of "
            f"{len(tried)} keyframe pairs fitted ({MIN_FRAMES} needed, each with at least "
            f"{MIN_POINTS} matches with depth{have}): at {size} the check is not sensitive "
            "enough to tell distorted images given with D zero from right ones")


def unjudged_note(note: Any, unjudged: str) -> Any:
    """A sensor-depth colour focal note (`focal.FocalNote`, "no action needed") reworded for a
    map whose lens distortion was not judged (``unjudged``, `lens_unjudged`): a distortion
    the camera's D lacks fits as a focal scale too (redkitchen distorted with D zero: x0.843
    at 640x480, x0.823 at 160x120), so the note asks for the camera's D to be checked (a
    warning) instead of saying nothing needs changing. ``note`` as given when it asks for a
    change already or ``unjudged`` is ''."""
    head = note.text.split("; the given K fits the depth")[0]
    if not unjudged or note.action or head == note.text:
        return note
    text = (f"{head}; the given K fits the depth and the map passes, but {unjudged}, and such "
            "a distortion fits as a focal scale too: check the camera's D (camera.yaml / "
            "--camera-info's distortion_coefficients) against its calibration")
    return dataclasses.replace(note, text=text, brief=text, action=True)
