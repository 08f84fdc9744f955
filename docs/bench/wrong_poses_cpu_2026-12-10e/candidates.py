"""Covariance candidates on the kept PnP inputs: how honest each is for the wrong poses and for
the right ones (NEES, coverage) and what it costs in sharpness.

usage: python candidates.py LABEL=KEPT.pkl=GROUNDTRUTH.txt [...]
KEPT.pkl: ../honest_covariance_cpu_2026-12-07zk/capture.py's output. Each candidate rebuilds a
frame's covariance from its inliers as `solve_pnp` does (first order with the keyframe-pose
term, `pose_covariance`; the data part without it; `with_model_selection` of the draws' spread,
the localizer's seed 0 and RANSAC settings) and scores the error against ground truth in the
product's convention (`core.pnp`: dc = c_est - c_gt, dtheta = rotvec(R_est R_gt^T), the sign
`replay.metrics.mahalanobis_sq` uses). Per candidate and run group: frames, position coverage
of the chi2(3) 95 % region (calibrated 0.95), frames beyond its 99.73 % bound (d^2 > 14.16),
mean position NEES (calibrated 3), mean 6-D NEES (calibrated 6), the same for rotation, the
median worst-axis position sigma (cm) and the wrong poses' position d (sqrt of NEES).
"""

import dataclasses
import pickle
import sys

import numpy as np
from scipy.spatial.transform import Rotation

from scipy.stats import chi2

from mast3r_ros.core.pnp import UncertaintyModel, model_selection
from mast3r_ros.core.pnp.covariance import pose_covariance
from mast3r_ros.core.pnp.model_selection import (depth_band, model_selection_cov,
                                                 with_model_selection)

_FOUND = []
# raw second moments: the draws that found a pose are noted, each candidate scales them itself
model_selection.spread_factor = lambda found: (_FOUND.append(found), 1.0)[1]


def factor(found, quantile):
    """found / chi2.ppf(quantile, found): the variance a spread of ``found`` draws that small
    comes from with 1 - quantile confidence (the shipped quantile: 0.25)."""
    return found / chi2.ppf(quantile, found)


def raw_spread(T, X, xu, K, size, draws, seed):
    """(unscaled second moment, draws that found a pose) or (None, 0)."""
    _FOUND.clear()
    s = model_selection_cov(T, X, xu, K, size, draws=draws, seed=seed, **RANSAC)
    return (s, _FOUND[-1]) if s is not None else (None, 0)

KF = UncertaintyModel(None, 0.01, float(np.radians(1.0)))
RANSAC = dict(backend="poselib", reproj_error_px=5.0, max_iterations=1000, confidence=0.9999,
              max_points=512)
GROUPS = {"redkitchen": ("normal", "occluded", "far", "blur15"),
          "synthetic": ("d405_mm", "aspect_16x9", "aspect_4x3", "demo")}


def ground_truth(path):
    gt = {}
    for line in open(path):
        if line.strip() and not line.startswith("#"):
            v = [float(s) for s in line.split()]
            T = np.eye(4)
            T[:3, :3], T[:3, 3] = Rotation.from_quat(v[4:8]).as_matrix(), v[1:4]
            gt[round(v[0] * 1e9)] = T
    return gt


def frames_of(label, kept, gt_path):
    gt = ground_truth(gt_path)
    keys = np.array(sorted(gt))
    out = []
    for f in pickle.load(open(kept, "rb")):
        G = gt[keys[np.argmin(abs(keys - f["stamp"]))]]
        T, X, xu, K, inl = f["T"], f["X"], f["xu"], f["K"], f["inl"]
        e = np.r_[T[:3, 3] - G[:3, 3], Rotation.from_matrix(T[:3, :3] @ G[:3, :3].T).as_rotvec()]
        S = f["S"][inl] if f["S"] is not None else None
        args = (T, X[inl], xu[inl], K)
        base = pose_covariance(*args, points_cov=S, groups=f["groups"][inl],
                               group_centres=f["centres"], model=KF)
        va = pose_covariance(*args, points_cov=S, groups=f["groups"][inl],
                             group_centres=f["centres"],
                             model=dataclasses.replace(KF, view_angle_sigma_ratio=0.1))
        data = pose_covariance(*args, points_cov=S, model=UncertaintyModel(None, 0.0, 0.0))
        ok = np.isfinite(X).all(1) & np.isfinite(xu).all(1)
        size = (f["width"], f["height"])
        spread = {(d, seed): raw_spread(T, X[ok], xu[ok], K, size, d, seed)
                  for d, seed in ((8, 0), (8, 1), (8, 2), (16, 0), (32, 0))}
        out.append(dict(run=label, e=e, published=f["cov"], base=base, va=va, data=data,
                        spread=spread, band=depth_band(T, X[inl]),
                        wrong=bool(np.linalg.norm(e[:3]) > 0.10
                                   or np.degrees(np.linalg.norm(e[3:])) > 5)))
    return out


