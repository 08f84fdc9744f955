"""Map consistency check: do the keyframes' poses and depths agree with each other and with the
images? Run before a map is written (``build-map``) and on a written map (``check-map``).

Two measurements per pair of neighbouring keyframes (a, b) (each keyframe against the next
``neighbours`` keyframes in recording order):

* **depth**: every ``depth_stride_px``-th pixel of a with depth is lifted to the map with a's pose,
  projected into b with b's pose, and its predicted z-depth compared with b's depth there (both
  directions). Figures: the median relative residual ``|z_pred - z_b| / z_b`` and the fraction of
  points within ``depth_tolerance`` (occlusions and sensor noise make the rest).
* **matches**: ORB features of both images, matched (ratio test) and verified with a fundamental
  matrix (RANSAC), so the correspondences do not depend on the poses; a's matched pixels are lifted
  with a's depth, moved with the poses and projected into b (both directions). Figure: the median
  reprojection error in camera pixels.

A pair disagrees when a figure passes its threshold; the map is inconsistent when any pair
disagrees. Only then is the cause looked for, with the verified matches (cheap, pose-independent):
every pose convention mistake users meet (poses inverted, quaternion read in the other component
order, poses of the body frame instead of the REP-103 optical frame) combined with a depth scale
(fitted on a log grid), and the best fit is confirmed with the depth measurement. Without a global
fix, stamps that go backwards (a clock reset or a looped recording) or a few keyframes that disagree
while the rest agree point to poses interpolated across a discontinuity.

Everything is computed at ``work_width`` pixels (images downsampled with their intrinsics), so the
cost stays a small fraction of a map build. Nothing here imports ROS or matplotlib.

Use in a map build, once the keyframes are chosen and before anything is written (records may be
kept small with ``KeyframeRecord.reduced(cfg.map_check.work_width)`` while reading)::

    report = check_keyframes(records, cfg.map_check, depth_units_per_m=units)  # 1000 REP-118
    log.info(report.summary())
    if not force:
        report.raise_if_inconsistent()        # MapConsistencyError: the CLI's exit 2, one line
    figures = report.to_manifest()            # into the manifest / build summary
    plot_keyframes(png, kf_poses, all_poses, consistency=report)   # replay/plots.py

On a written map: ``check_map(KeyframeMap.load(path), cfg.map_check)``.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import logging
import math
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
from scipy.spatial.transform import Rotation

from .config import MapCheckConfig
from .errors import InputError
from .geometry import backproject, invert_pose, sample_depth, undistort_pixels
from .types import CameraIntrinsics

log = logging.getLogger(__name__)

CONSISTENT, INCONSISTENT, UNCHECKED = "consistent", "inconsistent", "unchecked"

# REP-103: optical frame (x right, y down, z forward) in a body frame (x forward, y left, z up).
BODY_FROM_OPTICAL = np.array([[0.0, 0.0, 1.0, 0.0],
                              [-1.0, 0.0, 0.0, 0.0],
                              [0.0, -1.0, 0.0, 0.0],
                              [0.0, 0.0, 0.0, 1.0]])

# Depth-unit confusions met in practice, as (depth given / true depth): 0.1 mm read as mm (x10),
# mm read as m (x1000), TUM's 1/5000 m read as mm (x5), ... and their inverses.
_NICE_FACTORS = (1000.0, 500.0, 200.0, 100.0, 50.0, 20.0, 10.0, 5.0, 4.0, 2.0, 1.0,
                 0.5, 0.25, 0.2, 0.1, 0.05, 0.02, 0.01, 0.005, 0.002, 0.001)


class MapConsistencyError(InputError):
    """The keyframes' poses and depths contradict each other (see `ConsistencyReport`)."""


# ------------------------------------------------------------------------------- inputs ---

