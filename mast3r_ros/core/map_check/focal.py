"""Map check diagnosis of the focal length: a pinhole fx no usual camera has
(`_implausible_focal_length`), one factor on every keyframe's fx, fy that makes every pair agree
(`_focal_scale`), and a fitted depth factor that is no unit confusion told from fx, fy off
(`_depth_or_focal`). Distorted cameras are undistorted under each candidate K."""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import numpy as np

from ..config import MapCheckConfig
from ..geometry import invert_pose
from .baseline import with_baseline
from .log_scan import _FOCAL_REFINE_STEP, _first_min, _refined  # noqa: F401 (re-exported)
from .measure import (_ONE, _all_agree, _cameras, _candidate, _depth_residuals,
                      _focal_candidate, _lift, _measure, _pair_reproj, _project, _reproj_limit_px,
                      _View, camera_px)
from .records import _NICE_FACTORS, _Cause, _fmt_factor
from .focal_note import (DEPTH_STEREO, NOTE_FOCAL_OFF, NOTE_SECTION,  # noqa: F401 (re-exported)
                         FactorSpread, FocalNote, colour_focal_note, factor_spread, spread_grid)
from .report import PairFigures, _pct


# a pinhole camera's horizontal field of view outside these (degrees) is no real camera's: fx
# 10x too large or too small (a typo, or fx of another unit or resolution) puts a 60-degree
# camera at 6.6 or 160 degrees
_FOV_DEG = (8.0, 150.0)


def _implausible_focal_length(views: List[_View], matches: Optional[Dict[Tuple[int, int], Any]]
                              = None, cfg: Optional[MapCheckConfig] = None) -> Optional[_Cause]:
    """The cause ``focal_length`` when a keyframe's pinhole focal length gives a horizontal
    field of view outside `_FOV_DEG` (fisheye models, which see wider, are left alone): the
    first such keyframe's fx in camera pixels, its field of view and image width; None when
    every keyframe's is a camera's. It is named before the pose conventions and depth scales
    because those are fitted and confirmed through K: under fx x10 the reprojection of every
    hypothesis is wrong by up to 10x, and one of them (on the synthetic walk, inverted poses
    with depth x0.5) wins by chance; depth x10 even undoes fx x10 for a sideways move. With
    ``matches`` and ``cfg``, fx, fy divided by a unit slip
    (`_focal_slip`) that makes every pair agree confirm it, and the fix names that fx."""
    for v in views:
        if v.cam.distortion_model == "equidistant":
            continue
        fx = v.cam.K[0, 0] / v.scale  # K at work pixels; scale: work pixels per camera pixel
        fov = _fov_deg(fx, v.width_px)
        if _FOV_DEG[0] <= fov <= _FOV_DEG[1]:
            continue
        what = (f"the focal length fx {fx:.4g} px of keyframe {v.label} gives a {fov:.3g} deg "
                f"horizontal field of view at {v.width_px} px, which no usual camera has "
                f"({_FOV_DEG[0]:g} to {_FOV_DEG[1]:g} deg)")
        slip = (_focal_slip(views, matches, cfg, fx, v.width_px)
                if matches is not None and cfg is not None else None)
        if slip is not None:
            true_fx = fx / slip
            return _Cause(
                "focal_length", 1.0,
                f"{what}: fx, fy are x{_fmt_factor(slip)} the size the images fit (with fx "
                f"{true_fx:.4g} px, a {_fov_deg(true_fx, v.width_px):.3g} deg view, every "
                "pair agrees)",
                f"{'divide' if slip > 1 else 'multiply'} fx, fy in the camera_info's K by "
                f"{_fmt_factor(max(slip, 1.0 / slip))} (fx {true_fx:.4g} px; camera.yaml / "
                "--camera-info) and build the map again", True)
        return _Cause(
            "focal_length", 1.0,
            f"{what}: fx is likely mistyped (a digit added or dropped?) or for another "
            "resolution, and the poses and depth cannot be judged through it",
            "correct fx, fy in the camera_info's K (camera.yaml / --camera-info) and build the "
            "map again", False)
    return None


def _fov_deg(fx: float, width_px: float) -> float:
    return float(np.degrees(2.0 * np.arctan(width_px / (2.0 * fx))))


# fx slips tried to confirm an implausible focal length (given / true), at most this many: the
# unit confusions of `_NICE_FACTORS` whose corrected field of view is a camera's, nearest to
# 60 deg first (the work of one `_measure` each)
_FOCAL_SLIPS_TRIED = 4


