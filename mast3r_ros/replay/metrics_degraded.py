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

from typing import Any, Dict, Optional, Sequence, Tuple

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


# the recall the table's row splits (the first of `metrics.RECALL_THRESHOLDS`: 7-Scenes')
RECALL_SPLIT_KEY = "5cm_5deg"


def recall_split(err: np.ndarray, has_gt: np.ndarray, which: np.ndarray,
                 thresholds: Sequence[Tuple[float, float]]) -> Dict[str, Dict[str, Any]]:
    """Recall of the frames ``which`` (N,) bool, keyed as metrics.json's ``recall``
    ('5cm_5deg'): per threshold (metres, degrees) ``within`` (frames of ``which`` with ground
    truth whose error is within both), ``of`` (frames of ``which`` with ground truth) and
    ``fraction`` (within / of; None when ``of`` is 0). ``err`` (N, 2) [m, deg], NaN where
    not evaluated (a failed frame: it counts in ``of``, never in ``within``)."""
    sel = has_gt & which
    n = int(sel.sum())
    out = {}
    for t, d in thresholds:
        with np.errstate(invalid="ignore"):
            k = int(np.count_nonzero(sel & (err[:, 0] <= t) & (err[:, 1] <= d)))
        out[f"{t * 100:g}cm_{d:g}deg"] = {"within": k, "of": n,
                                          "fraction": k / n if n else None}
    return out


def degraded_poses(results: Sequence[LocalizationResult], err: np.ndarray,
                   has_gt: Optional[np.ndarray] = None,
                   thresholds: Sequence[Tuple[float, float]] = ()) -> Dict[str, Any]:
    """metrics.json's ``degraded_poses``: the published poses marked with a caveat (module
    docstring). ``err`` (N, 2) float: [translation m, rotation deg] per result, NaN where not
    evaluated (`metrics.frame_errors`).

    ``frames``: how many were published marked; ``reasons``: how many per caveat
    (`caveat_key`, e.g. 'published, degraded: the images look already rectified by this run's
    frames'; {} when none); ``evaluated``: of them, with ground truth; ``translation_error_m``
    / ``rotation_error_deg``: their error statistics (`error_stats`); ``not_degraded``: the
    other published poses' ``localized``, ``evaluated`` and the same two statistics (equal to
    the run's when none is marked). ``recall`` (with ``has_gt`` (N,) bool, the frames with
    ground truth, and ``thresholds``, `metrics.RECALL_THRESHOLDS`): `recall_split` of the
    marked poses, and ``not_degraded.recall`` of every other frame with ground truth, the
    failed ones included as the run's ``recall`` counts them, so that the two groups' ``within``
    and ``of`` add up to the run's. The same keys with or without marked poses or ground
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

    gt = np.zeros(len(results), bool) if has_gt is None else np.asarray(has_gt, bool)
    return {"frames": int(marked.sum()), "reasons": reasons, **errors(marked),
            "recall": recall_split(err, gt, marked, thresholds),
            "not_degraded": {"localized": int((ok & ~marked).sum()), **errors(ok & ~marked),
                             "recall": recall_split(err, gt, ~marked, thresholds)}}


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
    out += _recall_words(d)
    return out


def _recall_words(d: Dict[str, Any]) -> str:
    """'; recall 5cm_5deg 80.0 % (32 of 40), the others' 100.0 % (11 of 11)' of a
    ``degraded_poses`` (`RECALL_SPLIT_KEY`); '' without ground truth or an older record."""
    mine = (d.get("recall") or {}).get(RECALL_SPLIT_KEY)
    other = ((d.get("not_degraded") or {}).get("recall") or {}).get(RECALL_SPLIT_KEY)
    if not mine or mine.get("fraction") is None:
        return ""
    out = (f"; recall {RECALL_SPLIT_KEY} {100 * mine['fraction']:.1f} % ({mine['within']} of "
           f"{mine['of']})")
    if other and other.get("fraction") is not None:
        out += (f", the others' {100 * other['fraction']:.1f} % ({other['within']} of "
                f"{other['of']}, failed frames counted)")
    return out
