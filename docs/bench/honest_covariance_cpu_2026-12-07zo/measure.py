"""Per-frame trigger features, draw spreads and their costs on the kept PnP inputs.

usage: python measure.py LABEL KEPT.pkl GROUNDTRUTH.txt OUT.pkl
KEPT.pkl: ../honest_covariance_cpu_2026-12-07zk/capture.py. For each published frame: the
position/rotation error against the ground truth, the first-order covariance with and without
the keyframe-pose term, the trigger features (inlier image coverage: the fraction of the
image's 40 px cells holding an inlier; the inliers' depth band (z90 - z10) / z50 and
(z90 - z10) / (z90 + z10); the bounding box of the inliers' pixels (5-95 %) over the image;
the largest canonical correlation of the position and rotation blocks of the data covariance),
and the 6x6 spreads of: the shipped draws (full RANSAC + refinement; 16 and 8 draws, seeds 0-2),
refine-only draws (the published pose refined with re-scoring on resampled cells of all
matches, 16 and 8; or of the inliers only, 16), each timed (wall clock, this machine).
The spreads are kept unscaled (model_selection.spread_factor set to 1 here): score.py applies
the small-sample factor of each candidate. score.py reads OUT.pkl.
"""
import pickle
import sys
import time

import numpy as np
from scipy.spatial.transform import Rotation
from mast3r_ros.core.pnp import UncertaintyModel
from mast3r_ros.core.pnp.covariance import pose_covariance
from mast3r_ros.core.pnp import model_selection
from mast3r_ros.core.pnp.model_selection import CELL_PX, model_selection_cov
from mast3r_ros.core.pnp.linearise import _Rows
from mast3r_ros.core.pnp.refine import _refine_inliers, MIN_POINTS

KF = UncertaintyModel(None, 0.01, float(np.radians(1.0)))
NOKF = UncertaintyModel(None, 0.0, 0.0)
model_selection.spread_factor = lambda found: 1.0  # raw second moments (docstring)

def gt_of(path):
    gt = {}
    for line in open(path):
        if line.strip() and not line.startswith("#"):
            v = [float(s) for s in line.split()]
            T = np.eye(4)
            T[:3, :3], T[:3, 3] = Rotation.from_quat(v[4:8]).as_matrix(), v[1:4]
            gt[round(v[0] * 1e9)] = T
    return gt


def cells(x, cell=CELL_PX):
    key = np.floor(x / cell).astype(np.int64)
    _, lab = np.unique(key[:, 0] * 1_000_003 + key[:, 1], return_inverse=True)
    return lab.reshape(-1)


def _isqrt(A):
    w, V = np.linalg.eigh(A)
    return (V / np.sqrt(w)) @ V.T


def cheap_draws(T0, X, xu, K, draws, seed, thr=5.0, inliers_only=False, inl=None):
    """refine-only draws: resample 40 px cells, _refine_inliers from the published pose."""
    if inliers_only:
        X, xu = X[inl], xu[inl]
    lab = cells(xu)
    G = lab.max() + 1
    order = np.argsort(lab, kind="stable")
    starts = np.concatenate([[0], np.flatnonzero(np.diff(lab[order])) + 1, [len(lab)]])
    counts = np.diff(starts)
    R0, c0 = T0[:3, :3], T0[:3, 3]
    D = []
    for b in range(draws):
        rng = np.random.default_rng((seed, b))
        pick = rng.integers(0, G, G)
        n_each = counts[pick]
        offs = np.repeat(starts[pick] - np.concatenate([[0], np.cumsum(n_each)[:-1]]), n_each)
        idx = order[np.arange(int(n_each.sum())) + offs]
        rows = _Rows(np.ascontiguousarray(X[idx].T), np.ascontiguousarray(xu[idx].T), K,
                     np.ones(len(idx), bool), thr)
        T, i2 = _refine_inliers(T0, rows)[:2]
        if int(np.count_nonzero(i2)) < MIN_POINTS or not np.isfinite(T).all():
            continue
        dr = Rotation.from_matrix(T[:3, :3] @ R0.T).as_rotvec()
        D.append(np.concatenate([T[:3, 3] - c0, dr]))
    D = np.array(D).reshape(-1, 6)
    return D