@dataclasses.dataclass(frozen=True)
class KeyframeRecord:
    """One keyframe as the check needs it.

    ``rgb`` (H, W, 3) uint8; ``depth_m`` (H, W) float32 z-depth in metres registered to ``rgb``
    (NaN or <= 0 = none) or None; ``map_from_cam`` 4x4 float64 pose of the optical frame;
    ``stamp_ns`` the image header stamp (used to spot clocks that jump back); ``label`` names
    the keyframe in messages (default: its index).
    """

    rgb: np.ndarray
    depth_m: Optional[np.ndarray]
    intrinsics: CameraIntrinsics
    map_from_cam: np.ndarray
    stamp_ns: int = 0
    label: str = ""

    def reduced(self, width: int) -> KeyframeRecord:
        """A copy at most ``width`` pixels wide (intrinsics scaled; depth resized nearest, so no
        depth is invented across edges). Lets a map build keep small records in memory."""
        s = width / self.intrinsics.width
        if s >= 1.0:
            return self
        cam = _scaled_intrinsics(self.intrinsics, s)
        size = (cam.width, cam.height)
        rgb = cv2.resize(self.rgb, size, interpolation=cv2.INTER_AREA)
        depth = None if self.depth_m is None else cv2.resize(
            np.asarray(self.depth_m, np.float32), size, interpolation=cv2.INTER_NEAREST)
        return dataclasses.replace(self, rgb=rgb, depth_m=depth, intrinsics=cam)


def _scaled_intrinsics(cam: CameraIntrinsics, s: float) -> CameraIntrinsics:
    """``cam`` after resizing its image by ``s`` both ways (pixel centres at integers:
    x' = s * (x + 0.5) - 0.5); distortion coefficients are unchanged (normalised coordinates)."""
    K = cam.K.copy()
    K[0, 0] *= s
    K[1, 1] *= s
    K[0, 2] = s * (K[0, 2] + 0.5) - 0.5
    K[1, 2] = s * (K[1, 2] + 0.5) - 0.5
    return CameraIntrinsics(int(round(cam.width * s)), int(round(cam.height * s)), K,
                            cam.dist.copy(), cam.distortion_model)


class MapRecords(collections.abc.Sequence):
    """`KeyframeRecord` view of a loaded `KeyframeMap`; images are read when indexed."""

    def __init__(self, keyframe_map: Any) -> None:
        self.map = keyframe_map

    def __len__(self) -> int:
        return len(self.map.keyframes)

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        kf = self.map.keyframes[index]
        return KeyframeRecord(np.asarray(self.map.image(index)), self.map.depth(index),
                              kf.intrinsics, kf.map_from_cam, int(kf.stamp_ns), str(kf.id))


# ------------------------------------------------------------------------------ results ---

@dataclasses.dataclass
class PairFigures:
    """The two measurements of one keyframe pair (indices into the record sequence).

    ``depth_residual`` median relative residual, ``depth_agree`` fraction within tolerance,
    ``depth_points`` points compared (NaN/0 when the poses predict no overlap);
    ``matches`` verified correspondences with depth, ``reproj_px`` their median reprojection
    error in camera pixels (NaN with too few matches; inf when the poses put them behind a camera).
    ``ok`` None when neither measurement could be made.
    """

    a: int
    b: int
    depth_residual: float = math.nan
    depth_agree: float = math.nan
    depth_points: int = 0
    matches: int = 0
    reproj_px: float = math.nan
    ok: Optional[bool] = None


@dataclasses.dataclass
class KeyframeFigures:
    """Per-keyframe figures pooled over its pairs: median depth residual, fraction of depth
    agreeing, median match reprojection error (camera px), the neighbours it was compared with
    and whether it agrees with at least one of them (None: not checked)."""

    index: int
    label: str
    depth_residual: float
    depth_agree: float
    reproj_px: float
    neighbours: List[int]
    ok: Optional[bool]


