"""Cost of the model-selection term: solve_pnp with and without it on the kept frames.

usage: python cost.py KEPT.pkl [DRAWS ...]
For each kept frame (capture.py) times solve_pnp on its correspondences (undistorted pixels,
the localizer's default pnp.* settings and covariance model) with covariance.model_selection_draws
0 and each DRAWS (default 8 16), interleaved, 3 repeats, and prints the median per frame (ms).
"""

import pickle
import sys
import time

import numpy as np

from mast3r_ros.core.pnp import UncertaintyModel, solve_pnp
from mast3r_ros.core.types import CameraIntrinsics


def main(kept, *draws):
    frames = pickle.load(open(kept, "rb"))
    counts = [0] + [int(d) for d in (draws or ("8", "16"))]
    times = {d: [] for d in counts}
    for f in frames:
        cam = CameraIntrinsics(f["width"], f["height"], f["K"], np.zeros(0))
        best = {d: [] for d in counts}
        for _ in range(3):
            for d in counts:
                m = UncertaintyModel(None, 0.01, float(np.radians(1.0)), model_selection_draws=d)
                t0 = time.perf_counter()
                solve_pnp(f["X"], f["xu"], cam, points_cov=f["S"], groups=f["groups"],
                          group_centres=f["centres"], uncertainty=m, x_undistorted=f["xu"])
                best[d].append(time.perf_counter() - t0)
        for d in counts:
            times[d].append(np.median(best[d]))
    matches = np.median([len(f["X"]) for f in frames])
    print(f"{kept}: {len(frames)} frames, median matches {matches:.0f}: "
          + ", ".join(f"draws {d}: {1000 * np.median(times[d]):.1f} ms" for d in counts))


if __name__ == "__main__":
    main(*sys.argv[1:])