def _focal_slip(views: List[_View], matches: Dict[Tuple[int, int], Any], cfg: MapCheckConfig,
                fx: float, width_px: float) -> Optional[float]:
    """The factor g (given / true fx, fy) among `_NICE_FACTORS` for which the given poses and
    depth, with every view's fx, fy divided by g (`_focal_divided`, distortion included), make
    every pair agree (and at least one judged); None when none does. ``fx``, ``width_px``: the
    implausible keyframe's, in camera pixels."""
    fit_60 = width_px / (2.0 * math.tan(math.radians(30.0)))
    tried = sorted((g for g in _NICE_FACTORS if g != 1.0
                    and _FOV_DEG[0] <= _fov_deg(fx / g, width_px) <= _FOV_DEG[1]),
                   key=lambda g: abs(math.log(fx / g / fit_60)))[:_FOCAL_SLIPS_TRIED]
    poses = [v.pose for v in views]
    matches = _baseline_matches(views, matches)  # one frame twice agrees under any fx
    for g in tried:
        divided = _focal_divided(views, g)
        if divided is not None and _all_agree(_measure(divided, poses, matches, cfg)):
            return g
    return None


def _baseline_matches(views: List[_View], matches: Dict[Tuple[int, int], Any]
                      ) -> Dict[Tuple[int, int], Any]:
    """``matches`` (pair -> matches or None) of the pairs `baseline.with_baseline` keeps: a
    pair of one place and one direction (one frame twice) reprojects and agrees in depth under
    any focal length and any depth factor, so it confirms and scores nothing."""
    return {k: matches[k] for k in with_baseline(views, list(matches))}


def _focal_divided(views: List[_View], g: float) -> Optional[List[_View]]:
    """``views`` with fx, fy divided by ``g``: K, and the depth grid's points lifted again at
    the same depth. Pinhole: the rays x = (u - cx) / fx grow by g. With distortion (which acts
    on those normalised coordinates, so that its undistortion changes with K) the grid's pixels
    (``grid_px``; else ``pts`` projected with the given K) are undistorted under the new K.
    None when a view's new K is no camera's (`_candidate`: its principal point over 10 focal
    lengths off), which fits nothing."""
    out = []
    for v in views:
        K = v.cam.K.copy()
        K[0, 0] /= g
        K[1, 1] /= g
        cam = _candidate(v.cam, K)
        if cam is None:
            return None
        if v.cam.has_distortion and len(v.pts):
            px = v.grid_px if v.grid_px is not None else _project(v.pts, v.cam)[0]
            pts = _lift(px, v.pts[:, 2], cam)
        else:
            pts = v.pts * np.array([g, g, 1.0])
        out.append(dataclasses.replace(v, cam=cam, pts=pts))
    return out


# focal factors (given / true fx, fy) `_focal_scale` scans: a plausible camera's calibration a
# few tens of per cent off (beyond: `_implausible_focal_length`), on a log grid, then refined
_FOCAL_SCAN = (0.6, 1.67, 27)
# where `_focal_scale`'s scan goes on when its best factor sits at an end of `_FOCAL_SCAN` (the
# same log step, on that side only; `_log_argmin`'s ``wide``): a calibration for images twice or
# half the size (fx 1170 px for 585, one for 1280x960 given with 640x480 images) keeps a
# plausible field of view (`_FOV_DEG`: redkitchen's 57 deg read as 31) and read "no pose
# convention or depth scale explains it; fix: check the poses ... and the depth unit"
_FOCAL_SCAN_WIDE = (0.4, 2.5)
# where `_focal_scale` looks, past both ends of `_FOCAL_SCAN` in its log steps (`_past_ends`),
# when the factor its scan found does not make every pair agree: a bump in the residual inside
# the range (x0.583 on the synthetic walk with fx x0.42) kept the ``wide`` pass off, and a
# calibration for images 3x or 4x the size (1920x1080 or 2560x1440 given with 640x360 ones) or
# a third or a quarter of it lies past `_FOCAL_SCAN_WIDE`; both read "no pose convention or
# depth scale explains it"
_FOCAL_SCAN_FAR = (0.22, 4.5)
# `_past_ends`' grid step, in `_FOCAL_SCAN`'s steps: a failing map of another cause scores
# both grids (26 factors at the scan's own step, 13 at twice it)
_FAR_STEPS = 2
_FOCAL_SCAN_PAIRS = 200  # pairs scored per factor, spread over the map
# a fitted depth factor that is no unit confusion is told from fx, fy off (`_depth_or_focal`)
# when the other's best median depth residual is at least this many times the winner's: the
# redkitchen map with fx x1.1 gave 0.79 % (fx) against 1.4 % (depth x0.88), 1.8x; with depth
# x0.8 (--depth-scale 6250) 0.78 % (depth) against 1.7 % (fx x1.12), 2.1x; the synthetic walk
# 35-100x (noise-free)
_CLEAR_FIT_RATIO = 1.5


