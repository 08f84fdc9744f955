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

import sys
from pathlib import Path

import cv2
import numpy as np
from scipy.spatial.transform import Rotation

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench"))
from pnp_capture import localize_keeping_pnp  # noqa: E402

from mast3r_ros.replay.tum_trajectory import read_tum_trajectory  # noqa: E402


def _keep(X, x, intrinsics, kw, res):
    """A successful PnP call's inputs and result; None for a failed one."""
    if not res.success:
        return None
    return dict(X=np.array(X), K=np.array(intrinsics.K), groups=np.array(kw["groups"]),
                centres=np.array(kw["group_centres"]), inl=res.inliers,
                rms=res.reproj_rms_px, cov=res.covariance, xu=res.points2d_undistorted)


def _ground_truth(path):
    """{stamp ns: 4x4 pose} of a TUM trajectory file."""
    stamps, poses = read_tum_trajectory(path)
    return dict(zip(stamps.tolist(), poses))


def _project(T, X, K):
    u = ((X - T[:3, 3]) @ T[:3, :3]) @ K.T
    return u[:, :2] / u[:, 2:3]


def main(source, map_dir, run, gt_path, *extra):
    published = localize_keeping_pnp(source, map_dir, run, extra, _keep)
    gt = _ground_truth(gt_path)
    keys = np.array(sorted(gt))
    lines = []
    for r, c in published:
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
