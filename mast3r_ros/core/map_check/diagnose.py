"""Map check diagnosis: which pose-convention mistake or depth scale explains an inconsistent map
(fitted on the verified matches, confirmed with the depth measurement), or a discontinuity."""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np
from scipy.spatial.transform import Rotation

from ..config import MapCheckConfig
from ..geometry import invert_pose
from .focal import (_colour_focal, _depth_or_focal, _focal_scale, _log_argmin,
                    _residual_score)
from .focal import _implausible_focal_length  # noqa: F401 (the check's, `map_check.__init__`)
from .distortion import lens_cause
from .measure import _keyframe_figures, _measure, _pair_reproj, _View
from .records import _NICE_FACTORS, _Cause, _fmt_factor
from .report import PairFigures, _listed

# REP-103: optical frame (x right, y down, z forward) in a body frame (x forward, y left, z up).
BODY_FROM_OPTICAL = np.array([[0.0, 0.0, 1.0, 0.0],
                              [-1.0, 0.0, 0.0, 0.0],
                              [0.0, -1.0, 0.0, 0.0],
                              [0.0, 0.0, 0.0, 1.0]])

# Depth a camera's scene plausibly has, in metres: a median within this range is a room's or a
# street's. A depth fix that takes the median beyond it, or the top depth beyond what the map's
# 16-bit depth format holds (65535 at 100 units/m, `keyframes.pixels.depth_to_png`), is not a
# depth-unit error but a trajectory in another unit (millimetres read as metres).
_PLAUSIBLE_MEDIAN_DEPTH_M = (0.05, 100.0)
_MAP_DEPTH_LIMIT_M = 655.35


# ---------------------------------------------------------------------------- diagnosis ---

def _quat_reorder(order: Tuple[int, int, int, int]) -> Callable[[np.ndarray], np.ndarray]:
    def fix(pose: np.ndarray) -> np.ndarray:
        q = Rotation.from_matrix(pose[:3, :3]).as_quat()
        out = pose.copy()
        out[:3, :3] = Rotation.from_quat(q[list(order)]).as_matrix()
        return out
    return fix


def _transpose_rotation(pose: np.ndarray) -> np.ndarray:
    """``pose`` with its rotation transposed and its translation kept: the pose read from a
    conjugate quaternion (JPL convention, or a camera_from_world rotation beside the camera's
    position in the world), which inverting the whole pose does not undo."""
    out = pose.copy()
    out[:3, :3] = pose[:3, :3].T
    return out


# name -> (the fix applied to every given pose, what the mistake was, how to fix it)
# OpenGL's camera axes (y up, looking down -z) in the optical frame's (y down, z forward): its own
# inverse
_OPENGL_FROM_OPTICAL = np.diag([1.0, -1.0, -1.0, 1.0])

_POSE_FIXES: Dict[str, Tuple[Callable[[np.ndarray], np.ndarray], str, str]] = {
    "inverted_poses": (invert_pose, "the poses are inverted (cam_from_map given as map_from_cam)",
                       "invert the poses (give map_from_cam: the camera's pose in the map; "
                       "with --pose-frames, the map frame first: MAP:CAMERA)"),
    "quaternion_wxyz": (_quat_reorder((1, 2, 3, 0)),
                        "the quaternions are in w x y z order but were read as x y z w",
                        "write the trajectory's quaternions as qx qy qz qw (TUM order)"),
    "quaternion_xyzw": (_quat_reorder((3, 0, 1, 2)),
                        "the quaternions are in x y z w order but were read as w x y z",
                        "read the quaternions as qx qy qz qw (TUM / geometry_msgs order)"),
    "rotations_transposed": (_transpose_rotation,
                             "the rotations are transposed (conjugate quaternions: JPL "
                             "convention, or camera_from_world rotations beside the camera's "
                             "position in the world)",
                             "negate qx qy qz of each quaternion (JPL to Hamilton), or convert "
                             "camera_from_world rotations to map_from_cam (transpose R, keep "
                             "the camera's position as the translation)"),
    "camera_not_optical": (lambda p: p @ BODY_FROM_OPTICAL,
                           "the poses are of a body frame (x forward, z up), not the camera's "
                           "optical frame (z forward, REP-103)",
                           "give poses of the optical frame: --pose-frames map alone takes "
                           "the images' own header.frame_id (a rosbag2), usually the "
                           "camera's *_optical_frame"),
    "camera_not_optical_inverse": (lambda p: p @ invert_pose(BODY_FROM_OPTICAL),
                                   "the poses carry an extra optical->body rotation (REP-103)",
                                   "give poses of the camera optical frame itself"),
    "opengl_camera": (lambda p: p @ _OPENGL_FROM_OPTICAL,
                      "the poses are of an OpenGL camera (x right, y up, looking down -z: "
                      "Blender, NeRF's transforms.json, ARKit), not the optical frame (x "
                      "right, y down, z forward)",
                      "turn each pose's camera axes: map_from_cam times diag(1, -1, -1) (negate "
                      "the rotation's second and third columns; the translation stays)"),
}