@dataclasses.dataclass
class _ResidualScore:
    """Median over a spread of depth pairs (`_FOCAL_SCAN_PAIRS`) of each pair's median |relative
    depth residual|, both directions, for fx, fy divided by ``g`` (`_focal_divided`) or the
    depth times ``depth_scale``; inf when no pair has `cfg.min_depth_points`."""

    views: List[_View]
    keys: List[Tuple[int, int]]
    cfg: MapCheckConfig
    # (g, depth_scale) -> score: each factor computed once (`_focal_scale` may score the
    # factors past an end twice, `_log_argmin`'s ``wide`` pass and `_past_ends`)
    _done: Dict[Tuple[float, float], float] = dataclasses.field(default_factory=dict,
                                                                  init=False, repr=False)
    _rel: Dict[Tuple[int, int], Tuple[np.ndarray, np.ndarray]] = dataclasses.field(
        default_factory=dict, init=False, repr=False)  # pair -> (b_from_a, a_from_b)

    def __call__(self, g: float = 1.0, depth_scale: float = 1.0) -> float:
        key = (float(g), float(depth_scale))
        if key not in self._done:
            self._done[key] = self._score(g, depth_scale)
        return self._done[key]

    def _score(self, g: float, depth_scale: float) -> float:
        vs = self.views if g == 1.0 else _focal_divided(self.views, g)
        if vs is None:  # no camera's K (`_candidate`): fits nothing
            return math.inf
        meds = []
        for a, b in self.keys:
            if (a, b) not in self._rel:  # no factor moves a pose: once per pair, not per factor
                b_from_a = invert_pose(self.views[b].pose) @ self.views[a].pose
                self._rel[a, b] = b_from_a, invert_pose(b_from_a)
            b_from_a, a_from_b = self._rel[a, b]
            r = np.concatenate([
                _depth_residuals(vs[a], vs[b], b_from_a, depth_scale, self.cfg.depth_tolerance),
                _depth_residuals(vs[b], vs[a], a_from_b, depth_scale, self.cfg.depth_tolerance)])
            if len(r) >= self.cfg.min_depth_points:
                meds.append(float(np.median(np.abs(r))))
        return float(np.median(meds)) if meds else math.inf


def _residual_score(views: List[_View], matches: Dict[Tuple[int, int], Any],
                    cfg: MapCheckConfig) -> Optional[_ResidualScore]:
    """The score on up to `_FOCAL_SCAN_PAIRS` of the pairs, spread over the map, that have
    depth at one end at least and a baseline or a turn (`baseline.with_baseline`: one frame
    twice scores 0 under any factor, which pulled the median to 0); None when none has."""
    keys = with_baseline(views, [k for k in matches if views[k[0]].depth is not None
                                 or views[k[1]].depth is not None])
    if not keys:
        return None
    spread = np.linspace(0, len(keys) - 1, _FOCAL_SCAN_PAIRS).astype(int)
    return _ResidualScore(views, [keys[i] for i in np.unique(spread)], cfg)


