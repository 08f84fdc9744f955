"""The pose's model-selection spread: RANSAC and refinement re-run on resampled matches.

The first-order covariance (`covariance._covariance_f`) is the uncertainty of a least-squares
fit to a *given* inlier set. It says nothing about the choice of that set: RANSAC picks the
consensus, and where the matches lie on a small patch of the image in a narrow depth band, a
turn of the camera about the scene and a sideways shift look alike, so a handful of matches at
the edge of the threshold can swing the pose by 15-20 cm while the chosen inliers still fit it
at ~2 px -- a covariance 5-10x too small (docs/bench/wrong_pose_tail_cpu_2026-12-07ze,
docs/bench/honest_covariance_cpu_2026-12-07zk). `model_selection_cov` measures that choice
directly: it re-runs the whole estimator (RANSAC, then the refine/re-score fixed point) on
bootstrap draws of the frame's correspondences and returns the second moment of the poses it
finds about the published one; `solve.solve_pnp` (``covariance.model_selection_draws``; 0 =
off) then publishes `with_model_selection`: the first-order covariance with its data part (the
pixel and 3-D point noise of the inliers) replaced by the larger of that part and the spread,
direction by direction. Not their sum: the draws' spread holds the noise of the matches the
first-order part models (on well-spread matches it is about that part), and adding both would
count it twice. The keyframe-pose and view-angle terms stay added: the draws keep the map fixed.

The draws resample image *cells* (``cell_px`` squares of the undistorted image), not single
matches: matches on one textured patch share their errors (the same surface, the same depth
bias, the same keyframe), so the patch, not the match, is the independent unit (a block
bootstrap; Efron & Tibshirani, *An Introduction to the Bootstrap*, 1993). A pose that
rests on a few patches then moves between the draws, one that rests on many does not.

The draws run only where RANSAC's choice can be in doubt (`needs_draws`): when the inliers'
depths span a narrow band, ``(z90 - z10) / (z90 + z10)`` below ``model_selection_depth_band``
(default 0.125). All five wrong poses of the redkitchen runs (15-23 cm off, published 6-10
sigma away) had a band of 0.043-0.068, the right poses of the normal query 0.076 and up (3
of 50 under 0.125): the trigger skips the frames whose depth spread resolves the turn/shift
ambiguity, which is most of them, and a false trigger costs only time and a slightly larger,
still honest covariance (docs/bench/honest_covariance_cpu_2026-12-07zo). With few draws the
spread is itself a noisy estimate: `model_selection_cov` returns the draws' sum of squares
over the 25 % quantile of chi2(draws) -- per direction the variance a spread that small would
come from with 75 % confidence -- so 8 draws (x1.58) are about as honest as 16 (x1.34) at half
the cost (the same bench).

Honest on average is not the same from seed to seed: the draws are a random sample, and where
they run the poses they find have a heavy tail (alternatives up to 0.5-1 m away holding as many
of the draw's matches as the published pose), so the spread's sampling noise is large and falls
only as the square root of the draws (Efron & Tibshirani, sec. 6.4: the Monte-Carlo part of a
bootstrap standard error grows with the replications' kurtosis and falls as 1 / sqrt(draws)).
With 8 draws one frame's sigma moved 2.0x between seeds on the median redkitchen frame that
runs them (up to 7.3x), with 32 1.6x (up to 2.8x), with 64 1.4x
(docs/bench/covariance_seed_cpu_2026-12-11g: the figures, where the variation comes from --
mostly which cells a draw takes -- and the cost). The localizer ships 32: a covariance that a
filter weighs frames by should depend on the frame, not on a seed, and the extra draws run
only on the narrow-band frames. The rest of the seed's part stays: docs/ros_node.md states it.
"""

from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

from ..geometry import invert_pose
from .linearise import _Rows
from .ransac import RANSAC_MAX_POINTS, _ransac_opencv, _ransac_poselib
from .refine import MIN_POINTS, _refine_inliers

