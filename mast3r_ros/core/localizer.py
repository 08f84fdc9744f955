"""Metric 6-DoF localization of a camera frame against a keyframe map.

Per frame (`Localizer.localize`):

1. **Candidates.** With a pose prior (the caller's, else the last good pose while tracking) the
   ``max_keyframes`` keyframes nearest to it in position and viewing direction within
   ``prior_radius_m``; without one (lost, first frame, ``force_global``) global-descriptor
   retrieval: the ``retrieval_top_k`` most similar keyframes (re-ranked by match count where the
   matcher can do that cheaply: sift), of which the best one and its pose-nearest companions are
   kept (`retrieval.pose_consistent_subset`).
2. **Matching** through a *pair matcher*: ``mast3r`` (keyframe = view 1 with its cached encoding,
   the query encoded once; fast reciprocal descriptor matches, border and descriptor-confidence
   filters; 3-D points from the keyframe's predicted metric pointmap or, with
   ``points_source: depth``, from its stored depth after a robust scale check) or the weight-free
   ``sift`` baseline (`sift.SiftMatcher`).
3. **Fusion and pose.** The 2-D/3-D matches of all candidate keyframes are pooled into one
   PnP-RANSAC with the query intrinsics, refined on the inliers, with a 6x6 covariance
   (`pnp.solve_pnp`).
4. **Gates.** Minimum inliers, inlier ratio, reprojection RMS, and -- against a prior passed by the
   caller -- maximum jump in translation and rotation. A doubtful pose becomes ``success=False``
   with a reason; expected failures are results, never exceptions.

Tracking: after a success the pose is remembered and used (when the caller gives no prior) to
choose candidates for the next frame. It is *not* used for the jump gate -- only a caller's prior
(odometry) is trusted for that, so one wrong pose cannot lock out correct ones. When matching
against the tracked candidates fails, the frame is retried once with global retrieval; after
``LOST_AFTER`` consecutive failures tracking is dropped. `reset` forgets it.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any, Dict, List, Optional, Protocol, Sequence, Tuple

import numpy as np

from .config import Config, LocalizerConfig, MatchingConfig
from .errors import CheckpointError, ConfigError, InputError, MapFormatError
from .geometry import (
    apply_homography,
    backproject,
    is_valid_pose,
    pose_error,
    sample_depth,
    transform_points,
    undistort_pixels,
)
from .keyframes import EncodingSet, KeyframeMap
from .pnp import Correspondences, PnPResult, solve_pnp
from .retrieval import (
    nearest_to_prior,
    pooled_descriptor,
    pose_consistent_subset,
    rank_by_similarity,
)
from .sift import SiftMatcher
from .types import Frame, LocalizationResult

log = logging.getLogger(__name__)

LOST_AFTER = 3  # consecutive failures after which the tracked pose is no longer a prior


@dataclasses.dataclass
class MatchDebug:
    """The matches behind the last result, for a debug picture.

    ``query_xy`` (N, 2) and ``keyframe_xy`` (N, 2) float64 original-image pixels, ``keyframe_ids``
    (N,) int64 (manifest ids), ``inliers`` (N,) bool (PnP inliers; all False when PnP failed).
    """

    query_xy: np.ndarray
    keyframe_xy: np.ndarray
    keyframe_ids: np.ndarray
    inliers: np.ndarray


class PairMatcher(Protocol):
    """What the `Localizer` needs from a matcher (`Mast3rMatcher`, `sift.SiftMatcher`).

    ``query_state`` does the per-frame work once (features / encoder); ``correspond`` returns
    one `Correspondences` per keyframe index (map-list order) and adds its stage times to
    ``timings`` ("inference", "matching"); ``global_descriptors`` (K, D) and
    ``query_descriptor`` (D,) are unit-norm retrieval descriptors. An optional
    ``rerank(frame, state, order) -> list`` re-orders retrieval candidates.
    """

    name: str

    def global_descriptors(self) -> np.ndarray: ...

    def query_state(self, frame: Frame) -> Any: ...

    def query_descriptor(self, frame: Frame, state: Any) -> np.ndarray: ...

    def correspond(self, frame: Frame, state: Any, indices: Sequence[int],
                   timings: Dict[str, float]) -> List[Correspondences]: ...

    def close(self) -> None: ...


# ------------------------------------------------------------------------ MASt3R matcher ---

def encode_image(engine: Any, rgb: np.ndarray, image_size: int
                 ) -> Tuple[Dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Encode one image for the map cache: (``Encoding.to_numpy()``, to_orig (3, 3), pooled
    global descriptor (C,))."""
    prep = engine.prepare(rgb, image_size)
    enc = engine.encode(prep)
    arrays = enc.to_numpy()
    return arrays, np.asarray(prep.to_orig, np.float64), pooled_descriptor(arrays["feats"])


