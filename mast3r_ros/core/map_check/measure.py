"""Map check measurements on each pair of neighbouring keyframes: depth residuals (poses applied to
the depth grid) and reprojection errors of ORB matches (SIFT where ORB has too few) verified with a
fundamental matrix."""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from ..config import MapCheckConfig
from ..errors import InputError
from ..geometry import backproject, invert_pose, sample_depth, undistort_pixels
from ..matchers.sift import SiftFeatures, extract_sift, match_descriptors
from ..types import CameraIntrinsics
from .records import KeyframeRecord, rebuilt_calibration
from .report import KeyframeFigures, PairFigures

# -------------------------------------------------------------------------- preparation ---

@dataclasses.dataclass
class _View:
    """A keyframe at working resolution: grid points with depth, ORB features with depth."""

    cam: CameraIntrinsics
    scale: float                      # working px per camera px
    depth: Optional[np.ndarray]       # (h, w) float32, NaN = none
    pts: np.ndarray                   # (N, 3) camera-frame points of the depth grid
    kp: np.ndarray                    # (M, 2) keypoints (working px)
    kp_depth: np.ndarray              # (M,) depth at the keypoints, NaN = none
    desc: Optional[np.ndarray]        # (M, 32) uint8 ORB descriptors
    pose: np.ndarray                  # map_from_cam
    width_px: int                     # camera image width
    stamp_ns: int
    label: str
    # (N, 2) working px the depth grid's points were lifted from (as ``pts``), so that they can
    # be lifted again under another K (`diagnose._focal_divided`: distortion acts on (u - cx) /
    # fx); None: not kept (``pts`` are then taken as pinhole)
    grid_px: Optional[np.ndarray] = None
    # (h, w) uint8 working-resolution grey image, kept while the view's pairs are matched, for
    # the SIFT fallback (`_sift_of`); its SIFT features once computed
    grey: Optional[np.ndarray] = None
    sift: Optional[SiftFeatures] = None
    # the camera image's own intrinsics (`KeyframeRecord.calibration`, or rebuilt from a record
    # reduced without them: `records.rebuilt_calibration`; None: unknown) and how far (camera
    # px) its size and K may be off (0: exact)
    camera_intrinsics: Optional[CameraIntrinsics] = None
    camera_within_px: float = 0.0


def camera_px(v: _View) -> Tuple[np.ndarray, int, int]:
    """(K (3x3 float64, a copy), width, height) of ``v``'s camera image in camera pixels, for
    the figures the check states at full size: its calibration (``camera_intrinsics``: given,
    or rebuilt per axis from a record reduced by hand, `records.rebuilt_calibration`), else
    ``v``'s working K and height divided by its scale (pixel centres map as x' = s (x + 0.5)
    - 0.5; one scale for both axes: a 752x480 camera's 320x204 copy said 752x479 so)."""
    cam = getattr(v, "camera_intrinsics", None)  # a test's stand-in view may lack it
    if cam is not None:
        return np.asarray(cam.K, np.float64).copy(), int(cam.width), int(cam.height)
    s = v.scale
    K = np.asarray(v.cam.K, np.float64).copy()
    K[0, 0] /= s
    K[1, 1] /= s
    K[0, 2] = (K[0, 2] + 0.5) / s - 0.5
    K[1, 2] = (K[1, 2] + 0.5) / s - 0.5
    return K, int(v.width_px), max(1, round(v.cam.height / s))


def _candidate(cam: CameraIntrinsics, K: np.ndarray) -> Optional[CameraIntrinsics]:
    """``cam`` with ``K``, a K the diagnosis builds to try (fx, fy divided by a factor, the
    whole K by a size ratio), or None when `CameraIntrinsics` refuses it: the given K's
    principal point 3.4 focal lengths off, fx, fy divided by 3.4 (fx 77 px) put it over 10
    and the check raised `InputError` blaming K "normalised or millimetres?", a K the user
    never gave. No camera has such a K: the builders give None for it (`focal._focal_divided`,
    `focal._focal_times`, `resolution._k_divided`) and it is scored as not fitting (never
    measured; `focal._ResidualScore` inf). The given K is checked where it is read."""
    try:
        return dataclasses.replace(cam, K=K)
    except InputError:
        return None


