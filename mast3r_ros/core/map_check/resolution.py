"""Map check diagnosis of a whole K made for another image resolution (`_whole_k_scaled`): fx,
fy, cx and cy all x r the size these images fit, the classic camera_info of a camera's
full-resolution stream given with its reduced one (1920x1080's K for 640x360 images: r = 3).
Its principal point tells r ((cx + 0.5) / (w / 2), the same from cy), and the whole K divided
by it, every pair agreeing, confirms it. When the two axes say different ratios (a 1280x720 K
with 640x480 images: x2 across, x1.5 down), the stream was scaled non-uniformly or cropped to
another aspect ratio (`_other_aspect`): fx, cx divided by the ratio across and fy, cy by the
one down, or fx, fy by the smaller ratio with the principal point moved by a crop. When no
scaling fits, a pure crop (`_cropped`: a region of a larger frame, fx, fy kept, cx, cy less the
region's offsets, what a camera_info's roi says) is tried."""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np

from ..config import MapCheckConfig
from .focal import _RESOLUTION_RATIOS, _fov_deg
from .measure import _all_agree, _candidate, _lift, _measure, _project, _View, camera_px
from .records import _Cause

# a whole K is suspected when its principal point says it is at least this far from x1 on an
# axis ((cx + 0.5) / (w / 2): 1.4 is the principal point 20 % of the width off centre, where
# `__init__._principal_point_hint` starts to name it) ...
_MIN_RATIO_OFF = 0.4
# ... a crop (`_cropped`) or a calibration of another width or height (`_other_aspect`: 848x480's
# K on 640x480, x1.33 across) from this far (1.1: 5 % of the size off centre; a real principal
# point is a few per cent off, and the synthetic walk passes the check with one 8 % off, fails
# from 10 %: a 320x240 K on its centred 256x224, 12.5 % off, read "a pose discontinuity")
_MIN_CROP_OFF = 0.1
# ... and both axes say the same size ratio within this factor (K scaled with the image)
_AXES_AGREE = 1.1
# a size ratio of `focal._RESOLUTION_RATIOS` within this factor of the principal point's is
# tried first (a real principal point is a few per cent off centre), then the principal point's
_NEAR_RATIO = 1.1
# camera resolutions a K is usually made at (drivers' modes): when the two axes' ratios are
# those of one of these to the images' size (each within `_NEAR_RATIO`), they are tried first
_USUAL_RESOLUTIONS = ((640, 480), (1280, 720), (1920, 1080), (848, 480), (1280, 800),
                      (2560, 1440), (3840, 2160), (320, 240), (1280, 960), (1024, 768),
                      (960, 540), (424, 240), (640, 360))


def _whole_k_scaled(views: List[_View], matches: Dict[Tuple[int, int], Any],
                    cfg: MapCheckConfig) -> Optional[_Cause]:
    """The cause ``intrinsics_resolution`` (confirmed) when the first keyframe's principal point
    puts its K at a size ratio r of these images (`_MIN_RATIO_OFF`, `_AXES_AGREE`) and every
    keyframe's whole K (fx, fy, cx, cy) divided by r makes every pair agree (and at least one
    is judged); None otherwise (no `_measure` when the principal point is under 5 % of the
    size off centre, `_MIN_CROP_OFF`; under 20 %, `_MIN_RATIO_OFF`, only a crop, the axes
    disagreeing another aspect ratio, and a principal point of another resolution left of or
    above the centre (`_moved`) are tried: no whole ratio is that near 1).
    The focal scans fit fx, fy only, with cx, cy as given: such a K read "no pose convention
    or depth scale explains it", with the principal point hint beside it."""
    if not views or not matches:
        return None
    v = views[0]
    K, w, h = camera_px(v)
    rx = (K[0, 2] + 0.5) / (w / 2.0)
    ry = (K[1, 2] + 0.5) / (h / 2.0)
    off = max(abs(rx - 1), abs(ry - 1))
    if min(rx, ry) <= 0 or off < _MIN_CROP_OFF:
        return None
    aspect = abs(math.log(rx / ry)) >= math.log(_AXES_AGREE)
    if off < _MIN_RATIO_OFF:  # no usual size ratio: a crop (fx, fy kept) first
        return _cropped(views, matches, cfg) or (
            _other_aspect(views, matches, cfg, rx, ry) if aspect else None) or _moved(
                views, matches, cfg, rx, ry)
    if aspect:
        return (_other_aspect(views, matches, cfg, rx, ry) or _cropped(views, matches, cfg)
                or _moved(views, matches, cfg, rx, ry))
    est = math.sqrt(rx * ry)
    near = [r for r in _RESOLUTION_RATIOS if abs(math.log(est / r)) < math.log(_NEAR_RATIO)]
    poses = [u.pose for u in views]
    for r in dict.fromkeys(near + [est]):
        divided = _k_divided(views, r, binned=r in near and r > 1)
        if divided is not None and _all_agree(_measure(divided, poses, matches, cfg)):
            return _cause(v, r, r in near)
    return _cropped(views, matches, cfg) or _moved(views, matches, cfg, rx, ry)