# the image cell that one bootstrap unit holds (pixels): a few times the 5 px inlier threshold,
# the size of one textured patch's matches; on redkitchen (VGA, SIFT) a frame's matches fill
# 25-136 cells (median 45-83 per run)
CELL_PX = 40.0
# the draws run when the inliers' depth band (`depth_band`) is below this (the shipped
# ``covariance.model_selection_depth_band``; module docstring)
DEPTH_BAND = 0.125
# the small-sample quantile of the draws' spread (module docstring, `spread_factor`)
SPREAD_QUANTILE = 0.25


def depth_band(map_from_cam: np.ndarray, X: np.ndarray) -> float:
    """``(z90 - z10) / (z90 + z10)`` of the depths ``z`` (metres, along the optical axis) of
    the map points ``X`` (N, 3) seen from ``map_from_cam`` (4x4): 0 for points at one depth,
    towards 1 for a band from the camera to far away; nan for no points or a non-positive
    denominator (points behind the camera)."""
    if len(X) == 0:
        return float("nan")
    z = (np.asarray(X, np.float64) - map_from_cam[:3, 3]) @ map_from_cam[:3, 2]
    z10, z90 = np.percentile(z, [10.0, 90.0])
    return float((z90 - z10) / (z90 + z10)) if z90 + z10 > 0 else float("nan")


def needs_draws(map_from_cam: np.ndarray, X_inliers: np.ndarray, max_band: float) -> bool:
    """True when the inliers ``X_inliers`` (N, 3) span a depth band (`depth_band`) below
    ``max_band``, or it is undefined: the frames whose model selection `solve_pnp` measures
    (module docstring). ``max_band`` >= 1 takes every frame."""
    if max_band >= 1.0:
        return True
    band = depth_band(map_from_cam, X_inliers)
    return not band >= max_band  # nan (undefined) draws too


def spread_factor(found: int) -> float:
    """``found / chi2.ppf(SPREAD_QUANTILE, found)``: how much `model_selection_cov` scales the
    second moment of ``found`` draws (module docstring): 1.58 for 8, 1.34 for 16."""
    from scipy.special import gammaincinv  # chi2.ppf(p, n) = 2 gammaincinv(n / 2, p)

    return float(found / (2.0 * gammaincinv(0.5 * found, SPREAD_QUANTILE)))