@dataclasses.dataclass
class ConsistencyReport:
    """Outcome of `check_keyframes`.

    ``verdict`` is ``consistent``, ``inconsistent`` or ``unchecked`` (no depth, one keyframe, no
    overlapping neighbours). ``cause`` names the likely cause of an inconsistency (``depth_scale``,
    ``inverted_poses``, ``quaternion_wxyz``, ``quaternion_xyzw``, ``camera_not_optical``,
    ``clock_jump``, ``pose_discontinuity``, ``unknown``; empty when consistent),
    ``depth_factor`` the fitted ratio given/true depth (1 when the scale fits), ``fix`` what to do,
    ``message`` the one-line summary.
    """

    verdict: str
    keyframes: List[KeyframeFigures]
    pairs: List[PairFigures]
    message: str
    cause: str = ""
    depth_factor: float = 1.0
    fix: str = ""
    elapsed_s: float = 0.0
    thresholds: Dict[str, float] = dataclasses.field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """False only for an inconsistent map (an unchecked one is not refused)."""
        return self.verdict != INCONSISTENT

    def bad_keyframes(self) -> List[int]:
        return [k.index for k in self.keyframes if k.ok is False]

    def to_manifest(self) -> Dict[str, Any]:
        """JSON-ready figures for a map manifest (NaN/inf written as null)."""
        return {
            "verdict": self.verdict, "message": self.message, "cause": self.cause,
            "depth_factor": _num(self.depth_factor), "fix": self.fix,
            "elapsed_s": round(self.elapsed_s, 3), "thresholds": dict(self.thresholds),
            "keyframes": [{"index": k.index, "label": k.label,
                           "depth_residual": _num(k.depth_residual),
                           "depth_agree": _num(k.depth_agree), "reproj_px": _num(k.reproj_px),
                           "neighbours": list(k.neighbours), "ok": k.ok}
                          for k in self.keyframes],
            "pairs": [{"a": p.a, "b": p.b, "depth_residual": _num(p.depth_residual),
                       "depth_agree": _num(p.depth_agree), "depth_points": p.depth_points,
                       "matches": p.matches, "reproj_px": _num(p.reproj_px), "ok": p.ok}
                      for p in self.pairs],
        }

    def summary(self) -> str:
        """A one-line summary for build/check output (the message when not consistent)."""
        if self.verdict != CONSISTENT:
            return self.message
        ev = [p for p in self.pairs if p.ok is not None]
        res = np.nanmedian([p.depth_residual for p in ev]) if _any_finite(
            p.depth_residual for p in ev) else math.nan
        agree = np.nanmedian([p.depth_agree for p in ev]) if _any_finite(
            p.depth_agree for p in ev) else math.nan
        rep = np.nanmedian([p.reproj_px for p in ev]) if _any_finite(
            p.reproj_px for p in ev) else math.nan
        return (f"map consistent: {len(ev)} neighbouring keyframe pairs of {len(self.keyframes)} "
                f"keyframes agree (median depth residual {_pct(res)}, {_pct(agree)} of depth "
                f"agreeing, match reprojection {_px(rep)}) in {self.elapsed_s:.2f} s")

    def raise_if_inconsistent(self) -> None:
        """Raise `MapConsistencyError` with the one-line message when the map is inconsistent."""
        if self.verdict == INCONSISTENT:
            raise MapConsistencyError(self.message)


def _num(v: float) -> Optional[float]:
    return None if v is None or not math.isfinite(v) else round(float(v), 5)


def _any_finite(values) -> bool:
    return any(math.isfinite(v) for v in values)


def _pct(v: float) -> str:
    return "n/a" if not math.isfinite(v) else f"{100 * v:.1f} %"


def _px(v: float) -> str:
    return "n/a" if math.isnan(v) else ("behind the camera" if math.isinf(v) else f"{v:.1f} px")


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


def _lift(px: np.ndarray, z: np.ndarray, cam: CameraIntrinsics) -> np.ndarray:
    """Camera-frame points (N, 3) of (distorted) pixels (N, 2) at z-depths (N,)."""
    if cam.has_distortion:
        px = undistort_pixels(px, cam.K, cam.dist, cam.distortion_model)
    return backproject(px, z, cam.K)


def _project(pts: np.ndarray, cam: CameraIntrinsics) -> Tuple[np.ndarray, np.ndarray]:
    """Pixels (N, 2) (NaN when z <= 0) and z (N,) of camera-frame points, with distortion."""
    z = pts[:, 2]
    if not cam.has_distortion:
        with np.errstate(divide="ignore", invalid="ignore"):
            zi = np.where(z > 1e-9, 1.0 / z, np.nan)
        uv = pts[:, :2] * zi[:, None] * (cam.K[0, 0], cam.K[1, 1]) + cam.K[:2, 2]
        return uv, z
    front = z > 1e-9
    uv = np.full((len(pts), 2), np.nan)
    if not front.any():
        return uv, z
    p = pts[front]
    if cam.distortion_model == "equidistant":
        out, _ = cv2.fisheye.projectPoints(p.reshape(-1, 1, 3), np.zeros(3), np.zeros(3), cam.K,
                                           cam.dist[:4])
        uv[front] = out.reshape(-1, 2)
    else:
        out, _ = cv2.projectPoints(p, np.zeros(3), np.zeros(3), cam.K, cam.dist)
        uv[front] = out.reshape(-1, 2)
    return uv, z


