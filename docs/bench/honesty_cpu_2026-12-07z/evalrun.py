"""Score a localize run against ground truth, as README.txt's table does.

usage: python evalrun.py RUN GROUNDTRUTH.txt [LABEL]
Prints one JSON line: frames, published, wrong (> 10 cm or > 5 deg), worst and median errors,
and for the published covariance (results.jsonl's 6x6, position then rotation, map axes): the
fraction of frames within 1, 2, 3 sigma per axis (`*_axis_Ks`; calibrated 0.68 / 0.95 / 0.997)
and by Mahalanobis distance of the 3-vector (`*_maha_Ks`; chi2(3): 0.20 / 0.74 / 0.97), the
mean NEES (calibrated: 3 per block, 6 for the whole pose) and the refusal reasons.
The rotation error is the rotation vector of R_est R_gt^T (map axes): the covariance's own
convention (core.pnp: R' = exp([dtheta]_x) R), so the 6-D NEES weighs the position-rotation
correlation with the right sign (before 2026-12-10 it took R_gt R_est^T, the opposite sign: the
per-block figures are the same either way, the 6-D ones were not; see README.txt).
"""

import collections
import json
import sys

import numpy as np
from scipy.spatial.transform import Rotation


def main(run, gt_path, label=None):
    gt = {}
    for line in open(gt_path):
        if line.startswith("#") or not line.strip():
            continue
        v = [float(x) for x in line.split()]
        T = np.eye(4)
        T[:3, :3] = Rotation.from_quat(v[4:8]).as_matrix()
        T[:3, 3] = v[1:4]
        gt[round(v[0] * 1e9)] = T
    keys = np.array(sorted(gt))
    rows = [json.loads(x) for x in open(run + "/results.jsonl")]
    published = [r for r in rows if r["success"]]
    errs, d2p, d2r, d2 = [], [], [], []
    within = collections.Counter()
    for r in published:
        i = int(np.argmin(abs(keys - r["stamp_ns"])))
        if abs(keys[i] - r["stamp_ns"]) > 5e6:
            continue
        T, G = np.array(r["map_from_cam"]), gt[keys[i]]
        ep = T[:3, 3] - G[:3, 3]
        er = Rotation.from_matrix(T[:3, :3] @ G[:3, :3].T).as_rotvec()
        errs.append((np.linalg.norm(ep), np.degrees(np.linalg.norm(er))))
        C = np.array(r["covariance"])
        a, b = ep @ np.linalg.solve(C[:3, :3], ep), er @ np.linalg.solve(C[3:, 3:], er)
        e = np.r_[ep, er]
        d2p.append(a)
        d2r.append(b)
        d2.append(e @ np.linalg.solve(C, e))
        sp, sr = np.sqrt(np.diag(C)[:3]), np.sqrt(np.diag(C)[3:])
        for k in (1, 2, 3):
            within["pos_axis", k] += np.mean(abs(ep) <= k * sp)
            within["rot_axis", k] += np.mean(abs(er) <= k * sr)
            within["pos_maha", k] += a <= k * k
            within["rot_maha", k] += b <= k * k
    out = {"label": label or run, "frames": len(rows), "published": len(published),
           "evaluated": len(errs)}
    if errs:
        E = np.array(errs)
        out.update(worst_pos_cm=round(100 * E[:, 0].max(), 2),
                   worst_rot_deg=round(E[:, 1].max(), 2),
                   median_pos_cm=round(100 * np.median(E[:, 0]), 2),
                   wrong=int(np.sum((E[:, 0] > 0.10) | (E[:, 1] > 5))))
        for k in (1, 2, 3):
            for block in ("pos_axis", "rot_axis", "pos_maha", "rot_maha"):
                out[f"{block}_{k}s"] = round(within[block, k] / len(errs), 3)
        out.update(nees_pos_mean=round(float(np.mean(d2p)), 2),
                   nees_rot_mean=round(float(np.mean(d2r)), 2),
                   nees6_mean=round(float(np.mean(d2)), 2),
                   nees6_median=round(float(np.median(d2)), 2),
                   nees_pos_max=round(float(np.max(d2p)), 1))
    reasons = collections.Counter(r["reason"].split(" (")[0] for r in rows if not r["success"])
    out["refusals"] = dict(reasons.most_common(6))
    print(json.dumps(out))


if __name__ == "__main__":
    main(*sys.argv[1:4])