def name_pose_suspect(cause: _Cause, suspect: Optional[str]) -> _Cause:
    """``cause`` with ``suspect`` named where it names a pose convention (or none explains the
    map: ``unknown``): what else places the camera on the poses read, in words, e.g. an
    EuRoC/ASL camera's "T_BS in .../cam0/sensor.yaml" (its pose in the body frame, which moves
    the ground truth onto the camera; a reader's own conventions are fixed, so a wrong T_BS is
    the likelier cause: it fits as a convention mistake would). ``cause`` unchanged without a
    suspect or for other causes (a depth scale, a focal length, a discontinuity)."""
    parts = cause.name.split("+")
    if not suspect or not (cause.name == "unknown" or any(p in _POSE_FIXES for p in parts)):
        return cause
    check = (f"check {suspect} (body_from_cam, a row-major 4x4) against the dataset's "
             "calibration")
    if cause.name == "unknown":
        return dataclasses.replace(
            cause, what=f"{cause.what}; {suspect} (the camera's pose in the body frame) may be "
            "wrong", fix=f"{check}; {cause.fix}")
    return dataclasses.replace(
        cause, what=f"{suspect} is wrong (the camera's pose in the body frame, which moves the "
        f"ground truth onto the camera): the poses fit as if {cause.what}",
        fix=f"{check}; only if it is right: {cause.fix}")


def _fit(views: List[_View], poses: List[np.ndarray], matches: Dict[Tuple[int, int], Any],
         scales: np.ndarray) -> Tuple[np.ndarray, int]:
    """(S,) median over pairs of the pair's median reprojection error, per depth scale."""
    per_pair = []
    for (a, b), m in matches.items():
        if m is None:
            continue
        med, n = _pair_reproj(views[a], views[b], m, invert_pose(poses[b]) @ poses[a], scales)
        if n:
            per_pair.append(med)
    if not per_pair:
        return np.full(len(scales), np.inf), 0
    return np.median(np.stack(per_pair), axis=0), len(per_pair)


def _nice_factors(factor: float) -> List[float]:
    """The common unit confusions within 15 % of a fitted depth factor (given / true), nearest
    first; else the factor to 2 digits. Both neighbours are kept: the fit is on a log grid of
    12 % steps, so TUM's x5 (1/5000 m read as mm) was fitted as 4.47 on 7-Scenes, nearer x4,
    and only x5 passes the check."""
    near = sorted((f for f in _NICE_FACTORS if abs(math.log(factor / f)) < math.log(1.15)),
                  key=lambda f: abs(math.log(factor / f)))
    return near or [float(f"{factor:.2g}")]


# Raw depth units per metre that depth sensors and datasets use (m, mm, TUM's 0.2 mm, 0.1 mm).
_SENSOR_UNITS_PER_M = (1.0, 1000.0, 5000.0, 10000.0)


def _sensor_unit_factors(factor: float, units_per_m: Optional[float]) -> List[float]:
    """Depth factors (given / true) within 15 % of ``factor`` that make the true units per metre
    (``units_per_m * f``) one of `_SENSOR_UNITS_PER_M`, nearest first; [] without the units."""
    if not units_per_m:
        return []
    near = [u / units_per_m for u in _SENSOR_UNITS_PER_M
            if abs(math.log(factor * units_per_m / u)) < math.log(1.15)]
    return sorted(near, key=lambda f: abs(math.log(factor / f)))