def _focal_candidate(cam: CameraIntrinsics, g: float) -> Optional[CameraIntrinsics]:
    """``cam`` with fx, fy of its K times ``g`` (the rest as given); None when that K is no
    camera's (`_candidate`)."""
    K = cam.K.copy()
    K[0, 0] *= g
    K[1, 1] *= g
    return _candidate(cam, K)


def _cameras(views: List[_View]) -> List[CameraIntrinsics]:
    """The distinct cameras (size and K) of ``views``, each once."""
    return list({(v.cam.width, v.cam.height, v.cam.K.tobytes()): v.cam for v in views}.values())


_ONE = np.ones(1)


def _lift(px: np.ndarray, z: np.ndarray, cam: CameraIntrinsics) -> np.ndarray:
    """Camera-frame points (N, 3) of (distorted) pixels (N, 2) at z-depths (N,)."""
    if cam.has_distortion:
        px = undistort_pixels(px, cam.K, cam.dist, cam.distortion_model)
    return backproject(px, z, cam.K)


def _project(pts: np.ndarray, cam: CameraIntrinsics, focal: Optional[np.ndarray] = None
             ) -> Tuple[np.ndarray, np.ndarray]:
    """Pixels (..., 2) (NaN when z <= 0) and z (...) of camera-frame points (..., 3), with
    distortion. ``focal`` (G,), for points (G, M, 3) of a pinhole camera: row i seen with fx,
    fy of its K times ``focal[i]`` (`_reproj_errors`)."""
    z = pts[..., 2]
    if not cam.has_distortion:
        K = cam.K
        f = ((K[0, 0], K[1, 1]) if focal is None
             else np.stack([K[0, 0] * focal, K[1, 1] * focal], axis=1)[:, None, :])
        with np.errstate(divide="ignore", invalid="ignore"):
            zi = np.where(z > 1e-9, 1.0 / z, np.nan)
        uv = pts[..., :2] * zi[..., None] * f + K[:2, 2]
        return uv, z
    if focal is not None:
        raise ValueError("focal factors in one pass are for pinhole cameras: rebuild a "
                         "distorted camera per factor")
    shape = pts.shape[:-1]
    pts = pts.reshape(-1, 3)
    front = pts[:, 2] > 1e-9
    uv = np.full((len(pts), 2), np.nan)
    if front.any():
        p = pts[front]
        if cam.distortion_model == "equidistant":
            out, _ = cv2.fisheye.projectPoints(p.reshape(-1, 1, 3), np.zeros(3), np.zeros(3),
                                               cam.K, cam.dist[:4])
        else:
            out, _ = cv2.projectPoints(p, np.zeros(3), np.zeros(3), cam.K, cam.dist)
        uv[front] = out.reshape(-1, 2)
    return uv.reshape(*shape, 2), z


