"""Localize with every published frame's PnP inputs kept, for evaluate.py.

usage: python capture.py SOURCE MAP RUN KEPT.pkl [--matcher sift ...]
Runs `mast3r-ros localize SOURCE --map MAP --out RUN` in this process with `solve_pnp` wrapped
and writes, for each published frame, its stamp, the pooled map points X (N, 3), undistorted
query pixels (N, 2), K, point covariances (N, 3, 3), keyframe groups and centres, the pose,
the inlier mask and the published covariance to KEPT.pkl (pickle of a list of dicts).
"""

import json
import pickle
import sys

import numpy as np

import mast3r_ros.core.localizer.pipeline as pipeline
from mast3r_ros.replay.cli import console_main

CALLS, NOW = [], {}


def _wrap():
    solve, localize = pipeline.solve_pnp, pipeline.Localizer._localize

    def solve_kept(X, x, intrinsics, **kw):
        res = solve(X, x, intrinsics, **kw)
        if res.success and res.covariance is not None:
            S = kw.get("points_cov")
            CALLS.append(dict(stamp=NOW["stamp"], X=np.array(X), K=np.array(intrinsics.K),
                              xu=np.array(res.points2d_undistorted),
                              S=None if S is None else np.array(S),
                              groups=np.array(kw["groups"]), centres=np.array(kw["group_centres"]),
                              T=np.array(res.map_from_cam), inl=np.array(res.inliers),
                              rms=res.reproj_rms_px, cov=np.array(res.covariance),
                              width=intrinsics.width, height=intrinsics.height))
        return res

    def localize_noted(self, frame, *a, **k):
        NOW["stamp"] = frame.stamp_ns
        return localize(self, frame, *a, **k)
    pipeline.solve_pnp, pipeline.Localizer._localize = solve_kept, localize_noted


def main(source, map_dir, run, kept, *extra):
    _wrap()
    sys.argv = ["mast3r-ros", "localize", source, "--map", map_dir, "--out", run,
                "--log-level", "warning", *extra]
    try:
        console_main()
    except SystemExit as e:
        if e.code:
            raise
    out = []
    for r in (json.loads(s) for s in open(run + "/results.jsonl")):
        if not r["success"]:
            continue
        c = [c for c in CALLS if c["stamp"] == r["stamp_ns"]
             and np.allclose(c["T"], r["map_from_cam"], atol=1e-6)][-1]
        out.append(c)
    with open(kept, "wb") as f:
        pickle.dump(out, f)
    print(f"{len(out)} published frames kept in {kept}")


if __name__ == "__main__":
    main(*sys.argv[1:])
