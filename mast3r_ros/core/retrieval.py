"""Candidate keyframes: global-descriptor retrieval when lost, pose proximity while tracking.

Two global descriptors, both unit-norm float32 vectors compared by cosine similarity:

* `thumbnail_descriptor` -- weight-free, for the SIFT baseline and as a fallback: a blurred,
  contrast-normalised 16x12 grey thumbnail, 8-bin gradient-orientation histograms on a 4x4 grid
  (a tiny GIST/HOG) and the 4x4 layout of the Lab chroma, each part unit-norm. Cheap (~1 ms) and
  tolerant to small viewpoint changes.
* `pooled_descriptor` -- for MASt3R: the mean over tokens of the cached encoder features of the
  image, L2-normalised. It costs nothing because the encoder runs anyway (keyframes: cached in the
  map).
"""

from __future__ import annotations

from typing import List

import cv2
import numpy as np

from .errors import InputError
from .geometry import viewing_angle_deg

THUMBNAIL_KIND = "thumb-v2"
_THUMB_W, _THUMB_H = 16, 12
_GRID, _BINS = 4, 8


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return (v / n).astype(np.float32) if n > 1e-12 else np.zeros_like(v, dtype=np.float32)


def thumbnail_descriptor(rgb: np.ndarray) -> np.ndarray:
    """(D,) float32 unit-norm weight-free global descriptor of an (H, W, 3) uint8 RGB image.

    Raises `InputError` for anything else (a grey or float image, a list: was a ``cv2.error``).
    """
    if (not isinstance(rgb, np.ndarray) or rgb.ndim != 3 or rgb.shape[2] != 3
            or rgb.dtype != np.uint8):
        got = (f"{rgb.shape} {rgb.dtype}" if isinstance(rgb, np.ndarray)
               else type(rgb).__name__)
        raise InputError(f"thumbnail_descriptor takes an (H, W, 3) uint8 RGB image, got {got}")
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    small = cv2.resize(gray, (128, 96), interpolation=cv2.INTER_AREA).astype(np.float32)
    small = cv2.GaussianBlur(small, (0, 0), 1.5)
    thumb = cv2.resize(small, (_THUMB_W, _THUMB_H), interpolation=cv2.INTER_AREA).reshape(-1)
    thumb = _unit(thumb - thumb.mean())
    gx = cv2.Sobel(small, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(small, cv2.CV_32F, 0, 1, ksize=3)
    mag = np.sqrt(gx ** 2 + gy ** 2)
    ang = (np.arctan2(gy, gx) % np.pi) / np.pi * _BINS  # unsigned orientation
    b = np.minimum(ang.astype(np.int64), _BINS - 1)
    h, w = small.shape
    cell = (np.arange(h)[:, None] * _GRID // h) * _GRID + (np.arange(w)[None, :] * _GRID // w)
    hist = np.bincount((cell * _BINS + b).reshape(-1), weights=np.sqrt(mag).reshape(-1),
                       minlength=_GRID * _GRID * _BINS).astype(np.float32)
    hist = _unit(np.sqrt(hist))  # Hellinger-style power normalisation
    lab = cv2.cvtColor(cv2.resize(rgb, (_GRID, _GRID), interpolation=cv2.INTER_AREA),
                       cv2.COLOR_RGB2LAB).astype(np.float32)
    colour = _unit(lab[..., 1:].reshape(-1) - 128.0)  # chroma layout: a, b per grid cell
    return _unit(np.concatenate([thumb, hist, colour]))


def pooled_descriptor(feats: np.ndarray) -> np.ndarray:
    """(C,) float32 unit-norm mean of encoder token features (N, C)."""
    f = np.asarray(feats, dtype=np.float32).reshape(-1, np.shape(feats)[-1])
    return _unit(f.mean(axis=0))


def rank_by_similarity(query: np.ndarray, database: np.ndarray, top_k: int) -> np.ndarray:
    """Indices (<= top_k,) of the database rows (K, D) most similar to ``query`` (D,), best first.

    Rows are assumed unit-norm, so the dot product is the cosine similarity. Ties go to the lower
    index; ``top_k`` <= 0 gives none. Returns int64. Raises `InputError` when the database is
    not (K, D) or the query not (D,).
    """
    db = np.asarray(database, np.float32)
    q = np.asarray(query, np.float32).reshape(-1)
    if not len(db) or top_k <= 0:
        return np.zeros(0, dtype=np.int64)
    if db.ndim != 2 or db.shape[1] != q.size:
        raise InputError(f"rank_by_similarity: database must be (K, D) and query (D,), got "
                         f"{db.shape} and {q.shape}")
    order = np.argsort(-(db @ q), kind="stable")
    return order[:int(top_k)].astype(np.int64)


def pose_consistent_subset(order: np.ndarray, poses: np.ndarray, count: int) -> List[int]:
    """Pick ``count`` of the ranked candidates that look at the same place as the best one.

    Retrieval ranks are noisy; the top candidate plus its nearest (in position and viewing
    direction) companions among the ranked list gives matches that agree geometrically, so a
    single wrong retrieval cannot spread the fused 3-D points over two places.

    ``order``: candidate keyframe indices, best first; ``poses``: (N, 4, 4) ``map_from_cam``
    indexed by them. Returns at most ``count`` indices, the best first. Raises `InputError`
    for ``count`` < 1 (the slice ``[:count - 1]`` returned all but the last candidate for 0).
    """
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 1:
        raise InputError(f"pose_consistent_subset: count must be a whole number >= 1 (the "
                         f"keyframes to keep), got {count!r}")
    order = [int(i) for i in order]
    if not order:
        return []
    best = order[0]
    rest = np.array(order[1:], dtype=np.int64)
    if not len(rest):
        return [best]
    cost = pose_distance(poses[rest], poses[best])
    return [best] + [int(i) for i in rest[np.argsort(cost, kind="stable")][:count - 1]]


def pose_distance(poses: np.ndarray, ref: np.ndarray, metres_per_radian: float = 0.5
                  ) -> np.ndarray:
    """Distance-like cost (K,) between poses (K, 4, 4) and a pose: centre distance in metres plus
    ``metres_per_radian`` times the angle between the optical axes."""
    ref = np.asarray(ref, dtype=np.float64)
    poses = np.asarray(poses).reshape(-1, 4, 4)
    d = np.linalg.norm(poses[:, :3, 3] - ref[:3, 3], axis=1)
    return d + metres_per_radian * np.radians(viewing_angle_deg(poses, ref))


def nearest_to_prior(poses: np.ndarray, prior: np.ndarray, count: int, radius_m: float,
                     max_angle_deg: float = 90.0) -> List[int]:
    """Up to ``count`` keyframe indices near a ``map_from_cam`` prior, best first.

    Keyframes farther than ``radius_m`` or whose optical axis differs by more than
    ``max_angle_deg`` (they cannot see what the prior camera sees) are not candidates; an empty
    list means the prior is outside the map and the caller should fall back to retrieval.
    """
    prior = np.asarray(prior, dtype=np.float64)
    poses = np.asarray(poses).reshape(-1, 4, 4)
    if not len(poses):
        return []
    d = np.linalg.norm(poses[:, :3, 3] - prior[:3, 3], axis=1)
    ok = (d <= radius_m) & (viewing_angle_deg(poses, prior) <= max_angle_deg)
    idx = np.flatnonzero(ok)
    cost = pose_distance(poses[idx], prior)
    return [int(i) for i in idx[np.argsort(cost, kind="stable")][:count]]
