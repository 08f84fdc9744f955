"""Localize with the PnP inputs kept, then print each published frame's inlier geometry.

usage: python inlier_geometry.py SOURCE MAP RUN GROUNDTRUTH.txt [--matcher sift ...]
Runs `mast3r-ros localize SOURCE --map MAP --out RUN` in this process with `solve_pnp` wrapped
(its inputs and result kept per frame), then prints one line per published frame, worst
Mahalanobis distance first: inliers, RMS (px), the inliers' convex hull as a fraction of the
image, their minor-axis pixel spread (px), the 10th-90th percentile of their depth (m), the
inliers per keyframe, the mean query-keyframe view angle (deg), the worst-axis position sigma
(cm), the error against ground truth (cm, deg), its Mahalanobis distance d, and the inliers'
median reprojection error at the ground-truth pose (px).
"""

import json
import sys

import cv2
import numpy as np
from scipy.spatial.transform import Rotation

import mast3r_ros.core.localizer.pipeline as pipeline
from mast3r_ros.replay.cli import console_main

CALLS, NOW = [], {}


def _wrap():
    solve, localize = pipeline.solve_pnp, pipeline.Localizer._localize

    def solve_kept(X, x, intrinsics, **kw):
        res = solve(X, x, intrinsics, **kw)
        if res.success:
            CALLS.append(dict(stamp=NOW["stamp"], X=np.array(X), K=np.array(intrinsics.K),
                              groups=np.array(kw["groups"]), centres=np.array(kw["group_centres"]),
                              T=res.map_from_cam, inl=res.inliers, rms=res.reproj_rms_px,
                              cov=res.covariance, xu=res.points2d_undistorted))
        return res

    def localize_noted(self, frame, *a, **k):
        NOW["stamp"] = frame.stamp_ns
        return localize(self, frame, *a, **k)
    pipeline.solve_pnp, pipeline.Localizer._localize = solve_kept, localize_noted


def _ground_truth(path):
    gt = {}
    for line in open(path):
        if line.strip() and not line.startswith("#"):
            v = [float(s) for s in line.split()]
            T = np.eye(4)
            T[:3, :3], T[:3, 3] = Rotation.from_quat(v[4:8]).as_matrix(), v[1:4]
            gt[round(v[0] * 1e9)] = T
    return gt


def _project(T, X, K):
    u = ((X - T[:3, 3]) @ T[:3, :3]) @ K.T
    return u[:, :2] / u[:, 2:3]


def main(source, map_dir, run, gt_path, *extra):
    _wrap()
    sys.argv = ["mast3r-ros", "localize", source, "--map", map_dir, "--out", run,
                "--log-level", "warning", *extra]
    try:
        console_main()
    except SystemExit as e:
        if e.code:
            raise
    gt = _ground_truth(gt_path)
    keys = np.array(sorted(gt))
    lines = []
    for r in (json.loads(s) for s in open(run + "/results.jsonl")):
        if not r["success"]:
            continue
        c = [c for c in CALLS if c["stamp"] == r["stamp_ns"]
             and np.allclose(c["T"], r["map_from_cam"], atol=1e-6)][-1]
        G = gt[keys[np.argmin(abs(keys - r["stamp_ns"]))]]
        inl, T = c["inl"], c["T"]
        X, x = c["X"][inl], c["xu"][inl]
        z = (X - T[:3, 3]) @ T[:3, 2]
        h, w = 2 * c["K"][1, 2] + 1, 2 * c["K"][0, 2] + 1
        hull = cv2.contourArea(cv2.convexHull(x.astype(np.float32))) / (w * h)
        minor = np.linalg.svd(x - x.mean(0), compute_uv=False)[1] / np.sqrt(len(x))
        a, b = X - T[:3, 3], X - c["centres"][c["groups"][inl]]
        view = np.degrees(np.arccos(np.clip(np.sum(a * b, 1) / np.linalg.norm(a, axis=1)
                                            / np.linalg.norm(b, axis=1), -1, 1)))
        e = T[:3, 3] - G[:3, 3]
        rot = np.degrees(np.linalg.norm(Rotation.from_matrix(G[:3, :3] @ T[:3, :3].T).as_rotvec()))
        d = float(np.sqrt(e @ np.linalg.solve(c["cov"][:3, :3], e)))
        at_gt = np.median(np.linalg.norm(_project(G, X, c["K"]) - x, axis=1))
        lines.append((d, f"n {inl.sum():3d} rms {c['rms']:.2f} hull {hull:.3f} minor {minor:3.0f} "
                      f"depth {np.percentile(z, 10):.2f}-{np.percentile(z, 90):.2f} "
                      f"per-kf {[int(k) for k in np.bincount(c['groups'][inl]) if k]} "
                      f"view {view.mean():4.1f} sigma "
                      f"{100 * np.sqrt(np.linalg.eigvalsh(c['cov'][:3, :3])[-1]):.2f} "
                      f"err {100 * np.linalg.norm(e):5.1f} cm {rot:3.1f} deg d {d:4.1f} "
                      f"at-gt {at_gt:4.1f} px"))
    for _, s in sorted(lines, reverse=True):
        print(s)


if __name__ == "__main__":
    main(*sys.argv[1:])
