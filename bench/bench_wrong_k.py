#!/usr/bin/env python3
"""Localize a TUM RGB-D query folder against a sift map under wrong camera intrinsics, old vs
new in one run: the frames accepted and refused, the accepted frames' position error and the
1-sigma they claim, without (old) and with (new) the run-level focal gate
(`core.localizer.focal_run_gate`), for each K: the query's own, fx and fy scaled by each of
``--scales``, and cx shifted by ``--cx-shift`` px. The right K's median / max error and recall
5cm_5deg come from metrics.json (they must not change).

``--sweep``: the per-frame alternative measured too (the old runs' PnP inputs captured): for
each accepted frame, PnP-RANSAC again under K's focal lengths times each of `SWEEP`, and the
focal scale refitted (`pnp.focal.refitted_focal_scale`) from the scale whose RANSAC found most
inliers; the frame is flagged where that refit is off by more than 5 % at 4 sigma (the
per-frame gate's test from a second start).

    mast3r-ros build-map MAP_FOLDER --out /tmp/map --matcher sift
    python bench/bench_wrong_k.py QUERY_FOLDER --map /tmp/map --work /tmp/wk \\
        --json docs/bench/wrong_k_cpu_2026-12-06zs/result.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from typing import Any, Dict, Iterator, List, Optional

import numpy as np

from mast3r_ros.core.config import config_from_params
from mast3r_ros.core.localizer import focal_run_gate
from mast3r_ros.core.localizer import pipeline as localizer_pipeline
from mast3r_ros.core.pnp.focal import refitted_focal_scale
from mast3r_ros.core.types import CameraIntrinsics
from mast3r_ros.core.pose_uncertainty import position_sigma_m
from localize_runs import camera_yaml, localize_quietly, write_result


def _groundtruth(src: str) -> Dict[int, np.ndarray]:
    gt = {}
    with open(os.path.join(src, "groundtruth.txt"), encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            v = [float(a) for a in line.split()]
            gt[round(v[0] * 1e9)] = np.array(v[1:4])
    return gt


SWEEP = (0.7, 0.8, 0.87, 0.93, 1.0, 1.07, 1.15, 1.25, 1.43)


@contextlib.contextmanager
def _captured(calls: List[Dict[str, Any]]) -> Iterator[None]:
    """The localizer's PnP inputs and results, appended to ``calls``."""
    solve = localizer_pipeline.solve_pnp

    def wrap(X, x, cam, **kw):
        res = solve(X, x, cam, **kw)
        if res.success:
            calls.append({"X": X, "x": x, "cam": cam, "res": res})
        return res
    localizer_pipeline.solve_pnp = wrap
    try:
        yield
    finally:
        localizer_pipeline.solve_pnp = solve


def _sweep(call: Dict[str, Any]) -> Dict[str, Any]:
    """`--sweep`'s figures of one accepted frame's PnP inputs."""
    p = config_from_params({"matcher": "sift"}).localizer.pnp
    X, x, cam, res = call["X"], call["x"], call["cam"], call["res"]
    xu = res.points2d_undistorted if res.points2d_undistorted is not None else x
    counts, sols = [], []
    for s in SWEEP:
        K = cam.K.copy()
        K[:2, :2] *= s
        r = localizer_pipeline.solve_pnp(
            X, x, CameraIntrinsics(cam.width, cam.height, K), backend=p.backend,
            reproj_error_px=p.reproj_error_px, max_iterations=p.max_iterations,
            confidence=p.confidence, refine=p.refine, seed=0,
            ransac_max_points=p.ransac_max_points)
        counts.append(r.num_inliers if r.success else 0)
        sols.append(r)
    b = int(np.argmax(counts))
    s2, sig2 = (refitted_focal_scale(sols[b].map_from_cam, X, xu, sols[b].inliers, cam.K,
                                     p.reproj_error_px, 2000)
                if sols[b].success else (1.0, float("inf")))
    flagged = abs(s2 - 1) > 0.05 and abs(np.log(s2)) > 4 * sig2
    return {"inliers_by_scale": counts, "best_scale": SWEEP[b],
            "refit_from_best": s2, "refit_sigma": sig2, "flagged": bool(flagged)}