def _diagnose(views: List[_View], matches: Dict[Tuple[int, int], Any], cfg: MapCheckConfig,
              pairs: List[PairFigures], depth_units_per_m: Optional[float],
              whole: Optional[Tuple[List[_View], List[PairFigures]]] = None) -> _Cause:
    """The likely cause, for a map whose focal lengths are a camera's (else
    `_implausible_focal_length` is the cause: every fit here goes through K): a global fix
    (pose convention and/or depth scale) that makes every pair agree; else a clock that jumps
    back; else a local jump in the poses; else the best global fix that clearly helps without
    fixing everything (reported as not confirmed); else unknown.
    ``whole``: (every keyframe's light view, every pair) when ``views``/``pairs`` are a sample of
    the map (`diagnosis_sample`): the clock and the local jumps are looked for in all of them."""
    colour = _colour_focal(views, matches, pairs, cfg)  # depth agrees, matches do not
    if colour is not None:  # unless the pairs fit a lens distortion the camera's D lacks
        return lens_cause(views, matches) or colour
    poses = [v.pose for v in views]
    # a factor up to 10^6 either way: --depth-scale 1e9 (for TUM's 5000) is 2e5 (includes 1.0,
    # index 120)
    scales = 10.0 ** np.linspace(-6.0, 6.0, 241)
    base = None
    best = None
    for name, fix in [("", lambda p: p)] + [(k, v[0]) for k, v in _POSE_FIXES.items()]:
        fixed = [fix(p) for p in poses]
        curve, n = _fit(views, fixed, matches, scales)
        if not n:
            continue
        if not name:
            base = float(curve[120])
        k = int(np.argmin(curve))
        if best is None or curve[k] < best[0] * 0.8:  # a convention needs a clear win
            best = (float(curve[k]), name, fixed, float(1.0 / scales[k]))
    fallback = None
    if best is not None:
        err, name, fixed, factor = best
        nices = _nice_factors(factor)
        nice = nices[0]  # the fit grid's neighbours of x1 (10^±0.05) are within 15 %: x1
        # the factors that make the depth's units a sensor's own (TUM's 5000 for a
        # --depth-scale 1e9: x5e-6, beyond the unit confusions) come first
        units = _sensor_unit_factors(factor, depth_units_per_m)
        for f in dict.fromkeys(units + nices + [factor]):  # the snapped ones first
            if not name and f == 1.0:
                continue
            recheck = _measure(views, fixed, matches, cfg, depth_scale=1.0 / f)
            if all(p.ok is not False for p in recheck):
                # a factor that is no unit confusion (x1.3) may be fx, fy a few % off instead:
                # told apart when the residuals are clear (`_depth_or_focal`), else both named
                unit_like = f in units or f in _NICE_FACTORS
                if name and not unit_like and _depth_fits_unscaled(views, fixed, matches, cfg):
                    # the matches' grid neighbour of x1 (x0.891): redkitchen's inverted poses
                    # read "depth is x0.891 ... --depth-scale 4.46e+03", its depth fitting x1.00
                    # under the inverted poses undone; one pair's reprojection had passed its
                    # limit (54 px against 51) there, not the depth
                    return _describe(name, 1.0, False, depth_units_per_m)
                # a factor fitted on the matches' log grid (12 % steps) that is no unit: the
                # depth's own fit is finer (redkitchen's depth x0.8 was named x0.71, the grid
                # point, to 2 digits, which passes too: --depth-scale 3550 for 4000)
                finer = None if name or unit_like else _depth_fit(views, matches, cfg,
                                                                  depth_units_per_m)
                if finer is not None:
                    return finer
                told, said = ("", None) if name or unit_like else _depth_or_focal(
                    views, matches, cfg, f)
                if told == "focal":
                    return said
                return _describe(name, f, True, depth_units_per_m, _depth_range_m(views),
                                 unit_like=unit_like, focal_ruled_out=said or "")
        if (name or nice in _NICE_FACTORS and nice != 1.0) and base is not None and (
                err < 0.3 * base):
            fallback = _describe(name, nice if nice in _NICE_FACTORS else 1.0, False,
                                 depth_units_per_m, _depth_range_m(views))
    # the depth factor fitted on the depth before fx, fy: it is told from them there
    # (`_depth_or_focal`), whereas `_focal_scale` names fx, fy whenever they halve the residual
    # (the walk's depth x1.3 read "fx, fy are x0.94": 0.86 % against the depth factor's 0.29 %)
    return (_depth_fit(views, matches, cfg, depth_units_per_m)
            or _focal_scale(views, matches, cfg)
            or _discontinuity(*(whole or (views, pairs)), fallback))