def _log_argmin(score: Callable[[float], float], centre: float = 1.0, *,
                many: Optional[Callable[[np.ndarray], np.ndarray]] = None,
                wide: bool = False) -> float:
    """The factor in ``centre`` x `_FOCAL_SCAN`'s range that minimises ``score``: the log grid,
    then `_FOCAL_REFINE_STEP` steps within a grid step of its best. ``many``: the same score of
    an array of factors at once ((G,) -> (G,)), which replaces ``score`` (the first minimum
    taken, as ``min`` takes it). ``wide``: when that best sits at an end of the range (the
    grid's end point, refined to its outer end), the scan goes on past it to `_FOCAL_SCAN_WIDE`'s
    end on that side, in the same log steps, and the better of the two is taken."""
    lo, hi, n = _FOCAL_SCAN
    grid = centre * np.exp(np.linspace(math.log(lo), math.log(hi), n))
    step = math.log(hi / lo) / (n - 1)
    i = _first_min(grid, score, many)
    g, at = _refined(grid[i], step, score, many)
    out = 1 if i == n - 1 and at == 1 else -1 if i == 0 and at == -1 else 0
    if not wide or not out:
        return g
    end = centre * _FOCAL_SCAN_WIDE[out > 0]
    past = grid[i] * np.exp(out * step * np.arange(
        1, math.ceil(abs(math.log(end / grid[i])) / step - 1e-9) + 1))
    g2 = _refined(past[_first_min(past, score, many)], step, score, many)[0]
    return (g, g2)[_first_min(np.array([g, g2]), score, many)]  # g2 only when lower


def _focal_fits(views: List[_View], matches: Dict[Tuple[int, int], Any], cfg: MapCheckConfig,
                g: float) -> bool:
    """Whether fx, fy divided by ``g`` make every pair agree (and at least one is judged), of
    the pairs with a baseline or a turn (`_baseline_matches`)."""
    divided = _focal_divided(views, g)
    return divided is not None and _all_agree(_measure(divided, [v.pose for v in views],
                                                       _baseline_matches(views, matches), cfg))


def _focal_scale(views: List[_View], matches: Dict[Tuple[int, int], Any],
                 cfg: MapCheckConfig) -> Optional[_Cause]:
    """The cause ``focal_length`` (confirmed) when fx, fy of every keyframe divided by one
    factor g make every pair agree while the given ones do not: the factor that minimises the
    median over pairs of their median relative depth residual (`_ResidualScore`; a log grid,
    then refined in 0.5 % steps), at least 3 % from 1 and halving that residual, then measured
    in full. A calibration 15 % off was named a pose discontinuity or "unknown" (the depth scale
    fits only about 10 % off, `_describe`'s ``unit_like``; `_depth_or_focal` tells them apart
    there). Past `_FOCAL_SCAN`'s end where its best sits, on to `_FOCAL_SCAN_WIDE`'s (x2, x0.5:
    a calibration for another resolution, whose fix says so, `_resolution_fix`); when that
    factor does not fit, past both ends out to `_FOCAL_SCAN_FAR`'s (x3, x4, x1/3, x1/4; a bump
    inside the range). Distorted
    cameras are undistorted under each candidate K (`_focal_divided`). None otherwise."""
    score = _residual_score(views, matches, cfg)
    if score is None:
        return None
    base = score()
    found = _log_argmin(score, wide=True)

    def fits(g: float) -> bool:
        return (abs(math.log(g)) >= math.log(1.03) and score(g) < 0.5 * base
                and _focal_fits(views, matches, cfg, g))

    if fits(found):
        return _focal_cause(views, found, score(found), base)
    # the factors past both ends (`_FOCAL_SCAN_FAR`) only when the scan's does not fit: inside
    # the range the same factors are tried as before, and a fitting one is named as before
    g = next((g for g in _past_ends(score, base) if g != found and fits(g)), None)
    return None if g is None else _focal_cause(views, g, score(g), base)


def _past_ends(score: Callable[[float], float], base: float) -> Iterator[float]:
    """The best factor past each end of `_FOCAL_SCAN` out to `_FOCAL_SCAN_FAR`'s, the side whose
    grid minimum is lower first: a log grid `_FAR_STEPS` x the scan's step continued from its
    end point, its minimum refined as `_log_argmin` refines (in `_FOCAL_REFINE_STEP` steps
    within a grid step) only when it at least halves ``base`` (the residual far from the fit
    falls steeply: a refinement cannot halve what its grid point did not nearly halve). A
    failing map of another cause (a pose jump) scores the two grids only."""
    lo, hi, n = _FOCAL_SCAN
    grid = np.exp(np.linspace(math.log(lo), math.log(hi), n))
    step = _FAR_STEPS * math.log(hi / lo) / (n - 1)
    sides = []
    for end_point, out, end in ((grid[0], -1, _FOCAL_SCAN_FAR[0]),
                                (grid[-1], 1, _FOCAL_SCAN_FAR[1])):
        past = end_point * np.exp(out * step * np.arange(
            1, math.ceil(abs(math.log(end / end_point)) / step - 1e-9) + 1))
        best = float(past[_first_min(past, score, None)])
        sides.append((score(best), best))
    for at, best in sorted(sides):
        if at < 0.5 * base:
            yield _refined(best, step, score, None)[0]


