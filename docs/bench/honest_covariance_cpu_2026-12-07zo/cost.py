"""Added cost of the model-selection term per frame: solve_pnp as the localizer calls it.

usage: python cost.py KEPT.pkl [...]   (KEPT.pkl: ../honest_covariance_cpu_2026-12-07zk/capture.py)
For each kept frame times solve_pnp on its correspondences (undistorted pixels, the localizer's
default pnp.* settings) with three covariance models, interleaved, 3 repeats (median kept):
off (model_selection_draws 0), shipped (8 draws when the inliers' depth band is under 0.125) and
every16 (16 draws on every frame, the zk opt-in). Prints per run the fraction of frames whose
draws ran and the mean and 95th percentile of the time added to solve_pnp (ms, this machine).
"""

import pickle
import sys
import time

import numpy as np

from mast3r_ros.core.pnp import UncertaintyModel, solve_pnp
from mast3r_ros.core.pnp.model_selection import needs_draws
from mast3r_ros.core.types import CameraIntrinsics

KF = dict(map_pose_sigma_m=0.01, map_pose_sigma_rad=float(np.radians(1.0)))
MODELS = dict(off=UncertaintyModel(None, **KF),
              shipped=UncertaintyModel(None, **KF, model_selection_draws=8,
                                       model_selection_depth_band=0.125),
              every16=UncertaintyModel(None, **KF, model_selection_draws=16))


def main(*kept):
    for path in kept:
        frames = pickle.load(open(path, "rb"))
        times = {k: [] for k in MODELS}
        fired = 0
        for f in frames:
            cam = CameraIntrinsics(f["width"], f["height"], f["K"], np.zeros(0))
            best = {k: [] for k in MODELS}
            for _ in range(3):
                for k, m in MODELS.items():
                    t0 = time.perf_counter()
                    res = solve_pnp(f["X"], f["xu"], cam, points_cov=f["S"], groups=f["groups"],
                                    group_centres=f["centres"], uncertainty=m,
                                    x_undistorted=f["xu"])
                    best[k].append(time.perf_counter() - t0)
            fired += needs_draws(res.map_from_cam, f["X"][res.inliers], 0.125)
            for k in MODELS:
                times[k].append(np.median(best[k]))
        base = np.array(times["off"])
        line = [f"{path}: {len(frames)} frames, solve_pnp off {1000 * base.mean():.1f} ms mean"]
        for k in ("shipped", "every16"):
            add = 1000 * (np.array(times[k]) - base)
            line.append(f"{k} +{add.mean():.1f} ms mean, +{np.percentile(add, 95):.1f} p95")
        line.append(f"draws ran on {fired}/{len(frames)} ({100 * fired / len(frames):.0f} %)")
        print("; ".join(line), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