def _k_divided(views: List[_View], r: float, ry: Optional[float] = None,
               focal: Optional[Tuple[float, float]] = None, binned: bool = False
               ) -> Optional[List[_View]]:
    """``views`` with the whole K divided by ``r`` about pixel centres (fx, fy / r; c' = (c +
    0.5) / r - 0.5, the same in working pixels), the depth grid's pixels (``grid_px``; else
    ``pts`` projected with the given K) lifted again under it at the same depth. ``ry``: cy's
    ratio when it is not ``r`` (cx's); ``focal``: fx's and fy's when they are not cx's, cy's;
    ``binned``: cx, cy divided as image_geometry and this reader apply a camera_info's binning
    (c' = c / r in camera pixels), the K the binning a cause names gives. None when a view's
    new K is no camera's (`_candidate`: fx, fy divided by the smaller ratio while cx, cy move
    less can put the principal point over 10 focal lengths off)."""
    ry = r if ry is None else ry
    gx, gy = focal or (r, ry)

    def divide(K: np.ndarray, s: float) -> np.ndarray:
        K[0, 0] /= gx
        K[1, 1] /= gy
        for i, b in ((0, r), (1, ry)):
            K[i, 2] = (s * (((K[i, 2] + 0.5) / s - 0.5) / b + 0.5) - 0.5 if binned
                       else (K[i, 2] + 0.5) / b - 0.5)
        return K
    return _with_k(views, divide)


def _scaled_c(c: float, r: float, binned: bool) -> float:
    """Camera pixel ``c`` (cx or cy) of a frame ``r`` x these images' size, for these images:
    ``binned``, image_geometry's binning (c / r); else about pixel centres."""
    return c / r if binned else (c + 0.5) / r - 0.5


# how a rescaled K's cx, cy are given where no binning says them
_ABOUT_CENTRES = "cx, cy about pixel centres: (c + 0.5) {} - 0.5"


def _with_k(views: List[_View], change: Callable[[np.ndarray, float], np.ndarray]
            ) -> Optional[List[_View]]:
    """``views`` with each K changed by ``change`` (a copy of it, the view's scale: working
    pixels per camera pixel), the depth grid's pixels lifted again under the new K at the same
    depth; None when a view's new K is no camera's (`_candidate`)."""
    out = []
    for v in views:
        K = change(v.cam.K.copy(), v.scale)
        cam = _candidate(v.cam, K)
        if cam is None:
            return None
        pts = v.pts
        if len(v.pts):
            px = v.grid_px if v.grid_px is not None else _project(v.pts, v.cam)[0]
            pts = _lift(px, v.pts[:, 2], cam)
        out.append(dataclasses.replace(v, cam=cam, pts=pts))
    return out