def _focal_cause(views: List[_View], g: float, residual: float, base: float,
                 against: str = "") -> _Cause:
    """The confirmed cause ``focal_length`` for fx, fy x``g`` the size that fits (median depth
    residual ``residual`` with it, ``base`` with the given ones; ``against``: what else was
    weighed, in words, appended to the figures)."""
    v = views[0]
    fx = camera_px(v)[0][0, 0]
    lo, hi, _ = _FOCAL_SCAN
    return _Cause(
        "focal_length", 1.0,
        f"fx, fy are x{g:.3g} the size the depth and poses fit (the focal length is off: fx "
        f"{fx:.4g} px of keyframe {v.label}; with fx {fx / g:.4g} px, a "
        f"{_fov_deg(fx / g, v.width_px):.3g} deg view instead of {_fov_deg(fx, v.width_px):.3g}, "
        f"every pair agrees, median depth residual {100 * residual:.2g} % against "
        f"{100 * base:.2g} %{against})",
        (_resolution_fix(v, g) if not lo <= g <= hi else
         "check fx, fy in the camera_info's K (camera.yaml / --camera-info, the CameraInfo "
         "topic) against the camera's calibration (another camera's, or for another resolution "
         f"or zoom?): divided by {g:.3g} (fx {fx / g:.4g} px) they fit; build the map again"
         + (UNREGISTERED_NOTE if 0.75 < g < 1.33 else "")),
        True)


# image size ratios a calibration is commonly given at by mistake (given / these images), named
# when the fitted factor is within 10 % of one (`_resolution_fix`): a full-resolution stream's
# camera_info (1280x720, 1920x1080, 2560x1440) copied for a reduced one (640x360), or back
_RESOLUTION_RATIOS = (0.25, 1.0 / 3.0, 0.5, 2.0, 3.0, 4.0)


def _resolution_fix(v: _View, g: float) -> str:
    """The fix for fx, fy x``g`` beyond `_FOCAL_SCAN`'s range (found by its ``wide`` pass): a
    calibration for another image size (``g`` x these images' when that is twice or half), its
    fx, fy scaled by the size ratio (the fit keeps cx, cy as given), or the CameraInfo recorded
    with the images. ``v``: the keyframe named (camera pixels)."""
    K, w, h = camera_px(v)  # the camera's, per axis (752x480, not 752x479)
    fx = K[0, 0]
    r = next((r for r in _RESOLUTION_RATIOS if abs(math.log(g / r)) < math.log(1.1)), None)
    made = (f"one made at {round(w * r)}x{round(h * r)} for these {w}x{h} images?"
            if r is not None else f"one made at another image size than these {w}x{h}?")
    exact = ("" if r is None else
             f" (that size's ratio exactly: {'divide' if r > 1 else 'multiply'} fx, fy by "
             f"{round(max(r, 1.0 / r))}, fx {fx / r:.4g} px)")
    return ("fx, fy in the camera_info's K (camera.yaml / --camera-info, the CameraInfo topic) "
            f"are likely a calibration for another resolution ({made}): give the CameraInfo "
            "recorded with these images, or scale fx, fy by the image size ratio: divided by "
            f"{g:.3g} (fx {fx / g:.4g} px), cx, cy as given, they fit{exact}; build the map "
            "again")


# a colour camera's own K fails the same way with a separate depth camera's depth (a Kinect's,
# a D400's unaligned stream), which fits the depth camera's K: the colour-focal note of a map
# built with that K sends the user here, and the fix alone sent them back to it
UNREGISTERED_NOTE = ("; if fx, fy are the colour camera's own, the depth is a separate depth "
                     "camera's, not registered to it: register it first (depth_image_proc's "
                     "register, the driver's align_depth)")


