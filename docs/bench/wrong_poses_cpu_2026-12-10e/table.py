"""Per published pose: error, reported sigma and the candidate separating features.

usage: python table.py OUT.csv LABEL=KEPT.pkl=GROUNDTRUTH.txt=RESULTS.jsonl [...]
KEPT.pkl: ../honest_covariance_cpu_2026-12-07zk/capture.py's output of a localize run (each
published frame's PnP inputs and result); RESULTS.jsonl that run's results.jsonl (the published
covariance and the inlier ratio as the product reports them). One CSV row per published frame:
  err_cm, err_deg          position / rotation error against ground truth (no alignment)
  sigma_cm                 the published worst-axis position sigma (sqrt of the largest
                           eigenvalue of the covariance's position block)
  d_pos                    Mahalanobis distance of the position error under the published
                           covariance (chi2(3): 3.76 = 3 sigma at 99.73 %)
  n_inl, inl_ratio         PnP inliers, inliers / matches
  hull                     the inliers' convex hull (undistorted pixels) / image area
  cells                    40 px image cells holding an inlier / cells in the image
  minor_px                 the inliers' pixel spread along their minor axis (2 sd)
  band                     (z90 - z10) / (z90 + z10) of the inliers' depths (the draws' trigger)
  draw_cm                  worst-axis position sigma of the model-selection spread, 8 draws,
                           seed 0 (the shipped term, computed here on every frame, x1.58)
  draw16_cm                the same with 16 draws (x1.34), seed 1 (a second look at its noise)
  rms_px, med_px, p90_px   the inliers' reprojection residuals at the published pose
  kfs                      keyframes holding inliers
  ms_ran                   1 when the shipped trigger (band < 0.125) ran the draws on the frame
"""

import csv
import json
import pickle
import sys

import cv2
import numpy as np
from scipy.spatial.transform import Rotation

from mast3r_ros.core.pnp.model_selection import (CELL_PX, DEPTH_BAND, depth_band,
                                                 model_selection_cov)


def ground_truth(path):
    gt = {}
    for line in open(path):
        if line.strip() and not line.startswith("#"):
            v = [float(s) for s in line.split()]
            T = np.eye(4)
            T[:3, :3], T[:3, 3] = Rotation.from_quat(v[4:8]).as_matrix(), v[1:4]
            gt[round(v[0] * 1e9)] = T
    return gt


def worst_sigma_cm(C):
    return 100.0 * float(np.sqrt(max(np.linalg.eigvalsh(C[:3, :3])[-1], 0.0)))


def residuals(T, X, xu, K):
    u = ((X - T[:3, 3]) @ T[:3, :3]) @ K.T
    return np.linalg.norm(u[:, :2] / u[:, 2:3] - xu, axis=1)


def rows_of(label, kept, gt_path, results):
    gt = ground_truth(gt_path)
    keys = np.array(sorted(gt))
    rec = {r["stamp_ns"]: r for r in map(json.loads, open(results)) if r["success"]}
    out = []
    for f in pickle.load(open(kept, "rb")):
        r = rec[f["stamp"]]
        G = gt[keys[np.argmin(abs(keys - f["stamp"]))]]
        T, X, xu, K, inl = f["T"], f["X"], f["xu"], f["K"], f["inl"]
        C = np.array(r["covariance"])
        ep = T[:3, 3] - G[:3, 3]
        er = Rotation.from_matrix(G[:3, :3] @ T[:3, :3].T).as_rotvec()
        W, H = f["width"], f["height"]
        xi, Xi = xu[inl].astype(np.float64), X[inl]
        hull = cv2.contourArea(cv2.convexHull(xi.astype(np.float32))) / (W * H)
        cells = len(np.unique(np.floor(xi / CELL_PX).astype(np.int64) @ np.array([1_000_003, 1])))
        ncell = int(np.ceil(W / CELL_PX) * np.ceil(H / CELL_PX))
        minor = 2.0 * float(np.sqrt(np.linalg.eigvalsh(np.cov(xi.T))[0]))
        band = depth_band(T, Xi)
        ok = np.isfinite(X).all(1) & np.isfinite(xu).all(1)
        kw = dict(backend="poselib", reproj_error_px=5.0, max_iterations=1000,
                  confidence=0.9999)
        s8 = model_selection_cov(T, X[ok], xu[ok], K, (W, H), draws=8, seed=0, **kw)
        s16 = model_selection_cov(T, X[ok], xu[ok], K, (W, H), draws=16, seed=1, **kw)
        res = residuals(T, Xi, xi, K)
        out.append(dict(
            run=label, stamp_ns=f["stamp"], err_cm=100 * np.linalg.norm(ep),
            err_deg=np.degrees(np.linalg.norm(er)), sigma_cm=worst_sigma_cm(C),
            d_pos=float(np.sqrt(ep @ np.linalg.solve(C[:3, :3], ep))),
            n_inl=int(inl.sum()), inl_ratio=r["inlier_ratio"], hull=hull, cells=cells / ncell,
            minor_px=minor, band=band,
            draw_cm=np.nan if s8 is None else worst_sigma_cm(s8),
            draw16_cm=np.nan if s16 is None else worst_sigma_cm(s16),
            rms_px=float(np.sqrt(np.mean(res ** 2))), med_px=float(np.median(res)),
            p90_px=float(np.percentile(res, 90)), kfs=len(np.unique(f["groups"][inl])),
            ms_ran=int(not band >= DEPTH_BAND)))
    return out


def main(out_csv, *runs):
    rows = []
    for spec in runs:
        label, kept, gt_path, results = spec.split("=")
        rows += rows_of(label, kept, gt_path, results)
    with open(out_csv, "w", newline="") as f:
        w = csv.DictWriter(f, list(rows[0]))
        w.writeheader()
        for r in rows:
            w.writerow({k: (f"{v:.4g}" if isinstance(v, float) else v) for k, v in r.items()})
    print(f"{len(rows)} rows -> {out_csv}")


if __name__ == "__main__":
    main(*sys.argv[1:])
