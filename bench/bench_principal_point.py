#!/usr/bin/env python3
"""Can a frame's inliers tell a wrong principal point? Per frame, (dcx, dcy) refitted jointly
with the pose and the focal scale (scipy ``least_squares``, analytic Jacobian, 1-sigma from it),
on a TUM RGB-D query folder against a sift map (points from depth), under the query's own K and
under K with cx / cy shifted or fx, fy scaled: per-frame distributions and the run-level
combination (`core.run_evidence.combine_measurements`, the focal evidence's statistics), side by
side; then the localizer old (no principal point fit) vs new (its fit,
`pnp.principal_point.refitted_principal_point`, and metrics.json's ``camera_principal_point``)
in one run: frames, pose errors, the verdict, and the fit's cost per frame next to the focal
refit's.

The measurement's fit (`fit_principal_point`, this file) takes the inputs of the localizer's
focal gate (`query_checks.focal_gate`: the pose, all correspondences, the undistorted pixels,
RANSAC's inliers) and, like `pnp.focal.refitted_focal_scale`, chooses the inliers again under
the fitted K a few rounds (within pnp.reproj_error_px; at most 2000 points a fit, evenly
spaced, 3 rounds; the product's takes 500 and 1: the same run-level figures, ~2 ms a frame).
A frame whose pose the localizer tried twice (another keyframe set) is fitted twice.

    mast3r-ros build-map MAP_FOLDER --out /tmp/map --matcher sift
    python bench/bench_principal_point.py QUERY_FOLDER --map /tmp/map --work /tmp/wk \\
        --json docs/bench/principal_point_cpu_2026-12-07p/result.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from typing import Any, Dict, Iterator, List, Optional, Tuple

import numpy as np
from scipy.optimize import least_squares
from scipy.spatial.transform import Rotation

from mast3r_ros.core.geometry import invert_pose
from mast3r_ros.core.localizer import pipeline as localizer_pipeline
from mast3r_ros.core.localizer import query_checks
from mast3r_ros.core.pnp.focal import refitted_focal_scale
from mast3r_ros.core.pnp.principal_point import _residuals_and_jacobian, refitted_principal_point
from mast3r_ros.core.run_evidence import combine_measurements, interval_outside
from localize_runs import camera_yaml, localize_quietly, write_result

ROUNDS = 3
MAX_POINTS = 2000
TOLERANCES_PX = (5.0, 10.0, 15.0, 20.0)
SIGNIFICANCE = 4.0


def _evenly(idx: np.ndarray, k: int) -> np.ndarray:
    return idx[np.linspace(0, len(idx) - 1, k).round().astype(int)] if len(idx) > k else idx


def _project(R: np.ndarray, t: np.ndarray, X: np.ndarray) -> np.ndarray:
    return X @ R.T + t


def _lsq(R0: np.ndarray, t0: np.ndarray, X: np.ndarray, xu: np.ndarray, K: np.ndarray,
         p0: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """least_squares over p = (w, dt, log s, dcx, dcy) from ``p0`` with the product's residuals
    and exact Jacobian (`pnp.principal_point._residuals_and_jacobian`), to convergence (no
    evaluation limit). Returns (p, J at p, residuals at p)."""
    def fun(p: np.ndarray) -> np.ndarray:
        return _residuals_and_jacobian(R0, t0, X, xu, K, p, False)[0]

    def jac(p: np.ndarray) -> np.ndarray:
        return _residuals_and_jacobian(R0, t0, X, xu, K, p, True)[1]

    r = least_squares(fun, p0, jac=jac, method="lm", xtol=1e-10, ftol=1e-10)
    return r.x, jac(r.x), fun(r.x)


def fit_principal_point(map_from_cam: np.ndarray, X: np.ndarray, xu: np.ndarray,
                        inliers: np.ndarray, K: np.ndarray, reproj_px: float,
                        max_points: int = MAX_POINTS, rounds: int = ROUNDS
                        ) -> Optional[Dict[str, float]]:
    """(dcx, dcy, their sigmas, s, sigma of log s, points, the dcx-rotation correlation) the
    inliers fit, chosen again under the fitted K ``rounds`` times; None below 12 points or
    with points behind the camera."""
    X = np.asarray(X, np.float64)
    xu = np.asarray(xu, np.float64)
    cfm = invert_pose(map_from_cam)
    R, t = cfm[:3, :3].copy(), cfm[:3, 3].copy()
    ls = dcx = dcy = 0.0
    sel = np.asarray(inliers, bool)
    for round_ in range(rounds + 1):
        idx = _evenly(np.flatnonzero(sel), max_points)
        if len(idx) < 12:
            return None
        if not (_project(R, t, X[idx])[:, 2] > 1e-9).all():
            return None
        p, J, res = _lsq(R, t, X[idx], xu[idx], K, np.array([0, 0, 0, 0, 0, 0, ls, dcx, dcy]))
        dR = Rotation.from_rotvec(p[:3]).as_matrix()
        R, t, ls, dcx, dcy = dR @ R, dR @ t + p[3:6], p[6], p[7], p[8]
        if round_ == rounds:
            break
        Kf = np.array(K, np.float64)
        Kf[:2, :2] *= np.exp(ls)
        Kf[0, 2] += dcx
        Kf[1, 2] += dcy
        Xc = _project(R, t, X)
        with np.errstate(divide="ignore", invalid="ignore"):
            u = Kf[0, 0] * Xc[:, 0] / Xc[:, 2] + Kf[0, 2]
            v = Kf[1, 1] * Xc[:, 1] / Xc[:, 2] + Kf[1, 2]
            again = (np.hypot(u - xu[:, 0], v - xu[:, 1]) < reproj_px) & (Xc[:, 2] > 1e-9)
        if np.count_nonzero(again) < 12 or np.array_equal(again, sel):
            break
        sel = again
    n = len(res) // 2
    # the Jacobian at the solution (w = 0 after rebasing: the local one exactly)
    _, J, res = _lsq(R, t, X[idx], xu[idx], K, np.array([0, 0, 0, 0, 0, 0, ls, dcx, dcy]))
    try:
        cov = np.linalg.inv(J.T @ J) * float(res @ res) / max(2 * n - 9, 1)
    except np.linalg.LinAlgError:
        return None
    sd = np.sqrt(np.maximum(np.diag(cov), 0.0))
    return {"dcx": float(dcx), "dcy": float(dcy), "sigma_cx": float(sd[7]),
            "sigma_cy": float(sd[8]), "scale": float(np.exp(ls)), "sigma_log_scale": float(sd[6]),
            "points": int(n), "corr_cx_roty": float(cov[7, 1] / (sd[7] * sd[1])),
            "rms_px": float(np.sqrt(res @ res / len(res)))}


@contextlib.contextmanager
def _captured(calls: List[Dict[str, Any]]) -> Iterator[None]:
    """The focal gate's inputs (frames that passed the other gates), appended to ``calls``."""
    gate = localizer_pipeline.focal_gate

    def wrap(max_error, cam, map_from_cam, X, xu, inliers, reproj_error_px):
        calls.append({"cam": cam, "pose": np.array(map_from_cam), "X": np.array(X),
                      "xu": np.array(xu), "inliers": np.array(inliers), "px": reproj_error_px})
        return gate(max_error, cam, map_from_cam, X, xu, inliers, reproj_error_px)
    localizer_pipeline.focal_gate = wrap
    try:
        yield
    finally:
        localizer_pipeline.focal_gate = gate