def _depth_or_focal(views: List[_View], matches: Dict[Tuple[int, int], Any],
                    cfg: MapCheckConfig, factor: float) -> Tuple[str, Any]:
    """For a confirmed depth ``factor`` (given / true) that is no unit confusion, which fx, fy
    off fit as well: ("focal", cause) when the best factor on fx, fy leaves a median depth
    residual (`_ResidualScore`) `_CLEAR_FIT_RATIO` x smaller than the best depth factor near
    ``factor`` and makes every pair agree; ("depth", words) when the depth factor's is that much
    smaller (``words``: the figures, for `_describe`'s ``focal_ruled_out``); ("", None) when
    neither wins clearly. A depth scale multiplies each point's range; fx, fy off scale its
    offset from the principal point only, so over pairs that move and turn the two part."""
    score = _residual_score(views, matches, cfg)
    if score is None:
        return "", None
    g = _log_argmin(score)
    f = _log_argmin(lambda s: score(depth_scale=1.0 / s), centre=factor)
    by_focal, by_depth = score(g), score(depth_scale=1.0 / f)
    if by_focal * _CLEAR_FIT_RATIO <= by_depth and _focal_fits(views, matches, cfg, g):
        return "focal", _focal_cause(
            views, g, by_focal, score(),
            f"; a depth factor fits worse: x{f:.2g} leaves {100 * by_depth:.2g} %")
    if by_depth * _CLEAR_FIT_RATIO <= by_focal:
        return "depth", (f"not the focal length: a depth factor leaves a median depth residual "
                         f"of {100 * by_depth:.2g} %, the best factor on fx, fy (x{g:.3g}) "
                         f"{100 * by_focal:.2g} %")
    return "", None


def _colour_focal_fit(views: List[_View], matches: Dict[Tuple[int, int], Any],
                      pairs: List[PairFigures], cfg: MapCheckConfig
                      ) -> Optional[Tuple[float, float, float, float, float, FactorSpread]]:
    """`_colour_focal`'s fit: (g, the given fx of the first view in camera px, the median
    reprojection (px) at fx, fy x g, at the given ones, the median depth residual, g with its
    spread over the pairs), or None when its rules do not hold. The scan's factor (the least
    median over the pairs) only finds the fit; g is `focal_note.factor_spread`'s near it (the
    least mean: re-encoding the same JPEGs moved the median's x0.908 to x0.860), and the
    rules are judged at g."""
    with_depth = [p for p in pairs if p.depth_points]
    if not with_depth or any(p.depth_residual > cfg.max_depth_residual
                             or p.depth_agree < cfg.min_depth_agree for p in with_depth):
        return None
    keys = with_baseline(views, [k for k, m in matches.items() if m is not None])
    if not keys:  # (a pair taken from one place fits any focal length: `baseline`)
        return None
    # scored on up to `_FOCAL_SCAN_PAIRS` pairs spread over the map, confirmed on every one
    spread_keys = [keys[i] for i in np.unique(np.linspace(0, len(keys) - 1,
                                                          _FOCAL_SCAN_PAIRS).astype(int))]
    b_from_a: Dict[Tuple[int, int], np.ndarray] = {}  # per pair, once for every factor

    def reproj(gs: np.ndarray, pairs_of: List[Tuple[int, int]]):
        """(medians (G,) at each factor, the pair's limit) of each pair of ``pairs_of`` with
        `min_matches`: every factor in one pass (`_pair_reproj_factors`), no view rebuilt."""
        for a, b in pairs_of:
            if (a, b) not in b_from_a:
                b_from_a[(a, b)] = invert_pose(views[b].pose) @ views[a].pose
            med, n = _pair_reproj_factors(views[a], views[b], matches[(a, b)],
                                          b_from_a[(a, b)], gs)
            if n >= cfg.min_matches:
                yield med, _reproj_limit_px(views[a], views[b], cfg)

    scores: Dict[float, float] = {}  # factor -> median over the spread; each factor once

    def many(gs: np.ndarray) -> np.ndarray:
        todo = np.array([g for g in gs if float(g) not in scores], np.float64)
        if len(todo):
            meds = [med for med, _ in reproj(todo, spread_keys)]
            got = (np.median(np.stack(meds), axis=0) if meds
                   else np.full(len(todo), math.inf))
            scores.update(zip(map(float, todo), map(float, got)))
        return np.array([scores[float(g)] for g in gs])

    def score(g: float) -> float:
        return float(many(np.array([g]))[0])

    base = score(1.0)
    if not math.isfinite(base):
        return None
    g = _log_argmin(score, many=many)
    if abs(math.log(g)) < math.log(1.03) or not score(g) <= 0.5 * base:
        return None
    gs = spread_grid(g)  # the factor stated and judged: every pair weighs in (`focal_note`)
    curves = np.stack([med for med, _ in reproj(gs, spread_keys)])  # (pairs, factors)
    scores.update(zip(map(float, gs), map(float, np.median(curves, axis=0))))  # as `many`'s
    spread = factor_spread(gs, curves)
    f = spread.factor
    # every pair confirmed only once the scan found a fit (a consistent map's check runs this)
    if (abs(math.log(f)) < math.log(1.03) or not score(f) <= 0.5 * base
            or not all(_focal_candidate(c, f) for c in _cameras(views))  # no view rebuilt
            or any(med[0] > limit for med, limit in reproj(np.array([f]), keys))):
        return None
    return (f, views[0].cam.K[0, 0] / views[0].scale, score(f), base,
            float(np.median([p.depth_residual for p in with_depth])), spread)


