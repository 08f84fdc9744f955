"""Poses published with a caveat, counted apart (metrics.json's ``degraded_poses``, the printed
table's 'published, degraded' row), and the error statistics every group of frames uses.

A localized frame (``success`` True) whose ``reason`` is not empty was published marked: the
localizer attaches a reason to a published pose only as a caveat. Today one gate does so, the
distortion gate's mid-run rule (`distortion_run_gate.DEGRADED_REASON`, 'published, degraded:
the images look already rectified by this run's frames (...)': map and query rectified alike,
or a map whose own check cannot tell). Before, metrics.json and the table counted such poses
as plain successes (``failure_reasons`` {}): only results.jsonl said they were marked, so a
run of 50 poses, 40 of them marked, read as 50 good ones.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Sequence

import numpy as np

from ..core.types import LocalizationResult

# the caveat's words the table leaves out (they are its row's name)
DEGRADED_PREFIX = "published, degraded: "


def error_stats(v: np.ndarray) -> Dict[str, Optional[float]]:
    """Median, mean, p90 and max of the errors ``v`` (N,) float; all None for none."""
    if not len(v):
        return {"median": None, "mean": None, "p90": None, "max": None}
    return {"median": float(np.median(v)), "mean": float(np.mean(v)),
            "p90": float(np.percentile(v, 90)), "max": float(np.max(v))}


def caveat_key(reason: str) -> str:
    """A caveat's key in ``degraded_poses.reasons``: its words before " (", the same for every
    frame (as ``failure_reasons``' keys are)."""
    return reason.split(" (")[0]


def degraded_poses(results: Sequence[LocalizationResult], err: np.ndarray) -> Dict[str, Any]:
    """metrics.json's ``degraded_poses``: the published poses marked with a caveat (module
    docstring). ``err`` (N, 2) float: [translation m, rotation deg] per result, NaN where not
    evaluated (`metrics.frame_errors`).

    ``frames``: how many were published marked; ``reasons``: how many per caveat
    (`caveat_key`, e.g. 'published, degraded: the images look already rectified by this run's
    frames'; {} when none); ``evaluated``: of them, with ground truth; ``translation_error_m``
    / ``rotation_error_deg``: their error statistics (`error_stats`); ``not_degraded``: the
    other published poses' ``localized``, ``evaluated`` and the same two statistics (equal to
    the run's when none is marked). The same keys with or without marked poses or ground
    truth; the run's top-level error figures stay over every published pose."""
    ok = np.array([r.success for r in results], dtype=bool)
    marked = np.array([r.success and bool(r.reason) for r in results], dtype=bool)
    ev = np.isfinite(err[:, 0]) if len(err) else np.zeros(0, bool)
    reasons: Dict[str, int] = {}
    for r in results:
        if r.success and r.reason:
            key = caveat_key(r.reason)
            reasons[key] = reasons.get(key, 0) + 1

    def errors(which: np.ndarray) -> Dict[str, Any]:
        sel = ev & which
        return {"evaluated": int(sel.sum()), "translation_error_m": error_stats(err[sel, 0]),
                "rotation_error_deg": error_stats(err[sel, 1])}

    return {"frames": int(marked.sum()), "reasons": reasons, **errors(marked),
            "not_degraded": {"localized": int((ok & ~marked).sum()), **errors(ok & ~marked)}}


def degraded_row(d: Dict[str, Any], localized: int) -> str:
    """The table's 'published, degraded' row of a ``degraded_poses`` (``localized``: the run's
    published poses): how many, per caveat, and their median errors beside the others'."""
    said = "; ".join(f"{k[len(DEGRADED_PREFIX):] if k.startswith(DEGRADED_PREFIX) else k}: "
                     f"{v}" for k, v in d["reasons"].items())
    out = (f"{d['frames']} of the {localized} localized ({said}; each frame's reason: "
           "results.jsonl): these poses may be biased")
    t, r = d["translation_error_m"], d["rotation_error_deg"]
    if t["median"] is not None:
        out += f"; median error {100 * t['median']:.2f} cm / {r['median']:.2f} deg"
        nd = d["not_degraded"]
        nt, nr = nd["translation_error_m"], nd["rotation_error_deg"]
        out += (f", the {nd['evaluated']} others' {100 * nt['median']:.2f} cm / "
                f"{nr['median']:.2f} deg" if nt["median"] is not None else
                ", no other pose evaluated")
    return out
