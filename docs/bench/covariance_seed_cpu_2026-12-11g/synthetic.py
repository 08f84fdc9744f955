"""The seed dependence on the unit test's synthetic narrow-band scenes
(test/unit/test_covariance_model_selection.py `_narrow_band`).

usage: python synthetic.py
Per draw count (8, 16, 32): over scenes 0-11 and RANSAC/draw seeds 0-2 of `solve_pnp` with the
shipped trigger, the rms of log worst-axis position sigma about each scene's mean, each
scene's max/min over the seeds, and the time per solve.
"""

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "test" / "unit"))
from test_covariance_model_selection import CAM, _narrow_band  # noqa: E402

from mast3r_ros.core.pnp import UncertaintyModel, solve_pnp  # noqa: E402


def sigma(C):
    return float(np.sqrt(np.linalg.eigvalsh(C[:3, :3])[-1]))


for draws in (8, 16, 32):
    m = UncertaintyModel(model_selection_draws=draws, model_selection_depth_band=0.125)
    t = time.perf_counter()
    logs, ratio = [], []
    for scene in range(12):
        X, x = _narrow_band(scene)
        s = np.log([sigma(solve_pnp(X, x, CAM, uncertainty=m, seed=k).covariance)
                    for k in range(3)])
        logs.append(s - s.mean())
        ratio.append(np.exp(np.ptp(s)))
    print(f"{draws:3d} draws: rms log sigma {np.sqrt(np.mean(np.square(logs))):.3f}, "
          f"scenes 0-7 {np.sqrt(np.mean(np.square(logs[:8]))):.3f}; max/min per scene "
          f"{' '.join(f'{r:.2f}' for r in ratio)} (median {np.median(ratio):.2f}); "
          f"{(time.perf_counter() - t) / 36 * 1000:.0f} ms a solve", flush=True)
