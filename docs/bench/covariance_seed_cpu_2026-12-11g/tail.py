"""The draws' poses on a frame: how far they land and whether they hold the matches.

usage: python tail.py KEPT.pkl STAMPS
For each frame of KEPT.pkl (capture.py's output) at STAMPS (comma-separated, s): 64 draws of
`model_selection_cov`'s loop (rebuilt here) for seeds 0-2; per seed the distance (cm) of the
draws' poses from the published one (median, max, rms), the fraction of draws whose pose
holds fewer inliers of the draw than the published pose refined on the same draw does (a
RANSAC search failure rather than another consensus), and the 8 farthest draws as (cm, the
draw pose's inliers, the published pose's inliers on that draw).
"""

import pickle
import sys

import numpy as np

from mast3r_ros.core.geometry import invert_pose
from mast3r_ros.core.pnp.linearise import _Rows
from mast3r_ros.core.pnp.ransac import _ransac_poselib
from mast3r_ros.core.pnp.refine import _refine_inliers


def main(kept, stamps):
    stamps = [float(s) for s in stamps.split(",")]
    for f in pickle.load(open(kept, "rb")):
        if not any(abs(f["stamp"] / 1e9 - s) < 0.02 for s in stamps):
            continue
        T0, K = f["T"], f["K"]
        ok = np.isfinite(f["X"]).all(1) & np.isfinite(f["xu"]).all(1)
        X, xu = f["X"][ok], f["xu"][ok]
        cells = np.floor(xu / 40.0).astype(np.int64)
        _, lab = np.unique(cells[:, 0] * 1_000_003 + cells[:, 1], return_inverse=True)
        lab = lab.reshape(-1)
        order = np.argsort(lab, kind="stable")
        starts = np.concatenate([[0], np.flatnonzero(np.diff(lab[order])) + 1, [len(lab)]])
        G, counts = len(starts) - 1, np.diff(starts)
        print(f"t {f['stamp'] / 1e9:.2f} s: {len(X)} matches, {int(f['inl'].sum())} inliers, "
              f"{G} cells")
        for seed in range(3):
            out = []
            for b in range(64):
                rng = np.random.default_rng((seed, b))
                pick = rng.integers(0, G, G)
                n_each = counts[pick]
                offs = np.repeat(starts[pick] - np.concatenate([[0], np.cumsum(n_each)[:-1]]),
                                 n_each)
                idx = order[np.arange(int(n_each.sum())) + offs]
                Xb, xb = np.ascontiguousarray(X[idx]), np.ascontiguousarray(xu[idx])
                cfm = _ransac_poselib(Xb, xb, K, (f["width"], f["height"]), 5.0, 1000, 0.9999,
                                      int(rng.integers(0, 2 ** 31)))
                if cfm is None:
                    continue
                rows = _Rows(np.ascontiguousarray(Xb.T), np.ascontiguousarray(xb.T), K,
                             np.ones(len(idx), bool), 5.0)
                T, inl = _refine_inliers(invert_pose(cfm), rows)[:2]
                inl0 = _refine_inliers(T0, rows)[1]
                out.append((100 * np.linalg.norm(T[:3, 3] - T0[:3, 3]), int(inl.sum()),
                            int(inl0.sum())))
            o = np.array(out)
            far = o[np.argsort(-o[:, 0])][:8]
            print(f"  seed {seed}: distance median {np.median(o[:, 0]):.1f} max "
                  f"{o[:, 0].max():.1f} rms {np.sqrt(np.mean(o[:, 0] ** 2)):.1f} cm; fewer "
                  f"inliers than the published pose {np.mean(o[:, 1] < o[:, 2]):.2f}; farthest "
                  + " ".join(f"({a:.0f}, {b:.0f}, {c:.0f})" for a, b, c in far))


if __name__ == "__main__":
    main(*sys.argv[1:])