def _cause(v: _View, r: float, nice: bool) -> _Cause:
    """The words for keyframe ``v``'s whole K x``r`` (``nice``: one of the usual size ratios,
    named exactly)."""
    K, w, h = camera_px(v)
    fx, fy = K[0, 0], K[1, 1]
    cx, cy = K[0, 2], K[1, 2]
    made = f"{round(w * r)}x{round(h * r)}"
    n = round(max(r, 1.0 / r)) if nice else max(r, 1.0 / r)
    by = f"{n:d}" if nice else f"{n:.3g}"
    verb, done = ("divide", "divided") if r > 1 else ("multiply", "multiplied")
    bin_ = nice and r > 1
    fixed = (f"fx {fx / r:.4g}, fy {fy / r:.4g}, cx {_scaled_c(cx, r, bin_):.4g}, "
             f"cy {_scaled_c(cy, r, bin_):.4g} px")
    fixed_how = fixed + ("" if bin_ else "; " + _ABOUT_CENTRES.format(
        f"/ {by}" if r > 1 else f"x {by}"))
    binned = (f"; or keep the {made} size and K and set binning_x: {by}, binning_y: {by}, "
              f"these images that camera's binned by {by} (image_geometry, as this reader, "
              "then divides fx, cx by binning_x and fy, cy by binning_y: the K above)"
              if bin_ else "")
    return _Cause(
        "intrinsics_resolution", 1.0,
        f"the whole K (fx, fy, cx, cy) is x{r:.3g} the size these {w}x{h} images fit: a "
        f"calibration for another resolution (one made at {made} for these {w}x{h} images?): "
        f"keyframe {v.label}'s principal point ({cx:.0f}, {cy:.0f}) is x{r:.3g} the image "
        f"centre's, fx {fx:.4g} px a {_fov_deg(fx, w):.3g} deg view; with K {done} by {by} "
        f"({fixed}, a {_fov_deg(fx / r, w):.3g} deg view) every pair agrees",
        f"give the camera_info of the stream these images came from (its K for {w}x{h}), or "
        f"scale the whole K by the image size ratio: {verb} fx, fy, cx, cy by {by} "
        f"({fixed_how}; "
        f"camera.yaml / --camera-info, the CameraInfo topic){binned}; build the map again",
        True)



def _whole(r: float) -> Optional[int]:
    """``r`` as a whole number >= 1 when within 1 % of one, else None (binning is whole)."""
    n = round(r)
    return n if n >= 1 and abs(r - n) <= 0.01 * n else None


def _snapped(r: float) -> float:
    """The whole number nearest ``r`` (>= 1), or the inverse of one (``r`` < 1)."""
    return float(max(1, round(r))) if r >= 1 else 1.0 / max(1, round(1.0 / r))


# ratios within 2 % on both axes of ones already tried are not measured again
_SAME = math.log(1.02)


def _times(r: float) -> str:
    """The scale from a frame ``r`` x the images' size to the images, in words ("x1/3", "x2",
    "as is")."""
    return "as is" if r == 1 else f"x1/{r:.3g}" if r > 1 else f"x{1 / r:.3g}"


def _other_aspect(views: List[_View], matches: Dict[Tuple[int, int], Any],
                  cfg: MapCheckConfig, rx: float, ry: float) -> Optional[_Cause]:
    """The cause ``intrinsics_resolution`` (confirmed) for a K whose principal point says
    another ratio across (``rx``) than down (``ry``): a calibration of another aspect ratio
    (1920x1080's with 640x480 images: x3, x2.25). The ratios of a usual resolution
    (`_USUAL_RESOLUTIONS`) near them are tried first, then whole numbers near them, then the
    principal point's own; for each, two K: fx, cx divided by the ratio across and fy, cy by
    the one down (the stream scaled non-uniformly, or binned differently per axis), and fx, fy
    both by the smaller ratio with cx, cy as before (a crop to the new aspect ratio, then one
    scale). The first pair of ratios under which either K makes every pair agree is named; None
    when none does (two `_measure` per pair of ratios)."""
    v = views[0]
    K, w, h = camera_px(v)
    near = math.log(_NEAR_RATIO)
    usual = sorted(((W / w, H / h) for W, H in _USUAL_RESOLUTIONS),
                   key=lambda a: abs(math.log(a[0] / rx)) + abs(math.log(a[1] / ry)))
    tried: List[Tuple[float, float]] = []
    for ax, ay in usual + [(_snapped(rx), _snapped(ry)), (rx, ry)]:
        if not (abs(math.log(ax / rx)) < near and abs(math.log(ay / ry)) < near) or any(
                abs(math.log(ax / bx)) < _SAME and abs(math.log(ay / by)) < _SAME
                for bx, by in tried):
            continue
        tried.append((ax, ay))
    poses = [u.pose for u in views]
    for ax, ay in tried:
        g = min(ax, ay)
        fits = []
        binned = bool(_whole(ax) and _whole(ay))  # said as binning_x, binning_y: c / b
        if binned:
            ax, ay = float(_whole(ax)), float(_whole(ay))
        for kind, focal in (("scaled", (ax, ay)), ("cropped", (g, g))):
            n = _whole(g)
            divided = (_roi_binned(views, ax, ay, n) if kind == "cropped" and n else
                       _k_divided(views, ax, ay, focal, binned and kind == "scaled"))
            if divided is not None and _all_agree(_measure(divided, poses, matches, cfg)):
                fits.append(kind)
        if fits:
            return _aspect_cause(v, ax, ay, fits)
    return None