def encode_keyframes(kf_map: KeyframeMap, engine: Any, image_size: int) -> EncodingSet:
    """Encoder outputs of every keyframe of a map for one checkpoint and image size."""
    per, to_orig, glob = [], [], []
    for i in range(len(kf_map)):
        a, t, g = encode_image(engine, kf_map.image(i), image_size)
        per.append(a)
        to_orig.append(t)
        glob.append(g)
    return EncodingSet(engine.identity, int(image_size), per, np.stack(to_orig), np.stack(glob))


def window_starts(length: int, win: int, overlap: float = 0.5) -> np.ndarray:
    """Start offsets of overlapping windows along one axis (MAST3R_FACTS 8.3 step 2)."""
    if length <= win:
        return np.zeros(1, dtype=np.int64)
    n = 2 + int((length - win - 1) // (win * (1 - overlap)))
    return np.round(np.linspace(0, length - win, n)).astype(np.int64)


def select_windows(image_size: Tuple[int, int], win_size: Tuple[int, int], xy: np.ndarray,
                   min_matches: int = 10, coverage: float = 0.9) -> List[Tuple[int, int]]:
    """Greedy choice of (x0, y0) windows of ``win_size`` (w, h) in an image of ``image_size``
    (W, H) covering ``coverage`` of the weight of the matches ``xy`` (N, 2), each match weighted
    ``exp(-2 |(p - centre) / size|^2)`` inside a window (the reference's weighting)."""
    (W, H), (w, h) = image_size, win_size
    wins = [(int(x), int(y)) for y in window_starts(H, h) for x in window_starts(W, w)]
    if not len(xy):
        return []
    wts = []
    for x0, y0 in wins:
        rel = (xy - [x0 + (w - 1) / 2, y0 + (h - 1) / 2]) / [w, h]
        inside = (np.abs(rel) <= 0.5).all(axis=1)
        wts.append(np.where(inside, np.exp(-2 * np.sum(rel ** 2, axis=1)), 0.0))
    wts = np.array(wts)  # (windows, matches)
    usable = (wts > 0).sum(axis=1) >= min_matches
    total = (wts * usable[:, None]).max(axis=0).sum()
    chosen: List[int] = []
    covered = np.zeros(len(xy))
    while total > 0 and covered.sum() < coverage * total:
        gain = [np.maximum(covered, wts[k]).sum() if usable[k] and k not in chosen else -1
                for k in range(len(wins))]
        k = int(np.argmax(gain))
        if gain[k] <= covered.sum():
            break
        chosen.append(k)
        covered = np.maximum(covered, wts[k])
    return [wins[k] for k in chosen]


@dataclasses.dataclass
class _Mast3rQuery:
    prepared: Any
    encoding: Any


class Mast3rMatcher:
    """Pair matcher on MASt3R predictions; keyframe = view 1 (cached encoding), query = view 2.

    ``recompute_encodings``: when the map caches no encodings for this checkpoint and size,
    compute them (and store them in the map when it is writable) instead of refusing.
    """

    name = "mast3r"

    def __init__(self, kf_map: KeyframeMap, engine: Any, matching: MatchingConfig,
                 image_size: int, points_source: str = "pointmap",
                 max_scale_error: float = 0.25, recompute_encodings: bool = True,
                 seed: int = 0):
        if not engine.has_descriptors:
            raise CheckpointError("the checkpoint has no descriptor head (DUSt3R?): the "
                                  "localizer needs a MASt3R checkpoint, or use matcher 'sift'")
        if points_source == "depth" and not kf_map.has_depth():
            raise ConfigError(f"points_source is 'depth' but map {kf_map.path} has keyframes "
                              "without depth; use points_source 'pointmap'")
        self.kf_map, self.engine, self.cfg = kf_map, engine, matching
        self.image_size = int(image_size)
        self.points_source = points_source
        self.max_scale_error = float(max_scale_error)
        self.rng = np.random.default_rng(seed)
        enc = self._encodings(recompute_encodings)
        self.enc_set = enc
        from .model.engine import Encoding

        try:
            self.encodings = [Encoding.from_numpy(d, engine.device) for d in enc.per_keyframe]
        except (InputError, KeyError) as e:
            raise MapFormatError(f"map {kf_map.path}: cached encodings unusable: {e}") from None

    def _encodings(self, recompute: bool) -> EncodingSet:
        ident, size = self.engine.identity, self.image_size
        enc = self.kf_map.load_encodings(ident, size)
        if enc is not None:
            return enc
        have = self.kf_map.encoding_keys()
        if not recompute:
            raise MapFormatError(
                f"map {self.kf_map.path} caches encodings for {have or 'no checkpoint'}, not for "
                f"checkpoint {ident} at size {size}; rebuild the map with this checkpoint or "
                "allow recomputing the encodings")
        log.info("map %s has no encodings for checkpoint %s at %d (has %s): computing them for "
                 "%d keyframes", self.kf_map.path, ident, size, have, len(self.kf_map))
        enc = encode_keyframes(self.kf_map, self.engine, size)
        try:
            self.kf_map.save_encodings(enc)
        except OSError as e:
            log.warning("cannot store the encodings in %s (%s); keeping them in memory",
                        self.kf_map.path, e)
        return enc

    def global_descriptors(self) -> np.ndarray:
        return self.enc_set.global_desc

    def query_state(self, frame: Frame) -> _Mast3rQuery:
        prep = self.engine.prepare(frame.rgb, self.image_size)
        want = self.encodings[0].true_shape if self.encodings else None
        if want is not None and tuple(prep.true_shape) != tuple(want):
            raise InputError(
                f"a {frame.size[0]}x{frame.size[1]} query becomes {prep.true_shape[1]}x"
                f"{prep.true_shape[0]} network pixels but the map's keyframes were encoded at "
                f"{want[1]}x{want[0]}: query and map images need the same aspect ratio")
        return _Mast3rQuery(prep, self.engine.encode(prep))

    def query_descriptor(self, frame: Frame, state: _Mast3rQuery) -> np.ndarray:
        feats = state.encoding.feats.detach().float().cpu().numpy()
        return pooled_descriptor(feats)

    def correspond(self, frame: Frame, state: _Mast3rQuery, indices: Sequence[int],
                   timings: Dict[str, float]) -> List[Correspondences]:
        t0 = time.perf_counter()
        preds = self.engine.decode([self.encodings[i] for i in indices], state.encoding)
        t1 = time.perf_counter()
        timings["inference"] = timings.get("inference", 0.0) + t1 - t0
        to_orig = np.asarray(state.prepared.to_orig, np.float64)
        out = [self._pair(i, p, to_orig) for i, p in zip(indices, preds)]
        timings["matching"] = timings.get("matching", 0.0) + time.perf_counter() - t1
        if self.cfg.coarse_to_fine:
            out = self._fine(frame, indices, out, timings)
        return out

    # -- coarse-to-fine ---------------------------------------------------------------------
    def _fine(self, frame: Frame, indices: Sequence[int], coarse: List[Correspondences],
              timings: Dict[str, float]) -> List[Correspondences]:
        """Re-match in full-resolution query windows of the network size (MAST3R_FACTS 8.3,
        query side: the keyframe keeps its cached encoding, so windows are cut only from the
        query). Query pixels then come at the original resolution instead of the downscaled
        one. Windows are chosen where the coarse matches are; no-op for small queries."""
        h_net, w_net = self.encodings[indices[0]].true_shape
        W, H = frame.size
        if W < w_net or H < h_net or (W == w_net and H == h_net):
            return coarse
        q = np.concatenate([c.points2d for c in coarse])
        wins = select_windows((W, H), (w_net, h_net), q)
        if not wins:
            return coarse
        fine: List[List[Correspondences]] = [[] for _ in indices]
        for x0, y0 in wins:
            t0 = time.perf_counter()
            prep = self.engine.prepare(np.ascontiguousarray(frame.rgb[y0:y0 + h_net,
                                                                      x0:x0 + w_net]),
                                       self.image_size)
            preds = self.engine.decode([self.encodings[i] for i in indices],
                                       self.engine.encode(prep))
            t1 = time.perf_counter()
            shift = np.array([[1.0, 0, x0], [0, 1.0, y0], [0, 0, 1]])
            to_orig = shift @ np.asarray(prep.to_orig, np.float64)
            for k, (i, p) in enumerate(zip(indices, preds)):
                fine[k].append(self._pair(i, p, to_orig))
            timings["inference"] = timings.get("inference", 0.0) + t1 - t0
            timings["matching"] = timings.get("matching", 0.0) + time.perf_counter() - t1
        return [Correspondences(c[0].keyframe_id, np.concatenate([x.points3d for x in c]),
                                np.concatenate([x.points2d for x in c]),
                                np.concatenate([x.keyframe_xy for x in c])) for c in fine]

    def _matches(self, pred: Any) -> Tuple[np.ndarray, np.ndarray]:
        """Filtered (xy1 keyframe, xy2 query) int64 network pixels of one prediction."""
        from .matching import fast_reciprocal_matches, filter_border

        c = self.cfg
        xy1, xy2 = fast_reciprocal_matches(pred.desc_1, pred.desc_2, subsample=c.subsample,
                                           max_iter=c.max_iter)
        hw1, hw2 = tuple(pred.desc_1.shape[:2]), tuple(pred.desc_2.shape[:2])
        xy1, xy2 = filter_border(xy1, xy2, hw1, hw2, c.border_px)
        conf = np.minimum(
            pred.desc_conf_1[xy1[:, 1], xy1[:, 0]].float().cpu().numpy(),
            pred.desc_conf_2[xy2[:, 1], xy2[:, 0]].float().cpu().numpy())
        pts_conf = pred.conf_1[xy1[:, 1], xy1[:, 0]].float().cpu().numpy()
        xy1, xy2 = xy1.cpu().numpy(), xy2.cpu().numpy()
        keep = (conf >= c.min_desc_conf) & (pts_conf >= c.min_pointmap_conf)
        xy1, xy2 = xy1[keep], xy2[keep]
        if len(xy1) > c.max_matches:
            sel = np.sort(self.rng.choice(len(xy1), c.max_matches, replace=False))
            xy1, xy2 = xy1[sel], xy2[sel]
        return xy1, xy2

    def _pair(self, index: int, pred: Any, query_to_orig: np.ndarray) -> Correspondences:
        """Correspondences of one prediction; ``query_to_orig`` maps view-2 network pixels to
        original query pixels."""
        kf = self.kf_map.keyframes[index]
        xy1, xy2 = self._matches(pred)
        kf_xy = apply_homography(self.enc_set.to_orig[index], xy1)
        q_xy = apply_homography(query_to_orig, xy2)
        pts_cam = pred.pts3d_1[xy1[:, 1], xy1[:, 0]].float().cpu().numpy().astype(np.float64)
        if self.points_source == "depth":
            pts_cam, ok = self._depth_points(index, kf_xy, pts_cam)
            xy1, kf_xy, q_xy, pts_cam = xy1[ok], kf_xy[ok], q_xy[ok], pts_cam[ok]
        ok = np.isfinite(pts_cam).all(axis=1) & (pts_cam[:, 2] > 0)
        return Correspondences(kf.id, transform_points(kf.map_from_cam, pts_cam[ok]), q_xy[ok],
                               kf_xy[ok])

    def _depth_points(self, index: int, kf_xy: np.ndarray, pts_pred: np.ndarray
                      ) -> Tuple[np.ndarray, np.ndarray]:
        """Stored-depth points at keyframe pixels, after checking the predicted pointmap's scale
        agrees with the depth (a mismatch means the network or the map is wrong)."""
        kf = self.kf_map.keyframes[index]
        cam = kf.intrinsics
        z = sample_depth(self.kf_map.depth(index), kf_xy)
        ok = np.isfinite(z)
        pts = np.full_like(pts_pred, np.nan)
        undist = undistort_pixels(kf_xy[ok], cam.K, cam.dist, cam.distortion_model)
        pts[ok] = backproject(undist, z[ok], cam.K)
        n_pred = np.linalg.norm(pts_pred, axis=1)
        both = ok & np.isfinite(n_pred) & (n_pred > 1e-6)
        if np.count_nonzero(both) >= 10:
            scale = float(np.median(np.linalg.norm(pts[both], axis=1) / n_pred[both]))
            if not abs(scale - 1.0) <= self.max_scale_error:
                log.info("keyframe %d: predicted pointmap is %.3fx the stored depth (max "
                         "deviation %.2f): dropping its matches", kf.id, 1 / scale,
                         self.max_scale_error)
                return pts, np.zeros(len(pts), dtype=bool)
        return pts, ok

    def close(self) -> None:
        self.encodings = []


# ----------------------------------------------------------------------------- localizer ---

class Localizer:
    """Localizes frames against a `KeyframeMap` (see the module docstring for the pipeline).

    ``engine`` is a `Mast3rEngine`, required when ``config.matcher == 'mast3r'``.
    """

    def __init__(self, kf_map: KeyframeMap, config: LocalizerConfig, engine: Any = None, *,
                 image_size: int = 512, recompute_encodings: bool = True, seed: int = 0):
        self.kf_map = kf_map
        self.config = config
        self.engine = engine
        self.seed = seed
        m = config.matching
        if config.matcher == "sift":
            self.matcher: PairMatcher = SiftMatcher(kf_map, m.sift_ratio, m.sift_max_features)
        elif config.matcher == "mast3r":
            if engine is None:
                raise ConfigError("matcher 'mast3r' needs a network: set the 'checkpoint' "
                                  "parameter (--checkpoint), or use matcher 'sift'")
            self.matcher = Mast3rMatcher(kf_map, engine, m, image_size, config.points_source,
                                         config.max_scale_error, recompute_encodings, seed)
        else:
            raise ConfigError(f"matcher must be 'mast3r' or 'sift', got {config.matcher!r}")
        self._poses = kf_map.poses()
        self._db = self.matcher.global_descriptors()
        self._tracked: Optional[np.ndarray] = None
        self._failures = 0
        self.last_matches: Optional[MatchDebug] = None

    @classmethod
    def from_config(cls, cfg: Config, map_path: str, *, recompute_encodings: bool = True
                    ) -> Localizer:
        """Load the map (and the checkpoint when the matcher is 'mast3r') named by a config.

        Raises `ConfigError`, `CheckpointError` or `MapFormatError` with what to fix.
        """
        kf_map = KeyframeMap.load(map_path)
        engine = None
        if cfg.localizer.matcher == "mast3r":
            if not cfg.model.checkpoint:
                raise ConfigError("matcher 'mast3r' needs a checkpoint: set the 'checkpoint' "
                                  "parameter (--checkpoint PATH), or use matcher 'sift'")
            from .model.engine import Mast3rEngine

            engine = Mast3rEngine.from_config(cfg.model)
        try:
            return cls(kf_map, cfg.localizer, engine, image_size=cfg.model.image_size,
                       recompute_encodings=recompute_encodings)
        except BaseException:
            if engine is not None:
                engine.close()
            raise

    # -- state ------------------------------------------------------------------------------
    @property
    def tracking(self) -> bool:
        """True while a recent success serves as the prior for candidate selection."""
        return self._tracked is not None

    def reset(self) -> None:
        """Forget the tracked pose: the next frame is localized by global retrieval."""
        self._tracked = None
        self._failures = 0
        self.last_matches = None

    def close(self) -> None:
        """Release the matcher's caches and the network (CUDA memory is given back)."""
        self.matcher.close()
        if self.engine is not None:
            self.engine.close()
            self.engine = None

    def keyframe_poses(self) -> np.ndarray:
        """(K, 4, 4) ``map_from_cam`` of the map's keyframes (for visualisation)."""
        return self._poses.copy()

    # -- localization -----------------------------------------------------------------------
    def localize(self, frame: Frame, prior: Optional[np.ndarray] = None,
                 force_global: bool = False) -> LocalizationResult:
        """Localize one frame. ``prior`` is a ``map_from_cam`` guess (e.g. from odometry).

        Raises `InputError` for a frame without intrinsics or a malformed prior; every other
        failure is a result with ``success=False`` and a ``reason``.
        """
        t_start = time.perf_counter()
        if frame.intrinsics is None:
            raise InputError("frame has no camera intrinsics: pass a CameraInfo (or "
                             "--camera-info YAML) with the images")
        if prior is not None:
            prior = np.asarray(prior, dtype=np.float64)
            if not is_valid_pose(prior):
                raise InputError("prior must be a finite 4x4 rigid transform (map_from_cam)")
        timings: Dict[str, float] = {}
        t0 = time.perf_counter()
        state = self.matcher.query_state(frame)
        timings["inference"] = time.perf_counter() - t0
        guess = None if force_global else (prior if prior is not None else self._tracked)
        result, tried = self._attempt(frame, state, guess, prior, timings)
        if not result.success and guess is not None and prior is None:
            retry, cand = self._attempt(frame, state, None, None, timings, skip=tried)
            result = retry if cand else result
        timings["total"] = time.perf_counter() - t_start
        result.timings_s = timings
        self._update_tracking(result)
        return result

    def _attempt(self, frame: Frame, state: Any, guess: Optional[np.ndarray],
                 prior: Optional[np.ndarray], timings: Dict[str, float],
                 skip: Sequence[int] = ()) -> Tuple[LocalizationResult, List[int]]:
        """Match against candidates and solve; with ``skip``, candidates equal to it are not
        tried again (returns an empty candidate list)."""
        t0 = time.perf_counter()
        cand = self._candidates(frame, state, guess)
        timings["retrieval"] = timings.get("retrieval", 0.0) + time.perf_counter() - t0
        if skip and set(cand) == set(skip):
            return LocalizationResult.failure(frame.stamp_ns, "no new candidates"), []
        if not cand:
            return LocalizationResult.failure(frame.stamp_ns, "no candidate keyframes"), cand
        corrs = self.matcher.correspond(frame, state, cand, timings)
        return self._pose(frame, corrs, prior, timings), cand

    def _candidates(self, frame: Frame, state: Any, guess: Optional[np.ndarray]) -> List[int]:
        c = self.config
        if guess is not None:
            cand = nearest_to_prior(self._poses, guess, c.max_keyframes, c.prior_radius_m)
            if cand:
                return cand
        order = rank_by_similarity(self.matcher.query_descriptor(frame, state), self._db,
                                   c.retrieval_top_k)
        rerank = getattr(self.matcher, "rerank", None)
        if rerank is not None:
            order = rerank(frame, state, order)
        return pose_consistent_subset(order, self._poses, c.max_keyframes)

    def _pose(self, frame: Frame, corrs: List[Correspondences], prior: Optional[np.ndarray],
              timings: Dict[str, float]) -> LocalizationResult:
        X = np.concatenate([c.points3d for c in corrs]) if corrs else np.zeros((0, 3))
        x = np.concatenate([c.points2d for c in corrs]) if corrs else np.zeros((0, 2))
        ids = tuple(int(c.keyframe_id) for c in corrs)
        p = self.config.pnp
        t0 = time.perf_counter()
        res = solve_pnp(X, x, frame.intrinsics, backend=p.backend,
                        reproj_error_px=p.reproj_error_px, max_iterations=p.max_iterations,
                        confidence=p.confidence, refine=p.refine, seed=self.seed)
        timings["pnp"] = timings.get("pnp", 0.0) + time.perf_counter() - t0
        self.last_matches = MatchDebug(
            x, np.concatenate([c.keyframe_xy for c in corrs]) if corrs else np.zeros((0, 2)),
            np.concatenate([np.full(len(c), c.keyframe_id, np.int64) for c in corrs])
            if corrs else np.zeros(0, np.int64), res.inliers.copy())
        kw = dict(num_matches=len(X), num_inliers=res.num_inliers, keyframe_ids=ids,
                  inlier_ratio=res.num_inliers / max(len(X), 1), reproj_rms_px=res.reproj_rms_px)
        reason = res.reason if not res.success else self._gate(res, len(X), prior)
        if reason:
            return LocalizationResult.failure(frame.stamp_ns, reason, **kw)
        return LocalizationResult(True, frame.stamp_ns, res.map_from_cam, res.covariance, **kw)

    def _gate(self, res: PnPResult, n: int, prior: Optional[np.ndarray]) -> str:
        g = self.config.gates
        ratio = res.num_inliers / max(n, 1)
        if res.num_inliers < g.min_inliers:
            return f"too few inliers ({res.num_inliers} < {g.min_inliers})"
        if ratio < g.min_inlier_ratio:
            return f"inlier ratio too low ({ratio:.2f} < {g.min_inlier_ratio:.2f})"
        if res.reproj_rms_px > g.max_reproj_rms_px:
            return (f"reprojection RMS too high ({res.reproj_rms_px:.2f} px > "
                    f"{g.max_reproj_rms_px:.2f} px)")
        if prior is not None:
            dt, dr = pose_error(prior, res.map_from_cam)
            if g.max_jump_m > 0 and dt > g.max_jump_m:
                return f"jump from the prior too large ({dt:.2f} m > {g.max_jump_m:.2f} m)"
            if g.max_jump_deg > 0 and dr > g.max_jump_deg:
                return (f"jump from the prior too large ({dr:.1f} deg > "
                        f"{g.max_jump_deg:.1f} deg)")
        return ""

    def _update_tracking(self, result: LocalizationResult) -> None:
        if result.success:
            self._tracked = result.map_from_cam.copy()
            self._failures = 0
            return
        self._failures += 1
        if self._failures >= LOST_AFTER:
            self._tracked = None
