"""Evaluation of a localization run against ground truth (no alignment: the map is metric).

Errors are computed for successful frames that have a ground-truth pose: translation error =
distance between the estimated and true camera centres (metres), rotation error = angle of
``R_est^T R_gt`` (degrees), as the MASt3R/DUSt3R visloc evaluation.
"""

from __future__ import annotations

import math
from typing import Any, Dict, Optional, Sequence

import numpy as np

from ..core.geometry import pose_errors
from ..core.types import LocalizationResult

GROSS_ERROR_M = 0.5
RECALL_THRESHOLDS = ((0.05, 5.0), (0.25, 2.0), (0.5, 5.0), (5.0, 10.0))  # (m, deg), 7-Scenes use


def _stats(v: np.ndarray) -> Dict[str, Optional[float]]:
    if not len(v):
        return {"median": None, "mean": None, "p90": None, "max": None}
    return {"median": float(np.median(v)), "mean": float(np.mean(v)),
            "p90": float(np.percentile(v, 90)), "max": float(np.max(v))}


def frame_errors(results: Sequence[LocalizationResult], gt_poses: Optional[np.ndarray]
                 ) -> np.ndarray:
    """(N, 2) [translation m, rotation deg] per frame; NaN for failures or frames without GT."""
    err = np.full((len(results), 2), np.nan)
    if gt_poses is None:
        return err
    for i, r in enumerate(results):
        gt = gt_poses[i]
        if r.success and r.map_from_cam is not None and np.isfinite(gt).all():
            t, rot = pose_errors(r.map_from_cam[None], gt[None])
            err[i] = t[0], rot[0]
    return err


def summarize(results: Sequence[LocalizationResult], gt_poses: Optional[np.ndarray] = None
              ) -> Dict[str, Any]:
    """Metrics of a run: localized fraction, error statistics, recall at thresholds, gross
    errors (successes more than 0.5 m off), latency. ``gt_poses`` (N, 4, 4), NaN = unknown."""
    n = len(results)
    ok = np.array([r.success for r in results], dtype=bool)
    err = frame_errors(results, gt_poses)
    has_gt = (np.isfinite(gt_poses).all(axis=(1, 2)) if gt_poses is not None
              else np.zeros(n, bool))
    ev = np.isfinite(err[:, 0])
    m: Dict[str, Any] = {
        "frames": n, "localized": int(ok.sum()),
        "localized_fraction": float(ok.mean()) if n else 0.0,
        "frames_with_groundtruth": int(has_gt.sum()), "evaluated": int(ev.sum()),
        "translation_error_m": _stats(err[ev, 0]), "rotation_error_deg": _stats(err[ev, 1]),
        "gross_errors": int(np.count_nonzero(err[ev, 0] > GROSS_ERROR_M)),
    }
    if has_gt.any():
        m["recall"] = {f"{t * 100:g}cm_{d:g}deg": float(np.count_nonzero(
            (err[:, 0] <= t) & (err[:, 1] <= d)) / has_gt.sum()) for t, d in RECALL_THRESHOLDS}
    m["latency_s"] = _latency(results)
    reasons: Dict[str, int] = {}
    for r in results:
        if not r.success:
            key = r.reason.split(" (")[0]
            reasons[key] = reasons.get(key, 0) + 1
    m["failure_reasons"] = reasons
    return m


def _latency(results: Sequence[LocalizationResult]) -> Dict[str, Dict[str, float]]:
    keys = sorted({k for r in results for k in r.timings_s})
    out = {}
    for k in keys:
        v = np.array([r.timings_s.get(k, 0.0) for r in results])
        out[k] = {"median": float(np.median(v)), "p90": float(np.percentile(v, 90))}
    return out


def _fmt(v: Optional[float], scale: float, unit: str, digits: int) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return f"{v * scale:.{digits}f} {unit}"


def format_table(m: Dict[str, Any]) -> str:
    """A human-readable metrics table (what the CLI prints)."""
    t, r = m["translation_error_m"], m["rotation_error_deg"]
    rows = [
        ("frames", str(m["frames"])),
        ("localized", f"{m['localized']} ({100 * m['localized_fraction']:.1f} %)"),
        ("evaluated against ground truth", str(m["evaluated"])),
        ("translation error median / mean / p90",
         " / ".join(_fmt(t[k], 100, "cm", 2) for k in ("median", "mean", "p90"))),
        ("rotation error median / mean / p90",
         " / ".join(_fmt(r[k], 1, "deg", 2) for k in ("median", "mean", "p90"))),
        ("max translation error", _fmt(t["max"], 100, "cm", 2)),
        (f"successes > {GROSS_ERROR_M} m off", str(m["gross_errors"])),
    ]
    for k, v in m.get("recall", {}).items():
        rows.append((f"recall {k}", f"{100 * v:.1f} %"))
    lat = m.get("latency_s", {})
    for k in ("inference", "matching", "pnp", "total"):
        if k in lat:
            rows.append((f"latency {k} (median)", f"{1000 * lat[k]['median']:.1f} ms"))
    if m.get("failure_reasons"):
        rows.append(("failures", ", ".join(f"{k}: {v}" for k, v in
                                           m["failure_reasons"].items())))
    w = max(len(a) for a, _ in rows)
    return "\n".join(f"  {a.ljust(w)}  {b}" for a, b in rows)
