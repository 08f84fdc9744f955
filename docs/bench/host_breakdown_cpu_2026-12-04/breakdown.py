"""Where the host time of `Localizer.localize` goes, function by function.

bench_host's fabricated frames go through a real `Localizer` (bench_host's map, a matcher that
hands over the frame's fabricated matches from a cache, the true pose as prior); each function
of the per-frame path is wrapped with a thread-clock timer (~0.3 us a call), indented rows are
parts of the row above them. Then `undistort_pixels`, solve_pnp's first step, with distorted
cameras, which bench_host's camera has none of.

    OPENBLAS_NUM_THREADS=1 python docs/bench/host_breakdown_cpu_2026-12-04/breakdown.py \\
        REPO_ROOT [frames] [repeats]

REPO_ROOT: the checkout whose ``mast3r_ros`` and ``bench/`` are timed (a ``git worktree`` of
another commit for "before").
"""

from __future__ import annotations

import collections
import sys
import tempfile
import time

ROOT = sys.argv[1]
sys.path[:0] = [ROOT + "/bench", ROOT]

import numpy as np  # noqa: E402

import bench_host as bh  # noqa: E402
from mast3r_ros.core.config import LocalizerConfig  # noqa: E402
from mast3r_ros.core.geometry import undistort_pixels  # noqa: E402
from mast3r_ros.core.localizer import pipeline, query_checks  # noqa: E402
from mast3r_ros.core.pnp import focal, linearise, refine, solve  # noqa: E402

SCENARIOS = ((1000, 0.10, 1), (5000, 0.40, 1), (5000, 0.25, 4))
acc: dict = collections.defaultdict(float)
calls: collections.Counter = collections.Counter()


def wrap(owner, name: str, label: str) -> None:
    fn = getattr(owner, name)

    def timed(*a, **kw):
        t0 = time.thread_time()
        try:
            return fn(*a, **kw)
        finally:
            acc[label] += time.thread_time() - t0
            calls[label] += 1
    setattr(owner, name, timed)


def wrap_all() -> None:
    for owner, name, label in (
            (pipeline, "solve_pnp", "solve_pnp (total)"),
            (solve, "undistort_pixels", "  solve_pnp > undistort_pixels"),
            (solve, "_ransac_poselib", "  solve_pnp > RANSAC (poselib)"),
            (solve, "invert_pose", "  solve_pnp > invert_pose"),
            (solve, "_refine_inliers", "  solve_pnp > refine (_refine_inliers)"),
            (linearise._Rows, "evaluate", "    refine > _Rows.evaluate"),
            (linearise._Rows, "inliers", "    refine > _Rows.inliers"),
            (linearise._Rows, "jacobian_rows", "    refine > _Rows.jacobian_rows"),
            (linearise._Rows, "normal_equations", "    refine > _Rows.normal_equations"),
            (refine, "_perturb", "    refine > _perturb"),
            (solve, "_separated_places", "  solve_pnp > _separated_places"),
            (solve, "_covariance_f", "  solve_pnp > covariance (_covariance_f)"),
            (query_checks, "refitted_focal_scale", "focal gate (refitted_focal_scale)"),
            (focal, "_fit_rows", "  focal > _fit_rows"),
            (focal, "_within_px", "  focal > _within_px"),
            (pipeline.Localizer, "_gate", "gates (_gate)"),
            (pipeline, "_checked_frame", "_checked_frame"),
            (pipeline.Localizer, "_candidates", "_candidates")):
        if hasattr(owner, name):
            wrap(owner, name, label)


class CachedMatcher(bh.FabricatedMatcher):
    """bench_host's matcher, its matches made once per frame (not in the timed host path)."""

    def __init__(self):
        super().__init__()
        self.cache: dict = {}

    def correspond(self, frame, state, indices, timings):
        key = (id(self.scene), tuple(indices))
        if key not in self.cache:
            self.cache[key] = self.scene.correspondences(indices)
        return self.cache[key]


def run(loc, scenes, frame) -> None:
    for s in scenes:
        loc._poses = s.kf_poses.copy()
        loc.matcher.scene = s
        loc.localize(frame, prior=s.query_pose)


def main() -> None:
    frames = int(sys.argv[2]) if len(sys.argv) > 2 else 12
    repeats = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    wrap_all()
    frame = bh.Frame(np.zeros((bh.CAM.height, bh.CAM.width, 3), np.uint8), bh.CAM, 0)
    for n, outliers, k in SCENARIOS:
        scenes = bh.make_scenes(frames, n, outliers, k, seed=11)
        loc = bh.make_localizer(tempfile.mkdtemp(), k, LocalizerConfig().pnp)
        loc.matcher = CachedMatcher()
        run(loc, scenes, frame)  # warm: the matches made, caches filled
        acc.clear()
        calls.clear()
        total = 0.0
        for _ in range(repeats):
            t0 = time.thread_time()
            run(loc, scenes, frame)
            total += time.thread_time() - t0
        nf = frames * repeats
        print(f"\n== N={n} outliers={outliers:.0%} K={k}: Localizer.localize "
              f"{total / nf * 1e3:.3f} ms per frame (thread clock, {nf} frames)")
        print(f"{'function':44s} {'ms/frame':>9s} {'% of localize':>14s} {'calls/frame':>12s}")
        for label in acc:
            print(f"{label:44s} {acc[label] / nf * 1e3:9.3f} {100 * acc[label] / total:13.1f}% "
                  f"{calls[label] / nf:12.1f}")
    print("\n== undistort_pixels (solve_pnp's first step), ms per call (thread clock, min of "
          "5 x 20)")
    rng = np.random.default_rng(0)
    for n in (1000, 5000):
        px = rng.uniform([0, 0], [bh.CAM.width - 1, bh.CAM.height - 1], (n, 2))
        for model, d in (("none", []), ("plumb_bob", [0.1, -0.2, 1e-3, 2e-3, 0.05]),
                         ("rational_polynomial", [0.1, -0.2, 1e-3, 2e-3, 0.05, 0.01, 0, 0]),
                         ("equidistant", [0.1, 0.01, 0.0, 1e-3])):
            dist = np.array(d, float)
            best = float("inf")
            for _ in range(5):
                t0 = time.thread_time()
                for _ in range(20):
                    undistort_pixels(px, bh.CAM.K, dist, model if d else "plumb_bob")
                best = min(best, (time.thread_time() - t0) / 20)
            print(f"N={n:5d} {model:20s} {best * 1e3:7.3f}")


if __name__ == "__main__":
    main()
