"""``solve_pnp`` and the focal gate's ``refitted_focal_scale`` timed apart, prev vs new.

prev = ``mast3r_ros/core/pnp/`` at REV (`bench/frozen_package.py`), new = the checkout's. On
bench_host's fabricated frames (12 per scenario, ``repeats`` passes), the variants interleaved
frame by frame, thread clock; the focal gate runs on each variant's own ``solve_pnp`` result,
as `Localizer._pose` runs it. The last column counts the frames where both variants' results
(solve_pnp's fields and the focal fit) are bit-identical.

    OPENBLAS_NUM_THREADS=1 python docs/bench/host_breakdown_cpu_2026-12-04/stage_ab.py REV [repeats]
"""

from __future__ import annotations

import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
sys.path[:0] = [os.path.join(ROOT, "bench"), ROOT]

import numpy as np  # noqa: E402

import bench_host as bh  # noqa: E402
from mast3r_ros.core.config import LocalizerConfig  # noqa: E402
from mast3r_ros.core.localizer.query_checks import FOCAL_MAX_POINTS  # noqa: E402
from mast3r_ros.core.pnp import focal as focal_new  # noqa: E402
from mast3r_ros.core.pnp import solve as solve_new  # noqa: E402

SCENARIOS = ((1000, 0.10, 1), (5000, 0.40, 1), (5000, 0.25, 4), (3000, 0.80, 1))


def one_frame(variant: str, data, p, times) -> tuple:
    X, x, S, g, c = data
    solve, focal = ((bh.pnp_prev.solve, bh.pnp_prev.focal) if variant == "prev"
                    else (solve_new, focal_new))
    model = solve.UncertaintyModel(None, 0.01, float(np.radians(1.0)))
    t0 = time.thread_time()
    res = solve.solve_pnp(X, x, bh.CAM, backend=p.backend, reproj_error_px=p.reproj_error_px,
                          max_iterations=p.max_iterations, confidence=p.confidence,
                          refine=p.refine, seed=0, points_cov=S, groups=g, group_centres=c,
                          ransac_max_points=p.ransac_max_points, uncertainty=model)
    times[variant, "solve_pnp"].append(time.thread_time() - t0)
    fit = None
    if res.success:
        t0 = time.thread_time()
        fit = focal.refitted_focal_scale(res.map_from_cam, X, res.points2d_undistorted,
                                         res.inliers, bh.CAM.K, p.reproj_error_px,
                                         FOCAL_MAX_POINTS)
        times[variant, "focal"].append(time.thread_time() - t0)
    return res, fit


def main() -> None:
    rev = sys.argv[1]
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    bh.load_prev(rev)
    if bh.PREV_MISSING:
        sys.exit(f"stage_ab.py: {bh.PREV_MISSING}")
    p = LocalizerConfig().pnp
    for n, outliers, k in SCENARIOS:
        frames = []
        for scene in bh.make_scenes(12, n, outliers, k, seed=7):
            idx = list(range(len(scene.kf_poses)))
            frames.append(bh._pooled(scene.correspondences(idx), scene.kf_poses, idx))
        times = {(v, s): [] for v in ("prev", "new") for s in ("solve_pnp", "focal")}
        same = total = 0
        for _ in range(repeats):
            for data in frames:
                (ra, fa), (rb, fb) = (one_frame(v, data, p, times) for v in ("prev", "new"))
                total += 1
                same += bh._identical(ra, rb) and fa == fb
        med = {key: statistics.median(v) * 1e3 for key, v in times.items() if v}
        cols = []
        for stage in ("solve_pnp", "focal"):
            a, b = med["prev", stage], med["new", stage]
            cols.append(f"{stage} {a:.3f} -> {b:.3f} ms ({a / b:.2f}x)")
        print(f"N={n} outliers={outliers:.0%} K={k}: {'; '.join(cols)}; "
              f"bit-identical {same}/{total}")


if __name__ == "__main__":
    main()
