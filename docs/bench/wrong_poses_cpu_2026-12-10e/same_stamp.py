"""The wrong poses of one run against another run's pose at the same stamp (is the error the
pose's or the ground truth's?).

usage: python same_stamp.py RUN_A RUN_B GROUNDTRUTH.txt
For each pose of RUN_A (a localize output folder) more than 10 cm or 5 deg from ground truth:
its error against ground truth, RUN_B's pose's error at the same stamp, and A against B; with
the position Mahalanobis distance d (and the 6-D one, d6) under the covariance of the pose
that is scored, in the product's convention (`core.pnp`: dtheta = rotvec(R_est R_ref^T)).
"""

import json
import sys

import numpy as np
from scipy.spatial.transform import Rotation

from mast3r_ros.replay.tum_trajectory import read_tum_trajectory


def published(run):
    return {r["stamp_ns"]: r for r in map(json.loads, open(run + "/results.jsonl"))
            if r["success"]}


def error(T, G, C):
    e = np.r_[T[:3, 3] - G[:3, 3], Rotation.from_matrix(T[:3, :3] @ G[:3, :3].T).as_rotvec()]
    return (f"{100 * np.linalg.norm(e[:3]):.1f} cm {np.degrees(np.linalg.norm(e[3:])):.2f} deg "
            f"d {np.sqrt(e[:3] @ np.linalg.solve(C[:3, :3], e[:3])):.2f} "
            f"d6 {np.sqrt(e @ np.linalg.solve(C, e)):.2f}"), e


def main(run_a, run_b, gt_path):
    stamps, poses = read_tum_trajectory(gt_path)
    A, B = published(run_a), published(run_b)
    for s, r in A.items():
        G = poses[int(np.argmin(abs(stamps - s)))]
        Ta, Ca = np.array(r["map_from_cam"]), np.array(r["covariance"])
        text, e = error(Ta, G, Ca)
        if np.linalg.norm(e[:3]) <= 0.10 and np.degrees(np.linalg.norm(e[3:])) <= 5:
            continue
        line = f"{s / 1e9:.2f} s: A vs ground truth {text}"
        if s in B:
            Tb, Cb = np.array(B[s]["map_from_cam"]), np.array(B[s]["covariance"])
            line += (f"; B vs ground truth {error(Tb, G, Cb)[0]}; A vs B {error(Ta, Tb, Ca)[0]}")
        print(line)


if __name__ == "__main__":
    main(*sys.argv[1:])
