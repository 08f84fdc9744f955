"""Where the seed dependence comes from: the draws' image cells or RANSAC's own seed.

usage: python sources.py KEPT.pkl STAMPS DRAWS
STAMPS: comma-separated stamps (s) of frames in KEPT.pkl (capture.py's output). For each, the
draws' raw position spread (worst-axis rms, cm; no small-sample factor) of
`model_selection_cov`'s loop, rebuilt here, over 6 seeds: both seeds varied (as shipped), the
cells' seed varied with RANSAC's fixed, RANSAC's varied with the cells' fixed, and no
resampling at all (every cell once) with RANSAC's seed varied.
"""

import pickle
import sys

import numpy as np
from scipy.spatial.transform import Rotation

from mast3r_ros.core.geometry import invert_pose
from mast3r_ros.core.pnp.linearise import _Rows
from mast3r_ros.core.pnp.ransac import _ransac_poselib
from mast3r_ros.core.pnp.refine import MIN_POINTS, _refine_inliers


def spread(f, X, xu, draws, cell_seed, ransac_seed):
    T0, K = f["T"], f["K"]
    cells = np.floor(xu / 40.0).astype(np.int64)
    _, lab = np.unique(cells[:, 0] * 1_000_003 + cells[:, 1], return_inverse=True)
    lab = lab.reshape(-1)
    order = np.argsort(lab, kind="stable")
    starts = np.concatenate([[0], np.flatnonzero(np.diff(lab[order])) + 1, [len(lab)]])
    G, counts = len(starts) - 1, np.diff(starts)
    out, n = np.zeros((6, 6)), 0
    for b in range(draws):
        pick = (np.arange(G) if cell_seed is None
                else np.random.default_rng((cell_seed, b)).integers(0, G, G))
        n_each = counts[pick]
        offs = np.repeat(starts[pick] - np.concatenate([[0], np.cumsum(n_each)[:-1]]), n_each)
        idx = order[np.arange(int(n_each.sum())) + offs]
        Xb, xb = np.ascontiguousarray(X[idx]), np.ascontiguousarray(xu[idx])
        seed = int(np.random.default_rng((ransac_seed, b, 7)).integers(0, 2 ** 31))
        cfm = _ransac_poselib(Xb, xb, K, (f["width"], f["height"]), 5.0, 1000, 0.9999, seed)
        if cfm is None:
            continue
        rows = _Rows(np.ascontiguousarray(Xb.T), np.ascontiguousarray(xb.T), K,
                     np.ones(len(idx), bool), 5.0)
        T, inl = _refine_inliers(invert_pose(cfm), rows)[:2]
        if inl.sum() < MIN_POINTS:
            continue
        d = np.r_[T[:3, 3] - T0[:3, 3], Rotation.from_matrix(T[:3, :3] @ T0[:3, :3].T).as_rotvec()]
        out += np.outer(d, d)
        n += 1
    return 100 * np.sqrt(np.linalg.eigvalsh(out[:3, :3] / n)[-1])


def main(kept, stamps, draws):
    stamps, draws = [float(s) for s in stamps.split(",")], int(draws)

    def fmt(a):
        return f"{min(a):.1f}-{max(a):.1f} ({max(a) / max(min(a), 1e-9):.2f}x)"

    for f in pickle.load(open(kept, "rb")):
        if not any(abs(f["stamp"] / 1e9 - s) < 0.02 for s in stamps):
            continue
        ok = np.isfinite(f["X"]).all(1) & np.isfinite(f["xu"]).all(1)
        X, xu = f["X"][ok], f["xu"][ok]
        both = [spread(f, X, xu, draws, s, s) for s in range(6)]
        cells = [spread(f, X, xu, draws, s, 0) for s in range(6)]
        ransac = [spread(f, X, xu, draws, 0, s) for s in range(6)]
        whole = [spread(f, X, xu, draws, None, s) for s in range(6)]
        print(f"t {f['stamp'] / 1e9:.2f} s, {draws} draws, raw spread cm: both {fmt(both)}; "
              f"cells {fmt(cells)}; RANSAC {fmt(ransac)}; no resampling {fmt(whole)}",
              flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