@contextlib.contextmanager
def _old() -> Iterator[None]:
    """The localizer without the run-level gate (the code before it)."""
    judge = focal_run_gate.RunFocalGate.judge
    focal_run_gate.RunFocalGate.judge = lambda self, result, tolerance: result
    try:
        yield
    finally:
        focal_run_gate.RunFocalGate.judge = judge


def _frames(out: str, gt: Dict[int, np.ndarray]) -> List[Dict[str, Any]]:
    rows = []
    stamps = np.array(sorted(gt))
    with open(os.path.join(out, "results.jsonl"), encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            row = {"stamp_s": r["stamp_ns"] / 1e9, "success": r["success"],
                   "reason": r["reason"].split(" (")[0], "focal_fit": r.get("focal_fit")}
            if r["success"]:
                g = gt[int(stamps[np.argmin(np.abs(stamps - r["stamp_ns"]))])]
                t = np.array(r["map_from_cam"])[:3, 3]
                row["error_cm"] = 100 * float(np.linalg.norm(t - g))
                row["sigma_cm"] = 100 * position_sigma_m(np.array(r["covariance"]))
            rows.append(row)
    return rows


def _summary(rows: List[Dict[str, Any]], metrics: Dict[str, Any]) -> Dict[str, Any]:
    ok = [r for r in rows if r["success"]]
    err = [r["error_cm"] for r in ok]
    sig = [r["sigma_cm"] for r in ok]
    te = metrics.get("translation_error_m") or {}
    return {"frames": len(rows), "accepted": len(ok), "refused": len(rows) - len(ok),
            "error_cm_median": float(np.median(err)) if err else None,
            "error_cm_max": max(err) if err else None,
            "sigma_cm_median": float(np.median(sig)) if sig else None,
            "over_3_sigma": sum(e > 3 * s for e, s in zip(err, sig)),
            "metrics_median_cm": None if te.get("median") is None else 100 * te["median"],
            "metrics_max_cm": None if te.get("max") is None else 100 * te["max"],
            "recall_5cm_5deg": (metrics.get("recall") or {}).get("5cm_5deg"),
            "focal_verdict_fx_off": (metrics.get("camera_focal") or {}).get("fx_off"),
            "failure_reasons": metrics.get("failure_reasons")}


def _sweep_rows(rows: List[Dict[str, Any]], calls: List[Dict[str, Any]], out: str) -> None:
    """`_sweep` of each accepted frame (its PnP call found by its pose), into its row, printed."""
    with open(os.path.join(out, "results.jsonl"), encoding="utf-8") as f:
        poses = {json.loads(line)["stamp_ns"] / 1e9: json.loads(line)["map_from_cam"]
                 for line in f}
    flagged = 0
    for row in rows:
        pose = np.array(poses[row["stamp_s"]])
        call = next(c for c in reversed(calls) if np.allclose(c["res"].map_from_cam, pose))
        row["sweep"] = _sweep(call)
        flagged += row["sweep"]["flagged"]
        print(f"{'':<14}   sweep t {row['stamp_s']:.2f} s ({row['error_cm']:.1f} cm off): most "
              f"inliers at {row['sweep']['best_scale']}x, refit from there "
              f"{row['sweep']['refit_from_best']:.3f}x +-{100 * row['sweep']['refit_sigma']:.1f} "
              f"%{' FLAGGED' if row['sweep']['flagged'] else ''}")
    print(f"{'':<14}   sweep: {flagged} of {len(rows)} accepted frames flagged")


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    ap.add_argument("query", help="TUM RGB-D query folder (camera.yaml, groundtruth.txt)")
    ap.add_argument("--map", required=True, help="sift map folder (build-map --matcher sift)")
    ap.add_argument("--work", required=True, help="folder for the camera files and runs")
    ap.add_argument("--scales", default="0.7,0.8,0.9,1.1,1.25,1.4",
                    help="fx, fy scales to try (comma-separated)")
    ap.add_argument("--cx-shift", type=float, default=40.0, help="cx shift to try, px (0: none)")
    ap.add_argument("--stride", type=int, default=1, help="localize every N-th frame")
    ap.add_argument("--sweep", action="store_true",
                    help="also measure the per-frame focal sweep (module docstring)")
    ap.add_argument("--json", help="write the figures here")
    a = ap.parse_args(argv)
    os.makedirs(a.work, exist_ok=True)
    gt = _groundtruth(a.query)
    cases = [("right K", 1.0, 0.0)] + [(f"fx x{float(s):g}", float(s), 0.0)
                                       for s in a.scales.split(",") if s]
    if a.cx_shift:
        cases.append((f"cx {a.cx_shift:+g} px", 1.0, a.cx_shift))
    result: Dict[str, Any] = {"query": os.path.basename(os.path.normpath(a.query)),
                              "stride": a.stride, "cases": []}
    print(f"{'K':<14} {'':<4} {'acc':>4} {'ref':>4} {'err med':>8} {'err max':>8} "
          f"{'sig med':>8} {'>3sig':>5}  right-K metrics (median / max / recall 5cm_5deg)")
    for name, scale, shift in cases:
        camera = None
        if scale != 1.0 or shift:
            camera = os.path.join(a.work, f"camera_{scale:g}_{shift:g}.yaml")
            with open(camera, "w", encoding="utf-8") as f:
                f.write(camera_yaml(a.query, scale, shift))
        case: Dict[str, Any] = {"case": name, "fx_scale": scale, "cx_shift_px": shift}
        for label in ("old", "new"):
            out = os.path.join(a.work, f"run_{scale:g}_{shift:g}_{label}")
            calls: List[Dict[str, Any]] = []
            with _old() if label == "old" else contextlib.nullcontext(), \
                    _captured(calls) if a.sweep and label == "old" else contextlib.nullcontext():
                localize_quietly(a.query, a.map, out, camera, "--stride", str(a.stride))
            with open(os.path.join(out, "metrics.json"), encoding="utf-8") as f:
                metrics = json.load(f)
            rows = _frames(out, gt)
            s = _summary(rows, metrics)
            case[label] = {**s, "accepted_frames": [r for r in rows if r["success"]]}
            if calls:
                _sweep_rows(case[label]["accepted_frames"], calls, out)

            def cm(v: Optional[float]) -> str:
                return "-" if v is None else f"{v:.2f}"
            extra = (f"{cm(s['metrics_median_cm'])} / {cm(s['metrics_max_cm'])} / "
                     f"{100 * (s['recall_5cm_5deg'] or 0):.0f} %" if name == "right K" else "")
            print(f"{name:<14} {label:<4} {s['accepted']:>4} {s['refused']:>4} "
                  f"{cm(s['error_cm_median']):>8} {cm(s['error_cm_max']):>8} "
                  f"{cm(s['sigma_cm_median']):>8} {s['over_3_sigma']:>5}  {extra}")
        new_ok = {r["stamp_s"] for r in case["new"]["accepted_frames"]}
        for r in case["old"]["accepted_frames"]:
            if r["stamp_s"] not in new_ok:
                ff = r["focal_fit"] or {}
                print(f"{'':<14}   refused now: t {r['stamp_s']:.2f} s, {r['error_cm']:.1f} cm "
                      f"off, sigma {r['sigma_cm']:.1f} cm, own fit {ff.get('scale', 0):.3f}x "
                      f"+-{100 * (ff.get('sigma_log') or 0):.1f} %")
        result["cases"].append(case)
        sys.stdout.flush()
    write_result(a.json, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