def _prepare(rec: KeyframeRecord, index: int, cfg: MapCheckConfig, orb: Any) -> _View:
    pose = np.asarray(rec.map_from_cam, np.float64)
    if pose.shape != (4, 4) or not np.isfinite(pose).all():
        raise InputError(f"keyframe {rec.label or index}: map_from_cam must be a finite 4x4 "
                         f"matrix, got shape {pose.shape}")
    small = rec.reduced(cfg.work_width)
    cam = small.intrinsics
    scale = cam.width / rec.intrinsics.width
    depth = None
    pts = np.zeros((0, 3))
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
    kps, desc = orb.detectAndCompute(grey, None)
    kp = np.array([k.pt for k in kps], np.float64).reshape(-1, 2)
    kp_depth = np.full(len(kp), np.nan)
    if depth is not None and len(kp):
        kp_depth = sample_depth(depth, kp, max_rel_step=cfg.depth_tolerance)
    return _View(cam, scale, depth, pts, kp, kp_depth, desc, pose, rec.intrinsics.width,
                 int(rec.stamp_ns), rec.label or str(index))


# ------------------------------------------------------------------------- measurements ---

def _depth_residuals(va: _View, vb: _View, b_from_a: np.ndarray, depth_scale: float,
                     max_step: float) -> np.ndarray:
    """Relative residuals (N,) of a's depth grid predicted in b against b's depth."""
    if vb.depth is None or not len(va.pts):
        return np.zeros(0)
    X = (va.pts * depth_scale) @ b_from_a[:3, :3].T + b_from_a[:3, 3]
    uv, z = _project(X, vb.cam)
    h, w = vb.depth.shape
    inb = np.isfinite(uv).all(1) & (uv[:, 0] >= 0) & (uv[:, 1] >= 0) & (uv[:, 0] <= w - 1) & (
        uv[:, 1] <= h - 1)
    if not inb.any():
        return np.zeros(0)
    d = sample_depth(vb.depth, uv[inb], max_rel_step=max_step) * depth_scale
    ok = np.isfinite(d)
    return (z[inb][ok] - d[ok]) / d[ok]


@dataclasses.dataclass
class _Matches:
    """Verified correspondences of a pair (working px) with the depth at each end."""

    xa: np.ndarray
    xb: np.ndarray
    da: np.ndarray
    db: np.ndarray


def _match(va: _View, vb: _View, cfg: MapCheckConfig, bf: Any) -> Optional[_Matches]:
    if va.desc is None or vb.desc is None or len(va.kp) < 8 or len(vb.kp) < 8:
        return None
    knn = bf.knnMatch(va.desc, vb.desc, k=2)
    good = [m[0] for m in knn if len(m) == 2 and m[0].distance < cfg.ratio * m[1].distance]
    if len(good) < cfg.min_matches:
        return None
    ia = np.array([m.queryIdx for m in good])
    ib = np.array([m.trainIdx for m in good])
    xa, xb = va.kp[ia], vb.kp[ib]
    _, mask = cv2.findFundamentalMat(xa, xb, cv2.FM_RANSAC, 1.5, 0.999, 200)
    if mask is None:
        return None
    keep = mask.reshape(-1).astype(bool)
    if keep.sum() < cfg.min_matches:
        return None
    return _Matches(xa[keep], xb[keep], va.kp_depth[ia[keep]], vb.kp_depth[ib[keep]])