def ms(f, draws, band, seed=0, quantile=0.25, base="base"):
    s, found = f["spread"][draws, seed]
    if s is None or not f["band"] < band:
        return f[base]
    return with_model_selection(f[base], f["data"], s * factor(found, quantile))


CANDIDATES = {
    "published (results.jsonl)": lambda f: f["published"],
    "first order only (draws 0)": lambda f: f["base"],
    "shipped: 8 draws, band < 0.125": lambda f: ms(f, 8, 0.125),
    "  shipped, draw seed 1": lambda f: ms(f, 8, 0.125, seed=1),
    "  shipped, draw seed 2": lambda f: ms(f, 8, 0.125, seed=2),
    "8 draws, every frame": lambda f: ms(f, 8, 1.0),
    "16 draws, band < 0.125": lambda f: ms(f, 16, 0.125),
    "32 draws, band < 0.125": lambda f: ms(f, 32, 0.125),
    "8 draws, spread quantile 0.10": lambda f: ms(f, 8, 0.125, quantile=0.10),
    "8 draws, spread quantile 0.05": lambda f: ms(f, 8, 0.125, quantile=0.05),
    "  quantile 0.05, draw seed 1": lambda f: ms(f, 8, 0.125, seed=1, quantile=0.05),
    "  quantile 0.05, draw seed 2": lambda f: ms(f, 8, 0.125, seed=2, quantile=0.05),
    "32 draws, spread quantile 0.05": lambda f: ms(f, 32, 0.125, quantile=0.05),
    "8 draws + view angle 0.1 (opt-in today)": lambda f: ms(f, 8, 0.125, base="va"),
}


def score(frames, cov_of):
    d2p, d2r, d6, sig, wrong_d = [], [], [], [], []
    for f in frames:
        C = cov_of(f)
        e = f["e"]
        d2p.append(e[:3] @ np.linalg.solve(C[:3, :3], e[:3]))
        d2r.append(e[3:] @ np.linalg.solve(C[3:, 3:], e[3:]))
        d6.append(e @ np.linalg.solve(C, e))
        sig.append(100 * np.sqrt(np.linalg.eigvalsh(C[:3, :3])[-1]))
        if f["wrong"]:
            wrong_d.append(np.sqrt(d2p[-1]))
    d2p, d2r, d6 = map(np.array, (d2p, d2r, d6))
    return (f"{len(frames):3d}  {np.mean(d2p <= 7.815):.2f}  {int(np.sum(d2p > 14.16)):2d}  "
            f"{np.mean(d2p):5.2f}  {np.mean(d6):5.2f}  {np.mean(d2r <= 7.815):.2f}  "
            f"{np.mean(d2r):5.2f}  {np.median(sig):5.2f}  "
            + " ".join(f"{d:.2f}" for d in wrong_d))


def main(*specs):
    frames = []
    for spec in specs:
        frames += frames_of(*spec.split("="))
    print("group       frames  pos95  >3sig  NEESpos  NEES6  rot95  NEESrot  sigma_cm  "
          "wrong d_pos")
    for name, cov_of in CANDIDATES.items():
        print(name)
        for g, runs in list(GROUPS.items()) + [(r, (r,)) for r in ("occluded", "far")]:
            sel = [f for f in frames if f["run"] in runs]
            if sel:
                print(f"  {g:10s} " + score(sel, cov_of))


if __name__ == "__main__":
    main(*sys.argv[1:])