def _prepare(rec: KeyframeRecord, index: int, cfg: MapCheckConfig, orb: Any, *,
             keep_grey: bool = True) -> _View:
    """``rec`` at working resolution with its depth grid and ORB features; its grey image kept
    for the SIFT fallback of `_match` unless ``keep_grey`` is False (the diagnosis, which
    matches nothing again, holds up to 1000 views at once)."""
    pose = np.asarray(rec.map_from_cam, np.float64)
    if pose.shape != (4, 4) or not np.isfinite(pose).all():
        raise InputError(f"keyframe {rec.label or index}: map_from_cam must be a finite 4x4 "
                         f"matrix, got shape {pose.shape}")
    small = rec.reduced(cfg.work_width)
    cam = small.intrinsics
    scale = small.camera_scale  # work pixels per camera pixel (rec may be reduced already)
    depth = None
    pts = np.zeros((0, 3))
    px = np.zeros((0, 2))
    if small.depth_m is not None:
        depth = np.asarray(small.depth_m, np.float32).copy()
        depth[~(np.isfinite(depth) & (depth > 0))] = np.nan
        s = cfg.depth_stride_px
        ys, xs = np.mgrid[s // 2:cam.height:s, s // 2:cam.width:s]
        z = depth[ys, xs].reshape(-1)
        ok = np.isfinite(z)
        px = np.stack([xs.reshape(-1), ys.reshape(-1)], 1).astype(np.float64)[ok]
        pts = _lift(px, z[ok].astype(np.float64), cam)
    grey = cv2.cvtColor(np.ascontiguousarray(small.rgb), cv2.COLOR_RGB2GRAY)
    # ORB's pyramid fails (cv2.error in resize) on an image 1 px high or wide: no features
    kps, desc = orb.detectAndCompute(grey, None) if min(grey.shape[:2]) > 1 else ((), None)
    kp = np.array([k.pt for k in kps], np.float64).reshape(-1, 2)
    kp_depth = np.full(len(kp), np.nan)
    if depth is not None and len(kp):
        kp_depth = sample_depth(depth, kp, max_rel_step=cfg.depth_tolerance)
    width_px = round(rec.intrinsics.width / rec.camera_scale)
    calibration, within = small.calibration(), 0.0
    if calibration is None:  # reduced by hand without it: rebuilt from the record as given
        calibration, within = rebuilt_calibration(rec.intrinsics, rec.camera_scale, width_px)
    return _View(cam, scale, depth, pts, kp, kp_depth, desc, pose, width_px,
                 int(rec.stamp_ns), rec.label or str(index), px, grey if keep_grey else None,
                 camera_intrinsics=calibration, camera_within_px=within)


# ------------------------------------------------------------------------- measurements ---

def _depth_residuals(va: _View, vb: _View, b_from_a: np.ndarray, depth_scale: float,
                     max_step: float) -> np.ndarray:
    """Relative residuals (N,) of a's depth grid predicted in b against b's depth."""
    if vb.depth is None or not len(va.pts):
        return np.zeros(0)
    # (x 1.0 is exact: skipped, as the focal scan, ~6 000 calls a map, mostly asks)
    X = (va.pts * depth_scale if depth_scale != 1.0 else va.pts) @ b_from_a[:3, :3].T \
        + b_from_a[:3, 3]
    uv, z = _project(X, vb.cam)
    h, w = vb.depth.shape
    with np.errstate(invalid="ignore"):  # NaN (behind the camera) compares False: outside
        inb = (uv[:, 0] >= 0) & (uv[:, 1] >= 0) & (uv[:, 0] <= w - 1) & (uv[:, 1] <= h - 1)
    if not inb.any():
        return np.zeros(0)
    d = sample_depth(vb.depth, uv[inb], max_rel_step=max_step)
    d = d * depth_scale if depth_scale != 1.0 else d
    ok = np.isfinite(d)
    return (z[inb][ok] - d[ok]) / d[ok]


@dataclasses.dataclass
class _Matches:
    """Verified correspondences of a pair (working px) with the depth at each end."""

    xa: np.ndarray
    xb: np.ndarray
    da: np.ndarray
    db: np.ndarray


# SIFT's contrast threshold for the fallback: OpenCV's default 0.04 keeps few keypoints on the
# low-contrast indoor images ORB fails on (7-Scenes redkitchen at 320 px: about 310 per image;
# 0.02: about 480, 14 of 19 neighbouring pairs with enough verified matches instead of 9)
SIFT_CONTRAST = 0.02


def _sift_of(v: _View, cfg: MapCheckConfig) -> SiftFeatures:
    """``v``'s SIFT features (working px, RootSIFT), computed on first use and kept on ``v``."""
    if v.sift is None:
        if v.grey is None:
            v.sift = SiftFeatures(np.zeros((0, 2)), np.zeros((0, 128), np.float32))
        else:
            v.sift = extract_sift(v.grey, cfg.max_features, contrast_threshold=SIFT_CONTRAST)
    return v.sift


def _verified(da: np.ndarray, db: np.ndarray, xa: np.ndarray, xb: np.ndarray,
              cfg: MapCheckConfig) -> Optional[_Matches]:
    """The matches ``xa[i] <-> xb[i]`` ((M, 2) working px, depth ``da[i]``, ``db[i]``, NaN =
    none) that a fundamental matrix (RANSAC) keeps; None below ``cfg.min_matches``."""
    if len(xa) < cfg.min_matches:
        return None
    _, mask = cv2.findFundamentalMat(xa, xb, cv2.FM_RANSAC, 1.5, 0.999, 200)
    if mask is None:
        return None
    keep = mask.reshape(-1).astype(bool)
    if keep.sum() < cfg.min_matches:
        return None
    return _Matches(xa[keep], xb[keep], da[keep], db[keep])


def _match(va: _View, vb: _View, cfg: MapCheckConfig, bf: Any) -> Optional[_Matches]:
    """The pair's verified matches: ORB (ratio test), or where ORB leaves fewer than
    ``cfg.min_matches`` (low texture, little overlap) SIFT (mutual ratio test, `_sift_of`)
    unless ``cfg.sift_fallback`` is off; None when neither has enough."""
    m = None
    if va.desc is not None and vb.desc is not None and len(va.kp) >= 8 and len(vb.kp) >= 8:
        knn = bf.knnMatch(va.desc, vb.desc, k=2)
        good = [p[0] for p in knn if len(p) == 2 and p[0].distance < cfg.ratio * p[1].distance]
        ia = np.array([p.queryIdx for p in good], np.int64)
        ib = np.array([p.trainIdx for p in good], np.int64)
        m = _verified(va.kp_depth[ia], vb.kp_depth[ib], va.kp[ia], vb.kp[ib], cfg)
    if m is not None or not cfg.sift_fallback:
        return m
    fa, fb = _sift_of(va, cfg), _sift_of(vb, cfg)
    ia, ib = match_descriptors(fa.desc, fb.desc, cfg.ratio)
    if len(ia) < cfg.min_matches:
        return None
    xa, xb = fa.xy[ia], fb.xy[ib]
    da = (sample_depth(va.depth, xa, max_rel_step=cfg.depth_tolerance) if va.depth is not None
          else np.full(len(xa), np.nan))
    db = (sample_depth(vb.depth, xb, max_rel_step=cfg.depth_tolerance) if vb.depth is not None
          else np.full(len(xb), np.nan))
    return _verified(da, db, xa, xb, cfg)


def _reproj_errors(va: _View, vb: _View, xa: np.ndarray, da: np.ndarray, xb: np.ndarray,
                   b_from_a: np.ndarray, scales: np.ndarray,
                   focal: Optional[np.ndarray] = None) -> np.ndarray:
    """(S, M) reprojection errors (camera px of b; inf behind b) of a's matched pixels lifted
    with depth ``da * s`` for every scale s, against b's matched pixels. With ``focal`` (S,)
    given (both views pinhole), row i has fx, fy of both views times ``focal[i]``: the colour
    focal scan's every factor in one pass (`focal._pair_reproj_factors`), the same floats as
    each view rebuilt with that K (``fx * g`` then ``/ 1``: the lift and projection below)."""
    if focal is not None and va.cam.has_distortion:
        raise ValueError("focal factors in one pass are for pinhole cameras: rebuild a "
                         "distorted camera per factor")
    g = _ONE if focal is None else np.asarray(focal, np.float64)
    px = np.asarray(undistort_pixels(xa, va.cam.K, va.cam.dist, va.cam.distortion_model)
                    if va.cam.has_distortion else xa, np.float64)
    Ka = va.cam.K   # `_lift` at z = 1 per row of g, (G or 1, M, 3): x / fx is x / (fx * 1)
    x = (px[None, :, 0] - Ka[0, 2]) / (Ka[0, 0] * g)[:, None]
    y = (px[None, :, 1] - Ka[1, 2]) / (Ka[1, 1] * g)[:, None]
    rays = np.stack([x, y, np.ones_like(x)], axis=2)
    p = (scales[:, None, None] * da[None, :, None]) * rays            # (S, M, 3)
    X = p @ b_from_a[:3, :3].T + b_from_a[:3, 3]
    uv, _ = _project(X, vb.cam, focal)
    err = np.linalg.norm(uv - xb[None], axis=2) / vb.scale
    return np.where(np.isfinite(err), err, np.inf)


def _pair_reproj(va: _View, vb: _View, m: _Matches, b_from_a: np.ndarray,
                 scales: np.ndarray, focal: Optional[np.ndarray] = None
                 ) -> Tuple[np.ndarray, int]:
    """(S,) median reprojection error of the pair's matches, both directions, per depth scale
    (and per focal factor of both views, ``focal`` given: `_reproj_errors`), and the number of
    matches measured."""
    parts = []
    fa, fb = np.isfinite(m.da), np.isfinite(m.db)
    if fa.any():
        parts.append(_reproj_errors(va, vb, m.xa[fa], m.da[fa], m.xb[fa], b_from_a, scales,
                                    focal))
    if fb.any():
        parts.append(_reproj_errors(vb, va, m.xb[fb], m.db[fb], m.xa[fb],
                                    invert_pose(b_from_a), scales, focal))
    if not parts:
        return np.full(len(scales), np.nan), 0
    e = np.concatenate(parts, axis=1)
    return np.median(e, axis=1), e.shape[1]


def _pairs(n: int, neighbours: int) -> List[Tuple[int, int]]:
    return [(a, b) for a in range(n) for b in range(a + 1, min(n, a + 1 + neighbours))]


def _measure(views: List[_View], poses: Sequence[np.ndarray], matches: Dict[Tuple[int, int], Any],
             cfg: MapCheckConfig, depth_scale: float = 1.0) -> List[PairFigures]:
    out = []
    one = np.array([depth_scale])
    for (a, b), m in matches.items():
        b_from_a = invert_pose(poses[b]) @ poses[a]
        f = PairFigures(a, b)
        r = np.concatenate([
            _depth_residuals(views[a], views[b], b_from_a, depth_scale, cfg.depth_tolerance),
            _depth_residuals(views[b], views[a], invert_pose(b_from_a), depth_scale,
                             cfg.depth_tolerance)])
        if len(r) >= cfg.min_depth_points:
            f.depth_residual = float(np.median(np.abs(r)))
            f.depth_agree = float(np.mean(np.abs(r) <= cfg.depth_tolerance))
            f.depth_points = int(len(r))
        if m is not None:
            med, f.matches = _pair_reproj(views[a], views[b], m, b_from_a, one)
            if f.matches >= cfg.min_matches:
                f.reproj_px = float(med[0])
        f.ok = _pair_ok(f, cfg, _reproj_limit_px(views[a], views[b], cfg))
        out.append(f)
    return out


def _all_agree(figures: List[PairFigures]) -> bool:
    """Whether every pair of ``figures`` agrees, at least one judged (a candidate K fits)."""
    return any(p.ok for p in figures) and all(p.ok is not False for p in figures)


def _light(v: _View) -> _View:
    """``v`` without its depth, grid points and features: what the report of a map whose pairs
    were all measured needs (pose, stamp, label, intrinsics, widths)."""
    return dataclasses.replace(v, depth=None, pts=np.zeros((0, 3)), kp=np.zeros((0, 2)),
                               kp_depth=np.zeros(0), desc=None, grid_px=None, grey=None,
                               sift=None)


class StreamingMeasure:
    """The two measurements fed one keyframe at a time, in recording order (`add`): each keyframe
    is `_prepare`d; the pairs that start at a keyframe are matched (every one) and measured,
    in `_pairs` order, as soon as its last neighbour is prepared, and then only its `_light` view
    is kept: ``cfg.neighbours + 1`` prepared keyframes in memory, not all of them (0.1 MB each at
    160x120, 0.37 MB at 640x480: 2.1 GB at 2*10^4 keyframes; 0.26 MB more for SIFT features
    where ORB had too few matches), and no record is kept (a map build
    feeds the frames it reads). `close` measures the last pairs and returns the light views, the
    matches and the pair figures that preparing every view, then `_match` and `_measure` over
    `_pairs`, gives."""

    def __init__(self, cfg: MapCheckConfig, orb: Any, bf: Any) -> None:
        self.cfg, self.orb, self.bf = cfg, orb, bf
        self.views: List[_View] = []
        self.poses: List[np.ndarray] = []
        self.matches: Dict[Tuple[int, int], Any] = {}
        self.pairs: List[PairFigures] = []
        self.any_depth = False  # a keyframe added had a depth image (valid or not)

    def _finish(self, a: int) -> None:
        n, views = len(self.views), self.views
        # every neighbouring pair matched: consecutive ones only left the others unjudged (9 of
        # 19 pairs on 7-Scenes redkitchen), whatever their overlap
        mine = {(a, b): _match(views[a], views[b], self.cfg, self.bf)
                for b in range(a + 1, min(n, a + 1 + self.cfg.neighbours))}
        self.matches.update(mine)
        self.pairs.extend(_measure(views, self.poses, mine, self.cfg))
        views[a] = _light(views[a])

    def add(self, rec: KeyframeRecord) -> None:
        """Prepare the next keyframe (raises `InputError` for a pose that is not a finite 4x4)
        and measure the pairs it completes."""
        i = len(self.views)
        self.views.append(_prepare(rec, i, self.cfg, self.orb,
                                   keep_grey=self.cfg.sift_fallback))
        self.poses.append(self.views[-1].pose)
        self.any_depth = self.any_depth or self.views[-1].depth is not None
        if i - self.cfg.neighbours >= 0:
            self._finish(i - self.cfg.neighbours)

    def close(self) -> Tuple[List[_View], Dict[Tuple[int, int], Any], List[PairFigures]]:
        n = len(self.views)
        for a in range(max(0, n - self.cfg.neighbours), n):
            self._finish(a)
        return self.views, self.matches, self.pairs


def _reproj_limit_px(va: _View, vb: _View, cfg: MapCheckConfig) -> float:
    return cfg.max_reproj_frac * max(va.width_px, vb.width_px)


def _pair_ok(f: PairFigures, cfg: MapCheckConfig, reproj_limit_px: float) -> Optional[bool]:
    checks = []
    if f.depth_points:
        checks.append(f.depth_residual <= cfg.max_depth_residual
                      and f.depth_agree >= cfg.min_depth_agree)
    if not math.isnan(f.reproj_px):
        checks.append(f.reproj_px <= reproj_limit_px)
    return all(checks) if checks else None


def _keyframe_figures(views: List[_View], pairs: List[PairFigures]) -> List[KeyframeFigures]:
    # each keyframe's judged pairs, indexed once: scanning every pair per keyframe was
    # quadratic (67 s of a 2*10^4-keyframe check-map, half an hour at 10^5)
    by_kf: Dict[int, List[PairFigures]] = {}
    for p in pairs:
        if p.ok is not None:
            by_kf.setdefault(p.a, []).append(p)
            if p.b != p.a:
                by_kf.setdefault(p.b, []).append(p)
    out = []
    for i, v in enumerate(views):
        mine = by_kf.get(i, [])
        res = [p.depth_residual for p in mine if p.depth_points]
        agree_n = sum(p.depth_agree * p.depth_points for p in mine if p.depth_points)
        n = sum(p.depth_points for p in mine)
        rep = [p.reproj_px for p in mine if not math.isnan(p.reproj_px)]
        out.append(KeyframeFigures(
            i, v.label, float(np.median(res)) if res else math.nan,
            agree_n / n if n else math.nan, float(np.median(rep)) if rep else math.nan,
            [p.b if p.a == i else p.a for p in mine],
            any(p.ok for p in mine) if mine else None))
    return out
