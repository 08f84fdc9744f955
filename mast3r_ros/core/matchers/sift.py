"""The weight-free baseline matcher: OpenCV SIFT, RootSIFT mutual ratio-test matching, 3-D points
from the keyframe's stored depth.

Sources: SIFT and the ratio test (Lowe, *Distinctive Image Features from Scale-Invariant
Keypoints*, IJCV 2004); RootSIFT (Arandjelovic & Zisserman, *Three things everyone should know to
improve object retrieval*, CVPR 2012).

Each 3-D point carries its covariance from the depth model of `core.uncertainty` (depth noise
``k z^2`` along the ray, keyframe keypoint noise across it).

It is the CPU fallback when no checkpoint is configured and the baseline the learned matcher is
compared against. Keyframe features (with their map-frame 3-D points) are computed on first use
and kept in an LRU cache bounded in bytes (``scale.encoding_cache_mb``, the map's host cache
budget): a robot touring a large map for days would otherwise end up holding every keyframe's
features (about 2.5 MB each at 4000 features).
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import time
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from .. import blas_threads
from ..geometry import backproject, sample_depth, transform_points, undistort_pixels
from ..keyframes import KeyframeMap
from ..retrieval import thumbnail_descriptor
from ..types import Correspondences, Frame
from ..uncertainty import depth_point_covariance
from .base import add_time
from .map_depth import require_map_depth

log = logging.getLogger(__name__)


@dataclasses.dataclass
class SiftFeatures:
    """Keypoints ``xy`` (N, 2) float64 pixels and RootSIFT descriptors ``desc`` (N, 128) float32
    (unit L2 norm)."""

    xy: np.ndarray
    desc: np.ndarray

    def __len__(self) -> int:
        return len(self.xy)

    def subset(self, keep: np.ndarray) -> SiftFeatures:
        return SiftFeatures(self.xy[keep], self.desc[keep])


def extract_sift(rgb: np.ndarray, max_features: int, *,
                 contrast_threshold: Optional[float] = None) -> SiftFeatures:
    """SIFT keypoints and RootSIFT descriptors of an (H, W, 3) uint8 RGB image (or an (H, W)
    uint8 grey one): at most ``max_features`` keypoints (original pixels), the strongest by
    detector response (0: no limit); RootSIFT = L1-normalise, then square root (Arandjelovic &
    Zisserman, CVPR 2012), so the descriptors have unit L2 norm. ``contrast_threshold``: the
    detector's (None: OpenCV's default, 0.04); lower keeps more keypoints of low-contrast
    images."""
    gray = rgb if rgb.ndim == 2 else cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    n = int(max_features)
    sift = (cv2.SIFT_create(nfeatures=n) if contrast_threshold is None else
            cv2.SIFT_create(nfeatures=n, contrastThreshold=float(contrast_threshold)))
    kps, desc = sift.detectAndCompute(gray, None)
    if desc is None or not len(kps):
        return SiftFeatures(np.zeros((0, 2)), np.zeros((0, 128), np.float32))
    if 0 < n < len(kps):
        # OpenCV's nfeatures keeps every keypoint as strong as the n-th, and a location's extra
        # orientations are keypoints of their own with the same response: ties gave n + 1 or more
        keep = np.sort(np.argsort([-k.response for k in kps], kind="stable")[:n])
        kps, desc = [kps[i] for i in keep], desc[keep]
    xy = np.array([k.pt for k in kps], dtype=np.float64)
    desc = desc.astype(np.float32)
    desc /= np.maximum(desc.sum(axis=1, keepdims=True), 1e-12)  # RootSIFT: L1, then sqrt
    return SiftFeatures(xy, np.sqrt(desc))


# A product of two ~500-feature sets (the map check's: 32 M multiply-adds, about 0.3 ms on one
# core) went to all of OpenBLAS's cores and waited for its sleeping worker threads: 20-60 ms a
# product on a machine whose cores are busy (42 ms per SIFT pair of check-map on a 2-core machine
# at load 10, 40 % of the check). A product of up to `ONE_CORE_PRODUCT` multiply-adds runs on one
# BLAS thread (`blas_threads.single_blas_thread`, any BLAS threadpoolctl finds); larger ones (the
# localizer's 4000 features) are worth the threads. Without threadpoolctl, the fallback computes
# it in row blocks each at most OpenBLAS's gemm threading threshold, m*n*k <= 4 * 65536
# (interface/gemm.c: SMP_THRESHOLD_MIN x GEMM_MULTITHREAD_THRESHOLD, its default build),
# on the calling thread (2.5x slower than one call, but without either check-map took 2.8x as
# long: docs/bench/sift_products_cpu_2026-12-06); another BLAS gets the same product in blocks.
ONE_CORE_PRODUCT = 1 << 26
BLAS_THREADED_ABOVE = 4 * 65536
_matmul = np.matmul  # every product `similarities` computes (a test counts them)


def similarities(desc1: np.ndarray, desc2: np.ndarray) -> np.ndarray:
    """``desc1 @ desc2.T``: (N1, N2) inner products of descriptors (N1, D), (N2, D), in their
    common dtype. Up to `ONE_CORE_PRODUCT` multiply-adds one product on one BLAS thread
    (`blas_threads`), or without threadpoolctl in row blocks below OpenBLAS's threading
    threshold (`BLAS_THREADED_ABOVE`): no BLAS thread is woken for them. Equal to the one
    product up to float rounding (which already differs between 1 and 2 BLAS threads)."""
    n1, n2, d = len(desc1), len(desc2), desc1.shape[1]
    if n1 * n2 * d > ONE_CORE_PRODUCT:
        return _matmul(desc1, desc2.T)
    if blas_threads.can_limit():
        with blas_threads.single_blas_thread():
            return _matmul(desc1, desc2.T)
    out = np.empty((n1, n2), np.result_type(desc1, desc2))
    rows = max(1, BLAS_THREADED_ABOVE // max(n2 * d, 1))
    for i in range(0, n1, rows):
        _matmul(desc1[i:i + rows], desc2.T, out=out[i:i + rows])
    return out


def match_descriptors(desc1: np.ndarray, desc2: np.ndarray, ratio: float
                      ) -> Tuple[np.ndarray, np.ndarray]:
    """Mutual nearest neighbours passing Lowe's ratio test (IJCV 2004), for unit-norm
    descriptors.

    ``desc1`` (N1, D), ``desc2`` (N2, D) float32; ``ratio`` in (0, 1] (a tie of nearest and
    second nearest never passes). The ratio is on L2 distances,
    ``d_best < ratio * d_second`` (tested on squared distances against ``ratio**2``).
    Returns index arrays (M,) int64 into each.
    """
    if len(desc1) < 1 or len(desc2) < 2:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    d2 = similarities(desc1, desc2)  # one BLAS thread for a small product
    # squared L2 distance of unit vectors, max(2 - 2 sim, 0), in place (no (N1, N2) temporaries)
    d2 *= 2.0
    np.subtract(2.0, d2, out=d2)
    np.maximum(d2, 0.0, out=d2)
    rows = np.arange(len(desc1))
    mutual = np.argmin(d2, axis=0)  # each column's nearest row (first of ties), before masking
    # nearest and second-nearest per row: argmin, then the min with the nearest masked. Where
    # the two distances tie, no ratio <= 1 passes, so which tied column is "nearest" is moot;
    # elsewhere the nearest is unique. 3-4x cheaper than a per-row argpartition of 2.
    nn = np.argmin(d2, axis=1)
    best = d2[rows, nn]
    d2[rows, nn] = np.inf
    second = d2.min(axis=1)
    ok = best < (ratio ** 2) * second
    ok &= mutual[nn] == rows
    i1 = np.flatnonzero(ok)
    return i1.astype(np.int64), nn[i1].astype(np.int64)


def distinct_pairs(xy1: np.ndarray, xy2: np.ndarray, i1: np.ndarray, i2: np.ndarray
                   ) -> Tuple[np.ndarray, np.ndarray]:
    """The matches ``(i1, i2)`` (index arrays into the keypoints ``xy1`` (N1, 2), ``xy2``
    (N2, 2)) less those repeating an earlier match's pixel pair, in their order. SIFT gives a
    location with several dominant gradient orientations one keypoint per orientation (Lowe,
    IJCV 2004, section 5), and the mutual matching pairs them up one to one: about 10 % of a
    frame's matches were the same two pixels again, counted as inliers twice toward
    ``gates.min_inliers`` and narrowing the covariance as independent measurements would."""
    if len(i1) < 2:
        return i1, i2
    pairs = np.concatenate([xy1[i1], xy2[i2]], axis=1)
    _, first = np.unique(pairs, axis=0, return_index=True)
    if len(first) == len(i1):
        return i1, i2
    keep = np.sort(first)
    return i1[keep], i2[keep]


@dataclasses.dataclass
class _KeyframeFeatures:
    feats: SiftFeatures
    points_map: np.ndarray  # (N, 3) map-frame points of the keypoints (all valid)
    points_cov: np.ndarray  # (N, 3, 3) their map-frame covariances (m^2)

    @property
    def nbytes(self) -> int:
        return int(self.feats.xy.nbytes + self.feats.desc.nbytes + self.points_map.nbytes
                   + self.points_cov.nbytes)


class SiftMatcher:
    """Matches a query frame against map keyframes with SIFT; 3-D points from keyframe depth.

    Implements `base.PairMatcher`, the interface the `Localizer` uses. ``ratio`` Lowe's ratio on
    descriptor distances; ``max_features`` keypoints per image; ``depth_sigma_k`` (1/m) and
    ``pixel_sigma_px`` (pixels) the depth-point covariance model (`core.uncertainty`).

    ``cache_mb`` (MiB) bounds the LRU cache of keyframe features; None: the map's
    ``encoding_cache_mb`` (`KeyframeMap.load`, ``scale.encoding_cache_mb``); 0 recomputes them
    on every use.

    Raises `InputError` when the map has keyframes without depth (the mast3r matcher raises
    `ConfigError` for ``points_source`` 'depth' on such a map).
    """

    name = "sift"

    def __init__(self, kf_map: KeyframeMap, ratio: float = 0.8, max_features: int = 4000,
                 depth_sigma_k: float = 1.6e-3, pixel_sigma_px: float = 1.0,
                 cache_mb: Optional[float] = None):
        require_map_depth(kf_map, "sift")  # check-params tells it offline by the same rule
        self.kf_map = kf_map
        self.ratio = float(ratio)
        self.max_features = int(max_features)
        self.depth_sigma_k, self.pixel_sigma_px = float(depth_sigma_k), float(pixel_sigma_px)
        if cache_mb is None:
            cache_mb = getattr(kf_map, "encoding_cache_mb", 1024.0)
        self.cache_bytes = max(0, int(float(cache_mb) * 2 ** 20))
        self._cache: collections.OrderedDict[int, _KeyframeFeatures] = \
            collections.OrderedDict()
        self._cached_bytes = 0
        self._warned_no_depth = False  # once per matcher (`_keyframe`)

    def global_descriptors(self) -> np.ndarray:
        """(K, D) unit-norm retrieval descriptors of the keyframes."""
        return self.kf_map.thumbnail_descriptors()

    def query_state(self, frame: Frame) -> SiftFeatures:
        return extract_sift(frame.rgb, self.max_features)

    def query_feature_count(self, state: SiftFeatures) -> int:
        """The query's SIFT keypoints (a frame's failure reason names too few)."""
        return len(state)

    def query_descriptor(self, frame: Frame, state: SiftFeatures) -> np.ndarray:
        return thumbnail_descriptor(frame.rgb)

    def rerank(self, frame: Frame, state: SiftFeatures, order: Sequence[int]) -> List[int]:
        """Retrieval candidates re-ordered by their number of mutual ratio-test matches with the
        query (cheap once keyframe features are cached; far more reliable than thumbnails)."""
        counts = [len(match_descriptors(self._keyframe(i).feats.desc, state.desc, self.ratio)[0])
                  for i in order]
        return [int(order[j]) for j in np.argsort(-np.asarray(counts), kind="stable")]

    @property
    def cached_bytes(self) -> int:
        """Bytes of keyframe features held by the cache (at most ``cache_bytes``)."""
        return self._cached_bytes

    def _keyframe(self, index: int) -> _KeyframeFeatures:
        hit = self._cache.get(index)
        if hit is not None:
            self._cache.move_to_end(index)
            return hit
        out = self._extract(index)
        if out.nbytes <= self.cache_bytes:    # else served uncached (larger than the cache)
            self._cache_put(index, out)
            while self._cached_bytes > self.cache_bytes:
                _, old = self._cache.popitem(last=False)
                self._cached_bytes -= old.nbytes
        return out

    def _cache_put(self, index: int, out: _KeyframeFeatures) -> None:
        self._cache[index] = out
        self._cached_bytes += out.nbytes

    def _extract(self, index: int) -> _KeyframeFeatures:
        """Keyframe ``index``'s features with their 3-D points and covariances (not cached)."""
        kf = self.kf_map.keyframes[index]
        feats = extract_sift(self.kf_map.image(index), self.max_features)
        K, cam = kf.intrinsics.K, kf.intrinsics
        xy = undistort_pixels(feats.xy, K, cam.dist, cam.distortion_model)
        z = sample_depth(self.kf_map.depth(index), feats.xy)
        ok = np.isfinite(z)
        if len(z) and not ok.any() and not self._warned_no_depth:
            # every match with it would be dropped: frames fail as 'too few correspondences'
            self._warned_no_depth = True
            log.warning("map %s: keyframe %d has no valid depth at any of its %d SIFT features "
                        "(its depth is 0, NaN or negative there): it gives the sift matcher no "
                        "3-D point", self.kf_map.path, kf.id, len(z))
        cam_pts = backproject(xy[ok], z[ok], K)
        pts = transform_points(kf.map_from_cam, cam_pts)
        cov = depth_point_covariance(cam_pts, K, kf.map_from_cam, self.depth_sigma_k,
                                     self.pixel_sigma_px)
        return _KeyframeFeatures(feats.subset(ok), pts, cov)

    def preload(self, indices: Sequence[int]) -> int:
        """Extract and cache the features of keyframes ``indices`` (map-list indices) now, in
        order, as long as the cache holds them without evicting any; returns how many were
        extracted. Raises `MapFormatError` as `correspond` does."""
        n = 0
        for i in indices:
            if i in self._cache:
                continue
            out = self._extract(i)
            if self._cached_bytes + out.nbytes > self.cache_bytes:
                break  # would evict: the cache is full (what it keeps is the live frames' call)
            self._cache_put(i, out)
            n += 1
        return n

    def correspond(self, frame: Frame, state: SiftFeatures, indices: Sequence[int],
                   timings: Dict[str, float]) -> List[Correspondences]:
        """One `Correspondences` per entry of ``indices`` (map-list indices), in that order:
        ``points3d`` map frame (metres), ``points2d`` original (distorted) query pixels. Raises
        `MapFormatError` when a keyframe PNG of a lazily loaded map fails verification."""
        out = []
        for i in indices:
            t0 = time.perf_counter()
            kff = self._keyframe(i)
            t1 = time.perf_counter()
            ik, iq = distinct_pairs(kff.feats.xy, state.xy,
                                    *match_descriptors(kff.feats.desc, state.desc, self.ratio))
            add_time(timings, "matching", time.perf_counter() - t1)
            add_time(timings, "features", t1 - t0)
            out.append(Correspondences(self.kf_map.keyframes[i].id, kff.points_map[ik],
                                       state.xy[iq], kff.feats.xy[ik], kff.points_cov[ik]))
        return out

    def close(self) -> None:
        self._cache.clear()
        self._cached_bytes = 0
