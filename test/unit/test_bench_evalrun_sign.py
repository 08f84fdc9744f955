"""The honesty trial's scorer (docs/bench/honesty_cpu_2026-12-07z/evalrun.py), reused by every
later covariance bench, took the rotation error as rotvec(R_gt R_est^T): the opposite sign of
the covariance's dtheta (core.pnp: R' = exp([dtheta]_x) R). Per block that changes nothing,
but its 6-D NEES flipped the position-rotation correlation: a pose swung about the scene it
sees -- the error the covariance's correlation describes -- read 6.4-13 sigma where the
covariance holds it at 2.8-4.9 (docs/bench/wrong_poses_cpu_2026-12-10e)."""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

EVALRUN = (Path(__file__).resolve().parents[2] / "docs" / "bench" / "honesty_cpu_2026-12-07z"
           / "evalrun.py")


def test_a_swing_the_covariance_correlates_scores_its_6d_nees_small(tmp_path, capsys):
    # a camera 2.5 m from the scene point p, swung about p by 2 deg about the map y axis: the
    # centre moves 8.7 cm across the view, the rotation follows (c' - p = R_w (c - p), R' = R_w R)
    p, c = np.zeros(3), np.array([0.0, 0.0, -2.5])
    w = np.radians([0.0, 2.0, 0.0])
    Rw = Rotation.from_rotvec(w).as_matrix()
    G, T = np.eye(4), np.eye(4)
    G[:3, 3] = c
    T[:3, :3], T[:3, 3] = Rw, p + Rw @ (c - p)
    # the covariance of that swing in the product's convention: dtheta = w, dc = [w]_x (c - p),
    # sigma 2 deg along it, 1 cm / 0.05 deg across it
    swing = np.r_[np.cross(w, c - p), w] / np.linalg.norm(w) * np.radians(2.0)
    C = np.diag([1e-2 ** 2] * 3 + [np.radians(0.05) ** 2] * 3) + np.outer(swing, swing)
    e = np.r_[T[:3, 3] - G[:3, 3], Rotation.from_matrix(T[:3, :3] @ G[:3, :3].T).as_rotvec()]
    assert e @ np.linalg.solve(C, e) < 2.0  # the swing is the covariance's own direction
    run = tmp_path / "run"
    run.mkdir()
    (run / "results.jsonl").write_text(json.dumps(dict(
        stamp_ns=1_000_000_000, success=True, map_from_cam=T.tolist(), covariance=C.tolist(),
        reason="")) + "\n")
    q = Rotation.from_matrix(G[:3, :3]).as_quat()
    gt = tmp_path / "groundtruth.txt"
    gt.write_text("1.0 " + " ".join(f"{v:.9f}" for v in (*G[:3, 3], *q)) + "\n")
    runpy.run_path(str(EVALRUN), run_name="evalrun")["main"](str(run), str(gt), "swing")
    out = json.loads(capsys.readouterr().out)
    assert out["wrong"] == 0 and out["published"] == 1
    assert out["nees6_mean"] < 2.0, out  # the flipped sign read 292 here
