#!/usr/bin/env python3
"""The host (CPU) part of a localized frame, old vs new side by side in one run.

Everything `Localizer.localize` does per frame besides the network and the matcher runs on the
CPU: PnP-RANSAC, refinement, covariance, the gates, the pooling of the matches, the candidate
choice, conversions and Python overhead. On a GPU host those must fit in the ~2-3 ms the network
leaves of a 20 ms frame (issue 9). This script times them on correspondences shaped as MASt3R
produces them at 512 (a 640x480 query, 1000-5000 2-D/3-D pairs from 1 or 4 keyframes, 10-40 %
outliers, metric depths 0.5-5 m, pointmap noise 1.5 % of the range along the keyframe ray and
0.5 px across it, with the confidence that the pointmap model turns into that sigma, 1 px pixel
noise; with
``--map-pose-error`` also a 1 cm / 1 deg keyframe pose error; one scenario has 80 % outliers,
a frame RANSAC can hardly solve, for the worst-case cost):

* ``prev``: the ``core/pnp/`` package as it was before the host-overhead work (commit 98b0b17,
  read from git history by `frozen_package.load_frozen_package`; ``--prev-rev`` another commit,
  e.g. the parent of a change to time that change alone: one projection per trial pose
  serves as the trial's cost, the re-scoring and the next linearisation; the covariance reuses
  the last one);
* ``new``: the current ``core/pnp/`` package (the same arithmetic with fewer numpy calls and
  passes per refinement step; the focal-length gate's fit from eight rows per point; docs/gpu.md,
  "The host part of a frame").

The ``localize`` and ``other`` columns run each variant's focal-length gate
(``gates.max_focal_error``, `pnp.focal.refitted_focal_scale`) too.

Both run with the configured defaults (``pnp.ransac_max_points``, ``pnp.max_iterations``).
Per stage (RANSAC, refinement = the refine/re-score rounds, covariance, solve_pnp total, and
the whole ``Localizer.localize`` on a fabricated map with a stand-in matcher that hands over the
fabricated matches, so ``other`` = localize minus PnP is the localizer's own host work) it
prints median [p90] in ms, plus the pose error against the truth (median / p90 translation and
rotation) and the chi^2 95 % coverage of the 6-D pose error by the covariance, so speed is not
bought with accuracy. Variants are interleaved frame by frame (the same load for all). A last
line per scenario pairs the two variants on the same frame and RANSAC seed: the median speed-up,
how many frames land on another inlier set (the refine/re-score fixed point need not be unique:
another RANSAC pose can end on a neighbouring one) and, on the others, how far the poses and
covariances are apart, and on how many frames both variants' results (solve_pnp's and
localize's, the focal-length fit included) are bit-identical.

    python bench/bench_host.py                      # all scenarios, 12 frames x 3 repeats each
    python bench/bench_host.py --frames 6 --repeats 2 --json host.json
    OPENBLAS_NUM_THREADS=1 python bench/bench_host.py --clock thread   # on a loaded machine
    python bench/bench_host.py --smoke              # two small scenarios, 2 frames: seconds
    python bench/bench_host.py --distortion plumb_bob --prev-rev d06534b   # issue 9's table

``--distortion MODEL`` gives the query camera distortion coefficients (``plumb_bob``,
``rational_polynomial``, ``equidistant``) and puts every query pixel on the network grid of a
512 x 384 prediction mapped to the 640 x 480 image (as the MASt3R matcher's are; the 1 px pixel
noise then goes into the 3-D points): ``prev`` lets solve_pnp undistort the matched pixels,
``new`` looks them up in the matcher's per-camera table (`core.grid_undistort`, filled once
before timing: the steady state; its lookup counts in ``other``). With ``--prev-rev`` the
parent of the table's commit, the bit-identical columns prove the table changes nothing.
``--windows`` (with ``--distortion``) takes the query pixels from coarse-to-fine windows instead
(``matching.coarse_to_fine``: the four 512 x 384 crops of the 640 x 480 query, each match in
one, pooled window by window as the matcher pools them); ``new`` reads them from the table of
the captured image's pixel grid (a window's mapping is a whole-pixel shift), ``prev`` lets
solve_pnp undistort them:

    python bench/bench_host.py --distortion plumb_bob --windows --prev-rev 81aacf3 --isolated

``--isolated`` first times `undistort_pixels` against a table lookup alone (CPU caches flushed)
and measures how far the table, interpolated bilinearly between grid cells, is from
`undistort_pixels` at sub-pixel points (SIFT's keypoints are not on any grid).

Numbers from a shared machine are only comparable within one run (ratios).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Sequence, Tuple

_HERE = Path(__file__).resolve().parent
for _p in (str(_HERE.parent), str(_HERE)):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import numpy as np  # noqa: E402

from frozen_package import FrozenPackageError, load_frozen_package  # noqa: E402

# the ``prev`` variant: core/pnp/ as it was before the host-overhead work, read from git history
# (`--prev-rev` another commit: e.g. the one before a change, to time that change alone)
PREV_REV = "98b0b173dadd4a582a0b93a413ece584380f1911"
# why the previous package could not be read ("" when it was); set by `load_prev`
PREV_MISSING = ""
pnp_prev: Any = None


def load_prev(rev: str) -> None:
    """Import ``core/pnp/`` at ``rev`` as ``pnp_prev`` (`frozen_package`); a working tree
    without that history (the device machine's copy) times ``new`` alone, with a warning."""
    global pnp_prev, PREV_MISSING, VARIANTS
    try:
        pnp_prev = load_frozen_package(rev, "mast3r_ros/core/pnp", "pnp_prev")
        importlib.import_module("pnp_prev.focal")  # pnp_prev.focal, pnp_prev.solve below
        importlib.import_module("pnp_prev.solve")
    except FrozenPackageError as e:
        PREV_MISSING = str(e)
        print(f"bench_host.py: WARNING: the previous pnp package cannot be read ({e}): timing "
              "the current one alone", file=sys.stderr)
    VARIANTS = ("new",) if PREV_MISSING else ("prev", "new")


from mast3r_ros.core.localizer import pipeline as loc_mod  # noqa: E402
from mast3r_ros.core.localizer import query_checks  # noqa: E402
from mast3r_ros.core.localizer.upright import map_down_axis  # noqa: E402
from mast3r_ros.core import pnp  # noqa: E402
from mast3r_ros.core.pnp import solve as pnp_solve  # noqa: E402
from mast3r_ros.core.pnp.linearise import _so3_exp  # noqa: E402
from mast3r_ros.core.config import LocalizerConfig  # noqa: E402
from mast3r_ros.core.geometry import (  # noqa: E402
    apply_homography,
    make_pose,
    pose_error,
    undistort_pixels,
)
from mast3r_ros.core.types import Correspondences, Frame  # noqa: E402
from mast3r_ros.core.uncertainty import pointmap_point_covariance  # noqa: E402
from mast3r_ros.replay.synthetic import default_intrinsics  # noqa: E402

CAM = default_intrinsics(640, 480)
# --distortion: the query camera's coefficients, and the network grid its pixels come from
DISTORTIONS = {"plumb_bob": [-0.28, 0.07, 1e-3, -8e-4, 0.0],
               "rational_polynomial": [-0.28, 0.07, 1e-3, -8e-4, 0.0, 0.02, 0.0, 0.01],
               "equidistant": [0.03, -0.01, 2e-3, -5e-4]}
NET_HW = (384, 512)
TO_ORIG = None  # set with --distortion: 512 x 384 network pixels -> 640 x 480 image pixels
CHI2_6DOF_95 = 12.5916
# (total pairs, outlier fraction, keyframes)
SCENARIOS = ((1000, 0.10, 1), (3000, 0.25, 1), (5000, 0.40, 1), (2000, 0.25, 4),
             (5000, 0.25, 4), (3000, 0.80, 1))  # the last: a frame RANSAC can hardly solve
SMOKE_SCENARIOS = ((1000, 0.10, 1), (2000, 0.25, 4))
VARIANTS: Tuple[str, ...] = ("prev", "new")  # `load_prev` drops "prev" when it is missing
_CLOCKS = {"wall": time.perf_counter, "thread": time.thread_time}
_clock = _CLOCKS["wall"]
STAGES = ("ransac", "refine", "covariance", "solve_pnp", "localize", "other")


def _rot(w: np.ndarray) -> np.ndarray:
    return _so3_exp(np.asarray(w, np.float64))


def _random_pose(rng, centre_sigma=1.0) -> np.ndarray:
    return make_pose(_rot(rng.normal(0, 1.0, 3)), rng.normal(0, centre_sigma, 3))


@dataclasses.dataclass
class Scene:
    """One fabricated frame: the query's true pose and the keyframes' map poses (K, 4, 4); per
    matcher call ``corrs`` for the candidate list it gets."""

    query_pose: np.ndarray
    kf_poses: np.ndarray
    n: int
    outliers: float
    seed: int
    map_sigma: Tuple[float, float] = (0.0, 0.0)

    def correspondences(self, indices: Sequence[int]) -> List[Correspondences]:
        """MASt3R-like matches of the query against keyframes ``indices`` (map-list order)."""
        rng = np.random.default_rng(self.seed)
        k_n = len(indices)
        K = CAM.K
        out = []
        for kf in indices:
            m = self.n // k_n
            px = rng.uniform([0, 0], [CAM.width - 1, CAM.height - 1], (m, 2))
            win = None  # --windows: each match's coarse-to-fine window (sorted, as pooled)
            if CAM.has_distortion:  # network-grid pixels; the truth through the distortion
                cells = rng.integers(0, NET_HW[0] * NET_HW[1], m)
                xy_net = np.stack([cells % NET_HW[1], cells // NET_HW[1]], axis=1)
                if WINDOWS:
                    win = np.sort(rng.integers(0, len(WINDOWS), m))
                px = undistort_pixels(_captured(xy_net, win), K, CAM.dist,
                                      CAM.distortion_model) + rng.normal(0, 1.0, (m, 2))
            z = rng.uniform(0.5, 5.0, m)
            pq = np.column_stack([(px[:, 0] - K[0, 2]) / K[0, 0] * z,
                                  (px[:, 1] - K[1, 2]) / K[1, 1] * z, z])
            X_true = pq @ self.query_pose[:3, :3].T + self.query_pose[:3, 3]
            T_map = self.kf_poses[kf]  # the keyframe's pose in the map ...
            T_true = make_pose(_rot(rng.normal(0, self.map_sigma[1], 3)) @ T_map[:3, :3],
                               T_map[:3, 3] + rng.normal(0, self.map_sigma[0], 3))  # ... true
            p_kf = (X_true - T_true[:3, 3]) @ T_true[:3, :3]  # keyframe-camera points
            # pointmap error: 1.5 % of the range along the keyframe's ray, 0.5 px across it
            rng_kf = np.linalg.norm(p_kf, axis=1)
            sigma = 0.015 * rng_kf
            p_meas = (p_kf * (1 + 0.015 * rng.normal(0, 1, m))[:, None]
                      + rng.normal(0, 1, p_kf.shape) * (0.5 * rng_kf / K[0, 0])[:, None])
            scale = float(np.mean(np.linalg.norm(p_meas, axis=1)))
            conf = 0.2 * scale / sigma  # the confidence that the pointmap model reads as sigma
            X = p_meas @ T_map[:3, :3].T + T_map[:3, 3]
            x = px + rng.normal(0, 1.0, px.shape)
            bad = rng.random(m) < self.outliers
            x[bad] = rng.uniform([0, 0], [CAM.width - 1, CAM.height - 1], (int(bad.sum()), 2))
            if CAM.has_distortion:
                xy_net[bad] = np.stack([rng.integers(0, NET_HW[1], int(bad.sum())),
                                        rng.integers(0, NET_HW[0], int(bad.sum()))], axis=1)
                x = _captured(xy_net, win)
            c = Correspondences(int(kf), X, x, px.copy(), pointmap_point_covariance(p_meas, conf))
            c.xy_net = xy_net if CAM.has_distortion else None  # for the matcher's table
            c.win = win
            out.append(c)
        return out


def _captured(xy_net: np.ndarray, win) -> np.ndarray:
    """Captured pixels of network pixels: the whole query's mapping, or (``win`` per match,
    sorted; --windows) each coarse-to-fine window's, as the matcher maps them."""
    if win is None:
        return apply_homography(TO_ORIG, xy_net)
    return np.concatenate([apply_homography(WINDOWS[w][0], xy_net[win == w])
                           for w in range(len(WINDOWS))])


def make_scenes(n_frames: int, n: int, outliers: float, k: int, seed: int,
                map_sigma: Tuple[float, float] = (0.0, 0.0)) -> List[Scene]:
    rng = np.random.default_rng(seed)
    scenes = []
    for i in range(n_frames):
        q = _random_pose(rng)
        kfs = np.stack([q @ make_pose(_rot(rng.normal(0, 0.15, 3)), rng.normal(0, 0.3, 3))
                        for _ in range(k)])
        scenes.append(Scene(q, kfs, n, outliers, seed * 1000 + i, map_sigma))
    return scenes


class StageClock:
    """Times calls of module-level functions by wrapping them (the modules look them up at
    call time); ``restore`` puts the originals back."""

    def __init__(self):
        self.acc: Dict[str, float] = {}
        self._undo: List[Tuple[Any, str, Callable]] = []

    def wrap(self, module, name: str, stage: str) -> None:
        fn = getattr(module, name)

        def timed(*a, **kw):
            t0 = _clock()
            try:
                return fn(*a, **kw)
            finally:
                self.acc[stage] = self.acc.get(stage, 0.0) + _clock() - t0
        setattr(module, name, timed)
        self._undo.append((module, name, fn))

    def restore(self) -> None:
        for module, name, fn in reversed(self._undo):
            setattr(module, name, fn)
        self._undo.clear()


def _pooled(corrs: List[Correspondences], kf_poses: np.ndarray, indices: Sequence[int]):
    """The solve_pnp inputs exactly as `Localizer._pose` pools them."""
    X = np.concatenate([c.points3d for c in corrs])
    x = np.concatenate([c.points2d for c in corrs])
    S = np.concatenate([c.points3d_cov for c in corrs])
    g = np.concatenate([np.full(len(c), j, np.int64) for j, c in enumerate(corrs)])
    return X, x, S, g, kf_poses[list(indices)][:, :3, 3]


def _model(cfg: LocalizerConfig):
    cv = cfg.covariance
    return (cv.map_pose_sigma_m, float(np.radians(cv.map_pose_sigma_deg)))


def run_solve(variant: str, scene: Scene, cfg: LocalizerConfig, seed: int):
    """One solve_pnp of ``variant`` with its stages timed; returns (stage seconds, result)."""
    idx = list(range(len(scene.kf_poses)))
    X, x, S, g, centres = _pooled(scene.correspondences(idx), scene.kf_poses, idx)
    p = cfg.pnp
    clock = StageClock()
    # the module whose globals solve_pnp looks the timed functions up in
    mod = pnp_prev.solve if variant == "prev" else pnp_solve
    clock.wrap(mod, "_ransac_poselib", "ransac")
    clock.wrap(mod, "_ransac_opencv", "ransac")
    # the refine/re-score fixed point, the initial scoring included
    clock.wrap(mod, "_refine_inliers", "refine")
    clock.wrap(mod, "_covariance_f", "covariance")
    sm, sr = _model(cfg)
    kw = dict(backend=p.backend, reproj_error_px=p.reproj_error_px,
              max_iterations=p.max_iterations, confidence=p.confidence, refine=p.refine,
              seed=seed, points_cov=S, groups=g, group_centres=centres,
              ransac_max_points=p.ransac_max_points)
    try:
        t0 = _clock()
        res = mod.solve_pnp(X, x, CAM, uncertainty=mod.UncertaintyModel(None, sm, sr), **kw)
        clock.acc["solve_pnp"] = _clock() - t0
    finally:
        clock.restore()
    return clock.acc, res


class FabricatedMatcher:
    """Stand-in `PairMatcher`: no network; ``correspond`` hands over the current scene's
    fabricated matches for the candidates the localizer chose."""

    name = "fabricated"

    def __init__(self):
        self.scene: Scene = None  # type: ignore[assignment]
        self.timings: Dict[str, float] = {}
        self.table = None  # the ``new`` variant's GridUndistortCache (--distortion)

    def global_descriptors(self) -> np.ndarray:
        return np.zeros((0, 8), np.float32)

    def query_state(self, frame: Frame) -> Any:
        return None

    def query_descriptor(self, frame: Frame, state: Any) -> np.ndarray:
        return np.zeros(8, np.float32)

    def correspond(self, frame, state, indices, timings):
        t0 = _clock()
        out = self.scene.correspondences(indices)
        self.timings["fabricate"] = self.timings.get("fabricate", 0.0) + _clock() - t0
        if self.table is not None:  # as Mast3rMatcher._pair does (its cost counts in "other")
            for c in out:
                if c.win is None:
                    c.points2d_undistorted = self.table.lookup(
                        c.xy_net, TO_ORIG, NET_HW, CAM.K, CAM.dist, CAM.distortion_model)[1]
                    continue
                # --windows: the pooled window pixels (whole captured pixels) in one lookup of
                # the captured grid's table, as Mast3rMatcher._fine does
                c.points2d_undistorted = self.table.lookup(
                    c.points2d.astype(np.int64), np.eye(3), (CAM.height, CAM.width), CAM.K,
                    CAM.dist, CAM.distortion_model)[1]
        return out

    def close(self) -> None:
        pass


def make_localizer(tmp: str, k: int, pnp_cfg):
    """A real `Localizer` on a written map of ``k`` keyframes (tiny images; their poses are
    replaced per scene) with the fabricated matcher."""
    from mast3r_ros.core.keyframes import KeyframeMap, write_map
    from mast3r_ros.core.localizer import Localizer

    rgb = np.zeros((48, 64, 3), np.uint8)
    small = default_intrinsics(64, 48)
    path = os.path.join(tmp, f"map{k}")
    depth = np.ones((48, 64), np.float32)
    write_map(path, [(rgb, small, np.eye(4), i, depth) for i in range(k)], overwrite=True)
    cfg = dataclasses.replace(LocalizerConfig(), matcher="sift", max_keyframes=k,
                              prior_radius_m=1e6, pnp=pnp_cfg)
    loc = Localizer(KeyframeMap.load(path), cfg)
    loc.matcher = FabricatedMatcher()
    return loc


def run_localize(variant: str, loc, scene: Scene) -> Tuple[Dict[str, float], Any]:
    loc._poses = scene.kf_poses.copy()
    loc._down = map_down_axis(loc._poses)  # the upright gate's, of these keyframes
    loc.matcher.scene = scene
    frame = Frame(np.zeros((CAM.height, CAM.width, 3), np.uint8), CAM, 0)
    orig = loc_mod.solve_pnp
    spent = {"pnp": 0.0}

    def solve(*a, uncertainty=None, x_undistorted=None, **kw):
        t0 = _clock()
        try:
            if variant == "prev":  # the previous package undistorts the pixels itself
                # the fields the previous package has (a later opt-in term, such as
                # model_selection_draws, is at its default 0 here: nothing to compare)
                known = {f.name for f in dataclasses.fields(pnp_prev.UncertaintyModel)}
                u = pnp_prev.UncertaintyModel(**{k: v for k, v in
                                                 dataclasses.asdict(uncertainty).items()
                                                 if k in known})
                return pnp_prev.solve_pnp(*a, uncertainty=u, **kw)
            kw["x_undistorted"] = x_undistorted
            return orig(*a, uncertainty=uncertainty, **kw)
        finally:
            spent["pnp"] += _clock() - t0
    loc_mod.solve_pnp = solve
    loc.matcher.table = TABLE if (variant == "new" and CAM.has_distortion) else None
    # the focal-length gate (`gates.max_focal_error`, part of ``other``) of the variant too
    focal_orig = query_checks.refitted_focal_scale
    if variant == "prev":
        query_checks.refitted_focal_scale = pnp_prev.focal.refitted_focal_scale
    timings: Dict[str, float] = {}
    loc.matcher.timings = timings
    try:
        # the true pose as prior: candidates are the scene's keyframes, the jump gate passes
        t0 = _clock()
        r = loc.localize(frame, prior=scene.query_pose)
        total = _clock() - t0
    finally:
        loc_mod.solve_pnp = orig
        query_checks.refitted_focal_scale = focal_orig
    return {"localize": total,
            "other": total - spent["pnp"] - timings.get("fabricate", 0.0)}, r


def _err(res, truth: np.ndarray) -> Tuple[float, float, float]:
    """(translation m, rotation deg, Mahalanobis d^2 of the 6-D error under the covariance)."""
    if res is None or not res.success:
        return float("nan"), float("nan"), float("nan")
    T = res.map_from_cam
    t, r = pose_error(T, truth)
    R = T[:3, :3] @ truth[:3, :3].T  # map-frame rotation error (module convention)
    w = np.arccos(np.clip((np.trace(R) - 1) / 2, -1, 1))
    axis = np.array([R[2, 1] - R[1, 2], R[0, 2] - R[2, 0], R[1, 0] - R[0, 1]])
    rv = axis * (w / (2 * np.sin(w))) if w > 1e-12 else 0.5 * axis
    e = np.concatenate([T[:3, 3] - truth[:3, 3], rv])
    return t, r, float(e @ np.linalg.solve(res.covariance, e))


def _diff(a, b) -> Tuple[float, float, float, float]:
    """prev vs new result of one frame: (translation m, rotation deg, covariance max abs
    difference relative to its largest entry, number of inlier flags that differ)."""
    if not (a.success and b.success):
        return (float("nan"),) * 3 + (float(np.count_nonzero(a.inliers != b.inliers)),)
    t, r = pose_error(a.map_from_cam, b.map_from_cam)
    c = float(np.abs(a.covariance - b.covariance).max() / np.abs(a.covariance).max())
    return t, r, c, float(np.count_nonzero(a.inliers != b.inliers))


_SAME_FIELDS = ("success", "map_from_cam", "inliers", "num_inliers", "covariance",
                "reproj_rms_px", "reason", "focal_fit")


def _flat(t: Any) -> List[float]:
    """A dataclass's `astuple` with its nested ones (`FocalFit.principal_point`, the
    ``camera`` key's tuples) flattened, None as NaN, a string (the key's distortion model) as
    its length and character codes: one float array to compare."""
    out: List[float] = []
    for x in t:
        if isinstance(x, tuple):
            out.extend(_flat(x))
        elif isinstance(x, str):
            out.extend([float(len(x))] + [float(ord(c)) for c in x])
        else:
            out.append(float("nan") if x is None else float(x))
    return out


def _identical(a, b) -> bool:
    """Whether two results (`PnPResult`s, or `LocalizationResult`s with their focal-length
    fit) agree bit for bit in every field of `_SAME_FIELDS` they have."""
    for f in _SAME_FIELDS:
        u, v = getattr(a, f, None), getattr(b, f, None)
        if dataclasses.is_dataclass(u) and dataclasses.is_dataclass(v):
            u, v = _flat(dataclasses.astuple(u)), _flat(dataclasses.astuple(v))
        if u is None or v is None or isinstance(u, str):
            if u != v:
                return False
        elif not np.array_equal(np.asarray(u, dtype=float), np.asarray(v, dtype=float),
                                equal_nan=True):
            return False
    return True


def _stat(v: List[float]) -> Tuple[float, float]:
    v = sorted(x for x in v if np.isfinite(x))
    if not v:
        return float("nan"), float("nan")
    return statistics.median(v), v[min(len(v) - 1, int(round(0.9 * (len(v) - 1))))]


TABLE = None
# --windows: the coarse-to-fine windows of the 640 x 480 query at 512 (`window_starts`), each
# (its network -> captured mapping as the matcher builds it, its whole-pixel shift)
WINDOWS: List[Tuple[np.ndarray, Any]] = []


def _distort(model: str, windows: bool = False) -> None:
    """--distortion: the query camera gets ``model``'s coefficients; the table is filled for
    the whole grid once (the steady state of a running node; a cold frame costs what
    undistorting its matched pixels costs). With ``windows`` the query pixels come from the
    coarse-to-fine windows and the table is the captured image's pixel grid's."""
    global CAM, TO_ORIG, TABLE, WINDOWS
    from mast3r_ros.core.grid_undistort import GridUndistortCache
    from mast3r_ros.core.matchers.mast3r import pixel_shift, window_starts
    from mast3r_ros.core.model.preprocess import plan_resize

    CAM = dataclasses.replace(CAM, dist=np.array(DISTORTIONS[model]), distortion_model=model)
    plan = plan_resize(CAM.width, CAM.height, 512)
    assert plan.net_size[::-1] == NET_HW
    TO_ORIG = plan.to_orig()
    TABLE = GridUndistortCache()
    if windows:
        crop = plan_resize(NET_HW[1], NET_HW[0], 512).to_orig()  # `Mast3rMatcher._fine`'s
        for y0 in window_starts(CAM.height, NET_HW[0]):
            for x0 in window_starts(CAM.width, NET_HW[1]):
                T = np.array([[1.0, 0, x0], [0, 1.0, y0], [0, 0, 1]]) @ crop
                WINDOWS.append((T, pixel_shift(T)))
                assert WINDOWS[-1][1] is not None  # whole pixels: the table serves them
        gy, gx = np.mgrid[0:CAM.height, 0:CAM.width]
        TABLE.lookup(np.stack([gx.ravel(), gy.ravel()], 1), np.eye(3),
                     (CAM.height, CAM.width), CAM.K, CAM.dist, model)
        return
    gy, gx = np.mgrid[0:NET_HW[0], 0:NET_HW[1]]
    TABLE.lookup(np.stack([gx.ravel(), gy.ravel()], 1), TO_ORIG, NET_HW, CAM.K, CAM.dist, model)


def isolated(model: str, windows: bool, repeats: int = 40) -> Dict[str, Any]:
    """--isolated: `undistort_pixels` vs a warm table lookup on 1000 / 5000 query pixels, CPU
    caches flushed before each call (a frame's lookups find the table out of cache), thread
    clock, medians; and the table read off its grid (bilinear between the four cells around
    20000 sub-pixel points, what SIFT's keypoints would need) against `undistort_pixels` there:
    the interpolation error in pixels."""
    hw = (CAM.height, CAM.width) if windows else NET_HW
    T = np.eye(3) if windows else TO_ORIG
    rng = np.random.default_rng(1)
    junk = np.ones(8 << 20)  # 64 MB: more than the last-level cache
    out: Dict[str, Any] = {}
    for n in (1000, 5000):
        a, b = [], []
        for _ in range(repeats):
            xy = np.stack([rng.integers(0, hw[1], n), rng.integers(0, hw[0], n)], 1)
            px = apply_homography(T, xy)
            junk += 1.0
            t0 = time.thread_time()
            undistort_pixels(px, CAM.K, CAM.dist, model)
            a.append(time.thread_time() - t0)
            junk += 1.0
            t0 = time.thread_time()
            TABLE.lookup(xy, T, hw, CAM.K, CAM.dist, model)
            b.append(time.thread_time() - t0)
        out[f"undistort_pixels_{n}_ms"] = statistics.median(a) * 1e3
        out[f"lookup_{n}_ms"] = statistics.median(b) * 1e3
        print(f"isolated, {n} pixels: undistort_pixels {out[f'undistort_pixels_{n}_ms']:.2f} ms, "
              f"warm table lookup {out[f'lookup_{n}_ms']:.2f} ms (cold CPU caches, thread clock, "
              f"median of {repeats})")
    # off the grid: bilinear interpolation of the captured grid's undistorted pixels
    W, H = CAM.width, CAM.height
    gy, gx = np.mgrid[0:H, 0:W]
    tab = undistort_pixels(np.stack([gx.ravel(), gy.ravel()], 1), CAM.K, CAM.dist,
                           model).reshape(H, W, 2)
    q = rng.uniform([0, 0], [W - 1 - 1e-9, H - 1 - 1e-9], (20000, 2))
    i = np.floor(q).astype(np.int64)
    f = q - i
    fx, fy = f[:, :1], f[:, 1:]
    c00, c01 = tab[i[:, 1], i[:, 0]], tab[i[:, 1], i[:, 0] + 1]
    c10, c11 = tab[i[:, 1] + 1, i[:, 0]], tab[i[:, 1] + 1, i[:, 0] + 1]
    bil = (c00 * (1 - fx) + c01 * fx) * (1 - fy) + (c10 * (1 - fx) + c11 * fx) * fy
    exact = undistort_pixels(q, CAM.K, CAM.dist, model)
    err = np.linalg.norm(bil - exact, axis=1)
    out["bilinear_err_px"] = {"median": float(np.median(err)),
                              "p99": float(np.quantile(err, 0.99)), "max": float(err.max()),
                              "bit_identical": float(np.mean(np.all(bil == exact, axis=1)))}
    print(f"off the grid (20000 sub-pixel points): the table interpolated bilinearly is "
          f"{np.median(err):.1e} px from undistort_pixels (median), p99 {np.quantile(err, .99):.1e}"
          f", max {err.max():.1e}; bit-identical on {100 * np.mean(np.all(bil == exact, 1)):.1f} %")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=12, help="fabricated frames per scenario")
    ap.add_argument("--repeats", type=int, default=3, help="timed passes over the frames")
    ap.add_argument("--backend", default="auto", choices=("auto", "poselib", "opencv"))
    ap.add_argument("--map-pose-error", action="store_true",
                    help="keyframe poses off by 1 cm / 1 deg (the covariance default); the "
                         "pose error then mostly measures the map's error")
    ap.add_argument("--clock", choices=tuple(_CLOCKS), default="wall",
                    help="'thread': CPU time of this thread (steadier on a loaded machine; "
                         "run with OPENBLAS_NUM_THREADS=1 so BLAS work stays on it)")
    ap.add_argument("--json", help="write the figures here")
    ap.add_argument("--prev-rev", default=PREV_REV,
                    help="the commit whose core/pnp/ is ``prev`` (default: 98b0b17, before the "
                         "host-overhead work; the parent of a change times that change alone)")
    ap.add_argument("--distortion", choices=("none",) + tuple(DISTORTIONS), default="none",
                    help="a distorted query camera whose pixels lie on the network grid; "
                         "``new`` takes their undistortion from the per-camera table")
    ap.add_argument("--windows", action="store_true",
                    help="with --distortion: the query pixels come from coarse-to-fine windows "
                         "(matching.coarse_to_fine; four 512 x 384 crops of the 640 x 480 "
                         "query) and ``new`` reads the captured image's grid table")
    ap.add_argument("--isolated", action="store_true",
                    help="with --distortion: also time undistort_pixels vs a table lookup alone "
                         "and measure the table's bilinear interpolation error off the grid")
    ap.add_argument("--smoke", action="store_true",
                    help="two small scenarios, 2 frames, 1 repeat (proves the script runs)")
    args = ap.parse_args()
    load_prev(args.prev_rev)
    if args.windows and args.distortion == "none":
        ap.error("--windows needs --distortion MODEL")
    if args.distortion != "none":
        _distort(args.distortion, args.windows)
    scenarios = SMOKE_SCENARIOS if args.smoke else SCENARIOS
    if args.smoke:
        args.frames, args.repeats = 2, 1
    global _clock
    _clock = _CLOCKS[args.clock]
    cfg = LocalizerConfig()
    cfg = dataclasses.replace(cfg, pnp=dataclasses.replace(cfg.pnp, backend=args.backend))
    backend = pnp.resolve_backend(args.backend)
    print(f"host path, backend {backend}, ransac_max_points {cfg.pnp.ransac_max_points}, "
          f"{args.frames} frames x {args.repeats} repeats per scenario, variants interleaved, "
          f"{args.clock} clock; query distortion {args.distortion}"
          f"{' in coarse-to-fine windows' if args.windows else ''}; "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}")
    out: Dict[str, Any] = {"backend": backend, "ransac_max_points": cfg.pnp.ransac_max_points,
                           "clock": args.clock, "prev_rev": args.prev_rev,
                           "distortion": args.distortion, "windows": args.windows,
                           "scenarios": {}}
    if args.isolated and args.distortion != "none":
        out["isolated"] = isolated(args.distortion, args.windows)
    tmp = tempfile.mkdtemp(prefix="bench_host_")
    try:
        _run(args, cfg, scenarios, tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        import json

        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(out, fh, indent=2)
        print(f"wrote {args.json}")
    return 0


def _run(args, cfg: LocalizerConfig, scenarios, tmp: str, out: Dict[str, Any]) -> None:
    """The scenarios' interleaved runs; their figures printed and added to ``out``."""
    locs = {}
    for n, outl, k in scenarios:
        scenes = make_scenes(args.frames, n, outl, k, seed=n + k, map_sigma=(
            (0.01, float(np.radians(1.0))) if args.map_pose_error else (0.0, 0.0)))
        loc = locs.get(k) or locs.setdefault(k, make_localizer(tmp, k, cfg.pnp))
        times = {v: {s: [] for s in STAGES} for v in VARIANTS}
        errs = {v: [] for v in VARIANTS}
        diffs = []  # prev vs new on the same frame and seed: (t m, rot deg, cov rel, inliers)
        same_bits = []  # ... and whether (solve_pnp's, localize's) results are bit-identical
        for v in VARIANTS:  # one untimed pass: first-call effects out of the figures
            run_solve(v, scenes[0], cfg, 0)
            run_localize(v, loc, scenes[0])
        for rep in range(args.repeats):
            for sc in scenes:
                got, lgot = {}, {}
                for v in VARIANTS:
                    st, res = run_solve(v, sc, cfg, rep)
                    lt, lres = run_localize(v, loc, sc)
                    for s, x in {**st, **lt}.items():
                        times[v][s].append(x)
                    got[v], lgot[v] = res, lres
                    if rep == 0:
                        errs[v].append(_err(res, sc.query_pose) + (lres.success,))
                if "prev" in got:
                    diffs.append(_diff(got["prev"], got["new"]))
                    same_bits.append((_identical(got["prev"], got["new"]),
                                      _identical(lgot["prev"], lgot["new"])))
        key = f"N={n} outliers={int(outl * 100)}% K={k}"
        print(f"\n== {key}: ms median [p90]")
        print(f"{'variant':8s} " + " ".join(f"{s:>16s}" for s in STAGES)
              + "   err t mm med/p90   rot deg med/p90   chi2-95%  loc ok")
        rec = out["scenarios"][key] = {}
        for v in VARIANTS:
            cells = []
            rec[v] = {}
            for s in STAGES:
                med, p90 = _stat([x * 1e3 for x in times[v][s]])
                rec[v][s] = {"median_ms": med, "p90_ms": p90}
                cells.append(f"{med:8.2f} [{p90:5.1f}]")
            e = np.array(errs[v], dtype=float)
            tm, tp = _stat(list(e[:, 0] * 1e3))
            rm, rp = _stat(list(e[:, 1]))
            cover = float(np.mean(e[:, 2] <= CHI2_6DOF_95))
            rec[v].update(t_mm=(tm, tp), rot_deg=(rm, rp), chi2_cover=cover,
                          localized=float(np.mean(e[:, 3])))
            print(f"{v:8s} " + " ".join(cells) + f"   {tm:6.2f}/{tp:6.2f}     "
                  f"{rm:6.3f}/{rp:6.3f}     {100 * cover:5.0f} %  {100 * np.mean(e[:, 3]):4.0f} %")
        if not diffs:  # the previous package could not be read: nothing to compare
            rec["prev_missing"] = PREV_MISSING
            continue
        d = np.array(diffs, dtype=float)
        same = d[:, 3] == 0  # frames where both land on the same inlier set
        ds = d[same] if same.any() else np.full((1, 4), np.nan)
        speed = {s: rec["prev"][s]["median_ms"] / rec["new"][s]["median_ms"]
                 for s in ("solve_pnp", "localize")}
        rec["prev_vs_new"] = dict(
            speedup_median=speed, frames=len(d), other_fixed_point=int(np.sum(~same)),
            max_t_m=float(np.nanmax(ds[:, 0])), max_rot_deg=float(np.nanmax(ds[:, 1])),
            max_cov_rel=float(np.nanmax(ds[:, 2])),
            bit_identical_solve_pnp=int(sum(a for a, _ in same_bits)),
            bit_identical_localize=int(sum(b for _, b in same_bits)))
        print(f"prev/new median: solve_pnp {speed['solve_pnp']:.2f}x, localize "
              f"{speed['localize']:.2f}x; same frame and seed: {int(np.sum(~same))} of {len(d)} "
              f"land on another inlier set (another fixed point); the others within "
              f"{np.nanmax(ds[:, 0]) * 1e3:.1e} mm / {np.nanmax(ds[:, 1]):.1e} deg, covariance "
              f"{np.nanmax(ds[:, 2]):.1e} rel; bit-identical: solve_pnp on "
              f"{sum(a for a, _ in same_bits)}, localize (the focal fit included) on "
              f"{sum(b for _, b in same_bits)} of {len(same_bits)}")


if __name__ == "__main__":
    sys.exit(main())