def _groundtruth(src: str) -> Tuple[np.ndarray, np.ndarray]:
    """(N,) stamps ns, (N, 7) tx ty tz qx qy qz qw of ``src``'s groundtruth.txt."""
    rows = []
    with open(os.path.join(src, "groundtruth.txt"), encoding="utf-8") as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                rows.append([float(v) for v in line.split()[:8]])
    a = np.array(rows)
    return np.round(a[:, 0] * 1e9), a[:, 1:8]


@contextlib.contextmanager
def _old() -> Iterator[None]:
    """The localizer without the principal point fit (the code before it)."""
    fit = query_checks.refitted_principal_point
    query_checks.refitted_principal_point = lambda *a, **k: None
    try:
        yield
    finally:
        query_checks.refitted_principal_point = fit


def _run(query: str, map_dir: str, out: str, camera: Optional[str]) -> Dict[str, Any]:
    localize_quietly(query, map_dir, out, camera)
    with open(os.path.join(out, "metrics.json"), encoding="utf-8") as f:
        return json.load(f)


def _errors(out: str, query: str) -> Tuple[List[float], List[float]]:
    """The localized frames' position (cm) and rotation (deg) errors."""
    stamps, gt = _groundtruth(query)
    err, rot = [], []
    with open(os.path.join(out, "results.jsonl"), encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            if r["success"]:
                g = gt[int(np.argmin(np.abs(stamps - r["stamp_ns"])))]
                T = np.array(r["map_from_cam"])
                err.append(100 * float(np.linalg.norm(T[:3, 3] - g[:3])))
                d = Rotation.from_quat(g[3:7]).inv() * Rotation.from_matrix(T[:3, :3])
                rot.append(float(np.degrees(d.magnitude())))
    return err, rot


def _pct(v: List[float]) -> str:
    if not v:
        return "-"
    p = np.percentile(v, [5, 50, 95])
    return f"{p[0]:+6.1f} {p[1]:+6.1f} {p[2]:+6.1f}"


def _combined(vals: List[float], sigs: List[float], name: str) -> Dict[str, Any]:
    c = combine_measurements(vals, sigs, name)
    return {"value": c.value, "sigma": c.sigma, "frames_judged": c.frames_judged,
            "frames_used": c.frames_used, "frames_outliers": c.frames_outliers,
            "chi2_per_dof": c.chi2_per_dof, "consistent": c.consistent,
            "off_at_tolerance_px": {f"{t:g}": interval_outside(c, -t, t, SIGNIFICANCE)
                                    for t in TOLERANCES_PX}}


def _measured(fits: List[Dict[str, float]]) -> Dict[str, Any]:
    cx = [f["dcx"] for f in fits]
    cy = [f["dcy"] for f in fits]
    return {"frames_fitted": len(fits), "frames": fits,
            "dcx": _combined(cx, [f["sigma_cx"] for f in fits], "principal point dcx (px)"),
            "dcy": _combined(cy, [f["sigma_cy"] for f in fits], "principal point dcy (px)"),
            "per_frame_flagged_at_tolerance_px": {
                f"{t:g}": sum(1 for f in fits if max(
                    abs(f["dcx"]) - t - SIGNIFICANCE * f["sigma_cx"],
                    abs(f["dcy"]) - t - SIGNIFICANCE * f["sigma_cy"]) > 0)
                for t in TOLERANCES_PX}}


def _localized(metrics: Dict[str, Any], err: Tuple[List[float], List[float]]) -> Dict[str, Any]:
    lat = metrics.get("latency_s") or {}
    return {"accepted": len(err[0]),
            "error_cm_median": float(np.median(err[0])) if err[0] else None,
            "error_cm_max": max(err[0]) if err[0] else None,
            "rotation_deg_median": float(np.median(err[1])) if err[1] else None,
            "recall_5cm_5deg": (metrics.get("recall") or {}).get("5cm_5deg"),
            "focal_fx_off": (metrics.get("camera_focal") or {}).get("fx_off"),
            "camera_principal_point": metrics.get("camera_principal_point"),
            "pnp_ms_median": 1e3 * ((lat.get("pnp") or {}).get("median") or np.nan),
            "total_ms_median": 1e3 * ((lat.get("total") or {}).get("median") or np.nan)}


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    ap.add_argument("query", help="TUM RGB-D query folder (camera.yaml, groundtruth.txt)")
    ap.add_argument("--map", required=True, help="sift map folder (build-map --matcher sift)")
    ap.add_argument("--work", required=True, help="folder for the camera files and runs")
    ap.add_argument("--json", help="write the figures here")
    a = ap.parse_args(argv)
    os.makedirs(a.work, exist_ok=True)
    cases = [("right K", 1.0, 0.0, 0.0), ("cx +20 px", 1.0, 20.0, 0.0),
             ("cx +40 px", 1.0, 40.0, 0.0), ("cx -40 px", 1.0, -40.0, 0.0),
             ("cy +40 px", 1.0, 0.0, 40.0), ("fx, fy x1.1", 1.1, 0.0, 0.0)]
    result: Dict[str, Any] = {"query": os.path.basename(os.path.normpath(a.query)),
                              "rounds": ROUNDS, "max_points": MAX_POINTS,
                              "significance": SIGNIFICANCE, "cases": []}
    for name, scale, dx, dy in cases:
        camera = None
        if scale != 1.0 or dx or dy:
            camera = os.path.join(a.work, f"camera_{scale:g}_{dx:g}_{dy:g}.yaml")
            with open(camera, "w", encoding="utf-8") as f:
                f.write(camera_yaml(a.query, scale, dx, dy))
        case: Dict[str, Any] = {"case": name, "fx_scale": scale, "cx_shift_px": dx,
                                "cy_shift_px": dy}
        calls: List[Dict[str, Any]] = []
        for label in ("old", "new"):
            out = os.path.join(a.work, f"run_{scale:g}_{dx:g}_{dy:g}_{label}")
            with _old() if label == "old" else contextlib.nullcontext(), \
                    _captured(calls) if label == "old" else contextlib.nullcontext():
                metrics = _run(a.query, a.map, out, camera)
            case[label] = _localized(metrics, _errors(out, a.query))
        fits, t_pp, t_focal = [], [], []
        for c in calls:
            K = c["cam"].K
            f = fit_principal_point(c["pose"], c["X"], c["xu"], c["inliers"], K, c["px"])
            best = [np.inf, np.inf]  # best of 3: the machine is shared
            for _ in range(3):
                t0 = time.perf_counter()
                refitted_principal_point(c["pose"], c["X"], c["xu"], c["inliers"], K, c["px"])
                t1 = time.perf_counter()
                refitted_focal_scale(c["pose"], c["X"], c["xu"], c["inliers"], K, c["px"],
                                     query_checks.FOCAL_MAX_POINTS)
                t2 = time.perf_counter()
                best = [min(best[0], t1 - t0), min(best[1], t2 - t1)]
            t_pp.append(1e3 * best[0])
            t_focal.append(1e3 * best[1])
            if f is not None:
                fits.append(f)
        case["measured"] = _measured(fits)
        case["frames_gated"] = len(calls)
        case["ms_per_frame_focal_refit"] = float(np.median(t_focal)) if t_focal else None
        case["ms_per_frame_pp_fit"] = float(np.median(t_pp)) if t_pp else None
        case["ms_per_frame_pp_fit_p90"] = float(np.percentile(t_pp, 90)) if t_pp else None
        result["cases"].append(case)
        print(f"{name}: done", file=sys.stderr, flush=True)
    _print(result)
    write_result(a.json, result)
    return 0


def _print(result: Dict[str, Any]) -> None:
    def run(d: Dict[str, Any]) -> str:
        if d["value"] is None:
            return "-"
        return f"{d['value']:+6.1f}+-{d['sigma']:3.1f}({d['chi2_per_dof']:3.0f})"
    print("MEASURED per frame (2000 points, 3 rounds): dcx, dcy the inliers fit (px; 5 / 50 / "
          "95th percentile), their 1-sigma median, s median; run: combined +- sigma (chi2/dof)")
    print(f"{'K':<12} {'n':>3} {'dcx p5 p50 p95':>20} {'sd':>4} {'dcy p5 p50 p95':>20} "
          f"{'sd':>4} {'s':>6} | {'run dcx':>16} {'run dcy':>16}")
    for case in result["cases"]:
        m = case["measured"]
        fits = m["frames"]
        sd = [np.median([f[k] for f in fits]) if fits else np.nan
              for k in ("sigma_cx", "sigma_cy")]
        print(f"{case['case']:<12} {len(fits):>3} {_pct([f['dcx'] for f in fits]):>20} "
              f"{sd[0]:4.1f} {_pct([f['dcy'] for f in fits]):>20} {sd[1]:4.1f} "
              f"{np.median([f['scale'] for f in fits]) if fits else np.nan:6.3f} | "
              f"{run(m['dcx']):>16} {run(m['dcy']):>16}")
    print("MEASURED verdicts at 5 / 10 / 15 / 20 px, 4 sigma (run: x, y off; per frame: frames "
          "flagged)")
    for case in result["cases"]:
        m = case["measured"]
        v = " ".join(("x" * m["dcx"]["off_at_tolerance_px"][f"{t:g}"]
                      + "y" * m["dcy"]["off_at_tolerance_px"][f"{t:g}"]) or "-"
                     for t in TOLERANCES_PX)
        fl = " ".join(str(m["per_frame_flagged_at_tolerance_px"][f"{t:g}"])
                      for t in TOLERANCES_PX)
        print(f"  {case['case']:<12} run {v:<12} per frame {fl} of {m['frames_fitted']}")
    print("LOCALIZER old (no principal point fit) vs new: accepted, error median / max cm, "
          "rotation median deg, recall 5cm_5deg, metrics.json camera_principal_point (cx, cy "
          "offset px, off), pnp / total latency median ms; fit cost ms/frame (median, p90 of "
          "each frame's best of 3) next to the focal refit's")
    for case in result["cases"]:
        for label in ("old", "new"):
            r = case[label]
            cp = r["camera_principal_point"]
            pp = ("-" if not cp or cp["cx"]["offset_px"] is None else
                  f"{cp['cx']['offset_px']:+5.1f} {cp['cy']['offset_px']:+5.1f} "
                  f"{'OFF' if cp['off'] else 'ok'}")
            e = ("-" if r["error_cm_median"] is None else
                 f"{r['error_cm_median']:.2f} / {r['error_cm_max']:.2f} "
                 f"{r['rotation_deg_median']:.2f}")
            cost = (f"pp {case['ms_per_frame_pp_fit']:.1f} ({case['ms_per_frame_pp_fit_p90']:.1f})"
                    f" focal {case['ms_per_frame_focal_refit']:.1f}" if label == "new" else "")
            print(f"  {case['case']:<12} {label:<3} {r['accepted']:>3} {e:>20} "
                  f"{100 * (r['recall_5cm_5deg'] or 0):3.0f} % {pp:>17} "
                  f"{r['pnp_ms_median']:5.1f} {r['total_ms_median']:6.1f}  {cost}")


if __name__ == "__main__":
    raise SystemExit(main())
