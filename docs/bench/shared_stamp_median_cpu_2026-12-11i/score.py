"""Score every localized frame of a localize output folder against the ground truth at its
listed stamp, none left out (the rule before shared stamps were left out of the figures).

usage: python score.py RUN GROUNDTRUTH.txt
Prints the frames scored and their median translation error (cm), beside metrics.json's.
"""

import json
import sys

import numpy as np

from mast3r_ros.core.config import PoseAtStampConfig
from mast3r_ros.core.trajectory import poses_at_stamps
from mast3r_ros.replay.tum_trajectory import read_tum_trajectory


def main(run, gt_path):
    with open(run + "/results.jsonl") as f:
        recs = [json.loads(line) for line in f]
    stamps, poses = read_tum_trajectory(gt_path)
    rule = PoseAtStampConfig()
    query = np.array([r["stamp_ns"] for r in recs], dtype=np.int64)
    gt = poses_at_stamps(stamps, poses, query, round(rule.tolerance_s * 1e9),
                         round(rule.max_gap_s * 1e9))[0]
    err = [np.linalg.norm(np.array(r["map_from_cam"])[:3, 3] - g[:3, 3])
           for r, g in zip(recs, gt) if r["success"] and np.isfinite(g).all()]
    with open(run + "/metrics.json") as f:
        m = json.load(f)
    print(f"{run}: scored {len(err)} frames, median {100 * np.median(err):.4f} cm; "
          f"metrics.json: evaluated {m['evaluated']}, median "
          f"{100 * m['translation_error_m']['median']:.4f} cm")


if __name__ == "__main__":
    main(*sys.argv[1:])
