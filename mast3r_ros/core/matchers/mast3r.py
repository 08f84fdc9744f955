"""The MASt3R pair matcher (the keyframe encodings a map caches for it: `map_encodings`).

Per keyframe pair (keyframe = view 1 with its cached encoding, query = view 2 encoded once per
frame): fast reciprocal descriptor matches (`matching.fast_reciprocal_matches`), dropped near either
border, below ``min_desc_conf`` (the smaller of the two descriptor confidences) or below
``min_pointmap_conf`` (the keyframe's pointmap confidence), a random subset of at most
``max_matches``, and the keyframe's predicted ``pts3d`` at the kept pixels. All of that runs on the
prediction's device; the kept matches and points come to the host in one transfer. 3-D points come
from the predicted metric pointmap or, with ``points_source: depth``, from the keyframe's stored
depth after a robust scale check. ``coarse_to_fine`` re-matches in full-resolution query windows
(Leroy, Cabon & Revaud, *Grounding Image Matching in 3D with MASt3R*, ECCV 2024, sec. 3.4;
reference code: naver/mast3r ``mast3r/utils/coarse_to_fine.py``, ``select_pairs_of_crops``).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any, Dict, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np

from ..config import MatchingConfig
from ..errors import CheckpointError, MapFormatError
from ..geometry import (
    apply_homography,
    backproject,
    sample_depth,
    transform_points,
    undistort_pixels,
)
from ..grid_undistort import GridUndistortCache
from ..keyframes import EncodingSet, KeyframeMap
from ..keyframes.encodings import content_id_of, stale_encodings
from ..model.given_as import GivenAs
from ..types import CameraIntrinsics, Correspondences, Frame
from ..uncertainty import depth_point_covariance, pointmap_point_covariance
from .base import add_time, sift_alternative
from .map_depth import require_map_depth
from .map_encodings import encode_keyframes
from .windows import _IDENTITY, pixel_shift, select_windows, window_starts  # noqa: F401 (re-exported)

log = logging.getLogger(__name__)


# ------------------------------------------- query descriptor, undistortion table ---

def pooled_descriptor_device(feats: Any) -> np.ndarray:
    """`retrieval.pooled_descriptor` of an (N, C) torch tensor, the mean over the N tokens
    computed on the tensor's device in float32 and only the (C,) mean moved to the host, where
    it is scaled to unit norm as `pooled_descriptor` does. Equal to it up to the order of the
    float32 summation (within 1e-6 per component for unit descriptors; tested)."""
    from ..retrieval import _unit

    return _unit(feats.detach().float().mean(dim=0).cpu().numpy())


def _table_pays(cam: CameraIntrinsics) -> bool:
    """Whether the undistortion table (`grid_undistort`) serves ``cam``: a distorted camera
    whose model OpenCV undistorts by iterating (plumb_bob, rational_polynomial: 0.5 / 2.1 ms
    at 1000 / 5000 pixels against 0.2-0.3 / 0.6-0.7 ms for a lookup); ``equidistant``'s
    ``cv2.fisheye.undistortPoints`` (0.25 / 0.47 ms) is cheaper than the lookup, so it is left
    to undistort (docs/bench/undistort_windows_cpu_2026-12-05)."""
    return cam.has_distortion and cam.distortion_model != "equidistant"


# ------------------------------------------------------------------------------ matcher ---

@dataclasses.dataclass
class _Mast3rQuery:
    prepared: Any
    encoding: Any


class PairMatches(NamedTuple):
    """Filtered matches of one keyframe pair on the host: ``xy1`` (N, 2) int64 keyframe and
    ``xy2`` (N, 2) int64 query network pixels, ``pts3d_1`` (N, 3) float64 the keyframe's
    predicted points at ``xy1`` (keyframe camera frame, metres), ``conf_1`` (N,) float64 its
    pointmap confidence there (> 1; `core.uncertainty` turns it into a 3-D covariance)."""

    xy1: np.ndarray
    xy2: np.ndarray
    pts3d_1: np.ndarray
    conf_1: np.ndarray


def filter_matches(pred: Any, cfg: MatchingConfig, rng: np.random.Generator) -> PairMatches:
    """Fast reciprocal matches of one `PairPrediction`, filtered (border, descriptor and
    pointmap confidence, random subset of ``cfg.max_matches`` drawn from ``rng``) with the
    keyframe points looked up, all on the prediction's device, then moved to the host in one
    transfer. Pixel coordinates travel as float32, exact below 2**24."""
    import torch

    from ..matching import fast_reciprocal_matches, filter_border

    xy1, xy2 = fast_reciprocal_matches(pred.desc_1, pred.desc_2, subsample=cfg.subsample,
                                       max_iter=cfg.max_iter, nn_backend=cfg.nn_backend)
    hw1, hw2 = tuple(pred.desc_1.shape[:2]), tuple(pred.desc_2.shape[:2])
    xy1, xy2 = filter_border(xy1, xy2, hw1, hw2, cfg.border_px)
    (x1, y1), (x2, y2) = xy1.unbind(1), xy2.unbind(1)
    desc_conf = torch.minimum(pred.desc_conf_1[y1, x1].float(), pred.desc_conf_2[y2, x2].float())
    keep = (desc_conf >= cfg.min_desc_conf) & (pred.conf_1[y1, x1].float()
                                               >= cfg.min_pointmap_conf)
    kept = torch.nonzero(keep).reshape(-1)
    if len(kept) > cfg.max_matches:
        sel = np.sort(rng.choice(len(kept), cfg.max_matches, replace=False))
        kept = kept[torch.from_numpy(sel).to(kept.device)]
    xy1, xy2 = xy1[kept], xy2[kept]
    pts = pred.pts3d_1[xy1[:, 1], xy1[:, 0]].float()
    conf = pred.conf_1[xy1[:, 1], xy1[:, 0]].float().reshape(-1, 1)
    host = torch.cat([xy1.float(), xy2.float(), pts, conf], dim=1).cpu().numpy()
    return PairMatches(host[:, 0:2].astype(np.int64), host[:, 2:4].astype(np.int64),
                       host[:, 4:7].astype(np.float64), host[:, 7].astype(np.float64))


# ------------------------------------------------- device-side matching and K fusion ---
# (issue 9: one device->host transfer per frame; kept apart from the encoding/decoding code)

_PACK = ("keep", "slot", "x1", "y1", "x2", "y2", "cx", "cy", "cz", "mx", "my", "mz", "conf")


class FusedMatches(NamedTuple):
    """Matches of K keyframe pairs of one frame, fused, on the host (see `match_and_fuse`).

    ``slot`` (N,) int64 position of the pair in the ``preds`` list; ``xy1`` (N, 2) int64 keyframe
    and ``xy2`` (N, 2) int64 query network pixels; ``pts3d_cam`` (N, 3) float64 the keyframe's
    predicted points at ``xy1`` (keyframe camera frame, metres); ``pts3d_map`` (N, 3) float64 the
    same points in the map frame (``map_from_cam[slot]`` applied on the device); ``conf`` (N,)
    float64 the keyframe pointmap confidence ``conf_1`` at ``xy1``. Rows are grouped by slot, in
    each slot in `filter_matches` order."""

    slot: np.ndarray
    xy1: np.ndarray
    xy2: np.ndarray
    pts3d_cam: np.ndarray
    pts3d_map: np.ndarray
    conf: np.ndarray

    def pair(self, k: int) -> FusedMatches:
        """The rows of slot ``k``, no transfer: views (a slice) of rows in slot order."""
        s = self.slot
        if len(s) < 2 or bool((s[1:] >= s[:-1]).all()):
            return FusedMatches(*(a[slice(*np.searchsorted(s, (k, k + 1)))] for a in self))
        return FusedMatches(*(a[s == k] for a in self))


def match_and_fuse(preds: Sequence[Any], map_from_cam: np.ndarray, cfg: MatchingConfig,
                   rng: np.random.Generator) -> FusedMatches:
    """`filter_matches` for the K predictions of one frame, fused on the device.

    ``preds``: K `PairPrediction` of one decode (equal shapes, one device); ``map_from_cam``
    (K, 4, 4) float64 keyframe poses, ``map_from_cam[k]`` for ``preds[k]``. Per pair: fast
    reciprocal matches; then for all K pairs at once on the device: the border and confidence
    filters, the lookup of the keyframe's ``pts3d`` and their transform to the map frame (float64),
    the concatenation; ONE device->host transfer of the packed (N, 13) float64 rows; on the host
    the random subset of at most ``cfg.max_matches`` per pair, drawn from ``rng`` exactly as
    `filter_matches` draws it (same calls in pair order), so the matches are identical to K
    calls of `filter_matches`.

    With the Triton search (``cfg.nn_backend``, equal shapes) the device part has fixed shapes
    and no host round trip (`fixed_matching`: one row per walker, flags instead of compaction),
    on CUDA replayed as one CUDA graph (``cfg.cuda_graph``); with the torch search each pair's
    walk is its own launch sequence, the rest batched over K. Both give the same rows.
    """
    from . import fixed_matching

    k_n = len(preds)
    if k_n and fixed_matching.eligible(preds, cfg):
        host = fixed_matching.fixed_rows(preds, map_from_cam, cfg)
        return _select_rows(host, k_n, cfg, rng)
    return _match_and_fuse_walks(preds, map_from_cam, cfg, rng)


def _select_rows(host: np.ndarray, k_n: int, cfg: MatchingConfig,
                 rng: np.random.Generator) -> FusedMatches:
    """Host side of `match_and_fuse`: from packed (N, 13) rows (``_PACK`` columns, in slot
    order) the kept rows of each slot, in order, at most ``cfg.max_matches`` drawn from ``rng``
    (one ``choice`` per slot that has more, in slot order); contiguous columns, no copy per slot."""
    kept = np.flatnonzero(host[:, 0] > 0)
    slot = host[kept, 1]
    ordered = len(slot) < 2 or bool((slot[1:] >= slot[:-1]).all())  # else: no caller's rows
    lo = np.searchsorted(slot, np.arange(k_n + 1)) if ordered else None
    per_slot = [kept[lo[k]:lo[k + 1]] if ordered else kept[slot == k] for k in range(k_n)]
    rows = [sel if len(sel) <= cfg.max_matches else
            sel[np.sort(rng.choice(len(sel), cfg.max_matches, replace=False))] for sel in per_slot]
    idx = np.concatenate(rows) if rows else np.zeros(0, np.intp)
    h = host if ordered and len(idx) == len(host) else host.take(idx, axis=0)  # all rows: as is
    c = [np.ascontiguousarray(h[:, a:b]) for a, b in ((6, 9), (9, 12), (12, 13))]
    return FusedMatches(h[:, 1].astype(np.int64), h[:, 2:4].astype(np.int64),
                        h[:, 4:6].astype(np.int64), c[0], c[1], c[2][:, 0])


def _match_and_fuse_walks(preds: Sequence[Any], map_from_cam: np.ndarray, cfg: MatchingConfig,
                          rng: np.random.Generator) -> FusedMatches:
    """`match_and_fuse` on variable shapes: the walks' unique matches (host round trips per
    walk round and for their sizes), then the filters on the device and one transfer. The path
    of the torch search; with ``nn_backend: triton`` the previous Triton path (bench)."""
    import torch

    from ..matching import fast_reciprocal_matches_batch
    from ..matching.pixels import _inside

    k_n = len(preds)
    if k_n == 0:
        z = np.zeros((0, 2), np.int64)
        return FusedMatches(np.zeros(0, np.int64), z, z.copy(), np.zeros((0, 3)),
                            np.zeros((0, 3)), np.zeros(0))
    dev = preds[0].desc_1.device
    hw1, hw2 = tuple(preds[0].desc_1.shape[:2]), tuple(preds[0].desc_2.shape[:2])
    walks = fast_reciprocal_matches_batch([(p.desc_1, p.desc_2) for p in preds],
                                          subsample=cfg.subsample, max_iter=cfg.max_iter,
                                          nn_backend=cfg.nn_backend)
    xy1 = torch.cat([w[0] for w in walks])
    xy2 = torch.cat([w[1] for w in walks])
    slot = torch.cat([torch.full((len(w[0]),), k, dtype=torch.int64, device=dev)
                      for k, w in enumerate(walks)])
    (x1, y1), (x2, y2) = xy1.unbind(1), xy2.unbind(1)
    dc1 = torch.stack([p.desc_conf_1 for p in preds])[slot, y1, x1].float()
    dc2 = torch.stack([p.desc_conf_2 for p in preds])[slot, y2, x2].float()
    pc1 = torch.stack([p.conf_1 for p in preds])[slot, y1, x1].float()
    keep = (_inside(xy1, hw1, cfg.border_px) & _inside(xy2, hw2, cfg.border_px)
            & (torch.minimum(dc1, dc2) >= cfg.min_desc_conf) & (pc1 >= cfg.min_pointmap_conf))
    pts = torch.stack([p.pts3d_1 for p in preds])[slot, y1, x1].float().double()
    T = torch.as_tensor(np.asarray(map_from_cam, np.float64).reshape(k_n, 4, 4), device=dev)[slot]
    R, t = T[:, :3, :3], T[:, :3, 3]
    pts_map = (R[:, :, 0] * pts[:, 0:1] + R[:, :, 1] * pts[:, 1:2]) + R[:, :, 2] * pts[:, 2:3] + t
    host = torch.cat([keep.double()[:, None], slot.double()[:, None], xy1.double(), xy2.double(),
                      pts, pts_map, pc1.double()[:, None]], dim=1).cpu().numpy()  # one transfer
    return _select_rows(host, k_n, cfg, rng)


class Mast3rMatcher:
    """Pair matcher on MASt3R predictions (module docstring); implements `base.PairMatcher`.

    ``engine`` is a `Mast3rEngine` (or anything with its prepare/encode/decode). With
    ``recompute_encodings`` a map that caches no encodings for this checkpoint and size gets
    them computed (and stored when the map is writable) instead of a `MapFormatError`.
    ``device_cache_mb`` (``scale.device_cache_mb``, MiB; None: the module default) bounds the
    device-side LRU cache of the candidates' encodings (`lazy_encodings.KeyframeEncodings`).
    Point covariances (`core.uncertainty`): ``depth_sigma_k`` (1/m) and ``pixel_sigma_px``
    (pixels) for depth points, ``conf_alpha`` for pointmap points. ``seed`` seeds the random
    ``max_matches`` subsets.

    Raises `CheckpointError` for an engine without a descriptor head (its fix in the words of
    ``given``, `given_as`: the commands' --checkpoint, the node's parameter), `ConfigError` for
    ``points_source`` 'depth' on a map without depth (the sift matcher raises `InputError` for
    the same map), `MapFormatError` when the map has no encodings for this checkpoint and size
    and ``recompute_encodings`` is off.
    """

    name = "mast3r"

    def __init__(self, kf_map: KeyframeMap, engine: Any, matching: MatchingConfig,
                 image_size: int, points_source: str = "pointmap",
                 max_scale_error: float = 0.25, recompute_encodings: bool = True,
                 seed: int = 0, depth_sigma_k: float = 1.6e-3, pixel_sigma_px: float = 1.0,
                 conf_alpha: float = 0.2, device_cache_mb: Optional[float] = None,
                 given: Optional[GivenAs] = None):
        if not engine.has_descriptors:
            from ..model.checkpoint_arch import no_descriptors_for_localizer

            raise CheckpointError(no_descriptors_for_localizer(given) + sift_alternative(kf_map))
        require_map_depth(kf_map, "mast3r", points_source)  # check-params: the same rule
        self.kf_map, self.engine, self.cfg = kf_map, engine, matching
        self.image_size = int(image_size)
        self.points_source = points_source
        self.max_scale_error = float(max_scale_error)
        self.depth_sigma_k, self.pixel_sigma_px = float(depth_sigma_k), float(pixel_sigma_px)
        self.conf_alpha = float(conf_alpha)
        self.rng = np.random.default_rng(seed)
        # undistorted query pixels of the network grid, per camera (issue 9; grid_undistort.py);
        # None: solve_pnp undistorts the matched pixels (the same bits, slower; bench, tests)
        self.undistort_table: Optional[GridUndistortCache] = GridUndistortCache()
        # ... and of the keyframes' grids, for their stored-depth points (points_source depth;
        # keyframes of one camera and size share one table)
        self.kf_undistort_table: Optional[GridUndistortCache] = GridUndistortCache()
        enc = self._encodings(recompute_encodings)
        self.enc_set = enc
        # v2/v3 maps: fetched per candidate from the map's encoding store, kept on the device
        # in an LRU cache (lazy_encodings.py)
        from .lazy_encodings import DEFAULT_DEVICE_CACHE_MB, KeyframeEncodings

        self.encodings = KeyframeEncodings(
            enc.per_keyframe, engine.device, kf_map.path,
            DEFAULT_DEVICE_CACHE_MB if device_cache_mb is None else float(device_cache_mb))

    def _encodings(self, recompute: bool) -> EncodingSet:
        ident, size = self.engine.identity, self.image_size
        enc = self.kf_map.load_encodings(ident, size)
        stale = stale_encodings(self.kf_map, enc, lambda: content_id_of(self.engine))
        if enc is not None and not stale:
            return enc
        have = self.kf_map.encoding_keys()
        older = "" if stale or not have else _older_id_note(getattr(self.engine, "info", None))
        if not recompute:
            raise MapFormatError(
                (stale or f"map {self.kf_map.path} caches encodings for {have or 'no checkpoint'}"
                 f", not for checkpoint {ident} at size {size}{older}") + "; rebuild the map "
                "with this checkpoint or allow recomputing the encodings")
        log.info("%s: computing them for %d keyframes", stale or (
            f"map {self.kf_map.path} has no encodings for checkpoint {ident} at {size} (has "
            f"{have}{older})"), len(self.kf_map))
        enc = encode_keyframes(self.kf_map, self.engine, size)
        try:
            self.kf_map.save_encodings(enc)
        except OSError as e:
            log.warning("cannot store the encodings in %s (%s); keeping them in memory",
                        self.kf_map.path, e)
        return enc

    def global_descriptors(self) -> np.ndarray:
        """(K, C) float32 unit-norm pooled encoder descriptors of the keyframes (map-list
        order), from the map's cached encodings."""
        return self.enc_set.global_desc

    def query_state(self, frame: Frame) -> _Mast3rQuery:
        """The query prepared and encoded once (`Mast3rEngine.prepare` / ``encode``). Raises
        `InputError` for an image the network cannot take (too small or elongated; not the
        TensorRT engine's network shape)."""
        # a query of another size or aspect ratio than the keyframes is decoded against them
        # as it is (each view on its own token grid; `Mast3rEngine.decode`)
        prep = self.engine.prepare(frame.rgb, self.image_size)
        return _Mast3rQuery(prep, self.engine.encode(prep))

    def query_descriptor(self, frame: Frame, state: _Mast3rQuery) -> np.ndarray:
        """(C,) float32 unit-norm pooled descriptor of the query (`pooled_descriptor`), the
        token mean taken on the engine device so only C floats come to the host."""
        return pooled_descriptor_device(state.encoding.feats)

    def correspond(self, frame: Frame, state: _Mast3rQuery, indices: Sequence[int],
                   timings: Dict[str, float]) -> List[Correspondences]:
        """One `Correspondences` per entry of ``indices`` (map-list indices), in that order:
        ``points3d`` map frame (metres), ``points2d`` original (distorted) query pixels; adds
        "inference" and "matching" seconds to ``timings``.

        Raises `MapFormatError` when a keyframe's encoding chunk of a lazily loaded map fails
        verification on first use (or its depth PNG, with ``points_source`` 'depth'),
        `InputError` when the TensorRT engine cannot decode the keyframes' size.
        """
        t0 = time.perf_counter()
        preds = self.engine.decode([self.encodings[i] for i in indices], state.encoding)
        t1 = time.perf_counter()
        add_time(timings, "inference", t1 - t0)
        to_orig = np.asarray(state.prepared.to_orig, np.float64)
        windows = self.cfg.coarse_to_fine and self._windowed(frame, indices)
        # windows replace the coarse matches: their undistorted pixels would be thrown away (a
        # frame whose coarse matches pick no window leaves them to solve_pnp: the same bits)
        out = self._pairs(indices, preds, to_orig, None if windows else frame.intrinsics)
        add_time(timings, "matching", time.perf_counter() - t1)
        if windows:
            out = self._fine(frame, indices, out, timings)
        return out

    def _windowed(self, frame: Frame, indices: Sequence[int]) -> bool:
        """Whether the query is larger than the network input, so that coarse-to-fine matching
        cuts windows from it (`_fine`; it still needs coarse matches to place them)."""
        h_net, w_net = self.encodings[indices[0]].true_shape
        W, H = frame.size
        return not (W < w_net or H < h_net or (W == w_net and H == h_net))

    def _fine(self, frame: Frame, indices: Sequence[int], coarse: List[Correspondences],
              timings: Dict[str, float]) -> List[Correspondences]:
        """Re-match in full-resolution query windows of the network size (MASt3R's
        coarse-to-fine matching, ECCV 2024 sec. 3.4, query side only: the keyframe keeps its
        cached encoding, so windows are cut only from the query). Query pixels then come at the
        original resolution instead of the downscaled one. Windows are chosen where the coarse
        matches are; no-op for small queries. A window is a crop of the network's size, so its
        mapping is a whole-pixel shift (`pixel_shift`) and its query pixels are captured
        integer pixels: for a distorted camera their undistorted twins come from the table of
        the captured image's pixel grid (`grid_undistort`, one lookup per keyframe; the same
        bits); a window of another mapping leaves them to solve_pnp."""
        h_net, w_net = self.encodings[indices[0]].true_shape
        W, H = frame.size
        if not self._windowed(frame, indices):
            return coarse
        wins = select_windows((W, H), (w_net, h_net), np.concatenate([c.points2d for c in coarse]))
        if not wins:
            return coarse
        fine: List[List[Correspondences]] = [[] for _ in indices]
        cam = frame.intrinsics
        table = (self.undistort_table if self.undistort_table is not None
                 and _table_pays(cam) else None)
        for x0, y0 in wins:
            t0 = time.perf_counter()
            crop = np.ascontiguousarray(frame.rgb[y0:y0 + h_net, x0:x0 + w_net])
            prep = self.engine.prepare(crop, self.image_size)
            preds = self.engine.decode([self.encodings[i] for i in indices],
                                       self.engine.encode(prep))
            t1 = time.perf_counter()
            to_orig = np.array([[1.0, 0, x0], [0, 1.0, y0], [0, 0, 1]]) @ np.asarray(
                prep.to_orig, np.float64)
            if pixel_shift(to_orig) is None:  # not whole pixels: solve_pnp undistorts them
                table = None
            for k, c in enumerate(self._pairs(indices, preds, to_orig)):
                fine[k].append(c)
            add_time(timings, "inference", t1 - t0)
            add_time(timings, "matching", time.perf_counter() - t1)
        t0 = time.perf_counter()
        out = []
        for c in fine:
            xy = np.concatenate([x.points2d for x in c])
            und = None
            if table is not None:  # whole pixels, exactly: the int64 cast and the table's
                und = table.lookup(xy.astype(np.int64), _IDENTITY, (H, W), cam.K, cam.dist,
                                   cam.distortion_model)[1]  # pixels are the same numbers
            out.append(Correspondences(c[0].keyframe_id, np.concatenate([x.points3d for x in c]),
                                       xy, np.concatenate([x.keyframe_xy for x in c]),
                                       np.concatenate([x.points3d_cov for x in c]), und))
        add_time(timings, "matching", time.perf_counter() - t0)
        return out

    def _pairs(self, indices: Sequence[int], preds: Sequence[Any],
               query_to_orig: np.ndarray, cam: Optional[CameraIntrinsics] = None
               ) -> List[Correspondences]:
        """Correspondences of the K predictions of one decode (`match_and_fuse`: filtered and
        fused on the device, one transfer); ``query_to_orig`` maps view-2 network pixels to
        original query pixels. With ``cam`` (the query camera, distorted) the query pixels and
        their undistorted twins come from the per-camera table (`grid_undistort`): the whole
        query's mapping is the same every frame; a coarse-to-fine window's is not (no ``cam``:
        `_fine` looks the pooled window pixels up in the captured grid's table)."""
        poses = np.stack([self.kf_map.keyframes[i].map_from_cam for i in indices])
        groups: Dict[tuple, List[int]] = {}  # keyframes of one shape (a merged map holds
        for k, p in enumerate(preds):        # several): fused per shape, in candidate order
            groups.setdefault(tuple(p.desc_1.shape), []).append(k)
        out: List[Optional[Correspondences]] = [None] * len(indices)
        for ks in groups.values():
            fused = match_and_fuse([preds[k] for k in ks], poses[ks], self.cfg, self.rng)
            grid = None
            if cam is not None and self.undistort_table is not None and _table_pays(cam):
                grid = (cam, tuple(preds[ks[0]].desc_2.shape[:2]))  # (H, W) of the query grid
            kf_hw = tuple(preds[ks[0]].desc_1.shape[:2])  # (H, W) of these keyframes' grid
            for j, k in enumerate(ks):
                out[k] = self._pair(indices[k], fused.pair(j), query_to_orig, grid, kf_hw)
        return out  # type: ignore[return-value]

    def _pair(self, index: int, m: FusedMatches, query_to_orig: np.ndarray,
              grid: Optional[Tuple[CameraIntrinsics, Tuple[int, int]]] = None,
              kf_hw: Optional[Tuple[int, int]] = None) -> Correspondences:
        """Host-side finish of one pair's fused matches: pixels to original images, points
        source, valid points (finite, in front of the keyframe camera). With ``grid`` (query
        camera, network grid (H, W)) the query pixels' undistorted twins too, from the table
        (bit-identical to undistorting them, `grid_undistort`); with ``kf_hw`` (the keyframe's
        network grid) and ``points_source`` 'depth' the keyframe pixels' of a distorted
        keyframe camera, from the keyframes' table."""
        kf = self.kf_map.keyframes[index]
        kcam, kf_und = kf.intrinsics, None
        if (kf_hw is not None and self.points_source == "depth"
                and self.kf_undistort_table is not None and _table_pays(kcam)):
            kf_xy, kf_und = self.kf_undistort_table.lookup(
                m.xy1, self.enc_set.to_orig[index], kf_hw, kcam.K, kcam.dist,
                kcam.distortion_model)
        else:
            kf_xy = apply_homography(self.enc_set.to_orig[index], m.xy1)
        q_und = None
        if grid is None:
            q_xy = apply_homography(query_to_orig, m.xy2)
        else:
            cam, hw = grid
            q_xy, q_und = self.undistort_table.lookup(m.xy2, query_to_orig, hw, cam.K, cam.dist,
                                                      cam.distortion_model)
        pts_cam, pts_map, conf = m.pts3d_cam, m.pts3d_map, m.conf
        if self.points_source == "depth":
            pts_cam, ok = self._depth_points(index, kf_xy, pts_cam, kf_und)
            kf_xy, q_xy, pts_cam, conf = kf_xy[ok], q_xy[ok], pts_cam[ok], conf[ok]
            q_und = None if q_und is None else q_und[ok]
            pts_map = transform_points(kf.map_from_cam, pts_cam)
        # in front of the keyframe camera and finite (one pass proves all rows finite: 9x
        # cheaper than the per-row test, which only a frame with a non-finite point pays)
        ok = pts_cam[:, 2] > 0
        if not np.isfinite(pts_cam).all():
            ok &= np.isfinite(pts_cam).all(axis=1)
        if not ok.all():  # usually every point is valid: no copies of the rows then
            pts_cam, pts_map, q_xy, kf_xy, conf = (a[ok] for a in (pts_cam, pts_map, q_xy,
                                                                    kf_xy, conf))
            q_und = None if q_und is None else q_und[ok]
        # each point's covariance from its source's model (core/uncertainty.py)
        if self.points_source == "depth":
            cov = depth_point_covariance(pts_cam, kf.intrinsics.K, kf.map_from_cam,
                                         self.depth_sigma_k, self.pixel_sigma_px)
        else:
            cov = pointmap_point_covariance(pts_cam, conf, self.conf_alpha)
        return Correspondences(kf.id, pts_map, q_xy, kf_xy, cov, q_und)

    def _depth_points(self, index: int, kf_xy: np.ndarray, pts_pred: np.ndarray,
                      kf_und: Optional[np.ndarray] = None) -> Tuple[np.ndarray, np.ndarray]:
        """Stored-depth points at keyframe pixels, after checking the predicted pointmap's scale
        agrees with the depth (a mismatch means the network or the map is wrong). ``kf_und``:
        ``kf_xy`` undistorted (the keyframes' table), None = undistorted here."""
        kf = self.kf_map.keyframes[index]
        cam = kf.intrinsics
        z = sample_depth(self.kf_map.depth(index), kf_xy)
        ok = np.isfinite(z)
        pts = np.full_like(pts_pred, np.nan)
        undist = (undistort_pixels(kf_xy[ok], cam.K, cam.dist, cam.distortion_model)
                  if kf_und is None else kf_und[ok])
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

    def preload(self, indices: Sequence[int]) -> int:
        """Copy the cached encodings of keyframes ``indices`` (map-list indices) to the device
        now, as far as the device cache holds them without evicting any
        (`lazy_encodings.KeyframeEncodings.preload`); returns how many were copied."""
        return self.encodings.preload(indices)

    def close(self) -> None:
        """Drop the device-side encoding cache and the matching's CUDA graphs
        (`fixed_matching.release_graphs`; the engine is the caller's to close)."""
        from . import fixed_matching

        self.encodings = []
        fixed_matching.release_graphs()



def _older_id_note(info: Any) -> str:
    """Why a map may cache this checkpoint's encodings under another id: its file's args.model
    is not the canonical constructor string (`model_string`), which the ids hash, while ids of
    maps built before that hashed the file's own string (docs/maps.md); "" otherwise."""
    from ..model.model_string import model_string

    try:
        if info is None or info.model_string == model_string(info.spec):
            return ""
    except Exception:  # noqa: BLE001 - an architecture the string cannot carry: no note
        return ""
    return ("; this checkpoint file's args.model is not the canonical constructor string its "
            "ids hash: a map built from this very file before they did keys its encodings by "
            "the older id (the same weights: computing them once more serves)")

