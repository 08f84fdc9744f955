"""The pose's 1-sigma position computed once a frame, old against new, side by side.

``old``: the sigma gates compute `position_sigma_m` of the covariance (`gate_reason` without
``sigma``), then the node's /diagnostics (`sigma_depth_ratio` of a result that does not carry
it) computes it again: what the package did before the localizer carried it on the result.
``new``: the localizer computes it once (`Localizer._pose`), the gates and `sigma_depth_ratio`
read it (``LocalizationResult.position_sigma_m``). Both paths run in this process, alternating
round by round, on the same covariances, points and poses; every gate reason and ratio must be
equal (bit for bit), else the script exits 1.

    python bench/bench_sigma_once.py --frames 2000 --rounds 8 [--json out.json]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import benchlib  # noqa: F401 - puts the repository root on sys.path
import numpy as np

from mast3r_ros.core.config import GateConfig
from mast3r_ros.core.localizer.results import gate_reason, inlier_median_depth
from mast3r_ros.core.pnp import PnPResult
from mast3r_ros.core.pose_uncertainty import position_sigma_m, sigma_depth_ratio
from mast3r_ros.core.types import LocalizationResult


def _frames(n: int, seed: int = 0):
    """``n`` (PnPResult, X, depth) of a localized frame: 1000 points 1-4 m in front of the
    identity pose, 800 inliers, an SPD 6x6 covariance of cm-level position sigma."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        X = np.column_stack([rng.uniform(-1, 1, 1000), rng.uniform(-1, 1, 1000),
                             rng.uniform(1, 4, 1000)])
        inl = np.zeros(1000, bool)
        inl[:800] = True
        A = rng.normal(size=(6, 6)) * 0.01
        cov = A @ A.T + np.eye(6) * 1e-6
        res = PnPResult(True, np.eye(4), inl, 0.8, cov)
        out.append((res, X, inlier_median_depth(res.map_from_cam, X[inl])))
    return out


def _old(g, frames):
    outs = []
    for res, X, depth in frames:
        reason = gate_reason(g, res, len(X), None, X, depth=depth)      # the gate's sigma
        r = LocalizationResult(True, 0, res.map_from_cam, res.covariance, scene_depth_m=depth)
        outs.append((reason, sigma_depth_ratio(r)))                      # computed again
    return outs


def _new(g, frames):
    outs = []
    for res, X, depth in frames:
        sigma = position_sigma_m(res.covariance)                        # once a frame
        reason = gate_reason(g, res, len(X), None, X, depth=depth, sigma=sigma)
        r = LocalizationResult(True, 0, res.map_from_cam, res.covariance, scene_depth_m=depth,
                               position_sigma_m=sigma)
        outs.append((reason, sigma_depth_ratio(r)))
    return outs


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    p.add_argument("--frames", type=int, default=2000)
    p.add_argument("--rounds", type=int, default=8)
    p.add_argument("--json", default=None, help="write the figures to this JSON file")
    a = p.parse_args(argv)
    g = GateConfig()
    frames = _frames(a.frames)
    per = {"old": [], "new": []}
    first = {}
    for k in range(a.rounds):
        for name, fn in (("old", _old), ("new", _new))[::1 if k % 2 == 0 else -1]:
            t0 = time.perf_counter()
            outs = fn(g, frames)
            per[name].append((time.perf_counter() - t0) / len(frames))
            first.setdefault(name, outs)
    same = all(a_ == b_ for a_, b_ in zip(first["old"], first["new"]))
    same = same and len(first["old"]) == len(first["new"])
    med = {n: 1e6 * statistics.median(v) for n, v in per.items()}
    print(f"commit {benchlib.commit()}, {a.frames} frames x {a.rounds} rounds, "
          f"gates {g.max_position_sigma_m} m / ratio {g.max_position_sigma_ratio}")
    print(f"{'':28s}{'old':>10s}{'new':>10s}")
    print(f"{'gates + ratio, us/frame':28s}{med['old']:10.1f}{med['new']:10.1f}")
    print(f"{'saved, us/frame':28s}{med['old'] - med['new']:10.1f}")
    print(f"outputs identical (reasons and ratios, bit for bit): {same}")
    benchlib.write_json(a.json, {"commit": benchlib.commit(), "frames": a.frames,
                                 "rounds": a.rounds, "us_per_frame": med,
                                 "rounds_s_per_frame": per, "identical": same})
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