def _reproj_errors(va: _View, vb: _View, xa: np.ndarray, da: np.ndarray, xb: np.ndarray,
                   b_from_a: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """(S, M) reprojection errors (camera px of b; inf behind b) of a's matched pixels lifted
    with depth ``da * s`` for every scale s, against b's matched pixels."""
    rays = _lift(xa, np.ones(len(xa)), va.cam)
    p = (scales[:, None, None] * da[None, :, None]) * rays[None]      # (S, M, 3)
    X = p @ b_from_a[:3, :3].T + b_from_a[:3, 3]
    uv, _ = _project(X.reshape(-1, 3), vb.cam)
    err = np.linalg.norm(uv.reshape(len(scales), -1, 2) - xb[None], axis=2) / vb.scale
    return np.where(np.isfinite(err), err, np.inf)


def _pair_reproj(va: _View, vb: _View, m: _Matches, b_from_a: np.ndarray,
                 scales: np.ndarray) -> Tuple[np.ndarray, int]:
    """(S,) median reprojection error of the pair's matches, both directions, per depth scale."""
    parts = []
    fa, fb = np.isfinite(m.da), np.isfinite(m.db)
    if fa.any():
        parts.append(_reproj_errors(va, vb, m.xa[fa], m.da[fa], m.xb[fa], b_from_a, scales))
    if fb.any():
        parts.append(_reproj_errors(vb, va, m.xb[fb], m.db[fb], m.xa[fb],
                                    invert_pose(b_from_a), scales))
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
    out = []
    for i, v in enumerate(views):
        mine = [p for p in pairs if i in (p.a, p.b) and p.ok is not None]
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


# ---------------------------------------------------------------------------- diagnosis ---

def _quat_reorder(order: Tuple[int, int, int, int]) -> Callable[[np.ndarray], np.ndarray]:
    def fix(pose: np.ndarray) -> np.ndarray:
        q = Rotation.from_matrix(pose[:3, :3]).as_quat()
        out = pose.copy()
        out[:3, :3] = Rotation.from_quat(q[list(order)]).as_matrix()
        return out
    return fix


# name -> (the fix applied to every given pose, what the mistake was, how to fix it)
_POSE_FIXES: Dict[str, Tuple[Callable[[np.ndarray], np.ndarray], str, str]] = {
    "inverted_poses": (invert_pose, "the poses are inverted (cam_from_map given as map_from_cam)",
                       "invert the poses (give map_from_cam: the camera's pose in the map)"),
    "quaternion_wxyz": (_quat_reorder((1, 2, 3, 0)),
                        "the quaternions are in w x y z order but were read as x y z w",
                        "write the trajectory's quaternions as qx qy qz qw (TUM order)"),
    "quaternion_xyzw": (_quat_reorder((3, 0, 1, 2)),
                        "the quaternions are in x y z w order but were read as w x y z",
                        "read the quaternions as qx qy qz qw (TUM / geometry_msgs order)"),
    "camera_not_optical": (lambda p: p @ BODY_FROM_OPTICAL,
                           "the poses are of a body frame (x forward, z up), not the camera's "
                           "optical frame (z forward, REP-103)",
                           "give poses of the optical frame, e.g. --pose-frames "
                           "map:camera_color_optical_frame"),
    "camera_not_optical_inverse": (lambda p: p @ invert_pose(BODY_FROM_OPTICAL),
                                   "the poses carry an extra optical->body rotation (REP-103)",
                                   "give poses of the camera optical frame itself"),
}


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


def _nice_factor(factor: float) -> float:
    """Snap a fitted depth factor (given / true) to a common unit confusion within 15 %."""
    best = min(_NICE_FACTORS, key=lambda f: abs(math.log(factor / f)))
    return best if abs(math.log(factor / best)) < math.log(1.15) else float(f"{factor:.2g}")


@dataclasses.dataclass
class _Cause:
    name: str
    factor: float
    what: str
    fix: str
    confirmed: bool


def _diagnose(views: List[_View], matches: Dict[Tuple[int, int], Any], cfg: MapCheckConfig,
              pairs: List[PairFigures], depth_units_per_m: Optional[float]) -> _Cause:
    """The likely cause: a global fix (pose convention and/or depth scale) that makes every pair
    agree; else a clock that jumps back; else a local jump in the poses; else the best global fix
    that clearly helps without fixing everything (reported as not confirmed); else unknown."""
    poses = [v.pose for v in views]
    scales = 10.0 ** np.linspace(-3.5, 3.5, 141)  # includes 1.0 (index 70)
    base = None
    best = None
    for name, fix in [("", lambda p: p)] + [(k, v[0]) for k, v in _POSE_FIXES.items()]:
        fixed = [fix(p) for p in poses]
        curve, n = _fit(views, fixed, matches, scales)
        if not n:
            continue
        if not name:
            base = float(curve[70])
        k = int(np.argmin(curve))
        if best is None or curve[k] < best[0] * 0.8:  # a convention needs a clear win
            best = (float(curve[k]), name, fixed, float(1.0 / scales[k]))
    fallback = None
    if best is not None:
        err, name, fixed, factor = best
        nice = _nice_factor(factor)
        factor = 1.0 if abs(math.log(factor)) < math.log(1.25) else factor
        for f in dict.fromkeys((nice, factor)):  # the snapped unit confusion first
            if not name and f == 1.0:
                continue
            recheck = _measure(views, fixed, matches, cfg, depth_scale=1.0 / f)
            if all(p.ok is not False for p in recheck):
                return _describe(name, f, True, depth_units_per_m)
        if (name or nice in _NICE_FACTORS and nice != 1.0) and base is not None and (
                err < 0.3 * base):
            fallback = _describe(name, nice if nice in _NICE_FACTORS else 1.0, False,
                                 depth_units_per_m)
    return _discontinuity(views, pairs, fallback)


def _describe(name: str, factor: float, confirmed: bool,
              depth_units_per_m: Optional[float]) -> _Cause:
    what, fix = [], []
    if name:
        what.append(_POSE_FIXES[name][1])
        fix.append(_POSE_FIXES[name][2])
    if factor != 1.0:
        what.append(f"depth is x{_fmt_factor(factor)} the size the poses fit")
        if depth_units_per_m:
            true_units = depth_units_per_m * factor
            what[-1] += (f" (a depth unit of {_unit_name(true_units)} read as "
                         f"{_unit_name(depth_units_per_m)})")
            fix.append(f"--depth-scale {_fmt_factor(true_units)} (depth units per metre)")
        else:
            fix.append(f"give depth in the right unit: multiply it by {_fmt_factor(1 / factor)} "
                       f"(--depth-scale = {_fmt_factor(factor)} x the units per metre used)")
    cause = name or "depth_scale"
    if name and factor != 1.0:
        cause = f"{name}+depth_scale"
    return _Cause(cause, factor, "; ".join(what), "; ".join(fix), confirmed)


def _fmt_factor(f: float) -> str:
    return f"{f:.0f}" if f >= 1 and abs(f - round(f)) < 1e-6 * f else f"{f:.3g}"


def _unit_name(units_per_m: float) -> str:
    names = {1.0: "1 m", 100.0: "1 cm", 1000.0: "1 mm", 5000.0: "0.2 mm (TUM)",
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
        where = (f"the pose of keyframe {', '.join(views[i].label for i in lone)} jumps away from "
                 "its neighbours'" if lone else "the poses jump between keyframes " + ", ".join(
                     f"{views[p.a].label} and {views[p.b].label}" for p in bad[:4]))
        return _Cause("pose_discontinuity", 1.0,
                      f"{where} while the other keyframes agree (TF interpolated across a gap or "
                      "a discontinuity)",
                      "check the pose source (TF / trajectory) at those stamps; drop or re-record "
                      "that stretch", False)
    if fallback is not None:
        return fallback
    return _Cause("unknown", 1.0, "no pose convention or depth scale explains it",
                  "check the poses (frame, direction, quaternion order) and the depth unit",
                  False)


# ---------------------------------------------------------------------------------- API ---

def check_keyframes(records: Sequence[KeyframeRecord], cfg: MapCheckConfig, *,
                    depth_units_per_m: Optional[float] = None) -> ConsistencyReport:
    """Check that neighbouring keyframes' poses and depths agree (see the module docstring).

    ``records`` in recording order; ``depth_units_per_m`` is the raw depth unit the reader used
    (REP-118 16UC1: 1000, TUM: 5000), only to word the ``--depth-scale`` fix. Returns the report;
    raises `InputError` for a record without a finite 4x4 pose. Never raises for disagreement:
    call `ConsistencyReport.raise_if_inconsistent`.
    """
    t0 = time.perf_counter()
    thresholds = {"max_depth_residual": cfg.max_depth_residual,
                  "min_depth_agree": cfg.min_depth_agree, "max_reproj_frac": cfg.max_reproj_frac}
    n = len(records)
    orb = cv2.ORB_create(nfeatures=cfg.max_features)
    views = [_prepare(records[i], i, cfg, orb) for i in range(n)]
    if views:
        thresholds["max_reproj_px"] = cfg.max_reproj_frac * max(v.width_px for v in views)
    bf = cv2.BFMatcher(cv2.NORM_HAMMING)
    # matches on consecutive keyframes only (most overlap; half the matching cost)
    matches = {(a, b): _match(views[a], views[b], cfg, bf) if b == a + 1 else None
               for a, b in _pairs(n, cfg.neighbours)}
    pairs = _measure(views, [v.pose for v in views], matches, cfg)
    kfs = _keyframe_figures(views, pairs)
    judged = [p for p in pairs if p.ok is not None]
    if not judged:
        why = ("fewer than two keyframes" if n < 2 else
               "no keyframe has depth" if all(v.depth is None for v in views) else
               "no neighbouring keyframes overlap or match")
        return ConsistencyReport(UNCHECKED, kfs, pairs, f"map not checked: {why}",
                                 elapsed_s=time.perf_counter() - t0, thresholds=thresholds)
    if all(p.ok for p in judged):
        rep = ConsistencyReport(CONSISTENT, kfs, pairs, "", elapsed_s=0.0, thresholds=thresholds)
        rep.elapsed_s = time.perf_counter() - t0
        rep.message = rep.summary()
        return rep
    cause = _diagnose(views, matches, cfg, pairs, depth_units_per_m)
    rep = ConsistencyReport(INCONSISTENT, kfs, pairs, "", cause.name, cause.factor, cause.fix,
                            thresholds=thresholds)
    rep.message = _message(rep, cause, views)
    rep.elapsed_s = time.perf_counter() - t0
    return rep


def _message(rep: ConsistencyReport, cause: _Cause, views: List[_View]) -> str:
    bad_pairs = [p for p in rep.pairs if p.ok is False]
    judged = [p for p in rep.pairs if p.ok is not None]
    bad_kf = rep.bad_keyframes()
    if bad_kf:
        one = len(bad_kf) == 1
        who = (f"keyframe{'' if one else 's'} {_ranges([views[i].label for i in bad_kf])} "
               f"({len(bad_kf)} of {len(views)}) disagree{'s' if one else ''} with every "
               "neighbour")
    else:
        who = "keyframe pairs " + ", ".join(
            f"{views[p.a].label}-{views[p.b].label}" for p in bad_pairs[:6]) + (
            " ..." if len(bad_pairs) > 6 else "") + " disagree"
    res = [p.depth_residual for p in bad_pairs if p.depth_points]
    agree = [p.depth_agree for p in bad_pairs if p.depth_points]
    rep_px = [p.reproj_px for p in bad_pairs if not math.isnan(p.reproj_px)]
    figs = []
    if res:
        figs.append(f"median depth residual {_pct(float(np.median(res)))} (limit "
                    f"{_pct(rep.thresholds['max_depth_residual'])}), "
                    f"{_pct(float(np.median(agree)))} of depth agreeing")
    if rep_px:
        limit = rep.thresholds["max_reproj_px"]
        figs.append(f"match reprojection {_px(float(np.median(rep_px)))} (limit {limit:.0f} px)")
    how = ("" if cause.confirmed or cause.name in ("clock_jump", "pose_discontinuity", "unknown")
           else " (not fully confirmed: more than this may be wrong)")
    return (f"map inconsistent: {who}, {len(bad_pairs)} of {len(judged)} pairs "
            f"({'; '.join(figs)}); likely cause: {cause.what}{how}; fix: {cause.fix}")


def _ranges(labels: List[str]) -> str:
    if not all(s.isdigit() for s in labels):
        return ", ".join(labels)
    nums = sorted(int(s) for s in labels)
    out, start = [], nums[0]
    for prev, cur in zip(nums, nums[1:] + [None]):
        if cur != prev + 1:
            out.append(f"{start}" if start == prev else f"{start}-{prev}")
            start = cur
    return ", ".join(out)


def check_map(keyframe_map: Any, cfg: MapCheckConfig) -> ConsistencyReport:
    """`check_keyframes` on a loaded `KeyframeMap` (its depth is stored in metres)."""
    return check_keyframes(MapRecords(keyframe_map), cfg)
