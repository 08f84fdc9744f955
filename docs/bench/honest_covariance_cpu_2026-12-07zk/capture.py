"""Localize with every published frame's PnP inputs kept, for evaluate.py.

usage: python capture.py SOURCE MAP RUN KEPT.pkl [--matcher sift ...]
Runs `mast3r-ros localize SOURCE --map MAP --out RUN` in this process with `solve_pnp` wrapped
and writes, for each published frame, its stamp, the pooled map points X (N, 3), undistorted
query pixels (N, 2), K, point covariances (N, 3, 3), keyframe groups and centres, the pose,
the inlier mask and the published covariance to KEPT.pkl (pickle of a list of dicts).
"""

import pickle
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench"))
from pnp_capture import localize_keeping_pnp  # noqa: E402


def _keep(X, x, intrinsics, kw, res):
    """What evaluate.py reads of a PnP call that may be published; None for the others."""
    if not (res.success and res.covariance is not None):
        return None
    S = kw.get("points_cov")
    return dict(X=np.array(X), K=np.array(intrinsics.K), xu=np.array(res.points2d_undistorted),
                S=None if S is None else np.array(S), groups=np.array(kw["groups"]),
                centres=np.array(kw["group_centres"]), inl=np.array(res.inliers),
                rms=res.reproj_rms_px, cov=np.array(res.covariance),
                width=intrinsics.width, height=intrinsics.height)


def main(source, map_dir, run, kept, *extra):
    out = [c for _, c in localize_keeping_pnp(source, map_dir, run, extra, _keep)]
    with open(kept, "wb") as f:
        pickle.dump(out, f)
    print(f"{len(out)} published frames kept in {kept}")


if __name__ == "__main__":
    main(*sys.argv[1:])