def main(label, kept, gtp, outp):
    frames = pickle.load(open(kept, "rb"))
    gt = gt_of(gtp)
    keys = np.array(sorted(gt))
    rows = []
    for f in frames:
        G = gt[keys[np.argmin(abs(keys - f["stamp"]))]]
        T = f["T"]
        ep = T[:3, 3] - G[:3, 3]
        er = Rotation.from_matrix(G[:3, :3] @ T[:3, :3].T).as_rotvec()
        X, xu, K, inl = f["X"], f["xu"], f["K"], f["inl"]
        ok = np.isfinite(X).all(1) & np.isfinite(xu).all(1)
        S = f["S"][inl] if f["S"] is not None else None
        t0 = time.perf_counter()
        base = pose_covariance(T, X[inl], xu[inl], K, points_cov=S, groups=f["groups"][inl],
                               group_centres=f["centres"], model=KF)
        t_base = time.perf_counter() - t0
        data = pose_covariance(T, X[inl], xu[inl], K, points_cov=S, model=NOKF)
        # features
        t0 = time.perf_counter()
        W, H = f["width"], f["height"]
        ncell = int(np.ceil(W / CELL_PX) * np.ceil(H / CELL_PX))
        xi = xu[inl]
        occ = len(np.unique(np.floor(xi / CELL_PX).astype(np.int64) @ np.array([1_000_003, 1])))
        cover = occ / ncell
        z = ((X[inl] - T[:3, 3]) @ T[:3, :3])[:, 2]
        band = (np.percentile(z, 90) - np.percentile(z, 10)) / np.median(z)
        # bbox area fraction of inlier pixels (5-95 pct)
        lo, hi = np.percentile(xi, 5, axis=0), np.percentile(xi, 95, axis=0)
        bbox = float(np.prod(hi - lo) / (W * H))
        # coupling: largest canonical correlation position/rotation in data cov
        Cc = _isqrt(data[:3, :3]) @ data[:3, 3:] @ _isqrt(data[3:, 3:])
        coup = float(np.linalg.svd(Cc, compute_uv=False)[0])
        t_feat = time.perf_counter() - t0
        sig_data = float(np.sqrt(np.linalg.eigvalsh(data[:3, :3])[-1]))
        # full draws: 16 and 8 (timed)
        sp = {}
        tm = {}
        for d in (16, 8):
            t0 = time.perf_counter()
            sp[f"full{d}"] = model_selection_cov(T, X[ok], xu[ok], K, (W, H), backend="poselib",
                reproj_error_px=5.0, max_iterations=1000, confidence=0.9999, draws=d, seed=0)
            tm[f"full{d}"] = time.perf_counter() - t0
        for d in (16, 8):
            t0 = time.perf_counter()
            D = cheap_draws(T, X[ok], xu[ok], K, d, 0)
            tm[f"cheap{d}"] = time.perf_counter() - t0
            sp[f"cheap{d}"] = D.T @ D / max(len(D), 1) if len(D) else None
        t0 = time.perf_counter()
        D = cheap_draws(T, X[ok], xu[ok], K, 16, 0, inliers_only=True, inl=inl[ok])
        tm["cheapinl16"] = time.perf_counter() - t0
        sp["cheapinl16"] = D.T @ D / max(len(D), 1) if len(D) else None
        z10, z90 = np.percentile(z, [10, 90])
        band2 = (z90 - z10) / (z90 + z10)
        for seed in (1, 2):
            for d in (8, 16):
                sp[f"full{d}s{seed}"] = model_selection_cov(
                    T, X[ok], xu[ok], K, (W, H), backend="poselib", reproj_error_px=5.0,
                    max_iterations=1000, confidence=0.9999, draws=d, seed=seed)
        rows.append(dict(band2=band2, stamp=f["stamp"], ep=ep, er=er, base=base, data=data,
                         n=int(len(X)), nin=int(inl.sum()), cover=cover, band=band,
                         bbox=bbox, coup=coup,
                         sig_data=sig_data, t_base=t_base, t_feat=t_feat, sp=sp, tm=tm))
    pickle.dump(rows, open(outp, "wb"))

if __name__ == "__main__":
    main(*sys.argv[1:])