def _roi_offset(c: float, a: float, n: int) -> int:
    """The ROI offset (full-resolution pixels, whole) of a crop that, binned by ``n``, puts a
    frame's principal point ``c`` where a scale by ``a`` about pixel centres puts it."""
    return round((c + 0.5) * (1 - n / a))


def _roi_binned(views: List[_View], ax: float, ay: float, n: int) -> Optional[List[_View]]:
    """``views`` with K as image_geometry and this reader apply a camera_info's roi, then
    binning ``n`` (fx, fy / n; c' = (c - offset) / n), the roi's offsets those of the crop to
    ``ax`` across, ``ay`` down then binned (`_roi_offset`): the K the roi and binning a crop's
    cause names give."""
    def change(K: np.ndarray, s: float) -> np.ndarray:
        K[0, 0] /= n
        K[1, 1] /= n
        for i, a in ((0, ax), (1, ay)):
            c = (K[i, 2] + 0.5) / s - 0.5
            K[i, 2] = s * ((c - _roi_offset(c, a, n)) / n + 0.5) - 0.5
        return K
    return _with_k(views, change)


def _aspect_cause(v: _View, ax: float, ay: float, fits: List[str]) -> _Cause:
    """The words for keyframe ``v``'s K x``ax`` across, x``ay`` down, ``fits`` naming which K
    made every pair agree ("scaled": fx, cx / ax, fy, cy / ay; "cropped": fx, fy / the smaller
    ratio), with what the numbers suggest, in image_geometry's terms (per-axis binning; a ROI,
    then binning)."""
    K, w, h = camera_px(v)
    fx, fy = K[0, 0], K[1, 1]
    cx, cy = K[0, 2], K[1, 2]
    W, H = round(w * ax), round(h * ay)
    g = min(ax, ay)
    scaled = "scaled" in fits
    gx, gy = (ax, ay) if scaled else (g, g)
    bx, by = _whole(ax), _whole(ay)
    bin_ = bool(scaled and bx and by)
    n = _whole(g)
    x0, y0 = _roi_offset(cx, ax, n or 1), _roi_offset(cy, ay, n or 1)
    fixed = (f"fx {fx / gx:.4g}, fy {fy / gy:.4g}, cx {_scaled_c(cx, ax, bin_):.4g}, "
             f"cy {_scaled_c(cy, ay, bin_):.4g} px")
    if not scaled and n:  # image_geometry's K from the roi and binning named
        fixed = (f"fx {fx / n:.4g}, fy {fy / n:.4g}, cx {(cx - x0) / n:.4g}, "
                 f"cy {(cy - y0) / n:.4g} px")
        bin_ = True
    how = (f"fx, cx divided by {ax:.3g} and fy, cy by {ay:.3g}" if scaled else
           f"fx, fy divided by {g:.3g} and cx by {ax:.3g}, cy by {ay:.3g}" if not n else
           f"cx, cy less the crop's offsets ({x0}, {y0})" + (
               f", then fx, fy, cx, cy divided by {n}" if n > 1 else ", fx, fy as given"))
    if len(fits) == 2:
        says = (f"the numbers do not tell a non-uniform scale (fx / {ax:.3g}, fy / {ay:.3g}) "
                f"from a crop (fx, fy / {g:.3g}): both make every pair agree, the stream's "
                "camera_info says which")
    elif scaled:
        says = (f"the numbers suggest the images were scaled non-uniformly ({_times(ax)} across, "
                f"{_times(ay)} down: fy/fx {(fy / gy) / (fx / gx):.3g} against the "
                f"calibration's {fy / fx:.3g}), " + (
                    f"which a camera_info keeping the {W}x{H} size and K says with binning_x: "
                    f"{bx}, binning_y: {by} (image_geometry, as this reader, divides fx, cx by "
                    "binning_x and fy, cy by binning_y: the K above)" if bx and by else
                    "which binning_x, binning_y cannot say (whole numbers in a CameraInfo: "
                    + " and ".join(f"x{r:.3g}" for r, n in ((ax, bx), (ay, by)) if not n)
                    + (" are" if not (bx or by) else " is") + " not): only the stream's own "
                    "camera_info"))
    else:
        cw, ch = round(w * g), round(h * g)
        if not n:
            x0, y0 = round((cx + 0.5) * (1 - g / ax)), round((cy + 0.5) * (1 - g / ay))
        says = (f"the numbers suggest a crop: fx, fy fit one ratio (x{g:.3g}, the pixels as "
                "square as the calibration's) and the principal point moved with the crop: "
                f"these images look like the {cw}x{ch} region at ({x0}, {y0}) of the {W}x{H} "
                "frame" + ("" if n == 1 else f" scaled {_times(g)}") + ", which image_geometry "
                f"applies from a camera_info keeping the {W}x{H} K with roi x_offset {x0}, "
                f"y_offset {y0}, width {cw}, height {ch}" + (
                    "" if n == 1 else f", binning_x: {n}, binning_y: {n}" if n else
                    f" (the x{g:.3g} scale is no whole binning: only the stream's own "
                    "camera_info says it)") + (": the K above" if n else ""))
    return _Cause(
        "intrinsics_resolution", 1.0,
        f"the K (fx, fy, cx, cy) is x{ax:.3g} across and x{ay:.3g} down the size these {w}x{h} "
        f"images fit: a calibration for another resolution and aspect ratio (one made at "
        f"{W}x{H} for these {w}x{h} images?): keyframe {v.label}'s principal point ({cx:.0f}, "
        f"{cy:.0f}) is x{ax:.3g}, x{ay:.3g} the image centre's, fx {fx:.4g}, fy {fy:.4g} px; "
        f"with {how} ({fixed}) every pair agrees",
        f"give the camera_info of the stream these images came from (its K for {w}x{h}): "
        f"another aspect ratio ({W}x{H} is {W / H:.3g}:1, these {w / h:.3g}:1) means that "
        "stream was cropped or scaled non-uniformly, which no one ratio on the whole K undoes; "
        f"or set K to {fixed}" + ("" if bin_ else " (" + _ABOUT_CENTRES.format(
            "/ the ratio") + ")") + f" (camera.yaml / --camera-info, the CameraInfo topic); "
        f"{says}; "
        "build the map again",
        True)


