"""The published covariance over draw seeds, per frame, on kept PnP inputs.

usage: python seeds.py DRAWS SEEDS OUT.json LABEL=KEPT.pkl=GROUNDTRUTH.txt [...]
DRAWS: comma-separated draw counts (8,16,32,64); SEEDS: how many seeds (0 .. SEEDS-1).
KEPT.pkl: ../honest_covariance_cpu_2026-12-07zk/capture.py's output. Each frame's covariance is
rebuilt as `solve_pnp` builds it (first order with the keyframe-pose term, its data part, the
model-selection spread of `model_selection_cov` where the inliers' depth band is under 0.125),
with the pose fixed (the published one) and only the draws' seed and count changed, so the
spread between seeds is the draws' alone. The draws are timed (ms, this process). OUT.json:
per frame its run, stamp, error against ground truth (product convention: dc = c_est - c_gt,
dtheta = rotvec(R_est R_gt^T)), depth band, first-order covariance, published covariance and,
where the draws run, the covariance and time per (draws, seed). Tabulate with table.py.
"""

import json
import pickle
import sys
import time

import numpy as np
from scipy.spatial.transform import Rotation

from mast3r_ros.core.pnp import UncertaintyModel
from mast3r_ros.core.pnp.covariance import pose_covariance
from mast3r_ros.core.pnp.model_selection import (depth_band, model_selection_cov,
                                                 with_model_selection)

KF = UncertaintyModel(None, 0.01, float(np.radians(1.0)))  # the shipped keyframe-pose term
RANSAC = dict(backend="poselib", reproj_error_px=5.0, max_iterations=1000, confidence=0.9999,
              max_points=512)


def ground_truth(path):
    gt = {}
    for line in open(path):
        if line.strip() and not line.startswith("#"):
            v = [float(s) for s in line.split()]
            T = np.eye(4)
            T[:3, :3], T[:3, 3] = Rotation.from_quat(v[4:8]).as_matrix(), v[1:4]
            gt[round(v[0] * 1e9)] = T
    return gt


def main(draws, seeds, out, *specs):
    draws = [int(a) for a in draws.split(",")]
    seeds = range(int(seeds))
    rows = []
    for spec in specs:
        label, kept, gt_path = spec.split("=")
        gt = ground_truth(gt_path)
        keys = np.array(sorted(gt))
        for f in pickle.load(open(kept, "rb")):
            G = gt[keys[np.argmin(abs(keys - f["stamp"]))]]
            T, X, xu, K, inl = f["T"], f["X"], f["xu"], f["K"], f["inl"]
            e = np.r_[T[:3, 3] - G[:3, 3],
                      Rotation.from_matrix(T[:3, :3] @ G[:3, :3].T).as_rotvec()]
            S = f["S"][inl] if f["S"] is not None else None
            base = pose_covariance(T, X[inl], xu[inl], K, points_cov=S,
                                   groups=f["groups"][inl], group_centres=f["centres"], model=KF)
            data = pose_covariance(T, X[inl], xu[inl], K, points_cov=S,
                                   model=UncertaintyModel(None, 0.0, 0.0))
            band = depth_band(T, X[inl])
            ok = np.isfinite(X).all(1) & np.isfinite(xu).all(1)
            r = dict(run=label, t=f["stamp"] / 1e9, e=e.tolist(), band=band,
                     base=base.tolist(), published=np.asarray(f["cov"]).tolist(), covs={}, ms={})
            if band < 0.125:
                for d in draws:
                    for s in seeds:
                        t0 = time.perf_counter()
                        sp = model_selection_cov(T, X[ok], xu[ok], K, (f["width"], f["height"]),
                                                 draws=d, seed=s, **RANSAC)
                        r["ms"][f"{d},{s}"] = 1000 * (time.perf_counter() - t0)
                        C = base if sp is None or data is None else with_model_selection(
                            base, data, sp)
                        r["covs"][f"{d},{s}"] = C.tolist()
                print(label, round(r["t"], 2), "done", flush=True)
            rows.append(r)
    json.dump(rows, open(out, "w"))


if __name__ == "__main__":
    main(*sys.argv[1:])