def _depth_fits_unscaled(views: List[_View], poses: List[np.ndarray],
                         matches: Dict[Tuple[int, int], Any], cfg: MapCheckConfig) -> bool:
    """Whether the depth-vs-depth agreement of neighbouring keyframes under ``poses`` (a pose
    convention's fix) fits the depth as read: its own fitted factor (`_depth_fit`'s) within
    `_DEPTH_FIT_MIN_FACTOR` of x1. A depth factor that only the matches' fit names then is
    theirs (the colour camera is not the depth camera; a 12 % grid step), not the depth's."""
    score = _residual_score([dataclasses.replace(v, pose=p) for v, p in zip(views, poses)],
                            matches, cfg)
    if score is None:
        return False
    fitted = _log_argmin(lambda s: score(depth_scale=1.0 / s))
    return abs(math.log(fitted)) < math.log(_DEPTH_FIT_MIN_FACTOR)


# a depth factor fitted on the depth itself (`_depth_fit`) is named when it is at least this far
# from x1 and leaves at most this fraction of the given depth's median depth residual
_DEPTH_FIT_MIN_FACTOR = 1.03
_DEPTH_FIT_GAIN = 0.5


def _depth_fit(views: List[_View], matches: Dict[Tuple[int, int], Any], cfg: MapCheckConfig,
               depth_units_per_m: Optional[float]) -> Optional[_Cause]:
    """The cause ``depth_scale`` (confirmed) fitted on the depth-vs-depth agreement of
    neighbouring keyframes instead of the matches: the depth factor (given / true) in
    `focal._FOCAL_SCAN`'s range that minimises the median over pairs of their median relative
    depth residual (`focal._ResidualScore`; a log grid, then 0.5 % steps), at least
    `_DEPTH_FIT_MIN_FACTOR` from x1 and leaving at most `_DEPTH_FIT_GAIN` of the given depth's
    residual, with which every pair agrees (the sensor units, the unit confusions and the factor
    to 2 digits near it tried first, as `_diagnose` does). The matches' fit is too flat for a
    depth a few tens of per cent off when the matches are noisy: redkitchen's depth x1.3 fitted
    x1.12 on them (median 15.0 px against 16.7 px at x1: the colour camera is not the depth
    camera), which x1.12 does not confirm, so it was named a pose discontinuity (5 of 19 pairs
    disagreed); its depth residual fits x1.31 (0.79 % against 2.8 %). Told from fx, fy off as
    `_diagnose`'s fit is (`_depth_or_focal`). None otherwise (no pair with depth, no clear fit,
    or a fit with which a pair still disagrees: a local jump is not made up for by a global
    factor)."""
    score = _residual_score(views, matches, cfg)
    if score is None:
        return None
    fitted = _log_argmin(lambda s: score(depth_scale=1.0 / s))
    if abs(math.log(fitted)) < math.log(_DEPTH_FIT_MIN_FACTOR) or not (
            score(depth_scale=1.0 / fitted) <= _DEPTH_FIT_GAIN * score()):
        return None
    poses = [v.pose for v in views]
    units = _sensor_unit_factors(fitted, depth_units_per_m)
    for f in dict.fromkeys(units + _nice_factors(fitted) + [fitted]):
        if f == 1.0:
            continue
        figures = _measure(views, poses, matches, cfg, depth_scale=1.0 / f)
        if not (any(p.ok for p in figures) and all(p.ok is not False for p in figures)):
            continue
        unit_like = f in units or f in _NICE_FACTORS
        told, said = ("", None) if unit_like else _depth_or_focal(views, matches, cfg, f)
        if told == "focal":
            return said
        return _describe("", f, True, depth_units_per_m, _depth_range_m(views),
                         unit_like=unit_like, focal_ruled_out=said or "")
    return None


