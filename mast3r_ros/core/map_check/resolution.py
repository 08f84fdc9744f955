"""Map check diagnosis of a whole K made for another image resolution (`_whole_k_scaled`): fx,
fy, cx and cy all x r the size these images fit, the classic camera_info of a camera's
full-resolution stream given with its reduced one (1920x1080's K for 640x360 images: r = 3).
Its principal point tells r ((cx + 0.5) / (w / 2), the same from cy), and the whole K divided
by it, every pair agreeing, confirms it."""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Dict, List, Optional, Tuple

from ..config import MapCheckConfig
from .focal import _RESOLUTION_RATIOS, _fov_deg
from .measure import _lift, _measure, _project, _View
from .records import _Cause

# a whole K is suspected when its principal point says it is at least this far from x1 on an
# axis ((cx + 0.5) / (w / 2): 1.4 is the principal point 20 % of the width off centre, where
# `__init__._principal_point_hint` starts to name it) ...
_MIN_RATIO_OFF = 0.4
# ... and both axes say the same size ratio within this factor (K scaled with the image)
_AXES_AGREE = 1.1
# a size ratio of `focal._RESOLUTION_RATIOS` within this factor of the principal point's is
# tried first (a real principal point is a few per cent off centre), then the principal point's
_NEAR_RATIO = 1.1


def _whole_k_scaled(views: List[_View], matches: Dict[Tuple[int, int], Any],
                    cfg: MapCheckConfig) -> Optional[_Cause]:
    """The cause ``intrinsics_resolution`` (confirmed) when the first keyframe's principal point
    puts its K at a size ratio r of these images (`_MIN_RATIO_OFF`, `_AXES_AGREE`) and every
    keyframe's whole K (fx, fy, cx, cy) divided by r makes every pair agree (and at least one
    is judged); None otherwise (no `_measure` when the principal point is near the centre).
    The focal scans fit fx, fy only, with cx, cy as given: such a K read "no pose convention
    or depth scale explains it", with the principal point hint beside it."""
    if not views or not matches:
        return None
    v = views[0]
    s = v.scale  # work pixels per camera pixel; pixel centres map as x' = s (x + 0.5) - 0.5
    w, h = v.width_px, max(1, round(v.cam.height / s))
    rx = ((v.cam.K[0, 2] + 0.5) / s) / (w / 2.0)
    ry = ((v.cam.K[1, 2] + 0.5) / s) / (h / 2.0)
    if (min(rx, ry) <= 0 or max(abs(rx - 1), abs(ry - 1)) < _MIN_RATIO_OFF
            or abs(math.log(rx / ry)) >= math.log(_AXES_AGREE)):
        return None
    est = math.sqrt(rx * ry)
    near = [r for r in _RESOLUTION_RATIOS if abs(math.log(est / r)) < math.log(_NEAR_RATIO)]
    poses = [u.pose for u in views]
    for r in dict.fromkeys(near + [est]):
        figures = _measure(_k_divided(views, r), poses, matches, cfg)
        if any(p.ok for p in figures) and all(p.ok is not False for p in figures):
            return _cause(v, r, r in near)
    return None


def _k_divided(views: List[_View], r: float) -> List[_View]:
    """``views`` with the whole K divided by ``r`` about pixel centres (fx, fy / r; c' = (c +
    0.5) / r - 0.5, the same in working pixels), the depth grid's pixels (``grid_px``; else
    ``pts`` projected with the given K) lifted again under it at the same depth."""
    out = []
    for v in views:
        K = v.cam.K.copy()
        K[0, 0] /= r
        K[1, 1] /= r
        K[:2, 2] = (K[:2, 2] + 0.5) / r - 0.5
        cam = dataclasses.replace(v.cam, K=K)
        pts = v.pts
        if len(v.pts):
            px = v.grid_px if v.grid_px is not None else _project(v.pts, v.cam)[0]
            pts = _lift(px, v.pts[:, 2], cam)
        out.append(dataclasses.replace(v, cam=cam, pts=pts))
    return out


def _cause(v: _View, r: float, nice: bool) -> _Cause:
    """The words for keyframe ``v``'s whole K x``r`` (``nice``: one of the usual size ratios,
    named exactly)."""
    s = v.scale
    w, h = v.width_px, max(1, round(v.cam.height / s))
    fx, fy = v.cam.K[0, 0] / s, v.cam.K[1, 1] / s
    cx, cy = (v.cam.K[0, 2] + 0.5) / s - 0.5, (v.cam.K[1, 2] + 0.5) / s - 0.5
    made = f"{round(w * r)}x{round(h * r)}"
    n = round(max(r, 1.0 / r)) if nice else max(r, 1.0 / r)
    by = f"{n:d}" if nice else f"{n:.3g}"
    verb, done = ("divide", "divided") if r > 1 else ("multiply", "multiplied")
    fixed = (f"fx {fx / r:.4g}, fy {fy / r:.4g}, cx {(cx + 0.5) / r - 0.5:.4g}, "
             f"cy {(cy + 0.5) / r - 0.5:.4g} px")
    binned = (f"; a camera_info that keeps the {made} size and K, these images being that "
              f"camera's binned by {by}, may say binning_x: {by}, binning_y: {by} instead "
              "(applied as image_geometry applies a driver's binning)"
              if nice and r > 1 else "")
    return _Cause(
        "intrinsics_resolution", 1.0,
        f"the whole K (fx, fy, cx, cy) is x{r:.3g} the size these {w}x{h} images fit: a "
        f"calibration for another resolution (one made at {made} for these {w}x{h} images?): "
        f"keyframe {v.label}'s principal point ({cx:.0f}, {cy:.0f}) is x{r:.3g} the image "
        f"centre's, fx {fx:.4g} px a {_fov_deg(fx, w):.3g} deg view; with K {done} by {by} "
        f"({fixed}, a {_fov_deg(fx / r, w):.3g} deg view) every pair agrees",
        f"give the camera_info of the stream these images came from (its K for {w}x{h}), or "
        f"scale the whole K by the image size ratio: {verb} fx, fy, cx, cy by {by} ({fixed}; "
        f"camera.yaml / --camera-info, the CameraInfo topic){binned}; build the map again",
        True)