def _focal_times(v: _View, g: float) -> Optional[_View]:
    """``v`` with fx, fy of its K times ``g`` (the rest of K, distortion and arrays as given);
    None when that K is no camera's (`_candidate`)."""
    cam = _focal_candidate(v.cam, g)
    return None if cam is None else dataclasses.replace(v, cam=cam)


def _pair_reproj_factors(va: _View, vb: _View, m: Any, b_from_a: np.ndarray,
                         gs: np.ndarray) -> Tuple[np.ndarray, int]:
    """(G,) median reprojection error (camera px) of the pair's matches, both directions, with
    fx, fy of both views times each factor of ``gs`` (G,), and the number of matches
    measured: `_pair_reproj` of the views rebuilt per factor (`_focal_times`), the same numbers
    float for float, in one numpy pass over every factor for pinhole cameras (its ``focal``
    rows; the scan's ~45 factors rebuilt two views and ran `_pair_reproj` each, mostly Python
    overhead); a distorted camera is rebuilt per factor."""
    gs = np.asarray(gs, np.float64).reshape(-1)
    if va.cam.has_distortion or vb.cam.has_distortion:
        meds, n = [], int(np.isfinite(m.da).sum() + np.isfinite(m.db).sum())
        for g in gs:
            a, b = _focal_times(va, g), _focal_times(vb, g)
            if a is None or b is None:  # no camera's K (`_candidate`): fits nothing
                meds.append(math.inf)
                continue
            meds.append(_pair_reproj(a, b, m, b_from_a, _ONE)[0][0])
        return np.array(meds, np.float64), n
    return _pair_reproj(va, vb, m, b_from_a, np.ones(len(gs)), focal=gs)


def _colour_focal(views: List[_View], matches: Dict[Tuple[int, int], Any],
                  pairs: List[PairFigures], cfg: MapCheckConfig) -> Optional[_Cause]:
    """The cause ``colour_focal`` (confirmed) when every pair's depth agrees under the given K,
    only matches disagree, and the colour pixels alone seen through fx, fy x g (the depth read
    as given at the same pixels) make every pair's matches agree, the median over pairs of their
    median reprojection at most half the given one's, g at least 3 % from 1 (`_log_argmin`'s
    scan). The depth then is a depth camera's not registered to the colour one, whose focal
    length differs: 7-Scenes' Kinect v1 (585 px given, the depth's; its colour fits x0.90,
    its pairs' reprojection 8.0 px instead of 23.0, 11.5 at most instead of 40.8). Said a pose
    jump (x0.85 on the synthetic walk: "no pose convention ... explains it") or a depth unit
    (x0.8: "--depth-scale 500", which breaks the depth). None otherwise."""
    fit = _colour_focal_fit(views, matches, pairs, cfg)
    if fit is None:
        return None
    _, fx, at_g, base, res, spread = fit
    return _Cause(
        "colour_focal", 1.0,
        f"the colour images fit fx, fy {spread.factor_words()} the given ones (fx "
        f"{spread.fx_words(fx)}, not {fx:.4g}; {spread.over()}), which the depth fits (every "
        f"pair's depth agrees, median residual {_pct(res)}): with it every pair's matches "
        f"agree, median reprojection {at_g:.1f} px against {base:.1f} px; the depth is a depth "
        "camera's not registered to the colour camera (a Kinect v1's colour camera has about "
        "525 px beside its depth camera's 585)",
        "register the depth to the colour camera (depth_image_proc's register or the driver's "
        "align_depth; in a bag the depth stream with its own CameraInfo and /tf_static is "
        f"registered), then give the colour camera's K (fx about {fx * spread.factor:.0f} px); "
        "or, the misregistration accepted, raise map_check.max_reproj_frac or pass --force",
        True)