# The diagnosis prepares its keyframes all at once (0.37 MB each at 640x480: 7.5 GB at 2*10^4);
# a larger failing map is diagnosed on a sample of at most this many (`diagnosis_sample`).
DIAGNOSIS_MAX_KEYFRAMES = 1000


def diagnosis_sample(n: int, pairs: List[PairFigures], neighbours: int,
                     cap: Optional[int] = None) -> Optional[List[int]]:
    """Sorted keyframe indices to diagnose a failing map of ``n`` keyframes on, None for all
    (``n <= cap``): both ends of the disagreeing pairs, in order, up to half of ``cap``, then
    runs of ``neighbours + 1`` consecutive keyframes spread evenly over the map (so that their
    pairs are measured again) up to ``cap``. A global cause (a depth unit, a pose convention)
    shows on any run; a local one is at the disagreeing pairs. ``cap`` defaults to
    `DIAGNOSIS_MAX_KEYFRAMES`."""
    cap = DIAGNOSIS_MAX_KEYFRAMES if cap is None else int(cap)
    if n <= cap:
        return None
    chosen: set = set()
    for p in pairs:
        if p.ok is False and len(chosen) + 2 <= cap // 2:
            chosen.update((p.a, p.b))
    run = neighbours + 1
    runs = max(1, (cap - len(chosen)) // run)
    for start in np.linspace(0, n - run, runs).astype(int):
        if len(chosen) + run > cap:
            break
        chosen.update(range(int(start), int(start) + run))
    return sorted(chosen)


def _depth_range_m(views: List[_View]) -> Tuple[float, float]:
    """(median, max) of the keyframes' valid depth as read, in metres; (nan, nan) without
    depth."""
    d = [v.depth[np.isfinite(v.depth)] for v in views if getattr(v, "depth", None) is not None]
    d = np.concatenate(d) if d else np.zeros(0)
    return (float(np.median(d)), float(d.max())) if d.size else (math.nan, math.nan)


def _trajectory_unit_instead(factor: float, depth_m: Tuple[float, float]) -> bool:
    """Whether a fitted depth factor (given / true) < 1 is rather the trajectory's unit: the
    depth as read (``depth_m``: median, max in metres) is plausible, while the depth the fix
    would make (``/ factor``) is not (median beyond `_PLAUSIBLE_MEDIAN_DEPTH_M`, or max beyond
    the map's 16-bit depth format, `_MAP_DEPTH_LIMIT_M`)."""
    med, top = depth_m
    lo, hi = _PLAUSIBLE_MEDIAN_DEPTH_M
    if not factor < 1.0 or not lo <= med <= hi:
        return False
    return med / factor > hi or top / factor > _MAP_DEPTH_LIMIT_M


def _trajectory_unit_words(scale: Optional[float]) -> Tuple[str, str]:
    """(what, fix) for translations ``scale`` times too large (1000: mm, 100: cm; None: not
    known) for a trajectory given in metres."""
    names = {1000.0: "millimetres", 100.0: "centimetres"}
    if scale in names:
        unit, div = f"{names[scale]} read as metres", f"divide tx ty tz by {scale:.0f}"
    elif scale is not None:
        unit, div = "another unit read as metres", f"divide tx ty tz by {_fmt_factor(scale)}"
    else:
        unit, div = ("millimetres or centimetres read as metres",
                     "divide tx ty tz by 1000 for mm, by 100 for cm")
    return (f"the trajectory's translations are in {unit}",
            f"convert the trajectory's (or the TF's) translations to metres ({div})")


# Keyframes of a handheld camera or a ground robot move slower than this (m/s) ...
_MAX_PLAUSIBLE_SPEED_M_S = 10.0
# ... and, when none overlap, further than this many times their median depth (without stamps
# to give a speed, the step alone has to be this much further: _FAR_STEP_NO_STAMPS)
_FAR_STEP, _FAR_STEP_NO_STAMPS = 2.0, 10.0


def _implausible_motion(views: List[_View], depth_m: Optional[Tuple[float, float]] = None
                        ) -> Optional[Tuple[str, _Cause]]:
    """When no neighbouring keyframes could be compared: (evidence, cause) if the trajectory is
    likely in millimetres or centimetres, else None. Likely means: the depth as read is
    plausible (median within `_PLAUSIBLE_MEDIAN_DEPTH_M`) while consecutive keyframes lie a
    median step of more than `_FAR_STEP` x that depth apart at a median speed above
    `_MAX_PLAUSIBLE_SPEED_M_S` (over the steps whose stamps increase, when at least half do),
    or, without such stamps, more than `_FAR_STEP_NO_STAMPS` x that depth apart. The evidence
    counts the steps each median is over ("... m per keyframe over 9 consecutive keyframe pairs
    (... m/s on the 7 of 9 whose stamps increase)"). Millimetres are named when even translations
    in centimetres would be implausible, else both units. ``depth_m``: the depth's (median, max)
    when ``views`` hold no depth (light views of a large map, the depth from a sample)."""
    med, _ = depth_m or _depth_range_m(views)
    lo, hi = _PLAUSIBLE_MEDIAN_DEPTH_M
    if len(views) < 2 or not lo <= med <= hi:
        return None
    t = np.array([v.pose[:3, 3] for v in views])
    steps = np.linalg.norm(np.diff(t, axis=0), axis=1)
    step = float(np.median(steps))
    dt = np.diff(np.array([v.stamp_ns for v in views], np.int64)) * 1e-9
    timed = dt > 0
    n, n_timed = len(steps), int(timed.sum())
    pairs = f"{step:.3g} m per keyframe over {n} consecutive keyframe pair{'s' * (n != 1)}"
    if 2 * n_timed >= n:
        speed = float(np.median(steps[timed] / dt[timed]))
        if speed <= _MAX_PLAUSIBLE_SPEED_M_S or step <= _FAR_STEP * med:
            return None
        pace = (f"{pairs} ({speed:.3g} m/s on the {n_timed} of {n} whose stamps increase)"
                if n_timed < n else f"{pairs} ({speed:.3g} m/s)")
        mm = speed / 100 > _MAX_PLAUSIBLE_SPEED_M_S or step / 100 > _FAR_STEP * med
    else:
        if step <= _FAR_STEP_NO_STAMPS * med:
            return None
        pace = f"{pairs} (no speed: the stamps increase on {n_timed} of {n})"
        mm = step / 100 > _FAR_STEP_NO_STAMPS * med
    scale = 1000.0 if mm else None
    what, fix = _trajectory_unit_words(scale)
    evidence = (f"the poses move the camera a median {pace} while its depth is a median "
                f"{med:.2g} m")
    return evidence, _Cause("trajectory_unit", 1.0 / scale if scale else 1.0, what, fix, False)


def _describe(name: str, factor: float, confirmed: bool,
              depth_units_per_m: Optional[float],
              depth_m: Tuple[float, float] = (math.nan, math.nan),
              unit_like: bool = True, focal_ruled_out: str = "") -> _Cause:
    """The cause in words: pose convention ``name`` (or "") and depth ``factor`` (given / true
    depth). A factor < 1 whose fix would make the depth implausible while ``depth_m`` (median,
    max as read, metres) is plausible is named a trajectory unit (``trajectory_unit``).
    ``unit_like`` False: the factor is no unit confusion (x1.3), which fx, fy a few per cent
    off fit as well (a depth scale makes up for them): the focal length is named and the fix
    checks the calibration before the depth scale, unless ``focal_ruled_out`` (the figures that
    rule fx, fy out, `_depth_or_focal`) is given: then those figures are named instead."""
    what, fix = [], []
    if name:
        what.append(_POSE_FIXES[name][1])
        fix.append(_POSE_FIXES[name][2])
    if factor != 1.0 and _trajectory_unit_instead(factor, depth_m):
        scale = 1.0 / factor
        nice = min(_NICE_FACTORS, key=lambda f: abs(math.log(scale / f)))
        w, f = _trajectory_unit_words(nice if abs(math.log(scale / nice)) < 0.15 else scale)
        med, top = depth_m
        what.append(f"{w}: they are x{_fmt_factor(scale)} the size the depth fits, and the depth "
                    f"as read is a plausible median {med:.2g} m, whereas scaling the depth to "
                    f"the poses would take it to {top / factor:.0f} m")
        fix.append(f)
        cause = f"{name}+trajectory_unit" if name else "trajectory_unit"
        return _Cause(cause, factor, "; ".join(what), "; ".join(fix), confirmed)
    if factor != 1.0:
        what.append(f"depth is x{_fmt_factor(factor)} the size the poses fit")
        if depth_units_per_m:
            true_units = depth_units_per_m * factor
            what[-1] += (f" (read in units of {_unit_name(depth_units_per_m)}, --depth-scale "
                         f"{_fmt_factor(depth_units_per_m)}; the poses fit units of "
                         f"{_unit_name(true_units)})")
            fix.append(f"--depth-scale {_fmt_factor(true_units)} (depth units per metre)")
        else:
            fix.append(f"give depth in the right unit: multiply it by {_fmt_factor(1 / factor)} "
                       f"(--depth-scale = {_fmt_factor(factor)} x the units per metre used)")
        if not unit_like and focal_ruled_out:
            what[-1] += f", {focal_ruled_out}"
        elif not unit_like:
            what[-1] += (", or the focal length is off: x" + _fmt_factor(factor) + " is no depth "
                         "unit, and fx, fy a few per cent off (a calibration of another camera "
                         "or resolution) fit as well")
            fix[-1] = ("check fx, fy in the camera_info's K (camera.yaml / --camera-info, the "
                       "CameraInfo topic) against the camera's; only if they are right: "
                       + fix[-1])
    cause = name or "depth_scale"
    if name and factor != 1.0:
        cause = f"{name}+depth_scale"
    return _Cause(cause, factor, "; ".join(what), "; ".join(fix), confirmed)



def _unit_name(units_per_m: float) -> str:
    names = {1.0: "1 m", 10.0: "1 dm", 100.0: "1 cm", 1000.0: "1 mm", 5000.0: "0.2 mm",
             10000.0: "0.1 mm", 1e6: "1 um"}
    return names.get(float(units_per_m), f"1/{_fmt_factor(units_per_m)} m")


def _discontinuity(views: List[_View], pairs: List[PairFigures],
                   fallback: Optional[_Cause]) -> _Cause:
    stamps = [v.stamp_ns for v in views]
    back = [i for i in range(1, len(stamps)) if stamps[i] < stamps[i - 1]]
    if back:
        i = back[0]
        jump = (stamps[i - 1] - stamps[i]) * 1e-9
        return _Cause("clock_jump", 1.0,
                      f"header time jumps back {jump:.3g} s between keyframes {views[i - 1].label}"
                      f" and {views[i].label} (a clock reset or a looped recording): poses were "
                      "interpolated across the jump",
                      "build from one run of the recording (--run N) or split it at the jump",
                      False)
    bad = [p for p in pairs if p.ok is False]
    judged = [p for p in pairs if p.ok is not None]
    if bad and len(bad) <= max(1, len(judged) // 3):
        lone = [k.index for k in _keyframe_figures(views, pairs) if k.ok is False]
        where = (f"the pose of keyframe {_listed([views[i].label for i in lone])} jumps away "
                 "from its neighbours'" if lone else "the poses jump between keyframes "
                 + ", ".join(f"{views[p.a].label} and {views[p.b].label}" for p in bad[:4]))
        return _Cause("pose_discontinuity", 1.0,
                      f"{where} while the other keyframes agree (TF interpolated across a gap or "
                      "a discontinuity)",
                      "check the pose source (TF / trajectory) at those stamps; drop or re-record "
                      "that stretch", False)
    if fallback is not None:
        return fallback
    return _Cause("unknown", 1.0, "no pose convention or depth scale explains it",
                  "check the poses (frame, direction, quaternion order), the depth unit, and "
                  "that each depth image is of its colour image's instant (depth.txt's pairs, "
                  "a depth stream out of sync: depth 10 frames late reads so)", False)