# a pure crop (`_cropped`): a usual resolution's centred region is tried first when its offsets
# are within this fraction of the images' size of the principal point's (a real principal point
# is a few per cent off its frame's centre); a principal point further left of or above the
# images' centre is no crop's (a crop's offsets only move it right and down)
_CROP_NEAR = 0.05


def _crop_offsets(w: int, h: int, dx: float, dy: float
                  ) -> List[Tuple[int, int, Tuple[int, int]]]:
    """The crops to try for ``w``x``h`` images whose principal point is ``dx``, ``dy`` camera
    pixels right of and below their centre: (x_offset, y_offset, the frame whose centred region
    that is), the nearest usual resolution's first (`_CROP_NEAR`), then the principal point's
    own offsets (rounded: a ROI is whole pixels) with the frame they imply before rounding
    (offsets 240, 112.5: 720x405, not 720x404); [] when it is left of or above the centre."""
    if min(dx / w, dy / h) < -_CROP_NEAR:
        return []
    usual = sorted(((W, H) for W, H in _USUAL_RESOLUTIONS if W >= w and H >= h
                    and abs((W - w) / 2 - dx) <= _CROP_NEAR * w
                    and abs((H - h) / 2 - dy) <= _CROP_NEAR * h),
                   key=lambda a: abs((a[0] - w) / 2 - dx) / w + abs((a[1] - h) / 2 - dy) / h)
    out: List[Tuple[int, int, Tuple[int, int]]] = [
        ((W - w) // 2, (H - h) // 2, (W, H)) for W, H in usual[:1]]
    own = (max(0, round(dx)), max(0, round(dy)))
    if all((ox, oy) != own for ox, oy, _ in out):  # the frame from the offsets before rounding
        out.append((own[0], own[1], (max(w, round(w + 2 * dx)), max(h, round(h + 2 * dy)))))
    return out


def _cropped(views: List[_View], matches: Dict[Tuple[int, int], Any],
             cfg: MapCheckConfig) -> Optional[_Cause]:
    """The cause ``intrinsics_resolution`` (confirmed) for the K of a larger frame these images
    are a region of, not scaled (a driver's ROI, a centre crop): fx, fy right, the principal
    point off by the region's offsets (480x360's K, cx 239.5, cy 179.5, with its centred
    240x180). Every keyframe's K with cx, cy less the offsets (`_crop_offsets`, in camera
    pixels) is measured; of those that make every pair agree, the usual resolution's is named
    unless the principal point's own offsets fit clearly better (`_fits_as_well`: 424x240's
    centred crop, x_offset 52, was named for a true 40), with the cx, cy that fit and the
    camera_info roi that says it. None when none does (one `_measure` per crop). It read
    "no pose convention or depth scale explains it; ... scale fx, fy, cx, cy with the image",
    which a crop's fx, fy do not want."""
    v = views[0]
    K, w, h = camera_px(v)
    cx, cy = K[0, 2], K[1, 2]
    poses = [u.pose for u in views]
    best: Optional[Tuple[Tuple[float, float], int, int, Tuple[int, int]]] = None
    for ox, oy, frame in _crop_offsets(w, h, cx - (w - 1) / 2, cy - (h - 1) / 2):
        def shift(K: np.ndarray, sc: float, ox: int = ox, oy: int = oy) -> np.ndarray:
            K[0, 2] -= sc * ox  # x' = s (x + 0.5) - 0.5: an offset of ox is s ox working px
            K[1, 2] -= sc * oy
            return K
        moved = _with_k(views, shift)
        figures = _measure(moved, poses, matches, cfg) if moved is not None else []
        if _all_agree(figures) and (best is None or not _fits_as_well(best[0],
                                                                      _fit_error(figures))):
            best = (_fit_error(figures), ox, oy, frame)
    return None if best is None else _crop_cause(v, *best[1:])


# a usual resolution's crop is named over the principal point's own offsets when its errors
# are within this factor of theirs plus the slack below (median over the pairs of the median
# |relative depth residual|; of the median reprojection error, camera px): on the synthetic
# walk at 320x240 a K whose principal point is 2 px off the images' adds about 0.002 to the
# depth residual and under 0.1 px to the reprojection error, 12 px (424x240's centred crop, 52,
# against a true 40) 0.011 and 0.6 px
_AS_WELL = 1.1
_AS_WELL_SLACK = (0.002, 0.25)


def _fit_error(figures: List[Any]) -> Tuple[float, float]:
    """The evidence's error under a K every pair agrees with: the median over ``figures`` (pair
    figures) of their median |relative depth residual|, and of their median reprojection error
    (camera px); NaN where no pair has one."""
    depth = [p.depth_residual for p in figures if p.depth_points]
    reproj = [p.reproj_px for p in figures if not math.isnan(p.reproj_px)]
    return (float(np.median(depth)) if depth else math.nan,
            float(np.median(reproj)) if reproj else math.nan)


def _fits_as_well(first: Tuple[float, float], other: Tuple[float, float]) -> bool:
    """Whether errors ``first`` (`_fit_error`: a usual resolution's crop) are within
    `_AS_WELL` x ``other``'s plus `_AS_WELL_SLACK` on every measure both have: then the first
    is named, the other only when it fits clearly better."""
    return all(a <= b * _AS_WELL + slack for a, b, slack in zip(first, other, _AS_WELL_SLACK)
               if not (math.isnan(a) or math.isnan(b)))


def _crop_cause(v: _View, ox: int, oy: int, frame: Tuple[int, int]) -> _Cause:
    """The words for keyframe ``v``'s K of a frame these images are the region at (``ox``,
    ``oy``) of (``frame``: WxH, whose centred region that is), in image_geometry's terms (a
    ROI)."""
    K, w, h = camera_px(v)
    fx, fy = K[0, 0], K[1, 1]
    cx, cy = K[0, 2], K[1, 2]
    W, H = frame
    fixed = f"cx {cx - ox:.4g}, cy {cy - oy:.4g} px"
    return _Cause(
        "intrinsics_resolution", 1.0,
        f"the K is of a larger frame these {w}x{h} images are cropped from, not scaled to: "
        f"keyframe {v.label}'s principal point ({cx:.0f}, {cy:.0f}) is ({cx - (w - 1) / 2:.0f}, "
        f"{cy - (h - 1) / 2:.0f}) px from the image centre, as a crop's offsets put it, while "
        f"fx {fx:.4g}, fy {fy:.4g} px (a {_fov_deg(fx, w):.3g} deg view) fit them (one made at "
        f"{W}x{H}, these images its centred {w}x{h}?); with cx, cy less the crop's offsets "
        f"({ox}, {oy}: {fixed}) and fx, fy as given every pair agrees",
        f"give the camera_info of the stream these images came from (its K for {w}x{h}), or "
        f"move the principal point by the crop: set {fixed}, fx, fy as they are (a crop does "
        "not scale them; camera.yaml / --camera-info, the CameraInfo topic); or keep the "
        f"{W}x{H} size and K and give the crop as the camera_info's roi: x_offset {ox}, "
        f"y_offset {oy}, width {w}, height {h} (full-resolution pixels; image_geometry, as this "
        "reader, moves cx, cy by the offsets); build the map again",
        True)


def _moved(views: List[_View], matches: Dict[Tuple[int, int], Any], cfg: MapCheckConfig,
           rx: float, ry: float) -> Optional[_Cause]:
    """The cause ``intrinsics_resolution`` (confirmed) for a principal point of another
    resolution's calibration left of or above the centre, where no crop puts it (`_crop_offsets`
    []), with fx, fy right (a K mixed from two calibrations): cx, cy x1/``rx``, x1/``ry`` about
    pixel centres, fx, fy as given, the ratios of `focal._RESOLUTION_RATIOS` (or 1) within
    `_NEAR_RATIO` of the principal point's first, then its own; the first that makes every pair
    agree is named. None when none does, or when a crop was tried (one `_measure` per pair of
    ratios). It read a guess "(not fully confirmed)" or "no pose convention or depth scale
    explains it" with the hint "scale fx, fy, cx, cy with the image", which breaks fx, fy."""
    v = views[0]
    K, w, h = camera_px(v)
    cx, cy = K[0, 2], K[1, 2]
    if _crop_offsets(w, h, cx - (w - 1) / 2, cy - (h - 1) / 2):
        return None

    def usual(r: float) -> float:
        return next((u for u in _RESOLUTION_RATIOS + (1.0,)
                     if abs(math.log(r / u)) < math.log(_NEAR_RATIO)), r)
    poses = [u.pose for u in views]
    for ax, ay in dict.fromkeys([(usual(rx), usual(ry)), (rx, ry)]):
        moved = _k_divided(views, ax, ay, (1.0, 1.0))
        if moved is not None and _all_agree(_measure(moved, poses, matches, cfg)):
            return _moved_cause(v, ax, ay)
    return None


def _moved_cause(v: _View, ax: float, ay: float) -> _Cause:
    """The words for keyframe ``v``'s principal point x``ax``, x``ay`` the one these images fit,
    fx, fy right."""
    K, w, h = camera_px(v)
    fx, fy = K[0, 0], K[1, 1]
    cx, cy = K[0, 2], K[1, 2]
    fixed = f"cx {_scaled_c(cx, ax, False):.4g}, cy {_scaled_c(cy, ay, False):.4g} px"
    by = (f"x{1 / ax:.3g}" if abs(math.log(ax / ay)) < 1e-9 else
          f"x{1 / ax:.3g}, x{1 / ay:.3g}")
    return _Cause(
        "intrinsics_resolution", 1.0,
        f"the principal point is of another resolution, fx, fy of these {w}x{h} images: "
        f"keyframe {v.label}'s principal point ({cx:.0f}, {cy:.0f}) is x{ax:.3g}, x{ay:.3g} the "
        "image centre's, left of or above it, where no crop puts it, while fx "
        f"{fx:.4g}, fy {fy:.4g} px (a {_fov_deg(fx, w):.3g} deg view) fit them; with cx, cy "
        f"{by} about pixel centres ({fixed}) and fx, fy as given every pair agrees",
        f"give the camera_info of the stream these images came from (its K for {w}x{h}; this "
        f"one's cx, cy look made at {round(w * ax)}x{round(h * ay)}, its fx, fy at {w}x{h}: a K "
        f"mixed from two calibrations?), or set {fixed}, fx, fy as they are (camera.yaml / "
        "--camera-info, the CameraInfo topic); build the map again",
        True)
