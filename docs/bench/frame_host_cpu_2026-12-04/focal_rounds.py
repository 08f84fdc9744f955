"""How many rounds the focal-length gate (`pnp.focal.refitted_focal_scale`) fits on the bench's
frames, and whether any exact shortcut of its rounds exists: per scenario of
`bench/bench_host.py` (12 frames, localizer seeds 0-2) the fits per call, and over all rounds
after the first how often the points a round fits equal the previous round's (the fit would
then only restart from another pose) or the inlier set equals the one two rounds before (a
2-cycle). Run from the repository root: ``python docs/bench/frame_host_cpu_2026-12-04/
focal_rounds.py``."""

import collections
import sys
import tempfile
from pathlib import Path

_R = Path(__file__).resolve().parents[3]
sys.path[:0] = [str(_R / "bench"), str(_R)]

import numpy as np  # noqa: E402

import bench_host as bh  # noqa: E402
from mast3r_ros.core.config import LocalizerConfig  # noqa: E402
from mast3r_ros.core.localizer import query_checks  # noqa: E402
from mast3r_ros.core.pnp import focal  # noqa: E402

STATS: collections.Counter = collections.Counter()
FITS: collections.Counter = collections.Counter()


def refitted(map_from_cam, X, xu, inliers, K, thr, max_points=0, rounds=focal.REFIT_ROUNDS):
    """`focal.refitted_focal_scale`'s definition, round by round, counting."""
    sel, best, prev_idx, prev_sel, fits = inliers, (1.0, float("inf"), None), None, None, 0
    for r in range(rounds + 1):
        idx = np.flatnonzero(sel)
        if max_points and len(idx) > max_points:
            idx = idx[np.linspace(0, len(idx) - 1, max_points).round().astype(int)]
        if prev_idx is not None:
            STATS["rounds after the first"] += 1
            STATS["same fitted points as the round before"] += np.array_equal(idx, prev_idx)
            STATS["same inlier set as two rounds before"] += np.array_equal(sel, prev_sel)
        fit = focal._fit(map_from_cam if best[2] is None else best[2], X[idx], xu[idx], K, 10)
        fits += 1
        if fit[2] is None:
            break
        best = fit
        if r == rounds:
            break
        Ks = np.array(K, float)
        Ks[:2, :2] *= best[0]
        again = focal._reprojection_px(best[2], X, xu, Ks) < thr
        if again.sum() < 8 or np.array_equal(again, sel):
            STATS["stopped early: inliers unchanged"] += 1
            break
        prev_idx, prev_sel, sel = idx, sel, again
    FITS[fits] += 1
    return best[0], best[1]


def main() -> None:
    query_checks.refitted_focal_scale = refitted
    cfg = LocalizerConfig()
    tmp = tempfile.mkdtemp()
    for n, outl, k in bh.SCENARIOS:
        loc = bh.make_localizer(tmp, k, cfg.pnp)
        FITS.clear()
        for sc in bh.make_scenes(12, n, outl, k, seed=n + k):
            for seed in range(3):
                loc.seed = seed
                bh.run_localize("new", loc, sc)
        print(f"N={n} outliers={int(outl * 100)}% K={k}: fits per gate call "
              f"{dict(sorted(FITS.items()))}")
    print(dict(STATS))


if __name__ == "__main__":
    main()