def model_selection_cov(map_from_cam: np.ndarray, X: np.ndarray, xu: np.ndarray, K: np.ndarray,
                        size: Tuple[int, int], *, backend: str, reproj_error_px: float,
                        max_iterations: int, confidence: float, draws: int, seed: int,
                        cell_px: float = CELL_PX,
                        max_points: int = RANSAC_MAX_POINTS) -> Optional[np.ndarray]:
    """6x6 second moment (core.pnp convention: ``dc`` metres then ``dtheta`` radians, map
    axes), scaled up for the few draws, of the poses the estimator finds on ``draws``
    bootstrap draws of the image cells about ``map_from_cam`` (4x4, camera optical frame ->
    map, metres: the published pose).

    ``X`` (N, 3) finite map points (metres), ``xu`` (N, 2) their undistorted query pixels,
    ``K`` 3x3, ``size`` (width, height) pixels; ``backend`` 'poselib' or 'opencv' (resolved);
    the RANSAC threshold, iterations and confidence are `solve_pnp`'s. Each draw takes as many
    cells as the frame has, with replacement (seeded by ``seed`` and the draw's index:
    deterministic), hypothesises on at most ``max_points`` of the drawn matches (0 = all) and
    refines on all of them (`refine._refine_inliers`). The second moment is multiplied by
    `spread_factor` of the number of draws that found a pose (module docstring). A draw that
    finds no pose or fewer than `MIN_POINTS` inliers is left out (it cannot say where the pose
    would go); returns None when no draw gives a pose, for ``draws`` < 1 or fewer than
    `MIN_POINTS` matches. Cost: ``draws`` RANSAC runs and refinements of N matches
    (docs/bench/honest_covariance_cpu_2026-12-07zk: 1-3 ms a draw on 100-300 SIFT matches with
    poselib, on a loaded 2-core CPU); `solve_pnp` runs them only when `needs_draws`.
    """
    if draws < 1 or len(X) < MIN_POINTS:
        return None
    from scipy.spatial.transform import Rotation  # imported only when the term is on

    cells = np.floor(xu / float(cell_px)).astype(np.int64)
    _, lab = np.unique(cells[:, 0] * 1_000_003 + cells[:, 1], return_inverse=True)
    lab = lab.reshape(-1)
    order = np.argsort(lab, kind="stable")
    starts = np.concatenate([[0], np.flatnonzero(np.diff(lab[order])) + 1, [len(lab)]])
    G = len(starts) - 1
    counts = np.diff(starts)
    R0, c0 = map_from_cam[:3, :3], map_from_cam[:3, 3]
    out = np.zeros((6, 6))
    found = 0
    for b in range(int(draws)):
        rng = np.random.default_rng((int(seed), b))
        pick = rng.integers(0, G, G)
        # the drawn cells' members: a run of each picked cell's slice of ``order``
        n_each = counts[pick]
        offs = np.repeat(starts[pick] - np.concatenate([[0], np.cumsum(n_each)[:-1]]), n_each)
        idx = order[np.arange(int(n_each.sum())) + offs]
        Xb, xb = np.ascontiguousarray(X[idx]), np.ascontiguousarray(xu[idx])
        Xh, xh = Xb, xb
        if 0 < max_points < len(idx):  # RANSAC's subset, as solve_pnp's
            sub = np.sort(rng.choice(len(idx), max_points, replace=False))
            Xh, xh = np.ascontiguousarray(Xb[sub]), np.ascontiguousarray(xb[sub])
        if backend == "poselib":
            cam_from_map = _ransac_poselib(Xh, xh, K, size, reproj_error_px, max_iterations,
                                           confidence, int(rng.integers(0, 2 ** 31)))
        else:
            cam_from_map = _ransac_opencv(Xh, xh, K, reproj_error_px, max_iterations,
                                          confidence, 0)
        if cam_from_map is None or not np.isfinite(cam_from_map).all():
            continue
        rows = _Rows(np.ascontiguousarray(Xb.T), np.ascontiguousarray(xb.T), K,
                     np.ones(len(idx), bool), reproj_error_px)
        T, inl = _refine_inliers(invert_pose(cam_from_map), rows)[:2]
        if int(np.count_nonzero(inl)) < MIN_POINTS or not np.isfinite(T).all():
            continue
        d = np.concatenate([T[:3, 3] - c0, Rotation.from_matrix(T[:3, :3] @ R0.T).as_rotvec()])
        out += np.outer(d, d)
        found += 1
    if not found:
        return None
    return out / found * spread_factor(found)


def loewner_max(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """The smallest-in-each-direction covariance at least ``A`` and at least ``B`` (6x6
    symmetric; ``A`` positive definite, ``B`` positive semi-definite): ``A^1/2 U max(L, 1) U^T
    A^1/2`` with ``U L U^T = A^-1/2 B A^-1/2``. Equals ``A`` when ``B <= A`` and ``B`` when
    ``B >= A``."""
    w, V = np.linalg.eigh(0.5 * (A + A.T))
    w = np.maximum(w, np.finfo(np.float64).tiny)
    Ah, Aih = (V * np.sqrt(w)) @ V.T, (V / np.sqrt(w)) @ V.T
    L, U = np.linalg.eigh(Aih @ (0.5 * (B + B.T)) @ Aih)
    out = Ah @ (U * np.maximum(L, 1.0)) @ U.T @ Ah
    return 0.5 * (out + out.T)


def with_model_selection(cov: np.ndarray, data_cov: np.ndarray,
                         spread: np.ndarray) -> np.ndarray:
    """The published 6x6 covariance (module docstring): ``cov`` (the full first-order one) with
    its data part ``data_cov`` (the same without the keyframe-pose and view-angle terms)
    replaced by `loewner_max` of it and the draws' ``spread`` (`model_selection_cov`)."""
    out = cov - data_cov + loewner_max(data_cov, spread)
    return 0.5 * (out + out.T)
